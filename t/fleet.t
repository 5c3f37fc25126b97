#!/usr/bin/perl
# A fleet, as SREs run one: three servers (each with -o metrics_listen)
# behind twemproxy (Debian's nutcracker, ketama hashing), watched by a
# Prometheus server scraping every second. A known load goes through the
# proxy, then:
#  (a) the keys spread over all three servers and every value reads back
#      through the proxy;
#  (b) PromQL over the three endpoints gives the fleet totals that were
#      sent, and a fleet p99 from the summed request-duration histograms;
#  (c) mctop (the compiled tool) on the host sees the load's hot key on
#      the server that owns it, and not on the others.
# Skipped when nutcracker or prometheus is missing, (c) when mctop, root or
# the probes are; with MEMCACHED_REQUIRE_PROBES=1 (CI) a skip is a failure.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my $REQUIRE = $ENV{MEMCACHED_REQUIRE_PROBES};
sub skip_or_fail_all {
    my ($why) = @_;
    if ($REQUIRE) {
        fail("required (MEMCACHED_REQUIRE_PROBES) but: $why");
        done_testing();
        exit 1;
    }
    plan skip_all => $why;
}

my $bin = find_binary();
skip_or_fail_all("server binary not found: $bin") unless -x $bin;
my $nutcracker = McTest::_in_path('nutcracker') // (-x '/usr/sbin/nutcracker' ? '/usr/sbin/nutcracker' : undef);
skip_or_fail_all('nutcracker (twemproxy) not installed (Debian package nutcracker)') unless $nutcracker;
my $prometheus = McTest::_in_path('prometheus');
skip_or_fail_all('prometheus not installed (Debian package prometheus)') unless $prometheus;

my $dir = tempdir('mctest-fleet-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @children;
END { kill 'TERM', grep { $_ } @children; waitpid($_, 0) for grep { $_ } @children }

# Starts a program, its stdout and stderr to $log; returns its pid.
sub spawn {
    my ($log, @argv) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        no warnings 'exec';    # the _exit after it is for a failed exec
        exec @argv;
        POSIX::_exit(127);
    }
    push @children, $pid;
    return $pid;
}

# Polls $cond every 100 ms until true or $secs pass; returns its last value.
sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $v = $cond->();
        return $v if $v || time > $deadline;
        sleep 0.1;
    }
}

sub can_connect {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
    return defined $s;
}

# ------------------------------------------------------------ the fleet
# Each with latency recording (-o latency_stats) for the histograms.
my (@srv, @mport);
for my $i (0 .. 2) {
    my $mp = McTest::_free_port();
    push @mport, $mp;
    push @srv, start_server(args => "-o latency_stats,metrics_listen=127.0.0.1:$mp");
}
my $pport = McTest::_free_port();
my $sport = McTest::_free_port();
open my $conf, '>', "$dir/nutcracker.yml" or die;
print $conf "fleet:\n  listen: 127.0.0.1:$pport\n  hash: fnv1a_64\n  distribution: ketama\n"
    . "  timeout: 2000\n  auto_eject_hosts: false\n  servers:\n"
    . join('', map { "   - 127.0.0.1:" . $srv[$_]->port . ":1 mc$_\n" } 0 .. 2);
close $conf;
my $np = spawn("$dir/nutcracker.log", $nutcracker, '-c', "$dir/nutcracker.yml", '-s', $sport,
               '-a', '127.0.0.1', '-o', "$dir/nutcracker.log", '-p', "$dir/nutcracker.pid");
ok(wait_for(20, sub { can_connect($pport) }), 'twemproxy listens')
    or BAIL_OUT('nutcracker did not start: ' . McTest::_slurp("$dir/nutcracker.log"));

my $wport = McTest::_free_port();
open my $pconf, '>', "$dir/prometheus.yml" or die;
print $pconf "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
    . "scrape_configs:\n  - job_name: memcached\n    scrape_interval: 1s\n"
    . "    static_configs:\n      - targets: ["
    . join(', ', map { "'127.0.0.1:$_'" } @mport) . "]\n";
close $pconf;
spawn("$dir/prometheus.log", $prometheus, "--config.file=$dir/prometheus.yml",
      "--storage.tsdb.path=$dir/tsdb", "--web.listen-address=127.0.0.1:$wport");

