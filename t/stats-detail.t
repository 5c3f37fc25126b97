#!/usr/bin/perl
# "stats detail on|off|dump": per-prefix get/hit/set/del counters, -D to
# pick the delimiter (and turn counting on), -X to refuse the command.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;
use McBinary;

# Reads "PREFIX ..." lines up to END; returns them in order (without \r\n).
sub dump_lines {
    my ($s) = @_;
    send_bytes($s, "stats detail dump\r\n");
    my @lines;
    while (defined(my $l = read_line($s))) {
        last if $l eq "END\r\n";
        $l =~ s/\r\n\z//;
        push @lines, $l;
    }
    return \@lines;
}

my $srv = start_server(args => '-m 32');
my $s = $srv->new_sock;

# --- off by default; bad arguments ------------------------------------------------
is(mem_stats($s, 'settings')->{detail_enabled}, 'no', 'detail is off by default');
send_expect($s, "stats detail dump\r\n", "END\r\n", 'nothing counted yet');
send_expect($s, "set a:1 0 0 1\r\nx\r\n", "STORED\r\n", 'store while off');
send_expect($s, "stats detail dump\r\n", "END\r\n", 'nothing counted while off');
my $usage = "CLIENT_ERROR usage: stats detail on|off|dump\r\n";
send_expect($s, "stats detail\r\n", $usage, 'no subcommand');
send_expect($s, "stats detail ON\r\n", $usage, 'subcommands are case-sensitive');
send_expect($s, "stats detail dumpx\r\n", $usage, 'a near miss');

# --- counting ----------------------------------------------------------------------
send_expect($s, "stats detail on\r\n", "OK\r\n", 'stats detail on');
is(mem_stats($s, 'settings')->{detail_enabled}, 'yes', 'stats settings shows it on');
send_expect($s, "stats detail on extra\r\n", "OK\r\n", 'extra tokens are ignored');
send_expect($s, "set a:1 0 0 1\r\nx\r\n", "STORED\r\n", 'set a:1');
send_expect($s, "add a:1 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 'add a:1 (a failed store counts)');
send_expect($s, "set a:2 0 0 2000000\r\n" . ('v' x 2000000) . "\r\n",
            "SERVER_ERROR object too large for cache\r\n", 'a refused value still counts as a set');
send_expect($s, "get a:1 a:2 plain\r\n", "VALUE a:1 0 1\r\nx\r\nEND\r\n", 'get: one hit, one miss');
send_bytes($s, "gets a:1\r\n");
like(read_line($s), qr/^VALUE a:1 0 1 \d+\r\n\z/, 'gets a:1 (a hit)');
send_expect($s, '', "x\r\nEND\r\n", 'gets a:1 value');
send_expect($s, "gat 0 b:c:d\r\n", "END\r\n", 'gat miss on b (prefix ends at the first delimiter)');
send_expect($s, "delete a:1\r\ndelete a:9\r\n", "DELETED\r\nNOT_FOUND\r\n",
            'deletes count found or not');
send_expect($s, "set :e 0 0 1\r\nx\r\n", "STORED\r\n", 'an empty prefix');
send_expect($s, "set plain 0 0 1\r\nx\r\nget plain\r\n", "STORED\r\nVALUE plain 0 1\r\nx\r\nEND\r\n",
            'a key without the delimiter');
send_expect($s, "touch a:3 0\r\nincr a:3 1\r\n", "NOT_FOUND\r\nNOT_FOUND\r\n",
            'touch and incr are not counted');
send_expect($s, "ms m:1 1\r\nx\r\nmg m:1 v\r\nmd m:1\r\n", "HD\r\nVA 1\r\nx\r\nHD\r\n",
            'meta commands are not counted');

# binary get, set and delete are counted too (on a connection of their own:
# the first byte picks a connection's protocol)
my $b = $srv->new_sock;
send_bytes($b, bin_req('set', key => 'b:1', ext => pack('NN', 0, 0), val => 'v'));
is(bin_read($b)->{status}, 0, 'binary set b:1');
send_bytes($b, bin_req('get', key => 'b:1'));
is(bin_read($b)->{status}, 0, 'binary get b:1');
send_bytes($b, bin_req('delete', key => 'b:2'));
is(bin_read($b)->{status}, $ST{not_found}, 'binary delete b:2');

# Order is memcached's (hash buckets of the prefix), so compare as a set
# here; the exact order is checked below.
my %got = map { $_ => 1 } @{ dump_lines($s) };
is_deeply(\%got, {
    'PREFIX a get 3 hit 2 set 3 del 2' => 1,
    'PREFIX b get 2 hit 1 set 1 del 1' => 1,
    'PREFIX  get 0 hit 0 set 1 del 0' => 1,
}, 'dump: per-prefix counters') or diag(explain(\%got));

# --- off keeps the counters; stats reset clears them ----------------------------------
send_expect($s, "stats detail off\r\n", "OK\r\n", 'stats detail off');
send_expect($s, "get a:1\r\n", "END\r\n", 'get while off');
%got = map { $_ => 1 } @{ dump_lines($s) };
ok($got{'PREFIX a get 3 hit 2 set 3 del 2'}, 'off: counters kept, the get not counted');
send_expect($s, "stats reset\r\n", "RESET\r\n", 'stats reset');
send_expect($s, "stats detail dump\r\n", "END\r\n", 'stats reset forgets the prefixes');

# --- dump order: memcached's (bucket = hash(prefix) % 256, newest first) -------------
send_expect($s, "stats detail on\r\n", "OK\r\n", 'on again');
send_expect($s, join('', map { "set $_:1 0 0 1\r\nx\r\n" } qw(p1 p2 p3 p4 p5 zz)),
            "STORED\r\n" x 6, 'six prefixes');
is_deeply(dump_lines($s), [map { "PREFIX $_ get 0 hit 0 set 1 del 0" } qw(p5 zz p3 p4 p1 p2)],
          'dump order matches memcached');
$srv->stop;

# --- -D picks the delimiter and turns counting on --------------------------------------
$srv = start_server(args => '-m 32 -D /');
$s = $srv->new_sock;
is(mem_stats($s, 'settings')->{detail_enabled}, 'yes', '-D turns detail on');
send_expect($s, "set x/1 0 0 1\r\nx\r\nset y:1 0 0 1\r\nx\r\n", "STORED\r\nSTORED\r\n", 'two sets');
is_deeply(dump_lines($s), ['PREFIX x get 0 hit 0 set 1 del 0'], 'only keys with "/" count');
$srv->stop;

# --- -X refuses every form ---------------------------------------------------------------
$srv = start_server(args => '-m 32 -X');
$s = $srv->new_sock;
my $refused = "CLIENT_ERROR stats detail not allowed\r\n";
send_expect($s, "stats detail dump\r\n", $refused, '-X: dump refused');
send_expect($s, "stats detail on\r\n", $refused, '-X: on refused');
send_expect($s, "stats detail bogus\r\n", $refused, '-X: even a bad subcommand');
send_expect($s, "stats detail\r\n", $refused, '-X: no subcommand');
is(mem_stats($s, 'settings')->{detail_enabled}, 'no', '-X: still off');

done_testing();
