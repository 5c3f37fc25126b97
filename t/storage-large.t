#!/usr/bin/perl
# Large values: items bigger than the largest slab chunk (512 KB by
# default) must round-trip byte for byte, the -I limit must hold to the
# byte (memcached's limit: value + key + item header), and growing an item
# past -I with append/prepend must fail the way memcached fails, leaving
# the value as it was.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

# A value of $len bytes that differs with $seed and covers every byte
# value, CR and LF included.
sub pattern {
    my ($len, $seed) = @_;
    my $unit = join '', map { chr(($_ * 7 + $seed) % 256) } 0 .. 4095;
    return substr($unit x (int($len / 4096) + 1), 0, $len);
}

# get $key and compare with $want as one test; on a mismatch, say where.
sub big_get_is {
    my ($s, $key, $want, $name, $flags) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $flags //= 0;
    send_bytes($s, "get $key\r\n");
    my $hdr = read_line($s, 10) // '';
    my $exp_hdr = "VALUE $key $flags " . length($want) . "\r\n";
    if ($hdr ne $exp_hdr) {
        fail($name);
        diag('header: ' . mc_escape($hdr) . ' expected ' . mc_escape($exp_hdr));
        read_bytes($s, 1 << 30, 0.3);    # drain
        return;
    }
    my $data = read_bytes($s, length($want) + 7, 10);
    my $ok = $data eq "$want\r\nEND\r\n";
    ok($ok, $name);
    unless ($ok) {
        my $i = 0;
        $i++ while $i < length($data) && $i < length($want) && substr($data, $i, 1) eq substr($want, $i, 1);
        diag("first difference at byte $i of " . length($want));
    }
}

sub store_big {
    my ($s, $cmd, $key, $value, $want_reply, $name, $flags) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $flags //= 0;
    send_expect($s, "$cmd $key $flags 0 " . length($value) . "\r\n$value\r\n", $want_reply, $name, 10);
}

