#!/usr/bin/perl
# Connection limits and fairness: -c with maxconns_fast (refuse with an
# error) and without (pause accepting), -b, -o idle_timeout, -R against a
# pipelining client, and 1000 clients at once.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use McTest;
use McNet;

sub connect_port {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2)
        or return undef;
    $s->autoflush(1);
    return $s;
}

# $n clients of $srv once the server counts exactly the first of them:
# start_server's own check connection, or a client of a previous step, may
# still be counted for a moment after its close (a busy machine), and -c
# counts every connection.  Dies if the count does not settle in 10 s.
sub clients_alone {
    my ($srv, $n) = @_;
    my $first = $srv->new_sock;
    my $st = poll_stats($first, undef, sub { $_[0]{curr_connections} == 1 });
    $st->{curr_connections} == 1
        or die "curr_connections stays $st->{curr_connections} with one client\n";
    return ($first, map { $srv->new_sock } 2 .. $n);
}

# A client is served if it answers version.
sub served {
    my ($s) = @_;
    send_bytes($s, "version\r\n");
    # 10 s: a reply 2 s late (load average 60) was taken for no reply, and
    # then read by the next stats.
    my $l = read_line($s, 10);
    return defined $l && $l eq "VERSION 1.6.45\r\n";
}

# --- -c 10, maxconns_fast (the default) --------------------------------------
{
    my $srv = start_server(args => '-c 10');
    my @c = clients_alone($srv, 10);
    is(scalar(grep { served($_) } @c), 10, '-c 10: ten clients are served');
    my $over = $srv->new_sock;
    is(read_line($over), "ERROR Too many open connections\r\n",
       'the eleventh is told "ERROR Too many open connections"');
    expect_closed($over, '... and closed');
    my $over2 = $srv->new_sock;
    is(read_line($over2), "ERROR Too many open connections\r\n", 'so is the twelfth');
    close $c[0];
    my $back;
    wait_until(sub {
        my $s = $srv->new_sock;
        return $back = $s if served($s);
        return 0;
    });
    ok($back, 'once a client leaves, a new one is served');
    my $st = mem_stats($back);
    cmp_ok($st->{rejected_connections}, '>=', 2, 'rejected_connections counts the refused');
    is($st->{accepting_conns}, 1, 'accepting_conns stays 1 with maxconns_fast');
    is($st->{listen_disabled_num}, 0, 'listen_disabled_num stays 0');
    is($st->{max_connections}, 10, 'max_connections');
    is(mem_stats($back, 'settings')->{maxconns_fast}, 'yes', 'maxconns_fast yes');
}

# --- -c 10 -o no_maxconns_fast: accepting pauses, then resumes -----------------
{
    my $srv = start_server(args => '-c 10 -o no_maxconns_fast');
    my @c = clients_alone($srv, 10);
    is(scalar(grep { served($_) } @c), 10, 'no_maxconns_fast: ten clients served');
    my $waiting = $srv->new_sock;   # completes in the kernel backlog
    send_bytes($waiting, "version\r\n");
    expect_nothing($waiting, 300, 'the eleventh waits: not accepted, no reply');
    my $st = mem_stats($c[1]);
    is($st->{accepting_conns}, 0, 'accepting_conns 0 while paused');
    cmp_ok($st->{listen_disabled_num}, '>=', 1, 'listen_disabled_num counts the pause');
    ok(!exists $st->{rejected_connections}, 'no rejected_connections line without maxconns_fast');
    close $c[0];
    is(read_line($waiting, 3), "VERSION 1.6.45\r\n", 'a client leaves: the waiting one is served');
    $st = mem_stats($c[1]);
    is($st->{accepting_conns}, 1, 'accepting_conns back to 1');
    cmp_ok($st->{time_in_listen_disabled_us}, '>=', 250_000,
           'time_in_listen_disabled_us counts the pause');
    send_expect($c[1], "stats reset\r\n", "RESET\r\n", 'stats reset');
    $st = mem_stats($c[1]);
    is_deeply([@$st{qw(listen_disabled_num time_in_listen_disabled_us total_connections)}], [0, 0, 0],
              'stats reset zeroes listen_disabled_num, time_in_listen_disabled_us, total_connections');
}

