#!/usr/bin/perl
# Slab pages and the page mover, as memcached 1.6 behaves:
#   - "slabs reassign" replies (OK, BUSY, BADCLASS, NOSPARE, SAME) and what a
#     move does to total_pages, curr_items and the eviction counters;
#   - a move that has to wait for an item in use (BUSY until it is released);
#   - "slabs automove 1" giving pages to a class that evicts;
#   - the names (not values) of "stats slabs", "stats items",
#     "stats settings" and the storage part of "stats", in memcached's order;
#   - the hash table's starting size (-o hashpower) and its limits.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

# Stores keys "$prefix$i" for $i in $from..$to with the value from $vf->($i),
# pipelined with noreply, then syncs.
sub fill {
    my ($s, $prefix, $from, $to, $vf) = @_;
    my $buf = '';
    for my $i ($from .. $to) {
        my $v = $vf->($i);
        $buf .= "set $prefix$i 0 0 " . length($v) . " noreply\r\n$v\r\n";
        if (length $buf > 256 * 1024) { send_bytes($s, $buf); $buf = '' }
    }
    send_bytes($s, $buf . "version\r\n");
    read_line($s, 30) =~ /^VERSION/ or die "no VERSION after fill\n";
}

# Classes with pages, from stats slabs: { id => total_pages }.
sub pages_by_class {
    my ($st) = @_;
    return { map { /^(\d+):total_pages$/ ? ($1 => $st->{$_}) : () } keys %$st };
}

my $NOSPARE  = "NOSPARE source class has no spare pages\r\n";
my $BADCLASS = "BADCLASS invalid src or dst class id\r\n";
my $SAME     = "SAME src and dst class are identical\r\n";
my $BUSY     = "BUSY currently processing reassign request\r\n";

# --- replies that need no pages ------------------------------------------------------
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    line_is($s, "slabs reassign 1 1\r\n", $SAME, 'src = dst: SAME');
    line_is($s, "slabs reassign 5 5\r\n", $SAME, 'src = dst (5): SAME');
    line_is($s, "slabs reassign 1 5\r\n", $NOSPARE, 'src with no pages: NOSPARE');
    line_is($s, "slabs reassign 39 1\r\n", $NOSPARE, 'largest class (39) as src: NOSPARE');
    line_is($s, "slabs reassign 1 39\r\n", $NOSPARE, 'largest class (39) as dst is valid');
    line_is($s, "slabs reassign 1 40\r\n", $BADCLASS, 'dst 40 (past the largest): BADCLASS');
    line_is($s, "slabs reassign 40 1\r\n", $BADCLASS, 'src 40: BADCLASS');
    line_is($s, "slabs reassign 1 100\r\n", $BADCLASS, 'dst 100: BADCLASS');
    line_is($s, "slabs reassign -2 3\r\n", $BADCLASS, 'src -2: BADCLASS');
    line_is($s, "slabs reassign 3 -1\r\n", $BADCLASS, 'dst -1: BADCLASS');
    line_is($s, "slabs reassign -1 -1\r\n", $SAME, '-1 -1: SAME (checked first)');
    line_is($s, "slabs reassign a b\r\n", "CLIENT_ERROR bad command line format\r\n", 'non-numeric: CLIENT_ERROR');
    line_is($s, "slabs reassign 1\r\n", "ERROR\r\n", 'one argument: ERROR');
    line_is($s, "slabs\r\n", "ERROR\r\n", 'slabs alone: ERROR');
    line_is($s, "slabs automove 3\r\n", "ERROR\r\n", 'automove 3: ERROR');
    line_is($s, "slabs automove 0\r\n", "OK\r\n", 'automove 0: OK');
        line_is($s, "slabs reassign 0 5\r\n", $NOSPARE, 'src 0 (global page pool, empty): NOSPARE');
        line_is($s, "slabs reassign 5 0\r\n", $NOSPARE, 'dst 0 is valid: NOSPARE for an empty src');
        line_is($s, "slabs reassign -1 5\r\n", $BADCLASS, 'src -1 when no class has a spare page: BADCLASS (none to pick)');
    is(mem_stats($s)->{slabs_moved}, 0, 'nothing moved');
}

