#!/usr/bin/perl
# ASCII misc commands: version, verbosity, flush_all, quit, unknown
# commands, and the general "stats" group.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my $srv = start_server(args => '-m 32 -t 2');
my $s = $srv->new_sock;

# --- version ------------------------------------------------------------------
send_bytes($s, "version\r\n");
my $vline = read_line($s) // '';
like($vline, qr/^VERSION \S+\r\n\z/, 'version');
my ($version) = $vline =~ /^VERSION (\S+)/;

# --- verbosity ------------------------------------------------------------------
send_expect($s, "verbosity 1\r\n", "OK\r\n", 'verbosity 1');
send_expect($s, "verbosity 0\r\n", "OK\r\n", 'verbosity 0');
send_expect($s, "verbosity 1 2\r\n", "OK\r\n", 'verbosity ignores an extra token');
send_bytes($s, "verbosity 0 noreply\r\n");
expect_nothing($s, 200, 'verbosity noreply: no reply');
send_expect($s, "verbosity abc\r\n", "CLIENT_ERROR bad command line format\r\n", 'verbosity abc');
send_expect($s, "verbosity invalid\r\n", "CLIENT_ERROR bad command line format\r\n", 'verbosity invalid');
send_bytes($s, "verbosity invalid noreply\r\n");
expect_nothing($s, 200, 'verbosity invalid noreply: no reply');
# 1.6.18 said ERROR here.
send_expect($s, "verbosity\r\n", "CLIENT_ERROR bad command line format\r\n", 'verbosity without level');

# --- unknown commands -------------------------------------------------------------
send_expect($s, "bogus\r\n", "ERROR\r\n", 'unknown command');
send_expect($s, "bogus with args 1 2 3\r\n", "ERROR\r\n", 'unknown command with arguments');
send_expect($s, "GET foo\r\n", "ERROR\r\n", 'commands are case-sensitive');
send_expect($s, "gett foo\r\n", "ERROR\r\n", 'near miss of a command name');
send_expect($s, "version\r\n", $vline, 'connection fine after ERRORs');

# --- flush_all --------------------------------------------------------------------
send_expect($s, "set f1 0 0 1\r\na\r\nset f2 0 0 1\r\nb\r\n", "STORED\r\nSTORED\r\n", 'two items');
send_expect($s, "flush_all\r\n", "OK\r\n", 'flush_all');
send_expect($s, "get f1 f2\r\n", "END\r\n", 'items gone after flush_all');
send_expect($s, "set f1 0 0 1\r\nc\r\n", "STORED\r\n", 'set after flush_all');
mem_get_is($s, 'f1', 'c', 'items stored after flush_all are kept');
send_expect($s, "add f2 0 0 1\r\nd\r\n", "STORED\r\n", 'add over a flushed key succeeds');
send_expect($s, "flush_all 0\r\n", "OK\r\n", 'flush_all 0');
send_expect($s, "get f1 f2\r\n", "END\r\n", 'flush_all 0 is immediate');

send_expect($s, "set f3 0 0 1\r\ne\r\n", "STORED\r\n", 'set f3');
send_bytes($s, "flush_all noreply\r\n");
expect_nothing($s, 200, 'flush_all noreply: no reply');
mem_get_is($s, 'f3', undef, 'flush_all noreply flushed');
send_expect($s, "set f3 0 0 1\r\ne\r\n", "STORED\r\n", 'set f3 again');
send_bytes($s, "flush_all 0 noreply\r\n");
expect_nothing($s, 200, 'flush_all 0 noreply: no reply');
mem_get_is($s, 'f3', undef, 'flush_all 0 noreply flushed');

send_expect($s, "flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n", 'flush_all abc');

# Delayed flush: items stay until the delay passes.  The server's clock
# moves in whole seconds and a delay of N takes effect N-1 ticks later, so
# use a long delay to check "still there" and a short one, with polling,
# to check "gone".
send_expect($s, "set d1 0 0 1\r\nx\r\n", "STORED\r\n", 'set d1');
send_expect($s, "flush_all 100\r\n", "OK\r\n", 'flush_all 100');
mem_get_is($s, 'd1', 'x', 'item still there right after a delayed flush');
send_expect($s, "flush_all 3\r\n", "OK\r\n", 'flush_all 3');
mem_get_is($s, 'd1', 'x', 'item still there right after flush_all 3');
my $gone = 0;
my $until = time + 10;
while (time < $until) {
    sleep 0.1;
    send_bytes($s, "get d1\r\n");
    my $l = read_line($s) // '';
    if ($l eq "END\r\n") { $gone = 1; last }
    read_bytes($s, 3 + 5);    # "x\r\n" and "END\r\n"
}
ok($gone, 'item gone (within 10 s) after flush_all 3');

