#!/usr/bin/perl
# The provider's probes fire when they should, as often as they should, with
# the arguments PROBES.md promises.  Each scenario runs a known workload
# under bpftrace (trap_probe) with counts chosen to be distinct (23 sets,
# 29 key lookups, 7 deletes, 11 incrs), so an extra or missing hit shows.
# Every probe line printed here starts with nsecs and is sorted on it, since
# bpftrace's per-CPU buffers may hand lines over out of order.
# Needs root and bpftrace; skipped otherwise (failed under
# MEMCACHED_REQUIRE_PROBES).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes ();
use McTest;

require_probes_or_skip('all');

# bpftrace before 0.24 cannot read a USDT argument past arg5 on x86_64, so
# request__done's elapsed_ns (arg6) is checked only where it can be read.
sub bpftrace_reads_arg6 {
    my ($v) = `bpftrace --version 2>/dev/null` =~ /v?(\d+\.\d+)/;
    return defined $v && $v >= 0.24;
}
my $ARG6 = bpftrace_reads_arg6();

# Runs $program under trap_probe and returns its lines split on '|',
# sorted on their first field (nsecs).
sub trace {
    my ($srv, $program, $client, %opt) = @_;
    my @lines = trap_probe($srv, $program, $client, %opt);
    my @rows = map { [ split /\|/, $_, -1 ] } grep { /^\d+\|/ } @lines;
    my @other = grep { !/^\d+\|/ } @lines;
    diag("unexpected bpftrace output: $_") for @other;
    return sort { $a->[0] <=> $b->[0] } @rows;
}

sub count_of { my ($rows, $probe) = @_; return scalar grep { $_->[1] eq $probe } @$rows }
sub rows_of  { my ($rows, $probe) = @_; return grep { $_->[1] eq $probe } @$rows }

my $U = 'usdt:{BIN}:memcached';