# --- a manual move of a page full of live items ------------------------------------------
# 25000 small items fill three pages of class 1 (10922 chunks a page).
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    my $N = 25000;
    my $val = sub { sprintf '%010d', $_[0] };
    fill($s, 'k', 1, $N, $val);
    my $sl = mem_stats($s, 'slabs');
    my $per = $sl->{'1:chunks_per_page'};
    is($sl->{'1:total_pages'}, 3, 'class 1 has 3 pages');
    is($sl->{'1:used_chunks'}, $N, "class 1 holds the $N items");
    ok(!defined $sl->{'5:total_pages'}, 'class 5 has no page yet');

    line_is($s, "slabs reassign 1 5\r\n", "OK\r\n", 'slabs reassign 1 5: OK');
    # Done, and the item counts settled (the same for 5 reads, 0.25 s): on a
    # loaded machine curr_items still fell after the mover said it was idle.
    my @seen;
    my $st = poll_stats($s, undef, sub {
        push @seen, $_[0]{curr_items};
        $_[0]{slabs_moved} >= 1 && !$_[0]{slab_reassign_running}
            && @seen >= 5 && !grep { $_ != $seen[-1] } @seen[-5 .. -1];
    });
    is($st->{slabs_moved}, 1, 'slabs_moved 1');
    is($st->{slab_reassign_running}, 0, 'the mover is idle again');
    $sl = mem_stats($s, 'slabs');
    is($sl->{'1:total_pages'}, 2, 'class 1: 3 pages -> 2');
    is($sl->{'5:total_pages'}, 1, 'class 5: 0 pages -> 1');
    is($sl->{'5:free_chunks'}, $sl->{'5:chunks_per_page'}, 'class 5: its new page is all free chunks');
    is($sl->{total_malloced}, 3 * 1024 * 1024, 'total_malloced unchanged: the page moved, none was added');

    # What happened to the page's items: still there (moved to a free chunk
    # of the class) or evicted and counted as such.
    my $items = mem_stats($s, 'items');
    my $kept = $st->{curr_items};
    cmp_ok($kept, '>=', $N - $per, "at most one page of items lost ($kept kept)");
        cmp_ok($kept, '>', $N - $per, 'items of the moved page were rescued into the class\'s free chunks');
        is(($items->{'items:1:evicted'} // 0) + $kept, $N, 'every item lost is counted in items:1:evicted');
        is($st->{evictions} + $kept, $N, 'and in evictions');

    # Every item still there is intact.
    my ($hits, $bad) = (0, 0);
    for (my $i = 1; $i <= $N; $i += 100) {
        my @k = map { "k$_" } $i .. ($i + 99 > $N ? $N : $i + 99);
        send_bytes($s, "get @k\r\n");
        while (defined(my $l = read_line($s))) {
            last if $l eq "END\r\n";
            my ($n) = $l =~ /^VALUE k(\d+) 0 10\r\n\z/ or do { $bad++; last };
            $bad++ unless read_bytes($s, 12) eq $val->($n) . "\r\n";
            $hits++;
        }
    }
    is($bad, 0, 'every item left after the move is intact');
    is($hits, $kept, 'hits = curr_items');

    # Moving back and forth: each move changes each side by one page.
    line_is($s, "slabs reassign 5 1\r\n", $NOSPARE, 'class 5 now has one page: NOSPARE');
    line_is($s, "slabs reassign 1 5\r\n", "OK\r\n", 'second move 1 -> 5: OK');
    poll_stats($s, undef, sub { $_[0]{slabs_moved} >= 2 && !$_[0]{slab_reassign_running} });
    $sl = mem_stats($s, 'slabs');
    is($sl->{'1:total_pages'}, 1, 'class 1: 2 -> 1');
    is($sl->{'5:total_pages'}, 2, 'class 5: 1 -> 2');
    line_is($s, "slabs reassign 1 5\r\n", $NOSPARE, 'class 1 down to one page: NOSPARE');
    line_is($s, "slabs reassign 5 1\r\n", "OK\r\n", 'move 5 -> 1: OK');
    my $st3 = poll_stats($s, undef, sub { $_[0]{slabs_moved} >= 3 && !$_[0]{slab_reassign_running} });
    is($st3->{slabs_moved}, 3, 'slabs_moved 3');
    $sl = mem_stats($s, 'slabs');
    is($sl->{'1:total_pages'}, 2, 'class 1: 1 -> 2');
    is($sl->{'5:total_pages'}, 1, 'class 5: 2 -> 1');
    send_expect($s, "set after 0 0 10\r\n0123456789\r\n", "STORED\r\n", 'class 1 stores into its returned page');
}

# --- src -1: the server picks the source -------------------------------------------------
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    fill($s, 'k', 1, 25000, sub { sprintf '%010d', $_[0] });
    line_is($s, "slabs reassign -1 5\r\n", "OK\r\n", 'slabs reassign -1 5: OK');
    my $st = poll_stats($s, undef, sub { $_[0]{slabs_moved} >= 1 && !$_[0]{slab_reassign_running} }, 3);
        is($st->{slabs_moved}, 1, 'a page moved from the only class that has spare pages');
        is(mem_stats($s, 'slabs')->{'5:total_pages'}, 1, 'to class 5');
}