# --- stats ------------------------------------------------------------------------
# A fresh server, so the counters start from a known state.
my $srv2 = start_server(args => '-m 32 -t 2');
my $t = $srv2->new_sock;
my $st = mem_stats($t);
for my $name (qw(pid uptime time version curr_connections total_connections cmd_get
                 cmd_set get_hits get_misses curr_items total_items bytes evictions
                 limit_maxbytes threads)) {
    ok(exists $st->{$name}, "stats has $name");
}
is($st->{pid}, $srv2->pid, 'pid is the server pid');
ok($st->{uptime} =~ /^\d+$/ && $st->{uptime} < 60, "uptime is small ($st->{uptime})");
ok($st->{time} =~ /^\d+$/ && abs($st->{time} - time) <= 2, "time is the unix time ($st->{time})");
is($st->{version}, $version, 'version matches the version command');
is($st->{limit_maxbytes}, 32 * 1024 * 1024, 'limit_maxbytes follows -m');
is($st->{threads}, 2, 'threads follows -t');
ok($st->{curr_connections} >= 1, "curr_connections >= 1 ($st->{curr_connections})");
ok($st->{total_connections} >= $st->{curr_connections}, 'total_connections >= curr_connections');
is($st->{$_}, 0, "$_ starts at 0")
    for qw(cmd_get cmd_set get_hits get_misses curr_items total_items evictions bytes);

# A known workload.
send_expect($t, "set a 0 0 1\r\n1\r\nset b 0 0 2\r\n22\r\nset c 0 0 3\r\n333\r\n",
            "STORED\r\nSTORED\r\nSTORED\r\n", 'three sets');