# ============================================================ commands, requests, connections
{
    my $srv = start_server(args => '-m 16 -t 4');

    # The workload: [request bytes, expected reply, request line as the
    # process__command__start probe should show it].
    my @work;
    my %value;
    for my $i (1 .. 22) {
        my $key = sprintf 'key:%02d', $i;
        $value{$key} = chr(ord('a') + $i % 26) x (3 * $i);
        push @work, ["set $key 0 0 " . (3 * $i) . "\r\n$value{$key}\r\n", "STORED\r\n",
                     "set $key 0 0 " . (3 * $i)];
    }
    $value{ctr} = '100';
    push @work, ["set ctr 0 0 3\r\n100\r\n", "STORED\r\n", 'set ctr 0 0 3'];

    my $value_reply = sub { my $k = shift;
        "VALUE $k 0 " . length($value{$k}) . "\r\n$value{$k}\r\n" };
    for my $i (1 .. 16) {
        my $key = sprintf 'key:%02d', $i;
        push @work, ["get $key\r\n", $value_reply->($key) . "END\r\n", "get $key"];
    }
    for my $i (1 .. 8) {
        my $key = sprintf 'miss:%02d', $i;
        push @work, ["get $key\r\n", "END\r\n", "get $key"];
    }
    push @work, ["get key:17 key:18 miss:09 key:19 miss:10\r\n",
                 join('', map { $value_reply->($_) } qw(key:17 key:18 key:19)) . "END\r\n",
                 'get key:17 key:18 miss:09 key:19 miss:10'];

    for my $key (qw(key:20 key:21 key:22 key:01 key:02)) {
        push @work, ["delete $key\r\n", "DELETED\r\n", "delete $key"];
    }
    push @work, ["delete gone:$_\r\n", "NOT_FOUND\r\n", "delete gone:$_"] for 1 .. 2;

    my $ctr = 100;
    my @incr_values;
    for my $d (1 .. 9) {
        $ctr += $d;
        push @incr_values, $ctr;
        push @work, ["incr ctr $d\r\n", "$ctr\r\n", "incr ctr $d"];
    }
    push @work, ["incr noctr:$_ 1\r\n", "NOT_FOUND\r\n", "incr noctr:$_ 1"] for 1 .. 2;

    push @work, ["bogus\r\n", "ERROR\r\n", 'bogus'];
    # 3 bytes announced, 5 sent, the last two not "\r\n": nothing is left over.
    push @work, ["set bad 0 0 3\r\nabcXY", "CLIENT_ERROR bad data chunk\r\n", 'set bad 0 0 3'];
    push @work, ["quit\r\n", '', 'quit'];

    my ($client_port, $sent, $received) = (0, 0, 0);
    my @rows = trace($srv, <<"BT", sub {
$U:conn__open { printf("%llu|open|%d|%s|%s\\n", nsecs, arg0, str(arg1), str(arg2)); }
$U:conn__close { printf("%llu|close|%d|%s\\n", nsecs, arg0, str(arg1)); }
$U:conn__allocate { printf("%llu|allocate|%d\\n", nsecs, arg0); }
$U:conn__release { printf("%llu|release|%d\\n", nsecs, arg0); }
$U:conn__create { printf("%llu|create|%llu\\n", nsecs, arg0); }
$U:conn__destroy { printf("%llu|destroy|%llu\\n", nsecs, arg0); }
$U:conn__dispatch { printf("%llu|dispatch|%d|%lld\\n", nsecs, arg0, arg1); }
$U:conn__read { printf("%llu|read|%d|%lld\\n", nsecs, arg0, arg1); }
$U:conn__write { printf("%llu|write|%d|%lld\\n", nsecs, arg0, arg1); }
$U:process__command__start { printf("%llu|start|%d|%s|%d\\n", nsecs, arg0, str(arg1, arg2), arg2); }
$U:process__command__end { printf("%llu|end|%d|%d\\n", nsecs, arg0, arg2); }
$U:command__set { printf("%llu|set|%d|%s|%d|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3, arg4); }
$U:command__get { printf("%llu|get|%d|%s|%d|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3, arg4); }
$U:command__delete { printf("%llu|delete|%d|%s|%d\\n", nsecs, arg0, str(arg1), arg2); }
$U:command__incr { printf("%llu|incr|%d|%s|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3); }
$U:request__done { printf("%llu|done|%d|%s|%s|%d|%s|%lld\\n", nsecs, arg0, str(arg1), str(arg2), arg3, str(arg4), arg5); }
$U:protocol__error { printf("%llu|error|%d|%s|%s\\n", nsecs, arg0, str(arg1), str(arg2)); }
BT
        my $s = $srv->new_sock;
        $client_port = $s->sockport;
        for my $w (@work) {
            my ($send, $expect, $line) = @$w;
            $sent += length $send;
            $received += length $expect;
            my $name = substr($line, 0, 40);
            if (length $expect) {
                send_expect($s, $send, $expect, "reply to: $name");
            } else {
                send_bytes($s, $send);
            }
        }
        expect_closed($s, 'quit closes the connection');
    # conn__close, conn__release and conn__destroy come from the worker after
    # the client saw the EOF: wait for them before bpftrace is stopped.
    }, wait_for => sub { my $t = join "\n", @_; !grep { $t !~ /^\d+\|$_\|/m } qw(close release destroy) });

    # --- conn__open and the connection's id -----------------------------------
    my @open = grep { $_->[4] eq "127.0.0.1:$client_port" } rows_of(\@rows, 'open');
    is(scalar @open, 1, "conn__open fired once for peer 127.0.0.1:$client_port")
        or diag(join "\n", map { join '|', @$_ } rows_of(\@rows, 'open'));
    my $fd = @open ? $open[0][2] : -1;
    cmp_ok($fd, '>', 2, "connid is a socket fd ($fd)");
    is($open[0][3], 'tcp', 'conn__open transport is tcp') if @open;

    # Only this connection's rows from here on (the harness makes none, but
    # a stray connection must not be counted).
    my @mine = grep { ($_->[2] // '') eq $fd || $_->[1] =~ /^(create|destroy)$/ } @rows;
    is(count_of(\@mine, 'allocate'), 1, 'conn__allocate fired once with the connid');
    is(count_of(\@mine, 'release'), 1, 'conn__release fired once with the connid');
    my @dispatch = rows_of(\@mine, 'dispatch');
    is(scalar @dispatch, 1, 'conn__dispatch fired once with the connid');
    ok(@dispatch && $dispatch[0][3] >= 0 && $dispatch[0][3] < 4,
       'conn__dispatch threadid is a worker index (0..3)');
    my @create = rows_of(\@mine, 'create');
    my @destroy = rows_of(\@mine, 'destroy');
    is(scalar @create, 1, 'conn__create fired once');
    ok(@create && @destroy && $create[0][2] eq $destroy[0][2] && $create[0][2] != 0,
       'conn__destroy gets the address conn__create gave');

    my @close = rows_of(\@mine, 'close');
    is(scalar @close, 1, 'conn__close fired once');
    is($close[0][3], 'client', 'conn__close reason is "client" after quit') if @close;

    # --- bytes ---------------------------------------------------------------
    my $read = 0;  $read += $_->[3] for rows_of(\@mine, 'read');
    my $written = 0;  $written += $_->[3] for rows_of(\@mine, 'write');
    is($read, $sent, "conn__read bytes sum to what the client sent ($sent)");
    is($written, $received, "conn__write bytes sum to what the client received ($received)");

    # --- once per request ----------------------------------------------------
    my @se = grep { $_->[1] eq 'start' || $_->[1] eq 'end' } @mine;
    is(count_of(\@se, 'start'), scalar @work,
       'process__command__start fired once per request (' . scalar(@work) . ')');
    is(count_of(\@se, 'end'), scalar @work, 'process__command__end fired once per request');
    my @expected_se = map { ['start', $_->[2]], ['end', length $_->[1]] } @work;
    my @got_se = map { [$_->[1], $_->[3]] } @se;
    is_deeply(\@got_se, \@expected_se,
              'start/end alternate; start shows the request line, end the reply size')
        or diag(join "\n", map { "$_->[0] $_->[1]" } @got_se[-6 .. -1]);
    my @start_sizes_bad = grep { $_->[1] eq 'start' && $_->[4] != length $_->[3] } @se;
    is(scalar @start_sizes_bad, 0, 'process__command__start size is the line length');

    # --- command probes ------------------------------------------------------
    my @set = rows_of(\@mine, 'set');
    is(scalar @set, 23, 'command__set fired 23 times (not for the bad data chunk)');
    is(scalar(grep { !exists $value{$_->[3]} } @set), 0, 'command__set keys are the keys set')
        or diag(join ', ', map { $_->[3] } @set);
    is(scalar(grep { exists $value{$_->[3]} && $_->[4] != length($_->[3]) } @set), 0,
       'command__set keylen matches str(key) (the key is NUL-terminated)');
    is(scalar(grep { exists $value{$_->[3]} && $_->[5] != length($value{$_->[3]}) } @set), 0,
       'command__set size is the value length');
    is(scalar(grep { $_->[6] <= 0 } @set), 0, 'command__set casid is the stored unique (> 0)');
    my %set_cas = map { $_->[3] => $_->[6] } @set;

    my @get = rows_of(\@mine, 'get');
    is(scalar @get, 29, 'command__get fired 29 times (once per key of a multi-get)');
    my @hits = grep { $_->[5] >= 0 } @get;
    my @misses = grep { $_->[5] < 0 } @get;
    is(scalar @hits, 19, '19 of them hits');
    is(scalar @misses, 10, '10 of them misses');
    is_deeply([ sort map { $_->[3] } @misses ], [ map { sprintf 'miss:%02d', $_ } 1 .. 10 ],
              'misses name the missing keys');
    is(scalar(grep { $_->[5] != -1 || $_->[6] != 0 } @misses), 0, 'a miss has size -1, casid 0');
    is(scalar(grep { !exists $value{$_->[3]} || $_->[5] != length($value{$_->[3]}) } @hits), 0,
       'a hit has the value length as size');
    is(scalar(grep { $_->[6] != ($set_cas{$_->[3]} // -1) } @hits), 0,
       'a hit has the casid command__set reported');
    is(scalar(grep { $_->[4] != length $_->[3] } @get), 0, 'command__get keylen matches str(key)');
    is_deeply([ map { $_->[3] } @get[-5 .. -1] ], [qw(key:17 key:18 miss:09 key:19 miss:10)],
              'the multi-get fires in key order');

    my @del = rows_of(\@mine, 'delete');
    is_deeply([ map { "$_->[3]/$_->[4]" } @del ],
              [ map { "$_/" . length } qw(key:20 key:21 key:22 key:01 key:02 gone:1 gone:2) ],
              'command__delete fired 7 times with each key and its length');

    my @incr = rows_of(\@mine, 'incr');
    is(scalar @incr, 11, 'command__incr fired 11 times');
    is_deeply([ map { $_->[5] } @incr ], [ @incr_values, -1, -1 ],
              'command__incr value is the new value, -1 on a miss');
    is_deeply([ map { $_->[3] } @incr ], [ ('ctr') x 9, 'noctr:1', 'noctr:2' ],
              'command__incr keys');

    # --- request__done ------------------------------------------------------
    my @done = rows_of(\@mine, 'done');
    my %by;
    $by{"$_->[3]/$_->[6]"}++ for @done;
    is_deeply(\%by, { 'set/stored' => 23, 'set/error' => 1,
                      'get/hit' => 19, 'get/miss' => 10,
                      'delete/deleted' => 5, 'delete/not_found' => 2,
                      'incr/stored' => 9, 'incr/not_found' => 2 },
              'request__done counts by cmd/status');
    is(scalar(grep { $_->[5] != length $_->[4] } @done), 0, 'request__done keylen matches str(key)');
    is_deeply([ sort map { $_->[4] } grep { $_->[6] eq 'miss' } @done ],
              [ map { sprintf 'miss:%02d', $_ } 1 .. 10 ], 'request__done miss: exactly the missing keys');
    is(scalar(grep { $_->[3] eq 'get' && ($_->[6] eq 'miss') != ($_->[4] =~ /^miss:/ ? 1 : 0) } @done), 0,
       'request__done get: miss for every missing key, for no present one');
    is_deeply([ map { "$_->[4]/$_->[6]/$_->[7]" } (grep { $_->[3] eq 'get' } @done)[-5 .. -1] ],
              [ 'key:17/hit/' . length $value{'key:17'}, 'key:18/hit/' . length $value{'key:18'},
                'miss:09/miss/-1', 'key:19/hit/' . length $value{'key:19'}, 'miss:10/miss/-1' ],
              'request__done in a multi-get: a status per key, in key order');
    my @vl_bad = grep {
        my ($cmd, $key, $st, $vl) = @$_[3, 4, 6, 7];
        my $want = ($cmd eq 'set' && $st eq 'stored') || ($cmd eq 'get' && $st eq 'hit')
                   ? length($value{$key} // '') : -1;
        $cmd eq 'set' && $st eq 'error' ? 0 : $vl != $want;
    } @done;
    is(scalar @vl_bad, 0, 'request__done valuelen: value bytes stored or sent, else -1')
        or diag(join "\n", map { join '|', @$_ } @vl_bad);
    my ($bad_done) = grep { $_->[6] eq 'error' } @done;
    is($bad_done->[4], 'bad', 'the bad data chunk reports request__done for key "bad"');

    # --- protocol__error ----------------------------------------------------
    my @err = rows_of(\@mine, 'error');
    is_deeply([ map { "$_->[3]:$_->[4]" } @err ],
              [ 'error:', 'client_error:bad data chunk' ],
              'protocol__error: ERROR for the unknown command, CLIENT_ERROR bad data chunk');
}

# ============================================================ misses of every lookup
# request__done says miss (or not_found for touch) for a key never stored,
# expired, or flushed, whatever the lookup command; hit for the key present.
{
    my $srv = start_server(args => '-m 16');
    my @rows = trace($srv, <<"BT", sub {
$U:request__done { printf("%llu|done|%s|%s|%s|%lld\\n", nsecs, str(arg1), str(arg2), str(arg4), arg5); }
BT
        my $s = $srv->new_sock;
        send_expect($s, "set here 0 0 2\r\nhi\r\nset old 0 -1 1\r\nx\r\nset fl 0 0 1\r\ny\r\n",
                    "STORED\r\n" x 3, 'set here, old (already expired), fl');
        send_expect($s, "get old\r\n", "END\r\n", 'get of an expired item: END');
        send_bytes($s, "gets nope here\r\n");
        like(join('', map { read_line($s) // '' } 1 .. 3), qr/^VALUE here 0 2 \d+\r\nhi\r\nEND\r\n\z/,
             'gets: only the present key');
        send_bytes($s, "gat 100 nope here\r\n");
        is(join('', map { read_line($s) // '' } 1 .. 3), "VALUE here 0 2\r\nhi\r\nEND\r\n", 'gat: only the present key');
        send_expect($s, "gats 100 nope\r\n", "END\r\n", 'gats miss: END');
        send_expect($s, "touch nope 100\r\n", "NOT_FOUND\r\n", 'touch miss: NOT_FOUND');
        send_expect($s, "mg nope v\r\n", "EN\r\n", 'mg miss: EN');
        send_expect($s, "flush_all\r\n", "OK\r\n", 'flush_all');
        send_expect($s, "get fl\r\n", "END\r\n", 'get of a flushed item: END');
    });
    is_deeply([ map { join '|', @$_[2 .. 5] } @rows ], [
        'set|here|stored|2', 'set|old|stored|1', 'set|fl|stored|1',
        'get|old|miss|-1',
        'gets|nope|miss|-1', 'gets|here|hit|2',
        'gat|nope|miss|-1', 'gat|here|hit|2',
        'gats|nope|miss|-1',
        'touch|nope|not_found|-1',
        'mg|nope|miss|-1',
        'get|fl|miss|-1',
    ], 'request__done: miss for missing, expired and flushed keys, by every lookup command')
        or diag(join "\n", map { join '|', @$_ } @rows);
}

# ============================================================ items, hash table, slabs
{
    my $srv = start_server(args => '-m 16');
    my @rows = trace($srv, <<"BT", sub {
$U:item__link { printf("%llu|link|%s|%d|%d\\n", nsecs, str(arg0), arg1, arg2); }
$U:item__unlink { printf("%llu|unlink|%s|%d|%d\\n", nsecs, str(arg0), arg1, arg2); }
$U:item__remove { printf("%llu|remove|%s|%d|%d\\n", nsecs, str(arg0), arg1, arg2); }
$U:item__replace { printf("%llu|replace|%s|%d|%d|%s|%d|%d\\n", nsecs, str(arg0), arg1, arg2, str(arg3), arg4, arg5); }
$U:assoc__find { printf("%llu|find|%s|%d|%d\\n", nsecs, str(arg0), arg1, arg2); }
$U:assoc__insert { printf("%llu|insert|%s|%d\\n", nsecs, str(arg0), arg1); }
$U:assoc__delete { printf("%llu|adelete|%s|%d\\n", nsecs, str(arg0), arg1); }
$U:slabs__allocate { printf("%llu|alloc|%d|%d|%llu\\n", nsecs, arg0, arg1, arg2); }
$U:slabs__free { printf("%llu|free|%d|%llu\\n", nsecs, arg0, arg1); }
$U:slabs__slabclass__allocate { printf("%llu|page|%d\\n", nsecs, arg0); }
BT
        my $s = $srv->new_sock;
        send_expect($s, "set it:a 0 0 5\r\nhello\r\n", "STORED\r\n", 'set it:a (5 bytes)');
        send_expect($s, "set it:a 0 0 7\r\ngoodbye\r\n", "STORED\r\n", 'set it:a again (7 bytes)');
        mem_get_is($s, 'it:a', 'goodbye');
        send_expect($s, "delete it:a\r\n", "DELETED\r\n", 'delete it:a');
    });

    is_deeply([ map { "$_->[2]/$_->[3]/$_->[4]" } rows_of(\@rows, 'link') ],
              [ 'it:a/4/5', 'it:a/4/7' ], 'item__link: each stored item, with its value size');
    is_deeply([ map { "$_->[2]/$_->[3]/$_->[4]" } rows_of(\@rows, 'unlink') ],
              [ 'it:a/4/5', 'it:a/4/7' ], 'item__unlink: the replaced item, then the deleted one');
    is_deeply([ map { join '/', @$_[2 .. 7] } rows_of(\@rows, 'replace') ],
              [ 'it:a/4/5/it:a/4/7' ], 'item__replace: old and new key and size');
    my @remove = rows_of(\@rows, 'remove');
    ok((grep { $_->[2] eq 'it:a' && $_->[4] == 5 } @remove)
       && (grep { $_->[2] eq 'it:a' && $_->[4] == 7 } @remove)
       && !(grep { $_->[2] ne 'it:a' || $_->[3] != 4 } @remove),
       'item__remove: references to both items dropped, key it:a');

    my @find = rows_of(\@rows, 'find');
    ok(@find >= 4 && !(grep { $_->[2] ne 'it:a' || $_->[3] != 4 } @find),
       'assoc__find: every lookup (set, set, get, delete) names it:a');
    # After the first set the key is in the table: later lookups go >= 1 deep.
    ok(@find >= 4 && !(grep { $_->[4] < 1 } @find[-3 .. -1]),
       'assoc__find depth >= 1 when the key is there');
    is_deeply([ map { "$_->[2]/$_->[3]" } rows_of(\@rows, 'insert') ], [ 'it:a/4', 'it:a/4' ],
              'assoc__insert: twice (set, replacing set)');
    is_deeply([ map { "$_->[2]/$_->[3]" } rows_of(\@rows, 'adelete') ], [ 'it:a/4', 'it:a/4' ],
              'assoc__delete: twice (replaced, deleted)');

    my @alloc = rows_of(\@rows, 'alloc');
    my @free = rows_of(\@rows, 'free');
    is(scalar @alloc, 2, 'slabs__allocate: one chunk per stored item');
    ok(!(grep { $_->[3] < 48 + 4 + 7 || $_->[4] == 0 } @alloc),
       'slabs__allocate: chunk size holds the item, address non-zero');
    is_deeply([ sort map { "$_->[2]/$_->[3]" } @free ], [ sort map { "$_->[2]/$_->[4]" } @alloc ],
              'slabs__free: both chunks go back to the class they came from');
    is_deeply([ map { $_->[2] } rows_of(\@rows, 'page') ], [ @alloc ? $alloc[0][2] : -1 ],
              'slabs__slabclass__allocate: one page, for that class');
}

# ============================================================ stats probes
{
    my $srv = start_server(args => '-m 16');
    my $s = $srv->new_sock;
    my $st = mem_stats($s, 'probes');
    is($st->{'probe:command__get'}, 0, 'stats probes: command__get 0 before tracing');
    is($st->{probes_enabled}, 0, 'stats probes: probes_enabled 0 before tracing');
    my $during;
    my @lines = trap_probe($srv, "$U:command__get { printf(\"get %s\\n\", str(arg1)); }", sub {
        $during = mem_stats($s, 'probes');
        mem_get_is($s, 'traced', undef, 'a get while traced');
    });
    is($during->{'probe:command__get'}, 1, 'stats probes: command__get 1 while one tracer has it');
    is($during->{probes_enabled}, 1, 'stats probes: probes_enabled 1 while traced');
    is($during->{'probe:request__done'}, 0, 'stats probes: an untraced probe stays 0');
    is_deeply(\@lines, ['get traced'], 'the traced get fired command__get');
    $st = mem_stats($s, 'probes');
    is($st->{'probe:command__get'}, 0, 'stats probes: command__get back to 0 after bpftrace ends');
    is($st->{probes_enabled}, 0, 'stats probes: probes_enabled back to 0');

    # Each probe has one site, so a probe fired by every protocol's parser
    # (process__command__end) reads 1 while traced, not one per caller. The
    # kernel enables a site once however many tracers share it, so a second
    # tracer leaves it at 1, and it stays 1 until the last one ends.
    my ($one, $two, $after_inner);
    trap_probe($srv, "$U:process__command__end { \@n = count(); }", sub {
        $one = mem_stats($s, 'probes');
        trap_probe($srv, "$U:process__command__end { \@m = count(); }", sub {
            $two = mem_stats($s, 'probes');
        });
        $after_inner = mem_stats($s, 'probes');
    });
    is($one->{'probe:process__command__end'}, 1, 'stats probes: a probe fired from several places reads 1 when traced');
    is($two->{'probe:process__command__end'}, 1, 'stats probes: still 1 with a second tracer');
    is($after_inner->{'probe:process__command__end'}, 1, 'stats probes: still 1 when only the first is left');
    is(mem_stats($s, 'probes')->{'probe:process__command__end'}, 0, 'stats probes: 0 when both are gone');
}

# ============================================================ request__done elapsed_ns
SKIP: {
    skip 'this bpftrace cannot read arg6 of a USDT probe (needs 0.24 or later)', 2 unless $ARG6;
    my $srv = start_server(args => '-m 16');
    my @rows = trace($srv, "$U:request__done { printf(\"%llu|done|%s|%lld\\n\", nsecs, str(arg2), arg6); }",
                     sub { my $s = $srv->new_sock; mem_get_is($s, 'el', undef) });
    is(scalar @rows, 1, 'request__done fired once');
    ok(@rows && $rows[0][3] > 0 && $rows[0][3] < 1e9, 'elapsed_ns is positive and under a second');
}

done_testing();