my $http = HTTP::Tiny->new(timeout => 5);
# A PromQL instant query: the result list (undef when Prometheus fails).
sub promql {
    my ($q) = @_;
    my $r = $http->get("http://127.0.0.1:$wport/api/v1/query?"
                       . $http->www_form_urlencode({ query => $q }));
    return undef unless $r->{success};
    my $doc = eval { decode_json($r->{content}) } or return undef;
    return $doc->{status} eq 'success' ? $doc->{data}{result} : undef;
}
# One number from a query that gives a single sample; undef if none.
sub promql_value {
    my $res = promql($_[0]) or return undef;
    return @$res == 1 ? $res->[0]{value}[1] : undef;
}

# ------------------------------------------------------------ (a) spread and read back
my $proxy = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pport) or die "proxy: $!";
my $N = 300;
my ($sets, $gets) = (0, 0);
my $stored = 0;
for my $i (1 .. $N) {
    my $v = "value-$i-" . ('x' x ($i % 50));
    send_bytes($proxy, "set fleet:$i 0 0 " . length($v) . "\r\n$v\r\n");
    $stored++ if (read_line($proxy) // '') eq "STORED\r\n";
    $sets++;
}
is($stored, $N, "$N sets through the proxy stored");
my $back = 0;
for my $i (1 .. $N) {
    my $v = "value-$i-" . ('x' x ($i % 50));
    send_bytes($proxy, "get fleet:$i\r\n");
    my $h = read_line($proxy) // '';
    my $d = $h =~ /^VALUE / ? read_line($proxy) // '' : '';
    my $e = $h =~ /^VALUE / ? read_line($proxy) // '' : $h;
    $back++ if $h eq "VALUE fleet:$i 0 " . length($v) . "\r\n" && $d eq "$v\r\n" && $e eq "END\r\n";
    $gets++;
}
is($back, $N, 'every value reads back through the proxy');
my @items = map { mem_stats($_->new_sock)->{curr_items} } @srv;
is($items[0] + $items[1] + $items[2], $N, 'the servers hold the keys between them');
for my $i (0 .. 2) {
    cmp_ok($items[$i], '>', 0, "server $i holds some of them ($items[$i] keys)");
}

# The hot key and the server that owns it.
my $HOT = 'fleet:hot';
send_bytes($proxy, "set $HOT 0 0 3\r\nhot\r\n");
is(read_line($proxy), "STORED\r\n", 'the hot key stored');
$sets++;
my @owner = grep {
    my $s = $srv[$_]->new_sock;
    send_bytes($s, "get $HOT\r\n");
    (read_line($s) // '') =~ /^VALUE /;
} 0 .. 2;
is(scalar @owner, 1, 'exactly one server owns the hot key');
my $owner = $owner[0] // 0;
my $misses = 2;     # the two servers asked directly that do not own it
$gets++;            # and the one that does

# Reads the hot key $n times through the proxy, pipelined 50 at a time.
sub read_hot {
    my ($n) = @_;
    my $ok = 0;
    while ($n > 0) {
        my $k = $n < 50 ? $n : 50;
        send_bytes($proxy, "get $HOT\r\n" x $k);
        for (1 .. $k) {
            my @l = map { read_line($proxy) // '' } 1 .. 3;
            $ok++ if $l[1] eq "hot\r\n" && $l[2] eq "END\r\n";
        }
        $n -= $k;
        $gets += $k;
    }
    return $ok;
}

# ------------------------------------------------------------ (c) mctop sees the hot key
my $BUILD = (defined $ENV{MC_BUILDDIR} && $ENV{MC_BUILDDIR} ne '') ? $ENV{MC_BUILDDIR} : "$FindBin::Bin/..";
my $MCTOP = "$BUILD/tools/mctop";
my $HOT_READS = 3000;
SKIP: {
    my $why = !-x $MCTOP ? "mctop not built ($MCTOP)" : McTest::probes_skip_reason();
    if (defined $why) {
        fail("mctop part required (MEMCACHED_REQUIRE_PROBES) but: $why") if $REQUIRE;
        skip $why, 5;
    }
    my @mt;
    for my $i (0 .. 2) {
        my $out = "$dir/mctop.$i.json";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            $ENV{MCTOP_READY} = 1;
            open STDIN, '<', '/dev/null';
            open STDOUT, '>', $out or POSIX::_exit(127);
            open STDERR, '>', "$out.err" or POSIX::_exit(127);
            no warnings 'exec';
            exec $MCTOP, '--batch', '--json', '-p', $srv[$i]->pid, '-d', 600;
            POSIX::_exit(127);
        }
        push @children, $pid;
        push @mt, { pid => $pid, out => $out };
    }
    my $attached = wait_for(30, sub {
        !grep { McTest::_slurp("$_->{out}.err") !~ /^mctop: attached$/m } @mt });
    ok($attached, 'mctop attached to the three servers');
    is(read_hot($HOT_READS), $HOT_READS, "$HOT_READS reads of the hot key through the proxy");
    for my $t (@mt) {       # SIGINT: print the table and end
        kill 'INT', $t->{pid};
        my $done = wait_for(20, sub { waitpid($t->{pid}, WNOHANG) == $t->{pid} });
        kill 'KILL', $t->{pid} unless $done;
        @children = grep { $_ != $t->{pid} } @children;
    }
    my @top = map {
        my $doc = eval { decode_json((split /\n/, McTest::_slurp($_->{out}))[-1] // '') } // {};
        my ($hot) = grep { $_->{key} eq $HOT } @{ $doc->{keys} // [] };
        { first => $doc->{keys}[0]{key} // '', hot => $hot ? $hot->{calls} : 0 };
    } @mt;
    is($top[$owner]{first}, $HOT, "mctop on the owner (server $owner): the hot key comes first");
    my $calls = $top[$owner]{hot};
    ok($calls >= $HOT_READS * 0.7 && $calls <= $HOT_READS * 1.3,
       "... with about $HOT_READS calls (estimated $calls)");
    is(join(',', map { $top[$_]{hot} } grep { $_ != $owner } 0 .. 2), '0,0',
       'mctop on the other servers never sees it');
}
# Without mctop, the hot reads still go out, so (b) counts the same load.
is(read_hot($HOT_READS), $HOT_READS, "$HOT_READS more reads of the hot key");

# ------------------------------------------------------------ (b) Prometheus
my $up = wait_for(60, sub { (promql_value('sum(memcached_up)') // 0) == 3 });
ok($up, 'Prometheus scrapes the three endpoints (sum(memcached_up) == 3)')
    or diag(McTest::_slurp("$dir/prometheus.log"));
my %want = (
    'sum(memcached_commands_total{command="set",status="hit"})' => $sets,
    'sum(memcached_commands_total{command="get",status="hit"})' => $gets,
    'sum(memcached_commands_total{command="get",status="miss"})' => $misses,
    'sum(memcached_current_items)' => $N + 1,
);
for my $q (sort keys %want) {
    my $got = wait_for(30, sub {
        my $v = promql_value($q);
        defined $v && $v == $want{$q} ? $v : undef });
    is($got // promql_value($q), $want{$q}, "PromQL $q: $want{$q}, what was sent");
}

# The fleet's p99 for get, from the three servers' histograms summed by le.
{
    my $count = wait_for(30, sub {
        my $v = promql_value('sum(memcached_request_duration_seconds_count{command="get"})');
        defined $v && $v == $gets + $misses ? $v : undef });
    is($count // promql_value('sum(memcached_request_duration_seconds_count{command="get"})'),
       $gets + $misses, 'fleet histogram count for get: every get sent');
    my $p99 = promql_value('histogram_quantile(0.99, sum by (le) '
                           . '(memcached_request_duration_seconds_bucket{command="get"}))');
    ok(defined $p99 && $p99 > 0 && $p99 < 1, 'fleet p99 of get from the summed histograms: '
       . (defined $p99 ? sprintf('%.1f us', $p99 * 1e6) : 'none'));
    my $p50 = promql_value('histogram_quantile(0.5, sum by (le) '
                           . '(memcached_request_duration_seconds_bucket{command="get"}))');
    ok(defined $p50 && defined $p99 && $p50 <= $p99, 'and p50 is at most p99');
}

my $owner_gets = wait_for(30, sub {
    my $res = promql('sum by (instance) (memcached_commands_total{command="get",status="hit"})') // [];
    my ($max) = sort { $b->{value}[1] <=> $a->{value}[1] } @$res;
    $max && $max->{metric}{instance} eq "127.0.0.1:$mport[$owner]" ? $max : undef });
ok($owner_gets, 'the busiest server by gets on the fleet dashboard is the hot key\'s owner');

done_testing();
