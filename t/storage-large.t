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
use McBinary;

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

# --- how large values are held: chained slab chunks --------------------------------
# "stats slabs" as { class => { chunk_size, used_chunks, total_pages } }.
sub slab_usage {
    my $s = shift;
    send_bytes($s, "stats slabs\r\n");
    my %c;
    while (defined(my $l = read_line($s))) {
        last if $l eq "END\r\n";
        $c{$1}{$2} = $3 if $l =~ /^STAT (\d+):(\w+) (\d+)/;
    }
    return \%c;
}
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    my $c = slab_usage($s);
    my ($largest) = sort { $b <=> $a } keys %$c;
    is($largest, undef, 'no slab pages before the first item');
    my $v = pattern(600 * 1024, 5);
    store_big($s, 'set', 'c600', $v, "STORED\r\n", 'set a 600 KB value');
    $c = slab_usage($s);
    my @used = grep { ($c->{$_}{used_chunks} // 0) > 0 } keys %$c;
    my $bytes = 0;
    $bytes += $c->{$_}{used_chunks} * $c->{$_}{chunk_size} for @used;
    my ($max) = sort { $b <=> $a } map { $c->{$_}{chunk_size} } keys %$c;
    is($max, 524288, 'no chunk is larger than slab_chunk_max (512 KB)');
    is(scalar @used, 3, 'the item takes chunks of three classes: key, 512 KB, the rest');
    cmp_ok($bytes, '>=', 600 * 1024, 'they hold the whole value');
    cmp_ok($bytes, '<', 2 * 524288, 'the last chunk is sized to what remains, not a whole 512 KB');
    big_get_is($s, 'c600', $v, 'the chained value reads back byte-exact');

    # mg and gat read chained values too.
    send_bytes($s, "mg c600 v s f\r\n");
    my $hdr = read_line($s, 10) // '';
    is($hdr, "VA " . length($v) . " s" . length($v) . " f0\r\n", 'mg of a chained value: header');
    my $data = read_bytes($s, length($v) + 2, 10);
    ok($data eq "$v\r\n", 'mg of a chained value: bytes');
    send_bytes($s, "gat 100 c600\r\n");
    is(read_line($s, 10), "VALUE c600 0 " . length($v) . "\r\n", 'gat of a chained value');
    ok(read_bytes($s, length($v) + 7, 10) eq "$v\r\nEND\r\n", 'gat returns the bytes');
    send_expect($s, "incr c600 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
                'incr on a chained value: non-numeric');

    # Memory is counted in pages, as memcached counts it: 1 MB values take
    # two 512 KB chunks, so -m 64 holds no more than 64 of them, and
    # writing more evicts the oldest.
    my $big = 1000 * 1000;
    for my $i (1 .. 100) {
        send_bytes($s, "set m$i 0 0 $big noreply\r\n" . pattern($big, $i) . "\r\n");
    }
    send_expect($s, "mn\r\n", "MN\r\n", 'server answers after 100 MB of 1 MB values', 30);
    my $st = mem_stats($s);
    cmp_ok($st->{curr_items}, '>=', 60, "at least 60 held in -m 64 ($st->{curr_items})");
    cmp_ok($st->{curr_items}, '<=', 64, 'at most 64');
    cmp_ok($st->{evictions}, '>', 0, 'the rest were evicted');
    $c = slab_usage($s);
    my $pages = 0;
    $pages += $c->{$_}{total_pages} for keys %$c;
    cmp_ok($pages, '<=', 65, "slab pages stay within -m ($pages)");
    big_get_is($s, "m$_", pattern($big, $_), "recent 1 MB value m$_ intact") for 96 .. 100;

    # The page mover frees a page of chunks by evicting the items that own
    # them (also those whose own chunk is in another page); the values left
    # are untouched.
    my ($class) = grep { $c->{$_}{chunk_size} == 524288 } keys %$c;
    my $pages_before = $c->{$class}{total_pages};
    my $items_before = mem_stats($s)->{curr_items};
    send_expect($s, "slabs reassign $class 1\r\n", "OK\r\n", "slabs reassign from the 512 KB class ($class)");
    $st = poll_stats($s, undef, sub { $_[0]{slabs_moved} >= 1 && !$_[0]{slab_reassign_running} });
    is($st->{slabs_moved}, 1, 'the page moved');
    $c = slab_usage($s);
    is($c->{$class}{total_pages}, $pages_before - 1, 'the 512 KB class has one page less');
    cmp_ok($st->{curr_items}, '<', $items_before, 'the owners of its chunks were evicted');
    cmp_ok($st->{curr_items}, '>=', $items_before - 2, 'and no more than those (two per page at most)');
    my ($held, $bad) = (0, 0);
    for my $i (0 .. 100) {
        my ($key, $want) = $i ? ("m$i", pattern($big, $i)) : ('c600', $v);
        send_bytes($s, "get $key\r\n");
        my $l = read_line($s, 10) // '';
        next unless $l =~ /^VALUE/;
        $held++;
        $bad++ unless read_bytes($s, length($want) + 7, 10) eq "$want\r\nEND\r\n";
    }
    is($held, $st->{curr_items}, 'every item still counted can be read');
    is($bad, 0, 'and every one is byte-exact');
}

# --- -M: no room for a chained value --------------------------------------------------
# memcached finds out while reading the value: "Out of memory during read",
# the old value kept, noreply and meta's q hide the error, and it counts as
# a set, not as store_no_memory.
{
    my $srv = start_server(args => '-m 8 -M');
    my $s = $srv->new_sock;
    send_expect($s, "set old 0 0 3\r\nabc\r\nms old2 3\r\nabc\r\n", "STORED\r\nHD\r\n", 'two small values first');
    my $v = 'y' x 1_000_000;
    my $stored = 0;
    for my $i (1 .. 12) {
        send_bytes($s, "set fill$i 0 0 1000000\r\n$v\r\n");
        my $r = read_line($s, 10) // '';
        $r eq "STORED\r\n" ? $stored++ : last;
    }
    cmp_ok($stored, '>=', 6, "-m 8 -M holds $stored 1 MB values before it is full");
    my $before = mem_stats($s);
    send_expect($s, "set old 0 0 1000000\r\n$v\r\n", "SERVER_ERROR Out of memory during read\r\n",
                'set of a chained value with memory full: Out of memory during read');
    mem_get_is($s, 'old', 'abc', 'the old value stays');
    send_expect($s, "set old 0 0 1000000 noreply\r\n$v\r\nmn\r\n", "MN\r\n", 'noreply hides the error');
    send_expect($s, "ms old2 1000000\r\n$v\r\n", "SERVER_ERROR Out of memory during read\r\n", 'ms: the same error');
    send_expect($s, "ms old2 1000000 q\r\n$v\r\nmn\r\n", "MN\r\n", 'ms with q: no error shown, as memcached');
    send_expect($s, "mg old2 v\r\n", "VA 3\r\nabc\r\n", 'the old value of old2 stays');
    my $after = mem_stats($s);
    is($after->{store_no_memory} - $before->{store_no_memory}, 0, 'not counted as store_no_memory');
    is($after->{cmd_set} - $before->{cmd_set}, 4, 'counted as sets (cmd_set)');
    # memcached counts each in the largest class's cmd_set (stats slabs) and,
    # in stats items, as ten direct reclaims (its allocation tries, none of
    # which could free anything under -M), not as an outofmemory.
    my $refused = 4 + 1;    # and the fill that found memory full
    my $c = slab_usage($s);
    is($c->{39}{cmd_set}, $stored + $refused, 'stats slabs: class 39 counts the refused sets too');
    my $items = mem_stats($s, 'items');
    is($items->{'items:39:outofmemory'}, 0, 'stats items: no outofmemory for a chained value');
    is($items->{'items:39:direct_reclaims'}, 10 * $refused, '  but ten direct reclaims per refused set');
    send_expect($s, "set small 0 0 5\r\nhello\r\n", "STORED\r\n", 'a small value still fits');

    # Binary protocol: status 0x82 with memcached's text.
    my $b = $srv->new_sock;
    my $body = pack('NN', 0, 0) . 'old' . $v;
    send_bytes($b, pack('CCnCCnNNNN', 0x80, 0x01, 3, 8, 0, 0, length($body), 7, 0, 0) . $body);
    my $reply = read_bytes($b, 24 + 25, 10);
    my ($status, $blen) = unpack('x6nN', $reply);
    is(sprintf('0x%x', $status), '0x82', 'binary set: out of memory status');
    is(substr($reply, 24), 'Out of memory during read', 'binary set: with the text memcached sends');
    mem_get_is($s, 'old', 'abc', 'the old value stays after the binary set too');
}

# --- which class lists a chained item ---------------------------------------------------------
# memcached lists a value larger than slab_chunk_max under the largest class
# in stats items (class 39 with the defaults; 23 with slab_chunk_max=16),
# however its chunks are spread.
for my $case ([ '-m 64 -I 2m', [ 524288, 700000, 1048576, 2000000 ], 39 ],
              [ '-m 64 -I 4m -o slab_chunk_max=16', [ 16384, 17000, 100000, 1000000 ], 23 ]) {
    my ($args, $sizes, $want) = @$case;
    for my $size (@$sizes) {
        my $srv = start_server(args => $args);
        my $s = $srv->new_sock;
        send_expect($s, "set chained 0 0 $size\r\n" . ('c' x $size) . "\r\n", "STORED\r\n",
                    "$args: a $size B value");
        my @classes = sort map { /^items:(\d+):number$/ ? $1 : () } keys %{ mem_stats($s, 'items') };
        is_deeply(\@classes, [$want], "  stats items lists it in class $want only");
        is(mem_stats($s, q{items})->{"items:$want:mem_requested"}, $size + 66,
           '  with mem_requested its whole size (value, key, header)');
    }
}

# --- where a chained item's chunks go: stats slabs and stats items exactly -------------------
# memcached's layout, from its documented sizes: an item header is 48 bytes
# (+8 for the CAS unique, +4 when the client flags are not 0), then the key
# and its NUL; slab classes start at 48 + 48 (-n) bytes and grow by -f
# (1.25), 8-aligned, up to slab_chunk_max (half the 1 MB page), which is the
# last class. A chained item keeps its header in the class that fits the
# header plus one 48-byte chunk header; its value ("\r\n" included) follows
# in chunks that each start with a 48-byte chunk header: full
# slab_chunk_max chunks, then one from the class that fits what remains.
# The item itself is counted in stats items under the largest class.
sub class_sizes {
    my ($max) = @_;
    my @sizes = (undef);
    my $size = 96;
    while ($size < $max / 1.25) {
        $size += 8 - $size % 8 if $size % 8;
        push @sizes, $size;
        $size = int($size * 1.25);
    }
    push @sizes, $max;
    return \@sizes;
}
sub class_of {
    my ($sizes, $bytes) = @_;
    for my $id (1 .. $#$sizes) {
        return $id if $sizes->[$id] >= $bytes;
    }
    die "no class holds $bytes bytes";
}
# Adds the chunks a chained item takes to $used (class => chunks).
sub chained_chunks {
    my ($sizes, $used, $nkey, $flags, $vlen) = @_;
    my $header = 48 + 8 + ($flags ? 4 : 0) + $nkey + 1;
    $used->{ class_of($sizes, $header + 48) }++;
    my $max = $sizes->[-1];
    for (my $left = $vlen + 2; $left > 0;) {
        my $take = $left + 48 > $max ? $max : $left + 48;
        $used->{ class_of($sizes, $take) }++;
        $left -= $take - 48;
    }
    return $header + $vlen + 2;     # mem_requested: header, key, value
}
is(scalar(@{ class_sizes(524288) }) - 1, 39, '39 classes with the defaults');
is_deeply([ @{ class_sizes(524288) }[1, 2, 32] ], [ 96, 120, 103496 ], '  of 96, 120, ..., 103496, ... bytes');
for my $case (['-m 64', [ [ 'c600', 0, 600 * 1024 ] ]],
              ['-m 64', [ [ 'k', 0, 524300 ], [ 'k2', 0, 524251 ], [ 'sixteen-byte-key', 5, 600000 ] ]],
              ['-m 64 -I 2m', [ [ 'k0', 0, 614400 ], [ 'k1', 0, 2097000 ] ]],
              ['-m 64 -I 4m', [ [ 'k0', 0, 2097152 ], [ 'k2', 9, 3000000 ] ]]) {
    my ($args, $items) = @$case;
    my $sizes = class_sizes(524288);
    my $srv = start_server(args => $args);
    my $s = $srv->new_sock;
    my (%want, $requested);
    for my $it (@$items) {
        my ($key, $flags, $len) = @$it;
        send_expect($s, "set $key $flags 0 $len\r\n" . ('v' x $len) . "\r\n", "STORED\r\n",
                    "$args: set a $len B value under a " . length($key) . " B key");
        $requested += chained_chunks($sizes, \%want, length($key), $flags, $len);
    }
    my $c = slab_usage($s);
    my %got = map { ($_ => $c->{$_}{used_chunks}) } grep { $c->{$_}{used_chunks} } keys %$c;
    is_deeply(\%got, \%want, '  stats slabs: used_chunks per class')
        or diag(explain(\%got));
    is($c->{$_}{chunk_size}, $sizes->[$_], "  class $_ chunks are $sizes->[$_] B") for sort { $a <=> $b } keys %want;
    my $pages = 0;
    for my $id (sort { $a <=> $b } keys %want) {
        my $per = int(1048576 / $sizes->[$id]);
        my $p = int(($want{$id} + $per - 1) / $per);
        is($c->{$id}{total_pages}, $p, "  class $id: $p pages for $want{$id} chunks");
        $pages += $p;
    }
    my $st = mem_stats($s, 'slabs');
    is($st->{active_slabs}, scalar(keys %want), '  active_slabs: the classes with chunks');
    is($st->{total_malloced}, $pages * 1048576, '  total_malloced: their pages');
    is($c->{39}{cmd_set}, scalar(@$items), '  the sets are counted in the largest class');
    my $istats = mem_stats($s, 'items');
    my @classes = sort map { /^items:(\d+):number$/ ? $1 : () } keys %$istats;
    is_deeply(\@classes, [39], '  stats items lists class 39 only');
    is($istats->{'items:39:number'}, scalar(@$items), '  with every item');
    is($istats->{'items:39:mem_requested'}, $requested, '  and their whole size');
    # Deleting gives every chunk back.
    send_expect($s, "delete $_->[0]\r\n", "DELETED\r\n", "  delete $_->[0]") for @$items;
    $c = slab_usage($s);
    is(scalar(grep { $c->{$_}{used_chunks} } keys %$c), 0, '  no chunk is used after the deletes');
}

# --- an appended or prepended chained value: stats slabs and stats items exactly -------------
# memcached builds the joined value part by part (for an append, the old
# value without its "\r\n", then the new bytes; a prepend the other way
# round): each part starts in a chunk of its own, chunks sized to what is
# left of that part, and a chunk that fills up is followed at once by the
# next one, so every part ends with an empty chunk (a bare 48-byte chunk
# header, class 1). A value that an append makes larger than slab_chunk_max
# is laid out the same way.
sub joined_chunks {
    my ($sizes, $used, $nkey, $flags, @parts) = @_;
    my $header = 48 + 8 + ($flags ? 4 : 0) + $nkey + 1;
    $used->{ class_of($sizes, $header + 48) }++;
    my $max = $sizes->[-1];
    my $total = 0;
    for my $len (@parts) {
        next unless $len;
        for (my $left = $len; $left > 0;) {
            my $take = $left + 48 > $max ? $max : $left + 48;
            $used->{ class_of($sizes, $take) }++;
            $left -= $take - 48;
        }
        $used->{ class_of($sizes, 48) }++;
        $total += $len;
    }
    return $header + $total;     # mem_requested
}
for my $case (
    # [ args, [ key, flags, first length ], [ command, length ]... ]
    [ '-m 64', [ 'a600', 0, 600 * 1024 ], [ 'append', 10 ] ],
    [ '-m 64', [ 'p600', 3, 600 * 1024 ], [ 'prepend', 100 * 1024 ] ],
    [ '-m 64', [ 'small', 0, 100 ], [ 'append', 600 * 1024 ] ],
    [ '-m 64', [ 'smallp', 0, 100 ], [ 'prepend noreply', 600 * 1024 ] ],
    [ '-m 64 -I 2m', [ 'k', 0, 1_000_000 ], [ 'append', 524240 - 2 ], [ 'ms MA', 5 ], [ 'ms MP', 400 * 1024 ] ],
    ) {
    my ($args, $first, @ops) = @$case;
    my ($key, $flags, $len) = @$first;
    my $sizes = class_sizes(524288);
    my $srv = start_server(args => $args);
    my $s = $srv->new_sock;
    my $want_value = pattern($len, 1);
    store_big($s, 'set', $key, $want_value, "STORED\r\n", "$args: set a $len B value", $flags);
    my %want;
    my $requested;
    my $n = 1;
    for my $op (@ops) {
        my ($cmd, $add) = @$op;
        my $v = pattern($add, ++$n);
        my $prepend = $cmd =~ /prepend|MP/;
        my @parts = $prepend ? ($add, length($want_value) + 2) : (length($want_value), $add + 2);
        %want = ();
        $requested = joined_chunks($sizes, \%want, length($key), $flags, @parts);
        $want_value = $prepend ? $v . $want_value : $want_value . $v;
        if ($cmd =~ /^ms (M\w)/) {
            send_expect($s, "ms $key $add $1\r\n$v\r\n", "HD\r\n", "  ms $1 of $add B", 10);
        } elsif ($cmd =~ /(\w+) noreply/) {
            send_expect($s, "$1 $key 0 0 $add noreply\r\n$v\r\nmn\r\n", "MN\r\n", "  $1 of $add B, noreply", 10);
        } else {
            store_big($s, $cmd, $key, $v, "STORED\r\n", "  $cmd of $add B");
        }
    }
    big_get_is($s, $key, $want_value, '  the joined value reads back byte-exact', $flags);
    my $c = slab_usage($s);
    my %got = map { ($_ => $c->{$_}{used_chunks}) } grep { $c->{$_}{used_chunks} } keys %$c;
    is_deeply(\%got, \%want, '  stats slabs: used_chunks per class, empty chunks included')
        or diag(explain(\%got));
    my $istats = mem_stats($s, 'items');
    is($istats->{'items:39:number'}, 1, '  stats items: one item, in class 39');
    is($istats->{'items:39:mem_requested'}, $requested, '  with mem_requested its whole size');
    send_expect($s, "delete $key\r\n", "DELETED\r\n", "  delete $key");
    $c = slab_usage($s);
    is(scalar(grep { $c->{$_}{used_chunks} } keys %$c), 0, '  no chunk is used after the delete');
}

# A class whose items all went (evicted, then deleted) is not listed in
# stats items any more, as memcached lists only classes holding items.
{
    my $srv = start_server(args => '-m 8');
    my $s = $srv->new_sock;
    my $v = 'e' x 700000;
    send_expect($s, "set e$_ 0 0 700000\r\n$v\r\n", "STORED\r\n", "-m 8: chained value e$_ stored")
        for 1 .. 16;
    my $st = mem_stats($s);
    cmp_ok($st->{evictions}, '>', 0, "  the oldest were evicted ($st->{evictions})");
    send_bytes($s, "delete e$_ noreply\r\n") for 1 .. 16;
    send_expect($s, "mn\r\n", "MN\r\n", '  every key deleted');
    my @listed = grep { /^items:/ } keys %{ mem_stats($s, 'items') };
    is_deeply(\@listed, [], '  stats items lists no class');
}

# With -M and memory full of chained values, a set is refused while its
# value is read. memcached counts a text one in cmd_set (global and the
# largest class's), a binary one in neither.
{
    my $srv = start_server(args => '-m 8 -M');
    my $s = $srv->new_sock;
    my $v = 'r' x 600000;
    my ($stored, $refused) = (0, 0);
    for my $i (1 .. 20) {
        send_bytes($s, "set r$i 0 0 600000\r\n$v\r\n");
        my $l = read_line($s, 10) // '';
        if ($l eq "STORED\r\n") { $stored++ }
        elsif ($l eq "SERVER_ERROR Out of memory during read\r\n") { $refused++ }
        else { diag('unexpected: ' . mc_escape($l)) }
    }
    cmp_ok($refused, '>', 0, "-m 8 -M: $stored chained sets stored, then $refused refused");
    is($stored + $refused, 20, '  every set answered STORED or Out of memory during read');
    my $st = mem_stats($s);
    is($st->{cmd_set}, 20, '  text: the refused sets are counted in cmd_set');
    my $c39 = mem_stats($s, 'slabs')->{'39:cmd_set'};
    is($c39, 20, '  and in the largest class');
    my $b = $srv->new_sock;
    my $r = bin_call($b, 'set', key => 'rb', ext => pack('N N', 0, 0), val => $v, opaque => 9);
    ok($r && $r->{status} == $ST{no_memory} && $r->{val} eq 'Out of memory during read',
       '  binary set of a chained value: no_memory, Out of memory during read');
    $st = mem_stats($s);
    is($st->{cmd_set}, 20, '  binary: the refused set is not counted in cmd_set');
    is(mem_stats($s, 'slabs')->{'39:cmd_set'}, $c39, '  nor in the largest class');
    is($st->{store_no_memory}, 0, '  nor in store_no_memory');
}

done_testing;
