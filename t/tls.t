#!/usr/bin/perl
# TLS (-Z, configure --enable-tls): the handshake, commands and large values
# over TLS, a plaintext client refused on a TLS port, a notls: listener next
# to a TLS one, refresh_certs and SIGHUP reloading the certificate, client
# certificates with ssl_verify_mode=2 and mtls:, the ssl_* stats and
# start-up refusals. A binary built without TLS must refuse all of it the
# way memcached built without TLS does.
use strict;
use warnings;
use lib 't/lib';
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;
use McPortServer;

my $help = (run_until_exit(args => '-h'))[1];
unless ($help =~ /--enable-ssl/) {
    # ---- a build without TLS
    note 'built without TLS (configure --enable-tls): checking only that TLS is refused';
    my ($code, $out) = run_until_exit(args => '-p -1 -U 0 -l 127.0.0.1 -Z');
    is($code, 64, 'no TLS built: -Z exits 64');
    is($out, "This server is not built with TLS support.\n", 'no TLS built: -Z message');
    ($code, $out) = run_until_exit(args => '-p -1 -U 0 -l notls:127.0.0.1');
    is($code, 71, 'no TLS built: notls: prefix refused');
    like($out, qr/^'notls' option is valid only when SSL is enabled\n/, 'notls: message');
    my $srv = start_server();
    send_expect($srv->new_sock, "refresh_certs\r\n", "ERROR\r\n",
                'no TLS built: refresh_certs is an unknown command');
    ok(!exists mem_stats($srv->new_sock, 'settings')->{ssl_enabled}, 'no ssl_* settings');
    done_testing;
    exit 0;
}

eval { require IO::Socket::SSL; 1 }
    or plan skip_all => 'IO::Socket::SSL not installed (libio-socket-ssl-perl)';
chomp(my $openssl = `command -v openssl 2>/dev/null`);
plan skip_all => 'openssl command not found' unless $openssl;

my $dir = tempdir('mctest-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# A self-signed certificate and key for CN=$cn in $dir/$name.{crt,key}.
sub make_cert {
    my ($name, $cn) = @_;
    system("$openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=$cn "
           . "-keyout $dir/$name.key -out $dir/$name.crt >/dev/null 2>&1") == 0
        or die "openssl req failed for $name\n";
}
make_cert('server', 'localhost');
make_cert('renewed', 'renewed');
make_cert('client', 'client');
copy("$dir/server.crt", "$dir/live.crt") or die;
copy("$dir/server.key", "$dir/live.key") or die;

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1,
                                  ReuseAddr => 1) or die "no free port: $!";
    return $s->sockport;
}

