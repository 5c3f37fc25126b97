package McTest;

# Shared helpers for the memcached-sdt test suite.
#
# A test starts its own server with start_server(), talks to it through
# plain TCP sockets with the byte helpers below, and (for probe tests)
# runs bpftrace against it with trap_probe().  Every server started here
# is stopped when the test ends, even if the test dies.
#
# See the POD at the end for the contract of each function.

use strict;
use warnings;

use Exporter 'import';
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempfile);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG _exit);
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    start_server find_binary
    send_bytes read_line read_log read_bytes send_expect expect_nothing expect_closed
    mem_get_is mem_stats mc_escape line_like line_is cas_of me_field poll_stats wait_bytes_read
    probes_skip_reason require_probes_or_skip trap_probe debugtime graceful_stop
);

our $DEFAULT_TIMEOUT = 5;
# Seconds a starting server has to answer: generous, as a debug build on a
# loaded 2-core machine (two test suites at once) has taken over 5 s; a
# server that exits at startup is seen at once whatever this is.
our $START_TIMEOUT = 20;

# Writing to a socket the server has closed must fail with EPIPE, not kill us.
$SIG{PIPE} = 'IGNORE';

my $TOP = abs_path(dirname(__FILE__) . '/../..');
my $OWNER_PID = $$;      # only this process stops servers at END
my %LIVE;                # pid => server object, for cleanup

# ---------------------------------------------------------------- binaries

