#!/usr/bin/perl
# The connection probes on every transport and for every way a connection
# ends: conn__open/conn__close (reasons client, error, idle_timeout, limit,
# shutdown), conn__limit (refused and paused accepts), conn__read/write,
# conn__yield (-R) and conn__dispatch, over TCP, a UNIX socket and UDP.
# Needs root and bpftrace; skipped otherwise (failed under
# MEMCACHED_REQUIRE_PROBES).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::UNIX;
use Time::HiRes qw(sleep time);
use McTest;
use McNet;

require_probes_or_skip('all');

my $U = 'usdt:{BIN}:memcached';
my $PROGRAM = <<"BT";
$U:conn__open { printf("%llu|open|%d|%s|%s\\n", nsecs, arg0, str(arg1), str(arg2)); }
$U:conn__close { printf("%llu|close|%d|%s\\n", nsecs, arg0, str(arg1)); }
$U:conn__limit { printf("%llu|limit|%d|%d\\n", nsecs, arg0, arg1); }
$U:conn__dispatch { printf("%llu|dispatch|%d|%lld\\n", nsecs, arg0, arg1); }
$U:conn__read { printf("%llu|read|%d|%lld\\n", nsecs, arg0, arg1); }
$U:conn__write { printf("%llu|write|%d|%lld\\n", nsecs, arg0, arg1); }
$U:conn__yield { printf("%llu|yield|%d\\n", nsecs, arg0); }
BT

