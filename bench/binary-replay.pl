#!/usr/bin/perl
# binary-replay.pl: sends the same few thousand malformed or random binary
# protocol packets to our server and to a reference memcached, one fresh
# connection per case, and compares what each answers: the reply bytes
# (CAS fields masked) and whether it closed the connection.
#
#   bench/binary-replay.pl --ref /path/to/memcached [--ours PATH]
#                          [--cases 3000] [--seed 1] [--show 10] [--dump FILE]
#
# The cases come from a seeded generator, so a run is repeatable. Exit
# status 0 when every case agrees, 1 otherwise. --dump writes every case
# with the reference's reply to FILE (hex), for picking fixed expectations for t/.
# The reference is only run when its path is given; nothing here builds it.
use strict;
use warnings;
use Getopt::Long;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

my %o = (cases => 3000, seed => 1, show => 10, parallel => 64);
GetOptions(\%o, 'ref=s', 'ours=s', 'cases=i', 'seed=i', 'show=i', 'dump=s', 'parallel=i')
    or die "usage: $0 --ref PATH [--ours PATH] [--cases N] [--seed N] [--show N] [--dump FILE]\n";
die "$0: --ref PATH (a reference memcached binary) is required\n" unless $o{ref};
$o{ours} //= do {
    my $here = $0 =~ m{^(.*)/} ? $1 : '.';
    (grep { -x } map { "$here/../$_" } qw(_build/memcached/memcached memcached/memcached))[0];
};
die "$0: our server not found; give --ours PATH\n" unless $o{ours} && -x $o{ours};

# ---- servers ----

my @pids;
END { kill 'KILL', @pids if @pids; waitpid($_, 0) for @pids }
$SIG{INT} = $SIG{TERM} = sub { exit 130 };

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1,
                                  ReuseAddr => 1) or die "no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub start {
    my ($bin) = @_;
    my $port = free_port();
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec({ $bin } $bin, '-p', $port, '-U', '0', '-l', '127.0.0.1', '-m', '64', '-c', '4096',
             ($> == 0 ? ('-u', 'root') : ())) or POSIX::_exit(127);
    }
    push @pids, $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
        return $port if $c;
        sleep 0.05;
    }
    die "$bin did not start on port $port\n";
}

# ---- cases ----

srand($o{seed});
sub pick { $_[int rand @_] }
sub rbytes { join '', map { chr int rand 256 } 1 .. $_[0] }

# Opcodes left out: version and stat (their replies differ by design) and
# the SASL ones 0x20-0x22 (a reference built without SASL treats them as
# unknown; ours, built with it, answers as a SASL-built memcached does).
my @served = (0x00 .. 0x09, 0x0a, 0x0c .. 0x0f, 0x11 .. 0x1f, 0x23, 0x24);
my $noop = pack('CCnCCnNNQ>', 0x80, 0x0a, 0, 0, 0, 0, 0, 0xfeedface, 0);

sub one_case {
    my $magic = rand() < 0.92 ? 0x80 : pick(0x81, 0x00, 0x7f, int rand 256);
    my $op = rand() < 0.6 ? pick(@served) : int rand 256;
    $op = 0x44 if $op == 0x0b || $op == 0x10 || ($op >= 0x20 && $op <= 0x22);
    my $keylen = pick(0, 0, 1, 3, 8, 250, 251, 300, int rand 65536, int rand 20);
    my $extlen = pick(0, 0, 4, 8, 20, int rand 256, int rand 30);
    my $need = $keylen + $extlen;
    my $bodylen = pick($need, $need, $need + int rand 20, $need > 0 ? int rand $need : 0,
                       int rand 64, 0x40000001, 0xffffffff, 0x3fffffff, int rand 2**32);
    my $datatype = rand() < 0.9 ? 0 : int rand 256;
    my $vbucket = rand() < 0.9 ? 0 : int rand 65536;
    my $cas = rand() < 0.8 ? 0 : int rand 2**32;
    my $hdr = pack('CCnCCnNNQ>', $magic, $op, $keylen, $extlen, $datatype, $vbucket,
                   $bodylen, 0x01020304, $cas);
    # Body bytes actually sent: none, some, all (when small), or more.
    my $full = $bodylen < 1500 ? $bodylen : 1500;
    my $send = pick(0, int rand($full + 1), $full, $full, $full + int rand 30);
    my $body = '';
    if ($send > 0) {
        # printable keys keep key-carrying commands meaningful
        my $k = $keylen < $send ? $keylen : $send;
        my $e = $extlen < $send - $k ? $extlen : $send - $k;
        $body = rbytes($e) . join('', map { chr(97 + int rand 26) } 1 .. $k);
        $body .= rbytes($send - length $body);
    }
    my $tail = rand() < 0.5 ? $noop : '';
    return $hdr . $body . $tail;
}

