#!/usr/bin/perl
# TCP transport: listening on several -l addresses (IPv6, host:port,
# repeated -l), memcached's messages when listening fails, the connection
# stats and "stats conns", and bounded per-connection memory: a slow
# reader of megabytes, a client that never reads, read buffers that grow
# for a long line and shrink back.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time sleep);
use McTest;
use McNet;

my $V = "VERSION 1.6.45\r\n";

sub tcp {
    my ($host, $port) = @_;
    my $s;
    if ($host =~ /:/) {
        require IO::Socket::IP;
        $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Timeout => 2);
    } else {
        $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 2);
    }
    $s->autoflush(1) if $s;
    return $s;
}

sub stats_conns {
    my ($sock) = @_;
    send_bytes($sock, "stats conns\r\n");
    my %by_fd;
    my @order;
    while (defined(my $l = read_line($sock))) {
        last if $l eq "END\r\n";
        $l =~ /^STAT (\d+):(\S+) (.*)\r\n\z/ or die "bad stats conns line: " . mc_escape($l);
        push @order, $1 unless $by_fd{$1};
        $by_fd{$1}{$2} = $3;
    }
    return (\%by_fd, \@order);
}

my $ipv6 = have_ipv6();

# --- several addresses ------------------------------------------------------
{
    my ($p1, $p2) = (free_port(), free_port());
    my @l = $ipv6 ? ('-l', "127.0.0.1,[::1]", '-l', "127.0.0.1:$p2") : ('-l', '127.0.0.1', '-l', "127.0.0.1:$p2");
    my $srv = spawn_server(argv => ['-p', $p1, @l], ready => sub { tcp('127.0.0.1', $p1) });
    my $a = tcp('127.0.0.1', $p1);
    send_expect($a, "version\r\n", $V, '-l 127.0.0.1 (with -p)');
    my $b = tcp('127.0.0.1', $p2);
    send_expect($b, "version\r\n", $V, '-l 127.0.0.1:port (repeated -l)');
    my $c;
    SKIP: {
        skip 'no IPv6 loopback', 4 unless $ipv6;
        $c = tcp('::1', $p1);
        ok($c, 'connects to [::1]');
        send_expect($c, "set six 0 0 1\r\n6\r\n", "STORED\r\n", 'set over IPv6');
        mem_get_is($a, 'six', '6', 'same cache over IPv4');
        my ($conns) = stats_conns($a);
        my ($c6) = grep { ($conns->{$_}{addr} // '') =~ /^tcp6:\[::1\]:\d+$/ && $conns->{$_}{listen_addr} } keys %$conns;
        is($c6 && $conns->{$c6}{listen_addr}, "tcp6:[::1]:$p1", 'stats conns: IPv6 client and its listener');
    }
    my $settings = mem_stats($a, 'settings');
    is($settings->{inter}, $ipv6 ? "127.0.0.1,[::1],127.0.0.1:$p2" : "127.0.0.1,127.0.0.1:$p2",
       'stats settings: inter joins repeated -l');
    my $listeners = $ipv6 ? 3 : 2;
    my $want = $listeners + ($ipv6 ? 3 : 2) - 1;
    my $st;
    wait_until(sub { ($st = mem_stats($a))->{curr_connections} == $want });
    is($st->{curr_connections}, $want,
       'curr_connections counts listeners and clients, less one');
}

# --- listening failures --------------------------------------------------------
{
    my $busy = start_server();
    my $port = $busy->port;
    my ($rc, $out) = run_server(argv => ['-p', $port, '-l', '127.0.0.1']);
    is($rc, 71, 'port in use: exit 71 (EX_OSERR)');
    is($out, "failed to listen on one of interface(s) 127.0.0.1: Address already in use\n",
       "memcached's message, and nothing else");
    ($rc, $out) = run_server(argv => ['-p', free_port(), '-l', '[::1']);
    is($rc, 71, 'malformed IPv6 address: exit 71');
    is($out, "Invalid IPV6 address: \"[::1\"failed to listen on one of interface(s) [::1: Success\n",
       "memcached's message (sic)");
    ($rc, $out) = run_server(argv => ['-p', free_port(), '-l', 'no-such-host.invalid']);
    is($rc, 71, 'unknown host: exit 71');
    like($out, qr/^getaddrinfo\(\): .*\nfailed to listen on one of interface\(s\) no-such-host\.invalid: /,
         'getaddrinfo message, then the interface message');
    my $p = free_port();
    ($rc, $out) = run_server(argv => ['-p', 0, '-U', $p, '-l', '127.0.0.1'], timeout => 0.5);
    is($rc, undef, '-p 0 -U port: runs (UDP only)');

    # Ports out of range, as memcached judges them: -p over 65535 is
    # refused up front; a negative port other than -1 fails to open.
    ($rc, $out) = run_server(argv => ['-p', 65536, '-U', 0, '-l', '127.0.0.1']);
    is($rc, 64, '-p 65536: exit 64');
    is($out, "ERROR: Invalid port number 65536.\n", '-p 65536: the message');
    ($rc, $out) = run_server(argv => ['-p', -2, '-U', 0, '-l', '127.0.0.1']);
    is($rc, 71, '-p -2: exit 71');
    like($out, qr/^getaddrinfo\(\): .*\nfailed to listen on one of interface\(s\) 127\.0\.0\.1: Success\n\z/,
         '-p -2: getaddrinfo refuses the port');
    ($rc, $out) = run_server(argv => ['-p', -1, '-U', -2]);
    is($rc, 71, '-U -2: exit 71');
    like($out, qr/\nfailed to listen on UDP port -2: Success\n\z/, '-U -2: the message');
    ($rc, $out) = run_server(argv => ['-p', 0, '-U', 65536 + $p, '-l', '127.0.0.1'], timeout => 0.5);
    is($rc, undef, '-U over 65535 is not refused (memcached takes it modulo 65536)');
}

# --- listener prefixes: proto[...] and tag[...] ---------------------------------
{
    my $noop = pack('CCnCCnNNQ>', 0x80, 0x0a, 0, 0, 0, 0, 0, 5, 0);
    my $noop_res = pack('CCnCCnNNQ>', 0x81, 0x0a, 0, 0, 0, 0, 0, 5, 0);
    my ($pa, $pb, $pt) = (free_port(), free_port(), free_port());
    my $srv = spawn_server(argv => ['-p', free_port(), '-U', 0, '-l',
                                    "proto[ascii]:127.0.0.1:$pa,proto[binary]:127.0.0.1:$pb,"
                                    . "tag[edge1]:127.0.0.1:$pt"],
                           ready => sub { tcp('127.0.0.1', $pa) && tcp('127.0.0.1', $pb) && tcp('127.0.0.1', $pt) });
    my $a = tcp('127.0.0.1', $pa);
    send_expect($a, "version\r\n", "VERSION 1.6.45\r\n", 'proto[ascii]: ASCII served');
    send_bytes($a, $noop . "version\r\n");
    like(read_line($a) // '', qr/^(CLIENT_)?ERROR/, 'proto[ascii]: a binary packet is text there');
    my $b = tcp('127.0.0.1', $pb);
    send_expect($b, $noop, $noop_res, 'proto[binary]: binary served');
    $b = tcp('127.0.0.1', $pb);
    send_bytes($b, "version\r\n");
    expect_nothing($b, 300, 'proto[binary]: a text line is no packet (9 bytes of a header)');
    my $t = tcp('127.0.0.1', $pt);
    send_expect($t, "version\r\n", "VERSION 1.6.45\r\n", 'tag[...]: negotiates as before (ASCII)');
    $t = tcp('127.0.0.1', $pt);
    send_expect($t, $noop, $noop_res, 'tag[...]: negotiates as before (binary)');
    $srv->stop;

    # The prefix overrides -B; other protocol names leave -B in charge.
    my ($pc, $pd) = (free_port(), free_port());
    $srv = spawn_server(argv => ['-B', 'binary', '-p', free_port(), '-U', 0, '-l',
                                 "proto[ascii]:tag[x]:127.0.0.1:$pc,proto[auto]:127.0.0.1:$pd"],
                        ready => sub { tcp('127.0.0.1', $pc) && tcp('127.0.0.1', $pd) });
    send_expect(tcp('127.0.0.1', $pc), "version\r\n", "VERSION 1.6.45\r\n",
                '-B binary, proto[ascii]:tag[x]: ASCII');
    send_expect(tcp('127.0.0.1', $pd), $noop, $noop_res, '-B binary, proto[auto]: -B decides (binary)');
    my $d = tcp('127.0.0.1', $pd);
    send_bytes($d, "version\r\n");
    expect_nothing($d, 300, '-B binary, proto[auto]: no text');
    $srv->stop;

    my $fails = sub {
        my ($l, $msg, $name) = @_;
        my ($rc, $out) = run_server(argv => ['-p', free_port(), '-U', 0, '-l', $l]);
        is($rc, 71, "$name: exit 71");
        is($out, "$msg\nfailed to listen on one of interface(s) $l: Success\n", "$name: memcached's message");
    };
    $fails->('proto[ascii:127.0.0.1', 'Invalid protocol spec: "[ascii:127.0.0.1"', 'proto[ without ]');
    $fails->('proto[proxy]:127.0.0.1', 'Server not built with proxy: "proto[proxy"', 'proto[proxy]');
    $fails->('tag[foo:127.0.0.1', 'Invalid tag in socket config: "[foo:127.0.0.1"', 'tag[ without ]');
    $fails->('tag[123456789]:127.0.0.1', 'Listener tags must be between 1 and 8 characters: "123456789"',
             'a tag of 9 characters');
    $fails->('tag[a]:proto[ascii]:127.0.0.1', 'Invalid port number: "127.0.0.1"',
             'tag before proto');
    $fails->('127.0.0.1:12ab', 'Invalid port number: "12ab"', 'a port that is not a number');
    $fails->('127.0.0.1:', 'Invalid port number: ""', 'an empty port');

    # The port as memcached's safe_strtol reads it: blanks may end it, and
    # only the low 32 bits of a larger number count.
    my $pe = free_port();
    my $l = '127.0.0.1:' . (4294967296 + $pe) . "\tx";
    $srv = spawn_server(argv => ['-p', free_port(), '-U', 0, '-l', $l],
                        ready => sub { tcp('127.0.0.1', $pe) });
    send_expect(tcp('127.0.0.1', $pe), "version\r\n", "VERSION 1.6.45\r\n",
                '-l 127.0.0.1:(2^32 + port)\tx: listens on the port');
    $srv->stop;
}

# --- connection stats and stats conns --------------------------------------------
{
    my $srv = start_server(args => '-t 2 -I 4m -m 128');
    my $port = $srv->port;
    my $me = $srv->new_sock;
    # Let start_server's own connection finish closing first.
    wait_until(sub { mem_stats($me)->{curr_connections} == 1 });
    my $fresh = $srv->new_sock;     # never sends anything
    my $done = $srv->new_sock;
    send_expect($done, "version\r\n", $V, 'a client that has made a request');
    my $nread = $srv->new_sock;
    send_bytes($nread, "set k 0 0 10\r\nabc");
    my $st;
    wait_until(sub { ($st = mem_stats($me))->{curr_connections} == 4 });
    is($st->{curr_connections}, 4, 'curr_connections: 4 clients + listener - 1');
    # start_server's readiness check was one connection.
    is($st->{total_connections}, 6, 'total_connections: listener + 5 clients');
    is($st->{connection_structures}, 5, 'connection_structures: the peak (listener + 4)');
    is($st->{threads}, 2, 'threads');
    # (A worker sets a client up just after the accept counted it.)
    ok(wait_until(sub { mem_stats($me)->{read_buf_count} == 4 }), 'read_buf_count: one per client');
    is(mem_stats($me)->{read_buf_bytes}, 4 * 16384, 'read_buf_bytes: 16 KB each');

    # Wait until the worker has seen the partial set.
    my ($conns, $order);
    wait_until(sub {
        ($conns, $order) = stats_conns($me);
        grep { ($_->{state} // '') eq 'conn_nread' } values %$conns;
    });
    is_deeply($order, [sort { $a <=> $b } @$order], 'stats conns: in descriptor order');
    my ($lfd) = grep { ($conns->{$_}{state} // '') eq 'conn_listening' } keys %$conns;
    is($conns->{$lfd}{addr}, "tcp:127.0.0.1:$port", 'listener addr tcp:127.0.0.1:port');
    is_deeply([sort keys %{ $conns->{$lfd} }], [qw(addr secs_since_last_cmd state)],
              'listener: addr, state, secs_since_last_cmd');
    my @clients = grep { $_ != $lfd } keys %$conns;
    is(scalar @clients, 4, 'four clients');
    for my $fd (@clients) {
        is_deeply([sort keys %{ $conns->{$fd} }], [qw(addr listen_addr secs_since_last_cmd state)],
                  "client $fd: addr, listen_addr, state, secs_since_last_cmd");
        like($conns->{$fd}{addr}, qr/^tcp:127\.0\.0\.1:\d+$/, "client $fd: addr tcp:127.0.0.1:port");
        is($conns->{$fd}{listen_addr}, "tcp:127.0.0.1:$port", "client $fd: listen_addr");
    }
    my %state_of = map { my $fd = $_; ($conns->{$fd}{addr} => $conns->{$fd}{state}) } @clients;
    my $addr = sub { 'tcp:127.0.0.1:' . $_[0]->sockport };
    is($state_of{ $addr->($me) }, 'conn_parse_cmd', 'the asking client: conn_parse_cmd');
    is($state_of{ $addr->($fresh) }, 'conn_new_cmd', 'a client that sent nothing: conn_new_cmd');
    is($state_of{ $addr->($done) }, 'conn_read', 'a client waiting for its next request: conn_read');
    is($state_of{ $addr->($nread) }, 'conn_nread', 'a client in the middle of a value: conn_nread');

    SKIP: {
        skip 'debugtime needs the debug build', 2 unless $srv->is_debug_build;
        send_bytes($me, "debugtime 5\r\n");
        read_line($me);
        # The next clock tick picks the offset up.
        wait_until(sub { (($conns) = stats_conns($me)) && ($conns->{$lfd}{secs_since_last_cmd} // 0) >= 5 });
        cmp_ok($conns->{$lfd}{secs_since_last_cmd}, '>=', 5, 'listener: seconds since it opened');
        my ($d) = grep { $conns->{$_}{addr} eq $addr->($done) } keys %$conns;
        cmp_ok($conns->{$d}{secs_since_last_cmd}, '>=', 5, 'idle client: seconds since its request');
    }

    # --- a slow reader of megabytes, and a fast client meanwhile -------------
    my $big = join '', map { sprintf "%06d\n", $_ } 0 .. (3 * 1024 * 1024 / 7);
    send_bytes($me, "set big 0 0 " . length($big) . "\r\n$big\r\n");
    is(read_line($me, 10), "STORED\r\n", 'set a 3 MB value');
    send_expect($me, "set small 0 0 2\r\nok\r\n", "STORED\r\n", 'set small');
    my $rss0 = proc_status($srv->pid, 'VmRSS');

    my $slow = $srv->new_sock;
    send_bytes($slow, "get big\r\n" x 8);     # 24 MB of replies, more than socket buffers hold
    # Wait until the server is stuck writing to it.
    my $sfd;
    wait_until(sub {
        ($conns) = stats_conns($me);
        ($sfd) = grep { $conns->{$_}{addr} eq $addr->($slow) } keys %$conns;
        defined $sfd && $conns->{$sfd}{state} eq 'conn_mwrite';
    });
    is(defined $sfd && $conns->{$sfd}{state}, 'conn_mwrite', 'the slow reader: conn_mwrite');
    my $served = 0;
    for (1 .. 20) {
        send_bytes($done, "get small\r\n");
        my $want_small = "VALUE small 0 2\r\nok\r\nEND\r\n";
        last unless read_bytes($done, length $want_small, 2) eq $want_small;
        $served++;
    }
    is($served, 20, 'another client is served while the slow reader lags (each within 2 s)');
    ($conns) = stats_conns($me);
    is($conns->{$sfd}{state}, 'conn_mwrite', 'the slow reader is still in conn_mwrite meanwhile');

    my $want = "VALUE big 0 " . length($big) . "\r\n$big\r\nEND\r\n";
    my ($ok, $got) = (0, '');
    for my $i (1 .. 8) {
        # Read in small bites with pauses: partial writes must resume exactly.
        $got = '';
        while (length $got < length $want) {
            my $chunk = read_bytes($slow, length($want) - length($got) > 65536 ? 65536 : length($want) - length($got), 10);
            last unless length $chunk;
            $got .= $chunk;
            sleep 0.001 if $i <= 2;
        }
        $ok++ if $got eq $want;
    }
    is($ok, 8, 'the slow reader gets all 8 replies intact');
    my $rss1 = proc_status($srv->pid, 'VmRSS');
    cmp_ok($rss1 - $rss0, '<', 16 * 1024,
           sprintf('replies are sent from the item, not copied (RSS +%d kB)', $rss1 - $rss0));

    # --- a client that never reads -------------------------------------------
    my $read0 = mem_stats($me)->{bytes_read};
    my $deaf = $srv->new_sock;
    setsockopt($deaf, SOL_SOCKET, SO_RCVBUF, 4096);
    $deaf->blocking(0);
    my $req = "get big\r\n" x 10000;
    my ($sent, $t0) = (0, time);
    while (time - $t0 < 1.5) {
        my $n = syswrite($deaf, $req, length($req) - ($sent % length $req), $sent % length $req);
        if ($n) { $sent += $n } else { sleep 0.01 }
    }
    my $read = mem_stats($me)->{bytes_read} - $read0;
    cmp_ok($read, '<', 256 * 1024,
           "the server stops reading from a client whose replies are not read "
           . "(read $read of the $sent bytes sent)");
    send_expect($done, "get small\r\n", "VALUE small 0 2\r\nok\r\nEND\r\n", 'others are still served');
    my $rss2 = proc_status($srv->pid, 'VmRSS');
    cmp_ok($rss2 - $rss0, '<', 32 * 1024, sprintf('server memory stays bounded (RSS +%d kB)', $rss2 - $rss0));
    close $deaf;
    ok(wait_until(sub { mem_stats($me)->{curr_connections} == 5 }), 'the deaf client is gone');

    # --- read buffers grow for a long line and shrink back ----------------------
    my $base = mem_stats($me)->{read_buf_bytes};
    my $long = $srv->new_sock;
    my $keys = join ' ', map { "key$_" } 1 .. 40000;      # ~300 KB line
    send_bytes($long, "get $keys");
    ok(wait_until(sub { mem_stats($me)->{read_buf_bytes} >= $base + 16384 + 262144 }),
       'the read buffer grows for a long get line');
    send_expect($long, "\r\n", "END\r\n", 'the long get is served');
    is(mem_stats($me)->{read_buf_bytes}, $base + 16384, 'and the read buffer shrinks back to 16 KB');
}

done_testing;
