#!/usr/bin/perl
# Regression tests per memcached CVE class (issue 16): for each advisory
# that applies to a server like ours, the kind of input that triggered it,
# answered with memcached's current error, the connection closed where
# memcached closes it, other clients still served and nothing stored lost.
# The inputs are our own; the replies are memcached 1.6.45's.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::UNIX;
use McTest;
use McBinary;
use McNet;

my $dir = tempdir('mc-security-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# A server with a few values stored; survives() checks them from a fresh
# client after each attack, so "nothing lost" and "still serving" are one
# assertion per attack.
my $srv = start_server(args => '-m 64');
my $keeper = $srv->new_sock;
my %kept = (alpha => 'one', beta => 'x' x 3000, gamma => 'third value');
for my $k (sort keys %kept) {
    send_expect($keeper, "set $k 7 0 " . length($kept{$k}) . "\r\n$kept{$k}\r\n",
                "STORED\r\n", "stored $k before the attacks");
}

sub survives {
    my ($what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $c = $srv->new_sock;
    my $want = join '', map { "VALUE $_ 7 " . length($kept{$_}) . "\r\n$kept{$_}\r\n" } sort keys %kept;
    send_expect($c, 'get ' . join(' ', sort keys %kept) . "\r\n", "${want}END\r\n",
                "$what: another client is served and every stored value is intact");
}

# ---------------------------------------------------------------- binary lengths

my $noop = bin_req('noop');
my $set_ext = pack('NN', 0, 0);

# CVE-2016-8704: append/prepend whose key length exceeds the body length.
{
    my $c = $srv->new_sock;
    send_bytes($c, bin_req('append', key => 'k' x 10, bodylen => 5) . 'x' x 5 . $noop);
    send_expect($c, '', bin_error_res('append', 'unknown'),
                'CVE-2016-8704: append with keylen > bodylen: Unknown command');
    expect_closed($c, 'CVE-2016-8704: and the connection is closed');
    survives('CVE-2016-8704');
}

# CVE-2016-8705: a storage command whose body is shorter than extras + key.
{
    my $c = $srv->new_sock;
    send_bytes($c, bin_req('set', key => 'abc', ext => $set_ext, bodylen => 4) . 'y' x 4 . $noop);
    send_expect($c, '', bin_error_res('set', 'unknown'),
                'CVE-2016-8705: set with bodylen < extlen + keylen: Unknown command');
    expect_closed($c, 'CVE-2016-8705: and the connection is closed');
    survives('CVE-2016-8705');
}

# CVE-2016-8706: SASL auth whose body is shorter than its mechanism name
# (here with SASL off: the length check comes first).
{
    my $c = $srv->new_sock;
    send_bytes($c, bin_req(0x21, key => 'PLAIN', bodylen => 2) . 'zz' . $noop);
    send_expect($c, '', bin_error_res(0x21, 'unknown'),
                'CVE-2016-8706: SASL auth with bodylen < keylen: Unknown command');
    expect_closed($c, 'CVE-2016-8706: and the connection is closed');
    survives('CVE-2016-8706');
}

# CVE-2017-9951: a storage command with a key longer than memcached allows.
{
    my $c = $srv->new_sock;
    send_bytes($c, bin_req('set', key => 'k' x 251, ext => $set_ext, val => 'v') . $noop);
    send_expect($c, '', bin_error_res('set', 'invalid'),
                'CVE-2017-9951: set with a 251-byte key: Invalid arguments');
    expect_closed($c, 'CVE-2017-9951: and the connection is closed');
    survives('CVE-2017-9951');
}

# CVE-2020-10931: extras longer than any command has (0x30 and 0xff bytes).
for my $extlen (0x30, 0xff) {
    my $c = $srv->new_sock;
    send_bytes($c, bin_req('set', key => 'k', ext => 'E' x $extlen, val => 'v') . $noop);
    send_expect($c, '', bin_error_res('set', 'invalid'),
                "CVE-2020-10931: set with $extlen bytes of extras: Invalid arguments");
    expect_closed($c, "CVE-2020-10931: extlen $extlen: the connection is closed");
}
survives('CVE-2020-10931');

# 2026 upstream fix (binary vlen): a body length above INT_MAX.
{
    my $c = $srv->new_sock;
    send_bytes($c, bin_req('set', key => 'k', ext => $set_ext, bodylen => 0x80000010)
                   . 'k' . $set_ext . $noop);
    send_expect($c, '', bin_error_res('set', 'invalid'),
                '2026 binary vlen overflow: bodylen > INT_MAX: Invalid arguments');
    expect_closed($c, '2026 binary vlen overflow: the connection is closed');
    survives('2026 binary vlen overflow');
}

# ---------------------------------------------------------------- references

# CVE-2018-1000127: one request naming a key 70,000 times would take more
# references than the 16-bit count holds; memcached answers a miss for the
# mentions past about 60,000, and the item stays whole.
{
    my $c = $srv->new_sock;
    send_expect($c, "set many 0 0 1\r\nx\r\n", "STORED\r\n", 'CVE-2018-1000127: key stored');
    my $n = 70000;
    send_bytes($c, 'get ' . join(' ', ('many') x $n) . "\r\n");
    my $got = '';
    my $deadline = time + 30;
    while ($got !~ /END\r\n\z/ && time < $deadline) {
        my $line = read_line($c, 10) // last;
        $got .= $line;
    }
    my $values = () = $got =~ /^VALUE many 0 1\r\n/mg;
    like($got, qr/END\r\n\z/, 'CVE-2018-1000127: the 70,000-key get ends with END');
    ok($values >= 50000 && $values < 65536,
       "CVE-2018-1000127: hits stop below the 16-bit reference limit ($values of $n)");
    send_expect($c, "delete many\r\n", "DELETED\r\n",
                'CVE-2018-1000127: the item is still linked and deletable afterwards');
    send_expect($c, "get many\r\n", "END\r\n", 'CVE-2018-1000127: and then it is gone');
    survives('CVE-2018-1000127');
}

# ---------------------------------------------------------------- admin commands

# CVE-2019-11596: "lru mode" with its argument missing.
{
    my $c = $srv->new_sock;
    send_expect($c, "lru mode\r\n", "ERROR\r\n", 'CVE-2019-11596: "lru mode" without a mode: ERROR');
    send_expect($c, "lru\r\n", "ERROR\r\n", 'CVE-2019-11596: bare "lru": ERROR');
    send_expect($c, "version\r\n", "VERSION 1.6.45\r\n", 'CVE-2019-11596: the connection goes on');
    survives('CVE-2019-11596');
}

# ---------------------------------------------------------------- meta protocol

# CVE-2020-22570: meta commands with too many flags, an overlong opaque,
# no key, or a key that is not base64.
{
    my $c = $srv->new_sock;
    send_expect($c, 'mg alpha ' . 'v ' x 60 . "\r\n", "CLIENT_ERROR options flags are too long\r\n",
                'CVE-2020-22570: mg with 60 flags');
    send_expect($c, 'mg ' . 'a ' x 200 . "\r\n", "CLIENT_ERROR options flags are too long\r\n",
                'CVE-2020-22570: mg with 200 tokens');
    send_expect($c, 'mg alpha O' . 'x' x 40 . " v\r\n", "CLIENT_ERROR opaque token too long\r\n",
                'CVE-2020-22570: mg with a 40-byte opaque');
    send_expect($c, 'ms alpha 2 ' . 'T1 ' x 50 . "\r\nhi\r\n",
                "CLIENT_ERROR options flags are too long\r\n", 'CVE-2020-22570: ms with 50 flags');
    send_expect($c, "mg\r\nms\r\nma\r\nmd\r\nme\r\n", "CLIENT_ERROR bad command line format\r\n" x 5,
                'CVE-2020-22570: every meta command without a key');
    send_expect($c, "mg ==== b v\r\n", "CLIENT_ERROR error decoding key\r\n",
                'CVE-2020-22570: mg with a key that is not base64');
    send_expect($c, "version\r\n", "VERSION 1.6.45\r\n", 'CVE-2020-22570: the connection goes on');
    survives('CVE-2020-22570');
}

# ---------------------------------------------------------------- text framing

# CVE-2023-46852: a multi-get with many spaces between "get" and its keys
# (the 16 KB line of only spaces is issue 16 item 0, tested with its fix).
{
    my $c = $srv->new_sock;
    send_expect($c, 'get' . ' ' x 3000 . "alpha\r\n", "VALUE alpha 7 3\r\none\r\nEND\r\n",
                'CVE-2023-46852: get, 3000 spaces, a key');
    send_expect($c, 'get ' . ' ' x 300 . "\r\n", "CLIENT_ERROR bad command line format\r\n",
                'CVE-2023-46852: get followed by spaces only');
    send_expect($c, 'get alpha' . ' ' x 1000 . "gamma\r\n",
                "VALUE alpha 7 3\r\none\r\nVALUE gamma 7 11\r\nthird value\r\nEND\r\n",
                'CVE-2023-46852: 1000 spaces between two keys');
    survives('CVE-2023-46852');
}

# CVE-2023-46853: requests ending in a bare "\n" instead of "\r\n".
{
    my $c = $srv->new_sock;
    send_expect($c, "get alpha\nversion\n", "VALUE alpha 7 3\r\none\r\nEND\r\nVERSION 1.6.45\r\n",
                'CVE-2023-46853: get and version ended by a bare newline');
    # "x\n" is two of the three bytes awaited: the value takes "x\ng" and
    # "et lf" is then an unknown command.
    send_expect($c, "set lf 0 0 1\nx\nget lf\nversion\n",
                "CLIENT_ERROR bad data chunk\r\nERROR\r\nVERSION 1.6.45\r\n",
                'CVE-2023-46853: a value ended by a bare newline is refused');
    send_expect($c, "get lf\n\n", "END\r\nCLIENT_ERROR bad command line format\r\n",
                'CVE-2023-46853: nothing was stored; an empty line');
    survives('CVE-2023-46853');
}

# 2026 upstream fix (chunked item assert): a value over slab_chunk_max
# whose last two bytes are not "\r\n".
{
    my $c = $srv->new_sock;
    send_expect($c, "set gamma 0 0 600000\r\n" . 'a' x 600000 . "XY",
                "CLIENT_ERROR bad data chunk\r\n", '2026 chunked value without \r\n: bad data chunk', 10);
    send_expect($c, "version\r\n", "VERSION 1.6.45\r\n", '2026 chunked value: the connection goes on');
    survives('2026 chunked value without \r\n (the old value of the key stays)');
}

# ---------------------------------------------------------------- UDP

# CVE-2018-1000115 (amplification): UDP is off unless -U asks for it.
{
    my $port = free_port();
    my $p = spawn_server(argv => ['-p', $port, '-l', '127.0.0.1'],
                         ready => sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") });
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!";
    is(mem_stats($c, 'settings')->{udpport}, 0, 'CVE-2018-1000115: stats settings udpport is 0 by default');
    is(scalar(udp_request($port, "stats\r\n", wait => 0.5)), 0,
       'CVE-2018-1000115: a UDP request to the default server gets no reply');
    $p->stop;
}

# CVE-2022-48571: a request announced as several datagrams is dropped.
{
    my $u = start_server(udp => 1);
    my $c = $u->new_sock;
    send_expect($c, "set kept 0 0 4\r\nsafe\r\n", "STORED\r\n", 'CVE-2022-48571: a value stored over TCP');
    is(scalar(udp_request($u->port, "set kept 0 0 5\r\n", id => 9, seq => 0, total => 2)), 0,
       'CVE-2022-48571: first datagram of a two-datagram upload: no reply');
    is(scalar(udp_request($u->port, "evil!\r\n", id => 9, seq => 1, total => 2)), 0,
       'CVE-2022-48571: its second datagram: no reply');
    is(scalar(udp_request($u->port, '', raw => pack('nnnn', 1, 0, 1, 0))), 0,
       'CVE-2022-48571: a header with no request: no reply');
    my @m = udp_messages(udp_request($u->port, "get kept\r\n", id => 10));
    is(join('', map { $_->{data} } @m), "VALUE kept 0 4\r\nsafe\r\nEND\r\n",
       'CVE-2022-48571: UDP still served, the stored value unchanged');
}

# ---------------------------------------------------------------- UNIX socket

# CVE-2019-15026: the longest UNIX socket path, shown by stats conns.
{
    my $base = "$dir/u";
    mkdir $base;
    my $path = $base . '/' . ('s' x (107 - length($base) - 1));
    is(length $path, 107, 'CVE-2019-15026: a 107-byte socket path');
    my $p = spawn_server(argv => ['-s', $path],
                         ready => sub { IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) });
    my $c = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or die "connect: $!";
    send_bytes($c, "stats conns\r\nversion\r\n");
    my $out = '';
    while (defined(my $l = read_line($c))) { $out .= $l; last if $l =~ /^VERSION/ }
    like($out, qr/^STAT \d+:listen_addr unix:\Q$path\E\r\n/m,
         'CVE-2019-15026: stats conns shows the whole path');
    like($out, qr/END\r\nVERSION 1\.6\.45\r\n\z/, 'CVE-2019-15026: and the server goes on');
    ok($p->alive, 'CVE-2019-15026: the server is alive');
    $p->stop;
}

# ---------------------------------------------------------------- -Y auth file

# CVE-2021-37519: auth files with an overlong entry, or none ending in a
# newline. memcached refuses a user name over 254 bytes as malformed.
{
    my $write = sub { my ($name, $text) = @_; my $f = "$dir/$name";
                      open my $fh, '>', $f or die "$f: $!"; print $fh $text; close $fh; $f };
    my $long = $write->('long', 'u' x 70000 . ':' . 'p' x 70000 . "\nuser:pass\n");
    my ($st, $out) = run_server(argv => ['-p', free_port(), '-Y', $long]);
    is($st, 1, 'CVE-2021-37519: a 70,000-byte user name: exit status 1');
    is($out, "Authfile [$long] has a malformed entry. Should be 'user:password'",
       'CVE-2021-37519: with memcached\'s message');
    my $u255 = $write->('u255', "x:y\n" . 'u' x 255 . ":p\n");
    ($st) = run_server(argv => ['-p', free_port(), '-Y', $u255]);
    is($st, 1, 'CVE-2021-37519: a 255-byte user name is malformed too');

    my $ok = $write->('ok', "a:b\n" . 'u' x 200 . ':' . 'p' x 50);
    my $port = free_port();
    my $sock = sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") };
    my $a = spawn_server(argv => ['-p', $port, '-U', 0, '-l', '127.0.0.1', '-Y', $ok], ready => $sock);
    my $c = $sock->();
    my $login = ('u' x 200) . ' ' . ('p' x 50);
    send_expect($c, 'set x 0 0 ' . length($login) . "\r\n$login\r\n", "STORED\r\n",
                'CVE-2021-37519: a 200-byte user on a last line with no newline logs in');

    # 2026 upstream fix (asciiauth size): a login value length near 2^32.
    my $c3 = $sock->();
    send_expect($c3, "set x 0 0 4294967295\r\n", "CLIENT_ERROR auth token too long\r\n",
                '2026 asciiauth size overflow: a 4294967295-byte login value is refused');
    send_expect($c3, "set x 0 0 3\r\na b\r\n", "STORED\r\n",
                '2026 asciiauth size overflow: the connection can still log in');
    send_expect($c, "version\r\n", "VERSION 1.6.45\r\n", '2026 asciiauth size overflow: others served');
    $a->stop;
}

survives('all attacks');
done_testing();
