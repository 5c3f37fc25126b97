#!/usr/bin/perl
# The LRU under memory pressure and expiry, as memcached behaves: dead
# items give their chunk back before new memory is taken, the LRU
# maintainer reclaims them on its own, short-TTL items live in TEMP,
# eviction counts are exact (and zeroed by stats reset), and a second hit
# in COLD moves the item to WARM from the maintainer, after the request.
#
# Values of 65000 bytes land in class 30 (13 a page), of 66560 in class 31
# (12 a page) with the default -f 1.25 and -n 48, so a page count is a
# count of items.  The clock moves with the debug build's debugtime.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;
use Time::HiRes qw(sleep time);

my @servers;    # kept to the end so they are stopped together
sub fresh {
    my ($args) = @_;
    my $srv = start_server(args => $args);
    push @servers, $srv;
    return ($srv, $srv->new_sock);
}

# Stores $n items "$prefix$i" with $exptime and $size-byte values.
sub store_many {
    my ($s, $prefix, $n, $exptime, $size) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $v = 'v' x $size;
    send_expect($s, join('', map { "set $prefix$_ 0 $exptime $size\r\n$v\r\n" } 1 .. $n),
                "STORED\r\n" x $n, "$n sets of $prefix* (exptime $exptime, $size B)");
}

# Names of the "stats items" lines of class $id, in order.
sub item_stat_names {
    my ($s, $id) = @_;
    send_bytes($s, "stats items\r\n");
    my @names;
    while (defined(my $l = read_line($s))) {
        last if $l eq "END\r\n";
        push @names, $1 if $l =~ /^STAT items:$id:(\S+) /;
    }
    return \@names;
}

my ($probe) = fresh('-m 8');
if (!$probe->is_debug_build) {
    plan skip_all => $probe->binary . ' has no debugtime';
}

# --- 1. expired items are reused before new memory is taken ------------------------
# Without the maintainer (memcached's compat mode), every allocation first
# looks at COLD's tail for a dead item.
{
    my ($srv, $s) = fresh('-o no_lru_maintainer,no_lru_crawler');
    store_many($s, 'old', 10, 2, 65000);
    is(mem_stats($s, 'slabs')->{total_malloced}, 1048576, 'ten 65000 B values take one page');
    debugtime($s, 4);
    store_many($s, 'new', 10, 0, 65000);
    my $slabs = mem_stats($s, 'slabs');
    is($slabs->{total_malloced}, 1048576, 'ten more after the first ten expired: still one page');
    is($slabs->{'30:total_pages'}, 1, 'class 30 still has one page');
    my $st = mem_stats($s);
    is($st->{reclaimed}, 10, 'reclaimed counts the ten expired items reused');
    is($st->{expired_unfetched}, 10, 'none of them was ever fetched: expired_unfetched 10');
    is($st->{curr_items}, 10, 'curr_items: only the new ten');
    my $items = mem_stats($s, 'items');
    is($items->{'items:30:reclaimed'}, 10, 'items:30:reclaimed 10');
    is($items->{'items:30:number'}, 10, 'items:30:number 10');

    # Storing over an expired value of class 31 reuses its chunk.
    store_many($s, 'big', 1, 1, 66560);
    debugtime($s, 2);
    store_many($s, 'big', 1, 0, 66560);
    $items = mem_stats($s, 'items');
    is($items->{'items:31:reclaimed'}, 1, 'a store over an expired class-31 value: items:31:reclaimed 1');
    is($items->{'items:31:number'}, 1, 'and the class holds the one new value');
    is(mem_stats($s, 'slabs')->{total_malloced}, 2 * 1048576, 'class 31 took one page');
}

# --- 2. the LRU maintainer reclaims expired items by itself --------------------------
{
    my ($srv, $s) = fresh('-o lru_maintainer,lru_crawler');
    store_many($s, 'ttl', 10, 1, 65000);
    debugtime($s, 2);
    my $st = poll_stats($s, undef, sub { $_[0]{reclaimed} >= 10 }, 8);
    is($st->{reclaimed}, 10, 'with no traffic the maintainer reclaims all ten expired items');
    is($st->{curr_items}, 0, 'curr_items 0');
    is($st->{get_expired}, 0, 'no client fetched them');
    my $items = mem_stats($s, 'items');
    ok(!exists $items->{'items:30:number'}, 'an emptied class leaves stats items');
    store_many($s, 'next', 10, 0, 65000);
    is(mem_stats($s, 'slabs')->{total_malloced}, 1048576, 'the next ten reuse the reclaimed page');
}

