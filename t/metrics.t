#!/usr/bin/perl
# -o metrics_listen: the Prometheus endpoint. After a known load the
# metrics equal both what was sent and the "stats" figures; promtool (the
# Prometheus package's checker) accepts the output; other paths, methods,
# malformed, oversized and slow requests get 404, 405, 400, 431 and 408;
# many scrapes at once all succeed; memcached clients are served while
# scrapes run; a bad option value stops the server at start.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my $bin = find_binary();
plan skip_all => "server binary not found: $bin" unless -x $bin;

# http($port, $request_bytes, $timeout): sends the bytes, reads until the
# server closes; returns (status, headers hashref, body), or () on timeout.
sub http {
    my ($port, $req, $timeout) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or die "connect $port: $!";
    $s->syswrite($req) if length $req;
    return read_reply($s, $timeout);
}

sub read_reply {
    my ($s, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    my $sel = IO::Select->new($s);
    my $buf = '';
    while (1) {
        my $left = $deadline - time;
        return () if $left <= 0;
        next unless $sel->can_read($left);
        my $n = $s->sysread($buf, 65536, length $buf);
        last if !$n;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    return () unless defined $head && $head =~ m{^HTTP/1\.[01] (\d{3}) };
    my $status = $1;
    my %h;
    for (split /\r\n/, $head) { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
    return ($status, \%h, $body // '');
}

# Metric samples: { 'name{labels}' => value }.
sub parse_metrics {
    my ($text) = @_;
    my %m;
    for (split /\n/, $text) {
        next if /^#/ || !length;
        /^(\S+) (\S+)$/ or do { diag("odd line: $_"); next };
        $m{$1} = $2;
    }
    return \%m;
}

sub scrape {
    my ($port) = @_;
    my ($st, $h, $body) = http($port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    die "scrape: no reply\n" unless defined $st;
    die "scrape: status $st\n" unless $st == 200;
    return wantarray ? (parse_metrics($body), $body, $h) : parse_metrics($body);
}

# Sum of the samples of $name (any labels) whose labels match $re.
sub sum_of {
    my ($m, $name, $re) = @_;
    my $sum = 0;
    for (keys %$m) {
        next unless /^\Q$name\E(\{.*\})?$/;
        next if defined $re && ($1 // '') !~ $re;
        $sum += $m->{$_};
    }
    return $sum;
}

my $mport = McTest::_free_port();
my $srv = start_server(args => "-o metrics_listen=127.0.0.1:$mport");
my $sock = $srv->new_sock;

# ------------------------------------------------------------ a known load
my ($sets, $hits, $misses, $dels, $incrs, $touches) = (30, 0, 0, 0, 0, 0);
for my $i (1 .. $sets) {
    send_expect($sock, "set key$i 0 0 " . length("v$i") . "\r\nv$i\r\n", "STORED\r\n", undef)
        or BAIL_OUT("set failed");
}
for my $i (1 .. 20) { mem_get_is($sock, "key$i", "v$i"); $hits++ }
for my $i (1 .. 7)  { mem_get_is($sock, "nokey$i", undef); $misses++ }
for my $i (1 .. 4)  { send_expect($sock, "delete key$i\r\n", "DELETED\r\n", undef); $dels++ }
send_expect($sock, "set n 0 0 1\r\n5\r\n", "STORED\r\n", undef); $sets++;
for (1 .. 3) { read_line($sock) if send_bytes($sock, "incr n 1\r\n"); $incrs++ }
send_expect($sock, "touch key10 100\r\n", "TOUCHED\r\n", undef); $touches++;

my $stats = mem_stats($sock);
my ($m, $body, $h) = scrape($mport);
like($h->{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'content type is the 0.0.4 text format');
is($m->{'memcached_up'}, 1, 'memcached_up 1');
is($m->{"memcached_version{version=\"$stats->{version}\"}"}, 1, 'memcached_version carries the version');
is($m->{'memcached_commands_total{command="get",status="hit"}'}, $hits, 'get hits as sent');
is($m->{'memcached_commands_total{command="get",status="miss"}'}, $misses, 'get misses as sent');
is($m->{'memcached_commands_total{command="set",status="hit"}'}, $sets, 'sets as sent');
is($m->{'memcached_commands_total{command="delete",status="hit"}'}, $dels, 'deletes as sent');
is($m->{'memcached_commands_total{command="incr",status="hit"}'}, $incrs, 'incrs as sent');
is($m->{'memcached_commands_total{command="touch",status="hit"}'}, $touches, 'touches as sent');
is($m->{'memcached_current_items'}, $sets - $dels, 'current items as stored');

my %same = (
    get_hits => 'memcached_commands_total{command="get",status="hit"}',
    get_misses => 'memcached_commands_total{command="get",status="miss"}',
    delete_hits => 'memcached_commands_total{command="delete",status="hit"}',
    incr_hits => 'memcached_commands_total{command="incr",status="hit"}',
    cmd_flush => 'memcached_commands_total{command="flush",status="hit"}',
    curr_items => 'memcached_current_items', total_items => 'memcached_items_total',
    bytes => 'memcached_current_bytes', limit_maxbytes => 'memcached_limit_bytes',
    curr_connections => 'memcached_current_connections',
    total_connections => 'memcached_connections_total',
    max_connections => 'memcached_max_connections',
    evictions => 'memcached_items_evicted_total', reclaimed => 'memcached_items_reclaimed_total',
    bytes_read => 'memcached_read_bytes_total',
);
for my $stat (sort keys %same) {
    is($m->{$same{$stat}}, $stats->{$stat}, "$same{$stat} equals stats $stat");
}
cmp_ok($m->{'memcached_written_bytes_total'}, '>=', $stats->{bytes_written},
       'written bytes at least what stats showed before its own reply');
is(sum_of($m, 'memcached_slab_current_items'), $stats->{curr_items},
   'per-slab current items add up to curr_items');
is(sum_of($m, 'memcached_slab_commands_total', qr/command="set"/), $sets,
   'per-slab sets add up to the sets sent');
is($m->{'memcached_probes_enabled'}, 0, 'no tracer attached: memcached_probes_enabled 0');
for my $name (qw(memcached_commands_total memcached_current_items memcached_slab_current_items)) {
    my @type = $body =~ /^# TYPE \Q$name\E (\w+)$/mg;
    is(scalar @type, 1, "$name typed once");
}

# ------------------------------------------------------------ probe state
SKIP: {
    my $why = McTest::probes_skip_reason($srv->binary);
    if (defined $why) {
        fail("probes required (MEMCACHED_REQUIRE_PROBES) but unusable: $why")
            if $ENV{MEMCACHED_REQUIRE_PROBES};
        skip $why, 2;
    }
    my $during;
    trap_probe($srv, 'usdt:{BIN}:memcached:command__get { @n = count(); }',
               sub { $during = scrape($mport)->{memcached_probes_enabled} });
    is($during, 1, 'while bpftrace traces a probe: memcached_probes_enabled 1');
    my $deadline = time + 20;
    my $after;
    while (1) {
        $after = scrape($mport)->{memcached_probes_enabled};
        last if $after == 0 || time > $deadline;
        sleep 0.1;
    }
    is($after, 0, 'once bpftrace has gone: 0 again');
}

# ------------------------------------------------------------ promtool
SKIP: {
    my $promtool = McTest::_in_path('promtool');
    if (!$promtool) {
        fail('promtool required (MEMCACHED_REQUIRE_PROBES) but not installed (Debian: prometheus)')
            if $ENV{MEMCACHED_REQUIRE_PROBES};
        skip 'promtool not installed (Debian package prometheus)', 1;
    }
    my $file = "/tmp/mctest-metrics-$$.txt";
    open my $fh, '>', $file or die "$file: $!";
    print $fh $body;
    close $fh;
    my $out = `'$promtool' check metrics < '$file' 2>&1`;
    my $rc = $?;
    unlink $file;
    is($rc, 0, 'promtool check metrics accepts the output') or diag($out);
}

# ------------------------------------------------------------ HTTP rules
{
    my ($st, $hd, $b) = http($mport, "HEAD /metrics HTTP/1.0\r\n\r\n");
    is($st, 200, 'HEAD /metrics: 200');
    is($b, '', 'HEAD: no body');
    cmp_ok($hd->{'content-length'}, '>', 1000, 'HEAD: the length of the metrics');
    is((http($mport, "GET /metrics?x=1 HTTP/1.1\r\n\r\n"))[0], 200, 'a query string is ignored');
    is((http($mport, "GET / HTTP/1.1\r\n\r\n"))[0], 404, 'GET /: 404');
    is((http($mport, "GET /metricsx HTTP/1.1\r\n\r\n"))[0], 404, 'GET /metricsx: 404');
    my ($st405, $h405) = http($mport, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    is($st405, 405, 'POST: 405');
    is($h405->{allow}, 'GET, HEAD', '405 says what is allowed');
    is((http($mport, "DELETE /x HTTP/1.1\r\n\r\n"))[0], 405, 'DELETE: 405');
    is((http($mport, "hello\r\n\r\n"))[0], 400, 'no request line: 400');
    is((http($mport, "GET /metrics HTTP/2.0\r\n\r\n"))[0], 400, 'HTTP/2.0 request line: 400');
    is((http($mport, "GET  /metrics HTTP/1.1\r\n\r\n"))[0], 400, 'two spaces: 400');
    is((http($mport, "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"))[0], 400,
       'a header without a colon: 400');
    is((http($mport, "get /metrics HTTP/1.1\r\n\r\n"))[0], 400, 'lower-case method: 400');
    my ($st431) = http($mport, "GET /metrics HTTP/1.1\r\n" . ("X-Pad: " . ('a' x 70) . "\r\n") x 200 . "\r\n");
    is($st431, 431, 'a request head over 8 KiB: 431');
    my $t0 = time;
    my ($st408) = http($mport, "GET /metr", 15);
    is($st408, 408, 'a request not finished in time: 408');
    cmp_ok(time - $t0, '<', 12, '... within the read timeout');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport) or die;
    $s->syswrite("GET /metrics HTTP/1.1\r\n\r\n");
    my @r = read_reply($s, 10);
    is($r[0], 200, 'the connection is closed after the reply (read to EOF)');
}

# ------------------------------------------------------------ many at once
{
    my @socks;
    for (1 .. 48) {     # more than the endpoint serves at once (32)
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport) or die "connect: $!";
        push @socks, $s;
    }
    $_->syswrite("GET /metrics HTTP/1.1\r\n\r\n") for @socks;
    my $ok = 0;
    for my $s (@socks) {
        my ($st, undef, $b) = read_reply($s, 20);
        $ok++ if defined $st && $st == 200 && $b =~ /^memcached_up 1$/m;
    }
    is($ok, scalar @socks, '48 concurrent scrapes all get the metrics');
}

# ------------------------------------------------------------ clients served during scrapes
{
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $end = time + 3;
        # A stalled scraper too: connected, sends half a request.
        my $stall = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mport);
        $stall->syswrite("GET /met") if $stall;
        while (time < $end) { eval { scrape($mport) } or POSIX::_exit(1) }
        POSIX::_exit(0);
    }
    my $c = $srv->new_sock;
    my $good = 0;
    my $n = 0;
    my $end = time + 2;
    while (time < $end) {
        $n++;
        send_bytes($c, "set busy$n 0 0 " . length("val$n") . "\r\nval$n\r\n");
        my $r = read_line($c);
        send_bytes($c, "get busy$n\r\n");
        my $v = read_line($c) // '';
        my $d = read_line($c) // '';
        my $e = read_line($c) // '';
        $good++ if $r eq "STORED\r\n" && $d eq "val$n\r\n" && $e eq "END\r\n";
    }
    waitpid($pid, 0);
    is($? >> 8, 0, 'every scrape in the loop succeeded');
    is($good, $n, "all $n set/get pairs answered correctly while scrapes ran");
    cmp_ok($n, '>', 50, 'and the server kept up');
    my $m2 = scrape($mport);
    my $st2 = mem_stats($c);
    is($m2->{'memcached_commands_total{command="get",status="hit"}'}, $st2->{get_hits},
       'after the busy loop: get hits equal stats');
}

# ------------------------------------------------------------ the latency histogram
# With -o latency_stats (latency recording, off by default).
{
    my $hport = McTest::_free_port();
    my $hs = start_server(args => "-o latency_stats,metrics_listen=127.0.0.1:$hport");
    my $c = $hs->new_sock;
    send_expect($c, "set lat 0 0 2\r\nhi\r\n", "STORED\r\n", undef);
    mem_get_is($c, 'lat', 'hi') for 1 .. 40;
    my ($hm, $hbody) = scrape($hport);
    my $plain = scrape($mport);
    is(scalar(grep { /^memcached_request_duration_seconds/ } keys %$plain), 0,
       'without latency_stats: no histogram');
    SKIP: {
        my $n = $hm->{'memcached_request_duration_seconds_count{command="get"}'};
        is($n, 40, 'histogram count for get: the 40 gets sent');
        is($hm->{'memcached_request_duration_seconds_count{command="set"}'}, 1, 'and 1 set');
        my @le = map { /le="([^"]+)"/ ? $1 : () }
                 grep { /^memcached_request_duration_seconds_bucket\{command="get",/ } split /\n/, $hbody;
        is($le[-1], '+Inf', 'the last bucket is +Inf');
        is($hm->{'memcached_request_duration_seconds_bucket{command="get",le="+Inf"}'}, 40,
           '+Inf bucket equals the count');
        my @cum = map { $hm->{"memcached_request_duration_seconds_bucket{command=\"get\",le=\"$_\"}"} } @le;
        my $mono = 1;
        $mono &&= $cum[$_] >= $cum[$_ - 1] for 1 .. $#cum;
        ok($mono, 'buckets are cumulative (never decrease)');
        my $bounds_up = 1;
        $bounds_up &&= ($le[$_] eq '+Inf' || $le[$_] > $le[$_ - 1]) for 1 .. $#le;
        ok($bounds_up && $le[0] == 1e-6, 'le bounds rise from 1 us');
        my $sum = $hm->{'memcached_request_duration_seconds_sum{command="get"}'} // -1;
        ok($sum > 0 && $sum < 40, "sum in seconds ($sum) is positive and under 1 s per request");
        my $promtool = McTest::_in_path('promtool');
        skip 'promtool not installed', 1 unless $promtool;
        my $file = "/tmp/mctest-metrics-h-$$.txt";
        open my $fh, '>', $file or die;
        print $fh $hbody;
        close $fh;
        my $out = `'$promtool' check metrics < '$file' 2>&1`;
        is($?, 0, 'promtool accepts the output with histograms') or diag($out);
        unlink $file;
    }
    $hs->stop;
}

# ------------------------------------------------------------ seccomp, IPv6
SKIP: {
    my $help = `'$bin' -h 2>&1`;
    skip 'built without the seccomp sandbox', 2 unless $help =~ /drop_privileges/;
    my $p = McTest::_free_port();
    my $s = start_server(args => "-o drop_privileges,metrics_listen=127.0.0.1:$p");
    my ($st) = http($p, "GET /metrics HTTP/1.1\r\n\r\n");
    is($st, 200, 'with drop_privileges: the endpoint serves (its calls are allowed)');
    ok(kill(0, $s->pid), '... and the server is still running');
    $s->stop;
}
SKIP: {
    my $l6 = eval { require IO::Socket::IP; IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1) };
    skip 'no IPv6 loopback', 1 unless $l6;
    my $p = $l6->sockport;
    close $l6;
    my $s = start_server(args => "-o metrics_listen=[::1]:$p");
    my $c = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $p) or die "connect [::1]:$p: $!";
    $c->syswrite("GET /metrics HTTP/1.0\r\n\r\n");
    my ($st) = read_reply($c, 10);
    is($st, 200, 'metrics_listen=[::1]:PORT serves over IPv6');
    $s->stop;
}

# ------------------------------------------------------------ bad values
for my $bad ('nonsense', '127.0.0.1:0', '127.0.0.1:70000', '127.0.0.1:', 'host.invalid:9150',
             '[::1:9150') {
    my $out = `'$bin' -u root -p 0 -U 0 -o metrics_listen=$bad 2>&1 </dev/null`;
    my $rc = $? >> 8;
    isnt($rc, 0, "metrics_listen=$bad: the server does not start");
    like($out, qr/metrics_listen.*\Q$bad\E/, "... and says which option and value");
}
{
    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
    my $p = $busy->sockport;
    my $port = McTest::_free_port();
    my $out = `timeout 20 '$bin' -u root -p $port -U 0 -l 127.0.0.1 -o metrics_listen=127.0.0.1:$p 2>&1 </dev/null`;
    isnt($? >> 8, 0, 'metrics_listen on a port in use: the server does not start');
    like($out, qr/metrics_listen=127\.0\.0\.1:$p: cannot listen/, '... and says why');
}

done_testing();