# Starts -Z with a plain notls: listener (used to see it is up) and a TLS
# one (its -l prefix: $tls_prefix); $certs replaces the default
# ssl_chain_cert/ssl_key options, $opts adds some. Returns (server, tls port).
sub start_tls_server {
    my ($opts, $tls_prefix, $certs) = @_;
    $certs //= "ssl_chain_cert=$dir/live.crt,ssl_key=$dir/live.key";
    my ($plain, $tls) = (free_port(), free_port());
    my @argv = ('-p', $tls, '-U', 0, '-l', "notls:127.0.0.1:$plain," . ($tls_prefix // '')
                . "127.0.0.1:$tls", ($> == 0 ? ('-u', 'root') : ()), '-Z',
                '-o', $certs . ($opts ? ",$opts" : ''));
    my $srv = McTest::Server->_spawn(find_binary(), $plain, \@argv);
    return ($srv, $tls);
}

# A TLS connection (the server certificate is not checked unless asked).
sub tls_sock {
    my ($port, %opt) = @_;
    return IO::Socket::SSL->new(PeerHost => '127.0.0.1', PeerPort => $port, Timeout => 5,
                                SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE(),
                                %opt);
}

# Reads until the server closes or $timeout passes: (bytes, closed?).
sub drain {
    my ($sock, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    my $got = '';
    my $sel = IO::Select->new($sock);
    while (time < $deadline) {
        next unless $sel->can_read($deadline - time);
        my $n = sysread($sock, my $buf, 65536);
        return ($got, 1) unless $n;
        $got .= $buf;
    }
    return ($got, 0);
}

# ssl_handshake_errors of $srv once it reaches $want (the server counts a
# failure just after its alert leaves, so a client may see it first).
sub handshake_errors_reach {
    my ($srv, $want) = @_;
    my $n;
    for (1 .. 40) {
        $n = mem_stats($srv->new_sock)->{ssl_handshake_errors};
        last if $n >= $want;
        sleep 0.05;
    }
    return $n;
}

# ---- a TLS listener and a notls: one
my ($srv, $tls_port) = start_tls_server();
# Without ssl_key the key is read from the chain file.
{
    open my $out, '>', "$dir/both.pem" or die;
    for my $f ("$dir/server.crt", "$dir/server.key") {
        open my $in, '<', $f or die;
        print $out do { local $/; <$in> };
    }
    close $out;
    my ($ksrv, $port) = start_tls_server(undef, undef, "ssl_chain_cert=$dir/both.pem");
    my $s = tls_sock($port);
    send_expect($s, "version\r\n", "VERSION ", 'no ssl_key: the key comes from the chain file');
}
{
    my $s = tls_sock($tls_port, SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_PEER(),
                     SSL_ca_file => "$dir/server.crt", SSL_verifycn_name => 'localhost',
                     SSL_verifycn_scheme => 'default');
    ok($s, 'TLS handshake with the configured certificate (verified by the client)')
        or diag(IO::Socket::SSL::errstr());
    send_expect($s, "version\r\n", "VERSION ", 'version over TLS');
    read_line($s);
    send_expect($s, "set greeting 5 0 5\r\nhello\r\n", "STORED\r\n", 'set over TLS');
    mem_get_is($s, 'greeting', [5, 'hello'], 'get over TLS');

    my $big = join '', map { chr(($_ * 7 + 3) % 256) } 1 .. 700_000;
    send_expect($s, "set big 0 0 " . length($big) . "\r\n$big\r\n", "STORED\r\n",
                'set a 700 KB value over TLS');
    mem_get_is($s, 'big', [0, $big], 'get the 700 KB value back byte-exact');

    # 20 pipelined gets: 14 MB of replies, far more than the socket holds,
    # so the server's TLS writes must wait and resume.
    send_bytes($s, "get big\r\n" x 20);
    my $want = ("VALUE big 0 " . length($big) . "\r\n$big\r\nEND\r\n") x 20;
    my $got = read_bytes($s, length $want, 20);
    ok($got eq $want, '20 pipelined 700 KB gets arrive intact over TLS')
        or diag('got ' . length($got) . ' of ' . length($want) . ' bytes');

    my $st = mem_stats($s);
    is($st->{ssl_handshake_errors}, 0, 'stats: ssl_handshake_errors 0');
    is($st->{ssl_proto_errors}, 0, 'stats: ssl_proto_errors 0');
    like($st->{time_since_server_cert_refresh}, qr/^\d+$/, 'stats: time_since_server_cert_refresh');
    ok(!exists $st->{ssl_new_sessions}, 'stats: no ssl_new_sessions without ssl_session_cache');
    my $set = mem_stats($s, 'settings');
    is($set->{ssl_enabled}, 'yes', 'stats settings: ssl_enabled yes');
    is($set->{ssl_chain_cert}, "$dir/live.crt", 'stats settings: ssl_chain_cert');
    is($set->{ssl_key}, "$dir/live.key", 'stats settings: ssl_key');
    is($set->{ssl_verify_mode}, 0, 'stats settings: ssl_verify_mode 0');
    is($set->{ssl_keyformat}, 1, 'stats settings: ssl_keyformat 1 (PEM)');
    is($set->{ssl_ciphers}, 'NULL', 'stats settings: ssl_ciphers NULL');
    is($set->{ssl_ca_cert}, 'NULL', 'stats settings: ssl_ca_cert NULL');
    is($set->{ssl_wbuf_size}, 16384, 'stats settings: ssl_wbuf_size 16384');
    is($set->{ssl_session_cache}, 'no', 'stats settings: ssl_session_cache no');
    is($set->{ssl_kernel_tls}, 'no', 'stats settings: ssl_kernel_tls no');
    is($set->{ssl_min_version}, 'tlsv1.2', 'stats settings: ssl_min_version tlsv1.2');

    # The notls: listener is plain TCP onto the same cache.
    my $p = $srv->new_sock;
    mem_get_is($p, 'greeting', [5, 'hello'], 'notls: listener: plain get sees the TLS set');

    # Plaintext on the TLS port: the handshake fails, the connection closes.
    my $raw = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $tls_port) or die;
    send_bytes($raw, "version\r\n");
    my ($bytes, $closed) = drain($raw, 5);
    ok($closed, 'plaintext on the TLS port: connection closed');
    unlike($bytes, qr/VERSION/, 'plaintext on the TLS port: no reply to the command');
    is(mem_stats($p)->{ssl_handshake_errors}, 1, 'plaintext client counted in ssl_handshake_errors');
    # A port check (connect, then leave) is not a handshake error.
    my $probe = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $tls_port) or die;
    close $probe;
    sleep 0.2;
    is(mem_stats($p)->{ssl_handshake_errors}, 1, 'connect-and-close is not counted');
    mem_get_is($s, 'greeting', [5, 'hello'], 'the TLS client is unaffected');

    # refresh_certs: the new certificate is served to new clients; a bad
    # file is refused and the running certificate stays.
    is(tls_sock($tls_port)->peer_certificate('cn'), 'localhost', 'before refresh: CN localhost');
    copy("$dir/renewed.crt", "$dir/live.crt") or die;
    copy("$dir/renewed.key", "$dir/live.key") or die;
    send_expect($s, "refresh_certs\r\n", "OK\r\n", 'refresh_certs: OK');
    is(tls_sock($tls_port)->peer_certificate('cn'), 'renewed', 'after refresh: new clients see CN renewed');
    mem_get_is($s, 'greeting', [5, 'hello'], 'a connection from before the refresh still works');

    open my $fh, '>', "$dir/live.crt" or die;
    print $fh "not a certificate\n";
    close $fh;
    send_bytes($s, "refresh_certs\r\n");
    like(read_line($s), qr/^Error loading the certificate chain: \Q$dir\E\/live\.crt : .+\r\n\z/,
         'refresh_certs with a broken file: memcached\'s error line');
    is(tls_sock($tls_port)->peer_certificate('cn'), 'renewed', 'a failed refresh keeps the old certificate');

    # SIGHUP reloads too.
    copy("$dir/server.crt", "$dir/live.crt") or die;
    copy("$dir/server.key", "$dir/live.key") or die;
    kill 'HUP', $srv->pid;
    my $cn = '';
    for (1 .. 50) {
        my $t = tls_sock($tls_port);
        $cn = $t ? $t->peer_certificate('cn') : '';
        last if $cn eq 'localhost';
        sleep 0.05;
    }
    is($cn, 'localhost', 'SIGHUP reloads the certificate');
    ok(mem_stats($s)->{time_since_server_cert_refresh} <= 2, 'time_since_server_cert_refresh restarts');
    send_expect($s, "quit\r\n", '', 'quit over TLS');
    $srv->stop;
}

