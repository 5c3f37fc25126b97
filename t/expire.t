#!/usr/bin/perl
# Expiry over time, driven by the debug build's "debugtime <seconds>"
# command, which moves the server's clock forward without waiting.
#
# Each scenario runs on its own server, so every clock starts from zero
# offset.  Real time also moves while a scenario runs, so "still there"
# checks keep a margin of at least 2 s before the expiry time; "gone"
# checks need none (time only moves forward).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $probe = start_server(args => '-m 8');    # stopped at the end
plan skip_all => 'needs a debug build with the debugtime command (' . $probe->binary . ')'
    unless $probe->is_debug_build;


my @servers;    # kept until the end, so they are stopped together
sub fresh {
    my $srv = start_server(args => '-m 8');
    push @servers, $srv;
    return ($srv, $srv->new_sock);
}

# --- relative exptime ----------------------------------------------------------
{
    my ($srv, $s) = fresh();
    send_expect($s, "set rel 0 10 1\r\nr\r\n", "STORED\r\n", 'set with exptime 10');
    send_expect($s, "set zero 0 0 1\r\nz\r\n", "STORED\r\n", 'set with exptime 0');
    mem_get_is($s, 'rel', 'r', 'relative: there at once');
    debugtime($s, 7);
    mem_get_is($s, 'rel', 'r', 'relative: still there 7 s later');
    debugtime($s, 3);
    mem_get_is($s, 'rel', undef, 'relative: gone 10 s later');
    send_expect($s, "touch rel 100\r\n", "NOT_FOUND\r\n", 'touch cannot revive an expired item');
    send_expect($s, "add rel 0 0 1\r\nn\r\n", "STORED\r\n", 'add succeeds over the expired item');
    mem_get_is($s, 'zero', 'z', 'exptime 0: still there');
}

# --- absolute (unix time) exptime ---------------------------------------------
{
    my ($srv, $s) = fresh();
    my $now = mem_stats($s)->{time};
    my $at = $now + 10;
    send_expect($s, "set abs 0 $at 1\r\na\r\n", "STORED\r\n", 'set with exptime = server time + 10');
    mem_get_is($s, 'abs', 'a', 'absolute: there at once');
    debugtime($s, 7);
    mem_get_is($s, 'abs', 'a', 'absolute: still there 7 s later');
    debugtime($s, 3);
    mem_get_is($s, 'abs', undef, 'absolute: gone 10 s later');
    my $later = mem_stats($s)->{time};
    ok($later >= $now + 10, "stats time follows debugtime ($now -> $later)");
}

# --- 0 never expires; negative expires at once -----------------------------------
{
    my ($srv, $s) = fresh();
    send_expect($s, "set forever 0 0 1\r\nf\r\n", "STORED\r\n", 'set with exptime 0');
    send_expect($s, "set neg 0 -1 1\r\nn\r\n", "STORED\r\n", 'set with exptime -1');
    mem_get_is($s, 'neg', undef, 'negative: gone at once');
    debugtime($s, 86400 * 60);
    mem_get_is($s, 'forever', 'f', 'exptime 0: still there 60 days later');
}

# --- touch / gat move the expiry ----------------------------------------------------
{
    my ($srv, $s) = fresh();
    send_expect($s, "set t 0 10 1\r\nt\r\nset g 0 10 1\r\ng\r\nset keep 0 10 1\r\nk\r\n",
                "STORED\r\nSTORED\r\nSTORED\r\n", 'three items with exptime 10');
    send_expect($s, "touch t 100\r\n", "TOUCHED\r\n", 'touch t to 100');
    send_expect($s, "gat 100 g\r\n", "VALUE g 0 1\r\ng\r\nEND\r\n", 'gat g to 100');
    send_expect($s, "touch keep 0\r\n", "TOUCHED\r\n", 'touch keep to 0 (never)');
    debugtime($s, 50);
    mem_get_is($s, 't', 't', 'touched item outlives its first exptime');
    mem_get_is($s, 'g', 'g', 'gat item outlives its first exptime');
    send_expect($s, "touch t 5\r\n", "TOUCHED\r\n", 'touch t down to 5');
    debugtime($s, 6);
    mem_get_is($s, 't', undef, 'touch can shorten the life too');
    debugtime($s, 50);
    mem_get_is($s, 'g', undef, 'gat item gone after its new exptime');
    mem_get_is($s, 'keep', 'k', 'touch 0 made the item permanent');
}

# --- delayed flush_all --------------------------------------------------------------
{
    my ($srv, $s) = fresh();
    send_expect($s, "set a 0 0 1\r\na\r\n", "STORED\r\n", 'set a');
    send_expect($s, "flush_all 20\r\n", "OK\r\n", 'flush_all 20');
    debugtime($s, 10);
    mem_get_is($s, 'a', 'a', 'still there 10 s into a 20 s flush delay');
    debugtime($s, 10);
    mem_get_is($s, 'a', undef, 'gone once the flush delay passed');
    send_expect($s, "set b 0 0 1\r\nb\r\n", "STORED\r\n", 'set after the flush took effect');
    mem_get_is($s, 'b', 'b', 'new item is kept');
}

done_testing;