# --- BUSY while the mover waits for an item in use -----------------------------------------
# A client asks for one item 300 times (30 MB) and does not read: the
# server holds references to it until the reply is written, so a move of
# its page cannot finish.
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    my $V = 100_000;
    fill($s, 'b', 0, 14, sub { chr(65 + $_[0]) x $V });
    my $sl = mem_stats($s, 'slabs');
    my ($cls) = grep { $sl->{"$_:total_pages"} } map { /^(\d+):total_pages$/ ? $1 : () } keys %$sl;
    is($sl->{"$cls:total_pages"}, 2, "15 items of 100 KB take 2 pages of class $cls");

    my $slow = $srv->new_sock;
    my $hits0 = mem_stats($s)->{get_hits};
    send_bytes($slow, 'get ' . join(' ', ('b0') x 300) . "\r\n");
    # The server has looked up all 300 (and holds the item) before the move.
    poll_stats($s, undef, sub { $_[0]{get_hits} >= $hits0 + 300 });
    line_is($s, "slabs reassign $cls 1\r\n", "OK\r\n", "slabs reassign $cls 1: OK");
    # ... and the mover has met the item in use.
    poll_stats($s, undef, sub { $_[0]{slab_reassign_busy_items} > 0 });
    line_is($s, "slabs reassign $cls 1\r\n", $BUSY, 'a second request while the first waits: BUSY');
        line_is($s, "slabs reassign 1 $cls\r\n", $BUSY, 'any request while a move runs, even from a class with no spare page: BUSY');
    my $st = mem_stats($s);
    is($st->{slab_reassign_running}, 1, 'slab_reassign_running 1');
    is($st->{slabs_moved}, 0, 'nothing moved yet');
    cmp_ok($st->{slab_reassign_busy_items}, '>', 0, 'slab_reassign_busy_items counts the waits');

    my $want = 300 * (length("VALUE b0 0 $V\r\n") + $V + 2) + 5;
    my $got = read_bytes($slow, $want, 30);
    is(length $got, $want, 'the slow client reads its 30 MB');
    ok(substr($got, 0, length "VALUE b0 0 $V\r\n") eq "VALUE b0 0 $V\r\n" && substr($got, -5) eq "END\r\n",
       'and it is well formed');
    $st = poll_stats($s, undef, sub { $_[0]{slabs_moved} >= 1 && !$_[0]{slab_reassign_running} });
    is($st->{slabs_moved}, 1, 'once released, the move completes');
    $sl = mem_stats($s, 'slabs');
    is($sl->{"$cls:total_pages"}, 1, "class $cls: 2 pages -> 1");
    is($sl->{'1:total_pages'}, 1, 'class 1: 0 -> 1');
    my ($hits, $bad) = (0, 0);
    for my $i (0 .. 14) {
        send_bytes($s, "get b$i\r\n");
        my $l = read_line($s);
        next if $l eq "END\r\n";
        $hits++;
        $bad++ unless read_bytes($s, $V + 7) eq chr(65 + $i) x $V . "\r\nEND\r\n";
    }
    is($bad, 0, "the $hits items left in class $cls are intact");
}

