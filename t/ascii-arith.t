#!/usr/bin/perl
# ASCII incr / decr.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

# Every step below waits for its reply before the next one.  That matters for
# the padding checks: the server rewrites a number in place (padding with
# spaces) only when nothing else holds the item, and a get whose reply is
# still being written counts as holding it.

# --- basics ---------------------------------------------------------------------
send_expect($s, "set n 5 0 1\r\n1\r\n", "STORED\r\n", 'set n = 1');
send_expect($s, "incr n 1\r\n", "2\r\n", 'incr by 1 returns the new value');
send_expect($s, "incr n 40\r\n", "42\r\n", 'incr by 40');
send_expect($s, "get n\r\n", "VALUE n 5 2\r\n42\r\nEND\r\n", 'value stored as text, flags kept');
send_expect($s, "decr n 2\r\n", "40\r\n", 'decr by 2');
send_expect($s, "incr n 0\r\n", "40\r\n", 'incr by 0');
send_expect($s, "decr n 00010\r\n", "30\r\n", 'leading zeros in delta are fine');
send_expect($s, "incr nope 1\r\n", "NOT_FOUND\r\n", 'incr missing key');
send_expect($s, "decr nope 1\r\n", "NOT_FOUND\r\n", 'decr missing key');
mem_get_is($s, 'nope', undef, 'incr/decr do not create keys');

# --- decr floors at 0 -------------------------------------------------------------
send_expect($s, "set d 0 0 1\r\n5\r\n", "STORED\r\n", 'set d = 5');
send_expect($s, "decr d 6\r\n", "0\r\n", 'decr below zero gives 0');
send_expect($s, "decr d 1\r\n", "0\r\n", 'decr at 0 stays 0');
send_expect($s, "decr d 18446744073709551615\r\n", "0\r\n", 'decr by 2^64-1 stays 0');
send_expect($s, "get d\r\n", "VALUE d 0 1\r\n0\r\nEND\r\n", 'd is 0');

# --- incr wraps at 2^64 -----------------------------------------------------------
send_expect($s, "set w 0 0 20\r\n18446744073709551615\r\n", "STORED\r\n", 'set w = 2^64-1');
send_expect($s, "incr w 1\r\n", "0\r\n", 'incr 2^64-1 by 1 wraps to 0');
send_expect($s, "get w\r\n", "VALUE w 0 20\r\n0" . (' ' x 19) . "\r\nEND\r\n",
            'wrapped value is padded to the old length');
send_expect($s, "set w 0 0 20\r\n18446744073709551610\r\n", "STORED\r\n", 'set w = 2^64-6');
send_expect($s, "incr w 10\r\n", "4\r\n", 'incr past 2^64 wraps modulo 2^64');
send_expect($s, "set w 0 0 1\r\n1\r\n", "STORED\r\n", 'set w = 1');
send_expect($s, "incr w 18446744073709551615\r\n", "0\r\n", 'incr by 2^64-1 (largest delta) wraps');
send_expect($s, "incr w 18446744073709551615\r\n", "18446744073709551615\r\n", 'incr 0 by 2^64-1');

# --- result length changes ------------------------------------------------------
send_expect($s, "set L 0 0 2\r\n99\r\n", "STORED\r\n", 'set L = 99');
send_expect($s, "incr L 1\r\n", "100\r\n", 'incr 99 -> 100');
send_expect($s, "get L\r\n", "VALUE L 0 3\r\n100\r\nEND\r\n", 'value grew to 3 bytes');
send_expect($s, "decr L 1\r\n", "99\r\n", 'decr 100 -> 99');
send_expect($s, "get L\r\n", "VALUE L 0 3\r\n99 \r\nEND\r\n",
            'shrunk value keeps its length, padded with a space');
send_expect($s, "incr L 1\r\n", "100\r\n", 'incr the padded value');
send_expect($s, "get L\r\n", "VALUE L 0 3\r\n100\r\nEND\r\n", 'back to 100');
send_expect($s, "set L 0 0 4\r\n1099\r\n", "STORED\r\n", 'set L = 1099');
send_expect($s, "decr L 1099\r\n", "0\r\n", 'decr 1099 -> 0');
send_expect($s, "get L\r\n", "VALUE L 0 4\r\n0   \r\nEND\r\n", 'padded with three spaces');
send_expect($s, "incr L 123456\r\n", "123456\r\n", 'incr the padded 0 past its length');
send_expect($s, "get L\r\n", "VALUE L 0 6\r\n123456\r\nEND\r\n", 'value grew to 6 bytes');