# find_binary($which): path of the server binary to run.
#   $which undef             -> $ENV{MEMCACHED_BIN}, else BUILDDIR/memcached/memcached-debug
#   'memcached' or
#   'memcached-debug'        -> $ENV{MEMCACHED_BIN} if set, else BUILDDIR/memcached/$which
#   absolute path            -> that path
# BUILDDIR is $ENV{MC_BUILDDIR} (set by make check), else the top of the
# repository; the binaries are built in its memcached/ directory.
sub find_binary {
    my ($which) = @_;
    return $which if defined $which && $which =~ m{^/};
    return $ENV{MEMCACHED_BIN} if defined $ENV{MEMCACHED_BIN} && $ENV{MEMCACHED_BIN} ne '';
    my $dir = (defined $ENV{MC_BUILDDIR} && $ENV{MC_BUILDDIR} ne '') ? $ENV{MC_BUILDDIR} : $TOP;
    return "$dir/memcached/" . ($which // 'memcached-debug');
}

sub _free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot find a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# ---------------------------------------------------------------- servers

# start_server(args => '-m 8', binary => NAME_OR_PATH, port => N, udp => 0)
# Starts a server on 127.0.0.1 and returns a McTest::Server once it answers
# "version".  Dies (with the server's stderr) if it exits or does not come
# up within $START_TIMEOUT (20) seconds.
sub start_server {
    my (%opt) = @_;
    my $bin = find_binary($opt{binary});
    (-f $bin && -x _) or die "server binary not found or not executable: $bin\n";
    my @extra = split ' ', ($opt{args} // '');

    # A port picked by _free_port can be taken by someone else before the
    # server binds it; pick again a few times in that case.
    my $tries = defined $opt{port} ? 1 : 3;
    my $last_err;
    for (1 .. $tries) {
        my $port = $opt{port} // _free_port();
        my @argv = ('-p', $port, '-U', ($opt{udp} ? $port : 0), '-l', '127.0.0.1');
        push @argv, '-u', 'root' if $> == 0;
        push @argv, @extra;
        my $srv = eval { McTest::Server->_spawn($bin, $port, \@argv) };
        return $srv if $srv;
        $last_err = $@;
        last unless $last_err =~ /Address already in use|failed to listen/i;
    }
    die $last_err;
}

# Servers whose stderr carried a sanitizer report (ASAN/LSan/UBSan builds).
our $SANITIZER_REPORTS = 0;

END {
    {
        local ($?, $!, $@);
        if ($$ == $OWNER_PID) {
            # TERM them all first: each may take about a second to exit.
            my @srv = grep { defined && $_->{pid} } values %LIVE;
            kill 'TERM', map { $_->{pid} } @srv;
            $_->stop for @srv;
        }
    }
    # A sanitizer finding fails the test file even if every test passed.
    $? = 1 if $$ == $OWNER_PID && $SANITIZER_REPORTS && !$?;
}

# ---------------------------------------------------------------- bytes

# mc_escape($bytes): printable form of a byte string (\r, \n, \xNN).
sub mc_escape {
    my ($s) = @_;
    return '<undef>' unless defined $s;
    $s =~ s/([\\])/\\\\/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    return $s;
}

# Per-socket read buffer, kept inside the IO::Socket glob.
sub _buf : lvalue { ${*{$_[0]}}{mctest_rbuf} }

# Read more bytes into the socket's buffer.  Returns the count read,
# 0 on EOF (or connection reset), undef on timeout.
sub _fill {
    my ($sock, $deadline) = @_;
    _buf($sock) //= '';
    my $left = $deadline - time;
    return undef if $left <= 0;
    my $sel = IO::Select->new($sock);
    return undef unless $sel->can_read($left);
    my $n = sysread($sock, my $chunk, 1 << 20);
    return 0 unless $n;     # EOF, or error such as ECONNRESET
    _buf($sock) .= $chunk;
    return $n;
}

# send_bytes($sock, $bytes, $timeout = 10): writes all of $bytes.  True on
# success; false on an error, or when for $timeout seconds no byte could be
# written (a server that stopped reading, say because it is blocked on
# replies nobody reads), so a broken server fails a test instead of hanging it.
sub send_bytes {
    my ($sock, $bytes, $timeout) = @_;
    $timeout //= 2 * $DEFAULT_TIMEOUT;
    my $off = 0;
    if (UNIVERSAL::isa($sock, 'IO::Socket::SSL')) {
        # TLS records need whole writes; the socket's own Timeout bounds them.
        while ($off < length $bytes) {
            my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
            return 0 unless $n;
            $off += $n;
        }
        return 1;
    }
    my $was_blocking = $sock->blocking(0);
    my $ok = 1;
    my $deadline = time + $timeout;
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        if (defined $n) {
            $off += $n;
            $deadline = time + $timeout if $n;
            next;
        }
        if (!$!{EAGAIN} && !$!{EWOULDBLOCK} && !$!{EINTR}) { $ok = 0; last }
        my $left = $deadline - time;
        if ($left <= 0) {
            Test::More::diag(sprintf('send_bytes: the server read nothing for %g s (%d of %d bytes sent)',
                                     $timeout, $off, length $bytes));
            $ok = 0;
            last;
        }
        my $w = '';
        vec($w, fileno $sock, 1) = 1;
        select(undef, $w, undef, $left);
    }
    $sock->blocking(1) if $was_blocking;
    return $ok;
}

# read_line($sock, $timeout = 5): next line including its "\r\n", or undef
# on timeout/EOF (any partial line stays buffered).
sub read_line { return _read_to($_[0], "\r\n", $_[1]) }

# The buffered bytes up to and including the next $sep, or undef if none
# comes before the timeout (what came stays buffered).
sub _read_to {
    my ($sock, $sep, $timeout) = @_;
    my $deadline = time + ($timeout // $DEFAULT_TIMEOUT);
    _buf($sock) //= '';
    while (1) {
        my $i = index(_buf($sock), $sep);
        return substr(_buf($sock), 0, $i + length($sep), '') if $i >= 0;
        return undef unless _fill($sock, $deadline);
    }
}

# read_log($sock, $timeout = 5): the next "\n"-ended line, as a `watch`
# stream sends them; undef if none is complete before the timeout (a
# partial line stays buffered for the next call).
sub read_log { return _read_to($_[0], "\n", $_[1]) }

# read_bytes($sock, $n, $timeout = 5): the next $n bytes; fewer if the
# timeout passes or the connection ends first.
sub read_bytes {
    my ($sock, $n, $timeout) = @_;
    my $deadline = time + ($timeout // $DEFAULT_TIMEOUT);
    _buf($sock) //= '';
    while (length(_buf($sock)) < $n) {
        last unless _fill($sock, $deadline);
    }
    return substr(_buf($sock), 0, $n, '');
}

# Reports a byte comparison as one test; on failure shows both sides
# escaped, starting shortly before the first differing byte.
sub _bytes_is {
    my ($got, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = defined $got && $got eq $want;
    Test::More::ok($ok, $name);
    unless ($ok) {
        $got //= '';
        my $i = 0;
        $i++ while $i < length($got) && $i < length($want)
                   && substr($got, $i, 1) eq substr($want, $i, 1);
        my $from = $i > 40 ? $i - 40 : 0;
        my $cut = sub { my $s = mc_escape(substr($_[0], $from, 200));
                        ($from ? '...' : '') . $s . (length($_[0]) > $from + 200 ? '...' : '') };
        Test::More::diag(sprintf("first difference at byte %d (got %d bytes, expected %d)\n"
                                 . "     got: %s\nexpected: %s",
                                 $i, length $got, length $want, $cut->($got), $cut->($want)));
    }
    return $ok;
}

# send_expect($sock, $send, $expect, $name, $timeout = 5): one test.
# Sends $send, reads exactly length($expect) bytes and compares.
sub send_expect {
    my ($sock, $send, $expect, $name, $timeout) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    send_bytes($sock, $send) if length $send;
    my $got = read_bytes($sock, length $expect, $timeout);
    return _bytes_is($got, $expect, $name);
}

# expect_nothing($sock, $ms, $name): one test; passes if no byte arrives
# within $ms milliseconds (and none is already buffered).
sub expect_nothing {
    my ($sock, $ms, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $deadline = time + $ms / 1000;
    _buf($sock) //= '';
    while (!length _buf($sock)) {
        last unless _fill($sock, $deadline);
    }
    my $got = _buf($sock);
    _buf($sock) = '';
    return _bytes_is($got, '', $name);
}

# expect_closed($sock, $name, $timeout = 5): one test; passes if the server
# ends the connection (EOF or reset) with no further bytes.
sub expect_closed {
    my ($sock, $name, $timeout) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $deadline = time + ($timeout // $DEFAULT_TIMEOUT);
    _buf($sock) //= '';
    my $r;
    while (1) {
        $r = _fill($sock, $deadline);
        last unless $r;
    }
    my $extra = _buf($sock);
    _buf($sock) = '';
    my $ok = defined $r && $extra eq '';
    Test::More::ok($ok, $name);
    Test::More::diag(defined $r ? 'bytes before close: ' . mc_escape($extra)
                                : 'connection still open after timeout'
                     . (length $extra ? '; got: ' . mc_escape($extra) : ''))
        unless $ok;
    return $ok;
}

# line_is($sock, $send, $want, $name): sends $send, reads one whole reply
# line and compares its escaped form with $want's.
sub line_is {
    my ($sock, $send, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    send_bytes($sock, $send);
    my $got = read_line($sock);
    return Test::More::is(defined $got ? mc_escape($got) : undef, mc_escape($want), $name);
}

# poll_stats($sock, $group, $cond, $timeout): reads "stats" (or "stats
# $group") every 50 ms until $cond->($stats) is true or $timeout seconds
# (default 10) pass; returns the last stats read.
sub poll_stats {
    my ($sock, $group, $cond, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    while (1) {
        my $st = mem_stats($sock, $group);
        return $st if $cond->($st) || time > $deadline;
        sleep 0.05;
    }
}

# wait_bytes_read($sock, $from, $n, $timeout): waits (up to $timeout s,
# default 10) until the server has read $n bytes more than $from, the
# bytes_read of a "stats" sent on $sock (whose own bytes it counts, as it
# does the "stats\r\n" of each poll here).  For a test that needs the
# server to have seen part of a request on its own.  True once it has.
sub wait_bytes_read {
    my ($sock, $from, $n, $timeout) = @_;
    my $polls = 0;
    my $st = poll_stats($sock, undef,
                        sub { ++$polls; $_[0]{bytes_read} - $from - 7 * $polls >= $n }, $timeout);
    return $st->{bytes_read} - $from - 7 * $polls >= $n;
}

# line_like($sock, $send, $re, $name): sends $send (if any), reads one reply
# line and matches its escaped form against $re.
sub line_like {
    my ($sock, $send, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    send_bytes($sock, $send) if length $send;
    my $line = read_line($sock);
    return Test::More::like(defined $line ? mc_escape($line) : '<nothing>', $re, $name);
}

# cas_of($sock, $key): the key's CAS unique, read with the meta debug
# command (which neither fetches the item nor takes a recache token); -1
# when the key is missing.
sub cas_of { return me_field($_[0], $_[1], 'cas') }

# me_field($sock, $key, $field): a number field (cas, la, ...) of the
# key's meta debug line; -1 when the key is missing.
sub me_field {
    my ($sock, $key, $field) = @_;
    send_bytes($sock, "me $key\r\n");
    my ($v) = (read_line($sock) // '') =~ / \Q$field\E=(\d+) /;
    return $v // -1;
}

# mem_get_is($sock, $key, $value, $name): one test.  Sends "get $key" and
# expects exactly one VALUE with that data, or just END if $value is undef.
# $value may be [$flags, $data] to check the flags too.
sub mem_get_is {
    my ($sock, $key, $value, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $name //= "get $key";
    my $expect;
    if (!defined $value) {
        $expect = "END\r\n";
    } else {
        my ($flags, $data) = ref $value ? @$value : (undef, $value);
        if (!defined $flags) {
            # Flags not checked: take them from the reply's header line.
            send_bytes($sock, "get $key\r\n");
            my $hdr = read_line($sock) // '';
            $flags = $hdr =~ /^VALUE \S+ (\d+) \d+\r\n\z/ ? $1 : 0;
            my $rest = read_bytes($sock, length($data) + 7);
            return _bytes_is($hdr . $rest,
                             "VALUE $key $flags " . length($data) . "\r\n$data\r\nEND\r\n", $name);
        }
        $expect = "VALUE $key $flags " . length($data) . "\r\n$data\r\nEND\r\n";
    }
    return send_expect($sock, "get $key\r\n", $expect, $name);
}

# mem_stats($sock, $group): hashref of the "STAT name value" lines that
# "stats" (or "stats $group") returns.  Dies on any other reply.
sub mem_stats {
    my ($sock, $group) = @_;
    send_bytes($sock, defined $group ? "stats $group\r\n" : "stats\r\n");
    my %st;
    while (1) {
        # A reply always comes: wait long (a loaded machine with tracers
        # attached has taken over 5 s); only a broken server waits it out.
        my $line = read_line($sock, 30);
        die "stats: no reply\n" unless defined $line;
        last if $line eq "END\r\n";
        $line =~ /^STAT (\S+) (.*)\r\n\z/ or die "stats: unexpected line: " . mc_escape($line) . "\n";
        $st{$1} = $2;
    }
    return \%st;
}

# ---------------------------------------------------------------- probes

sub _in_path {
    my ($prog) = @_;
    for my $d (split /:/, $ENV{PATH} // '') {
        return "$d/$prog" if length $d && -x "$d/$prog";
    }
    return undef;
}

# probes_skip_reason($binary = default): undef if probe tests can run
# (root, bpftrace in PATH, binary has stapsdt notes), else why not.
sub probes_skip_reason {
    my ($bin) = @_;
    $bin = find_binary($bin);
    return 'probe tests need root (bpftrace)' if $> != 0;
    return 'bpftrace not found in PATH' unless _in_path('bpftrace');
    return 'readelf not found in PATH' unless _in_path('readelf');
    return "server binary not found: $bin" unless -f $bin && -x _;
    my $notes = `readelf -n '$bin' 2>/dev/null`;
    return "$bin has no stapsdt notes (built without probes?)" unless $notes =~ /stapsdt/;
    return undef;
}

# require_probes_or_skip($plan): skip the whole test (plan skip_all) when
# probes can't be used; with MEMCACHED_REQUIRE_PROBES set, fail instead.
# When probes are usable, sets the plan: a number of tests, or 'all'/undef
# for done_testing style (no plan yet).
sub require_probes_or_skip {
    my ($plan, $bin) = @_;
    my $why = probes_skip_reason($bin);
    if (defined $why) {
        if ($ENV{MEMCACHED_REQUIRE_PROBES}) {
            Test::More::fail("probes required (MEMCACHED_REQUIRE_PROBES) but unusable: $why");
            Test::More::done_testing();
            exit 1;
        }
        Test::More::plan(skip_all => $why);
    }
    Test::More::plan(tests => $plan) if defined $plan && $plan =~ /^\d+$/;
    return 1;
}

sub _libc_path {
    open my $fh, '<', "/proc/$$/maps" or die "cannot read /proc/$$/maps: $!";
    while (<$fh>) {
        return $1 if m{\s(/\S*/libc[.-]\S*\.so\S*)$} || m{\s(/\S*/libc\.so\.\d+)$};
    }
    die "trap_probe: cannot find libc in /proc/$$/maps\n";
}

sub _slurp { open my $fh, '<', $_[0] or return ''; local $/; my $s = <$fh>; return $s // '' }

# Stops a server with SIGUSR1 (memcached's graceful stop, which saves a
# warm-restart cache) and returns its exit status, or -1 if it is still
# running after 10 s.
sub graceful_stop {
    my $srv = shift;
    my $pid = $srv->pid;
    kill 'USR1', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $srv->{pid} = undef; return $? }
        sleep 0.05;
    }
    return -1;
}

# debugtime($sock, $secs): moves a debug build's clock forward $secs seconds,
# as one test.
sub debugtime {
    my ($s, $secs) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    send_expect($s, "debugtime $secs\r\n", "OK\r\n", "debugtime $secs");
}

# _fork_exec($bin, \@argv, $file, \%env): starts $bin with stdin from
# /dev/null, stdout and stderr appended to $file, and %env added to its
# environment. Returns its pid.
sub _fork_exec {
    my ($bin, $argv, $file, $env) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{$_} = $env->{$_} for keys %{ $env // {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $file or _exit(127);
        open STDERR, '>>', $file or _exit(127);
        no warnings 'exec';
        exec { $bin } $bin, @$argv;
        print STDERR "exec $bin failed: $!\n";
        _exit(127);
    }
    return $pid;
}

# _spawn_logged($bin, \@argv, $template): _fork_exec with the output in a
# new temporary file named after $template. Returns (pid, file).
sub _spawn_logged {
    my ($bin, $argv, $template) = @_;
    my ($efh, $efile) = tempfile($template, TMPDIR => 1, UNLINK => 1);
    close $efh;
    return (_fork_exec($bin, $argv, $efile), $efile);
}

# trap_probe($server, $program, sub { ... }, %opt): runs bpftrace with
# $program (the text "{BIN}" is replaced by the server's binary path)
# against the server's pid, runs the client block once all probes are
# attached, ends bpftrace and returns its output lines (without newlines,
# without bpftrace's own "Attaching" line).  Dies if bpftrace fails to
# start within 20 s or to exit within 20 s of being told to.
#
# How bpftrace is ended without SIGINT: a forked "trigger" child of known
# pid waits on a pipe.  Two uprobes on libc are appended to the program,
# filtered on that pid: getppid() prints a marker (used to learn that all
# probes are attached, and later to flush), getpriority() calls exit().
# bpftrace prints non-empty maps when it exits, so print results with
# printf or let the maps print themselves.  Empty lines are dropped.
# Options: timeout => seconds (20), probes => N (die unless the program
# attached exactly N probes; with none given, at least one must attach),
# wait_for => sub { my @lines = @_; ... } (after the client block, wait up
# to the timeout until it is true of the output so far: for probes the
# server fires after the client has seen its reply, such as conn__close).
sub trap_probe {
    my ($server, $program, $client, %opt) = @_;
    my $timeout = $opt{timeout} // 20;
    my $libc = _libc_path();

    pipe(my $rd, my $wr) or die "pipe: $!";
    my $trig = fork // die "fork: $!";
    if (!$trig) {
        close $wr;
        while (sysread($rd, my $c, 1)) {
            my $r = $c eq 'p' ? getppid() : $c eq 'q' ? getpriority(0, 0) : 0;
            last if $c eq 'q';
        }
        _exit(0);
    }
    close $rd;
    $wr->autoflush(1);

    my $bin = $server->binary;
    (my $text = $program) =~ s/\{BIN\}/$bin/g;
    $text .= <<"BT";

uprobe:$libc:getppid /pid == $trig/ { printf("__MCTEST_PING__\\n"); }
uprobe:$libc:getpriority /pid == $trig/ { exit(); }
BT
    my ($pfh, $pfile) = tempfile('mctest-bt-XXXXXX', TMPDIR => 1, SUFFIX => '.bt', UNLINK => 1);
    print $pfh $text;
    close $pfh;
    my (undef, $ofile) = tempfile('mctest-bt-out-XXXXXX', TMPDIR => 1, UNLINK => 1);
    my (undef, $efile) = tempfile('mctest-bt-err-XXXXXX', TMPDIR => 1, UNLINK => 1);

    my $bt = fork // die "fork: $!";
    if (!$bt) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $ofile or _exit(127);
        open STDERR, '>', $efile or _exit(127);
        # A bigger perf ring (default 64 pages per CPU) so that a busy
        # machine does not make bpftrace drop events ("Lost N events").
        $ENV{BPFTRACE_PERF_RB_PAGES} //= 1024;
        no warnings 'exec';
        exec 'bpftrace', '-B', 'line', '-p', $server->pid, $pfile;
        _exit(127);
    }

    my $finish = sub {
        my ($why) = @_;
        syswrite $wr, 'q';
        close $wr;
        kill 'KILL', $bt if $why;
        waitpid $bt, 0 if $why;
        waitpid $trig, 0;
        die "trap_probe: $why\nbpftrace stderr:\n" . _slurp($efile)
            . "bpftrace stdout:\n" . _slurp($ofile) . "program:\n$text" if $why;
    };
    my $alive = sub { waitpid($bt, WNOHANG) == 0 };
    my $pings = sub { () = _slurp($ofile) =~ /^__MCTEST_PING__$/mg };

    # Wait for "Attaching", then ping until a marker shows the helper's
    # probes (attached after the user's) are live.
    my $deadline = time + $timeout;
    until (_slurp($ofile) =~ /Attaching/) {
        $finish->('bpftrace exited before attaching') unless $alive->();
        $finish->('bpftrace did not attach in time') if time > $deadline;
        sleep 0.05;
    }
    # bpftrace silently drops a probe that matches nothing; catch that.
    my ($n_att) = _slurp($ofile) =~ /Attaching (\d+) probe/;
    my $n_user = $n_att - 2;
    $finish->('none of the program\'s probes matched anything') if $n_user < 1;
    $finish->("program attached $n_user probes, expected $opt{probes}")
        if defined $opt{probes} && $n_user != $opt{probes};
    until ($pings->() > 0) {
        $finish->('bpftrace exited before its probes fired') unless $alive->();
        $finish->('bpftrace probes did not fire in time') if time > $deadline;
        syswrite $wr, 'p';
        sleep 0.05;
    }

    my $err;
    eval { $client->(); 1 } or $err = $@ || 'client block died';
    if (!defined $err && $opt{wait_for}) {
        $deadline = time + $timeout;
        until ($opt{wait_for}->(split /\n/, _slurp($ofile))) {
            if (time > $deadline || !$alive->()) {
                Test::More::diag('trap_probe: wait_for still false after ' . $timeout . ' s');
                last;
            }
            sleep 0.02;
        }
    }

    # Flush: a last ping, seen in the output, comes after what the
    # server's probes reported while the client ran.
    my $seen = $pings->();
    syswrite $wr, 'p';
    $deadline = time + $timeout;
    while ($pings->() <= $seen && $alive->() && time < $deadline) { sleep 0.02 }

    syswrite $wr, 'q';
    close $wr;
    $deadline = time + $timeout;
    while ($alive->()) {
        if (time > $deadline) { $finish->('bpftrace did not exit in time'); }
        sleep 0.02;
    }
    waitpid $trig, 0;
    die $err if defined $err;

    my @lines = grep { length && !/^Attaching \d+ probe/ && !/^__MCTEST_PING__$/ }
                split /\n/, _slurp($ofile);
    return @lines;
}

# ================================================================ server

package McTest::Server;

use strict;
use warnings;
use File::Temp qw(tempfile);
use IO::Socket::INET;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep time);

sub _spawn {
    my ($class, $bin, $port, $argv) = @_;
    my ($pid, $efile) = McTest::_spawn_logged($bin, $argv, 'mctest-stderr-XXXXXX');
    my $self = bless { pid => $pid, port => $port, binary => $bin,
                       argv => $argv, stderr_file => $efile }, $class;
    $LIVE{$pid} = $self;

    my $deadline = time + $McTest::START_TIMEOUT;
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            my $status = $?;
            delete $LIVE{$pid};
            $self->{pid} = undef;
            die "server exited (status $status) during startup: $bin @$argv\n"
                . $self->stderr_text;
        }
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        if ($s) {
            # A -B binary server only speaks binary: ask with a version packet.
            my $up;
            if ("@$argv" =~ /(?:^|\s)(?:-B\s*|--protocol=)binary\b/) {
                McTest::send_bytes($s, "\x80\x0b" . ("\0" x 22));
                my $hdr = McTest::read_bytes($s, 24, 1);
                $up = length($hdr) == 24 && substr($hdr, 0, 2) eq "\x81\x0b";
            } else {
                McTest::send_bytes($s, "version\r\n");
                my $line = McTest::read_line($s, 1);
                $up = defined $line && $line =~ /^VERSION /;
            }
            close $s;
            return $self if $up;
        }
        if (time > $deadline) {
            $self->stop;
            die "server did not answer 'version' within $McTest::START_TIMEOUT s: $bin @$argv\n"
                . $self->stderr_text;
        }
        sleep 0.05;
    }
}

sub port   { $_[0]{port} }
sub pid    { $_[0]{pid} }
sub binary { $_[0]{binary} }

# new_sock: a fresh connected, autoflushed IO::Socket::INET (dies on failure).
sub new_sock {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => 5)
        or die "cannot connect to 127.0.0.1:$self->{port}: $!\n";
    $s->autoflush(1);
    return $s;
}

# stderr_text: everything the server wrote to stdout/stderr so far.
sub stderr_text { McTest::_slurp($_[0]{stderr_file}) }

# is_debug_build: true if the server accepts "debugtime 0" with "OK"
# (only the debug build has that command).  Cached.
sub is_debug_build {
    my ($self) = @_;
    return $self->{is_debug} if defined $self->{is_debug};
    my $s = $self->new_sock;
    McTest::send_bytes($s, "debugtime 0\r\n");
    my $line = McTest::read_line($s);
    close $s;
    return $self->{is_debug} = (defined $line && $line eq "OK\r\n") ? 1 : 0;
}

# stop: SIGTERM, wait up to 5 s, then SIGKILL.  Returns the wait status
# (undef if it was already stopped).  Safe to call twice.
sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return undef;
    local $?;
    kill 'TERM', $pid;
    my $deadline = time + 5;
    my $status;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid || $r == -1) { $status = $?; last }
        if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); $status = $?; last }
        sleep 0.02;
    }
    delete $LIVE{$pid};
    $self->{pid} = undef;
    my $err = $self->stderr_text;
    if ($err =~ /AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:/) {
        $SANITIZER_REPORTS++;
        print STDERR "# sanitizer report from the server (pid $pid):\n$err";
    }
    return $status;
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{pid} && $$ == $OWNER_PID;
}