# --- default settings: 900 KB values ------------------------------------------
{
    my $srv = start_server(args => '');
    my $s = $srv->new_sock;
    my @vals = map { pattern(900 * 1024 + $_, $_) } 1 .. 4;
    for my $i (0 .. 3) {
        store_big($s, 'set', "big$i", $vals[$i], "STORED\r\n", "set 900 KB value #$i", $i + 1);
    }
    big_get_is($s, "big$_", $vals[$_], "900 KB value #$_ round-trips byte-exact", $_ + 1) for 0 .. 3;

    # All four in one multi-get.
    my $want = join('', map { "VALUE big$_ " . ($_ + 1) . ' ' . length($vals[$_]) . "\r\n$vals[$_]\r\n" } 0 .. 3)
               . "END\r\n";
    send_bytes($s, "get big0 big1 big2 big3\r\n");
    my $got = read_bytes($s, length $want, 20);
    ok($got eq $want, 'multi-get of the four large values is byte-exact');

    # Overwrite with another large value, then a small one: no stale bytes.
    my $v2 = pattern(700 * 1024, 99);
    store_big($s, 'set', 'big0', $v2, "STORED\r\n", 'overwrite 900 KB with 700 KB');
    big_get_is($s, 'big0', $v2, 'the 700 KB value comes back');
    store_big($s, 'set', 'big0', 'tiny', "STORED\r\n", 'overwrite with 4 bytes');
    big_get_is($s, 'big0', 'tiny', 'the small value comes back');

    # gets/cas on a large item.
    send_bytes($s, "gets big1\r\n");
    my ($cas) = (read_line($s) // '') =~ /^VALUE big1 2 \d+ (\d+)\r\n/;
    read_bytes($s, length($vals[1]) + 7, 10);
    ok(defined $cas, 'gets on a large item gives a cas unique');
    my $v3 = pattern(1000 * 1024, 3);
    send_expect($s, "cas big1 0 0 " . length($v3) . ' ' . ($cas // 0) . "\r\n$v3\r\n", "STORED\r\n",
                'cas over the large item with its unique');
    big_get_is($s, 'big1', $v3, 'cas stored the 1000 KB value');

    # The limit, to the byte: a 1 MB item holds the value, the key, the
    # item header and the 8-byte cas.  For key "big" that leaves 1048514.
    store_big($s, 'set', 'big', 'm' x 1048514, "STORED\r\n", 'largest value for key "big" under -I 1m: 1048514');
    big_get_is($s, 'big', 'm' x 1048514, 'it round-trips');
    store_big($s, 'set', 'big', 'n' x 1048515, "SERVER_ERROR object too large for cache\r\n",
              'one byte more: SERVER_ERROR object too large for cache');
    mem_get_is($s, 'big', undef, 'a too-large set removes the old value, as memcached does');
    store_big($s, 'set', 'big', 'o' x (2 * 1024 * 1024), "SERVER_ERROR object too large for cache\r\n",
              '2 MB value: too large');
    send_expect($s, "set huge 0 0 4294967295\r\n", "CLIENT_ERROR bad command line format\r\n",
                'length 2^32-1 (not a valid length): CLIENT_ERROR, no data expected');
    send_expect($s, "version\r\n", "VERSION ", 'connection still in sync after the refusals');
    read_line($s);
    my $st = mem_stats($s);
    is($st->{store_too_large}, 2, 'store_too_large counts the two refused sets');
}

# --- -I 4m -m 64: 3 MB values --------------------------------------------------
{
    my $srv = start_server(args => '-m 64 -I 4m');
    my $s = $srv->new_sock;
    my @vals = map { pattern(3 * 1024 * 1024 + $_ * 1000, $_ + 10) } 0 .. 2;
    store_big($s, 'set', "mb3_$_", $vals[$_], "STORED\r\n", "set 3 MB value #$_") for 0 .. 2;
    big_get_is($s, "mb3_$_", $vals[$_], "3 MB value #$_ round-trips byte-exact") for 0 .. 2;

    store_big($s, 'set', 'big', 'p' x 4194242, "STORED\r\n", 'largest value for key "big" under -I 4m: 4194242');
    big_get_is($s, 'big', 'p' x 4194242, 'it round-trips');
    store_big($s, 'set', 'big', 'q' x 4194243, "SERVER_ERROR object too large for cache\r\n",
              'one byte more: too large');

    # More large items than fit in 64 MB: the oldest go, the newest stay.
    my $n = 30;
    for my $i (1 .. $n) {
        send_bytes($s, "set ev$i 0 0 " . (3 * 1024 * 1024) . " noreply\r\n" . pattern(3 * 1024 * 1024, $i) . "\r\n");
    }
    send_expect($s, "version\r\n", "VERSION ", 'server answers after 90 MB of 3 MB values', 30);
    read_line($s);
    my $st = mem_stats($s);
    cmp_ok($st->{evictions}, '>', 0, "large items are evicted when memory is full ($st->{evictions})");
    big_get_is($s, "ev$_", pattern(3 * 1024 * 1024, $_), "recent 3 MB item ev$_ intact") for $n - 4 .. $n;
    my $held = 0;
    for my $i (1 .. $n) {
        send_bytes($s, "get ev$i\r\n");
        my $l = read_line($s, 10) // '';
        if ($l =~ /^VALUE/) {
            $held++;
            my $d = read_bytes($s, 3 * 1024 * 1024 + 7, 10);
            fail("ev$i corrupt") unless $d eq pattern(3 * 1024 * 1024, $i) . "\r\nEND\r\n";
        }
    }
    cmp_ok($held, '<', $n, "not all 30 held ($held)");
    cmp_ok($held, '>=', 10, 'but at least 10 of them (30 MB of a 64 MB limit)');
}

# --- append / prepend up to and past -I -----------------------------------------
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    my $a = pattern(600 * 1000, 1);
    my $b = pattern(300 * 1000, 2);
    store_big($s, 'set', 'grow', $a, "STORED\r\n", 'set 600 KB');
    store_big($s, 'append', 'grow', $b, "STORED\r\n", 'append 300 KB (900 KB in all, past the largest chunk)');
    big_get_is($s, 'grow', $a . $b, 'appended value is byte-exact');
    store_big($s, 'prepend', 'grow', 'head', "STORED\r\n", 'prepend 4 bytes to the large value');
    big_get_is($s, 'grow', "head$a$b", 'prepended value is byte-exact');

    my $c = pattern(200 * 1000, 3);
    my $before = "head$a$b";
    # 900004 + 200000 bytes is over the 1 MB item limit.
        send_bytes($s, "append grow 0 0 " . length($c) . "\r\n$c\r\n");
        is(mc_escape(read_line($s, 10)), 'NOT_STORED\r\n', 'append past -I: NOT_STORED');
        send_bytes($s, "prepend grow 0 0 " . length($c) . "\r\n$c\r\n");
        is(mc_escape(read_line($s, 10)), 'NOT_STORED\r\n', 'prepend past -I: NOT_STORED');
    big_get_is($s, 'grow', $before, 'the value is unchanged after the failed append and prepend');
    my $st = mem_stats($s);
    is($st->{store_too_large}, 0, 'a failed append is not counted as store_too_large');
}

done_testing;