# Writes 20 KB values in batches until $done->($stats, $slab_pages) holds
# or $seconds pass; returns the last stats.
sub shift_workload {
    my ($s, $seconds, $done) = @_;
    my $big = 'y' x 20000;
    my ($n, $st) = (0, undef);
    my $deadline = time + $seconds;
    while (time < $deadline) {
        my $buf = '';
        $buf .= 'set big' . ++$n . " 0 0 20000 noreply\r\n$big\r\n" for 1 .. 50;
        send_bytes($s, $buf . "version\r\n");
        read_line($s, 10);
        $st = mem_stats($s);
        last if $done->($st, pages_by_class(mem_stats($s, 'slabs')));
    }
    return $st;
}
# Done once pages moved and a class other than $small has more than one.
sub gained {
    my ($small) = @_;
    return sub {
        my ($st, $pages) = @_;
        return $st->{slabs_moved} >= 2 && grep { $_ != $small && $pages->{$_} > 1 } keys %$pages;
    };
}

# --- automove 1: a class that evicts gets pages from one whose items are old ----------
# Fill 32 MB with 100-byte values, then write only 20 KB values.
{
    my $srv = start_server(args => '-m 32');
    my $s = $srv->new_sock;
    send_expect($s, "slabs automove 1\r\n", "OK\r\n", 'slabs automove 1');
    fill($s, 'small', 1, 400_000, sub { 'x' x 100 });
    my $before = pages_by_class(mem_stats($s, 'slabs'));
    my ($small) = grep { $before->{$_} > 1 } keys %$before;
    my $small_evicted = mem_stats($s, 'items')->{"items:$small:evicted"};
    my $st = shift_workload($s, 30, gained($small));   # done as soon as it moved
    my $after = pages_by_class(mem_stats($s, 'slabs'));
    my ($large) = grep { $_ != $small } keys %$after;
        cmp_ok($st->{slabs_moved}, '>=', 2, "pages moved ($st->{slabs_moved}; the writes stop as soon as they have)");
        cmp_ok($after->{$large}, '>', 1, "class $large (20 KB values) gained pages ($after->{$large})");
        cmp_ok($after->{$small}, '<', $before->{$small}, "class $small (100 B values) gave them");
        cmp_ok(mem_stats($s, 'items')->{"items:$small:evicted"}, '>', $small_evicted,
               "the small class's evictions rose with the pages it lost");
}