# --- out of file descriptors: accepting pauses, then resumes ------------------------
SKIP: {
    skip 'prlimit not available', 5 unless -x '/usr/bin/prlimit';
    my $srv = start_server(args => '-t 1');
    my $pid = $srv->pid;
    opendir(my $dh, "/proc/$pid/fd") or skip "cannot read /proc/$pid/fd", 5;
    my $open = grep { /^\d+$/ } readdir $dh;
    system('prlimit', "--pid=$pid", '--nofile=' . ($open + 4) . ':' . ($open + 4)) == 0
        or skip 'prlimit failed', 5;
    # Room for about 4 more descriptors: clients are served until one waits.
    my (@c, $waiting);
    for (1 .. 10) {
        my $s = $srv->new_sock;
        send_bytes($s, "version\r\n");
        my $l = read_line($s, 0.5);
        # No reply yet: waiting only if the server has stopped accepting
        # (a busy machine can be slow to answer one that was accepted).
        $l = read_line($s, 5) if !defined $l && (!@c || mem_stats($c[0])->{accepting_conns});
        if (defined $l) {
            push @c, $s if $l eq "VERSION 1.6.45\r\n";
        } else {
            $waiting = $s;
            last;
        }
    }
    cmp_ok(scalar @c, '>=', 3, 'clients are served while descriptors last (' . scalar(@c) . ')');
    ok($waiting, 'out of descriptors: the next one waits, not refused');
    $waiting //= $srv->new_sock;
    my $st = mem_stats($c[0]);
    is($st->{accepting_conns}, 0, 'accepting_conns 0');
    cmp_ok($st->{listen_disabled_num}, '>=', 1, 'listen_disabled_num counts the pause');
    close $c[1];
    is(read_line($waiting, 3), "VERSION 1.6.45\r\n", 'a client leaves: the waiting one is served');
    like($srv->stderr_text, qr/^accept4\(\): Too many open files$/m, "memcached's message");
}

# --- -b: the listen backlog -------------------------------------------------
{
    my $srv = start_server(args => '-b 37');
    my $port = $srv->port;
    is(mem_stats($srv->new_sock, 'settings')->{tcp_backlog}, 37, 'stats settings: tcp_backlog');
    my $ss = `ss -Hltn 'sport = :$port' 2>/dev/null`;
    SKIP: {
        skip 'ss cannot show the backlog', 1 unless $ss =~ /LISTEN\s+\d+\s+(\d+)/;
        is($1, 37, 'the kernel listen queue is 37 (ss Send-Q)');
    }
}

