#!/usr/bin/perl
# -Y: the ASCII login. Before "set <key> <flags> <exptime> <len>" with the
# value "<user> <password>" succeeds, every command is refused; the password
# file is reloaded on SIGHUP. Replies and start-up errors are memcached's.
use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;
use McPortServer;

my $dir = tempdir('mctest-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', "$path.tmp" or die "$path: $!";
    print $fh $text;
    close $fh;
    rename "$path.tmp", $path or die "rename $path: $!";
}

sub login {
    my ($s, $user, $pass) = @_;
    my $v = "$user $pass";
    send_bytes($s, "set auth 0 0 " . length($v) . "\r\n$v\r\n");
    return read_line($s);
}

# ---- start-up refusals
{
    my $missing = "$dir/no-such-file";
    my ($code, $out) = run_until_exit(args => "-p -1 -l 127.0.0.1 -Y $missing");
    is($code, 1, 'missing password file: exit status 1');
    is($out, "Could not open authfile [$missing] for reading, error No such file or directory: "
             . "No such file or directory\n", 'missing password file: message');

    write_file("$dir/empty", '');
    ($code, $out) = run_until_exit(args => "-p -1 -l 127.0.0.1 -Y $dir/empty");
    is($code, 1, 'empty password file: exit status 1');
    is($out, "Authfile [$dir/empty] has a malformed entry. Should be 'user:password'",
       'empty password file: malformed');

    write_file("$dir/blank", "alice:secret\n\nbob:pw\n");
    ($code, $out) = run_until_exit(args => "-p -1 -l 127.0.0.1 -Y $dir/blank");
    is($code, 1, 'blank line: refused');
    like($out, qr/has a malformed entry/, 'blank line: malformed');

    write_file("$dir/nocolon", "alice:secret\nbob\n");
    ($code, $out) = run_until_exit(args => "-p -1 -l 127.0.0.1 -Y $dir/nocolon");
    is($code, 1, 'line without a colon: refused');

    write_file("$dir/ok", "alice:secret\n");
    for my $proto (qw(binary auto)) {
        ($code, $out) = run_until_exit(args => "-p -1 -l 127.0.0.1 -Y $dir/ok -B $proto");
        is($code, 64, "-Y with -B $proto: exit status 64");
        is($out, "ERROR: You cannot allow the BINARY protocol while using ascii "
                 . "authentication tokens.\n", "-Y with -B $proto: message");
    }
}

# ---- a file with a trailing newline, a CRLF line and a password with ':'
write_file("$dir/users", "alice:secret\r\nbob:pw2\ncarol:c:3\n");
my $srv = start_portfile_server(args => "-Y $dir/users");
{
    my $s = $srv->new_sock;
    send_expect($s, "version\r\n", "CLIENT_ERROR unauthenticated\r\n", 'version refused');
    send_expect($s, "get foo\r\n", "CLIENT_ERROR unauthenticated\r\n", 'get refused');
    send_expect($s, "stats\r\n", "CLIENT_ERROR unauthenticated\r\n", 'stats refused');
    send_expect($s, "mg foo v\r\n", "CLIENT_ERROR unauthenticated\r\n", 'meta refused');
    send_expect($s, "add a 0 0 12\r\n", "CLIENT_ERROR unauthenticated\r\n", 'add is no login');
    send_expect($s, "set a 0 0\r\n", "CLIENT_ERROR unauthenticated\r\n", 'set without a length');
    send_expect($s, "set a 0 0 x\r\n", "CLIENT_ERROR unauthenticated\r\n", 'set with a bad length');
    send_expect($s, "set a 0 0 20000\r\n", "CLIENT_ERROR auth token too long\r\n",
                'login value over 16384 bytes');
    send_expect($s, "set a 0 0 9\r\nalice bad\r\n", "CLIENT_ERROR authentication failure\r\n",
                'wrong password');
    send_expect($s, "set a 0 0 12\r\nalice SECRET\r\n", "CLIENT_ERROR authentication failure\r\n",
                'passwords are case sensitive');
    send_expect($s, "set a 0 0 10\r\nmallory pw\r\n", "CLIENT_ERROR authentication failure\r\n",
                'unknown user');
    send_expect($s, "set a 0 0 13\r\nalice  secret\r\n",
                "CLIENT_ERROR authentication failure\r\n", 'only the first space separates');
    send_expect($s, "set a 0 0 5\r\nalice\r\n", "CLIENT_ERROR bad authentication token format\r\n",
                'no space in the value');
    # (memcached loses this reply when the next line comes in the same read)
    send_expect($s, "set a 0 0 2\r\nabcd", "CLIENT_ERROR bad command line termination\r\n",
                'value not ended by \\r\\n');
    send_expect($s, "version\r\n", "CLIENT_ERROR unauthenticated\r\n",
                'a failed login leaves the connection open and unauthenticated');
    is(login($s, 'alice', 'secret'), "STORED\r\n", 'alice logs in (CRLF line in the file)');
    send_expect($s, "set k 0 0 1\r\nv\r\n", "STORED\r\n", 'commands work after the login');
    mem_get_is($s, 'k', 'v');
    mem_get_is($s, 'auth', undef, 'the login set stored nothing');
    my $st = mem_stats($s);
    is($st->{auth_cmds}, 5, 'stats auth_cmds counts every checked login');
    is($st->{auth_errors}, 4, 'stats auth_errors counts the failed ones');
    my $set = mem_stats($s, 'settings');
    is($set->{auth_enabled_ascii}, "$dir/users", 'stats settings auth_enabled_ascii: the file');
    is($set->{binding_protocol}, 'ascii', '-Y makes the server ASCII only');
}
{
    my $s = $srv->new_sock;
    is(login($s, 'bob', 'pw2'), "STORED\r\n", 'bob logs in');
    my $c = $srv->new_sock;
    is(login($c, 'carol', 'c:3'), "STORED\r\n", 'a password may contain ":"');
    my $p = $srv->new_sock;
    send_bytes($p, "set a 0 0 12\r\nalice se");
    sleep 0.2;
    send_bytes($p, "cret\r\nversion\r\n");
    is(read_line($p), "STORED\r\n", 'a login value split across reads');
    like(read_line($p), qr/^VERSION /, '... then the pipelined command runs');
}
{
    my $s = $srv->new_sock;
    send_bytes($s, "quit\r\n");
    expect_closed($s, 'a line shorter than 6 bytes before the login hangs up');
    $s = $srv->new_sock;
    send_bytes($s, "x" x 3000);
    expect_closed($s, '2 KB without a newline before the login hangs up');
}

