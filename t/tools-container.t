#!/usr/bin/perl
# The tracing tools against a server in a container: a PID namespace with
# its own /proc and a mount namespace where the binary runs from a tmpfs
# that only that namespace mounts (the host cannot open it by its path).
# The tools are given the server's host pid, as on a container host.
#
# mctop --batch --json --exact -p HOSTPID (and with -b naming the binary by
# its path inside the container) must count a scripted load exactly, key
# by key; mcsnoop -p HOSTPID must print one line per scripted operation.
# Needs root, unshare (util-linux), bpftrace and the built mctop; skipped
# otherwise (failed under MEMCACHED_REQUIRE_PROBES).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my $TOP = "$FindBin::Bin/..";
my $BUILD = (defined $ENV{MC_BUILDDIR} && $ENV{MC_BUILDDIR} ne '') ? $ENV{MC_BUILDDIR} : $TOP;
my $MCTOP = "$BUILD/tools/mctop";
my $why = McTest::probes_skip_reason()
    // (McTest::_in_path('unshare') ? undef : 'unshare not found in PATH')
    // (-x $MCTOP ? undef : "mctop not built ($MCTOP)");
if (defined $why) {
    if ($ENV{MEMCACHED_REQUIRE_PROBES}) {
        fail("probes required (MEMCACHED_REQUIRE_PROBES) but unusable: $why");
        done_testing();
        exit 1;
    }
    plan skip_all => $why;
}

