#!/usr/bin/perl
# Expiry and flush_all as the storage engine sees them: which exptime
# values mean what, how the LRU crawler reclaims dead items without any
# client touching them (and what it counts), and which items a flush_all
# invalidates.
#
# The first part needs no clock control and runs on any server.  The rest
# moves the clock with the debug build's "debugtime <seconds>" and is
# skipped elsewhere.  (t/expire.t covers touch/gat and basic lazy expiry.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my @servers;    # kept to the end so they are stopped together
sub fresh {
    my ($args) = @_;
    my $srv = start_server(args => $args // '-m 64');
    push @servers, $srv;
    return ($srv, $srv->new_sock);
}

# Stores $n items "$prefix$i" with $exptime, $size-byte values, pipelined.
sub store_many {
    my ($s, $prefix, $n, $exptime, $size) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $v = 'e' x $size;
    send_expect($s, join('', map { "set $prefix$_ 0 $exptime $size\r\n$v\r\n" } 1 .. $n),
                "STORED\r\n" x $n, "$n sets of $prefix* (exptime $exptime, $size B)");
}

# --- what an exptime means (no clock control) ------------------------------------
{
    my ($srv, $s) = fresh();
    # memcached's crawler makes its first automatic pass at start.
    my $st0 = poll_stats($s, undef, sub { $_[0]{lru_crawler_starts} >= 1 }, 5);
    is($st0->{lru_crawler_starts}, 1, 'the LRU crawler made one pass at start');
    my $now = mem_stats($s)->{time};
    # Up to 30 days (2592000 s) is relative; above that it is a unix time,
    # and one in the past (or the relative-looking 2592001) is already due.
    send_expect($s, "set r30 0 2592000 1\r\na\r\n", "STORED\r\n", 'exptime 2592000 (30 days) accepted');
    send_expect($s, "set a30 0 2592001 1\r\nb\r\n", "STORED\r\n", 'exptime 2592001 accepted');
    send_expect($s, "set past 0 1000000000 1\r\nc\r\n", "STORED\r\n", 'exptime in 2001 accepted');
    send_expect($s, "set neg 0 -1 1\r\nd\r\n", "STORED\r\n", 'exptime -1 accepted');
    send_expect($s, "set neg2 0 -2147483648 1\r\ne\r\n", "STORED\r\n", 'exptime -2^31 accepted');
    send_expect($s, "set zero 0 0 1\r\nf\r\n", "STORED\r\n", 'exptime 0 accepted');
    my $fut = $now + 3600;
    send_expect($s, "set fut 0 $fut 1\r\ng\r\n", "STORED\r\n", 'exptime = server time + 1 h accepted');
    is(mem_stats($s)->{total_items}, 7, 'all seven stores counted in total_items');
    mem_get_is($s, 'r30', 'a', '2592000 is relative: 30 days from now');
    mem_get_is($s, 'a30', undef, '2592001 is a unix time (1970): gone at once');
    mem_get_is($s, 'past', undef, 'unix time in the past: gone at once');
    mem_get_is($s, 'neg', undef, 'negative: gone at once');
    mem_get_is($s, 'neg2', undef, 'most negative exptime: gone at once');
    mem_get_is($s, 'zero', 'f', '0: never expires');
    mem_get_is($s, 'fut', 'g', 'unix time an hour ahead: there');
    # Our server unlinks dead items when a get finds them; memcached's LRU
    # maintainer thread may reclaim them first (counted in "reclaimed").
    my $st = mem_stats($s);
    is($st->{get_expired} + $st->{reclaimed} + $st->{crawler_reclaimed}, 4,
       'the four dead items were reclaimed (get_expired + reclaimed + crawler_reclaimed)');
    is($st->{get_misses}, 4, 'their gets count as misses');
    is($st->{curr_items}, 3, 'curr_items: the three live ones');
}

# --- the crawler reclaims dead items that nobody asks for (no clock control) -------
# Dead-on-arrival items (exptime -1) in two slab classes, beside live ones.
{
    my ($srv, $s) = fresh();
    store_many($s, 'dead', 100, -1, 10);
    store_many($s, 'bigdead', 40, -1, 3000);
    store_many($s, 'live', 30, 0, 10);
    store_many($s, 'biglive', 20, 0, 3000);
    my $st0 = mem_stats($s);
    is($st0->{total_items}, 190, 'all 190 stores counted');
    send_expect($s, "lru_crawler crawl all\r\n", "OK\r\n", 'lru_crawler crawl all');
    my $st = poll_stats($s, undef, sub { $_[0]{curr_items} == 50 });
    is($st->{curr_items}, 50, 'curr_items falls to the 50 live items, nothing fetched');
    # memcached's LRU maintainer may get to some of them first (even before
    # the crawl) and count them in "reclaimed"; together they account for all.
    is($st->{crawler_reclaimed} + $st->{reclaimed}, 140,
       'crawler_reclaimed + reclaimed: the 140 dead items (fresh server)');
    cmp_ok($st->{lru_crawler_starts}, '>=', 1, 'lru_crawler_starts counted the crawl');
    is($st->{get_expired}, 0, 'no get was involved');
    my $v = 'e' x 3000;
    my $want = join('', map { "VALUE biglive$_ 0 3000\r\n$v\r\n" } 1 .. 20) . "END\r\n";
    send_expect($s, 'get ' . join(' ', map { "biglive$_" } 1 .. 20) . "\r\n", $want,
                'the live items are untouched');
    my $n = poll_stats($s, undef, sub { !$_[0]{lru_crawler_running} })->{lru_crawler_running};
    is($n, 0, 'crawler idle again');
    # The first request may not even have started: the LRU maintainer can
    # reclaim the dead items before the crawler thread wakes for it.
    is(crawl_when_idle($s, "lru_crawler crawl all\r\n"), "OK\r\n", 'a second crawl once idle: OK');
}

# Sends a crawl request until the crawler is free to take it (a crawl
# just finished may still answer BUSY for a moment); returns the reply
# line, the last BUSY after 10 s.
sub crawl_when_idle {
    my ($s, $req) = @_;
    my $deadline = time + 10;
    while (1) {
        send_bytes($s, $req);
        my $l = read_line($s) // '';
        return $l unless $l =~ /^BUSY/ && time < $deadline;
        sleep 0.05;
    }
}

# --- crawl arguments (no clock control) ---------------------------------------------
{
    my ($srv, $s) = fresh();
    send_expect($s, "lru_crawler crawl 0\r\n", "BADCLASS invalid class id\r\n", 'crawl class 0: BADCLASS');
    send_expect($s, "lru_crawler crawl 64\r\n", "BADCLASS invalid class id\r\n", 'crawl class 64: BADCLASS');
    send_expect($s, "lru_crawler crawl x\r\n", "BADCLASS invalid class id\r\n", 'crawl class x: BADCLASS');
    send_expect($s, "lru_crawler crawl -1\r\n", "BADCLASS invalid class id\r\n", 'crawl class -1: BADCLASS');
    send_expect($s, "lru_crawler crawl 1x\r\n", "BADCLASS invalid class id\r\n", 'crawl class 1x: BADCLASS');
    send_expect($s, "lru_crawler disable\r\n", "OK\r\n", 'lru_crawler disable');
    # memcached stops its crawler thread after replying: wait for it.
    is(poll_stats($s, 'settings', sub { $_[0]{lru_crawler} eq 'no' })->{lru_crawler}, 'no',
       'stats settings: lru_crawler no');
    send_expect($s, "lru_crawler crawl all\r\n", "CLIENT_ERROR lru crawler disabled\r\n",
                'crawl while disabled: CLIENT_ERROR');
    send_expect($s, "lru_crawler enable\r\n", "OK\r\n", 'lru_crawler enable');
    is(poll_stats($s, 'settings', sub { $_[0]{lru_crawler} eq 'yes' })->{lru_crawler}, 'yes',
       'stats settings: lru_crawler yes');
    send_expect($s, "lru_crawler crawl 1,2\r\n", "OK\r\n", 'crawl 1,2: OK');
    # Each class as memcached's safe_strtoul reads it: a sign, a blank after it.
    is(crawl_when_idle($s, "lru_crawler crawl 1\t,,+2\r\n"), "OK\r\n", 'crawl 1\\t,,+2: OK');
    send_expect($s, "lru_crawler crawl\r\n", "ERROR\r\n", 'crawl without classes: ERROR');
    send_expect($s, "lru_crawler\r\n", "ERROR\r\n", 'lru_crawler alone: ERROR');
        is(crawl_when_idle($s, "lru_crawler crawl 63\r\n"), "OK\r\n",
           'crawl class 63 (no such class yet): OK like memcached');
        is(crawl_when_idle($s, "lru_crawler crawl ,1,,2\r\n"), "OK\r\n", 'crawl ,1,,2: OK like memcached');
}

# --- flush_all without a delay (no clock control) --------------------------------------
{
    my ($srv, $s) = fresh();
    # Items stored right after a flush_all, in the same second, survive it;
    # items stored right before it do not.  Repeat so some rounds straddle
    # a second boundary.
    my ($lost_after, $kept_before) = (0, 0);
    for my $round (1 .. 30) {
        send_bytes($s, "set before$round 0 0 1\r\nb\r\nflush_all\r\nset after$round 0 0 1\r\na\r\n");
        my $r = read_bytes($s, length "STORED\r\nOK\r\nSTORED\r\n");
        die "unexpected reply: " . mc_escape($r) unless $r eq "STORED\r\nOK\r\nSTORED\r\n";
        send_bytes($s, "get before$round after$round\r\n");
        my $got = read_bytes($s, length "VALUE after$round 0 1\r\na\r\nEND\r\n");
        $kept_before++ if $got =~ /^VALUE before/;
        $lost_after++ unless $got eq "VALUE after$round 0 1\r\na\r\nEND\r\n";
        sleep 0.05;
    }
    is($kept_before, 0, 'every item stored before a flush_all is gone (30 rounds)');
    is($lost_after, 0, 'every item stored after it, even in the same second, is kept');

    send_expect($s, "set x 0 0 1\r\nx\r\nset y 0 0 1\r\ny\r\nflush_all noreply\r\nset z 0 0 1\r\nz\r\n",
                "STORED\r\nSTORED\r\nSTORED\r\n", 'flush_all noreply between sets: no reply');
    send_expect($s, "get x y z\r\n", "VALUE z 0 1\r\nz\r\nEND\r\n", 'only z is left');
    send_expect($s, "flush_all 0\r\n", "OK\r\n", 'flush_all 0');
    mem_get_is($s, 'z', undef, 'flush_all 0 is immediate');

    # flush_all unlinks at once what was stored in the last second or so (as
    # memcached does); older flushed items stay counted until read or
    # crawled, and a busy machine can make some of the rounds above older:
    # let the crawler clear them first.  A machine that stalls the server
    # between the sets and the flush can also leave those two to the
    # crawler, so up to 3 tries.
    is(crawl_when_idle($s, "lru_crawler crawl all\r\n"), "OK\r\n", 'crawl what earlier flushes left');
    is(poll_stats($s, undef, sub { $_[0]{curr_items} == 0 })->{curr_items}, 0, 'nothing counted before');
    my @counted;
    for my $try (1 .. 3) {
        send_expect($s, "set p 0 0 1\r\np\r\nset q 0 0 1\r\nq\r\nflush_all\r\n",
                    "STORED\r\nSTORED\r\nOK\r\n", "two sets, flush_all (try $try)");
        push @counted, mem_stats($s)->{curr_items};
        last unless $counted[-1];
    }
    is($counted[-1], 0, 'curr_items is 0 right after flush_all') or diag("tries: @counted");
    is(crawl_when_idle($s, "lru_crawler crawl all\r\n"), "OK\r\n", 'crawl after the flush');
    my $st = poll_stats($s, undef, sub { $_[0]{curr_items} == 0 });
    is($st->{curr_items}, 0, 'the crawler (or the flush) leaves nothing counted');
    is($st->{bytes}, 0, 'and no bytes');
    send_expect($s, "flush_all -1\r\n", "OK\r\n", 'flush_all -1: OK (immediate)');
    send_expect($s, "flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n",
                'flush_all abc: CLIENT_ERROR');
    is(mem_stats($s)->{cmd_flush}, 34 + @counted, 'cmd_flush counts every flush_all, bad ones too');
}
{
    my ($srv, $s) = fresh('-m 64 -F');
    send_expect($s, "flush_all\r\n", "CLIENT_ERROR flush_all not allowed\r\n", '-F: flush_all refused');
        is(mem_stats($s)->{cmd_flush}, 1, '-F: the refused flush_all is still counted');
}

# ================ from here on: the debug build's clock ================
my ($dbg, $ds) = fresh('-m 8');
if (!$dbg->is_debug_build) {
    note('skipping the debugtime part: ' . $dbg->binary . ' has no debugtime');
    done_testing;
    exit 0;
}

# --- relative and absolute exptime over time ----------------------------------------
{
    my ($srv, $s) = fresh();
    my $now = mem_stats($s)->{time};
    store_many($s, 'rel', 50, 100, 10);
    store_many($s, 'abs', 50, $now + 100, 10);
    store_many($s, 'day', 50, 2592000, 10);
    store_many($s, 'ever', 50, 0, 10);
    debugtime($s, 95);
    my $keys = join ' ', map { ("rel$_", "abs$_") } 1 .. 50;
    send_bytes($s, "get $keys\r\n");
    my $hits = 0;
    while (defined(my $l = read_line($s))) { last if $l eq "END\r\n"; $hits++ if $l =~ /^VALUE/; read_line($s) }
    is($hits, 100, '95 s in, all 100 items with a 100 s life (relative and absolute) are there');
    debugtime($s, 5);
    send_expect($s, "get $keys\r\n", "END\r\n", 'at 100 s all of them are gone');
    debugtime($s, 2592000 - 100 - 3);
    mem_get_is($s, 'day25', 'e' x 10, '2592000 (relative) still there 3 s before 30 days');
    debugtime($s, 3);
    mem_get_is($s, 'day25', undef, 'gone at 30 days');
    debugtime($s, 86400 * 365);
    mem_get_is($s, 'ever50', 'e' x 10, 'exptime 0 still there a year later');
}

# --- the crawler and exact counts --------------------------------------------------
{
    # No LRU maintainer: like memcached's, it would reclaim the dead tail
    # items on its own, racing the crawler and the gets counted here.
    my ($srv, $s) = fresh('-m 64 -o no_lru_maintainer');
    store_many($s, 'short', 80, 10, 10);        # class 1
    store_many($s, 'shortbig', 20, 10, 2000);   # another class
    store_many($s, 'long', 30, 1000, 10);
    store_many($s, 'forever', 25, 0, 2000);
    my $st0 = mem_stats($s);
    is($st0->{curr_items}, 155, '155 items');
    debugtime($s, 11);
    send_expect($s, "lru_crawler crawl all\r\n", "OK\r\n", 'crawl all after 11 s');
    my $st = poll_stats($s, undef, sub { $_[0]{crawler_reclaimed} >= 100 && !$_[0]{lru_crawler_running} });
    is($st->{crawler_reclaimed}, 100, 'crawler_reclaimed: exactly the 100 expired items');
    is($st->{curr_items}, 55, 'curr_items: the 55 live ones');
    is($st->{reclaimed}, 0, 'nothing reclaimed by allocation');
    is($st->{crawler_items_checked}, 155, 'crawler_items_checked: every item once');
    is($st->{expired_unfetched}, 100, 'expired_unfetched: none of them was ever read');
    is($st->{get_expired}, 0, 'no get involved');
    my $items = mem_stats($s, 'items');
    is($items->{'items:1:crawler_reclaimed'}, 80, 'stats items: class 1 reclaimed its 80');
    is($items->{'items:1:number'}, 30, 'stats items: class 1 keeps 30');
    is($items->{'items:15:crawler_reclaimed'}, 20, 'stats items: class 15 (2000 B values) reclaimed 20');
    is($items->{'items:15:number'}, 25, 'stats items: class 15 keeps 25');
    mem_get_is($s, 'long30', 'e' x 10, 'a live item is untouched');

    # Crawl one class only.
    debugtime($s, 1000);
    send_expect($s, "lru_crawler crawl 15\r\n", "OK\r\n", 'crawl class 15 only');
    $st = poll_stats($s, undef, sub { $_[0]{crawler_items_checked} >= 180 && !$_[0]{lru_crawler_running} });
    is($st->{crawler_items_checked}, 180, 'only class 15 was walked (25 more checked)');
    is($st->{crawler_reclaimed}, 100, 'its 25 live items stay');
    is($st->{curr_items}, 55, 'the 30 expired items in class 1 are still counted');
    send_expect($s, "lru_crawler crawl 1\r\n", "OK\r\n", 'crawl class 1');
    $st = poll_stats($s, undef, sub { $_[0]{crawler_reclaimed} >= 130 && !$_[0]{lru_crawler_running} });
    is($st->{crawler_reclaimed}, 130, 'class 1 crawl reclaims the 30 now expired');
    is($st->{curr_items}, 25, 'leaving the 25 permanent items');
}

# --- lazily expired and fetched items ---------------------------------------------
{
    # No LRU maintainer: like memcached's, it would reclaim the dead tail
    # items on its own, racing the crawler and the gets counted here.
    my ($srv, $s) = fresh('-m 64 -o no_lru_maintainer');
    store_many($s, 'f', 10, 10, 10);
    send_bytes($s, 'get ' . join(' ', map { "f$_" } 1 .. 5) . "\r\n");
    read_line($s) for 1 .. 11;     # 5 values and END
    debugtime($s, 11);
    send_expect($s, "lru_crawler crawl all\r\n", "OK\r\n", 'crawl');
    my $st = poll_stats($s, undef, sub { $_[0]{crawler_reclaimed} >= 10 && !$_[0]{lru_crawler_running} });
    is($st->{crawler_reclaimed}, 10, 'all 10 reclaimed');
    is($st->{expired_unfetched}, 5, 'expired_unfetched counts only the 5 never read');

    store_many($s, 'g', 3, 10, 10);
    debugtime($s, 11);
    send_expect($s, "get g1 g2 g3\r\n", "END\r\n", 'get of 3 expired items misses');
    $st = mem_stats($s);
    is($st->{get_expired}, 3, 'get_expired 3');
        is($st->{expired_unfetched}, 5, 'expired_unfetched unchanged by lazy expiry');
}

# --- delayed flush_all --------------------------------------------------------------
{
    # No LRU maintainer: like memcached's, it would reclaim the dead tail
    # items on its own, racing the crawler and the gets counted here.
    my ($srv, $s) = fresh('-m 64 -o no_lru_maintainer');
    send_expect($s, "set early 0 0 1\r\ne\r\n", "STORED\r\n", 'set early');
    send_expect($s, "flush_all 20\r\n", "OK\r\n", 'flush_all 20');
    debugtime($s, 10);
    send_expect($s, "set during 0 0 1\r\nd\r\n", "STORED\r\n", 'set during the delay');
    mem_get_is($s, 'early', 'e', '10 s in: early item still there');
    mem_get_is($s, 'during', 'd', '10 s in: item set during the delay there');
    debugtime($s, 10);
    mem_get_is($s, 'early', undef, 'at 20 s: early item gone');
    mem_get_is($s, 'during', undef, 'at 20 s: item set during the delay gone too');
    send_expect($s, "set later 0 0 1\r\nl\r\n", "STORED\r\n", 'set after the flush time');
    debugtime($s, 100);
    mem_get_is($s, 'later', 'l', 'item set after the flush time survives');
    is(mem_stats($s)->{get_flushed}, 2, 'get_flushed counts the two lazily flushed gets');

    # An absolute flush time, and the crawler reclaiming flushed items.
    my $now = mem_stats($s)->{time};
    store_many($s, 'x', 20, 0, 10);
    my $at = $now + 30;
    send_expect($s, "flush_all $at\r\n", "OK\r\n", 'flush_all at server time + 30 (absolute)');
    debugtime($s, 25);
    mem_get_is($s, 'x1', 'e' x 10, '25 s before an absolute flush: there');
    debugtime($s, 6);
    send_expect($s, "lru_crawler crawl all\r\n", "OK\r\n", 'crawl after the flush time');
    my $st = poll_stats($s, undef, sub { $_[0]{curr_items} <= 1 && !$_[0]{lru_crawler_running} });
    is($st->{curr_items}, 0, 'the crawler reclaimed all 21 flushed items');
    is($st->{crawler_reclaimed}, 21, 'crawler_reclaimed 21');
    is($st->{expired_unfetched}, 0, 'flushed items are not "expired unfetched"');
}

done_testing;
