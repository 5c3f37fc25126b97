#!/usr/bin/perl
# MEMCACHED_PORT_FILENAME: once listening, the server writes the ports it
# bound ("TCP INET: <port>" lines) to that file, so "-p -1" (any free port)
# is usable by scripts and tests. "-p 0" turns TCP off, as in memcached.
use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;
use McPortServer;

my $dir = tempdir('mctest-portfile-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub slurp { open my $fh, '<', $_[0] or return undef; local $/; my $s = <$fh>; $s // '' }

sub answers_version {
    my ($addr, $port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port, Proto => 'tcp',
                                  Timeout => 3) or return 0;
    send_bytes($s, "version\r\n");
    my $line = read_line($s, 3);
    return defined $line && $line =~ /^VERSION \S+\r\n$/;
}

# ---- -p -1: one free port, written to the file, which answers
{
    my $srv = start_portfile_server();
    my $text = slurp($srv->port_file);
    like($text, qr/\ATCP INET: \d+\n\z/, 'one "TCP INET: <port>" line');
    my ($port) = $text =~ /(\d+)/;
    ok($port > 0 && $port != 11211, "-p -1 picked a free port ($port)");
    ok(answers_version('127.0.0.1', $port), 'the port in the file answers');
    ok(!-e $srv->port_file . '.lck', 'the .lck file was renamed into place');
    my $s = $srv->new_sock;
    send_expect($s, "set k 0 0 2\r\nhi\r\n", "STORED\r\n", 'serves requests on it');
    mem_get_is($s, 'k', 'hi');
}

# ---- two -l addresses: one line each, each on its own free port
{
    my $srv = start_portfile_server(listen => '127.0.0.1,127.0.0.2');
    my $ports = $srv->ports->{'TCP INET'} // [];
    is(scalar @$ports, 2, 'two addresses: two "TCP INET" lines');
    ok(answers_version('127.0.0.1', $ports->[0]), 'first address answers on its port');
    ok(answers_version('127.0.0.2', $ports->[1]), 'second address answers on its port');
}

# ---- an explicit port on -l is written as bound
{
    my $fixed = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 1)->sockport;
    my $srv = start_portfile_server(listen => "127.0.0.1:$fixed");
    is_deeply($srv->ports, { 'TCP INET' => [$fixed] }, '-l addr:port: that port is listed');
}

# ---- IPv6 addresses are "TCP INET6"
SKIP: {
    my $probe = eval {
        require IO::Socket::IP;
        IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);
    };
    skip 'no IPv6 loopback here', 2 unless $probe;
    close $probe;
    my $srv = start_portfile_server(listen => '[::1]');
    my $ports = $srv->ports->{'TCP INET6'} // [];
    is(scalar @$ports, 1, '[::1]: one "TCP INET6" line');
    my $s = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $ports->[0], Timeout => 3);
    ok($s && send_bytes($s, "version\r\n") && (read_line($s, 3) // '') =~ /^VERSION /,
       'the IPv6 port answers');
}

# ---- UDP ports are listed too ("UDP INET")
{
    my $srv = start_portfile_server(args => '-U -1');
    my $udp = $srv->ports->{'UDP INET'} // [];
    is(scalar @$udp, 1, '-U -1: one "UDP INET" line');
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $udp->[0],
                                     Proto => 'udp');
    # A UDP request: 8-byte frame header (request id 7, seq 0, 1 datagram).
    $sock->send("\0\x07\0\0\0\x01\0\0version\r\n");
    my $reply = '';
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    $sock->recv($reply, 1500) if select(my $rout = $rin, undef, undef, 3);
    like($reply, qr/^\0\x07\0\0\0\x01\0\0VERSION /, 'the UDP port in the file answers');
}

# ---- -p 0: TCP is off; the file is written, empty
{
    my $portfile = "$dir/off";
    my ($code, $out) = run_until_exit(args => '-p 0 -U 0 -l 127.0.0.1', timeout => 1,
                                      env => { MEMCACHED_PORT_FILENAME => $portfile });
    ok(!defined $code, '-p 0: the server runs') or diag $out;
    is(slurp($portfile), '', '-p 0: no TCP port is listed');
}

# ---- a UNIX socket (-s) writes no port file
{
    my $portfile = "$dir/unix";
    my ($code, $out) = run_until_exit(args => "-s $dir/sock", timeout => 1,
                                      env => { MEMCACHED_PORT_FILENAME => $portfile });
    ok(!defined $code && -S "$dir/sock", '-s: the server runs on its socket') or diag $out;
    ok(!-e $portfile && !-e "$portfile.lck", '-s: no port file');
}

# ---- a file that cannot be created: a message, and the server still runs
{
    my $portfile = "$dir/no/such/dir/ports";
    my ($code, $out) = run_until_exit(args => '-p -1 -U 0 -l 127.0.0.1', timeout => 1,
                                      env => { MEMCACHED_PORT_FILENAME => $portfile });
    ok(!defined $code, 'unwritable port file: the server still runs');
    like($out, qr/^Failed to open "\Q$portfile\E\.lck": No such file or directory$/m,
         'unwritable port file: memcached\'s message');
}

done_testing;