# --- automove 1 with free memory in another class ------------------------------------------
{
    my $srv = start_server(args => '-m 32');
    my $s = $srv->new_sock;
    send_expect($s, "slabs automove 1\r\n", "OK\r\n", 'slabs automove 1');
    fill($s, 'small', 1, 400_000, sub { 'x' x 100 });
    my $before = pages_by_class(mem_stats($s, 'slabs'));
    my ($small) = grep { $before->{$_} > 1 } keys %$before;
    send_bytes($s, join('', map { "delete small$_ noreply\r\n" } 1 .. 400_000) . "version\r\n");
    like(read_line($s, 30), qr/^VERSION/, 'deleted every small item');
    my $st = shift_workload($s, 30, gained($small));
    my $after = pages_by_class(mem_stats($s, 'slabs'));
    my ($large) = grep { $_ != $small } keys %$after;
    cmp_ok($st->{slabs_moved}, '>=', 2, "free pages moved ($st->{slabs_moved})");
    cmp_ok($after->{$large}, '>', 1, "class $large (20 KB values) gained pages ($after->{$large})");
    cmp_ok($after->{$small} // 0, '<', $before->{$small}, "class $small gave them");
    send_expect($s, "slabs automove 0\r\n", "OK\r\n", 'slabs automove 0');
}

# --- stats names ----------------------------------------------------------------------------
# memcached 1.6.45's names, in its order, after: set a (5 B), set b (2000 B), get a.
my @SLABS_CLASS = qw(chunk_size chunks_per_page total_pages total_chunks used_chunks free_chunks
                     free_chunks_end get_hits cmd_set delete_hits incr_hits decr_hits cas_hits
                     cas_badval touch_hits);
my @SLABS_TOTAL = qw(active_slabs total_malloced);
my @ITEMS_CLASS = qw(number number_hot number_warm number_cold age_hot age_warm age mem_requested
                     evicted evicted_nonzero evicted_time outofmemory tailrepairs reclaimed
                     expired_unfetched evicted_unfetched evicted_active crawler_reclaimed
                     crawler_items_checked lrutail_reflocked moves_to_cold moves_to_warm
                     moves_within_lru direct_reclaims hits_to_hot hits_to_warm hits_to_cold
                     hits_to_temp);
my @SETTINGS = qw(maxbytes maxconns tcpport udpport inter verbosity oldest evictions domain_socket
                  umask shutdown_command growth_factor chunk_size num_threads num_threads_per_udp
                  stat_key_prefix detail_enabled reqs_per_event cas_enabled tcp_backlog
                  binding_protocol auth_enabled_sasl auth_enabled_ascii item_size_max maxconns_fast
                  hashpower_init slab_reassign slab_automove slab_automove_ratio
                  slab_automove_window slab_chunk_max lru_crawler lru_crawler_sleep
                  lru_crawler_tocrawl tail_repair_time flush_enabled dump_enabled hash_algorithm
                  lru_maintainer_thread lru_segmented hot_lru_pct warm_lru_pct hot_max_factor
                  warm_max_factor temp_lru temporary_ttl idle_timeout watcher_logbuf_size
                  worker_logbuf_size read_buf_mem_limit track_sizes inline_ascii_response
                  num_napi_ids memory_file client_flags_size);
# The storage engine's part of plain "stats", from hash_power_level on.
my @STATS_STORAGE = qw(hash_power_level hash_bytes hash_is_expanding slab_reassign_rescues
                       slab_reassign_chunk_rescues slab_reassign_inline_reclaim
                       slab_reassign_busy_items slab_reassign_busy_deletes slab_reassign_busy_nomem
                       slab_reassign_last_busy_status slab_reassign_running slabs_moved
                       lru_crawler_running lru_crawler_starts lru_maintainer_juggles malloc_fails
                       log_worker_dropped log_worker_written log_watcher_skipped log_watcher_sent
                       log_watchers unexpected_napi_ids round_robin_fallback bytes curr_items
                       total_items slab_global_page_pool expired_unfetched evicted_unfetched
                       evicted_active evictions reclaimed crawler_reclaimed crawler_items_checked
                       lrutail_reflocked moves_to_cold moves_to_warm moves_within_lru
                       direct_reclaims lru_bumps_dropped);

# Names of "stats $group" in order, with class ids replaced by N.
sub stat_names {
    my ($s, $group) = @_;
    send_bytes($s, "stats" . (defined $group ? " $group" : '') . "\r\n");
    my @names;
    while (defined(my $l = read_line($s))) {
        last if $l eq "END\r\n";
        my ($name) = $l =~ /^STAT (\S+) / or last;
        $name =~ s/^(items:)?\d+:/(defined $1 ? $1 : "") . "N:"/e;
        push @names, $name;
    }
    return \@names;
}
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    send_expect($s, "set a 0 0 5\r\nhello\r\nset b 0 0 2000\r\n" . ('x' x 2000) . "\r\nget a\r\n",
                "STORED\r\nSTORED\r\nVALUE a 0 5\r\nhello\r\nEND\r\n", 'two items in two classes, one read');
    my $items = stat_names($s, 'items');
    is_deeply($items, [ map { my $c = $_; map { "items:N:$_" } @ITEMS_CLASS } 1, 2 ],
              'stats items: memcached\'s names, in order, for each of the two classes');
    my $settings = stat_names($s, 'settings');
    my @want_settings = @SETTINGS;
    if (grep { $_ eq 'ssl_enabled' } @$settings) {
        # A TLS build (configure --enable-tls) lists ssl_* before num_napi_ids, as memcached's.
        my ($at) = grep { $want_settings[$_] eq 'num_napi_ids' } 0 .. $#want_settings;
        splice @want_settings, $at, 0, qw(ssl_enabled ssl_chain_cert ssl_key ssl_verify_mode
            ssl_keyformat ssl_ciphers ssl_ca_cert ssl_wbuf_size ssl_session_cache ssl_kernel_tls
            ssl_min_version);
    }
    if (grep { $_ eq 'drop_privileges' } @$settings) {
        # A build with libseccomp lists drop_privileges after inline_ascii_response, as memcached's.
        my ($at) = grep { $want_settings[$_] eq 'inline_ascii_response' } 0 .. $#want_settings;
        splice @want_settings, $at + 1, 0, 'drop_privileges';
    }
    # Ours alone, last: the request__sample probe's rate (docs/probes.md).
    push @want_settings, 'probe_sample_rate';
    push @want_settings, 'latency_stats';   # ours: -o latency_stats (docs/metrics.md)
    is_deeply($settings, \@want_settings, 'stats settings: memcached\'s names, in order');
        is_deeply(stat_names($s, 'slabs'), [ (map { "N:$_" } @SLABS_CLASS) x 2, @SLABS_TOTAL ],
                  'stats slabs: memcached\'s names, in order');
    my $all = stat_names($s);
    my ($from) = grep { $all->[$_] eq 'hash_power_level' } 0 .. $#$all;
    my @storage = defined $from ? @{$all}[$from .. $#$all] : ();
        is_deeply(\@storage, \@STATS_STORAGE, 'stats, from hash_power_level on: memcached\'s names, in order');
    my %have = map { $_ => 1 } @storage;
    my @core = qw(hash_power_level hash_bytes hash_is_expanding slab_reassign_rescues
                  slab_reassign_busy_items slab_reassign_running slabs_moved lru_crawler_running
                  lru_crawler_starts bytes curr_items total_items expired_unfetched
                  evicted_unfetched evicted_active evictions reclaimed crawler_reclaimed
                  crawler_items_checked);
    is_deeply([ grep { !$have{$_} } @core ], [], 'the core storage stats are all there');
}

# --- slabs automove: its arguments ----------------------------------------------------------
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    my $BADFMT = "CLIENT_ERROR bad command line format\r\n";
    my $WINDOW = "CLIENT_ERROR automove window too low or too high\r\n";
    my $setting = sub { mem_stats($s, 'settings')->{$_[0]} };
    line_is($s, "slabs automove invalid\r\n", $BADFMT, 'automove invalid: bad command line format');
    line_is($s, "slabs automove -1\r\n", $BADFMT, 'automove -1: bad command line format');
    line_is($s, "slabs automove 1x\r\n", $BADFMT, 'automove 1x: bad command line format');
    line_is($s, "slabs automove 4294967297\r\n", $BADFMT, 'automove past 32 bits: bad command line format');
    line_is($s, "slabs automove 3\r\n", "ERROR\r\n", 'automove 3: ERROR');
    line_is($s, "slabs automove 2 10\r\n", "OK\r\n", 'automove 2 with a stray token: OK');
    is($setting->('slab_automove'), 2, '  slab_automove 2');
    line_is($s, "slabs automove window 2\r\n", $WINDOW, 'window 2: too low');
    line_is($s, "slabs automove window 0\r\n", $WINDOW, 'window 0: too low');
    line_is($s, "slabs automove window 1801\r\n", $WINDOW, 'window 1801: too high');
    line_is($s, "slabs automove window x\r\n", $BADFMT, 'window x: bad command line format');
    line_is($s, "slabs automove window -1\r\n", $BADFMT, 'window -1: bad command line format');
    line_is($s, "slabs automove window\r\n", $BADFMT, 'window without a value: bad command line format');
    is($setting->('slab_automove_window'), 10, '  the window is still 10');
    line_is($s, "slabs automove window 3\r\n", "OK\r\n", 'window 3: OK');
    is($setting->('slab_automove_window'), 3, '  slab_automove_window 3');
    line_is($s, "slabs automove window 1800\r\n", "OK\r\n", 'window 1800: OK');
    is($setting->('slab_automove_window'), 1800, '  slab_automove_window 1800');
    line_is($s, "slabs automove ratio 0.5\r\n", "OK\r\n", 'ratio 0.5: OK');
    is($setting->('slab_automove_ratio'), '0.50', '  slab_automove_ratio 0.50');
    line_is($s, "slabs automove ratio x\r\n", "ERROR\r\n", 'ratio x: ERROR');
    line_is($s, "slabs automove freeratio 0.5\r\n", "OK\r\n", 'freeratio 0.5: OK');
    line_is($s, "slabs automove freeratio\r\n", "ERROR\r\n", 'freeratio without a value: ERROR');
    line_is($s, "slabs automove windows 5\r\n", $BADFMT, 'an unknown word: bad command line format');
}

