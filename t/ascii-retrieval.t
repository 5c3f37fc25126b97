#!/usr/bin/perl
# ASCII retrieval: get, gets, touch, gat, gats.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

send_expect($s, "set k1 1 0 2\r\nv1\r\nset k2 2 0 3\r\nv22\r\nset k3 3 0 0\r\n\r\n",
            "STORED\r\nSTORED\r\nSTORED\r\n", 'three keys stored');

# --- get ----------------------------------------------------------------------
send_expect($s, "get k1\r\n", "VALUE k1 1 2\r\nv1\r\nEND\r\n", 'get one key');
send_expect($s, "get nope\r\n", "END\r\n", 'get missing key: just END');
send_expect($s, "get k1 k2 k3\r\n",
            "VALUE k1 1 2\r\nv1\r\nVALUE k2 2 3\r\nv22\r\nVALUE k3 3 0\r\n\r\nEND\r\n",
            'get three keys, in request order');
send_expect($s, "get k3 k2 k1\r\n",
            "VALUE k3 3 0\r\n\r\nVALUE k2 2 3\r\nv22\r\nVALUE k1 1 2\r\nv1\r\nEND\r\n",
            'order follows the request');
send_expect($s, "get m1 k2 m2 k1 m3\r\n",
            "VALUE k2 2 3\r\nv22\r\nVALUE k1 1 2\r\nv1\r\nEND\r\n",
            'missing keys are skipped silently');
send_expect($s, "get m1 m2 m3\r\n", "END\r\n", 'all keys missing');
send_expect($s, "get k1 k1 k2 k1\r\n",
            "VALUE k1 1 2\r\nv1\r\nVALUE k1 1 2\r\nv1\r\nVALUE k2 2 3\r\nv22\r\nVALUE k1 1 2\r\nv1\r\nEND\r\n",
            'repeated keys are answered each time');
send_expect($s, "get  k1   k2  \r\n", "VALUE k1 1 2\r\nv1\r\nVALUE k2 2 3\r\nv22\r\nEND\r\n",
            'extra spaces between keys are ignored');
send_expect($s, "get k1\n", "VALUE k1 1 2\r\nv1\r\nEND\r\n", 'a bare \n also ends a command line');

# Many keys in one command (line longer than 2 KB).
my @keys = map { "multi$_" } 1 .. 400;
send_bytes($s, join('', map { "set $_ 0 0 " . length($_) . " noreply\r\n$_\r\n" } @keys));
send_expect($s, "get " . join(' ', @keys) . "\r\n",
            join('', map { "VALUE $_ 0 " . length($_) . "\r\n$_\r\n" } @keys) . "END\r\n",
            'get with 400 keys');

# --- key length ---------------------------------------------------------------
my $k250 = 'K' x 250;
my $k251 = 'K' x 251;
send_expect($s, "set $k250 0 0 1\r\nx\r\n", "STORED\r\n", 'set with a 250-byte key');
send_expect($s, "get $k250\r\n", "VALUE $k250 0 1\r\nx\r\nEND\r\n", 'get with a 250-byte key');
# 1.6.45 ends this error with an extra empty line ("...format\r\n\r\n"): its
# get error path copies the reply line, CRLF included, then appends another
# CRLF.  1.6.18 sent the line once.  We follow 1.6.45.
send_expect($s, "get $k251\r\n", "CLIENT_ERROR bad command line format\r\n\r\n",
            'get with a 251-byte key');
send_expect($s, "get k1 $k251 k2\r\n", "CLIENT_ERROR bad command line format\r\n\r\n",
            'a 251-byte key in a multi-get fails the whole get (no VALUE lines)');
send_expect($s, "gets $k251\r\n", "CLIENT_ERROR bad command line format\r\n\r\n",
            'gets with a 251-byte key');
send_expect($s, "get k1\r\n", "VALUE k1 1 2\r\nv1\r\nEND\r\n", 'connection fine after key errors');
# No key at all: 1.6.45 says CLIENT_ERROR (1.6.18 said ERROR).
send_expect($s, "get\r\n", "CLIENT_ERROR bad command line format\r\n", 'get without a key');
send_expect($s, "gets\r\n", "CLIENT_ERROR bad command line format\r\n", 'gets without a key');

# --- gets -----------------------------------------------------------------------
send_bytes($s, "gets k1 nope k2\r\n");
my $l1 = read_line($s) // '';
like($l1, qr/^VALUE k1 1 2 \d+\r\n\z/, 'gets: first VALUE line has a cas unique');
is(read_bytes($s, 4), "v1\r\n", 'gets: first data');
my $l2 = read_line($s) // '';
like($l2, qr/^VALUE k2 2 3 \d+\r\n\z/, 'gets: second VALUE line has a cas unique');
is(read_bytes($s, 5), "v22\r\n", 'gets: second data');
is(read_line($s), "END\r\n", 'gets: END');
my ($c1) = $l1 =~ / (\d+)\r\n/;
my ($c2) = $l2 =~ / (\d+)\r\n/;
isnt($c1, $c2, 'different items have different uniques');
send_expect($s, "gets k1\r\n", "VALUE k1 1 2 $c1\r\nv1\r\nEND\r\n", 'gets again: same unique while unchanged');