# ---- binary protocol over TLS
{
    my ($bsrv, $port) = start_tls_server();
    my $s = tls_sock($port);
    send_bytes($s, "\x80\x0b" . ("\0" x 22));       # version
    my $hdr = read_bytes($s, 24);
    is(substr($hdr, 0, 2), "\x81\x0b", 'binary version over TLS');
    my $len = length($hdr) == 24 ? unpack('N', substr($hdr, 8, 4)) : 0;
    like(read_bytes($s, $len), qr/^\d+\.\d+\.\d+/, 'binary version body');
}

# ---- client certificates: ssl_verify_mode=2 and mtls:
{
    my ($vsrv, $port) = start_tls_server("ssl_verify_mode=2,ssl_ca_cert=$dir/client.crt");
    my $with = tls_sock($port, SSL_cert_file => "$dir/client.crt", SSL_key_file => "$dir/client.key");
    ok($with, 'ssl_verify_mode=2: a client with a trusted certificate connects');
    send_expect($with, "version\r\n", "VERSION ", 'ssl_verify_mode=2: it is served');

    my $without = tls_sock($port);
    my $served = 0;
    if ($without) {     # TLS 1.3: the refusal comes after the client's side is done
        send_bytes($without, "version\r\n");
        my ($bytes) = drain($without, 5);
        $served = $bytes =~ /VERSION/;
    }
    ok(!$served, 'ssl_verify_mode=2: a client without a certificate is refused');
    my $set = mem_stats($vsrv->new_sock, 'settings');
    is($set->{ssl_verify_mode}, 3, 'stats settings: ssl_verify_mode 2 shows OpenSSL\'s flags (3)');
    is($set->{ssl_ca_cert}, "$dir/client.crt", 'stats settings: ssl_ca_cert');
    is(handshake_errors_reach($vsrv, 1), 1, 'the refusal is a handshake error');

    # mtls: requires a client certificate on that listener only.
    my ($msrv, $mport) = start_tls_server("ssl_ca_cert=$dir/client.crt", 'mtls:');
    $without = tls_sock($mport);
    $served = 0;
    if ($without) {
        send_bytes($without, "version\r\n");
        my ($bytes) = drain($without, 5);
        $served = $bytes =~ /VERSION/;
    }
    ok(!$served, 'mtls: listener refuses a client without a certificate');
    $with = tls_sock($mport, SSL_cert_file => "$dir/client.crt", SSL_key_file => "$dir/client.key");
    send_expect($with, "version\r\n", "VERSION ", 'mtls: listener serves a client with one');
}