# Lines split on '|' and sorted on nsecs (per-CPU buffers may reorder).
sub trace {
    my ($srv, $client, @closes) = @_;
    # conn__close fires in the worker after the client saw its EOF: with
    # @closes given, wait for a conn__close of each of those reasons.
    my $closed = sub {
        my %seen = map { ((split /\|/)[3] // '') => 1 } grep { /^\d+\|close\|/ } @_;
        return !grep { !$seen{$_} } @closes;
    };
    my @lines = trap_probe($srv, $PROGRAM, $client, @closes ? (wait_for => $closed) : ());
    my @rows = map { [ split /\|/, $_, -1 ] } grep { /^\d+\|/ } @lines;
    diag("unexpected bpftrace output: $_") for grep { !/^\d+\|/ } @lines;
    return sort { $a->[0] <=> $b->[0] } @rows;
}
sub rows_of { my ($rows, $probe, $fd) = @_;
    return grep { $_->[1] eq $probe && (!defined $fd || $_->[2] eq $fd) } @$rows }
sub sum_of { my $n = 0; $n += $_->[3] for @_; return $n }
sub fd_of_peer { my ($rows, $peer) = @_;
    my @o = grep { $_->[4] eq $peer } rows_of($rows, 'open'); return @o ? $o[0][2] : undef }
# The rows of one connection: its fd's rows from its conn__open to its
# conn__close, and the conn__dispatch before it (descriptors are reused).
sub conn_rows {
    my ($rows, $peer) = @_;
    my ($open) = grep { $_->[1] eq 'open' && $_->[4] eq $peer } @$rows;
    return () unless $open;
    # conn__dispatch (the listener) comes just before conn__open (the worker).
    my @before = grep { $_->[1] eq 'dispatch' && $_->[2] eq $open->[2] && $_->[0] <= $open->[0] } @$rows;
    my @mine = @before ? ($before[-1]) : ();
    for my $r (grep { $_->[0] >= $open->[0] && $_->[2] eq $open->[2] } @$rows) {
        next if $r->[1] eq 'limit';
        push @mine, $r;
        last if $r->[1] eq 'close';
    }
    return @mine;
}

# ============================================ TCP: client, error, idle, yield, limit
{
    my $srv = start_server(args => '-t 2 -R 2 -c 4 -o idle_timeout=1');
    my %port;
    my @rows = trace($srv, sub {
        my $a = $srv->new_sock;
        $port{a} = $a->sockport;
        send_expect($a, "set k 0 0 1\r\nv\r\n", "STORED\r\n", 'set');
        send_expect($a, "get k\r\n" x 9, "VALUE k 0 1\r\nv\r\nEND\r\n" x 9, '9 pipelined gets');
        close $a;
        my $http = $srv->new_sock;
        $port{http} = $http->sockport;
        send_bytes($http, "GET / HTTP/1.1\r\n");
        expect_closed($http, 'an HTTP request line is hung up on');
        my $idle = $srv->new_sock;
        $port{idle} = $idle->sockport;
        send_expect($idle, "version\r\n", "VERSION 1.6.45\r\n", 'idle client: one request');
        my @fill = map { $srv->new_sock } 1 .. 3;   # idle + 3: at the limit of 4
        send_expect($_, "version\r\n", "VERSION 1.6.45\r\n", 'filler served') for @fill;
        my $over = $srv->new_sock;
        $port{over} = $over->sockport;
        is(read_line($over), "ERROR Too many open connections\r\n", 'fifth client refused');
        expect_closed($idle, 'the idle client is closed by idle_timeout', 5);
    }, qw(client error idle_timeout limit));

    my @a = conn_rows(\@rows, "127.0.0.1:$port{a}");
    ok(@a, 'conn__open for the client, peer 127.0.0.1:port');
    is((rows_of(\@a, 'open'))[0][3], 'tcp', 'conn__open transport "tcp"') if @a;
    my @d = rows_of(\@a, 'dispatch');
    is(scalar @d, 1, 'conn__dispatch once for it');
    ok(@d && $d[0][3] >= 0 && $d[0][3] < 2, 'conn__dispatch threadid: a worker index');
    is(sum_of(rows_of(\@a, 'read')), length("set k 0 0 1\r\nv\r\n" . "get k\r\n" x 9),
       'conn__read bytes add up to what it sent');
    is(sum_of(rows_of(\@a, 'write')), length("STORED\r\n" . "VALUE k 0 1\r\nv\r\nEND\r\n" x 9),
       'conn__write bytes add up to what it received');
    my @y = rows_of(\@a, 'yield');
    cmp_ok(scalar @y, '>=', 3, 'conn__yield fires as -R 2 is reached (' . scalar(@y) . ' times)');
    is_deeply([map { $_->[3] } rows_of(\@a, 'close')], ['client'], 'conn__close reason "client"');

    my @http = conn_rows(\@rows, "127.0.0.1:$port{http}");
    is_deeply([map { $_->[3] } rows_of(\@http, 'close')], ['error'],
              'conn__close reason "error" (HTTP request hung up on)');
    my @idle = conn_rows(\@rows, "127.0.0.1:$port{idle}");
    is_deeply([map { $_->[3] } rows_of(\@idle, 'close')], ['idle_timeout'],
              'conn__close reason "idle_timeout"');

    my @limit = rows_of(\@rows, 'limit');
    is(scalar @limit, 1, 'conn__limit once for the refused client');
    is_deeply([@{ $limit[0] // [] }[2, 3]], [4, 4], 'conn__limit(curr_conns 4, max_conns 4)');
    my @over = conn_rows(\@rows, "127.0.0.1:$port{over}");
    ok(@over, 'the refused client: conn__open');
    is_deeply([map { $_->[3] } rows_of(\@over, 'close')], ['limit'],
              '... and conn__close reason "limit"');
    is(scalar(rows_of(\@over, 'dispatch')), 0, '... never dispatched to a worker');
}

# ============================================ no_maxconns_fast: paused accepts
{
    my $srv = start_server(args => '-c 2 -o no_maxconns_fast');
    my @rows = trace($srv, sub {
        my @c = map { $srv->new_sock } 1 .. 2;
        send_expect($_, "version\r\n", "VERSION 1.6.45\r\n", 'at the limit') for @c;
        my $wait = $srv->new_sock;
        send_bytes($wait, "version\r\n");
        expect_nothing($wait, 300, 'third client waits');
        close $c[0];
        is(read_line($wait, 3), "VERSION 1.6.45\r\n", 'served once one leaves');
    });
    my @limit = rows_of(\@rows, 'limit');
    is(scalar @limit, 1, 'conn__limit once when accepting pauses');
    is_deeply([@{ $limit[0] // [] }[2, 3]], [2, 2], 'conn__limit(2, 2)');
    is(scalar(grep { $_->[3] eq 'limit' } rows_of(\@rows, 'close')), 0,
       'no conn__close "limit": the client waits instead');
}

# ============================================ UNIX socket
{
    my $dir = tempdir('mcnet-probe-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $path = "$dir/mc.sock";
    my $srv = spawn_server(argv => ['-s', $path],
                           ready => sub { IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) });
    my @rows = trace($srv, sub {
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or die $!;
        send_expect($s, "version\r\n", "VERSION 1.6.45\r\n", 'version over UNIX socket');
        close $s;
    }, 'client');
    my @open = rows_of(\@rows, 'open');
    is(scalar @open, 1, 'UNIX: conn__open once');
    is_deeply([@{ $open[0] // [] }[3, 4]], ['unix', $path], 'UNIX: transport "unix", peer the path');
    my $fd = @open ? $open[0][2] : -1;
    is(scalar(rows_of(\@rows, 'dispatch', $fd)), 1, 'UNIX: conn__dispatch');
    is(sum_of(rows_of(\@rows, 'read', $fd)), 9, 'UNIX: conn__read 9 bytes');
    is(sum_of(rows_of(\@rows, 'write', $fd)), 16, 'UNIX: conn__write 16 bytes');
    is_deeply([map { $_->[3] } rows_of(\@rows, 'close', $fd)], ['client'], 'UNIX: conn__close "client"');
}

# ============================================ UDP, and shutdown
{
    my $srv = start_server(udp => 1, args => '-t 2');
    my $port = $srv->port;
    my $tcp_port;
    my @rows = trace($srv, sub {
        my @m = udp_messages(udp_request($port, "version\r\n", id => 5));
        is($m[0]{data}, "VERSION 1.6.45\r\n", 'UDP version');
        my $s = $srv->new_sock;
        $tcp_port = $s->sockport;
        send_expect($s, "version\r\n", "VERSION 1.6.45\r\n", 'a TCP client connected at shutdown');
        kill 'TERM', $srv->pid;
        expect_closed($s, 'SIGTERM closes it');
        wait_until(sub { !kill(0, $srv->pid) });
    });
    my @reads = grep { $_->[3] == 8 + 9 } rows_of(\@rows, 'read');
    is(scalar @reads, 1, 'UDP: conn__read with the datagram size (header included)');
    my $ufd = @reads ? $reads[0][2] : -1;
    is(sum_of(rows_of(\@rows, 'write', $ufd)), 8 + 16, 'UDP: conn__write with the reply datagram size');
    my @t = conn_rows(\@rows, "127.0.0.1:$tcp_port");
    is_deeply([map { $_->[3] } rows_of(\@t, 'close')], ['shutdown'],
              'SIGTERM: conn__close reason "shutdown" for the TCP client');
    is_deeply([map { $_->[3] } rows_of(\@rows, 'close', $ufd)], ['shutdown'],
              'SIGTERM: conn__close "shutdown" for the UDP socket');
    $srv->stop;
}

done_testing;