1;

__END__

=head1 NAME

McTest - helpers for the memcached-sdt tests (servers, bytes, probes)

=head1 SYNOPSIS

    use lib 't/lib';
    use Test::More;
    use McTest;

    my $srv  = start_server(args => '-m 8');
    my $sock = $srv->new_sock;
    send_expect($sock, "set k 0 0 1\r\nv\r\n", "STORED\r\n", 'set');
    mem_get_is($sock, 'k', 'v');
    done_testing;

=head1 SERVERS

=over

=item find_binary($which)

Path of the binary to run: an absolute C<$which> as is; otherwise
C<$ENV{MEMCACHED_BIN}> when set; otherwise C<BUILDDIR/memcached/$which> (default
C<memcached-debug>), BUILDDIR being C<$ENV{MC_BUILDDIR}> or the repository top.

=item start_server(args => STR, binary => NAME_OR_PATH, port => N, udp => BOOL)

Starts the server with C<-p PORT -U 0 -l 127.0.0.1> (C<-U PORT> with
C<udp>), C<-u root> when running as root, then C<args>.  Picks a free port
unless C<port> is given.  Returns once C<version> gets a C<VERSION> reply
(a binary version packet when C<args> has C<-B binary>);
dies with the server's output if it exits or doesn't answer within
C<$McTest::START_TIMEOUT> (20) s.
The object has C<port>, C<pid>, C<binary>, C<new_sock>, C<stop>,
C<stderr_text> and C<is_debug_build>.  Servers still running are stopped
at END or when the object is destroyed.

