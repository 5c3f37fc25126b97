#!/usr/bin/perl
# Real clients, unchanged, against the server: libmemcached's memccapable
# (its ASCII and binary conformance suite: all 54 must pass), libmemcached's
# command-line tools in binary mode (memccp, memccat, memctouch, memcrm,
# memcstat) against a binary-only server, python3's pymemcache (a script of
# ours, then pymemcache's own integration tests under pytest) and Perl's
# Cache::Memcached::Fast (both ASCII).  A client whose package is missing
# is skipped, or fails when $ENV{MEMCACHED_REQUIRE_PROBES} is set (CI
# installs them all).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use McTest;

my $REQUIRED = $ENV{MEMCACHED_REQUIRE_PROBES};

# Ends a SKIP block when a client is missing (a failure when required).
sub client_missing {
    my ($why) = @_;
    if ($REQUIRED) {
        fail("client required (MEMCACHED_REQUIRE_PROBES) but missing: $why");
        no warnings 'exiting';
        last SKIP;
    }
    skip($why, 1);
}

sub in_path {
    my @names = @_;
    for my $name (@names) {
        for my $dir (split /:/, $ENV{PATH} // '') {
            return "$dir/$name" if length $dir && -x "$dir/$name";
        }
    }
    return undef;
}

# Runs a command with stdin from a string, returns (exit status, output
# with stderr). Gives up after $timeout seconds.
sub run_cmd {
    my ($input, $timeout, @cmd) = @_;
    my $dir = tempdir(CLEANUP => 1);
    open my $in, '>', "$dir/in" or die "$dir/in: $!";
    print $in $input // '';
    close $in;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{PIPE} = 'DEFAULT';     # McTest ignores it; the client should not inherit that
        open STDIN, '<', "$dir/in";
        open STDOUT, '>', "$dir/out";
        open STDERR, '>&', \*STDOUT;
        exec @cmd;
        exit 127;
    }
    my $status;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $timeout;
        waitpid $pid, 0;
        $status = $?;
        alarm 0;
    };
    if ($@) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
        $status = -1;
    }
    open my $out, '<', "$dir/out" or return ($status, '');
    local $/;
    my $text = <$out> // '';
    return ($status, $text);
}

# --- memccapable ----------------------------------------------------------------------------
# All 54 of its tests must pass, ASCII and binary. Its two ASCII delete tests
# expect "delete <key> <non-zero time>" to be refused, as memcached 1.6.18
# does and as we do (1.6.45 accepts it).
my $MEMCCAPABLE_TESTS = 54;

