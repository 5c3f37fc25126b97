#!/usr/bin/perl
# The storage engine's probes fire for the events they name, with the
# arguments PROBES.md promises, checked against what the workload did and
# what stats say:
#   item__evict        key (NUL-terminated), size, slabclass, idle_seconds,
#                      fetched 1 exactly for the items that were read
#   item__expire       "expired" (crawler, and a get of a dead item),
#                      "flushed" (a get after flush_all)
#   flush__all         the delay
#   crawler__start/done  per class, with exact checked/reclaimed counts
#   slabs__reassign__start/done  src, dst, items_moved of a manual move
#   assoc__expand__start/done    old/new power, items moved
#   slabs__slabclass__allocate   the first item of a class, once
#   slabs__allocate__failed, slabs__slabclass__allocate__failed
#                      under -M with memory full, one per refused store
#   item__update       a second get in COLD: once, on the LRU maintainer
# Needs root and bpftrace; skipped otherwise (failed under
# MEMCACHED_REQUIRE_PROBES).  Parts that move the clock need the debug
# build and are skipped on others.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

require_probes_or_skip('all');

my $U = 'usdt:{BIN}:memcached';

# Lines "tag|field|field..." from trap_probe, split; other lines returned apart.
sub trace {
    my ($srv, $program, $client, %opt) = @_;
    my @lines = trap_probe($srv, $program, $client, %opt);
    my @rows = map { [ split /\|/, $_, -1 ] } grep { /^[A-Za-z_]+\|/ } @lines;
    my @other = grep { !/^[A-Za-z_]+\|/ } @lines;
    return (\@rows, \@other);
}
sub rows_tagged { my ($rows, $tag) = @_; return grep { $_->[0] eq $tag } @$rows }

