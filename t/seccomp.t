#!/usr/bin/perl
# -o drop_privileges (configure finds libseccomp): after start-up only the
# system calls serving needs are allowed; memcached-debug's "misbehave"
# makes another one, which kills the process. Off by default, as in
# memcached. The features that touch files after start-up (-Y reloads,
# -e saves, TLS) and SASL are checked with the filter on.
use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;
use McNet;
use McPortServer;

my $help = (run_until_exit(args => '-h'))[1];
unless ($help =~ /drop_privileges/) {
    note 'built without libseccomp: drop_privileges is accepted and does nothing';
    my $srv = start_server(args => '-o drop_privileges');
    send_expect($srv->new_sock, "version\r\n", "VERSION 1.6.45\r\n", 'accepted, serving');
    ok(!exists mem_stats($srv->new_sock, 'settings')->{drop_privileges},
       'no drop_privileges line in stats settings');
    done_testing;
    exit 0;
}

my $want_help = "   - drop_privileges:     enable dropping extra syscall privileges\n"
    . "   - no_drop_privileges:  disable drop_privileges in case it causes issues with\n"
    . "                          some customisation.\n"
    . "                          (default is no_drop_privileges)\n";
ok(index($help, "   - no_modern:           uses defaults of previous major version (1.4.x)\n"
             . $want_help) >= 0, '-h lists drop_privileges as memcached does, after no_modern');

