#!/usr/bin/perl
# The bpftrace tools in tools/ against a live server.  Each tool runs for a
# fixed duration (-d) while a scripted load plays; the test then reads what
# it printed.
#
# Request tools (mcsnoop, mctop.bt whole keys and -P prefixes, mclatency,
# mcslower): a hot key read at 10 times the rate of each of 500 other keys,
# a missing key read at 5 times that rate (every read a miss),
# plus one request slowed on purpose (the debug build's "debugsleep <ms>
# <key>").  Server tools: mcevict over a 2 MB cache filled with 4 KB values,
# mcconn over error replies, quits, a dropped connection and an idle-timeout
# close.  Every tool has a server of its own and all run at once.
#
# Tolerance: the load runs entirely inside every tool's window, so map
# counts are exact; per-event output (mcsnoop) may lose events when
# bpftrace's buffers overflow, so counts there are allowed 1% short, and
# as many more as bpftrace reports lost.
# Needs root and bpftrace; skipped otherwise (failed under
# MEMCACHED_REQUIRE_PROBES).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use McTest;

require_probes_or_skip('all');

my $TOOLS = "$FindBin::Bin/../tools";
# Seconds each tool runs (-d): room for nine bpftraces to attach on a busy
# 2-core machine (over 20 s seen at load average 50) and then the load (up
# to 9 s seen).
my $ATTACH = 40;        # seconds a tool may take to attach
my $DURATION = 60;
my $ROUNDS = 20;        # rounds of the hot-key load
my $HOT = 'hot:key';
my $MISS = 'miss:key';  # never stored: every get of it is a miss
my $NKEYS = 500;

# ---------------------------------------------------------------- running tools

my @tools;              # started, not yet reaped
END { kill 'KILL', -$_->{pid} for grep { $_->{pid} } @tools }

# Starts a tool in its own process group, output to temp files.
# Set in the tool's environment by start_tool (local it around a call).
our %TOOL_ENV;
sub start_tool {
    my ($name, @args) = @_;
    my $out = File::Temp->new(TEMPLATE => "mctool-$name-XXXXXX", TMPDIR => 1);
    my $err = File::Temp->new(TEMPLATE => "mctool-$name-err-XXXXXX", TMPDIR => 1);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        setpgrp(0, 0);
        $ENV{$_} = $TOOL_ENV{$_} for keys %TOOL_ENV;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out->filename or POSIX::_exit(127);
        open STDERR, '>', $err->filename or POSIX::_exit(127);
        no warnings 'exec';
        exec "$TOOLS/$name", @args;
        POSIX::_exit(127);
    }
    my $t = { name => "$name @args", pid => $pid, out => $out, err => $err, started => time };
    push @tools, $t;
    return $t;
}

