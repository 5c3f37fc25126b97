#!/usr/bin/perl
# UDP (-U): memcached's 8-byte frame (request id, sequence, count,
# reserved), requests in one datagram, replies of one request per message
# split over datagrams of at most 1400 bytes, multi-key gets one message
# per key, and what is dropped without a reply.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use McTest;
use McNet;

my $srv = start_server(udp => 1, args => '-t 2 -I 2m');
my $port = $srv->port;
my $tcp = $srv->new_sock;

sub msgs { udp_messages(udp_request($port, @_)) }
sub one_message {
    my ($payload, $want, $name, %o) = @_;
    my @m = msgs($payload, %o);
    is(scalar @m, 1, "$name: one message");
    is($m[0]{data}, $want, "$name: reply") if @m;
    return $m[0];
}

# --- the frame ------------------------------------------------------------
send_expect($tcp, "set small 0 0 3\r\nabc\r\n", "STORED\r\n", 'set small over TCP');
my @d = udp_request($port, "get small\r\n", id => 4242);
is(scalar @d, 1, 'small reply: one datagram');
is($d[0], pack('nnnn', 4242, 0, 1, 0) . "VALUE small 0 3\r\nabc\r\nEND\r\n",
   'header echoes the request id, sequence 0 of 1, reserved 0');
