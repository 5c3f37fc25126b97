#!/usr/bin/perl
# ASCII misc commands: version, verbosity, flush_all, quit, unknown
# commands, and the general "stats" group.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my $srv = start_server(args => '-m 32 -t 2');
my $s = $srv->new_sock;

# --- version ------------------------------------------------------------------
send_bytes($s, "version\r\n");
my $vline = read_line($s) // '';
like($vline, qr/^VERSION \S+\r\n\z/, 'version');
my ($version) = $vline =~ /^VERSION (\S+)/;

# --- verbosity ------------------------------------------------------------------
send_expect($s, "verbosity 1\r\n", "OK\r\n", 'verbosity 1');
send_expect($s, "verbosity 0\r\n", "OK\r\n", 'verbosity 0');
send_expect($s, "verbosity 1 2\r\n", "OK\r\n", 'verbosity ignores an extra token');
send_bytes($s, "verbosity 0 noreply\r\n");
expect_nothing($s, 200, 'verbosity noreply: no reply');
send_expect($s, "verbosity abc\r\n", "CLIENT_ERROR bad command line format\r\n", 'verbosity abc');
# 1.6.18 said ERROR here.
send_expect($s, "verbosity\r\n", "CLIENT_ERROR bad command line format\r\n", 'verbosity without level');

# --- unknown commands -------------------------------------------------------------
send_expect($s, "bogus\r\n", "ERROR\r\n", 'unknown command');
send_expect($s, "bogus with args 1 2 3\r\n", "ERROR\r\n", 'unknown command with arguments');
send_expect($s, "GET foo\r\n", "ERROR\r\n", 'commands are case-sensitive');
send_expect($s, "gett foo\r\n", "ERROR\r\n", 'near miss of a command name');
send_expect($s, "version\r\n", $vline, 'connection fine after ERRORs');

# --- flush_all --------------------------------------------------------------------
send_expect($s, "set f1 0 0 1\r\na\r\nset f2 0 0 1\r\nb\r\n", "STORED\r\nSTORED\r\n", 'two items');
send_expect($s, "flush_all\r\n", "OK\r\n", 'flush_all');
send_expect($s, "get f1 f2\r\n", "END\r\n", 'items gone after flush_all');
send_expect($s, "set f1 0 0 1\r\nc\r\n", "STORED\r\n", 'set after flush_all');
mem_get_is($s, 'f1', 'c', 'items stored after flush_all are kept');
send_expect($s, "add f2 0 0 1\r\nd\r\n", "STORED\r\n", 'add over a flushed key succeeds');
send_expect($s, "flush_all 0\r\n", "OK\r\n", 'flush_all 0');
send_expect($s, "get f1 f2\r\n", "END\r\n", 'flush_all 0 is immediate');

send_expect($s, "set f3 0 0 1\r\ne\r\n", "STORED\r\n", 'set f3');
send_bytes($s, "flush_all noreply\r\n");
expect_nothing($s, 200, 'flush_all noreply: no reply');
mem_get_is($s, 'f3', undef, 'flush_all noreply flushed');
send_expect($s, "set f3 0 0 1\r\ne\r\n", "STORED\r\n", 'set f3 again');
send_bytes($s, "flush_all 0 noreply\r\n");
expect_nothing($s, 200, 'flush_all 0 noreply: no reply');
mem_get_is($s, 'f3', undef, 'flush_all 0 noreply flushed');

send_expect($s, "flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n", 'flush_all abc');

# Delayed flush: items stay until the delay passes.  The server's clock
# moves in whole seconds and a delay of N takes effect N-1 ticks later, so
# use a long delay to check "still there" and a short one, with polling,
# to check "gone".
send_expect($s, "set d1 0 0 1\r\nx\r\n", "STORED\r\n", 'set d1');
send_expect($s, "flush_all 100\r\n", "OK\r\n", 'flush_all 100');
mem_get_is($s, 'd1', 'x', 'item still there right after a delayed flush');
send_expect($s, "flush_all 3\r\n", "OK\r\n", 'flush_all 3');
mem_get_is($s, 'd1', 'x', 'item still there right after flush_all 3');
my $gone = 0;
my $until = time + 10;
while (time < $until) {
    sleep 0.1;
    send_bytes($s, "get d1\r\n");
    my $l = read_line($s) // '';
    if ($l eq "END\r\n") { $gone = 1; last }
    read_bytes($s, 3 + 5);    # "x\r\n" and "END\r\n"
}
ok($gone, 'item gone (within 10 s) after flush_all 3');