sub fill {
    my ($s, $keys, $vf) = @_;
    my $buf = '';
    for my $k (@$keys) {
        my $v = $vf->($k);
        $buf .= "set $k 0 0 " . length($v) . " noreply\r\n$v\r\n";
        if (length $buf > 256 * 1024) { send_bytes($s, $buf); $buf = '' }
    }
    send_bytes($s, $buf . "version\r\n");
    (read_line($s, 30) // '') =~ /^VERSION/ or die "no VERSION after fill\n";
}

# The class holding items of a given value size: store one, ask stats items.
sub class_of {
    my ($s, $size) = @_;
    send_expect($s, "set probe-class-$size 0 0 $size\r\n" . ('c' x $size) . "\r\n", "STORED\r\n",
                "set a $size B item to learn its class");
    my $it = mem_stats($s, 'items');
    my @ids = sort { $a <=> $b } map { /^items:(\d+):number$/ ? $1 : () } keys %$it;
    send_expect($s, "delete probe-class-$size\r\n", "DELETED\r\n", 'and delete it');
    return \@ids;
}

# ============================================================ item__evict
{
    my $srv = start_server(args => '-m 4');
    my $s = $srv->new_sock;
    my $debug = $srv->is_debug_build;
    my ($cls) = @{ class_of($s, 1000) };
    my @a = map { sprintf 'ev-a:%03d', $_ } 0 .. 99;
    fill($s, \@a, sub { 'a' x 1000 });
    # Read the even ones: those must be reported fetched=1.
    my $read_ok = 0;
    for my $i (grep { $_ % 2 == 0 } 0 .. 99) {
        my $want = "VALUE $a[$i] 0 1000\r\n" . ('a' x 1000) . "\r\nEND\r\n";
        send_bytes($s, "get $a[$i]\r\n");
        $read_ok++ if read_bytes($s, length $want) eq $want;
    }
    is($read_ok, 50, 'read the 50 even-numbered items');
    # On the debug build, make them 100 s idle.
    send_expect($s, "debugtime 100\r\n", "OK\r\n", 'debugtime 100') if $debug;
    my $ev0 = mem_stats($s)->{evictions};
    my $t0 = time;
    my ($rows, $other) = trace($srv, <<"BT", sub {
$U:item__evict /strncmp(str(arg0), "ev-a:", 5) == 0/ {
    printf("E|%s|%d|%d|%d|%d|%d|%s\\n", str(arg0), arg1, arg2, arg3, arg4, arg5, str(arg0, arg1));
}
$U:item__evict { \@evicts = count(); }
BT
        # 20 MB of new items through a 4 MB cache.
        my @b = map { sprintf 'ev-b:%05d', $_ } 1 .. 20000;
        fill($s, \@b, sub { 'b' x 1000 });
    });
    my $elapsed = time - $t0;
    my $ev = mem_stats($s)->{evictions} - $ev0;
    my ($n_all) = map { /^\@evicts: (\d+)$/ ? $1 : () } @$other;
    is($n_all, $ev, "item__evict fired once per eviction ($ev)");
    my @e = rows_tagged($rows, 'E');
    my %seen;
    my ($bad_key, $bad_len, $bad_size, $bad_cls, $bad_idle, $bad_fetched) = (0) x 6;
    for my $r (@e) {
        my (undef, $key, $klen, $size, $c, $idle, $fetched, $key2) = @$r;
        $seen{$key}++;
        $bad_key++ unless $key =~ /^ev-a:(\d{3})$/ && $key eq $key2;
        my $i = $1 // -1;
        $bad_len++ unless $klen == length $key;
        $bad_size++ unless $size == 1000;
        $bad_cls++ unless $c == $cls;
        $bad_idle++ unless $debug ? ($idle >= 100 && $idle <= 100 + $elapsed + 2) : ($idle >= 0 && $idle <= $elapsed + 2);
        $bad_fetched++ unless $fetched == ($i % 2 == 0 ? 1 : 0);
    }
    is($bad_key, 0, 'key: exactly the key (str(arg0) ends at the key, same as str(arg0, arg1))');
    is($bad_len, 0, 'keylen: the key\'s length');
    is($bad_size, 0, 'size: the value length, 1000');
    is($bad_cls, 0, "slabclass: $cls, the class of 1000 B items");
    is($bad_idle, 0, $debug ? 'idle_seconds: 100 (debugtime) plus the run' : 'idle_seconds: within the run');
    is($bad_fetched, 0, 'fetched: 1 for the 50 items read, 0 for the 50 never read');
    is(scalar(grep { $_ > 1 } values %seen), 0, 'no item evicted twice');
    my $unfetched = grep { /(\d+)$/ && $1 % 2 } keys %seen;
    is($unfetched, 50, 'all 50 never-read items were evicted');
    if ($debug) {
        is(scalar keys %seen, 100, 'and (100 s idle) all 50 read ones too');
    }
    my $left = 0;
    for my $k (@a) {
        send_bytes($s, "get $k\r\n");
        my $l = read_line($s);
        if ($l ne "END\r\n") { $left++; read_bytes($s, 1000 + 7) }
    }
    is($left, 100 - keys %seen, 'the ev-a items not reported evicted are exactly those still there');
}

# ============================================================ item__expire, flush__all
{
    # No LRU maintainer: like memcached's, it would reclaim the dead items
    # at the LRU tails before the crawler gets to them.  Without it an
    # allocation reuses a dead item at its class's tail, so the live items
    # go in first.
    my $srv = start_server(args => '-m 64 -o no_lru_maintainer');
    my $s = $srv->new_sock;
    my ($small) = @{ class_of($s, 10) };
    my ($big) = @{ class_of($s, 2000) };

    # Live items and dead-on-arrival ones (exptime -1), in two classes.
    fill($s, [ map { "x-live:$_" } 1 .. 20 ], sub { 'l' x 10 });
    fill($s, [ map { "x-biglive:$_" } 1 .. 5 ], sub { 'L' x 2000 });
    send_expect($s, join('', map { "set x-dead:$_ 0 -1 10\r\n" . ('d' x 10) . "\r\n" } 1 .. 30),
                "STORED\r\n" x 30, '30 small items with exptime -1');
    send_expect($s, join('', map { "set x-bigdead:$_ 0 -1 2000\r\n" . ('D' x 2000) . "\r\n" } 1 .. 15),
                "STORED\r\n" x 15, '15 big items with exptime -1');
    my $st0 = mem_stats($s);
    is($st0->{curr_items}, 70, '70 items linked, 45 of them already dead');

    my ($rows) = trace($srv, <<"BT", sub {
$U:item__expire { printf("X|%s|%d|%d|%d|%s|%s\\n", str(arg0), arg1, arg2, arg3, str(arg4), str(arg0, arg1)); }
$U:crawler__start { printf("S|%d\\n", arg0); }
$U:crawler__done { printf("D|%d|%d|%d\\n", arg0, arg1, arg2); }
BT
        send_expect($s, "lru_crawler crawl all\r\n", "OK\r\n", 'lru_crawler crawl all');
        poll_stats($s, undef, sub { $_[0]{crawler_reclaimed} >= 45 && !$_[0]{lru_crawler_running} });
    });
    my @x = rows_tagged($rows, 'X');
    is(scalar @x, 45, 'item__expire fired 45 times during the crawl');
    my %want = (map({ ("x-dead:$_" => [10, $small]) } 1 .. 30), map({ ("x-bigdead:$_" => [2000, $big]) } 1 .. 15));
    my $bad = 0;
    for my $r (@x) {
        my (undef, $key, $klen, $size, $c, $reason, $key2) = @$r;
        my $w = delete $want{$key};
        $bad++, diag("unexpected item__expire: @$r") unless $w && $klen == length($key) && $key eq $key2
            && $size == $w->[0] && $c == $w->[1] && $reason eq 'expired';
    }
    is($bad, 0, 'each with its key, keylen, value size, class and reason "expired"');
    is(scalar keys %want, 0, 'every dead item reported once');

    my @starts = map { $_->[1] } rows_tagged($rows, 'S');
    my %done = map { $_->[1] => [ @{$_}[2, 3] ] } rows_tagged($rows, 'D');
    is(scalar @starts, scalar keys %done, 'crawler__start and crawler__done pair up, one class each');
    is_deeply($done{$small}, [50, 30], "crawler__done($small): checked 50, reclaimed 30");
    is_deeply($done{$big}, [20, 15], "crawler__done($big): checked 20, reclaimed 15");
    is_deeply([ grep { $_ != $small && $_ != $big && ($done{$_}[0] || $done{$_}[1]) } keys %done ], [],
              'every other class: checked 0, reclaimed 0');
    my $st = mem_stats($s);
    is($st->{crawler_reclaimed}, 45, 'crawler_reclaimed agrees (45)');
    is($st->{crawler_items_checked}, 70, 'crawler_items_checked agrees (70)');

    # Lazy expiry and flush seen by a get.
    send_expect($s, "set lazy 0 -1 3\r\nzzz\r\n", "STORED\r\n", 'one more dead item');
    ($rows) = trace($srv, <<"BT", sub {
$U:item__expire { printf("X|%s|%d|%d|%d|%s\\n", str(arg0), arg1, arg2, arg3, str(arg4)); }
$U:flush__all { printf("F|%d\\n", arg0); }
BT
        mem_get_is($s, 'lazy', undef, 'get of the dead item misses');
        send_expect($s, "flush_all\r\n", "OK\r\n", 'flush_all');
        send_expect($s, "get x-live:1 x-live:2 x-biglive:1\r\n", "END\r\n", 'gets after the flush miss');
        send_expect($s, "flush_all 30\r\n", "OK\r\n", 'flush_all 30');
        send_expect($s, "flush_all noreply\r\n", "", 'flush_all noreply');
        send_expect($s, "version\r\n", "VERSION ", 'sync');
        read_line($s);
    });
    my @lazy = rows_tagged($rows, 'X');
    my %by = map { $_->[1] => $_ } @lazy;
    is_deeply($by{lazy}, ['X', 'lazy', 4, 3, $small, 'expired'], 'get of a dead item: item__expire "expired"');
    # Each flushed item is reported once as "flushed": when the get finds
    # it, or (memcached's way) when flush_all unlinks it.
    for my $k (qw(x-live:1 x-live:2 x-biglive:1)) {
        my @r = grep { $_->[1] eq $k } @lazy;
        is(scalar @r, 1, "one item__expire for $k");
        is($r[0][5] // '', 'flushed', '  reason "flushed"');
        is($r[0][4] // 0, $k =~ /big/ ? $big : $small, '  with its class');
        is($r[0][3] // 0, $k =~ /big/ ? 2000 : 10, '  and its value size');
    }
    is_deeply([ map { $_->[1] } rows_tagged($rows, 'F') ], [0, 30, 0], 'flush__all: delays 0, 30, 0');
}

# ============================================================ slabs__reassign__start/done
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    fill($s, [ map { "k$_" } 1 .. 25000 ], sub { sprintf '%010d', $_[0] =~ /(\d+)/ });
    my $sl = mem_stats($s, 'slabs');
    is($sl->{'1:total_pages'}, 3, '25000 small items in 3 pages of class 1');
    my $per = $sl->{'1:chunks_per_page'};
    my $st0 = mem_stats($s);
    my ($rows) = trace($srv, <<"BT", sub {
$U:slabs__reassign__start { printf("S|%d|%d\\n", arg0, arg1); }
$U:slabs__reassign__done { printf("D|%d|%d|%d\\n", arg0, arg1, arg2); }
BT
        send_expect($s, "slabs reassign 1 5\r\n", "OK\r\n", 'slabs reassign 1 5');
        poll_stats($s, undef, sub { $_[0]{slabs_moved} >= 1 && !$_[0]{slab_reassign_running} });
    });
    my $st = mem_stats($s);
    is_deeply([ map { [ @{$_}[1, 2] ] } rows_tagged($rows, 'S') ], [[1, 5]], 'slabs__reassign__start(1, 5) once');
    my @d = rows_tagged($rows, 'D');
    is(scalar @d, 1, 'slabs__reassign__done once');
    is_deeply([ @{ $d[0] // [] }[1, 2] ], [1, 5], '  for 1 -> 5');
    is($d[0][3], $per, "  items_moved: the $per items of the full page");
    my $items = mem_stats($s, 'items');
    is($d[0][3], ($st->{slab_reassign_rescues} - $st0->{slab_reassign_rescues})
                 + ($items->{'items:1:evicted'} // 0),
       '  = items rescued + items evicted by the move (stats)');
}

# ============================================================ assoc__expand__start/done
{
    # hashpower 13 is the smallest that memcached accepts with 4 worker threads.
    my $srv = start_server(args => '-m 64 -o hashpower=13');
    my $s = $srv->new_sock;
    my $power = mem_stats($s)->{hash_power_level};
    is($power, 13, 'hash_power_level 13');
    my $grow_at = 3 * (1 << $power) / 2;
    fill($s, [ map { "h$_" } 1 .. $grow_at ], sub { 'v' });
    is(mem_stats($s)->{hash_power_level}, $power, "$grow_at items (1.5 per bucket): no growth yet");
    my ($rows) = trace($srv, <<"BT", sub {
$U:assoc__expand__start { printf("S|%d|%d\\n", arg0, arg1); }
$U:assoc__expand__done { printf("D|%d|%d\\n", arg0, arg1); }
BT
        send_expect($s, "set h-last 0 0 1\r\nv\r\n", "STORED\r\n", 'one more item');
        poll_stats($s, undef, sub { $_[0]{hash_power_level} > $power && !$_[0]{hash_is_expanding} });
    });
    my $st = mem_stats($s);
    is($st->{hash_power_level}, $power + 1, 'the table doubled');
    is_deeply([ map { [ @{$_}[1, 2] ] } rows_tagged($rows, 'S') ], [[$power, $power + 1]],
              "assoc__expand__start($power, " . ($power + 1) . ') once');
    # A probe argument encoded as a RIP-relative memory operand (a static
    # variable, "-4@name(%rip)") reads as garbage in bpftrace 0.17.
    my ($done_note) = `readelf -n '${\ $srv->binary}' 2>/dev/null` =~ /Name: assoc__expand__done\s*\n.*\n\s*Arguments: ([^\n]*)/;
    TODO: {
        local $TODO = "assoc__expand__done's power is passed from a static ($done_note); pass a local (assoc.c expand)"
            if ($done_note // '') =~ /\(%rip\)/;
        is_deeply([ map { [ @{$_}[1, 2] ] } rows_tagged($rows, 'D') ], [[$power + 1, $grow_at + 1]],
                  "assoc__expand__done(" . ($power + 1) . ', ' . ($grow_at + 1) . '): every item moved');
    }
}

# ============================================================ slabs__slabclass__allocate
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    my ($rows) = trace($srv, <<"BT", sub {
$U:slabs__slabclass__allocate { printf("P|%d\\n", arg0); }
$U:slabs__allocate { printf("A|%d|%d\\n", arg0, arg1); }
BT
        send_expect($s, "set s1 0 0 10\r\n" . ('1' x 10) . "\r\n", "STORED\r\n", 'first small item');
        send_expect($s, "set s2 0 0 10\r\n" . ('2' x 10) . "\r\n", "STORED\r\n", 'second small item');
        send_expect($s, "set b1 0 0 2000\r\n" . ('3' x 2000) . "\r\n", "STORED\r\n", 'first 2000 B item');
        send_expect($s, "set b2 0 0 2000\r\n" . ('4' x 2000) . "\r\n", "STORED\r\n", 'second 2000 B item');
    });
    my $it = mem_stats($s, 'items');
    my @cls = sort { $a <=> $b } map { /^items:(\d+):number$/ ? $1 : () } keys %$it;
    is(scalar @cls, 2, 'two classes in use');
    is_deeply([ map { $_->[1] } rows_tagged($rows, 'P') ], \@cls,
              "slabs__slabclass__allocate once per class, on its first item (@cls)");
    is_deeply([ map { $_->[1] } rows_tagged($rows, 'A') ], [ $cls[0], $cls[0], $cls[1], $cls[1] ],
              'slabs__allocate once per item, with its class');
    my $sl = mem_stats($s, 'slabs');
    is_deeply([ map { $_->[2] } rows_tagged($rows, 'A') ],
              [ ($sl->{"$cls[0]:chunk_size"}) x 2, ($sl->{"$cls[1]:chunk_size"}) x 2 ],
              'slabs__allocate size: the chunk size stats slabs reports');
}

# ============================================================ allocation failures under -M
{
    my $srv = start_server(args => '-m 2 -M');
    my $s = $srv->new_sock;
    my $v = 'm' x 1000;
    my ($stored, $i) = (0, 0);
    while ($i < 100_000) {      # -m 2 holds far fewer: a bound, not a hang
        $i++;
        send_bytes($s, "set m$i 0 0 1000\r\n$v\r\n");
        my $r = read_line($s) // '';
        last unless $r eq "STORED\r\n";
        $stored++;
    }
    ok($stored > 100, "$stored items stored before memory ran out");
    my ($cls) = map { /^items:(\d+):number$/ ? $1 : () } keys %{ mem_stats($s, 'items') };
    my $oom0 = mem_stats($s, 'items')->{"items:$cls:outofmemory"};
    my @replies;
    my ($rows) = trace($srv, <<"BT", sub {
$U:slabs__allocate__failed { printf("F|%d\\n", arg0); }
$U:slabs__slabclass__allocate__failed { printf("P|%d\\n", arg0); }
$U:item__evict { printf("E|%s\\n", str(arg0)); }
BT
        for my $j (1 .. 7) {
            send_bytes($s, "set full$j 0 0 1000\r\n$v\r\n");
            push @replies, read_line($s);
        }
    });
    is_deeply(\@replies, [ ("SERVER_ERROR out of memory storing object\r\n") x 7 ],
              'every set gets SERVER_ERROR out of memory storing object');
    is_deeply([ map { $_->[1] } rows_tagged($rows, 'F') ], [ ($cls) x 7 ],
              "slabs__allocate__failed($cls) once per refused set");
    is_deeply([ map { $_->[1] } rows_tagged($rows, 'P') ], [ ($cls) x 7 ],
              "slabs__slabclass__allocate__failed($cls): no page to grow the class, each time");
    is(scalar rows_tagged($rows, 'E'), 0, 'no item__evict under -M');
    is(mem_stats($s, 'items')->{"items:$cls:outofmemory"} - $oom0, 7, 'items outofmemory agrees (7)');
}

# ============================================================ item__update
# With the segmented LRU, the second get of an item in COLD does not move
# it: the worker queues it and the LRU maintainer moves it to WARM, so
# item__update fires once, on the maintainer's thread, not the worker's.
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    send_expect($s, "set upd 0 0 5\r\nhello\r\n", "STORED\r\n", 'set upd');
    my $cold = sub { grep { /^items:\d+:number_cold$/ && $_[0]{$_} >= 1 } keys %{ $_[0] } };
    ok($cold->(poll_stats($s, 'items', $cold)), 'the maintainer moved upd to COLD');
    my ($rows) = trace($srv, <<"BT", sub {
$U:command__get /arg2 == 3 && strncmp(str(arg1), "upd", 3) == 0/ { printf("G|%d\\n", tid); }
$U:item__update /arg1 == 3 && strncmp(str(arg0), "upd", 3) == 0/ { printf("U|%d|%d|%d\\n", tid, arg1, arg2); }
BT
        mem_get_is($s, 'upd', 'hello', 'first get of upd');
        mem_get_is($s, 'upd', 'hello', 'second get of upd');
    }, wait_for => sub { grep { /^U\|/ } @_ });
    my @g = rows_tagged($rows, 'G');
    my @u = rows_tagged($rows, 'U');
    is(scalar @g, 2, 'command__get fired for both gets');
    is(scalar @u, 1, 'item__update fired once');
    is_deeply([ @{ $u[0] // [] }[2, 3] ], [3, 5], 'item__update: keylen 3, size 5');
    isnt($u[0][1] // $g[1][1], $g[1][1],
         'item__update fired on the LRU maintainer, not the worker that served the get');
    is(mem_stats($s)->{moves_to_warm}, 1, 'moves_to_warm 1');
}

done_testing;
