package McNet;

# Helpers for the network-layer tests (network.t, limits.t, process.t,
# udp.t, unix.t, probes-network.t): servers started with exactly the
# flags a test gives (McTest's start_server always adds -p/-U/-l and waits
# on TCP, which a UNIX-socket-only or failing server never answers), UDP
# request/reply framing, and process facts read from /proc.
#
# Every server started here is stopped (SIGTERM, then SIGKILL) at END.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(sleep time);

use McTest ();

our @EXPORT = qw(
    free_port spawn_server run_server wait_until
    udp_request udp_messages
    raise_nofile proc_status have_ipv6
);

my $OWNER_PID = $$;
my %LIVE;

# free_port(): a port free for both TCP and UDP on 127.0.0.1.
sub free_port {
    for (1 .. 50) {
        my $t = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 1, ReuseAddr => 1) or next;
        my $port = $t->sockport;
        my $u = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                      Proto => 'udp');
        close $t;
        next unless $u;
        close $u;
        return $port;
    }
    die "no free port\n";
}

# wait_until(sub { ... }, $seconds = 5): polls until the block is true;
# returns its last value.
sub wait_until {
    my ($cond, $secs) = @_;
    my $deadline = time + ($secs // 5);
    while (1) {
        my $v = $cond->();
        return $v if $v || time > $deadline;
        sleep 0.02;
    }
}

# spawn_server(argv => [...], ready => sub { ... }, binary => NAME_OR_PATH,
#              user => 1):
# starts the server with exactly argv (plus "-u root" when we are root and
# user is not 0) and returns a McNet::Proc once ready->($proc) is true
# (default: the process is alive 0.2 s later). Dies with the server's
# output if it exits first or is not ready within $McTest::START_TIMEOUT s.
sub spawn_server {
    my (%opt) = @_;
    my $bin = McTest::find_binary($opt{binary});
    my @argv = @{ $opt{argv} };
    push @argv, '-u', 'root' if $> == 0 && ($opt{user} // 1);
    my $proc = McNet::Proc->_start($bin, \@argv);
    my $ready = $opt{ready} // sub { sleep 0.2; 1 };
    my $deadline = time + $McTest::START_TIMEOUT;
    while (1) {
        if (!$proc->alive) {
            die "server exited (status $proc->{status}) during startup: $bin @argv\n"
                . $proc->stderr_text;
        }
        last if $ready->($proc);
        if (time > $deadline) {
            $proc->stop;
            die "server not ready within $McTest::START_TIMEOUT s: $bin @argv\n" . $proc->stderr_text;
        }
        sleep 0.05;
    }
    return $proc;
}

# run_server(argv => [...], timeout => 3, user => 1): runs the server to
# completion (it is expected to exit, e.g. on a bad flag) and returns
# (exit status or undef if it had to be killed, its stdout+stderr).
sub run_server {
    my (%opt) = @_;
    my $bin = McTest::find_binary($opt{binary});
    my @argv = @{ $opt{argv} };
    push @argv, '-u', 'root' if $> == 0 && ($opt{user} // 1);
    my $proc = McNet::Proc->_start($bin, \@argv);
    my $deadline = time + ($opt{timeout} // 3);
    while ($proc->alive && time < $deadline) { sleep 0.02 }
    if ($proc->alive) {
        $proc->stop;
        return (undef, $proc->stderr_text);
    }
    return ($proc->{status} >> 8, $proc->stderr_text);
}

# udp_request($port, $payload, id => 1, seq => 0, total => 1, raw => BYTES,
#             wait => 0.25, first => 5, host => '127.0.0.1', family => AF_INET):
# sends one datagram (the 8-byte header plus payload, or raw bytes as is)
# and returns every datagram that arrives: it waits up to `first` s for the
# first, up to 5 s for each next one while the message arriving has fewer
# than its header's total, else until none has come for `wait` s.
# A test that expects no reply passes a short `first`.
sub udp_request {
    my ($port, $payload, %o) = @_;
    my $host = $o{host} // '127.0.0.1';
    my $sock;
    if (($o{family} // '') eq 'inet6') {
        require IO::Socket::IP;
        $sock = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Proto => 'udp')
            or die "udp socket: $@";
    } else {
        $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'udp')
            or die "udp socket: $!";
    }
    # Room for a long burst of reply datagrams (SO_RCVBUFFORCE, 33 on
    # Linux, lets root pass rmem_max).
    setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 8 << 20);
    setsockopt($sock, Socket::SOL_SOCKET(), 33, 8 << 20) if $> == 0;
    my $dgram = defined $o{raw} ? $o{raw}
              : pack('nnnn', $o{id} // 1, $o{seq} // 0, $o{total} // 1, 0) . $payload;
    send($sock, $dgram, 0) or die "udp send: $!";
    my @got;
    my $sel = IO::Select->new($sock);
    my ($total, $have) = (0, 0);    # of the message arriving now
    while (1) {
        my $wait = !@got ? ($o{first} // 5) : $have < $total ? 5 : ($o{wait} // 0.25);
        $sel->can_read($wait) or last;
        my $buf;
        defined recv($sock, $buf, 65536, 0) or last;
        push @got, $buf;
        ($total, $have) = (0, 0) if $have >= $total;
        $total = unpack('x4 n', $buf) if !$have && length $buf >= 8;
        $have++;
    }
    return @got;
}

# udp_messages(@datagrams): reassembles replies. Datagrams are grouped into
# messages in arrival order: a message starts at sequence 0 and holds
# `total` datagrams, put in sequence order. Returns a list of hashrefs
# { id, total, data, seqs => [sequence numbers in arrival order] }; dies
# on a datagram that does not fit (a sequence number out of range, or a
# message left incomplete).
sub udp_messages {
    my @msgs;
    my $cur;
    for my $d (@_) {
        die "datagram of " . length($d) . " bytes: no header\n" if length $d < 8;
        my ($id, $seq, $total, $res) = unpack 'nnnn', $d;
        if (!$cur || scalar(keys %{ $cur->{parts} }) == $cur->{total}) {
            $cur = { id => $id, total => $total, parts => {}, seqs => [] };
            push @msgs, $cur;
        }
        die "datagram for request $id inside a message for $cur->{id}\n" if $id != $cur->{id};
        die "sequence $seq of $total (message of $cur->{total})\n"
            if $seq >= $cur->{total} || $total != $cur->{total} || exists $cur->{parts}{$seq};
        $cur->{parts}{$seq} = substr($d, 8);
        push @{ $cur->{seqs} }, $seq;
    }
    for my $m (@msgs) {
        die "message for request $m->{id}: " . scalar(keys %{ $m->{parts} })
            . " of $m->{total} datagrams\n" if keys %{ $m->{parts} } != $m->{total};
        $m->{data} = join '', map { $m->{parts}{$_} } 0 .. $m->{total} - 1;
        delete $m->{parts};
    }
    return @msgs;
}

# raise_nofile($n): raises our RLIMIT_NOFILE to at least $n (prlimit on
# ourselves); returns the soft limit in force afterwards.
sub raise_nofile {
    my ($n) = @_;
    my $soft = _nofile();
    if ($soft < $n) {
        system('prlimit', "--pid=$$", "--nofile=$n:$n") if -x '/usr/bin/prlimit';
        $soft = _nofile();
    }
    return $soft;
}

sub _nofile {
    open my $fh, '<', "/proc/$$/limits" or return 0;
    while (<$fh>) {
        return $1 if /^Max open files\s+(\d+)/;
    }
    return 0;
}

# proc_status($pid, $field): a field of /proc/PID/status ("VmRSS" -> kB
# number, "Uid" -> first number), undef if unreadable.
sub proc_status {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) {
        return $1 if /^\Q$field\E:\s+(\d+)/;
    }
    return undef;
}

# have_ipv6(): true if ::1 can be bound here.
sub have_ipv6 {
    require IO::Socket::IP;
    my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Proto => 'tcp', Listen => 1);
    return $s ? 1 : 0;
}

END {
    local ($?, $!, $@);
    if ($$ == $OWNER_PID) {
        $_->stop for grep { $_->{pid} } values %LIVE;
    }
}

package McNet::Proc;

use strict;
use warnings;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

sub _start {
    my ($class, $bin, $argv) = @_;
    (-f $bin && -x _) or die "server binary not found: $bin\n";
    my ($pid, $efile) = McTest::_spawn_logged($bin, $argv, 'mcnet-out-XXXXXX');
    my $self = bless { pid => $pid, binary => $bin, argv => $argv, out => $efile }, $class;
    $LIVE{$pid} = $self;
    return $self;
}

sub pid    { $_[0]{pid} // $_[0]{last_pid} }
sub binary { $_[0]{binary} }
sub stderr_text { McTest::_slurp($_[0]{out}) }

# alive: true while the process runs (reaps it and records the status).
sub alive {
    my ($self) = @_;
    return 0 unless $self->{pid};
    my $r = waitpid($self->{pid}, WNOHANG);
    return 1 if $r == 0;
    $self->{status} = $?;
    delete $LIVE{$self->{pid}};
    $self->{last_pid} = $self->{pid};
    $self->{pid} = undef;
    return 0;
}

# wait_exit($secs): waits for the process to exit by itself; returns its
# wait status, or undef if it still runs.
sub wait_exit {
    my ($self, $secs) = @_;
    my $deadline = time + ($secs // 5);
    while ($self->alive) {
        return undef if time > $deadline;
        sleep 0.02;
    }
    return $self->{status};
}

# signal($name): sends a signal.
sub signal { my ($self, $sig) = @_; kill $sig, $self->{pid} if $self->{pid} }

# stop: SIGTERM, up to 5 s, then SIGKILL. Returns the wait status.
sub stop {
    my ($self) = @_;
    return $self->{status} unless $self->{pid};
    kill 'TERM', $self->{pid};
    my $st = $self->wait_exit(5);
    return $st if defined $st;
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    $self->{status} = $?;
    delete $LIVE{$self->{pid}};
    $self->{last_pid} = $self->{pid};
    $self->{pid} = undef;
    return $self->{status};
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{pid} && $$ == $OWNER_PID;
}

1;