@d = udp_request($port, "version\r\n", id => 65535);
is(substr($d[0] // '', 0, 8), pack('nnnn', 65535, 0, 1, 0), 'request id 65535 echoed');
one_message("version\r\n", "VERSION 1.6.45\r\n", 'sequence number of a request is ignored',
            seq => 7);
@d = udp_request($port, '', raw => pack('nnnn', 9, 0, 1, 1) . "version\r\n");
is(unpack('n', $d[0] // ''), 9, 'reserved field of a request is ignored');

# --- a reply over several datagrams ---------------------------------------
my $big = join '', map { sprintf '%07d|', $_ } 0 .. 624;   # 5000 bytes
send_expect($tcp, "set big 0 0 5000\r\n$big\r\n", "STORED\r\n", 'set big (5000 bytes)');
@d = udp_request($port, "get big\r\n", id => 77);
my $reply = "VALUE big 0 5000\r\n$big\r\nEND\r\n";
is(scalar @d, 4, '5025-byte reply: 4 datagrams');
is_deeply([map { length } @d], [1400, 1400, 1400, 8 + 5025 - 3 * 1392],
          'every datagram but the last is 1400 bytes, header included');
is_deeply([map { [unpack 'nnnn', $_] } @d],
          [[77, 0, 4, 0], [77, 1, 4, 0], [77, 2, 4, 0], [77, 3, 4, 0]],
          'numbered 0..3 of 4 with the request id');
my @m = udp_messages(reverse @d);
is($m[0]{data}, $reply, 'reassembled in sequence order (even if they come out of order)');

# a 1 MB value: 754 datagrams
my $mb = 'z' x (1024 * 1024);
send_bytes($tcp, "set mb 0 0 " . length($mb) . "\r\n$mb\r\n");
is(read_line($tcp), "STORED\r\n", 'set 1 MB value');
@m = msgs("get mb\r\n", wait => 1);
is(scalar @m, 1, '1 MB reply is one message');
is($m[0]{data}, "VALUE mb 0 1048576\r\n$mb\r\nEND\r\n", '1 MB reply reassembled exactly');
is($m[0]{total}, int((length($m[0]{data}) + 1391) / 1392), 'datagram count is ceil(len / 1392)');

# --- one message per request, one per key of a multi-get --------------------
send_expect($tcp, "set a 0 0 1\r\nb\r\n", "STORED\r\n", 'set a');
@m = msgs("get small\r\nget small\r\n");
is_deeply([map { $_->{data} } @m],
          ["VALUE small 0 3\r\nabc\r\nEND\r\n", "VALUE small 0 3\r\nabc\r\nEND\r\n"],
          'two requests in a datagram: two messages');
@m = msgs("get a small\r\n");
is_deeply([map { $_->{data} } @m], ["VALUE a 0 1\r\nb\r\n", "VALUE small 0 3\r\nabc\r\nEND\r\n"],
          'multi-get: a message per key, END with the last');
@m = msgs("get a nokey1 nokey2\r\n");
is_deeply([map { $_->{data} } @m], ["VALUE a 0 1\r\nb\r\n", "END\r\n"],
          'multi-get with misses last: END alone');
@m = msgs("get big a\r\n");
is_deeply([map { [$_->{total}, length $_->{data}] } @m], [[4, 18 + 5002], [1, 13 + 3 + 5]],
          'multi-get: each key numbered from 0 on its own');
@m = msgs("set u 0 0 2\r\nhi\r\nget u\r\n");
is_deeply([map { $_->{data} } @m], ["STORED\r\n", "VALUE u 0 2\r\nhi\r\nEND\r\n"],
          'set with its value, then get, in one datagram');
@m = msgs("set n 0 0 2 noreply\r\nhi\r\nget n\r\n");
is_deeply([map { $_->{data} } @m], ["VALUE n 0 2\r\nhi\r\nEND\r\n"], 'noreply sends nothing');
one_message("bogus\r\n", "ERROR\r\n", 'unknown command');
@m = msgs("set a 0 0 1\r\nbbbb\r\n");
is($m[0]{data}, "CLIENT_ERROR bad data chunk\r\n", 'bad data chunk');

# --- dropped without a reply ------------------------------------------------
is(scalar(udp_request($port, "version\r\n", total => 2, first => 0.5)), 0,
   'a request announced as 2 datagrams is dropped (multi-packet requests unsupported)');
is(scalar(udp_request($port, "version\r\n", total => 0, first => 0.5)), 0, 'datagram count 0: dropped');
is(scalar(udp_request($port, '', raw => pack('nnnn', 1, 0, 1, 0), first => 0.5)), 0, 'header only: dropped');
is(scalar(udp_request($port, '', raw => "abc", first => 0.5)), 0, 'shorter than a header: dropped');
is(scalar(udp_request($port, "set p 0 0 10\r\nabc", first => 0.5)), 0,
   'value not all in the datagram: no reply');
mem_get_is($tcp, 'p', undef, 'and nothing stored');
one_message("get small\r\n", "VALUE small 0 3\r\nabc\r\nEND\r\n",
            'the next datagram starts afresh');
is(scalar(udp_request($port, "get sm", first => 0.5)), 0, 'command without end of line: dropped');
is_deeply([udp_request($port, "quit\r\nversion\r\n", id => 3)], [pack('nnnn', 3, 0, 0, 0)],
          'quit drops the rest of the datagram (an empty reply, see below)');
one_message("version\r\n", "VERSION 1.6.45\r\n", 'the UDP socket still serves after quit');

# --- many clients at once, served by the workers ----------------------------
my @socks = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'udp') or die
} 1 .. 20;
my $i = 0;
send($_, pack('nnnn', 1000 + $i++, 0, 1, 0) . "get small\r\n", 0) for @socks;
my $good = 0;
$i = 0;
for my $s (@socks) {
    my $sel = IO::Select->new($s);
    my $buf = '';
    recv($s, $buf, 65536, 0) if $sel->can_read(2);
    $good++ if $buf eq pack('nnnn', 1000 + $i, 0, 1, 0) . "VALUE small 0 3\r\nabc\r\nEND\r\n";
    $i++;
}
is($good, 20, '20 clients, each gets its own reply with its request id');

# --- stats --------------------------------------------------------------
my $st;
wait_until(sub { ($st = mem_stats($tcp))->{curr_connections} == 3 });
cmp_ok($st->{bytes_read}, '>', 5000, 'bytes_read counts datagrams');
cmp_ok($st->{bytes_written}, '>', 1024 * 1024, 'bytes_written counts reply datagrams');
is($st->{curr_connections}, 1 + 2 + 1 - 1,
   'curr_connections: listener + a UDP socket per worker + this client, less one');
my $settings = mem_stats($tcp, 'settings');
is($settings->{udpport}, $port, 'stats settings: udpport');
is($settings->{num_threads_per_udp}, 2, 'num_threads_per_udp: every worker with one -l address');
send_bytes($tcp, "stats conns\r\n");
my @conn_lines;
while (defined(my $l = read_line($tcp))) { last if $l eq "END\r\n"; push @conn_lines, $l }
my @udp = grep { /^STAT \d+:UDP UDP\r\n$/ } @conn_lines;
is(scalar @udp, 2, 'stats conns: a UDP entry per worker');
is(scalar(grep { /^STAT \d+:addr udp:127\.0\.0\.1:$port\r\n$/ } @conn_lines), 2,
   'stats conns: UDP address');

# --- over UDP, stats replies span datagrams too -------------------------------
@m = msgs("stats\r\n");
is(scalar @m, 1, 'stats over UDP: one message');
like($m[0]{data} // '', qr/\ASTAT pid \d+\r\n.*\r\nEND\r\n\z/s, 'stats over UDP reassembled');

# --- UDP is off by default ---------------------------------------------------
my $plain = start_server();
is(scalar(udp_request($plain->port, "version\r\n", first => 0.5)), 0, 'no -U: nothing answers UDP');
is(mem_stats($plain->new_sock, 'settings')->{udpport}, 0, 'udpport 0 by default');

# --- empty replies: a header alone, datagram count 0 -------------------------------
# A request that ends with nothing to say (quit, or a binary quiet command)
# is answered with an empty datagram when it comes before any other reply to
# the same datagram; noreply and meta q send nothing at all.
{
    my $empty = pack('nnnn', 5, 0, 0, 0);
    my $dgrams = sub { [ udp_request($port, $_[0], id => 5) ] };
    my $one = sub { pack('nnnn', 5, 0, 1, 0) . $_[0] };
    my $breq = sub {    # binary request packet: opcode, key, extras, value, opaque
        my ($op, $key, $ext, $val, $opaque) = @_;
        ($key, $ext, $val) = map { $_ // '' } $key, $ext, $val;
        return pack('CCnCCnNNQ>', 0x80, $op, length $key, length $ext, 0, 0,
                    length($ext) + length($key) + length($val), $opaque // 0, 0) . $ext . $key . $val;
    };
    my $noop_res = pack('CCnCCnNNQ>', 0x81, 0x0a, 0, 0, 0, 0, 0, 9, 0);
    my ($getq_miss, $noop) = ($breq->(0x09, 'nokey-e'), $breq->(0x0a, undef, undef, undef, 9));
    is_deeply($dgrams->("quit\r\n"), [$empty], 'quit: an empty datagram');
    is_deeply($dgrams->("quit\r\nversion\r\n"), [$empty], 'quit ends the datagram');
    is_deeply($dgrams->("mg nokey-e q\r\nquit\r\n"), [$empty], 'mg q miss, then quit: one empty datagram');
    is_deeply($dgrams->("version\r\nquit\r\n"), [$one->("VERSION 1.6.45\r\n")],
              'a reply before quit: no empty datagram after it');
    is_deeply($dgrams->("mg nokey-e q\r\n"), [], 'meta q miss: nothing');
    is_deeply($dgrams->("set e1 0 0 1 noreply\r\nx\r\n"), [], 'noreply: nothing');
    is_deeply($dgrams->($getq_miss), [$empty], 'binary getq miss: an empty datagram');
    is_deeply($dgrams->($getq_miss . $getq_miss), [$empty], 'two getq misses: one empty datagram');
    is_deeply($dgrams->($getq_miss . $noop), [$empty, $one->($noop_res)], 'getq miss, noop: empty, then the noop');
    is_deeply($dgrams->($noop . $getq_miss), [$one->($noop_res)], 'noop, getq miss: the noop alone');
    is_deeply($dgrams->($breq->(0x11, 'e2', "\0" x 8, 'v')), [$empty], 'setq: an empty datagram');
    is_deeply($dgrams->($breq->(0x17)), [$empty], 'quitq: an empty datagram');
    is_deeply($dgrams->($getq_miss . pack('C', 0x81) . substr($noop, 1)), [],
              'getq miss, then a bad magic byte: the hang-up drops the empty reply');
    # A request cut short by the end of its datagram: nothing is sent for it.
    is_deeply($dgrams->("set e3 0 0 5000000\r\nabc"), [], 'too large, value cut short: nothing');
    is_deeply($dgrams->(pack('CCnCCnNNQ>', 0x80, 0x44, 0, 0, 0, 0, 10, 0, 0) . 'abc'), [],
              'unknown opcode, body cut short: nothing');
}

# --- -U is its own port ------------------------------------------------------------
{
    my ($tp, $up) = (free_port(), free_port());
    ($tp, $up) = ($tp, free_port()) while $up == $tp;
    my $srv2 = spawn_server(argv => ['-p', $tp, '-U', $up, '-l', '127.0.0.1'],
                            ready => sub { IO::Socket::INET->new("127.0.0.1:$tp") });
    my @r = udp_messages(udp_request($up, "version\r\n"));
    is($r[0]{data}, "VERSION 1.6.45\r\n", '-p P -U Q: UDP answers on Q');
    is(scalar(udp_request($tp, "version\r\n")), 0, '-p P -U Q: nothing answers UDP on P');
    my $st = mem_stats(IO::Socket::INET->new("127.0.0.1:$tp"), 'settings');
    is("$st->{tcpport} $st->{udpport}", "$tp $up", 'stats settings: tcpport P, udpport Q');
    $srv2->stop;

    # An address with a port gives it to both, as in memcached.
    my $lp = free_port();
    $srv2 = spawn_server(argv => ['-p', $tp, '-U', $up, '-l', "127.0.0.1:$lp"],
                         ready => sub { IO::Socket::INET->new("127.0.0.1:$lp") });
    @r = udp_messages(udp_request($lp, "version\r\n"));
    is($r[0]{data}, "VERSION 1.6.45\r\n", '-l host:port: UDP on that port too');
    $srv2->stop;
}

# --- several -l addresses: one worker per UDP socket ----------------------------
SKIP: {
    skip 'no IPv6 loopback', 4 unless have_ipv6();
    my $p = free_port();
    my $s6 = spawn_server(argv => ['-p', $p, '-U', $p, '-l', "127.0.0.1,[::1]", '-t', 3],
                          ready => sub { IO::Socket::INET->new("127.0.0.1:$p") });
    my @r = udp_messages(udp_request($p, "version\r\n", host => '::1', family => 'inet6'));
    is($r[0]{data}, "VERSION 1.6.45\r\n", 'UDP over IPv6');
    my $c = IO::Socket::INET->new("127.0.0.1:$p");
    is(mem_stats($c, 'settings')->{num_threads_per_udp}, 1,
       'num_threads_per_udp 1 with several -l addresses');
    send_bytes($c, "stats conns\r\n");
    my $all = '';
    while (defined(my $l = read_line($c))) { last if $l eq "END\r\n"; $all .= $l }
    like($all, qr/:addr udp6:\[::1\]:$p\r\n/, 'stats conns: udp6 address');
    is(() = $all =~ /:UDP UDP/g, 2, 'one UDP entry per address');
}

done_testing;
