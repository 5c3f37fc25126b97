#!/usr/bin/perl
# The same requests must get the same replies however the bytes are cut
# up on the way: one write per request, one byte per write, random small
# pieces, or everything pipelined in one write.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Test::More;
use Time::HiRes qw(sleep);
use McTest;

my $srv = start_server(args => '-m 64');

my $V = join '', map { chr(ord('a') + $_ % 26) } 0 .. 999;    # 1000-byte value

# Steps for one run; $p prefixes every key so runs don't share items, $u is
# the cas unique that "gets ${p}c" returns (learned before the run).
sub steps {
    my ($p, $u) = @_;
    my $wrong = $u + 1;
    return (
        ["set ${p}a 0 0 5\r\nhello\r\n", "STORED\r\n"],
        ["set ${p}b 7 0 1000\r\n$V\r\n", "STORED\r\n"],
        ["get ${p}a\r\n", "VALUE ${p}a 0 5\r\nhello\r\nEND\r\n"],
        ["get ${p}a ${p}missing ${p}b ${p}a\r\n",
         "VALUE ${p}a 0 5\r\nhello\r\nVALUE ${p}b 7 1000\r\n$V\r\nVALUE ${p}a 0 5\r\nhello\r\nEND\r\n"],
        ["add ${p}a 0 0 1\r\nx\r\n", "NOT_STORED\r\n"],
        ["append ${p}a 0 0 6\r\n world\r\n", "STORED\r\n"],
        ["get ${p}a\r\n", "VALUE ${p}a 0 11\r\nhello world\r\nEND\r\n"],
        ["set ${p}n 0 0 2\r\n41\r\n", "STORED\r\n"],
        ["incr ${p}n 1\r\n", "42\r\n"],
        ["decr ${p}n 40\r\n", "2\r\n"],
        ["incr ${p}n 18446744073709551614\r\n", "0\r\n"],
        ["incr ${p}nope 1\r\n", "NOT_FOUND\r\n"],
        ["incr ${p}a 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"],
        ["gets ${p}c\r\n", "VALUE ${p}c 0 2 $u\r\ncc\r\nEND\r\n"],
        ["cas ${p}c 0 0 3 $wrong\r\nbad\r\n", "EXISTS\r\n"],
        ["cas ${p}c 0 0 3 $u\r\nnew\r\n", "STORED\r\n"],
        ["cas ${p}c 0 0 3 $u\r\nold\r\n", "EXISTS\r\n"],
        ["cas ${p}gone 0 0 1 $u\r\nx\r\n", "NOT_FOUND\r\n"],
        ["get ${p}c\r\n", "VALUE ${p}c 0 3\r\nnew\r\nEND\r\n"],
        ["set ${p}q 0 0 1 noreply\r\nq\r\n", ""],
        ["set ${p}e 0 0 0\r\n\r\n", "STORED\r\n"],
        ["get ${p}q ${p}e\r\n", "VALUE ${p}q 0 1\r\nq\r\nVALUE ${p}e 0 0\r\n\r\nEND\r\n"],
        ["touch ${p}b 100\r\n", "TOUCHED\r\n"],
        ["delete ${p}a\r\n", "DELETED\r\n"],
        ["get ${p}a\r\n", "END\r\n"],
        # Bad chunk: the 3 bytes + "de" are the block, "fgh" the next command.
        ["set ${p}x 0 0 3\r\nabcdefgh\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"],
        ["bogus command\r\n", "ERROR\r\n"],
        ["version\r\n", undef],    # filled in below
    );
}

my $vsock = $srv->new_sock;
send_bytes($vsock, "version\r\n");
my $VLINE = read_line($vsock) // "VERSION ?\r\n";

# Make ${p}c and learn its unique.
sub prepare {
    my ($s, $p) = @_;
    send_bytes($s, "set ${p}c 0 0 2\r\ncc\r\ngets ${p}c\r\n");
    my $stored = read_line($s) // '';
    my ($u) = (read_line($s) // '') =~ /^VALUE \Q${p}\Ec 0 2 (\d+)\r\n\z/;
    read_bytes($s, 4 + 5);
    return ($stored eq "STORED\r\n" && defined $u) ? $u : die "prepare $p failed\n";
}

sub new_conn {
    my $s = $srv->new_sock;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    return $s;
}

sub run_steps {
    my ($mode, $p, $send) = @_;
    my $s = new_conn();
    my @steps = steps($p, prepare($s, $p));
    $steps[-1][1] = $VLINE;
    if ($mode eq 'pipelined' || $mode eq 'pieces') {
        # Everything is sent before any reply is read.
        $send->($s, join '', map { $_->[0] } @steps);
    }
    for my $st (@steps) {
        my ($req, $want) = @$st;
        $send->($s, $req) unless $mode eq 'pipelined' || $mode eq 'pieces';
        (my $label = $req) =~ s/\r\n.*//s;
        $label = substr($label, 0, 40);
        if (length $want) {
            send_expect($s, '', $want, "$mode: $label");
        } elsif ($mode ne 'pipelined' && $mode ne 'pieces') {
            expect_nothing($s, 50, "$mode: $label (no reply)");
        }
        # (Pipelined, a missing reply shows as the next step's mismatch.)
    }
    expect_nothing($s, 50, "$mode: nothing extra");
}

# One write per request.
run_steps('whole', 'w_', sub { send_bytes($_[0], $_[1]) });

# One byte per write, with a short pause after each.
run_steps('bytes', 'b_', sub {
    my ($s, $data) = @_;
    for my $i (0 .. length($data) - 1) {
        send_bytes($s, substr($data, $i, 1));
        sleep 0.0005;
    }
});

# All requests in one write.
run_steps('pipelined', 'p_', sub { send_bytes($_[0], $_[1]) });

# All requests, cut into pieces of 1 to 40 bytes (fixed seed, so a failure
# can be reproduced), with short pauses between pieces.
srand(20240601);
run_steps('pieces', 'r_', sub {
    my ($s, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = 1 + int(rand(40));
        send_bytes($s, substr($data, $off, $n));
        $off += $n;
        sleep 0.001;
    }
});

# Each request split right between its \r and \n, and between a command
# line and its data block.
run_steps('crlf', 'c_', sub {
    my ($s, $data) = @_;
    for my $piece (split /(?<=\r)/, $data) {
        send_bytes($s, $piece);
        sleep 0.02;
    }
});

done_testing;