# Waits until `stats probes` shows every probe in @probes enabled: the
# tool's bpftrace has attached them.  (Its BEGIN banner is no sign: bpftrace
# 0.17 runs BEGIN before attaching USDT probes.)  The semaphore counts
# probes, not tracers, so each tool gets a server of its own.
sub wait_attached {
    my ($t, $srv, @probes) = @_;
    my $s = $srv->new_sock;
    my $deadline = time + $ATTACH;
    while (time < $deadline) {
        my $st = mem_stats($s, 'probes');
        if (!grep { ($st->{"probe:$_"} // 0) < 1 } @probes) {
            sleep 0.3;      # the semaphore goes up as the uprobe goes in
            return 1;
        }
        if (waitpid($t->{pid}, WNOHANG) == $t->{pid}) {
            $t->{pid} = 0;
            diag("$t->{name} exited early:\n" . McTest::_slurp($t->{err}->filename));
            return 0;
        }
        sleep 0.05;
    }
    diag("$t->{name}: probes not attached after $ATTACH s");
    return 0;
}

# Waits for a tool to finish by itself; returns its output lines.
sub finish_tool {
    my ($t) = @_;
    my $deadline = $t->{started} + $DURATION + 60;   # a loaded machine drains slowly
    while ($t->{pid} && time < $deadline) {
        if (waitpid($t->{pid}, WNOHANG) == $t->{pid}) { $t->{status} = $?; $t->{pid} = 0; last }
        sleep 0.05;
    }
    if ($t->{pid}) {
        kill 'KILL', -$t->{pid};
        waitpid $t->{pid}, 0;
        $t->{pid} = 0;
        $t->{status} = -1;
    }
    $t->{text} = McTest::_slurp($t->{out}->filename);
    return split /\n/, $t->{text};
}

sub show { my ($t) = @_; diag("--- $t->{name} printed:\n$t->{text}--- stderr:\n"
                              . McTest::_slurp($t->{err}->filename)) }

# ---------------------------------------------------------------- load

# One round reads each of the 500 keys once and the hot key 10 times,
# spread through the round, pipelined; waits for every reply.
sub hot_load {
    my ($s, $rounds) = @_;
    my $req = '';
    for my $i (0 .. $NKEYS - 1) {
        $req .= "get user:$i\r\n";
        $req .= "get $HOT\r\n" if $i % ($NKEYS / 10) == 0;
        $req .= "get $MISS\r\n" if $i % ($NKEYS / 5) == 0;
    }
    my $replies = $NKEYS + 10 + 5;
    for (1 .. $rounds) {
        send_bytes($s, $req) or die "send failed";
        for (1 .. $replies) {
            while (1) {
                my $line = read_line($s) // die "load: no reply";
                last if $line eq "END\r\n";
            }
        }
    }
}

# ================================================================ start everything
# Each tool gets its own server (see wait_attached); all run at once.

# The latency tools read request__done's elapsed time (arg6, or with a
# bpftrace before 0.24 the register its note names); only without readelf
# do they time requests from process__command__start. slowstart forces that
# fallback (MCTOOLS_ELAPSED=start) so it stays tested.
my $latency_probes = (bpftrace_reads_arg6() || system('command -v readelf >/dev/null 2>&1') == 0)
                   ? ['request__done'] : ['request__done', 'process__command__start'];
my %run = (
    snoop   => ['mcsnoop', [], [], $latency_probes],
    top     => ['mctop.bt', ['-C', '-n', 5], [60], ['request__done']],    # one table: 60 s > -d
    prefix  => ['mctop.bt', ['-C', '-P', '-n', 5], [60], ['request__done']],
    topfull => ['mctop.bt', ['-C', '-n', 5], [60], ['request__done']],     # with a 100-entry map
    latency => ['mclatency', [], [], $latency_probes],
    slower  => ['mcslower', [], [10], $latency_probes],                # 10 ms
    slowstart => ['mcslower', [], [10], ['request__done', 'process__command__start']],
    evict   => ['mcevict', [], [], ['item__evict', 'item__expire'], '-m 2'],
    conn    => ['mcconn', [], [], [qw(conn__open conn__close protocol__error conn__limit)],
                '-o idle_timeout=2'],
);
my (%srv, %t);
for my $tag (sort keys %run) {
    my ($name, $opt, $pos, undef, $args) = @{ $run{$tag} };
    # A server that does not start (say, -o idle_timeout refused) fails the test.
    $srv{$tag} = eval { start_server(args => $args // '-m 64') };
    ok($srv{$tag}, "$tag: server started with " . ($args // '-m 64')) or BAIL_OUT($@);
}
# The request tools' servers hold the keys before tracing starts.
for my $tag (qw(snoop top prefix topfull latency slower slowstart)) {
    my $setup = "set $HOT 0 0 100\r\n" . ('h' x 100) . "\r\n"
              . join '', map { "set user:$_ 0 0 10\r\nuuuuuuuuuu\r\n" } 0 .. $NKEYS - 1;
    send_expect($srv{$tag}->new_sock, $setup, "STORED\r\n" x ($NKEYS + 1),
                "$tag: set the hot key and $NKEYS others");
}
for my $tag (sort keys %run) {
    my ($name, $opt, $pos) = @{ $run{$tag} };
    local %TOOL_ENV = $tag eq 'slowstart' ? (MCTOOLS_ELAPSED => 'start')
                    : $tag eq 'topfull'   ? (BPFTRACE_MAP_KEYS_MAX => 100) : ();
    $t{$tag} = start_tool($name, @$opt, '-d', $DURATION, '-p', $srv{$tag}->pid, @$pos);
}
for my $tag (sort keys %run) {
    my ($name, $opt, $pos, $probes) = @{ $run{$tag} };
    ok(wait_attached($t{$tag}, $srv{$tag}, @$probes), "$name @$opt @$pos is attached")
        or BAIL_OUT("$name did not attach");
}
if (@$latency_probes == 1) {
    is(mem_stats($srv{slower}->new_sock, 'probes')->{'probe:process__command__start'}, 0,
       'mcslower takes the elapsed time from request__done alone: one probe hit per request');
}
my $debug = $srv{slower}->is_debug_build;
my $t_attached = time;
note(sprintf('all tools attached %.2f s after the first started', $t_attached - $t{conn}{started}));

sub bpftrace_reads_arg6 {
    my ($v) = `bpftrace --version 2>/dev/null` =~ /v?(\d+\.\d+)/;
    return defined $v && $v >= 0.24;
}

# ================================================================ request tools
my $hot_calls = 10 * $ROUNDS;
my $miss_calls = 5 * $ROUNDS;
my $hit_gets = ($NKEYS + 10) * $ROUNDS;
my $all_gets = $hit_gets + $miss_calls;
for my $tag (qw(snoop top prefix topfull latency slower slowstart)) {
    my $s = $srv{$tag}->new_sock;
    hot_load($s, $ROUNDS);
    send_expect($s, "debugsleep 30 slow:key\r\n", "OK\r\n", "$tag: debugsleep 30 ms") if $debug;
}
note(sprintf('request loads took %.2f s', time - $t_attached));

# ================================================================ server tools
# mcevict's server (-m 2): 4 KB values until far past full, a tenth of them
# read back once (so some evictions are of fetched items), the hot key read
# all along (it lives in a small-value class and is never evicted).
my ($evicted, $unfetched);
{
    my $s = $srv{evict}->new_sock;
    my $before = mem_stats($s);
    send_expect($s, "set $HOT 0 0 3\r\nhot\r\n", "STORED\r\n", 'evict: the hot key');
    my $big = 'b' x 4000;
    my $ok = 1;
    for my $i (1 .. 1200) {
        send_bytes($s, "set big:$i 0 0 4000\r\n$big\r\n");
        $ok &&= (read_line($s) // '') eq "STORED\r\n";
        next if $i % 10;
        send_bytes($s, "get big:$i\r\nget $HOT\r\n");
        my $want = "VALUE big:$i 0 4000\r\n$big\r\nEND\r\nVALUE $HOT 0 3\r\nhot\r\nEND\r\n";
        $ok &&= read_bytes($s, length $want) eq $want;
    }
    ok($ok, 'evict: 1200 values of 4 KB stored, every tenth read back');
    my $after = mem_stats($s);
    $evicted = $after->{evictions} - $before->{evictions};
    $unfetched = $after->{evicted_unfetched} - $before->{evicted_unfetched};
    cmp_ok($evicted, '>', 100, "evict: the 2 MB cache evicted ($evicted)");
}

# mcconn's server: a load connection that quits, errors and a quit on a
# second one, a third the client drops, and an idle one the server times
# out once the debug clock jumps ahead.
my ($load_port, $q_port, $c_port, $i_port);
{
    my $srv = $srv{conn};
    my $load = $srv->new_sock;
    $load_port = $load->sockport;
    send_expect($load, "set $HOT 0 0 3\r\nhot\r\n", "STORED\r\n", 'conn: the hot key');
    send_expect($load, "get $HOT\r\n" x 50, "VALUE $HOT 0 3\r\nhot\r\nEND\r\n" x 50, 'conn: read it 50 times');
    send_bytes($load, "quit\r\n");
    expect_closed($load, 'conn: the load connection quits');

    my $q = $srv->new_sock;
    $q_port = $q->sockport;
    send_expect($q, "bogus\r\n", "ERROR\r\n", 'conn: an unknown command');
    send_expect($q, "set bad 0 0 3\r\nabcXY", "CLIENT_ERROR bad data chunk\r\n", 'conn: a bad data chunk');
    send_bytes($q, "quit\r\n");
    expect_closed($q, 'conn: quit');

    my $c = $srv->new_sock;
    $c_port = $c->sockport;
    send_expect($c, "version\r\n", "VERSION ", 'conn: a connection the client will drop');
    close $c;

    SKIP: {
        skip 'not the debug build (debugtime)', 2 unless $debug;
        my $idle = $srv->new_sock;
        $i_port = $idle->sockport;
        my $clock = $srv->new_sock;
        send_expect($clock, "debugtime 10\r\n", "OK\r\n", 'conn: debugtime 10');
        expect_closed($idle, 'conn: the idle connection is closed by the server', 5);
    }
}
ok(time < $t{conn}{started} + $DURATION - 0.5,
   sprintf('all loads (%.2f s) ended inside the tools\' window', time - $t_attached));

# ================================================================ what the tools printed

# --- mcsnoop: one line per request --------------------------------------
{
    my @lines = finish_tool($t{snoop});
    my (%per_key, @bad, @bad_miss);
    my $header = grep { /^TIME\s+CONNID\s+CMD\s+STATUS\s+BYTES\s+LAT\(us\)\s+KEY$/ } @lines;
    for (@lines) {
        next unless /^\d\d:\d\d:\d\d\.\d{6}\s+(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(\d+)\s+(\S*)$/;
        my ($connid, $cmd, $status, $bytes, $lat, $key) = ($1, $2, $3, $4, $5, $6);
        $per_key{$key}++;
        push @bad, $_ if $key eq $HOT && ($cmd ne 'get' || $status ne 'hit' || $bytes != 100);
        push @bad_miss, $_ if ($key eq $MISS) != ($status eq 'miss')
                              || ($key eq $MISS && ($cmd ne 'get' || $bytes != -1));
    }
    ok($header, 'mcsnoop prints its column header') or show($t{snoop});
    # Lines bpftrace could not hand over (a reader starved of CPU) it counts
    # as "Lost N events"; a key may miss that many lines, no more.
    my $lost = 0;
    $lost += $1 for ($t{snoop}{text} . McTest::_slurp($t{snoop}{err}->filename)) =~ /Lost (\d+) events/g;
    my $short_ok = sub { my ($got, $want) = @_; $got <= $want && $got >= 0.99 * $want - $lost };
    my ($first) = sort { $per_key{$b} <=> $per_key{$a} } keys %per_key;
    is($first, $HOT, 'mcsnoop: the hot key has the most lines') or show($t{snoop});
    my $got = $per_key{$HOT} // 0;
    ok($short_ok->($got, $hot_calls),
       "mcsnoop: $got lines for the hot key, expected $hot_calls (1% and the $lost lost events may be missing)");
    is(scalar @bad, 0, 'mcsnoop: hot key lines say get, hit, 100 bytes')
        or diag(join "\n", @bad[0 .. 4]);
    ok($short_ok->($per_key{'user:7'} // 0, $ROUNDS), "mcsnoop: another key has its $ROUNDS lines");
    my $miss_got = $per_key{$MISS} // 0;
    ok($short_ok->($miss_got, $miss_calls),
       "mcsnoop: $miss_got lines for the missing key, expected $miss_calls (1% and lost events may be missing)");
    is(scalar @bad_miss, 0, 'mcsnoop: the missing key\'s lines, and only they, say get, miss, -1 bytes')
        or diag(join "\n", @bad_miss[0 .. 4]);
    like($t{snoop}{text}, qr/^\@requests\[get, hit\]: $hit_gets$/m,
         "mcsnoop: summary counts $hit_gets get hits");
    like($t{snoop}{text}, qr/^\@requests\[get, miss\]: $miss_calls$/m,
         "mcsnoop: summary counts $miss_calls get misses");
}

# --- mctop.bt: whole keys, then prefixes -----------------------------------
for my $tag (qw(top prefix)) {
    my @lines = finish_tool($t{$tag});
    my ($h) = grep { $lines[$_] =~ /^\s+CALLS\s+CALLS\/s\s+GETS\s+SETS\s+HIT%\s+KB\/s\s+KEY$/ } 0 .. $#lines;
    my @rows;
    if (defined $h) {
        for my $l (@lines[$h + 1 .. $#lines]) {
            last unless $l =~ /^\s*(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\S+)\s+([\d.]+)\s+(\S+)$/;
            push @rows, { calls => $1, gets => $3, sets => $4, hit => $5, key => $7 };
        }
    }
    if ($tag eq 'top') {
        is($rows[0]{key}, $HOT, 'mctop: the hot key comes first') or show($t{$tag});
        is($rows[0]{calls}, $hot_calls, "mctop: hot key calls = $hot_calls (maps lose nothing)");
        is($rows[0]{gets}, $hot_calls, 'mctop: all of them gets');
        is($rows[0]{hit}, '100.0', 'mctop: hit ratio 100.0%');
        is_deeply([ @{ $rows[1] // {} }{qw(key calls gets sets hit)} ], [ $MISS, $miss_calls, $miss_calls, 0, '0.0' ],
                  "mctop: the missing key second: $miss_calls gets, hit ratio 0.0%") or show($t{$tag});
        ok(@rows == 5 && !(grep { $_->{calls} != $ROUNDS } @rows[2 .. $#rows]),
           "mctop: top 5 rows, the others with $ROUNDS calls each")
            or show($t{$tag});
    } else {
        is_deeply([ map { "$_->{key}=$_->{calls}/$_->{hit}" } @rows[0 .. 2] ],
                  [ 'user=' . $NKEYS * $ROUNDS . '/100.0', "hot=$hot_calls/100.0", "miss=$miss_calls/0.0" ],
                  'mctop -P: keys folded up to the first ":"')
            or show($t{$tag});
    }
}

# --- mctop.bt with its key map full ---------------------------------------
# 510 keys against a 100-entry map: the table says the map filled, the
# calls total stays exact, and the hot key (seen from the start) is first
# with all its calls.
{
    my @lines = finish_tool($t{topfull});
    my ($head) = grep { /over [\d.]+ s: / } @lines;
    my $calls = $all_gets + ($debug ? 1 : 0);   # and the debugsleep
    like($head // '', qr/: $calls calls \(.*\), (\d+) keys \(key map full: later keys not counted\);/,
         "mctop, map full: header says so, with the exact total of $calls calls")
        or show($t{topfull});
    my ($nkeys) = ($head // '') =~ /, (\d+) keys/;
    # Keys come from two 100-entry maps (calls, bytes), which may keep different ones.
    ok(defined $nkeys && $nkeys <= 200, "mctop, map full: no more keys than its maps hold ($nkeys)")
        or show($t{topfull});
    my ($first) = grep { /^\s*\d+\s+[\d.]+\s+\d+/ } @lines;
    like($first // '', qr/^\s*$hot_calls\s.*\s\Q$HOT\E$/, 'mctop, map full: the hot key still first, every call counted')
        or show($t{topfull});
}

# --- mclatency: histograms per command ----------------------------------
{
    my @lines = finish_tool($t{latency});
    my (%total, %buckets, $cur);
    for (@lines) {
        if (/^\@usecs\[(\S+)\]:/) { $cur = $1; next }
        if (defined $cur && /^\[(\S+?)(?:, (\S+))?\)?\]?\s+(\d+) \|/) {
            $total{$cur} += $3;
            $buckets{$cur}{$1} = $3 if $3;
            next;
        }
        undef $cur;
    }
    is($total{get}, $all_gets, "mclatency: the get histogram holds all $all_gets gets")
        or show($t{latency});
    SKIP: {
        skip 'debugsleep needs the debug build', 1 unless $debug;
        # 30 ms is in [16K, 32K) us; a busy machine may make it slower, never faster.
        my %b = %{ $buckets{debugsleep} // {} };
        my %mult = ('' => 1, K => 1024, M => 1024 * 1024);
        my ($low) = map { /^(\d+)([KM]?)$/ ? $1 * $mult{$2} : -1 } keys %b;
        ok(keys(%b) == 1 && (values %b)[0] == 1 && $low >= 16 * 1024,
           'mclatency: the 30 ms debugsleep counted once, in the [16K, 32K) us bucket or above')
            or diag(join ', ', map { "$_: $b{$_}" } sort keys %b);
    }
}

# --- mcslower ------------------------------------------------------------
for my $tag (qw(slower slowstart)) {
    my $how = $tag eq 'slower' ? '' : ' (timed from process__command__start)';
    my @lines = finish_tool($t{$tag});
    my @slow = map { /^\S+\s+(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(\d+\.\d{3})\s+(\S*)$/ ? [$2, $3, $5, $6] : () }
               grep { /^\d\d:/ } @lines;
    ok(!(grep { $_->[2] < 10 } @slow), "mcslower$how: nothing under the 10 ms threshold is shown")
        or show($t{$tag});
    SKIP: {
        skip 'debugsleep needs the debug build', 2 unless $debug;
        my @mine = grep { $_->[3] eq 'slow:key' } @slow;
        is_deeply([ map { "$_->[0]/$_->[1]/$_->[3]" } @mine ], [ 'debugsleep/ok/slow:key' ],
                  "mcslower$how: catches the slowed request with its key and status")
            or show($t{$tag});
        ok(@mine && $mine[0][2] >= 30 && $mine[0][2] < 1000, "mcslower$how: its latency is >= 30 ms");
    }
    like($t{$tag}{text}, $debug ? qr/^\@slow\[debugsleep\]: 1$/m : qr/Slow requests/,
         "mcslower$how: summary by command");
}

# --- mcevict -------------------------------------------------------------
{
    my @lines = finish_tool($t{evict});
    my ($h) = grep { $lines[$_] =~ /^CLASS\s+SIZE\s+EVICTED\s+YOUNG\(<3600s\)\s+UNFETCHED\s+EXPIRED\s+FLUSHED$/ } 0 .. $#lines;
    my %row;
    if (defined $h) {
        for my $l (@lines[$h + 1 .. $#lines]) {
            last unless $l =~ /^\s*(\d+)\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/;
            $row{$1} = { evicted => $2, young => $3, unfetched => $4 } if $2;
        }
    }
    is(scalar keys %row, 1, 'mcevict: one class evicted') or show($t{evict});
    my ($cls) = keys %row;
    $cls //= 0;
    is($row{$cls}{evicted}, $evicted, "mcevict: EVICTED matches stats evictions ($evicted)");
    is($row{$cls}{unfetched}, $unfetched, "mcevict: UNFETCHED matches stats evicted_unfetched ($unfetched)");
    cmp_ok($unfetched, '<', $evicted, 'some evicted items had been fetched');
    is($row{$cls}{young}, $evicted, 'mcevict: all evicted young (idle < 3600 s)');
    # The server's clock ticks each second, so an item stored just before a
    # tick and evicted just after it counts 1 s idle: allow under 4 s.
    my ($hist) = $t{evict}{text} =~ /^Idle seconds of items evicted from class $cls:\n((?:\[.*\n)+)/m;
    my %idle = ($hist // '') =~ /^\[(\d+)(?:, \d+\))?\]?\s+(\d+) \|/mg;
    my $young = 0;
    $young += $idle{$_} for grep { $_ < 4 } keys %idle;
    ok($hist && $young == $evicted && !(grep { $_ >= 4 && $idle{$_} } keys %idle),
       "mcevict: idle-age histogram: all $evicted idle under 4 s") or show($t{evict});
    like($t{evict}{text}, qr/^class $cls: $evicted of $evicted evictions \(100%\) were items idle less than 3600 s: evicted young, the cache is too small/m,
         'mcevict says plainly: evicted young, cache too small');
    like($t{evict}{text}, qr/^class $cls: $unfetched of $evicted evicted items \(\d+%\) were never fetched/m,
         'mcevict says plainly: evicted unfetched');
}

# --- mcconn --------------------------------------------------------------
{
    my @lines = finish_tool($t{conn});
    my %ev;     # port => [ "event detail", ... ]
    for (@lines) {
        next unless /^\S+\s+(open|close|error)\s+\d+\s+127\.0\.0\.1:(\d+)\s+(.*)$/;
        my ($event, $port, $detail) = ($1, $2, $3);
        $detail =~ s/, AGE\(s\) [\d.]+$//;
        push @{ $ev{$port} }, "$event $detail";
    }
    is_deeply($ev{$load_port}, [ 'open tcp', 'close client' ], 'mcconn: load connection opened and quit');
    is_deeply($ev{$q_port}, [ 'open tcp', 'error error', 'error client_error: bad data chunk',
                              'close client' ],
              'mcconn: errors by kind and message, then the quit') or show($t{conn});
    is_deeply($ev{$c_port}, [ 'open tcp', 'close client' ], 'mcconn: a client close');
    SKIP: {
        skip 'no idle-timeout close to see', 1 unless defined $i_port;
        is_deeply($ev{$i_port}, [ 'open tcp', 'close idle_timeout' ], 'mcconn: the idle-timeout close');
    }
    like($t{conn}{text}, qr/^127\.0\.0\.1\s+\d+\s+\d+\s+2\s+.*\bclient:[3-9]\b/m,
         'mcconn: summary for client 127.0.0.1: 2 errors, closes by client');
    like($t{conn}{text}, qr/^127\.0\.0\.1\s+1 client_error bad data chunk$/m,
         'mcconn: error summary by client, kind and message');
}

done_testing();