send_expect($t, "set a 0 0 1\r\n9\r\n", "STORED\r\n", 'overwrite a');
send_expect($t, "add a 0 0 1\r\n0\r\n", "NOT_STORED\r\n", 'failed add');
send_expect($t, "get a b zz\r\n", "VALUE a 0 1\r\n9\r\nVALUE b 0 2\r\n22\r\nEND\r\n", 'get 3 keys, 1 miss');
send_expect($t, "get zz\r\n", "END\r\n", 'get a miss');
send_bytes($t, "gets c\r\n");
like(read_line($t) // '', qr/^VALUE c 0 3 \d+\r\n\z/, 'gets c');
is(read_bytes($t, 10), "333\r\nEND\r\n", 'gets c data');
my $st2 = mem_stats($t);
is($st2->{cmd_get}, 5, 'cmd_get counts keys, not commands');
is($st2->{get_hits}, 3, 'get_hits');
is($st2->{get_misses}, 2, 'get_misses');
is($st2->{cmd_set}, 5, 'cmd_set counts every storage attempt');
is($st2->{curr_items}, 3, 'curr_items');
is($st2->{total_items}, 4, 'total_items counts successful stores');
ok($st2->{bytes} > 0, "bytes grew ($st2->{bytes})");
is($st2->{evictions}, 0, 'no evictions');

my $t2 = $srv2->new_sock;
my $st3 = mem_stats($t2);
is($st3->{curr_connections}, $st2->{curr_connections} + 1, 'curr_connections counts a new client');
is($st3->{total_connections}, $st2->{total_connections} + 1, 'total_connections counts it too');
close $t2;

send_expect($t, "flush_all\r\n", "OK\r\n", 'flush_all');
send_expect($t, "get a b c\r\n", "END\r\n", 'all gone');
my $st4 = mem_stats($t);
is($st4->{cmd_flush}, 1, 'cmd_flush counts flush_all');
is($st4->{get_misses}, 5, 'flushed items count as misses');

send_expect($t, "stats bogus\r\n", "ERROR\r\n", 'unknown stats group');

# --- quit -------------------------------------------------------------------------
send_bytes($s, "quit\r\n");
expect_closed($s, 'quit closes the connection without a reply');
my $q = $srv->new_sock;
send_bytes($q, "get f1\r\nquit\r\nget f1\r\n");
is(read_line($q), "END\r\n", 'commands before quit are answered');
expect_closed($q, 'nothing after quit is answered');
my $alive = $srv->new_sock;
send_expect($alive, "version\r\n", $vline, 'server still serves new connections after quit');

# --- lru_crawler metadump / mgdump -----------------------------------------------
# "OK", one line per live item (oldest first), then END (mgdump: "mg <key>"
# lines, base64 with " b" for binary keys, then EN). Like watch, a dump
# must come first in its read.
{
    # (No LRU maintainer: it would move items between segments meanwhile.)
    my $srv3 = start_server(args => '-m 32 -o no_lru_maintainer');
    my $c = $srv3->new_sock;
    send_expect($c, "set d1 0 0 1\r\nx\r\n", "STORED\r\n", 'd1');
    send_expect($c, "ms YmluYXJ5a2V5 1 b\r\ny\r\n", "HD\r\n", 'binary key');
    send_expect($c, "set sp%ace 5 0 1\r\nz\r\n", "STORED\r\n", 'key with %');
    for my $arg ('all', '1', 'hash') {
        send_bytes($c, "lru_crawler metadump $arg\r\n");
        my $text = '';
        while (defined(my $l = read_line($c))) {
            $text .= $l;
            last if $l =~ /^END\r\n\z/ || $l =~ /^[A-Z_]+ .*\r\n\z/ && $l !~ /^OK/;
        }
        my @keys = $text =~ /^key=(\S+) /mg;
        like($text, qr/\AOK\r\nkey=/, "metadump $arg starts with OK");
        is("@keys", 'd1 binarykey sp%25ace', "metadump $arg: every item, oldest first");
    }
    send_expect($c, "lru_crawler mgdump all\r\n",
                "OK\r\nmg d1\r\nmg YmluYXJ5a2V5 b\r\nmg sp%ace\r\nEN\r\n", 'mgdump all');
    send_expect($c, "lru_crawler metadump all extra\r\n", "ERROR\r\n", 'metadump with an extra token');
    send_expect($c, "lru_crawler metadump 99\r\n", "BADCLASS invalid class id\r\n", 'metadump bad class');
    send_expect($c, "version\r\nlru_crawler metadump all\r\n",
                "$vline" . "ERROR cannot pipeline other commands before metadump\r\n",
                'metadump after version in one write: refused');
    send_expect($c, "mn\r\nlru_crawler mgdump 1\r\n",
                "MN\r\nOK\r\nmg d1\r\nmg YmluYXJ5a2V5 b\r\nmg sp%ace\r\nEN\r\n",
                'mgdump after mn: served');
    # The dumps run on the LRU crawler: switched off, they are refused
    # before anything else is looked at (pipelining, -X, the class list).
    send_expect($c, "lru_crawler disable\r\n", "OK\r\n", 'crawler off');
    for my $cmd ('lru_crawler metadump all', 'lru_crawler metadump hash', 'lru_crawler mgdump 1',
                 'lru_crawler metadump 99', "version\r\nlru_crawler mgdump all") {
        my $before = $cmd =~ /^version/ ? $vline : '';
        send_expect($c, "$cmd\r\n", $before . "CLIENT_ERROR lru crawler disabled\r\n",
                    "crawler off: $cmd refused");
    }
    send_expect($c, "lru_crawler metadump all x\r\n", "ERROR\r\n", 'crawler off: extra token still ERROR');
}
{
    my $srv4 = start_server(args => '-X');
    my $c = $srv4->new_sock;
    send_expect($c, "lru_crawler metadump all\r\n", "ERROR metadump not allowed\r\n", '-X: metadump refused');
    send_expect($c, "lru_crawler mgdump all\r\n", "ERROR key dump not allowed\r\n", '-X: mgdump refused');
}
{
    my $srv5 = start_server(args => '-X -o no_lru_crawler');
    my $c = $srv5->new_sock;
    send_expect($c, "lru_crawler mgdump all\r\n", "CLIENT_ERROR lru crawler disabled\r\n",
                '-X without a crawler: the crawler is named first');
}

# --- which lines "stats" prints --------------------------------------------------
# memcached 1.6.45's general stats, in its order, with every part on; the
# slab mover's, the LRU crawler's and the LRU maintainer's lines are left
# out when that part is off (and rejected_connections without maxconns_fast).
{
    my @all = qw(pid uptime time version libevent pointer_size rusage_user rusage_system
        max_connections curr_connections total_connections rejected_connections
        connection_structures response_obj_oom response_obj_count response_obj_bytes
        read_buf_count read_buf_bytes read_buf_bytes_free read_buf_oom reserved_fds cmd_get
        cmd_set cmd_flush cmd_touch cmd_meta get_hits get_misses get_expired get_flushed
        delete_misses delete_hits incr_misses incr_hits decr_misses decr_hits cas_misses
        cas_hits cas_badval touch_hits touch_misses store_too_large store_no_memory auth_cmds
        auth_errors bytes_read bytes_written limit_maxbytes accepting_conns
        listen_disabled_num time_in_listen_disabled_us threads conn_yields hash_power_level
        hash_bytes hash_is_expanding slab_reassign_rescues slab_reassign_chunk_rescues
        slab_reassign_inline_reclaim slab_reassign_busy_items slab_reassign_busy_deletes
        slab_reassign_busy_nomem slab_reassign_last_busy_status slab_reassign_running
        slabs_moved lru_crawler_running lru_crawler_starts lru_maintainer_juggles
        malloc_fails log_worker_dropped log_worker_written log_watcher_skipped
        log_watcher_sent log_watchers unexpected_napi_ids round_robin_fallback bytes
        curr_items total_items slab_global_page_pool expired_unfetched evicted_unfetched
        evicted_active evictions reclaimed crawler_reclaimed crawler_items_checked
        lrutail_reflocked moves_to_cold moves_to_warm moves_within_lru direct_reclaims
        lru_bumps_dropped);
    my %group = (
        mover => [qw(slab_reassign_rescues slab_reassign_chunk_rescues slab_reassign_inline_reclaim
                     slab_reassign_busy_items slab_reassign_busy_deletes slab_reassign_busy_nomem
                     slab_reassign_last_busy_status slab_reassign_running slabs_moved)],
        crawler => [qw(lru_crawler_running lru_crawler_starts)],
        maintainer => [qw(lru_maintainer_juggles evicted_active moves_to_cold moves_to_warm
                          moves_within_lru direct_reclaims lru_bumps_dropped)],
        fast => ['rejected_connections'],
    );
    for my $case (['', []], ['-o no_lru_crawler', ['crawler']],
                  ['-o no_lru_maintainer', ['maintainer']],
                  ['-o no_lru_crawler,no_lru_maintainer', ['crawler', 'maintainer']],
                  ['-o no_slab_reassign', ['mover']],
                  ['-o no_modern', ['mover', 'crawler', 'maintainer', 'fast']],
                  ['-o no_maxconns_fast', ['fast']]) {
        my ($flags, $off) = @$case;
        my %drop = map { ($_ => 1) } map { @{ $group{$_} } } @$off;
        my @want = grep { !$drop{$_} } @all;
        my $srv4 = start_server(args => "-m 32 -t 3 $flags");
        my $c = $srv4->new_sock;
        send_bytes($c, "stats\r\n");
        my (@got, %val);
        while (defined(my $l = read_line($c))) {
            last if $l eq "END\r\n";
            my ($n, $v) = $l =~ /^STAT (\S+) (.*)\r\n\z/ or last;
            push @got, $n;
            $val{$n} = $v;
        }
        is("@got", "@want", 'stats lines with ' . ($flags || 'defaults') . ' (' . scalar(@want) . ')');
        is($val{reserved_fds}, 15, 'reserved_fds: five per worker thread');
        $srv4->stop;
    }
    # Switching the crawler off at run time drops its lines too.
    my $srv5 = start_server(args => '-m 32');
    my $c = $srv5->new_sock;
    send_expect($c, "lru_crawler disable\r\n", "OK\r\n", 'lru_crawler disable');
    my $st = mem_stats($c);
    ok(!exists $st->{lru_crawler_running} && !exists $st->{lru_crawler_starts},
       'no crawler lines once it is disabled');
    $srv5->stop;
}

done_testing;