# --- -o idle_timeout ----------------------------------------------------------
{
    my $srv = start_server(args => '-o idle_timeout=2');
    my $idle = $srv->new_sock;
    my $t0 = time;      # before its last request: the idle time is at least time - $t0
    send_expect($idle, "version\r\n", "VERSION 1.6.45\r\n", 'idle client: one request');
    my $partial = $srv->new_sock;
    send_bytes($partial, "get k");              # waiting for the rest of a line
    my $midvalue = $srv->new_sock;
    send_bytes($midvalue, "set k 0 0 10\r\nabc"); # in the middle of a value
    my $busy = $srv->new_sock;
    my %closed;
    while (time - $t0 < 10) {
        served($busy) or last;
        for my $pair ([idle => $idle], [partial => $partial], [midvalue => $midvalue]) {
            my ($name, $s) = @$pair;
            next if $closed{$name};
            my $sel = IO::Select->new($s);
            if ($sel->can_read(0)) {
                my $n = sysread($s, my $buf, 100);
                $closed{$name} = time - $t0 if !$n;
            }
        }
        last if $closed{idle} && $closed{partial};
        sleep 0.25;
    }
    ok($closed{idle}, 'idle client closed');
    ok($closed{idle} && $closed{idle} > 1.9,
       sprintf('... after more than 2 s (%.1f s)', $closed{idle} // -1));
    ok($closed{partial}, 'client idle in the middle of a command line closed');
    ok(!$closed{midvalue}, 'client in the middle of a value is not');
    my $st = mem_stats($busy);
    is($st->{idle_kicks}, 2, 'idle_kicks 2');
    is(mem_stats($busy, 'settings')->{idle_timeout}, 2, 'stats settings: idle_timeout');
    send_bytes($midvalue, "defghij\r\n");
    is(read_line($midvalue), "STORED\r\n", 'the mid-value client finishes its set');
}
{
    my $srv = start_server();
    ok(!exists mem_stats($srv->new_sock)->{idle_kicks}, 'no idle_kicks line without idle_timeout');
}

# --- -R: a client pipelining thousands of requests does not starve others --------
{
    my $srv = start_server(args => '-t 1 -R 5');
    my $setup = $srv->new_sock;
    send_expect($setup, "set k 0 0 1\r\nv\r\n", "STORED\r\n", 'set k');
    my $n = 100_000;
    my $pipe = $srv->new_sock;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # The pipelining client: writes every request, reads every reply.
        my $want = "VALUE k 0 1\r\nv\r\nEND\r\n" x $n;
        my $req = "get k\r\n" x $n;
        my ($off, $got) = (0, '');
        $pipe->blocking(0);
        my $deadline = time + 20;
        while (length $got < length $want && time < $deadline) {
            my ($r, $w) = ('', '');
            vec($r, fileno $pipe, 1) = 1;
            vec($w, fileno $pipe, 1) = 1 if $off < length $req;
            select($r, $w, undef, 0.5);
            if ($off < length $req && vec($w, fileno $pipe, 1)) {
                my $k = syswrite($pipe, $req, 65536, $off);
                $off += $k if $k;
            }
            if (vec($r, fileno $pipe, 1)) {
                my $k = sysread($pipe, my $buf, 1 << 20);
                last unless $k;
                $got .= $buf;
            }
        }
        POSIX::_exit($got eq $want ? 0 : 1);
    }
    sleep 0.05;
    my $other = $srv->new_sock;
    my ($rounds, $reaped) = (0, 0);
    while ($rounds < 200) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            $reaped = 1;
            last;
        }
        served($other) or last;
        $rounds++;
    }
    my $overlapped = $rounds;
    waitpid($pid, 0) unless $reaped;
    is($? >> 8, 0, "the pipelining client gets all $n replies, in order");
    cmp_ok($overlapped, '>', 5, "another client on the same worker was served meanwhile ($overlapped round trips)");
    cmp_ok(mem_stats($other)->{conn_yields}, '>', 100, 'conn_yields counts the -R yields');
    is(mem_stats($other, 'settings')->{reqs_per_event}, 5, 'stats settings: reqs_per_event');
}

# --- -R: conn_yields as memcached 1.6.45 counts them -----------------------------
# Measured on 1.6.45 (-t 1, each pipeline in one write on one connection,
# all replies read before the next): it serves R + 1 requests before the
# first yield and R after each, and sending the replies at the end of a
# batch costs a request too (mn sends its own at once).
{
    my %want = (
        20 => [[get => 20, 1], [get => 21, 1], [get => 41, 2], [get => 100, 5],
               [set => 20, 1], [set => 100, 5],
               [mn => 20, 0], [mn => 21, 1], [mn => 41, 2], [mn => 100, 4]],
        2  => [[get => 20, 10], [get => 21, 10], [get => 22, 11], [get => 41, 20],
               [mn => 20, 9], [mn => 21, 10], [mn => 100, 49]],
    );
    my %req = (get => sub { "get k\r\n" x $_[0] }, mn => sub { "mn\r\n" x $_[0] },
               set => sub { "set k 0 0 1\r\nv\r\n" x $_[0] });
    my %rep = (get => sub { "VALUE k 0 1\r\nv\r\nEND\r\n" x $_[0] }, mn => sub { "MN\r\n" x $_[0] },
               set => sub { "STORED\r\n" x $_[0] });
    for my $r (sort { $b <=> $a } keys %want) {
        my $srv = start_server(args => "-t 1 -R $r");
        my ($c, $st) = ($srv->new_sock, $srv->new_sock);
        send_expect($c, "set k 0 0 1\r\nv\r\n", "STORED\r\n", "-R $r: set k");
        for my $w (@{ $want{$r} }) {
            my ($kind, $n, $yields) = @$w;
            my $before = mem_stats($st)->{conn_yields};
            send_expect($c, $req{$kind}->($n), $rep{$kind}->($n), "-R $r: $n pipelined $kind answered");
            is(mem_stats($st)->{conn_yields} - $before, $yields, "-R $r: $n pipelined $kind: $yields yields");
        }
    }
}