# --- 3. TEMP LRU ---------------------------------------------------------------------
{
    my ($srv, $s) = fresh('-m 3 -o lru_maintainer,lru_crawler,temporary_ttl=60');
    store_many($s, 'tmp', 1, 60, 66560);    # at temporary_ttl: TEMP
    store_many($s, 'long', 100, 0, 66560);
    my $items = mem_stats($s, 'items');
    is($items->{'items:31:number_temp'}, 1, 'a TTL of temporary_ttl lives in TEMP through the churn');
    is($items->{'items:31:evicted'}, 101 - 36, 'evicted: every long-TTL item past the 36 chunks');
    mem_get_is($s, 'tmp1', 'v' x 66560, 'the TEMP item was never evicted');
    is($items->{'items:31:hits_to_temp'}, 0, 'hits_to_temp 0 before the read');
    is(mem_stats($s, 'items')->{'items:31:hits_to_temp'}, 1, 'hits_to_temp 1 after it');
    store_many($s, 'ttl61', 1, 61, 66560);
    is(mem_stats($s, 'items')->{'items:31:number_temp'}, 1, 'a TTL over temporary_ttl does not enter TEMP');

    my $names = item_stat_names($s, 31);
    is_deeply([ @$names[0 .. 5] ],
              [qw(number number_hot number_warm number_cold number_temp age_hot)],
              'with temporary_ttl, stats items lists number_temp after number_cold');
}
{
    my ($srv, $s) = fresh('-o no_lru_maintainer');
    store_many($s, 'a', 1, 0, 10);
    is_deeply(item_stat_names($s, 1),
              [qw(number age mem_requested evicted evicted_nonzero evicted_time outofmemory
                  tailrepairs reclaimed expired_unfetched evicted_unfetched crawler_reclaimed
                  crawler_items_checked lrutail_reflocked)],
              'without the segmented LRU, stats items has no segment lines');
    my ($srv2, $s2) = fresh('');
    store_many($s2, 'a', 1, 0, 10);
    my $n = item_stat_names($s2, 1);
    ok(!grep({ $_ eq 'number_temp' } @$n), 'without temporary_ttl, no number_temp line');
    ok(grep({ $_ eq 'direct_reclaims' } @$n), 'the segmented LRU lists direct_reclaims');
}

# --- 4. exact eviction counts; stats reset zeroes them ------------------------------
{
    my ($srv, $s) = fresh('-m 3');
    store_many($s, 'a', 40, 0, 66560);
    my $items = mem_stats($s, 'items');
    is($items->{'items:31:evicted'}, 4, '40 values into 36 chunks: 4 evicted');
    is($items->{'items:31:evicted_unfetched'}, 4, 'none fetched: evicted_unfetched 4');
    is(mem_stats($s)->{evictions}, 4, 'evictions 4');
    mem_get_is($s, 'a40', 'v' x 66560, 'a read (hits_to_*) before the reset');
    send_expect($s, "stats reset\r\n", "RESET\r\n", 'stats reset');
    $items = mem_stats($s, 'items');
    # (moves_to_cold is zeroed too, but the maintainer may move items again
    # before the stats are read.)
    for my $f (qw(evicted evicted_unfetched evicted_nonzero reclaimed
                  direct_reclaims hits_to_hot hits_to_warm hits_to_cold)) {
        is($items->{"items:31:$f"}, 0, "after stats reset: items:31:$f 0");
    }
    is($items->{'items:31:number'}, 36, 'stats reset keeps the item count');
    my $st = mem_stats($s);
    is($st->{$_}, 0, "after stats reset: $_ 0")
        for qw(evictions evicted_unfetched total_items direct_reclaims);
    is($st->{curr_items}, 36, 'stats reset keeps curr_items');
    store_many($s, 'b', 40, 0, 66560);
    is(mem_stats($s, 'items')->{'items:31:evicted'}, 40, '40 more: exactly 40 evicted');
    is(mem_stats($s)->{total_items}, 40, 'total_items counts from the reset');
}

