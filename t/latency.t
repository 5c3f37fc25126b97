#!/usr/bin/perl
# -o latency_stats: "stats latency" (and binary "stat latency") count each
# request once under its command (ASCII by name, meta by verb, binary by
# opcode family), in the fixed buckets docs/metrics.md lists, with
# percentiles inside them; a slow request lands in a high bucket; stats
# reset zeroes them; without the option the group does not exist.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;
use McBinary;

# The bucket bounds as docs/metrics.md gives them: 1 us, then 4 linear
# steps per power of two up to 2^20 us, then +Inf; labels are seconds
# written without trailing zeros.
my @BOUNDS = (1e-6);
for my $k (0 .. 19) {
    push @BOUNDS, (1 + $_ / 4) * 2**$k * 1e-6 for 1 .. 4;
}
sub label { my $s = sprintf('%.8f', $_[0]); $s =~ s/0+\z//; $s }
my %BUCKET_OF = map { label($BOUNDS[$_]) => $_ } 0 .. $#BOUNDS;
$BUCKET_OF{'+Inf'} = scalar @BOUNDS;
is(scalar keys %BUCKET_OF, 82, 'the documented bounds are 82 buckets');

# "stats latency" as { cmd => { buckets => { index => n }, count, sum_ns,
# p50_us, ... } }; fails a test on a line of another shape.
sub latency_stats {
    my ($sock) = @_;
    my $st = mem_stats($sock, 'latency');
    my %h;
    for my $name (keys %$st) {
        if ($name =~ /^(\w+):le_(\S+)\z/) {
            my ($cmd, $le) = ($1, $2);
            ok(exists $BUCKET_OF{$le}, "$name is a documented bound") or next;
            $h{$cmd}{buckets}{$BUCKET_OF{$le}} = $st->{$name};
        } elsif ($name =~ /^(\w+):(count|sum_ns|p50_us|p90_us|p99_us|p99\.9_us)\z/) {
            $h{$1}{$2} = $st->{$name};
        } else {
            fail("unexpected stats latency line $name");
        }
    }
    return \%h;
}

# Every listed command: buckets non-zero and adding up to count,
# percentiles monotone and inside the lowest and highest bucket used.
sub check_shape {
    my ($h) = @_;
    for my $cmd (sort keys %$h) {
        my $c = $h->{$cmd};
        my @used = sort { $a <=> $b } keys %{ $c->{buckets} // {} };
        my $total = 0;
        $total += $c->{buckets}{$_} for @used;
        ok($c->{count} > 0, "$cmd: listed only with requests");
        is($total, $c->{count}, "$cmd: buckets add up to count");
        ok(!grep({ $c->{buckets}{$_} == 0 } @used), "$cmd: only non-zero buckets listed");
        my $lo = $used[0] > 0 ? $BOUNDS[$used[0] - 1] * 1e6 : 0;
        my $hi = $used[-1] < @BOUNDS ? $BOUNDS[$used[-1]] * 1e6 : 9**9**9;
        my @p = map { $c->{$_} } qw(p50_us p90_us p99_us p99.9_us);
        ok($p[0] <= $p[1] && $p[1] <= $p[2] && $p[2] <= $p[3], "$cmd: percentiles monotone (@p)");
        ok($p[0] >= $lo - 0.01 && $p[3] <= $hi + 0.01,
           "$cmd: percentiles within the buckets used ($lo .. $hi us)");
        my $mean_us = $c->{sum_ns} / $c->{count} / 1000;
        ok($mean_us >= $lo - 0.001 && $mean_us <= $hi + 0.001, "$cmd: the mean ($mean_us us) too");
    }
}

my $srv = start_server(args => '-o latency_stats');
my $s = $srv->new_sock;
is(mem_stats($s, 'settings')->{latency_stats}, 'yes', 'stats settings: latency_stats yes');

# N gets (hits and misses, one multi-key) and M sets.
my ($N, $M) = (40, 25);
for my $i (1 .. $M) {
    send_expect($s, "set k$i 0 0 " . length("v$i") . "\r\nv$i\r\n", "STORED\r\n", "set k$i");
}
for my $i (1 .. $N - 1) {
    my $want = $i <= $M ? "VALUE k$i 0 " . length("v$i") . "\r\nv$i\r\nEND\r\n" : "END\r\n";
    send_expect($s, "get k$i\r\n", $want, "get k$i");
}
send_expect($s, "get k1 k2\r\n", "VALUE k1 0 2\r\nv1\r\nVALUE k2 0 2\r\nv2\r\nEND\r\n", 'a multi-get');

my $h = latency_stats($s);
is($h->{get}{count}, $N, "get:count is the $N gets");
is($h->{set}{count}, $M, "set:count is the $M sets");
ok(!exists $h->{mg}, 'no mg before one is sent');
check_shape($h);

# Every other ASCII command under its own name, in this order.
my @ascii = (
    [gets => "gets k1\r\n", qr/^VALUE k1 0 2 \d+\\r\\n/],
    [gat => "gat 0 k1\r\n", qr/^VALUE k1 0 2\\r\\n/],
    [gats => "gats 0 k1\r\n", qr/^VALUE k1 0 2 \d+\\r\\n/],
    [add => "add a1 0 0 1\r\nx\r\n", qr/^STORED/],
    [replace => "replace a1 0 0 1\r\ny\r\n", qr/^STORED/],
    [append => "append a1 0 0 1\r\nz\r\n", qr/^STORED/],
    [prepend => "prepend a1 0 0 1\r\nw\r\n", qr/^STORED/],
    [cas => "cas a1 0 0 1 1\r\nq\r\n", qr/^EXISTS/],
    [incr => "set n 0 0 1\r\n5\r\nincr n 2\r\n", qr/^STORED/],
    [decr => "decr n 1\r\n", qr/^6/],
    [touch => "touch k1 0\r\n", qr/^TOUCHED/],
    [delete => "delete a1\r\n", qr/^DELETED/],
    [flush_all => "flush_all 100\r\n", qr/^OK/],
    [verbosity => "verbosity 0\r\n", qr/^OK/],
    [version => "version\r\n", qr/^VERSION/],
);
for (@ascii) {
    my ($cmd, $send, $re) = @$_;
    line_like($s, $send, $re, "$cmd answered");
    if ($cmd eq 'gets' || $cmd eq 'gat' || $cmd eq 'gats') {
        read_line($s) for 1 .. 2;   # the value and END
    } elsif ($cmd eq 'incr') {
        line_is($s, '', "7\r\n", 'incr replied');
    }
}

# The meta commands by verb.
line_like($s, "mg k1 v\r\n", qr/^VA 2/, 'mg');
read_line($s);
line_is($s, "ms m1 1\r\nx\r\n", "HD\r\n", 'ms');
line_is($s, "ma n\r\n", "HD\r\n", 'ma');
line_is($s, "md m1\r\n", "HD\r\n", 'md');
line_like($s, "me k1\r\n", qr/^ME k1 /, 'me');
line_is($s, "mn\r\n", "MN\r\n", 'mn');
line_is($s, "mn\r\n", "MN\r\n", 'mn again');

# Binary requests by opcode family, on their own connection.
my $bs = $srv->new_sock;
my $r = bin_call($bs, 'set', key => 'b1', ext => pack('N N', 0, 0), val => 'xyz');
is($r->{status}, 0, 'binary set');
is(bin_call($bs, 'get', key => 'b1')->{val}, 'xyz', 'binary get');
is(bin_call($bs, 'getk', key => 'b1')->{val}, 'xyz', 'binary getk');
send_bytes($bs, bin_req('getq', key => 'nope') . bin_req('noop'));
is(bin_read($bs)->{op}, 0x0a, 'binary getq (a miss, silent) then noop');
is(bin_call($bs, 'version')->{status}, 0, 'binary version');
is(bin_call($bs, 'delete', key => 'b1')->{status}, 0, 'binary delete');

$h = latency_stats($s);
is($h->{$_}{count}, 1, "$_:count 1")
    for qw(gets gat gats add replace append prepend cas decr touch delete flush_all
           verbosity ma md me ms mg bin_set bin_delete bin_version bin_noop);
is($h->{incr}{count}, 1, 'incr:count 1');
is($h->{set}{count}, $M + 1, 'set:count counts the set before incr');
is($h->{mn}{count}, 2, 'mn:count 2');
is($h->{bin_get}{count}, 3, 'bin_get:count: get, getk and getq');
ok($h->{version}{count} >= 1, 'version counted');
check_shape($h);

# Binary stat latency: the same stats through the same emitter.
send_bytes($bs, bin_req('stat', key => 'latency', opaque => 5));
my %bin;
while (my $p = bin_read($bs)) {
    is($p->{status}, 0, 'stat latency packet ok') unless $p->{status} == 0;
    last if $p->{key} eq '';
    $bin{ $p->{key} } = $p->{val};
}
is($bin{'get:count'}, $N, 'binary stat latency: get:count');
is($bin{'mn:count'}, 2, 'binary stat latency: mn:count');
ok(exists $bin{'bin_set:p99_us'}, 'binary stat latency: bin_set:p99_us');

# A slow request: debugsleep (memcached-debug) counts as "other", in a
# bucket at or above 30 ms.
SKIP: {
    send_bytes($s, "debugsleep 30\r\n");
    my $reply = read_line($s, 10);
    skip 'no debugsleep in this binary', 3 unless defined $reply && $reply eq "OK\r\n";
    $h = latency_stats($s);
    my ($top) = sort { $b <=> $a } keys %{ $h->{other}{buckets} };
    ok($top < @BOUNDS ? $BOUNDS[$top] >= 0.030 : 1, 'debugsleep 30 is in a bucket at or above 30 ms');
    cmp_ok($h->{other}{'p99.9_us'}, '>=', 28672, 'other:p99.9_us reaches it');
    cmp_ok($h->{other}{sum_ns}, '>=', 30e6, 'other:sum_ns holds its 30 ms');
}

# stats reset: everything starts from zero (the reset itself is then the
# one request recorded, under "stats").
line_is($s, "stats reset\r\n", "RESET\r\n", 'stats reset');
$h = latency_stats($s);
is_deeply([sort keys %$h], ['stats'], 'after stats reset only the reset is listed');
is($h->{stats}{count}, 1, 'stats:count 1');
send_expect($s, "get k1\r\n", "VALUE k1 0 2\r\nv1\r\nEND\r\n", 'a get after reset');
is(latency_stats($s)->{get}{count}, 1, 'get:count counts again from 0');

# Off: without the option, and with no_latency_stats after it, the group
# does not exist, as in memcached: ERROR over text, Not found over binary.
for my $args ('', '-o latency_stats,no_latency_stats') {
    my $off = start_server(args => $args);
    my $o = $off->new_sock;
    is(mem_stats($o, 'settings')->{latency_stats}, 'no', "'$args': latency_stats no");
    send_expect($o, "get k1\r\n", "END\r\n", "'$args': a get");
    send_expect($o, "stats latency\r\n", "ERROR\r\n", "'$args': stats latency is ERROR");
    my $ob = $off->new_sock;
    send_expect($ob, bin_req('stat', key => 'latency', opaque => 3),
                bin_error_res('stat', 'not_found', opaque => 3), "'$args': stat latency is Not found");
}

done_testing();