=back

=head1 BYTES

All readers share a per-socket buffer and use a timeout (default 5 s).

=over

=item send_bytes($sock, $bytes, $timeout) - write everything; false on an error
or when the server reads nothing for $timeout s (10).

=item read_line($sock, $timeout) - next line with its C<\r\n>; undef on timeout or EOF.

=item read_log($sock, $timeout) - next C<\n>-ended line (a C<watch> stream's); undef on timeout or EOF.

=item read_bytes($sock, $n, $timeout) - next $n bytes, fewer on timeout or EOF.

=item send_expect($sock, $send, $expect, $name, $timeout) - one test: send,
read C<length $expect> bytes, compare; on failure shows both escaped.

=item expect_nothing($sock, $ms, $name) - one test: no byte arrives in $ms ms.

=item expect_closed($sock, $name, $timeout) - one test: the server ends the
connection without sending anything more.

=item mem_get_is($sock, $key, $value, $name) - one test: C<get $key> returns
$value (a string, C<[$flags, $string]>, or undef for a miss).

=item me_field($sock, $key, $field) - a number field (C<cas>, C<la>) of the key's C<me> line; -1 when missing.

=item mem_stats($sock, $group) - hashref of C<stats [$group]>; dies on a bad reply.

=item poll_stats($sock, $group, $cond, $timeout) - C<stats> every 50 ms until
C<$cond-E<gt>($stats)> or $timeout s (10) pass; returns the last stats.

=item wait_bytes_read($sock, $from, $n, $timeout) - waits until the server has
read $n bytes more than C<$from> (the C<bytes_read> of a C<mem_stats> on $sock),
not counting the polls' own requests; true once it has.

=item mc_escape($bytes) - printable form of bytes, for diagnostics.

=back

=head1 PROBES

=over

=item probes_skip_reason($binary) - undef when probe tests can run here
(root, bpftrace in PATH, the binary has stapsdt notes), else the reason.

=item require_probes_or_skip($n_tests_or_all, $binary) - C<plan skip_all>
with the reason, or a failing test when C<MEMCACHED_REQUIRE_PROBES> is set;
otherwise plans C<$n> tests (nothing for C<'all'>: use done_testing).

=item trap_probe($server, $program, $code, timeout => 20, probes => N) - runs
C<bpftrace -p PID> with $program (C<{BIN}> replaced by the server's binary
path), calls $code once every probe is attached, then ends bpftrace
through a helper probe (no signals) and returns its non-empty output
lines.  Dies if no probe of the program matched, or (with C<probes =E<gt> N>)
if the number attached is not N.  With C<wait_for =E<gt> CODE> it waits (up to
the timeout) after $code until CODE is true of the output lines so far.

=back

=cut
