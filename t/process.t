#!/usr/bin/perl
# The process: -d and -P (the daemon's pid), -u (root refused without it,
# privileges dropped with it), -k, -r, -t, SIGTERM/SIGINT under load (exit
# 0, no torn reply), SIGHUP ignored, and the -A shutdown command.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use McTest;
use McNet;

my $V = "VERSION 1.6.45\r\n";
my $dir = tempdir('mcnet-proc-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0777, $dir;

sub tcp {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2)
        or return undef;
    $s->autoflush(1);
    return $s;
}

sub limits_line {
    my ($pid, $name) = @_;
    open my $fh, '<', "/proc/$pid/limits" or return '';
    while (<$fh>) { return $_ if /^\Q$name\E/ }
    return '';
}

# --- -d -P ----------------------------------------------------------------------
{
    my $port = free_port();
    my $pidfile = "$dir/mc.pid";
    my ($rc, $out) = run_server(argv => ['-d', '-P', $pidfile, '-p', $port, '-l', '127.0.0.1', '-U', 0]);
    is($rc, 0, '-d: the starting process exits 0');
    ok(wait_until(sub { -s $pidfile && tcp($port) }), 'the daemon serves and the pid file is written');
    open my $fh, '<', $pidfile;
    my $text = <$fh> // '';
    like($text, qr/^\d+\n\z/, 'pid file: the pid and a newline');
    chomp(my $pid = $text);
    my $c = tcp($port);
    is(mem_stats($c)->{pid}, $pid, 'the pid file holds the daemon\'s pid (stats pid)');
    ok(kill(0, $pid), 'that process is alive');
    isnt($pid, $$, 'and is not us');
    close $c;
    kill 'TERM', $pid;
    ok(wait_until(sub { !kill(0, $pid) }), 'the daemon exits on SIGTERM');
    ok(wait_until(sub { !-e $pidfile }), 'the pid file is removed when a daemon exits');
}

# --- -P without -d: written, and left, as memcached does ----------------------------
{
    my $port = free_port();
    my $pidfile = "$dir/fg.pid";
    my $srv = spawn_server(argv => ['-P', $pidfile, '-p', $port, '-l', '127.0.0.1'],
                           ready => sub { tcp($port) });
    ok(wait_until(sub { -s $pidfile }), '-P without -d writes the pid file');
    open my $fh, '<', $pidfile;
    is(scalar(<$fh>), $srv->pid . "\n", 'with the server\'s pid');
    is($srv->stop >> 8, 0, 'SIGTERM: exit 0');
    ok(-e $pidfile, 'the file stays after exit without -d');
}

# --- -u ---------------------------------------------------------------------------
SKIP: {
    skip 'needs root', 5 if $> != 0;
    my ($rc, $out) = run_server(argv => ['-p', free_port(), '-l', '127.0.0.1'], user => 0);
    is($rc, 64, 'root without -u: exit 64 (EX_USAGE)');
    is($out, "must add '-u root' to start as root\n", "memcached's message");
    ($rc, $out) = run_server(argv => ['-p', free_port(), '-l', '127.0.0.1', '-u', 'no-such-user-x'],
                             user => 0);
    is($out, "can't find the user no-such-user-x to switch to\n", 'unknown user refused');
    my $port = free_port();
    my $srv = spawn_server(argv => ['-p', $port, '-l', '127.0.0.1', '-u', 'nobody'], user => 0,
                           ready => sub { tcp($port) });
    my $nobody = (getpwnam('nobody'))[2];
    is(proc_status($srv->pid, 'Uid'), $nobody, '-u nobody: runs as nobody');
    send_expect(tcp($port), "version\r\n", $V, '... and serves');
}

# --- -k, -r, -t -------------------------------------------------------------------
{
    my $srv = start_server(args => '-k -r -t 3 -m 8');
    SKIP: {
        # AddressSanitizer and ThreadSanitizer turn mlockall into a no-op.
        my $bin = $srv->binary;
        skip 'sanitizer build: mlockall does nothing', 1 if `ldd '$bin' 2>/dev/null` =~ /lib[at]san/;
        my $locked = proc_status($srv->pid, 'VmLck') // 0;
        ok($locked > 0 || $srv->stderr_text =~ /-k/,
           "-k: memory locked (VmLck $locked kB), or a warning that it could not be");
    }
    like(limits_line($srv->pid, 'Max core file size'), qr/unlimited\s+unlimited/,
         '-r: core file size unlimited');
    my $c = $srv->new_sock;
    is(mem_stats($c)->{threads}, 3, '-t 3: threads 3');
    is(mem_stats($c, 'settings')->{num_threads}, 3, 'stats settings: num_threads 3');
}

# --- SIGHUP is ignored; SIGINT stops -------------------------------------------------
{
    my $srv = start_server();
    my $c = $srv->new_sock;
    kill 'HUP', $srv->pid;
    # Delivered: no longer pending for the process (bit 0 of ShdPnd is SIGHUP).
    ok(wait_until(sub {
        open my $fh, '<', '/proc/' . $srv->pid . '/status' or return 0;
        my ($pnd) = join('', <$fh>) =~ /^ShdPnd:\s+([0-9a-f]+)$/m;
        defined $pnd && !(hex(substr($pnd, -8)) & 1);
    }), 'SIGHUP delivered');
    send_expect($c, "version\r\n", $V, 'SIGHUP: still serving on the same connection');
    kill 'INT', $srv->pid;
    expect_closed($c, 'SIGINT: the connection is closed');
    my $st = wait_until(sub { waitpid($srv->pid, WNOHANG) == $srv->pid ? [$?] : 0 });
    ok($st && $st->[0] == 0, 'SIGINT: exit status 0');
    $srv->{pid} = undef;
}

