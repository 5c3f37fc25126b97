#!/usr/bin/perl
# Concurrency stress: four client processes do random get/multi-get/set/
# add/replace/delete/incr/decr/append/prepend/touch/gets+cas over a small
# key space for a bounded time, and check every reply.  Values are
# self-describing, so any value a reader gets can be verified to be one a
# client wrote for that key, whole:
#   plain keys  "p:NN"  "p:NN:<writer>:<seq>:" + padding computed from
#                        that header (length and bytes)
#   counters    "c:NN"  decimal digits, then spaces after a shortening decr
#   token lists "t:NN"  a concatenation of tokens "<writer>.<seq>.<check>;"
#                        (set writes one, append/prepend add one)
# At the end the server must still answer, hold no more items than keys,
# write no sanitizer report, and exit 0 on TERM.
#
# Run it against an ASAN build with MEMCACHED_BIN=.../memcached-debug of a
# build configured with --enable-asan.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(_exit);
use Time::HiRes qw(time);
use McTest;

my $CLIENTS  = 4;
my $KEYS     = 50;                      # per family
my $SECONDS  = $ENV{STRESS_SECONDS} // 8;
my $MAX_OPS  = 200_000;                 # per client; time usually ends it first

my $srv = start_server(args => '-m 64 -t 4');

# ---------------------------------------------------------------- value formats

