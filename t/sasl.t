#!/usr/bin/perl
# SASL (-S, configure --enable-sasl): binary-protocol login with PLAIN,
# against memcached's MEMCACHED_SASL_PWDB file and against a Cyrus sasldb
# (saslpasswd2) found through SASL_CONF_PATH. Before a login only the SASL
# opcodes and version are served; anything else gets "Auth failure." and
# the connection closes, as in memcached. A build without SASL must refuse
# -S the way memcached built without SASL does.
use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use McTest;
use McPortServer;

use constant { OP_GET => 0x00, OP_SET => 0x01, OP_VERSION => 0x0b, OP_STAT => 0x10,
               OP_LIST_MECHS => 0x20, OP_AUTH => 0x21, OP_STEP => 0x22 };
use constant { ST_OK => 0, ST_EINVAL => 4, ST_AUTH_ERROR => 0x20, ST_UNKNOWN => 0x81 };

# A request packet (built by hand: magic, opcode, key length, extras
# length, data type, vbucket, body length, opaque, cas).
sub packet {
    my ($op, $key, $value, $extras) = @_;
    $extras //= '';
    return pack('CCnCCnNNQ>', 0x80, $op, length $key, length $extras, 0, 0,
                length($extras) + length($key) + length($value), 0xdead, 0)
           . $extras . $key . $value;
}

# The next reply: { op, status, body } or undef if the server hung up.
sub reply {
    my ($s) = @_;
    my $h = read_bytes($s, 24);
    return undef unless length $h == 24;
    my ($magic, $op, $klen, $elen, $dt, $status, $blen) = unpack('CCnCCnN', $h);
    my $body = $blen ? read_bytes($s, $blen) : '';
    return { op => $op, status => $status, body => substr($body, $elen + $klen) };
}

sub request {
    my ($s, @packet) = @_;
    send_bytes($s, packet(@packet));
    return reply($s);
}

# PLAIN: authzid, user, password separated by NULs.
sub plain_auth {
    my ($s, $user, $pass) = @_;
    return request($s, OP_AUTH, 'PLAIN', "\0$user\0$pass");
}

my $help = (run_until_exit(args => '-h'))[1];
unless ($help =~ /--enable-sasl/) {
    note 'built without SASL (configure --enable-sasl): checking only that SASL is refused';
    my ($code, $out) = run_until_exit(args => '-p -1 -U 0 -l 127.0.0.1 -S');
    is($code, 64, 'no SASL built: -S exits 64');
    is($out, "This server is not built with SASL support.\n", 'no SASL built: -S message');
    my $s = start_server()->new_sock;
    my $r = request($s, OP_LIST_MECHS, '', '');
    is($r && $r->{status}, ST_UNKNOWN, 'no SASL built: list mechs is an unknown command');
    done_testing;
    exit 0;
}