# --- the global page pool -------------------------------------------------------------------
# Class 12 holds 1000 B values (885 a page); a page moved to class 0 waits in
# the pool and is the first page the next growing class gets.
{
    my $srv = start_server(args => '-m 4 -o slab_automove=0');
    my $s = $srv->new_sock;
    fill($s, 'p', 1, 2500, sub { 'x' x 1000 });
    my $sl = mem_stats($s, 'slabs');
    is($sl->{'12:total_pages'}, 3, '2500 values of 1000 B: three pages of class 12');
    my $moved = sub {
        my ($n) = @_;
        poll_stats($s, undef, sub { $_[0]{slabs_moved} >= $n && !$_[0]{slab_reassign_running} });
    };
    line_is($s, "slabs reassign 12 0\r\n", "OK\r\n", 'slabs reassign 12 0: OK');
    my $st = $moved->(1);
    is($st->{slab_global_page_pool}, 1, 'the page went to the global pool');
    $sl = mem_stats($s, 'slabs');
    is($sl->{'12:total_pages'}, 2, 'class 12: 3 pages -> 2');
    is($sl->{total_malloced}, 3 * 1048576, 'total_malloced unchanged: pooled pages stay taken');
    cmp_ok($st->{evictions} + $st->{slab_reassign_rescues}, '>=', 885,
           'each of the 885 items of the page was rescued or evicted');
    is($st->{curr_items}, 2500 - $st->{evictions}, 'the rest are all still there');
    line_is($s, "slabs reassign 0 5\r\n", $NOSPARE, 'a pool of one page: NOSPARE');
    line_is($s, "slabs reassign 0 -1\r\n", $BADCLASS, 'dst -1 from the pool: BADCLASS');
    line_is($s, "slabs reassign 0 0\r\n", $SAME, '0 0: SAME');
    line_is($s, "slabs reassign -1 0\r\n", "OK\r\n", 'src -1 (the server picks class 12) to the pool: OK');
    is($moved->(2)->{slab_global_page_pool}, 2, 'the pool holds 2');
    line_is($s, "slabs reassign 0 5\r\n", "OK\r\n", 'a pool of two pages gives one: OK');
    $st = $moved->(3);
    is($st->{slab_global_page_pool}, 1, 'the pool holds 1');
    is(mem_stats($s, 'slabs')->{'5:total_pages'}, 1, 'class 5 got it');
    send_expect($s, "set fresh 0 0 5000\r\n" . ('f' x 5000) . "\r\n", "STORED\r\n", 'a 5000 B value: a new class');
    $sl = mem_stats($s, 'slabs');
    is(mem_stats($s)->{slab_global_page_pool}, 0, 'its page came from the pool');
    is($sl->{total_malloced}, 3 * 1048576, 'total_malloced still 3 pages');
    is($sl->{'19:total_pages'}, 1, 'class 19 has the page');
}

