#!/usr/bin/perl
# Meta delete (md): plain deletes, CAS compare (C), invalidation that keeps
# a stale item for stale-while-revalidate (I, with T), removing only the
# value (x), explicit CAS (E), return flags, quiet mode and errors.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

# --- plain deletes ------------------------------------------------------------------
send_expect($s, "ms d1 3\r\nabc\r\n", "HD\r\n", 'store d1');
send_expect($s, "md d1\r\n", "HD\r\n", 'md: HD');
send_expect($s, "mg d1\r\n", "EN\r\n", 'gone');
send_expect($s, "md d1\r\n", "NF\r\n", 'md on a missing key: NF');
send_expect($s, "md d1 k O5\r\n", "NF kd1 O5\r\n", 'NF with key and opaque');
send_expect($s, "md d1 O5 k\r\n", "NF O5 kd1\r\n", '... in the order asked');
send_expect($s, "ms d1 3\r\nabc\r\nmd d1 k O5 c s t f v\r\n", "HD\r\nHD kd1 O5\r\n",
            'HD with key and opaque; flags md has no answer for are silent');
send_expect($s, "ms d1 3\r\nabc\r\nmd d1 q\r\nmd d1 q\r\nmn\r\n", "HD\r\nNF\r\nMN\r\n",
            'q hides HD, not NF');
send_expect($s, "ms d2 1\r\nx\r\nmd d2 T30\r\nmg d2\r\n", "HD\r\nHD\r\nEN\r\n",
            'T without I: a plain delete');
send_expect($s, "ms d3 1\r\nx\r\nmd d3 E999\r\nmg d3\r\n", "HD\r\nHD\r\nEN\r\n",
            'E without I or x: a plain delete');

# --- C --------------------------------------------------------------------------------
send_expect($s, "ms c1 3\r\nabc\r\n", "HD\r\n", 'store c1');
my $cas = cas_of($s, 'c1');
send_expect($s, "md c1 C" . ($cas + 1000) . "\r\n", "EX\r\n", 'C mismatch: EX');
send_expect($s, "md c1 C" . ($cas + 1000) . " q\r\nmn\r\n", "EX\r\nMN\r\n", 'q shows EX');
send_expect($s, "md c1 C0\r\n", "EX\r\n", 'C0 compares with 0: EX');
send_expect($s, "mg c1 v\r\n", "VA 3\r\nabc\r\n", 'still there');
send_expect($s, "md c1 C$cas\r\n", "HD\r\n", 'C matching: deleted');
send_expect($s, "md c1 C$cas\r\n", "NF\r\n", 'then NF');

# --- I: invalidate -------------------------------------------------------------------------
send_expect($s, "ms st 3 T100 F7\r\nold\r\n", "HD\r\n", 'store st');
$cas = cas_of($s, 'st');
send_expect($s, "md st I\r\n", "HD\r\n", 'md I: HD');
my $cas2 = cas_of($s, 'st');
isnt($cas2, $cas, 'invalidation gives a new CAS');
line_like($s, "mg st v c f t\r\n", qr/^VA 3 c$cas2 f7 t(99|100) X W\\r\\n\z/,
          'the item stays, stale (X), value, flags and TTL kept; the first reader wins');
read_bytes($s, 5);
send_expect($s, "mg st\r\n", "HD Z X\r\n", 'the next reader: Z X');
send_expect($s, "md st I T30\r\n", "HD\r\n", 'invalidate again, with T');
line_like($s, "mg st t\r\n", qr/^HD t(29|30) X W\\r\\n\z/,
          'T set the TTL; a new invalidation hands out a new win');
send_expect($s, "md st I E777\r\n", "HD\r\n", 'I with E');
send_expect($s, "mg st c\r\n", "HD c777 X W\r\n", 'E gave the CAS');
send_expect($s, "md st I C1\r\n", "EX\r\n", 'I with a wrong C: EX');
send_expect($s, "md st I C777 q\r\nmn\r\n", "MN\r\n", 'I with the right C; q hides HD');
send_expect($s, "ms st 3\r\nnew\r\nmg st v\r\n", "HD\r\nVA 3\r\nnew\r\n", 'a store makes it fresh');
send_expect($s, "md nost I\r\n", "NF\r\n", 'I on a missing key: NF');

# --- x: remove the value only ---------------------------------------------------------------
send_expect($s, "ms x1 3 T100 F7\r\nabc\r\n", "HD\r\n", 'store x1');
$cas = cas_of($s, 'x1');
send_expect($s, "md x1 x\r\n", "HD\r\n", 'md x: HD');
send_expect($s, "mg x1 v c f t\r\n", "VA 0 c$cas f0 t-1\r\n\r\n",
            'the key stays with an empty value, flags 0, no TTL, the same CAS');