my $dir = tempdir('mctest-seccomp-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# Waits for the process to exit; returns its wait status, or undef.
sub wait_gone {
    my ($pid) = @_;
    my $deadline = time + 10;
    while (time < $deadline) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    return undef;
}

# ---- default: off
{
    my $srv = start_server();
    my $c = $srv->new_sock;
    is(mem_stats($c, 'settings')->{drop_privileges}, 'no', 'off by default (stats settings)');
    send_expect($c, "misbehave\r\n", "OK\r\n", 'filter off: misbehave makes its call and says OK');
    send_expect($c, "version\r\n", "VERSION 1.6.45\r\n", 'filter off: still serving');
}

# ---- on: serving works, misbehave kills
{
    my $srv = start_server(args => '-o drop_privileges -t 4');
    my $c = $srv->new_sock;
    is(mem_stats($c, 'settings')->{drop_privileges}, 'yes', 'on: stats settings says yes');
    send_expect($c, "set a 0 0 5\r\nhello\r\n", "STORED\r\n", 'filter on: set');
    my $big = 'b' x (900 * 1024);
    send_expect($c, "set big 0 0 " . length($big) . "\r\n$big\r\n", "STORED\r\n", 'filter on: a chunked value');
    send_expect($c, "get a big\r\n", "VALUE a 0 5\r\nhello\r\nVALUE big 0 " . length($big)
                . "\r\n$big\r\nEND\r\n", 'filter on: get');
    send_expect($c, "ms m 2 T1\r\nhi\r\nmg m v\r\n", "HD\r\nVA 2\r\nhi\r\n", 'filter on: meta');
    my $st = mem_stats($c);
    ok($st->{rusage_user} =~ /^\d/, 'filter on: stats (getrusage) works');
    send_expect($c, "lru_crawler crawl all\r\n", "OK\r\n", 'filter on: a crawl');
    send_expect($c, "flush_all\r\n", "OK\r\n", 'filter on: flush_all');
    my @many = map { $srv->new_sock } 1 .. 50;
    is(scalar(grep { send_bytes($_, "version\r\n"); (read_line($_) // '') eq "VERSION 1.6.45\r\n" } @many),
       50, 'filter on: 50 more clients served');
    close $_ for @many;
    my $w = $srv->new_sock;
    send_expect($w, "watch fetchers\r\n", "OK\r\n", 'filter on: a watcher (the logger thread starts now)');
    # The watcher is registered once its OK is sent: fetch until it logs.
    my $logged = '';
    wait_until(sub {
        send_bytes($c, "get a\r\n");
        read_line($c);
        $logged .= read_bytes($w, 60, 0.3);    # log lines end in a bare "\n"
        $logged =~ /^ts=.*type=item_get key=a /;
    });
    like($logged, qr/^ts=.*type=item_get key=a /, 'filter on: the watcher gets a log line');

    send_bytes($c, "misbehave\r\n");
    expect_closed($c, 'misbehave: the connection drops');
    my $status = wait_gone($srv->pid);
    $srv->{pid} = undef;
    ok(defined $status && ($status >> 8) == 1, 'misbehave: the process exits with status 1')
        or diag('wait status ' . ($status // 'none'));
    like($srv->stderr_text, qr/drop_privileges: forbidden system call \d+/,
         'misbehave: it names the forbidden system call');
}

# ---- on, with the features that use files after start-up
{
    my $pw = "$dir/pw";
    open my $fh, '>', $pw or die; print $fh "alice:one\n"; close $fh;
    my $port = free_port();
    my $sock = sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") };
    my $p = spawn_server(argv => ['-p', $port, '-U', 0, '-l', '127.0.0.1', '-Y', $pw,
                                  '-o', 'drop_privileges'], ready => $sock);
    my $c = $sock->();
    send_expect($c, "set x 0 0 9\r\nalice one\r\n", "STORED\r\n", '-Y with the filter: login');
    open $fh, '>', $pw or die; print $fh "bob:two\n"; close $fh;
    $p->signal('HUP');
    my $ok = wait_until(sub {
        my $s = $sock->() or return 0;
        send_bytes($s, "set x 0 0 7\r\nbob two\r\n");
        (read_line($s) // '') eq "STORED\r\n";
    });
    ok($ok, '-Y with the filter: SIGHUP reloads the file');
    ok($p->alive, '-Y with the filter: still alive after the reload');
    $p->stop;
}
{
    my $file = "$dir/cache.mem";
    my $srv = start_server(args => "-m 40 -e $file -o drop_privileges");
    my $c = $srv->new_sock;
    send_expect($c, "set kept 3 0 5\r\nwarm!\r\n", "STORED\r\n", '-e with the filter: stored');
    my $pid = $srv->pid;
    kill 'USR1', $pid;
    my $status = wait_gone($pid);
    $srv->{pid} = undef;
    is($status, 0, '-e with the filter: SIGUSR1 saves and exits 0');
    ok(-s "$file.meta", '-e with the filter: the metadata file was written');
    my $again = start_server(args => "-m 40 -e $file -o drop_privileges");
    mem_get_is($again->new_sock, 'kept', 'warm!', '-e with the filter: the item is back');
}

SKIP: {
    skip 'built without TLS', 3 unless $help =~ /--enable-ssl/;
    eval { require IO::Socket::SSL; 1 } or skip 'IO::Socket::SSL not installed', 3;
    chomp(my $openssl = `command -v openssl 2>/dev/null`);
    skip 'openssl command not found', 3 unless $openssl;
    system("$openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
           . "-keyout $dir/k.pem -out $dir/c.pem >/dev/null 2>&1") == 0 or skip 'openssl failed', 3;
    my $port = free_port();
    my $tls = sub { IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$port", SSL_verify_mode => 0) };
    my $p = spawn_server(argv => ['-p', $port, '-U', 0, '-l', '127.0.0.1', '-Z',
                                  '-o', "ssl_chain_cert=$dir/c.pem,ssl_key=$dir/k.pem,drop_privileges"],
                         ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") });
    my $s = $tls->();
    ok($s, 'TLS with the filter: handshake');
    send_expect($s, "set t 0 0 3\r\ntls\r\nget t\r\n", "STORED\r\nVALUE t 0 3\r\ntls\r\nEND\r\n",
                'TLS with the filter: set and get') if $s;
    my $r = $tls->();
    send_bytes($r, "refresh_certs\r\n") if $r;
    is($r ? read_line($r) : undef, "OK\r\n", 'TLS with the filter: refresh_certs rereads the files');
    $p->stop;
}

SKIP: {
    skip 'built without SASL', 2 unless $help =~ /--enable-sasl/;
    my $db = "$dir/sasl.pw";
    open my $fh, '>', $db or die; print $fh "carl\@test:secret\n"; close $fh;
    local $ENV{MEMCACHED_SASL_PWDB} = $db;
    local $ENV{SASL_CONF_PATH} = $dir;
    open $fh, '>', "$dir/memcached.conf" or die; print $fh "mech_list: plain\n"; close $fh;
    my $port = free_port();
    my $p = spawn_server(argv => ['-p', $port, '-U', 0, '-l', '127.0.0.1', '-S', '-B', 'binary',
                                  '-o', 'drop_privileges'],
                         ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") });
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die;
    my $auth = "\0carl\@test\0secret";
    send_bytes($s, pack('CCnCCnNNQ>', 0x80, 0x21, 5, 0, 0, 0, 5 + length $auth, 0, 0) . 'PLAIN' . $auth);
    my $hdr = McTest::read_bytes($s, 24);
    my $status = length $hdr == 24 ? unpack('x6 n', $hdr) : undef;
    is($status, 0, 'SASL with the filter: PLAIN login accepted');
    ok($p->alive, 'SASL with the filter: still alive');
    $p->stop;
}

done_testing;