# ---- a file without a trailing newline; SIGHUP reloads it
write_file("$dir/reload", "alice:secret\nbob:pw2");
my $hup = start_portfile_server(args => "-Y $dir/reload");
{
    my $s = $hup->new_sock;
    is(login($s, 'bob', 'pw2'), "STORED\r\n", 'last line without a newline: password intact');
    is(login($hup->new_sock, 'dave', 'd4'), "CLIENT_ERROR authentication failure\r\n",
       'dave is not in the file yet');

    write_file("$dir/reload", "bob:pw2\ndave:d4\n");
    $hup->signal('HUP');
    my $got = '';
    my $deadline = time + 5;    # memcached reloads on its next clock tick
    while (time < $deadline) {
        $got = login($hup->new_sock, 'dave', 'd4') // '';
        last if $got eq "STORED\r\n";
        sleep 0.1;
    }
    is($got, "STORED\r\n", 'SIGHUP: a user added to the file can log in');
    is(login($hup->new_sock, 'alice', 'secret'), "CLIENT_ERROR authentication failure\r\n",
       'SIGHUP: a user removed from the file cannot');
    send_expect($s, "version\r\n", "VERSION ", 'a connection logged in before stays logged in');

    write_file("$dir/reload", "this line is malformed\n");
    $hup->signal('HUP');
    # The reload runs on the next clock tick: wait for our server's complaint
    # (memcached says nothing: then this waits the whole 10 s).
    my $until = time + 10;
    sleep 0.05 until $hup->stderr_text =~ /has a malformed entry/ || time > $until;
    is(login($hup->new_sock, 'dave', 'd4'), "STORED\r\n",
       'SIGHUP with a malformed file keeps the previous users');
    ok(kill(0, $hup->pid), 'the server survives the bad reload');
}

# ---- probes: the refusals are protocol errors; a hang-up is reason "auth"
SKIP: {
    my $why = probes_skip_reason($srv->binary);
    if (defined $why && $ENV{MEMCACHED_REQUIRE_PROBES}) {
        fail("probes required (MEMCACHED_REQUIRE_PROBES) but unusable: $why");
        last SKIP;
    }
    skip "probes: $why", 4 if defined $why;
    my @lines = trap_probe($srv, <<'BT', sub {
usdt:{BIN}:memcached:protocol__error { printf("err %s %s\n", str(arg1), str(arg2)); }
usdt:{BIN}:memcached:conn__close { printf("close %s\n", str(arg1)); }
BT
        my $s = $srv->new_sock;
        send_expect($s, "version\r\n", "CLIENT_ERROR unauthenticated\r\n", 'refused (traced)');
        send_bytes($s, "stop\r\n");
        expect_closed($s, 'short line hangs up (traced)');
    });
    ok((grep { $_ eq 'err client_error unauthenticated' } @lines),
       'protocol__error fires for the refusal') or diag explain \@lines;
    # Skipped when validating against memcached itself (it has no such probe).
    ok((grep { $_ eq 'close auth' } @lines), 'conn__close reason "auth"')
        or diag explain \@lines;
}

done_testing;