send_expect($s, "md x1 x E999\r\nmg x1 c\r\n", "HD\r\nHD c999\r\n", 'x with E');
send_expect($s, "ms x2 3 T100\r\nabc\r\n", "HD\r\n", 'store x2');
send_expect($s, "md x2 x I\r\n", "HD\r\n", 'md x I');
line_like($s, "mg x2 v t\r\n", qr/^VA 0 t-1 X W\\r\\n\z/, 'empty, stale, no TTL (a tombstone)');
read_bytes($s, 2);
send_expect($s, "ms x3 3 T100\r\nabc\r\nmd x3 x I T30\r\n", "HD\r\nHD\r\n", 'md x I T30');
line_like($s, "mg x3 t\r\n", qr/^HD t(29|30) X W\\r\\n\z/, 'T applies with I');
send_expect($s, "ms x4 1\r\n1\r\nmd x4 I\r\nmd x4 x\r\nmg x4 v\r\n", "HD\r\nHD\r\nHD\r\nVA 0\r\n\r\n",
            'x without I on a stale item: fresh and empty');
send_expect($s, "ms x5 1 T50\r\n1\r\nmd x5 x T100\r\n", "HD\r\nHD\r\n", 'md x T100 (no I)');
line_like($s, "mg x5 t\r\n", qr/^HD t(99|100)\\r\\n\z/, 'T applies to the emptied item with x alone too');
send_expect($s, "ms x6 1\r\n1\r\nmd x6 I E0\r\nmg x6 c\r\n", "HD\r\nHD\r\nHD c0 X W\r\n",
            'E0 is a CAS of 0 for md');
send_expect($s, "md nox x\r\n", "NF\r\n", 'x on a missing key: NF');

# --- base64 keys ---------------------------------------------------------------------------------
send_expect($s, "ms Zm9v 2\r\nhi\r\n", "HD\r\n", 'store "Zm9v" (plain)');
send_expect($s, "ms foo 2\r\nhi\r\n", "HD\r\n", 'store "foo"');
send_expect($s, "md Zm9v b O1 k\r\n", "HD O1 kZm9v b\r\n", 'b: deletes the decoded key "foo"');
send_expect($s, "mg foo\r\nmg Zm9v\r\n", "EN\r\nHD\r\n", '... and only that one');
send_expect($s, "md Zh== b k\r\n", "NF kZg== b\r\n", 'the key is re-encoded from its bytes');
send_expect($s, "md Zm9 b\r\n", "CLIENT_ERROR error decoding key\r\n", 'invalid base64');

# --- errors --------------------------------------------------------------------------------------
my $FMT = "CLIENT_ERROR bad command line format\r\n";
send_expect($s, "md\r\n", $FMT, 'md without a key');
send_expect($s, 'md ' . ('a' x 251) . "\r\n", $FMT, 'a 251-byte key');
send_expect($s, "md foo z\r\n", "CLIENT_ERROR invalid flag\r\n", 'unknown flag');
send_expect($s, "md foo q q\r\n", "CLIENT_ERROR duplicate flag\r\n", 'duplicate flag');
send_expect($s, "md foo !\r\n", $FMT, 'a malformed flag');
send_expect($s, "md foo T\r\n", "CLIENT_ERROR bad token in command line format\r\n", 'bad T');
send_expect($s, "md foo C\r\n", "CLIENT_ERROR bad token in command line format\r\n", 'bad C');
send_expect($s, "ms op 1\r\n1\r\nmd op O12345678901234567890123456789012\r\n",
            "HD\r\nCLIENT_ERROR opaque token too long\r\n", 'a 32-byte opaque');
send_expect($s, "mg op v\r\n", "VA 1\r\n1\r\n", '... refused before deleting');
send_expect($s, "md foo v s t c f h l k O1 u P L x I D1 J1 M1 N1\r\n", "NF kfoo O1\r\n",
            '18 flags are fine');
send_expect($s, "md foo v s t c f h l k O1 u P L x I D1 J1 M1 N1 R1\r\n",
            "CLIENT_ERROR options flags are too long\r\n", '19 are too many');

# --- stats -------------------------------------------------------------------------------------
send_expect($s, "ms sa 1\r\n1\r\nms sb 1\r\n1\r\nms sc 1\r\n1\r\nms sd 1\r\n1\r\n",
            "HD\r\n" x 4, 'keys for the stats');
my $st0 = mem_stats($s);
send_bytes($s, "md sa\r\n"            # hit
             . "md nosuch\r\n"        # miss
             . "md sb C1\r\n"         # EX: counted as a miss
             . "md sc I\r\n"          # invalidation: neither
             . "md sd x\r\n"          # value removed: a hit
             . "md sd x I\r\n"        # tombstone: neither
             . "mn\r\n");
read_line($s) for 1 .. 7;
my $st1 = mem_stats($s);
my %d = map { $_ => $st1->{$_} - $st0->{$_} } qw(delete_hits delete_misses);
is_deeply(\%d, { delete_hits => 2, delete_misses => 2 }, 'md counts delete hits and misses as memcached does');

done_testing;