sub pad_for {
    my ($hdr) = @_;
    my $h = 0;
    $h = ($h * 33 + ord) % 1000003 for split //, $hdr;
    # Mostly small, sometimes a few KB, rarely 100 KB (a large-chunk class),
    # more rarely 600 KB (chained over two chunks).
    my $len = $h % 10 == 0 ? 2000 + $h % 6000 : $h % 300;
    $len = 100_000 + $h % 1000 if $h % 211 == 0;
    $len = 600_000 + $h % 5000 if $h % 1009 == 0;
    my $unit = join '', map { chr(33 + ($h + $_) % 90) } 0 .. 63;
    return substr($unit x (int($len / 64) + 1), 0, $len);
}
sub plain_value { my ($key, $w, $seq) = @_; my $h = "$key:$w:$seq:"; return $h . pad_for($h) }
sub plain_ok {
    my ($key, $v) = @_;
    return 0 unless $v =~ /^(\Q$key\E:[0-9]+:[0-9]+:)/;
    return $v eq $1 . pad_for($1);
}
sub token { my ($w, $seq) = @_; return "$w.$seq." . (($w * 31 + $seq * 7) % 97) . ';' }
sub tokens_ok {
    my ($v) = @_;
    return 0 if $v eq '';
    while ($v =~ /\G([0-9]+)\.([0-9]+)\.([0-9]+);/gc) {
        return 0 unless $3 == ($1 * 31 + $2 * 7) % 97;
    }
    return (pos($v) // 0) == length $v;
}
sub value_ok {
    my ($key, $v) = @_;
    return plain_ok($key, $v) if $key =~ /^p:/;
    # decr that shortens a number pads it with spaces in place, as
    # memcached does ("1000" decr 7 reads "993 ").
    return $v =~ /^[0-9]+ *\z/ if $key =~ /^c:/;
    return tokens_ok($v) if $key =~ /^t:/;
    return 0;
}

# ---------------------------------------------------------------- one client

# Runs random operations; returns a hashref of counts and the first problems.
sub client_run {
    my ($id) = @_;
    srand(1000 + $id);
    my $s = $srv->new_sock;
    my %r = (ops => 0, values => 0, bad_value => 0, bad_reply => 0, problems => []);
    my $seq = 0;
    my $problem = sub {
        my ($what) = @_;
        push @{ $r{problems} }, $what if @{ $r{problems} } < 5;
    };
    my $key = sub { my ($fam) = @_; sprintf '%s:%02d', $fam, int rand $KEYS };
    my $anykey = sub { $key->((qw(p c t))[int rand 3]) };
    my $line = sub { my $l = read_line($s, 10); die "no reply (timeout or closed)\n" unless defined $l; $l };
    my $expect_one_of = sub {
        my ($cmd, @ok) = @_;
        my $l = $line->();
        return $l if grep { $l eq "$_\r\n" } @ok;
        $r{bad_reply}++;
        $problem->("$cmd -> " . mc_escape($l));
        return $l;
    };
    # Reads VALUE blocks up to END for the keys asked, checking each value.
    my $read_values = sub {
        my ($cmd, @keys) = @_;
        my %asked = map { $_ => 1 } @keys;
        my %cas;
        while (1) {
            my $l = $line->();
            return \%cas if $l eq "END\r\n";
            if ($l !~ /^VALUE (\S+) (\d+) (\d+)(?: (\d+))?\r\n\z/ || !$asked{$1}) {
                $r{bad_reply}++;
                $problem->("$cmd -> " . mc_escape($l));
                die "reply out of sync\n";
            }
            my ($k, $len, $cas) = ($1, $3, $4);
            my $data = read_bytes($s, $len + 2, 10);
            die "short value\n" unless length $data == $len + 2;
            my $v = substr($data, 0, $len);
            $r{values}++;
            if (substr($data, $len) ne "\r\n" || !value_ok($k, $v)) {
                $r{bad_value}++;
                $problem->("$cmd: bad value for $k: " . mc_escape(substr($v, 0, 80)));
            }
            $cas{$k} = $cas if defined $cas;
        }
    };
    my $deadline = time + $SECONDS;
    eval {
        while ($r{ops} < $MAX_OPS && ($r{ops} % 64 || time < $deadline)) {
            $r{ops}++;
            $seq++;
            my $p = rand 100;
            if ($p < 25) {
                my $k = $anykey->();
                send_bytes($s, "get $k\r\n");
                $read_values->("get $k", $k);
            } elsif ($p < 33) {
                my @k = map { $anykey->() } 1 .. 2 + int rand 5;
                send_bytes($s, "get @k\r\n");
                $read_values->("get @k", @k);
            } elsif ($p < 47) {
                my $k = $key->('p');
                my $v = plain_value($k, $id, $seq);
                my $exp = rand() < 0.1 ? 1 + int rand 2 : 0;
                my $cmd = (qw(set set set set add replace))[int rand 6];
                send_bytes($s, "$cmd $k 0 $exp " . length($v) . "\r\n$v\r\n");
                $expect_one_of->("$cmd $k", $cmd eq 'set' ? ('STORED') : ('STORED', 'NOT_STORED'));
            } elsif ($p < 54) {
                my $k = $anykey->();
                send_bytes($s, "delete $k\r\n");
                $expect_one_of->("delete $k", 'DELETED', 'NOT_FOUND');
            } elsif ($p < 66) {
                my $k = $key->('c');
                my $cmd = rand() < 0.7 ? 'incr' : 'decr';
                my $by = 1 + int rand 1000;
                send_bytes($s, "$cmd $k $by\r\n");
                my $l = $line->();
                if ($l eq "NOT_FOUND\r\n") {
                    send_bytes($s, "add $k 0 0 1\r\n0\r\n");
                    $expect_one_of->("add $k", 'STORED', 'NOT_STORED');
                } elsif ($l !~ /^[0-9]+\r\n\z/) {
                    $r{bad_reply}++;
                    $problem->("$cmd $k -> " . mc_escape($l));
                }
            } elsif ($p < 69) {
                my $k = $key->('c');
                my $v = int rand 1_000_000;
                send_bytes($s, "set $k 0 0 " . length($v) . "\r\n$v\r\n");
                $expect_one_of->("set $k", 'STORED');
            } elsif ($p < 81) {
                my $k = $key->('t');
                my $cmd = rand() < 0.7 ? 'append' : 'prepend';
                my $t = token($id, $seq);
                send_bytes($s, "$cmd $k 0 0 " . length($t) . "\r\n$t\r\n");
                $expect_one_of->("$cmd $k", 'STORED', 'NOT_STORED');
            } elsif ($p < 88) {
                # Reset a token list: one token, or a few hundred bytes' worth.
                my $k = $key->('t');
                my $v = join '', map { token($id, $seq + $_) } 0 .. int rand 30;
                send_bytes($s, "set $k 0 0 " . length($v) . "\r\n$v\r\n");
                $expect_one_of->("set $k", 'STORED');
            } elsif ($p < 92) {
                my $k = $anykey->();
                my $exp = rand() < 0.5 ? 0 : 1 + int rand 3;
                send_bytes($s, "touch $k $exp\r\n");
                $expect_one_of->("touch $k", 'TOUCHED', 'NOT_FOUND');
            } elsif ($p < 99.9) {
                my $k = $key->('p');
                send_bytes($s, "gets $k\r\n");
                my $cas = $read_values->("gets $k", $k)->{$k};
                my $v = plain_value($k, $id, $seq);
                send_bytes($s, "cas $k 0 0 " . length($v) . ' ' . ($cas // 1) . "\r\n$v\r\n");
                $expect_one_of->("cas $k", 'STORED', 'EXISTS', 'NOT_FOUND');
            } else {
                send_bytes($s, "lru_crawler crawl all\r\n");
                my $l = $line->();
                unless ($l =~ /^(OK|BUSY .*)\r\n\z/) {
                    $r{bad_reply}++;
                    $problem->('lru_crawler crawl all -> ' . mc_escape($l));
                }
            }
        }
        1;
    } or do {
        $r{bad_reply}++;
        $problem->("client $id stopped: $@");
    };
    return \%r;
}

# ---------------------------------------------------------------- run

my @kids;
for my $id (0 .. $CLIENTS - 1) {
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        my $r = client_run($id);
        print $wr join("\t", $r->{ops}, $r->{values}, $r->{bad_value}, $r->{bad_reply},
                       map { s/[\t\n]/ /gr } @{ $r->{problems} }), "\n";
        close $wr;
        _exit(0);
    }
    close $wr;
    push @kids, [$pid, $rd, $id];
}

my ($ops, $values, $bad_value, $bad_reply) = (0, 0, 0, 0);
for my $k (@kids) {
    my $line = readline($k->[1]);
    waitpid $k->[0], 0;
    if (!defined $line) {
        $bad_reply++;
        diag("client $k->[2] died without a report");
        next;
    }
    chomp $line;
    my ($o, $v, $bv, $br, @problems) = split /\t/, $line;
    $ops += $o; $values += $v; $bad_value += $bv; $bad_reply += $br;
    diag("client $k->[2]: $_") for @problems;
}
note("$ops operations, $values values read and checked");
cmp_ok($ops, '>=', 1000, "the clients got work done ($ops operations)");
cmp_ok($values, '>', 0, 'values were read back');
is($bad_value, 0, 'no value was corrupt, torn or under the wrong key');
is($bad_reply, 0, 'every reply was one the command allows');

my $s = $srv->new_sock;
send_expect($s, "version\r\n", 'VERSION ', 'server still answers');
read_line($s);
my $st = mem_stats($s);
cmp_ok($st->{curr_items}, '<=', 3 * $KEYS, "curr_items ($st->{curr_items}) <= the key space");
my $items = 0;
for my $fam (qw(p c t)) {
    my @k = map { sprintf '%s:%02d', $fam, $_ } 0 .. $KEYS - 1;
    send_bytes($s, "get @k\r\n");
    my $bad = 0;
    while (defined(my $l = read_line($s))) {
        last if $l eq "END\r\n";
        my ($k, $len) = $l =~ /^VALUE (\S+) \d+ (\d+)\r\n\z/ or do { $bad++; last };
        my $d = read_bytes($s, $len + 2);
        $bad++ unless value_ok($k, substr($d, 0, $len));
        $items++;
    }
    is($bad, 0, "final read of the $fam: family: every value valid");
}
cmp_ok($items, '<=', $st->{curr_items}, 'no more live items than curr_items');

my $status = $srv->stop;
is($status, 0, 'server exits 0 on TERM');
my $err = $srv->stderr_text;
unlike($err, qr/AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer/,
       'no sanitizer report on the server\'s stderr');
diag($err) if $err =~ /Sanitizer|runtime error:/;

done_testing;
