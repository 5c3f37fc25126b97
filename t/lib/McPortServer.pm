package McPortServer;

# Servers for tests that McTest::start_server cannot start: ones that do
# not answer a bare "version" (-Y wants a login first), ones on a port the
# server picks itself (-p -1), and ones expected to refuse to start.
#
# start_portfile_server() runs the server with MEMCACHED_PORT_FILENAME set
# and learns its TCP port from that file, so it works for any of the above.
# The object it returns has the methods McTest::trap_probe needs (pid,
# binary) plus port, new_sock, stop, stderr_text.  Servers still running
# are stopped at END.

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use McTest qw(find_binary);

our @EXPORT = qw(start_portfile_server run_until_exit read_port_file);

my $DIR = tempdir('mctest-portsrv-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $SEQ = 0;
my $OWNER = $$;
my %LIVE;

END {
    local ($?, $!, $@);
    if ($$ == $OWNER) { $_->stop for grep { $_->{pid} } values %LIVE }
}

sub _root_args { $> == 0 ? ('-u', 'root') : () }

sub _slurp { open my $fh, '<', $_[0] or return undef; local $/; my $s = <$fh>; $s // '' }

# read_port_file($path): { 'TCP INET' => [ports], 'UDP INET' => [...], ... }
# from a file of "<TRANSPORT> <FAMILY>: <port>" lines; undef if unreadable.
sub read_port_file {
    my ($path) = @_;
    my $text = _slurp($path);
    return undef unless defined $text;
    my %ports;
    for my $line (split /\n/, $text) {
        push @{ $ports{$1} }, $2 + 0 if $line =~ /^(\w+ \w+): (\d+)$/;
    }
    return \%ports;
}

# start_portfile_server(args => STR, binary => NAME_OR_PATH, listen => ADDR)
# Runs the server with "-p -1 -U 0 -l ADDR" (default 127.0.0.1), -u root as
# root, then args, with MEMCACHED_PORT_FILENAME pointing at a fresh file.
# Waits (up to $McTest::START_TIMEOUT s) for the file and returns the server, whose port is the
# first TCP port listed.  Dies with the server's output if it exits first.
sub start_portfile_server {
    my (%opt) = @_;
    my $bin = find_binary($opt{binary});
    my $n = ++$SEQ;
    my $portfile = "$DIR/ports.$n";
    my $errfile = "$DIR/out.$n";
    my @argv = ('-p', '-1', '-U', '0', '-l', $opt{listen} // '127.0.0.1', _root_args(),
                split(' ', $opt{args} // ''));
    my $pid = McTest::_fork_exec($bin, \@argv, $errfile, { MEMCACHED_PORT_FILENAME => $portfile });
    my $self = bless { pid => $pid, binary => $bin, argv => \@argv,
                       portfile => $portfile, stderr_file => $errfile }, __PACKAGE__;
    $LIVE{$pid} = $self;
    my $deadline = time + $McTest::START_TIMEOUT;
    until (-f $portfile) {
        if (waitpid($pid, WNOHANG) == $pid) {
            my $status = $?;
            delete $LIVE{$pid};
            $self->{pid} = undef;
            die "server exited (status $status) during startup: $bin @argv\n" . $self->stderr_text;
        }
        if (time > $deadline) {
            $self->stop;
            die "no port file from: $bin @argv\n" . $self->stderr_text;
        }
        sleep 0.02;
    }
    $self->{ports} = read_port_file($portfile);
    ($self->{port}) = (@{ $self->{ports}{'TCP INET'} // [] }, @{ $self->{ports}{'TCP INET6'} // [] });
    return $self;
}

# run_until_exit(args => STR, binary => NAME_OR_PATH, timeout => 3)
# Runs the server (with -u root as root, and args as given, no -p/-l added)
# expecting it to exit by itself.  Returns (exit code, stdout+stderr), or
# (undef, output) if it was still running at the timeout (then killed).
sub run_until_exit {
    my (%opt) = @_;
    my $bin = find_binary($opt{binary});
    my $errfile = "$DIR/out." . ++$SEQ;
    my @argv = (_root_args(), split(' ', $opt{args} // ''));
    my $pid = McTest::_fork_exec($bin, \@argv, $errfile, $opt{env});
    my $deadline = time + ($opt{timeout} // 3);
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            my $code = $? & 127 ? undef : $? >> 8;
            return ($code, _slurp($errfile));
        }
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    return (undef, _slurp($errfile));
}

sub pid         { $_[0]{pid} }
sub binary      { $_[0]{binary} }
sub port        { $_[0]{port} }
sub ports       { $_[0]{ports} }
sub port_file   { $_[0]{portfile} }
sub stderr_text { _slurp($_[0]{stderr_file}) // '' }

sub new_sock {
    my ($self, $port) = @_;
    $port //= $self->{port};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "cannot connect to 127.0.0.1:$port: $!\n";
    $s->autoflush(1);
    return $s;
}

# signal($name): sends a signal (e.g. 'HUP') to the server.
sub signal { kill $_[1], $_[0]{pid} }

# stop: SIGTERM, up to 5 s, then SIGKILL.  Safe to call twice.
sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return;
    local $?;
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) { kill 'KILL', $pid; waitpid $pid, 0; last }
        sleep 0.02;
    }
    delete $LIVE{$pid};
    $self->{pid} = undef;
    my $err = $self->stderr_text;
    if ($err =~ /AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:/) {
        $McTest::SANITIZER_REPORTS++;   # McTest fails the test file at END
        print STDERR "# sanitizer report from the server (pid $pid):\n$err";
    }
}

1;