# --- SIGTERM under load: exit 0, no client sees a torn reply -------------------------
{
    my $srv = start_server(args => '-t 4 -m 64 -I 4m');
    my $port = $srv->port;
    # Big values read slowly: at SIGTERM, replies are half written.
    my $val = join '', map { chr(65 + $_ % 26) } 1 .. 3_000_000;
    my $c = $srv->new_sock;
    send_bytes($c, "set big 0 0 " . length($val) . "\r\n$val\r\n");
    is(read_line($c), "STORED\r\n", 'set a 3 MB value');
    my $reply = "VALUE big 0 " . length($val) . "\r\n$val\r\nEND\r\n";
    my @kids;
    # Each client writes a byte here after its first whole round of replies.
    pipe(my $started_r, my $started_w) or die "pipe: $!";
    for my $k (1 .. 12) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $started_r;
            # Pipeline gets and sets; at EOF, what arrived must be whole replies.
            # A small receive window keeps part of each reply in the server.
            my $s = IO::Socket::INET->new(Proto => 'tcp') or POSIX::_exit(2);
            setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 65536);
            connect($s, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1')))
                or POSIX::_exit(2);
            my ($buf, $whole) = ('', 0);
            my $deadline = time + 15;
            while (time < $deadline) {
                send_bytes($s, "get big\r\nset k$k 0 0 3\r\nabc\r\nget big\r\nget big\r\n") or last;
                my $want = length($reply) * 3 + length("STORED\r\n");
                my $before = length $buf;
                while (length($buf) < $want) {
                    my $n = sysread($s, my $chunk, 65536);
                    last unless $n;
                    $buf .= $chunk;
                    sleep 0.001;
                }
                last if length($buf) < $want;
                POSIX::_exit(3) unless $buf eq $reply . "STORED\r\n" . $reply . $reply;
                syswrite($started_w, 'x') unless $whole++;
                $buf = '';
            }
            # EOF: anything left over must itself be whole replies.
            while (length $buf) {
                if (index($buf, $reply) == 0) { substr($buf, 0, length $reply, '') }
                elsif (index($buf, "STORED\r\n") == 0) { substr($buf, 0, 8, '') }
                else { POSIX::_exit(4) }
            }
            POSIX::_exit($whole > 0 ? 0 : 5);
        }
        push @kids, $pid;
    }
    close $started_w;
    # SIGTERM once every client has had a whole round (and is into the next).
    my ($started, $until) = (0, time + 30);
    while ($started < 12 && time < $until) {
        my $rin = '';
        vec($rin, fileno $started_r, 1) = 1;
        select($rin, undef, undef, 0.5) > 0 or next;
        my $n = sysread($started_r, my $b, 12) or last;
        $started += $n;
    }
    is($started, 12, 'all 12 clients are reading replies');
    my $t = time;
    kill 'TERM', $srv->pid;
    my $status = $srv->stop;     # waits for the exit (SIGKILL only after 5 s)
    my $took = time - $t;
    is($status >> 8, 0, 'SIGTERM under load: exit status 0');
    # (stop() would have sent SIGKILL after 5 s.)
    is($status & 127, 0, sprintf('... by itself, not killed by a signal (%.1f s)', $took));
    my %codes;
    for my $pid (@kids) {
        waitpid($pid, 0);
        $codes{$? >> 8}++;
    }
    is_deeply(\%codes, { 0 => 12 }, 'all 12 clients saw only whole replies, then EOF');
}

# --- the shutdown command (-A) ----------------------------------------------------
{
    my $srv = start_server();
    my $c = $srv->new_sock;
    send_expect($c, "shutdown\r\n", "SERVER_ERROR: shutdown not enabled\r\n", 'without -A: refused');
    send_expect($c, "shutdown graceful\r\n", "SERVER_ERROR: shutdown not enabled\r\n",
                'shutdown graceful without -A: refused');

    $srv = start_server(args => '-A');
    $c = $srv->new_sock;
    send_expect($c, "shutdown now\r\n", "CLIENT_ERROR invalid shutdown mode\r\n", 'unknown mode refused');
    send_expect($c, "shutdown graceful extra\r\n", "CLIENT_ERROR invalid shutdown mode\r\n",
                'extra token refused');
    my $other = $srv->new_sock;
    send_bytes($c, "shutdown\r\n");
    expect_closed($c, 'shutdown: no reply, the connection closes');
    expect_closed($other, 'other clients are closed too');
    my $st = McNet::wait_until(sub { waitpid($srv->pid, WNOHANG) == $srv->pid ? [$?] : 0 });
    ok($st && ($st->[0] >> 8) == 0, 'the server exits with status 0');
    $srv->{pid} = undef;

    $srv = start_server(args => '-A');
    $c = $srv->new_sock;
    send_bytes($c, "shutdown graceful\r\n");
    expect_closed($c, 'shutdown graceful: no reply, the connection closes');
    $st = McNet::wait_until(sub { waitpid($srv->pid, WNOHANG) == $srv->pid ? [$?] : 0 });
    ok($st && ($st->[0] >> 8) == 0, 'the server exits with status 0');
    $srv->{pid} = undef;
}

done_testing;