my $dir = tempdir('mctest-container-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @children;           # pids to kill if the test dies
END { kill 'KILL', grep { $_ } map { $_->{pid} } @children }

# ---------------------------------------------------------------- the container

# Starts memcached-debug as pid 1 of a new PID namespace (its own /proc)
# inside a new mount namespace, run from a copy in a tmpfs mounted only
# there at $dir/bin. Returns { pid => host pid, port, unshare => pid,
# inner => the binary's path inside }.
sub start_container {
    my $bin = McTest::find_binary();
    my $inner = "$dir/bin";
    mkdir $inner or die "mkdir $inner: $!";
    my $port = McTest::_free_port();
    my $sh = "mount -t tmpfs tmpfs $inner && cp $bin $inner/memcached && "
           . "exec $inner/memcached -p $port -U 0 -l 127.0.0.1 -u root -t 2";
    my $log = "$dir/server.log";
    my $u = McTest::_fork_exec('unshare', ['--pid', '--fork', '--mount-proc', '--mount',
                                           '--kill-child', 'sh', '-c', $sh], $log);
    my $c = { unshare => $u, port => $port, inner => "$inner/memcached" };
    push @children, { pid => $u };
    my $deadline = time + 20;
    while (1) {
        die "unshare exited:\n" . McTest::_slurp($log) if waitpid($u, WNOHANG) == $u;
        die "the container's server did not come up in 20 s:\n" . McTest::_slurp($log)
            if time > $deadline;
        my ($pid) = McTest::_slurp("/proc/$u/task/$u/children") =~ /(\d+)/;
        if ($pid && (readlink("/proc/$pid/exe") // '') eq $c->{inner}) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                          Proto => 'tcp', Timeout => 1);
            if ($s) {
                $s->autoflush(1);
                print $s "version\r\n";
                my $line = McTest::read_line($s, 1);
                if (defined $line && $line =~ /^VERSION /) {
                    $c->{pid} = $pid;
                    return $c;
                }
            }
        }
        sleep 0.05;
    }
}

sub sock {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $c->{port},
                                  Proto => 'tcp', Timeout => 5) or die "connect: $!";
    $s->autoflush(1);
    return $s;
}

# ---------------------------------------------------------------- tools

# Starts @cmd with stdout and stderr to one file.
sub spawn {
    my (@cmd) = @_;
    my $out = "$dir/out." . scalar(@children);
    my $pid = McTest::_fork_exec($cmd[0], [@cmd[1 .. $#cmd]], $out, { MCTOP_READY => 1 });
    (my $name = "@cmd") =~ s{^\S*/}{};
    my $t = { pid => $pid, out => $out, name => $name };
    push @children, $t;
    return $t;
}

# Polls $ready->() until true (1) or the tool exits or 30 s pass (0).
sub wait_for {
    my ($t, $ready) = @_;
    my $deadline = time + 30;
    until ($ready->()) {
        if (waitpid($t->{pid}, WNOHANG) == $t->{pid} || time > $deadline) {
            diag("$t->{name}: not ready:\n" . McTest::_slurp($t->{out}));
            return 0;
        }
        sleep 0.05;
    }
    return 1;
}

# SIGINT, then waits (60 s at most: bpftrace detaches slowly on a loaded
# machine) for the end; returns stdout.
sub finish {
    my ($t) = @_;
    kill 'INT', $t->{pid};
    my $deadline = time + 60;
    until (waitpid($t->{pid}, WNOHANG) == $t->{pid}) {
        if (time > $deadline) {
            kill 'KILL', $t->{pid};
            waitpid $t->{pid}, 0;
            fail("$t->{name} did not end on SIGINT");
            last;
        }
        sleep 0.05;
    }
    $t->{pid} = 0;
    return McTest::_slurp($t->{out});
}

# The scripted load: c:1 stored 3 times and read 30 times (20 gets, 10
# mg), c:none read 20 times (a miss each) and deleted 4 times.
sub load {
    my ($c) = @_;
    my $s = sock($c);
    send_expect($s, "set c:1 0 0 5\r\nhello\r\n" x 3, "STORED\r\n" x 3, 'load: 3 sets');
    send_expect($s, "get c:1 c:none\r\n" x 20, "VALUE c:1 0 5\r\nhello\r\nEND\r\n" x 20,
                'load: 20 multigets');
    send_expect($s, "mg c:1 v\r\n" x 10, "VA 5\r\nhello\r\n" x 10, 'load: 10 meta gets');
    send_expect($s, "delete c:none\r\n" x 4, "NOT_FOUND\r\n" x 4, 'load: 4 deletes');
}

my %WANT = (
    'c:1'    => { calls => 33, gets => 30, sets => 3, hits => 30, bytes => 3 * 5 + 30 * 5 },
    'c:none' => { calls => 24, gets => 20, sets => 0, hits => 0, bytes => 0 },
);

# ================================================================ the tests

my $c = start_container();
my ($nspid) = McTest::_slurp("/proc/$c->{pid}/status") =~ /^NSpid:\s+\d+\s+(\d+)\s*$/m;
is($nspid, 1, "the server (host pid $c->{pid}) is pid 1 of its own PID namespace");
ok(!-e $c->{inner}, "its binary ($c->{inner}) cannot be opened from the host by its path");

# mctop, twice: -p alone, and -p with -b naming the binary as the container sees it.
for my $b ([], ['-b', $c->{inner}]) {
    my $t = spawn($MCTOP, '--batch', '--json', '--exact', '-p', $c->{pid}, @$b);
    my $name = join " ", "mctop -p HOSTPID", @$b;
    wait_for($t, sub { McTest::_slurp($t->{out}) =~ /^mctop: attached$/m })
        or BAIL_OUT("$name did not attach");
    load($c);
    my $out = finish($t);
    like($out, qr/\Amctop: attached\n\{[^\n]*\}\n\z/, "$name: one JSON line, no complaints");
    like($out, qr/"target":"PID $c->{pid} \(1 in its PID namespace\)/,
         "$name: the target names both pids");
    my %have;
    while ($out =~ /\{"key":"([^"]*)","calls":(\d+),"gets":(\d+),"sets":(\d+),"hits":(\d+),"bytes":(\d+)/g) {
        $have{$1} = { calls => $2, gets => $3, sets => $4, hits => $5, bytes => $6 };
    }
    is_deeply(\%have, \%WANT, "$name --exact counts every operation, key by key")
        or diag($out);
}

# mcsnoop -p HOSTPID: attached once the server's request__done semaphore is
# up (bpftrace 0.17 prints its banner before attaching USDT probes).
{
    my $t = spawn("$TOP/tools/mcsnoop", '-d', 300, '-p', $c->{pid});
    my $s = sock($c);
    wait_for($t, sub { (mem_stats($s, 'probes')->{'probe:request__done'} // 0) > 0 })
        or BAIL_OUT('mcsnoop did not attach');
    sleep 0.3;          # the semaphore goes up as the uprobe goes in
    load($c);
    my $lines = sub { () = McTest::_slurp($t->{out}) =~ /^\d\d:\d\d:\d\d\.\d+ /mg };
    wait_for($t, sub { $lines->() >= 57 });
    my $out = finish($t);
    my %seen;
    for (split /\n/, $out) {
        my (undef, undef, $cmd, $status, undef, undef, $key) = split ' ';
        $seen{"$cmd $status $key"}++ if /^\d\d:\d\d:\d\d\.\d+ /;
    }
    is_deeply(\%seen, { 'set stored c:1' => 3, 'get hit c:1' => 20, 'get miss c:none' => 20,
                        'mg hit c:1' => 10, 'delete not_found c:none' => 4 },
              'mcsnoop -p HOSTPID prints every operation of the container\'s server')
        or diag($out);
}

kill 'TERM', $c->{pid};
my $deadline = time + 10;
sleep 0.05 until waitpid($c->{unshare}, WNOHANG) == $c->{unshare} || time > $deadline;
ok(!kill(0, $c->{unshare}), 'the container ends with its server');
$children[0]{pid} = 0;

done_testing();
