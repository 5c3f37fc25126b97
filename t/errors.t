#!/usr/bin/perl
# Replies to malformed ASCII commands, and what the server does with the
# bytes that follow them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use McTest;

my $srv = start_server(args => '-m 64 -I 1m');
my $s = $srv->new_sock;
my $BAD = "CLIENT_ERROR bad command line format\r\n";

send_expect($s, "set k 0 0 1\r\nv\r\n", "STORED\r\n", 'k = v');
send_bytes($s, "version\r\n");
my $VLINE = read_line($s) // "VERSION ?\r\n";

# exchange($send, $expect, $name): on a new connection, sends $send and
# then "version"; expects $expect and then the VERSION line.  The trailing
# version shows the server is back in step after the error (no missing or
# extra replies, data blocks skipped or not as expected).
sub exchange {
    my ($send, $expect, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $c = $srv->new_sock;
    send_expect($c, $send . "version\r\n", $expect . $VLINE, $name, 2);
}

# --- too few tokens -----------------------------------------------------------------
# 1.6.18 answered these with ERROR; 1.6.45 with CLIENT_ERROR.
exchange("set\r\n", $BAD, 'set alone');
exchange("set k\r\n", $BAD, 'set with only a key');
exchange("set k 0 0\r\n", $BAD, 'set without a length');
exchange("add k 0\r\n", $BAD, 'add with two arguments');
exchange("cas k 0 0 1\r\nz\r\n", $BAD, 'cas without a unique (its data is skipped)');
mem_get_is($s, 'k', 'v', 'k untouched');

# --- non-numeric or out-of-range numbers --------------------------------------------
# When the length parses, 1.6.45 skips the data block that follows, so it
# is never read as a command (1.6.18 answered it with ERROR).
exchange("set k x 0 1\r\nz\r\n", $BAD, 'non-numeric flags');
exchange("set k 0 x 1\r\nz\r\n", $BAD, 'non-numeric exptime');
exchange("set k -1 0 1\r\nz\r\n", $BAD, 'negative flags');
exchange("set k 1x 0 1\r\nz\r\n", $BAD, 'flags with trailing junk');
exchange("cas k 0 0 1 abc\r\nz\r\n", $BAD, 'non-numeric cas unique');
mem_get_is($s, 'k', 'v', 'k untouched by the refused sets');
# When the length doesn't parse, the server can't know how much data
# follows: the next line is read as a command line (here: version).
exchange("set k 0 0 x\r\n", $BAD, 'non-numeric length');
exchange("set k 0 0 -1\r\n", $BAD, 'negative length');
exchange("set k 0 0 1x\r\n", $BAD, 'length with trailing junk');
exchange("set k 0 0 2147483648\r\n", $BAD, 'length over 2^31-1');
mem_get_is($s, 'k', 'v', 'k untouched');

# Accepted forms: leading zeros, extra spaces, and a trailing extra token.
send_expect($s, "set k 0 0 01\r\na\r\n", "STORED\r\n", 'length with a leading zero');
send_expect($s, "set  k  0  0  1\r\nb\r\n", "STORED\r\n", 'several spaces between tokens');
send_expect($s, "set k 0 0 1 extra\r\nc\r\n", "STORED\r\n", 'an extra token is ignored');
# (1.6.18 refused this one with ERROR.)
exchange("set k 0 0 1 noreply extra\r\nd\r\n", "STORED\r\n", 'noreply counts only as the last token');
mem_get_is($s, 'k', 'd', 'k = d');
# A leading space makes the command name empty: 1.6.45 says ERROR, then
# reads the data line as a (too short) command.  1.6.18 accepted it.
exchange(" set k 0 0 1\r\ne\r\n", "ERROR\r\n$BAD", 'leading space before the command');
mem_get_is($s, 'k', 'd', 'k untouched');

# Errors are silent under noreply.
exchange("set k x 0 1 noreply\r\nz\r\n", '', 'bad flags with noreply: no reply, data skipped');
# A bad data chunk under noreply is silent too; the byte left over after
# the declared block ("\n") is an empty line, and that one is answered
# (1.6.18: ERROR, as for any empty line).
exchange("set k 0 0 1 noreply\r\nzz\r\n", $BAD, 'bad chunk under noreply');
mem_get_is($s, 'k', 'd', 'k untouched');

# --- data after a bad command line is not a command ---------------------------------
# The data block here is itself a valid storage command; it must be skipped
# along with the refused set, not executed.
exchange("set k x 0 14\r\nset evil 0 0 1\r\nget evil\r\n", "${BAD}END\r\n",
         'data of a refused set is skipped, not run');
my $k251 = 'K' x 251;
exchange("set $k251 0 0 14\r\nset evil 0 0 1\r\nget evil\r\n", "${BAD}END\r\n",
         'same for a refused over-long key');
mem_get_is($s, 'evil', undef, 'evil never stored');

# --- keys with control characters ---------------------------------------------------
# The ASCII protocol splits on spaces only; other bytes, control characters
# included, are part of the key (1.6.18 refused NUL).
for my $key ("a\x01b", "tab\tkey", "del\x7f", "cr\rkey", "nul\0key") {
    my $shown = mc_escape($key);
    send_expect($s, "set $key 0 0 1\r\nc\r\n", "STORED\r\n", "set with key $shown");
    send_expect($s, "get $key\r\n", "VALUE $key 0 1\r\nc\r\nEND\r\n", "get with key $shown");
}
send_expect($s, "get a\r\n", "END\r\n", 'key "a" is not the same as "a\x01b"');

# --- unknown and empty command lines --------------------------------------------------
# A line shorter than 4 bytes with its newline can't be a command: 1.6.45
# says CLIENT_ERROR (1.6.18: ERROR).
exchange("\r\n", $BAD, 'empty line');
exchange("\n", $BAD, 'bare newline');
exchange("x\r\n", $BAD, 'one-byte line');
exchange("xy\r\n", "ERROR\r\n", 'two-byte unknown command');
exchange("foo\r\n", "ERROR\r\n", 'unknown command');
exchange("SET k 0 0 1\r\n", "ERROR\r\n", 'upper-case command');

# --- long lines -------------------------------------------------------------------------
# Until a newline arrives the server holds at most 2048 bytes of a command
# line; beyond that it closes the connection, unless the line starts with
# "get " or "gets " (multi-gets may be long).  part() makes sure the
# server has seen the first part on its own.
sub part {
    my ($c, $bytes) = @_;
    my $from = mem_stats($s)->{bytes_read};
    send_bytes($c, $bytes);
    ok(wait_bytes_read($s, $from, length $bytes), 'the server read the first ' . length($bytes) . ' bytes');
}
{
    my $c = $srv->new_sock;
    part($c, 'x' x 2048);
    send_expect($c, "\r\nversion\r\n", "ERROR\r\n", '2048 bytes without newline, then newline: ERROR');
    like(read_line($c) // '', qr/^VERSION /, 'connection still open');
}
{
    my $c = $srv->new_sock;
    send_bytes($c, 'x' x 2049);
    expect_closed($c, '2049 bytes of junk without newline: connection closed, no reply');
}
{
    my $c = $srv->new_sock;
    send_bytes($c, 'y' x 4096);
    expect_closed($c, '4 KB of junk without newline: closed');
}
{
    my $c = $srv->new_sock;
    send_bytes($c, ('z' x (100 * 1024)) . "\r\nversion\r\n");
    expect_closed($c, '100 KB line: closed');
}
{
    my $c = $srv->new_sock;
    part($c, "set " . join(' ', map { "key$_" } 1 .. 500));
    send_bytes($c, " 0 0 1\r\nz\r\n");
    expect_closed($c, 'a set line over 2 KB without newline: closed');
}
{
    my $c = $srv->new_sock;
    send_expect($c, "set key7 0 0 2\r\n77\r\n", "STORED\r\n", 'key7');
    my @keys = map { "key$_" } 1 .. 3000;
    my $line = "get " . join(' ', @keys);
    ok(length($line) > 16384, 'get line is over 16 KB');
    part($c, substr($line, 0, 3000));
    part($c, substr($line, 3000));
    send_expect($c, "\r\n", "VALUE key7 0 2\r\n77\r\nEND\r\n", 'a long multi-get sent in parts is answered');
    part($c, "gets " . join(' ', @keys));
    send_bytes($c, "\r\n");
    like(read_line($c) // '', qr/^VALUE key7 0 2 \d+\r\n\z/, 'same for gets');
    send_expect($c, '', "77\r\nEND\r\n", 'gets data and END');
}
{
    # The line as a whole arriving in one read is fine even past 2 KB.
    my $c = $srv->new_sock;
    send_expect($c, ('w' x 3000) . "\r\n", "ERROR\r\n", '3 KB junk line sent at once: ERROR');
}

# Leading spaces before a long line: at most 100 may come before "get ";
# more, or a line of spaces only, is garbage and closes the connection.
# 16,384 spaces fill the whole first read (once an out-of-bounds read).
{
    my $c = $srv->new_sock;
    send_bytes($c, ' ' x 16384);
    expect_closed($c, '16384 spaces without newline in one write: closed');
    my $d = $srv->new_sock;
    send_bytes($d, ' ' x 3000);
    expect_closed($d, '3000 spaces without newline: closed');
}
{
    my $c = $srv->new_sock;
    send_bytes($c, (' ' x 100) . 'get ' . join(' ', map { "key$_" } 1 .. 600));
    sleep 0.3;
    send_expect($c, "\r\n", "ERROR\r\n", '100 spaces then a long get: kept open (then ERROR for the leading space)');
    my $d = $srv->new_sock;
    send_bytes($d, (' ' x 101) . 'get ' . join(' ', map { "key$_" } 1 .. 600));
    expect_closed($d, '101 spaces then a long get: closed');
    my $e = $srv->new_sock;
    send_bytes($e, (' ' x 2100) . 'ge');
    expect_closed($e, 'spaces then a cut "get" at the end of the data: closed');
}
send_expect($s, "version\r\n", $VLINE, 'server still serves after the space floods');

# --- delete arguments ---------------------------------------------------------------------
# As memcached 1.6.18 (and libmemcached's memccapable) has it: an old hold
# time must be 0; more than two arguments is not a delete command.
# (1.6.45 ignores the arguments.)
my $DUSAGE = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
send_expect($s, "set dk 0 0 1\r\nx\r\n", "STORED\r\n", 'dk stored');
exchange("delete dk 5\r\n", $DUSAGE, 'delete with a non-zero time');
exchange("delete dk -1\r\n", $DUSAGE, 'delete with a negative time');
exchange("delete dk bar\r\n", $DUSAGE, 'delete with a word for a time');
exchange("delete dk 00\r\n", $DUSAGE, 'delete with "00" for a time');
exchange("delete dk 0 0\r\n", $DUSAGE, 'delete with two zeros');
exchange("delete dk noreply 0\r\n", $DUSAGE, 'delete with noreply before the time');
exchange("delete dk 0 bar\r\n", $DUSAGE, 'delete with a word after the time');
exchange("delete dk 5 noreply\r\n", '', 'delete with a non-zero time and noreply: silent');
exchange("delete a b c d e\r\n", "ERROR\r\n", 'delete with five arguments: ERROR');
mem_get_is($s, 'dk', 'x', 'dk still there after the refused deletes');
exchange("delete " . ('D' x 251) . " 5\r\n", $DUSAGE, 'argument check comes before the key length');
exchange("delete " . ('D' x 251) . " 0\r\n", $BAD, 'over-long key with a zero time');
exchange("delete dk 0\r\n", "DELETED\r\n", 'delete with time 0');
send_expect($s, "set dk 0 0 1\r\nx\r\n", "STORED\r\n", 'dk stored again');
exchange("delete dk 0 noreply\r\n", '', 'delete with time 0 and noreply');
mem_get_is($s, 'dk', undef, 'dk deleted');
send_expect($s, "set dk 0 0 1\r\nx\r\n", "STORED\r\n", 'dk stored again');
exchange("delete dk noreply\r\n", '', 'delete noreply: no reply');
mem_get_is($s, 'dk', undef, 'delete noreply deleted dk');
exchange("delete dk\r\n", "NOT_FOUND\r\n", 'delete of a missing key');

# --- HTTP ---------------------------------------------------------------------------------
{
    my $c = $srv->new_sock;
    send_bytes($c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_closed($c, 'an HTTP request line closes the connection');
}
{
    my $c = $srv->new_sock;
    send_expect($c, "get HTTP/1.0\r\n", "END\r\n", 'a get for a key that looks like HTTP is still a get');
}

send_expect($s, "get k\r\n", "VALUE k 0 1\r\nd\r\nEND\r\n", 'first connection fine at the end');

done_testing;