my $dir = tempdir('mctest-sasl-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# ---- MEMCACHED_SASL_PWDB: memcached's own password file
write_file("$dir/memcached.conf", "mech_list: plain\n");
write_file("$dir/pwdb", "alice\@test:secret\nbob\@test:hunter2:ignored\n");
{
    local $ENV{SASL_CONF_PATH} = $dir;
    local $ENV{MEMCACHED_SASL_PWDB} = "$dir/pwdb";
    my $srv = start_server(args => '-S -B binary');
    my $s = $srv->new_sock;

    my $r = request($s, OP_LIST_MECHS, '', '');
    is($r->{status}, ST_OK, 'list mechs before a login: served');
    is($r->{body}, 'PLAIN', 'list mechs: the configured mechanism');
    $r = request($s, OP_VERSION, '', '');
    is($r->{status}, ST_OK, 'version before a login: served');

    $r = plain_auth($s, 'alice@test', 'wrong');
    is($r->{status}, ST_AUTH_ERROR, 'wrong password: status 0x20');
    is($r->{body}, 'Auth failure.', 'wrong password: "Auth failure."');
    $r = plain_auth($s, 'mallory@test', 'secret');
    is($r->{status}, ST_AUTH_ERROR, 'unknown user: refused');
    $r = request($s, OP_AUTH, 'BOGUS-MECH', 'x');
    is($r->{status}, ST_AUTH_ERROR, 'unknown mechanism: refused');
    $r = request($s, OP_STEP, 'PLAIN', 'x');
    is($r->{status}, ST_AUTH_ERROR, 'step without auth: refused');
    $r = request($s, OP_AUTH, 'M' x 33, 'x');
    is($r->{status}, ST_EINVAL, 'mechanism name over 32 bytes: invalid arguments');

    $r = plain_auth($s, 'alice@test', 'secret');
    is($r->{status}, ST_OK, 'right password: status 0');
    is($r->{body}, 'Authenticated', 'right password: "Authenticated"');
    $r = request($s, OP_SET, 'k', 'hello', pack('NN', 0, 0));
    is($r->{status}, ST_OK, 'after the login: set');
    $r = request($s, OP_GET, 'k', '');
    is($r && $r->{body}, 'hello', 'after the login: get');

    my $b = $srv->new_sock;
    is(plain_auth($b, 'bob@test', 'hunter2')->{status}, ST_OK,
       'a password followed by ":..." in the file');

    # Logins are per connection; a refused command ends the connection.
    my $other = $srv->new_sock;
    $r = request($other, OP_GET, 'k', '');
    is($r->{status}, ST_AUTH_ERROR, 'another connection: get before a login is refused');
    is($r->{body}, 'Auth failure.', '  with "Auth failure."');
    expect_closed($other, '  and the connection is closed');

    # A failed login after a good one logs the connection out.
    my $again = $srv->new_sock;
    is(plain_auth($again, 'alice@test', 'secret')->{status}, ST_OK, 'log in');
    is(plain_auth($again, 'alice@test', 'nope')->{status}, ST_AUTH_ERROR, 'then fail a login');
    is(request($again, OP_GET, 'k', '')->{status}, ST_AUTH_ERROR, 'which logs the connection out');

    # ASCII is not served under -S: once a header's worth (24 bytes) is in,
    # the connection closes (as memcached's binary-only connections do).
    my $ascii = $srv->new_sock;
    send_bytes($ascii, "version\r\n" x 3);
    expect_closed($ascii, 'ASCII under -S: the connection closes');

    # Counters and settings, read over an authenticated connection.
    my $st = mem_stats_binary($s, '');
    is($st->{auth_cmds}, 8, 'stats: auth_cmds counts every login attempt');
    is($st->{auth_errors}, 5, 'stats: auth_errors counts the failures');
    my $settings = mem_stats_binary($s, 'settings');
    is($settings->{auth_enabled_sasl}, 'yes', 'stats settings: auth_enabled_sasl yes');
    is($settings->{binding_protocol}, 'binary', 'stats settings: binding_protocol binary');
}

# Binary stat packets as a hash (key in the key field, value in the body).
sub mem_stats_binary {
    my ($s, $group) = @_;
    send_bytes($s, packet(OP_STAT, $group, ''));
    my %st;
    while (1) {
        my $h = read_bytes($s, 24);
        last unless length $h == 24;
        my ($klen, $blen) = (unpack('x2n', $h), unpack('N', substr($h, 8, 4)));
        my $body = read_bytes($s, $blen);
        last if $klen == 0;
        $st{substr($body, 0, $klen)} = substr($body, $klen);
    }
    return \%st;
}

# ---- a Cyrus sasldb made with saslpasswd2, found through SASL_CONF_PATH
SKIP: {
    chomp(my $saslpasswd = `command -v saslpasswd2 2>/dev/null` || '');
    $saslpasswd ||= '/usr/sbin/saslpasswd2' if -x '/usr/sbin/saslpasswd2';
    skip 'saslpasswd2 not found (sasl2-bin)', 4 unless $saslpasswd;
    my $db = "$dir/sasldb2";
    system("echo carol-pass | $saslpasswd -p -a memcached -c -f $db -u test carol") == 0
        or skip 'saslpasswd2 failed', 4;
    mkdir "$dir/conf";
    write_file("$dir/conf/memcached.conf",
               "mech_list: plain\npwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: $db\n");
    local $ENV{SASL_CONF_PATH} = "$dir/conf";
    delete local $ENV{MEMCACHED_SASL_PWDB};
    my $srv = start_server(args => '-S -B binary');
    my $s = $srv->new_sock;
    is(plain_auth($s, 'carol@test', 'wrong')->{status}, ST_AUTH_ERROR, 'sasldb: wrong password refused');
    is(plain_auth($s, 'carol@test', 'carol-pass')->{status}, ST_OK, 'sasldb: right password accepted');
    is(request($s, OP_SET, 'c', 'v', pack('NN', 0, 0))->{status}, ST_OK, 'sasldb: then served');
    is(plain_auth($srv->new_sock, 'alice@test', 'secret')->{status}, ST_AUTH_ERROR,
       'sasldb: the other password file is not used');
}

# ---- -S alone: binary only; start-up refusals
{
    local $ENV{SASL_CONF_PATH} = $dir;
    my $srv = start_portfile_server(args => '-S');
    my $s = $srv->new_sock;
    is(request($s, OP_VERSION, '', '')->{status}, ST_OK, '-S alone: binary version served');
    my $ascii = $srv->new_sock;
    send_bytes($ascii, "version\r\n" x 3);
    expect_closed($ascii, '-S alone: the protocol is binary');

    for my $proto (qw(ascii auto)) {
        my ($code, $out) = run_until_exit(args => "-p -1 -U 0 -l 127.0.0.1 -S -B $proto");
        is($code, 64, "-S -B $proto: exit status 64");
        is($out, "ERROR: You cannot allow the ASCII protocol while using SASL.\n", "-S -B $proto: message");
    }
    my ($code, $out) = run_until_exit(args => '-p -1 -U 11299 -l 127.0.0.1 -S');
    is($code, 64, '-S with UDP: exit status 64');
    is($out, "ERROR: Cannot enable UDP while using binary SASL authentication.\n", '-S with UDP: message');
    like($help, qr/^-S, --enable-sasl/m, '-h lists -S');

    # Without -S the SASL opcodes are unknown commands and nothing needs a login.
    my $plain = start_server(args => '-B binary')->new_sock;
    is(request($plain, OP_LIST_MECHS, '', '')->{status}, ST_UNKNOWN, 'without -S: list mechs unknown');
    is(request($plain, OP_GET, 'x', '')->{status}, 1, 'without -S: get served (a miss)');
}

done_testing;