# --- stats ------------------------------------------------------------------------
# A fresh server, so the counters start from a known state.
my $srv2 = start_server(args => '-m 32 -t 2');
my $t = $srv2->new_sock;
my $st = mem_stats($t);
for my $name (qw(pid uptime time version curr_connections total_connections cmd_get
                 cmd_set get_hits get_misses curr_items total_items bytes evictions
                 limit_maxbytes threads)) {
    ok(exists $st->{$name}, "stats has $name");
}
is($st->{pid}, $srv2->pid, 'pid is the server pid');
ok($st->{uptime} =~ /^\d+$/ && $st->{uptime} < 60, "uptime is small ($st->{uptime})");
ok($st->{time} =~ /^\d+$/ && abs($st->{time} - time) <= 2, "time is the unix time ($st->{time})");
is($st->{version}, $version, 'version matches the version command');
is($st->{limit_maxbytes}, 32 * 1024 * 1024, 'limit_maxbytes follows -m');
is($st->{threads}, 2, 'threads follows -t');
ok($st->{curr_connections} >= 1, "curr_connections >= 1 ($st->{curr_connections})");
ok($st->{total_connections} >= $st->{curr_connections}, 'total_connections >= curr_connections');
is($st->{$_}, 0, "$_ starts at 0")
    for qw(cmd_get cmd_set get_hits get_misses curr_items total_items evictions bytes);

# A known workload.
send_expect($t, "set a 0 0 1\r\n1\r\nset b 0 0 2\r\n22\r\nset c 0 0 3\r\n333\r\n",
            "STORED\r\nSTORED\r\nSTORED\r\n", 'three sets');
send_expect($t, "set a 0 0 1\r\n9\r\n", "STORED\r\n", 'overwrite a');
send_expect($t, "add a 0 0 1\r\n0\r\n", "NOT_STORED\r\n", 'failed add');
send_expect($t, "get a b zz\r\n", "VALUE a 0 1\r\n9\r\nVALUE b 0 2\r\n22\r\nEND\r\n", 'get 3 keys, 1 miss');
send_expect($t, "get zz\r\n", "END\r\n", 'get a miss');
send_bytes($t, "gets c\r\n");
like(read_line($t) // '', qr/^VALUE c 0 3 \d+\r\n\z/, 'gets c');
is(read_bytes($t, 10), "333\r\nEND\r\n", 'gets c data');
my $st2 = mem_stats($t);
is($st2->{cmd_get}, 5, 'cmd_get counts keys, not commands');
is($st2->{get_hits}, 3, 'get_hits');
is($st2->{get_misses}, 2, 'get_misses');
is($st2->{cmd_set}, 5, 'cmd_set counts every storage attempt');
is($st2->{curr_items}, 3, 'curr_items');
is($st2->{total_items}, 4, 'total_items counts successful stores');
ok($st2->{bytes} > 0, "bytes grew ($st2->{bytes})");
is($st2->{evictions}, 0, 'no evictions');

my $t2 = $srv2->new_sock;
my $st3 = mem_stats($t2);
is($st3->{curr_connections}, $st2->{curr_connections} + 1, 'curr_connections counts a new client');
is($st3->{total_connections}, $st2->{total_connections} + 1, 'total_connections counts it too');
close $t2;

send_expect($t, "flush_all\r\n", "OK\r\n", 'flush_all');
send_expect($t, "get a b c\r\n", "END\r\n", 'all gone');
my $st4 = mem_stats($t);
is($st4->{cmd_flush}, 1, 'cmd_flush counts flush_all');
is($st4->{get_misses}, 5, 'flushed items count as misses');

send_expect($t, "stats bogus\r\n", "ERROR\r\n", 'unknown stats group');

# --- quit -------------------------------------------------------------------------
send_bytes($s, "quit\r\n");
expect_closed($s, 'quit closes the connection without a reply');
my $q = $srv->new_sock;
send_bytes($q, "get f1\r\nquit\r\nget f1\r\n");
is(read_line($q), "END\r\n", 'commands before quit are answered');
expect_closed($q, 'nothing after quit is answered');
my $alive = $srv->new_sock;
send_expect($alive, "version\r\n", $vline, 'server still serves new connections after quit');

done_testing;