# --- 5. a second hit in COLD: the maintainer moves the item to WARM ------------------
# As memcached 1.6: the worker only marks the item active and queues it;
# the LRU maintainer moves it to WARM and stamps its access time on its
# next pass (within about a second). An item that is deleted, or flushed,
# while it waits there is let go, and its chunk is freed.
sub la_of { return me_field($_[0], $_[1], 'la') }
# The la= of $key in "lru_crawler metadump 1" (retried while a crawl is
# running), or -1.
sub metadump_la {
    my ($s, $key) = @_;
    my $deadline = time + 10;
    while (1) {
        send_bytes($s, "lru_crawler metadump 1\r\n");
        my $text = '';
        while (defined(my $l = read_line($s))) {
            $text .= $l;
            last if $text =~ /(?:^|\n)END\r\n\z/ || $l =~ /^[A-Z_]+ .*\r\n\z/ && $l !~ /^OK/;
        }
        if ($text =~ /\AOK\r\n/ || time > $deadline) {
            my ($la) = $text =~ /^key=\Q$key\E exp=\S+ la=(\d+) /m;
            return $la // -1;
        }
        sleep 0.1;
    }
}
# Stores item $key of class 1 and waits until the maintainer has moved it
# to COLD (with HOT over its share of the class, or its tail old next to
# COLD's) and HOT is empty.
sub store_cold {
    my ($s, $key) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $before = mem_stats($s, 'items')->{'items:1:moves_to_cold'} // 0;
    send_expect($s, "set $key 0 0 10\r\n" . ('v' x 10) . "\r\n", "STORED\r\n", "set $key");
    my $items = poll_stats($s, 'items', sub { ($_[0]{'items:1:moves_to_cold'} // 0) > $before &&
                                              !$_[0]{'items:1:number_hot'} });
    cmp_ok($items->{'items:1:moves_to_cold'}, '>', $before, "the maintainer moved $key to COLD");
}
{
    my ($srv, $s) = fresh('');
    # Ten more items keep WARM under its share of the class once c1 is
    # there, so the maintainer leaves it in WARM.
    store_many($s, 'filler', 10, 0, 10);
    my $items = poll_stats($s, 'items', sub { ($_[0]{'items:1:number_cold'} // 0) == 10 });
    is($items->{'items:1:number_cold'}, 10, 'the maintainer moved the ten to COLD');
    store_cold($s, 'c1');
    debugtime($s, 3);
    cmp_ok(la_of($s, 'c1'), '>=', 2, 'c1 idle for 3 s (me la=)');
    cmp_ok(metadump_la($s, 'c1'), '<=', mem_stats($s)->{time} - 2,
           'lru_crawler metadump agrees (its la= is a time of day)');
    mem_get_is($s, 'c1', 'v' x 10, 'first get of c1 (marks it fetched)');
    mem_get_is($s, 'c1', 'v' x 10, 'second get of c1 (marks it active)');
    $items = poll_stats($s, 'items', sub { ($_[0]{'items:1:moves_to_warm'} // 0) >= 1 });
    is($items->{'items:1:moves_to_warm'}, 1, 'the maintainer moved c1 to WARM: moves_to_warm 1');
    is($items->{'items:1:number_warm'}, 1, 'number_warm 1');
    is($items->{'items:1:number_cold'}, 10, 'number_cold 10: the others');
    cmp_ok(la_of($s, 'c1'), '<=', 1, 'and stamped its access time (me la= at most 1)');
    cmp_ok(metadump_la($s, 'c1'), '>=', mem_stats($s)->{time} - 1, 'lru_crawler metadump agrees');
    my $st = mem_stats($s);
    is($st->{lru_bumps_dropped}, 0, 'lru_bumps_dropped 0: no queue was full');
    is($st->{moves_to_warm}, 1, 'stats moves_to_warm 1');

    # Deleted, or flushed, while queued: the queue's reference goes and the
    # chunk is freed (memcached-debug asserts the reference counts).
    store_cold($s, 'd1');
    send_expect($s, "get d1\r\nget d1\r\ndelete d1\r\n",
                ("VALUE d1 0 10\r\n" . ('v' x 10) . "\r\nEND\r\n") x 2 . "DELETED\r\n",
                'get d1 twice, then delete it at once');
    my $slabs = poll_stats($s, 'slabs', sub { $_[0]{'1:used_chunks'} == 11 });
    is($slabs->{'1:used_chunks'}, 11, "d1's chunk is freed once the maintainer lets go of it");
    store_cold($s, 'f1');
    send_expect($s, "get f1\r\nget f1\r\nflush_all\r\nget f1\r\n",
                ("VALUE f1 0 10\r\n" . ('v' x 10) . "\r\nEND\r\n") x 2 . "OK\r\nEND\r\n",
                'get f1 twice, then flush_all: f1 is gone');
    $slabs = poll_stats($s, 'slabs', sub { ($_[0]{'1:used_chunks'} // 0) == 0 });
    is($slabs->{'1:used_chunks'} // 0, 0, 'every chunk of class 1 is free after the flush');
    mem_get_is($s, 'c1', undef, 'c1 was flushed too');
}

done_testing;