# --- touch ----------------------------------------------------------------------
send_expect($s, "touch k1 100\r\n", "TOUCHED\r\n", 'touch existing key');
send_expect($s, "touch nope 100\r\n", "NOT_FOUND\r\n", 'touch missing key');
send_expect($s, "gets k1\r\n", "VALUE k1 1 2 $c1\r\nv1\r\nEND\r\n", 'touch keeps value, flags and unique');
send_bytes($s, "touch k1 0 noreply\r\n");
expect_nothing($s, 200, 'touch noreply: no reply');
send_bytes($s, "touch nope 0 noreply\r\n");
expect_nothing($s, 200, 'touch noreply on missing key: no reply');
send_expect($s, "touch k1 abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n", 'touch with bad exptime');
# 1.6.18 said ERROR here.
send_expect($s, "touch k1\r\n", "CLIENT_ERROR bad command line format\r\n", 'touch without exptime');
send_expect($s, "set tx 0 0 1\r\nx\r\n", "STORED\r\n", 'set tx');
send_expect($s, "touch tx -1\r\n", "TOUCHED\r\n", 'touch with negative exptime');
mem_get_is($s, 'tx', undef, 'negative touch expires the item');

# --- gat / gats -----------------------------------------------------------------
send_expect($s, "set g 5 0 2\r\ngg\r\n", "STORED\r\n", 'set g');
send_expect($s, "gat 100 g\r\n", "VALUE g 5 2\r\ngg\r\nEND\r\n", 'gat returns the value like get');
send_expect($s, "gat 100 nope\r\n", "END\r\n", 'gat missing key');
send_expect($s, "gat 0 g nope k1 g\r\n",
            "VALUE g 5 2\r\ngg\r\nVALUE k1 1 2\r\nv1\r\nVALUE g 5 2\r\ngg\r\nEND\r\n", 'gat with many keys');
send_bytes($s, "gets g\r\n");
my ($cg) = (read_line($s) // '') =~ /^VALUE g 5 2 (\d+)\r\n\z/;
read_bytes($s, 4 + 5);
ok(defined $cg, 'gets g gave a unique');
$cg //= 0;
send_expect($s, "gats 100 g\r\n", "VALUE g 5 2 $cg\r\ngg\r\nEND\r\n", 'gats returns the unique; touching keeps it');
send_expect($s, "gats 100 g nope\r\n", "VALUE g 5 2 $cg\r\ngg\r\nEND\r\n", 'gats with a missing key');
send_expect($s, "gat -1 g\r\n", "VALUE g 5 2\r\ngg\r\nEND\r\n", 'gat with negative exptime still returns the value');
mem_get_is($s, 'g', undef, 'then the item is gone');
send_expect($s, "gat abc k1\r\n", "CLIENT_ERROR invalid exptime argument\r\n", 'gat with bad exptime');
# 1.6.18 answered "gat 10" with END and "gats" with ERROR.
send_expect($s, "gat 10\r\n", "CLIENT_ERROR bad command line format\r\n", 'gat without keys');
send_expect($s, "gats\r\n", "CLIENT_ERROR bad command line format\r\n", 'gats without arguments');
send_expect($s, "gat 10 $k251\r\n", "CLIENT_ERROR bad command line format\r\n\r\n", 'gat with a 251-byte key');
mem_get_is($s, 'k1', 'v1', 'k1 still there at the end');

# A get with an over-long key, pipelined: memcached drops every reply
# queued since the last flush (this read's earlier requests), answers the
# error with an extra empty line, then goes on with the requests after it.
# "mn" is a flush point: replies before it are kept.
{
    my $c = $srv->new_sock;
    send_expect($c, "set k25 0 0 2\r\nv1\r\nget $k251\r\nget k25\r\n",
                "CLIENT_ERROR bad command line format\r\n\r\nVALUE k25 0 2\r\nv1\r\nEND\r\n",
                'set, get of a 251-byte key, get in one write: the STORED is dropped');
    mem_get_is($c, 'k25', 'v1', 'the set was done all the same');
    send_bytes($c, "get $k251\r\nget $k251\r\nversion\r\n");
    is(mc_escape(read_line($c) // ''), mc_escape("CLIENT_ERROR bad command line format\r\n"),
       'two such gets in one write: one error ...');
    is(mc_escape(read_line($c) // ''), '\r\n', '... its empty line ...');
    like(read_line($c) // '', qr/^VERSION /, '... then the version');
    send_bytes($c, "version\r\nmn\r\nget k25 $k251\r\nmn\r\n");
    like(read_line($c) // '', qr/^VERSION /, 'replies before an mn are kept');
    send_expect($c, '', "MN\r\nCLIENT_ERROR bad command line format\r\n\r\nMN\r\n",
                '... and the error follows the mn');
}

# get_hits/misses and touch stats move as expected for gat.
my $st = mem_stats($s);
send_expect($s, "gat 0 k1 nope\r\n", "VALUE k1 1 2\r\nv1\r\nEND\r\n", 'gat for stats');
my $st2 = mem_stats($s);
is($st2->{cmd_touch} - $st->{cmd_touch}, 2, 'gat counts one cmd_touch per key');
is($st2->{touch_hits} - $st->{touch_hits}, 1, 'gat: one touch hit');
is($st2->{touch_misses} - $st->{touch_misses}, 1, 'gat: one touch miss');

done_testing;