# ---- options
{
    my ($osrv, $port) = start_tls_server('ssl_min_version=3,ssl_wbuf_size=4,ssl_session_cache');
    my $old = tls_sock($port, SSL_version => 'TLSv1_2');
    ok(!$old, 'ssl_min_version=3: a TLS 1.2 client is refused');
    is(handshake_errors_reach($osrv, 1), 1, 'and counted in ssl_handshake_errors');
    my $s = tls_sock($port);
    ok($s, 'ssl_min_version=3: a TLS 1.3 client connects');
    is($s->get_sslversion, 'TLSv1_3', 'the session is TLS 1.3');
    my $big = 'x' x 100_000;
    send_expect($s, "set k 0 0 100000\r\n$big\r\n", "STORED\r\n", 'ssl_wbuf_size=4: set');
    mem_get_is($s, 'k', [0, $big], 'ssl_wbuf_size=4: a value 25 times the buffer comes back');
    my $set = mem_stats($s, 'settings');
    is($set->{ssl_min_version}, 'tlsv1.3', 'stats settings: ssl_min_version tlsv1.3');
    is($set->{ssl_wbuf_size}, 4096, 'stats settings: ssl_wbuf_size in bytes');
    is($set->{ssl_session_cache}, 'yes', 'stats settings: ssl_session_cache yes');
    like(mem_stats($s)->{ssl_new_sessions}, qr/^\d+$/, 'stats: ssl_new_sessions with the cache');
}

# ---- start-up refusals
{
    my @refused = (
        ['-Z', 64, qr/^Error loading the certificate chain: \(null\) : /],
        ["-Z -o ssl_chain_cert=$dir/server.crt", 64,        # no key in the chain file
            qr/^Error loading the key: \Q$dir\E\/server\.crt : /],
        ["-Z -o ssl_chain_cert=$dir/server.crt,ssl_key=$dir/client.key", 64, qr/^Error loading the key: /],
        ['-o ssl_verify_mode=4', 1, qr/^Invalid ssl_verify_mode. Use help to see valid options.\n\z/],
        ['-o ssl_verify_mode=x', 1, qr/^could not parse argument to ssl_verify_mode\n\z/],
        ['-o ssl_min_version=5', 1, qr/^Invalid ssl_min_version. Use help to see valid options.\n\z/],
        ['-o ssl_chain_cert', 1, qr/^Missing ssl_chain_cert argument\n\z/],
        ['-o ssl_wbuf_size=abc', 1, qr/^could not parse argument to ssl_wbuf_size\n\z/],
    );
    for my $case (@refused) {
        my ($args, $code, $re) = @$case;
        my ($got_code, $out) = run_until_exit(args => "-p -1 -U 0 -l 127.0.0.1 $args");
        is($got_code, $code, "$args: exit status $code");
        like($out, $re, "$args: message");
    }
    my ($code, $out) = run_until_exit(
        args => "-p 0 -U 0 -Z -o ssl_chain_cert=$dir/server.crt,ssl_key=$dir/server.key");
    is($code, 64, '-Z -p 0: refused');
    is($out, "ERROR: You cannot enable SSL without a TCP port.\n", '-Z -p 0: message');
    ($code, $out) = run_until_exit(args => '-p -1 -U 0 -l btls:127.0.0.1');
    is($code, 71, 'btls: without -Z: refused');
    like($out, qr/^'btls' option is valid only when SSL is enabled\n/, 'btls: without -Z: message');

    # Without -Z the options are accepted, nothing is TLS, refresh_certs says so.
    my $plain = start_server(args => "-o ssl_chain_cert=$dir/server.crt");
    my $p = $plain->new_sock;
    send_expect($p, "refresh_certs\r\n", "Error TLS not enabled\r\n", 'refresh_certs without -Z');
    my $set = mem_stats($p, 'settings');
    is($set->{ssl_enabled}, 'no', 'without -Z: ssl_enabled no');
    ok(!exists mem_stats($p)->{ssl_handshake_errors}, 'without -Z: no ssl_* counters in stats');
    like($help, qr/^   - ssl_chain_cert:/m, '-h lists the ssl_* options');
}

done_testing;