# --- cache_memlimit lowered: the automover gives free pages back ------------------------------
{
    my $srv = start_server(args => '-m 32 -o slab_automove_window=3');
    my $s = $srv->new_sock;
    fill($s, 'g', 1, 25_000, sub { 'x' x 1000 });
    is(mem_stats($s, 'slabs')->{total_malloced}, 29 * 1048576, '25000 values of 1000 B: 29 pages');
    send_bytes($s, join('', map { "delete g$_ noreply\r\n" } 1 .. 25_000) . "version\r\n");
    like(read_line($s, 30), qr/^VERSION/, 'deleted every value');
    line_is($s, "cache_memlimit 8\r\n", "OK\r\n", 'cache_memlimit 8');
    my $sl = poll_stats($s, 'slabs', sub { $_[0]{total_malloced} <= 8 * 1048576 &&
                                           $_[0]{'12:total_pages'} <= 2 }, 20);
    is($sl->{total_malloced}, 8 * 1048576, 'total_malloced shrinks to the new limit');
    is($sl->{'12:total_pages'}, 2, 'class 12 keeps two pages (under 2.5 pages free)');
    my $st = mem_stats($s);
    is($st->{slab_global_page_pool}, 6, 'the pages moved past the limit wait in the pool');
    is($st->{slabs_moved}, 27, '27 pages moved');
}