# Spaces around the stored number are accepted.
send_expect($s, "set sp 0 0 4\r\n 12 \r\n", "STORED\r\n", 'set sp = " 12 "');
send_expect($s, "incr sp 1\r\n", "13\r\n", 'incr a number with surrounding spaces');
send_expect($s, "set z 0 0 5\r\n00007\r\n", "STORED\r\n", 'set z = 00007');
send_expect($s, "incr z 1\r\n", "8\r\n", 'leading zeros in the value are fine');
send_expect($s, "get z\r\n", "VALUE z 0 5\r\n8    \r\nEND\r\n", 'result written without the zeros');

# --- cas unique changes on incr ------------------------------------------------
send_bytes($s, "gets n\r\n");
my ($c1) = (read_line($s) // '') =~ /^VALUE n 5 2 (\d+)\r\n\z/;
read_bytes($s, 4 + 5);
send_expect($s, "incr n 1\r\n", "31\r\n", 'incr for cas');
send_bytes($s, "gets n\r\n");
my ($c2) = (read_line($s) // '') =~ /^VALUE n 5 2 (\d+)\r\n\z/;
read_bytes($s, 4 + 5);
ok(defined $c1 && defined $c2 && $c1 != $c2, 'incr gives the item a new cas unique');

# --- non-numeric values ---------------------------------------------------------
my $nonnum = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
for my $v ('abc', '12abc', '-5', '1.5', '', '18446744073709551616', '99999999999999999999') {
    my $len = length $v;
    send_expect($s, "set bad 0 0 $len\r\n$v\r\n", "STORED\r\n", "set bad = '$v'");
    send_expect($s, "incr bad 1\r\n", $nonnum, "incr on '$v' is refused");
    send_expect($s, "decr bad 1\r\n", $nonnum, "decr on '$v' is refused");
    mem_get_is($s, 'bad', $v, "'$v' left as it was");
}

# memcached reads a stored value up to a NUL or a blank; the rest is not looked at.
for my $v ("5\0abc", "5 abc", "\t 5\x0b") {
    my $len = length $v;
    send_expect($s, "set num 0 0 $len\r\n$v\r\n", "STORED\r\n", 'set num = ' . mc_escape($v));
    send_expect($s, "incr num 1\r\n", "6\r\n", 'incr on ' . mc_escape($v) . ' reads 5');
}

# --- invalid deltas ---------------------------------------------------------------
my $baddelta = "CLIENT_ERROR invalid numeric delta argument\r\n";
send_expect($s, "set n 0 0 2\r\n10\r\n", "STORED\r\n", 'set n = 10');
# 1.6.18 accepted "+1"; 1.6.45 refuses it.
for my $d ('abc', '-1', '1.5', '0x10', '+1', '18446744073709551616', '1a') {
    send_expect($s, "incr n $d\r\n", $baddelta, "incr by '$d' is refused");
    send_expect($s, "decr n $d\r\n", $baddelta, "decr by '$d' is refused");
}
mem_get_is($s, 'n', '10', 'n untouched by the refused deltas');
send_expect($s, "incr nope abc\r\n", $baddelta, 'bad delta is reported before NOT_FOUND');
# Too few tokens: 1.6.45 says CLIENT_ERROR (1.6.18 said ERROR).
send_expect($s, "incr n\r\n", "CLIENT_ERROR bad command line format\r\n", 'incr without delta');
send_expect($s, "decr\r\n", "CLIENT_ERROR bad command line format\r\n", 'decr without key');

# --- noreply ----------------------------------------------------------------------
send_bytes($s, "incr n 5 noreply\r\n");
expect_nothing($s, 200, 'incr noreply: no reply');
send_bytes($s, "decr n 2 noreply\r\n");
expect_nothing($s, 200, 'decr noreply: no reply');
send_expect($s, "get n\r\n", "VALUE n 0 2\r\n13\r\nEND\r\n", 'noreply incr/decr took effect');
send_bytes($s, "incr nope 1 noreply\r\n");
expect_nothing($s, 200, 'incr noreply on missing key: no reply');
send_expect($s, "incr n 1\r\n", "14\r\n", 'normal replies after noreply');

# --- stats ----------------------------------------------------------------------
my $st = mem_stats($s);
send_expect($s, "incr n 1\r\nincr nope 1\r\ndecr n 1\r\ndecr nope 1\r\ndecr nope 1\r\n",
            "15\r\nNOT_FOUND\r\n14\r\nNOT_FOUND\r\nNOT_FOUND\r\n", 'workload for stats');
my $st2 = mem_stats($s);
is($st2->{incr_hits} - $st->{incr_hits}, 1, 'incr_hits +1');
is($st2->{incr_misses} - $st->{incr_misses}, 1, 'incr_misses +1');
is($st2->{decr_hits} - $st->{decr_hits}, 1, 'decr_hits +1');
is($st2->{decr_misses} - $st->{decr_misses}, 2, 'decr_misses +2');

done_testing;