SKIP: {
    my $capable = in_path('memccapable', 'memcapable')
        or client_missing('memccapable not installed (Debian: libmemcached-tools)');
    my $srv = start_server(args => '-m 64');
    # -t: its per-test timeout; 5 s timed out on a machine at load average 60.
    my ($st, $out) = run_cmd('', 300, $capable, '-h', '127.0.0.1', '-p', $srv->port, '-t', '20');
    # Its summary line (stderr) can land between a test's name and verdict.
    my @results = $out =~ /^(\S.*?)\s+(?:\d+ of \d+ tests failed\n)?\[(pass|FAIL|skip)\]/mg;
    my %result = @results;
    my @names = @results[grep { $_ % 2 == 0 } 0 .. $#results];
    is(scalar(@names), $MEMCCAPABLE_TESTS, "memccapable ran its $MEMCCAPABLE_TESTS tests") or diag($out);
    is(scalar(grep { /^binary / } @names), 27, '... 27 binary');
    is(scalar(grep { /^ascii / } @names), 27, '... 27 ascii');
    is($result{$_}, 'pass', "memccapable: $_") for @names;
    my $passed = grep { $_ eq 'pass' } values %result;
    my @failed = grep { $result{$_} ne 'pass' } @names;
    is($passed, $MEMCCAPABLE_TESTS, "memccapable: $MEMCCAPABLE_TESTS of $MEMCCAPABLE_TESTS pass")
        or diag("failed: @failed");
    ok($out =~ /^All tests passed$/m, 'memccapable: its own verdict');

    # The binary half against a binary-only server: nothing falls back to ASCII.
    my $bsrv = start_server(args => '-m 64 -B binary');
    ($st, $out) = run_cmd('', 300, $capable, '-h', '127.0.0.1', '-p', $bsrv->port, '-t', '20', '-b');
    my @pass = $out =~ /^(binary \S.*?)\s+\[pass\]/mg;
    my @bad = $out =~ /^(\S.*?)\s+\[FAIL\]/mg;
    ok(@pass == 27 && !@bad && $st == 0, 'memccapable -b against -B binary: all ' . scalar(@pass) . ' of 27 pass')
        or diag($out);
}

# --- libmemcached tools, binary protocol ----------------------------------------------------
SKIP: {
    my ($cp, $cat, $touch, $rm, $stat) = map { in_path("memc$_", "mem$_") } qw(cp cat touch rm stat);
    ($cp && $cat && $touch && $rm && $stat)
        or client_missing('libmemcached tools (memccp, memccat, ...) not installed (Debian: libmemcached-tools)');
    # -B binary: a client that spoke ASCII here would be hung up on.
    my $srv = start_server(args => '-m 64 -B binary');
    my $servers = '--servers=127.0.0.1:' . $srv->port;
    my $dir = tempdir(CLEANUP => 1);
    my $blob = join '', map { chr(($_ * 7919) % 256) } 1 .. 300_000;
    open my $fh, '>', "$dir/blob.bin" or die $!;
    binmode $fh;
    print $fh $blob;
    close $fh;

    my ($st, $out) = run_cmd('', 30, $cp, '--binary', $servers, '--flags=7', "$dir/blob.bin");
    is($st, 0, 'memccp --binary: 300 KB file stored') or diag($out);
    ($st, $out) = run_cmd('', 30, $cat, '--binary', $servers, 'blob.bin');
    ok($st == 0 && $out eq "$blob\n", 'memccat --binary: the same bytes back');
    ($st, $out) = run_cmd('', 30, $cat, '--binary', '--verbose', '--flags', $servers, 'blob.bin');
    like($out, qr/^key: blob\.bin\nflags: 7\nvalue: /, 'memccat --binary: flags kept');
    ($st, $out) = run_cmd('', 30, $touch, '--binary', $servers, '--expire=3600', 'blob.bin');
    is($st, 0, 'memctouch --binary: hit');
    ($st, $out) = run_cmd('', 30, $touch, '--binary', $servers, '--expire=3600', 'nokey');
    isnt($st, 0, 'memctouch --binary: miss reported');
    ($st, $out) = run_cmd('', 30, $cat, '--binary', '--verbose', $servers, 'nokey');
    ok($st != 0 && $out =~ /NOT FOUND/, 'memccat --binary: miss reported') or diag($out);
    ($st, $out) = run_cmd('', 30, $stat, '--binary', $servers);
    SKIP: {
        # libmemcached parses the version; a memcached built from a git tree
        # without tags reports "UNKNOWN", and memcstat gives up on it.
        skip('memcstat cannot parse this server\'s version', 2)
            if $out =~ /failed to parse major version/;
        like($out, qr/^\s+pid: \d+$/m, 'memcstat --binary: stats listed');
        like($out, qr/^\s+cmd_set: [1-9]/m, 'memcstat --binary: cmd_set counted');
    }
    ($st, $out) = run_cmd('', 30, $rm, '--binary', $servers, 'blob.bin');
    is($st, 0, 'memcrm --binary: deleted');
    ($st, $out) = run_cmd('', 30, $cat, '--binary', $servers, 'blob.bin');
    isnt($st, 0, 'memccat --binary: gone after memcrm');
}

# --- pymemcache (python3) -----------------------------------------------------------------------
my $PY = <<'PY';
import sys
from pymemcache.client.base import Client
c = Client(('127.0.0.1', int(sys.argv[1])), connect_timeout=5, timeout=10)
def check(cond, name):
    print(('ok - ' if cond else 'not ok - ') + name)
check(c.set('py1', b'hello', noreply=False) is True, 'set')
check(c.get('py1') == b'hello', 'get')
check(c.get('nope') is None, 'get miss')
c.set_many({'py2': b'two', 'py3': b'three'}, noreply=False)
check(c.get_many(['py1', 'py2', 'nope', 'py3']) == {'py1': b'hello', 'py2': b'two', 'py3': b'three'},
      'multi-get')
value, cas = c.gets('py1')
check(value == b'hello' and cas is not None, 'gets')
check(c.cas('py1', b'new', cas, noreply=False) is True, 'cas with the right unique')
check(c.cas('py1', b'newer', cas, noreply=False) is False, 'cas with a stale unique')
check(c.get('py1') == b'new', 'cas stored')
check(c.add('py1', b'x', noreply=False) is False, 'add existing')
check(c.append('py3', b'!', noreply=False) is True and c.get('py3') == b'three!', 'append')
c.set('n', b'10', noreply=False)
check(c.incr('n', 5) == 15, 'incr')
check(c.decr('n', 20) == 0, 'decr stops at 0')
check(c.incr('nope', 1) is None, 'incr miss')
check(c.delete('py2', noreply=False) is True, 'delete')
check(c.get('py2') is None, 'deleted')
check(c.delete('py2', noreply=False) is False, 'delete miss')
check(c.touch('py3', 100, noreply=False) is True, 'touch')
check(c.touch('nope', 100, noreply=False) is False, 'touch miss')
big = bytes(i % 251 for i in range(500 * 1024))
check(c.set('big', big, noreply=False) is True, 'set 500 KB')
check(c.get('big') == big, 'get 500 KB')
check(c.version() not in (None, b''), 'version')
check(int(c.stats()[b'cmd_get']) > 0, 'stats')
PY

SKIP: {
    # Debian's python3 (where python3-pymemcache lives) may not be first in PATH.
    my ($python) = grep { my ($st) = run_cmd('', 30, $_, '-c', 'import pymemcache'); $st == 0 }
                   grep { defined } ('/usr/bin/python3', in_path('python3'));
    $python or client_missing('python3 with pymemcache not installed (Debian: python3-pymemcache)');
    my $srv = start_server(args => '-m 64');
    my ($st, $out) = run_cmd('', 60, $python, '-c', $PY, $srv->port);
    my @lines = $out =~ /^((?:not )?ok - .*)$/mg;
    my $checks = () = $PY =~ /^check\(/mg;
    is(scalar(@lines), $checks, "pymemcache: all $checks checks ran") or diag($out);
    for my $line (@lines) {
        my ($bad, $name) = $line =~ /^(not )?ok - (.*)/;
        ok(!$bad, "pymemcache: $name");
    }
    is($st, 0, 'pymemcache: script exited cleanly') or diag($out);
}

# --- pymemcache's own integration tests (pytest) ---------------------------------------------
# Debian's python3-pymemcache ships them: every test marked "integration",
# with the three client classes, run against the server; test_tls against a
# -Z server whose certificate (made here) stands in for the CA file the
# package does not ship.
SKIP: {
    my ($python) = grep { my ($st) = run_cmd('', 30, $_, '-c', 'import pymemcache.test, pytest'); $st == 0 }
                   grep { defined } ('/usr/bin/python3', in_path('python3'));
    $python or client_missing('python3 with pymemcache and pytest not installed '
                              . '(Debian: python3-pymemcache python3-pytest)');
    my (undef, $pkgdir) = run_cmd('', 30, $python, '-c',
        'import os, pymemcache.test; print(os.path.dirname(pymemcache.test.__file__), end="")');
    -f "$pkgdir/test_integration.py"
        or client_missing("pymemcache's test_integration.py not found in $pkgdir");
    chomp(my $openssl = `command -v openssl 2>/dev/null` // '');
    $openssl or client_missing('openssl not installed');

    my $dir = tempdir(CLEANUP => 1);
    my $suite = "$dir/pymc_integration";
    mkdir $suite or die "$suite: $!";
    mkdir "$suite/certs" or die "$suite/certs: $!";
    for my $f (qw(__init__.py conftest.py test_integration.py)) {
        system('cp', "$pkgdir/$f", "$suite/$f") == 0 or die "cp $f failed\n";
    }
    system("$openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
           . "-addext subjectAltName=IP:127.0.0.1 -keyout $dir/key.pem -out $suite/certs/ca-root.crt "
           . ">/dev/null 2>&1") == 0 or die "openssl req failed\n";

    my $srv = start_server(args => '-m 64');
    # -Z with a plain notls: listener, the one McTest waits on, beside the TLS one.
    my ($plain_port, $tls_port) = map { IO::Socket::INET->new(LocalAddr => '127.0.0.1', Listen => 1)->sockport }
                                  1 .. 2;
    my $tls = eval { McTest::Server->_spawn(find_binary(), $plain_port, [
        '-p', $tls_port, '-U', 0, '-l', "notls:127.0.0.1:$plain_port,127.0.0.1:$tls_port",
        ($> == 0 ? ('-u', 'root') : ()), '-m', 64, '-Z',
        '-o', "ssl_chain_cert=$suite/certs/ca-root.crt,ssl_key=$dir/key.pem"]) };
    ok($tls, 'a -Z server for test_tls') or diag($@);
    my ($st, $out) = run_cmd('', 300, 'env', 'PYTHONDONTWRITEBYTECODE=1', $python, '-m', 'pytest',
                             '-p', 'no:cacheprovider', '-q', '-rA', '-m', 'integration',
                             "$suite/test_integration.py", '--server', '127.0.0.1',
                             '--port', $srv->port, '--tls-server', '127.0.0.1',
                             '--tls-port', $tls ? $tls_port : 1);
    my @passed = $out =~ /^PASSED \S+::(\S+)/mg;
    my @bad = $out =~ /^((?:FAILED|ERROR) \S+)/mg;
    cmp_ok(scalar(@passed), '>=', 40, 'pymemcache integration: ' . scalar(@passed) . ' tests passed');
    ok((grep { /^test_tls\[/ } @passed) == 3, 'pymemcache integration: test_tls ran and passed with 3 clients');
    is_deeply(\@bad, [], 'pymemcache integration: none failed') or diag($out);
    is($st, 0, 'pymemcache integration: pytest exit status 0') or diag($out);
}

# --- Cache::Memcached::Fast (Perl) ------------------------------------------------------------------
SKIP: {
    eval { require Cache::Memcached::Fast; 1 }
        or client_missing('Cache::Memcached::Fast not installed (Debian: libcache-memcached-fast-perl)');
    my $srv = start_server(args => '-m 64');
    my $m = Cache::Memcached::Fast->new({
        servers => ['127.0.0.1:' . $srv->port], connect_timeout => 5, io_timeout => 10,
        compress_threshold => -1, max_size => 2 * 1024 * 1024, close_on_error => 1,
    });
    ok($m->set('pl1', 'hello'), 'C::M::F: set');
    is($m->get('pl1'), 'hello', 'C::M::F: get');
    ok(!defined $m->get('nope'), 'C::M::F: get miss');
    $m->set('pl2', 'two');
    is_deeply($m->get_multi(qw(pl1 pl2 nope)), { pl1 => 'hello', pl2 => 'two' }, 'C::M::F: get_multi');
    my $g = $m->gets('pl1');
    ok($g && $g->[1] eq 'hello', 'C::M::F: gets');
    ok($m->cas('pl1', $g->[0], 'new'), 'C::M::F: cas with the right unique');
    ok(!$m->cas('pl1', $g->[0], 'newer'), 'C::M::F: cas with a stale unique');
    is($m->get('pl1'), 'new', 'C::M::F: cas stored');
    ok(!$m->add('pl1', 'x'), 'C::M::F: add existing');
    ok($m->set('n', 10), 'C::M::F: set counter');
    is($m->incr('n', 5), 15, 'C::M::F: incr');
    ok($m->decr('n', 20) == 0, 'C::M::F: decr stops at 0');
    ok(!$m->incr('nope', 1), 'C::M::F: incr miss');
    ok($m->delete('pl2'), 'C::M::F: delete');
    ok(!defined $m->get('pl2'), 'C::M::F: deleted');
    ok($m->touch('pl1', 100), 'C::M::F: touch');
    ok(!$m->touch('nope', 100), 'C::M::F: touch miss');
    is($m->gat(100, 'pl1'), 'new', 'C::M::F: gat');
    my $big = join '', map { chr(($_ * 31) % 256) } 1 .. 500 * 1024;
    ok($m->set('big', $big), 'C::M::F: set 500 KB');
    ok($m->get('big') eq $big, 'C::M::F: get 500 KB');
    my $v = $m->server_versions;
    like((values %$v)[0] // '', qr/^\S+$/, 'C::M::F: server_versions');
}

done_testing;