# --- pages holding chunks of large values are rescued, not lost --------------------------------
{
    my $srv = start_server(args => '-m 128 -I 2m -o slab_automove=0');
    my $s = $srv->new_sock;
    send_expect($s, "set tiny 0 0 1\r\nt\r\n", "STORED\r\n", 'class 1 gets its page');
    my %v;
    for my $i (1 .. 30) {
        my $n = 1100 * 1024 + (($i * 48_271) % (900 * 1024));
        $v{"big$i"} = chr(64 + $i) x $n;
        send_expect($s, "set big$i 0 0 $n\r\n$v{\"big$i\"}\r\n", "STORED\r\n", "big$i ($n B)")
            or last;
    }
    # A value stored and deleted leaves free chunks in the largest class.
    send_expect($s, "set pad 0 0 1900000\r\n" . ('p' x 1900000) . "\r\n", "STORED\r\n", 'a 1.9 MB value');
    send_expect($s, "delete pad\r\n", "DELETED\r\n", 'deleted: free chunks in class 39');
    my $moves = 0;
    for my $j (1 .. 10) {
        my ($src, $dst) = $j % 2 ? (39, 1) : (1, 39);
        line_is($s, "slabs reassign $src $dst\r\n", "OK\r\n", "move $j: $src -> $dst") or last;
        $moves++;
        poll_stats($s, undef, sub { $_[0]{slabs_moved} >= $moves && !$_[0]{slab_reassign_running} });
    }
    my $st = mem_stats($s);
    is($st->{slabs_moved}, 10, 'ten pages moved');
    is($st->{evictions}, 0, 'no value was evicted');
    cmp_ok($st->{slab_reassign_chunk_rescues}, '>', 0,
           "chunks of large values were rescued ($st->{slab_reassign_chunk_rescues})");
    my $bad = 0;
    for my $k (sort keys %v) {
        send_bytes($s, "get $k\r\n");
        my $want = "VALUE $k 0 " . length($v{$k}) . "\r\n$v{$k}\r\nEND\r\n";
        $bad++ if (read_bytes($s, length $want, 10) // '') ne $want;
    }
    is($bad, 0, 'all 30 large values read back byte-exact');
}

# --- per-class operation counters ------------------------------------------------------------
{
    my $srv = start_server(args => '-m 64');
    my $s = $srv->new_sock;
    send_expect($s, "set d1 0 0 5\r\nhello\r\nset d2 0 0 5\r\nhello\r\n", "STORED\r\n" x 2, 'two 5 B values');
    send_expect($s, "delete d1\r\n", "DELETED\r\n", 'delete d1');
    send_expect($s, "md d2\r\n", "HD\r\n", 'md d2');
    send_expect($s, "delete nope\r\n", "NOT_FOUND\r\n", 'delete of a missing key');
    is(mem_stats($s, 'slabs')->{'1:delete_hits'}, 2, 'stats slabs 1:delete_hits counts delete and md');
}

# --- -o hashpower ------------------------------------------------------------------------------
# memcached refuses a hash table no larger than its item lock table, whose
# size grows with -t (2^12 for -t 4, 2^10 for -t 1), and anything below 12.
{
    my $r = eval { start_server(args => '-m 64 -o hashpower=11') };
    ok(!$r, 'hashpower=11: the server refuses to start');
    like($@, qr/Initial hashtable multiplier of 11 is too low/, '  with memcached\'s message');
    my $srv = start_server(args => '-m 64 -o hashpower=13');
    my $st = mem_stats($srv->new_sock);
    is($st->{hash_power_level}, 13, 'hashpower=13: hash_power_level 13');
    is($st->{hash_bytes}, 8 << 13, '  hash_bytes 64 KB');
        my $one = start_server(args => '-m 64 -t 1 -o hashpower=12');
        $st = mem_stats($one->new_sock);
        is($st->{hash_power_level}, 12, '-t 1 -o hashpower=12: hash_power_level 12');
        $r = eval { start_server(args => '-m 64 -t 4 -o hashpower=12') };
        ok(!$r, '-t 4 -o hashpower=12: refused (not larger than the lock table)');
        like($@ // '', qr/Hash table power size \(12\) cannot be equal to or less than item lock table \(12\)/,
             '  with memcached\'s message');
}

done_testing;