# --- -R: noreply pipelines yield as memcached 1.6.45's do -------------------------
# Measured on 1.6.45 (-t 1, "set k 0 0 1 noreply\r\nv\r\n" x n, 24 bytes each,
# in one write; done when cmd_set has counted them): a batch of noreply
# requests costs a request at its end as one with replies does, and so does a
# request cut by the end of the 16 KB read buffer (683 and more sets) when
# requests before it are unflushed.
{
    my %want = (
        2 => [[1, 0], [2, 1], [3, 1], [4, 2], [5, 2], [6, 3], [10, 5], [11, 5], [100, 50],
              [682, 341], [683, 341], [684, 342], [1000, 500]],
        3 => [[3, 1], [6, 2], [682, 227], [683, 227], [684, 227], [1000, 333]],
    );
    my $nr = "set k 0 0 1 noreply\r\nv\r\n";
    for my $r (sort keys %want) {
        my $srv = start_server(args => "-t 1 -R $r");
        my ($c, $st) = ($srv->new_sock, $srv->new_sock);
        # Sends $n noreply sets in each of @writes (after the last is done);
        # returns the yields they caused.
        my $yields_of = sub {
            my @writes = @_;
            my $before = mem_stats($st);
            my $sets = $before->{cmd_set};
            for my $n (@writes) {
                send_bytes($c, $nr x $n);
                $sets += $n;
                poll_stats($st, undef, sub { $_[0]{cmd_set} >= $sets });
            }
            return mem_stats($st)->{conn_yields} - $before->{conn_yields};
        };
        for my $w (@{ $want{$r} }) {
            my ($n, $yields) = @$w;
            is($yields_of->($n), $yields, "-R $r: $n pipelined noreply sets: $yields yields");
        }
        send_expect($c, "mn\r\n", "MN\r\n", "-R $r: nothing was answered to the noreply sets");
        if ($r == 2) {
            is($yields_of->((100) x 10), 500, '-R 2: 1000 noreply sets in 10 writes of 100: 500 yields');
            send_expect($c, ($nr x 1000) . "mn\r\n", "MN\r\n", '-R 2: 1000 noreply sets and mn answered');
        }
    }
}

# --- 1000 clients at once ------------------------------------------------------
{
    my $have = raise_nofile(1200);
    SKIP: {
        skip "cannot raise RLIMIT_NOFILE to 1200 (have $have)", 4 if $have < 1200;
        my $srv = start_server(args => '-c 2000 -t 4');
        my @c;
        for (1 .. 1000) {
            my $s = $srv->new_sock;
            push @c, $s;
        }
        send_bytes($_, "version\r\n") for @c;
        my $ok = grep { (read_line($_) // '') eq "VERSION 1.6.45\r\n" } @c;
        is($ok, 1000, '1000 concurrent clients all answered');
        my $probe = $srv->new_sock;
        my $st;
        wait_until(sub { ($st = mem_stats($probe))->{curr_connections} == 1001 });
        is($st->{curr_connections}, 1001, 'curr_connections 1001 (1001 clients + listener - 1)');
        cmp_ok($st->{connection_structures}, '>=', 1002, 'connection_structures: the peak');
        close $_ for @c;
        my $after = wait_until(sub { mem_stats($probe)->{curr_connections} == 1 });
        ok($after, 'all closed: curr_connections back to 1');
    }
}

done_testing;
