#!/usr/bin/perl
# UNIX socket (-s, -a): requests end to end, TCP and UDP off when a socket
# is given, the socket's mode, a stale socket file replaced, stats conns,
# and memcached's message when the socket cannot be made.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::UNIX;
use McTest;
use McNet;

my $dir = tempdir('mcnet-unix-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $path = "$dir/mc.sock";
my $port = free_port();

sub unix_sock {
    my ($p) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $p // $path) or return undef;
    $s->autoflush(1);
    return $s;
}

# A stale socket file from a previous run is replaced.
my $stale = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $path, Listen => 1)
    or die "stale socket: $!";
close $stale;
ok(-S $path, 'a stale socket file is there before start');

my $srv = spawn_server(argv => ['-s', $path, '-a', '0750', '-p', $port, '-U', $port],
                       ready => sub { unix_sock() });
my $c = unix_sock();
ok($c, 'connects over the UNIX socket');
send_expect($c, "set k 0 0 5\r\nhello\r\n", "STORED\r\n", 'set over UNIX socket');
mem_get_is($c, 'k', 'hello', 'get over UNIX socket');
send_expect($c, "version\r\n", "VERSION 1.6.45\r\n", 'version');

my $mode = (stat $path)[2] & 07777;
is(sprintf('%o', $mode), '750', '-a 0750 sets the socket mode');

ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1),
   'no TCP listener when -s is given');
is(scalar(udp_request($port, "version\r\n", first => 0.5)), 0, 'no UDP either');

my $settings = mem_stats($c, 'settings');
is($settings->{domain_socket}, $path, 'stats settings: domain_socket');
is($settings->{umask}, '750', 'stats settings: umask');

my $c2 = unix_sock();
send_bytes($c2, "get k\r\n");
read_bytes($c2, length "VALUE k 0 5\r\nhello\r\nEND\r\n");
my $st;
wait_until(sub { ($st = mem_stats($c))->{curr_connections} == 2 });
is($st->{curr_connections}, 2, 'curr_connections: listener + 2 clients, less one');
is($st->{total_connections}, 4,
   'total_connections: listener + readiness probe + 2 clients');

send_bytes($c, "stats conns\r\n");
my @lines;
while (defined(my $l = read_line($c))) { last if $l eq "END\r\n"; push @lines, $l }
my ($lfd) = map { /^STAT (\d+):addr unix:\Q$path\E\r\n$/ ? $1 : () } @lines;
ok(defined $lfd, 'stats conns: the listener as unix:<path>');
ok((grep { $_ eq "STAT $lfd:state conn_listening\r\n" } @lines), 'listener state conn_listening');
my @clients = grep { /^STAT \d+:listen_addr unix:\Q$path\E\r\n$/ } @lines;
is(scalar @clients, 2, 'two clients with listen_addr unix:<path>');
is(scalar(grep { /^STAT \d+:addr \?:<AF 0>\r\n$/ } @lines), 2,
   'client address shown as memcached shows it ("?:<AF 0>")');

close $c2;
close $c;
is($srv->stop >> 8, 0, 'SIGTERM: exit status 0');
ok(-S $path, 'the socket file stays after exit, as with memcached');

# Errors.
my ($rc, $out) = run_server(argv => ['-s', "$dir/no/such/dir/sock"]);
is($rc, 71, 'socket in a missing directory: exit 71 (EX_OSERR)');
like($out, qr{^failed to listen on UNIX socket: \Q$dir\E/no/such/dir/sock: }m,
     "memcached's message");

done_testing;