my @cases = map { one_case() } 1 .. $o{cases};
# The fixed cases the issue names ride along.
unshift @cases, pack('H*', '801b000004000000000000040000000000000000000000000000000001');

# ---- replay ----

# Runs the cases numbered in @$which, each on its own connection,
# $o{parallel} at a time. A case is over when the server closes or nothing
# more arrives for 150 ms (2 s at most). Returns [reply bytes, closed?] per
# case number.
sub replay {
    my ($port, $which, $parallel) = @_;
    my %res;
    for (my $i = 0; $i < @$which; $i += $parallel) {
        my $last = $i + $parallel - 1;
        $last = $#$which if $last > $#$which;
        my %live;
        my $sel = IO::Select->new;
        for my $n (@$which[$i .. $last]) {
            my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
                or die "connect: $!\n";
            $c->autoflush(1);
            $live{fileno $c} = [$n, $c];
            $res{$n} = ['', 0];
            $sel->add($c);
            syswrite($c, $cases[$n]);
        }
        my $quiet_since = time;
        my $deadline = time + 2;
        while ($sel->count && time < $deadline && time - $quiet_since < 0.15) {
            for my $c ($sel->can_read(0.05)) {
                my ($n) = @{ $live{fileno $c} };
                my $got = sysread($c, my $buf, 65536);
                if (!$got) {
                    $res{$n}[1] = 1;
                    $sel->remove($c);
                } else {
                    $res{$n}[0] .= $buf;
                }
                $quiet_since = time;
            }
        }
        close $_->[1] for values %live;
    }
    return \%res;
}

# Empties a server (a binary flush), so a case rerun alone finds no key
# that another case stored.
sub flush_all {
    my ($port) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die "connect: $!\n";
    syswrite($c, pack('CCnCCnNNQ>', 0x80, 0x08, 0, 0, 0, 0, 0, 0, 0));
    sysread($c, my $buf, 24);
    close $c;
}

# Reply packets with their CAS field zeroed (CAS numbering is not what
# this compares); a trailing partial packet is kept as is.
sub mask_cas {
    my ($b) = @_;
    my $out = '';
    while (length $b >= 24) {
        my $len = 24 + unpack('N', substr($b, 8, 4));
        last if $len > length $b;
        my $p = substr($b, 0, $len, '');
        substr($p, 16, 8) = "\0" x 8;
        $out .= $p;
    }
    return $out . $b;
}

my ($ours_port, $ref_port) = (start($o{ours}), start($o{ref}));
my @all = 0 .. $#cases;
my $ours = replay($ours_port, \@all, $o{parallel});
my $ref = replay($ref_port, \@all, $o{parallel});

sub agree {
    my ($a, $b) = @_;
    return mask_cas($a->[0]) eq mask_cas($b->[0]) && $a->[1] == $b->[1];
}
# Cases run side by side share the keyspace (short random keys collide),
# so a difference is rerun alone on emptied servers before it counts.
my @diff;
for my $n (grep { !agree($ours->{$_}, $ref->{$_}) } @all) {
    flush_all($_) for $ours_port, $ref_port;
    $ours->{$n} = replay($ours_port, [$n], 1)->{$n};
    $ref->{$n} = replay($ref_port, [$n], 1)->{$n};
    push @diff, $n unless agree($ours->{$n}, $ref->{$n});
}
my $same = @cases - @diff;
printf "%d cases: %d agree, %d differ\n", scalar @cases, $same, scalar @diff;
for my $n (@diff[0 .. ($o{show} < @diff ? $o{show} : @diff) - 1]) {
    my $in = unpack('H*', $cases[$n]);
    $in = substr($in, 0, 120) . '...' if length $in > 120;
    printf "case %d: %s\n  ours: %s%s\n  ref:  %s%s\n", $n, $in,
        unpack('H*', $ours->{$n}[0]), $ours->{$n}[1] ? ' (closed)' : '',
        unpack('H*', $ref->{$n}[0]), $ref->{$n}[1] ? ' (closed)' : '';
}
if ($o{dump}) {
    open my $fh, '>', $o{dump} or die "$o{dump}: $!\n";
    for my $n (0 .. $#cases) {
        printf $fh "%s %s %s\n", unpack('H*', $cases[$n]), unpack('H*', $ref->{$n}[0]) || '-',
            $ref->{$n}[1] ? 'closed' : 'open';
    }
}
exit(@diff ? 1 : 0);
