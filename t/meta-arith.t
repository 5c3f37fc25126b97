#!/usr/bin/perl
# Meta arithmetic (ma): incr and decr modes (M), delta (D), autovivify with
# an initial value (N, J), TTL (t, T), CAS (c, C, E), return flags, quiet
# mode, and errors (ma reports every malformed flag as "invalid or
# duplicate flag").
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

my $BADFLAG = "CLIENT_ERROR invalid or duplicate flag\r\n";

# --- misses and autovivify ---------------------------------------------------------
send_expect($s, "ma a1\r\n", "NF\r\n", 'ma on a missing key: NF');
send_expect($s, "ma a1 q\r\nmn\r\n", "NF\r\nMN\r\n", 'q shows NF');
send_expect($s, "ma a1 O1 k c t v\r\n", "NF O1 ka1\r\n", 'NF: only opaque and key come back');
send_expect($s, "ma a1 J100 v\r\n", "NF\r\n", 'J alone creates nothing');
send_expect($s, "ma a1 N0\r\n", "HD\r\n", 'N0: created (no TTL)');
send_expect($s, "mg a1 v t\r\n", "VA 1 t-1\r\n0\r\n", 'holding 0: the delta is not applied');
line_like($s, "ma a2 N30 J100 v t k O1\r\n", qr/^VA 3 t(29|30) ka2 O1\\r\\n\z/,
          'N30 J100: created with 100 and a 30 s TTL');
is(read_bytes($s, 5), "100\r\n", '... the value');
line_like($s, "ma a2 N30 J100 v t\r\n", qr/^VA 3 t(29|30)\\r\\n\z/, 'then an ordinary incr');
is(read_bytes($s, 5), "101\r\n", '... now 101');
send_expect($s, "ma a3 N0 J100 MD v\r\n", "VA 3\r\n100\r\n", 'decr mode creates with J too');
send_expect($s, "ma a4 N0 E555 c\r\n", "HD c555\r\n", 'E: CAS of the created key');
send_expect($s, "ma a5 t N30 T60\r\n", "HD t-1\r\n", 't before N and T: no TTL yet');
line_like($s, "mg a5 t\r\n", qr/^HD t(59|60)\\r\\n\z/, '... T, last, won');
send_expect($s, "ma a6 T60 N30\r\n", "HD\r\n", 'T then N');
line_like($s, "mg a6 t\r\n", qr/^HD t(29|30)\\r\\n\z/, '... N, last, won');

# --- incr, decr, modes, delta ----------------------------------------------------------------
send_expect($s, "ms n 1\r\n5\r\n", "HD\r\n", 'n = 5');
send_expect($s, "ma n\r\n", "HD\r\n", 'ma: HD');
send_expect($s, "ma n v\r\n", "VA 1\r\n7\r\n", 'v: the new value (default delta 1)');
send_expect($s, "ma n v D10\r\n", "VA 2\r\n17\r\n", 'D10');
send_expect($s, "ma n v MD D3\r\n", "VA 2\r\n14\r\n", 'MD: decrement');
send_expect($s, "ma n v M- D4\r\n", "VA 2\r\n10\r\n", 'M-: decrement');
send_expect($s, "ma n v M+ D5\r\n", "VA 2\r\n15\r\n", 'M+: increment');
send_expect($s, "ma n v MI\r\n", "VA 2\r\n16\r\n", 'MI: increment');
send_expect($s, "ma n v MD D100\r\n", "VA 1\r\n0\r\n", 'decr stops at 0');
send_expect($s, "ma n v D18446744073709551615\r\n", "VA 20\r\n18446744073709551615\r\n",
            'the largest delta');
send_expect($s, "ma n v D2\r\n", "VA 1\r\n1\r\n", 'incr wraps at 2^64');
for my $mode ('', 'i', 'd', 'X', 'S') {
    send_expect($s, "ma n v M$mode\r\n", "CLIENT_ERROR invalid mode for ma M token\r\n",
                "invalid mode 'M$mode'");
}

# The stored text: a shorter result is padded in place, as with incr.
send_expect($s, "ms p 3\r\n100\r\nma p MD v\r\n", "HD\r\nVA 2\r\n99\r\n", '100 - 1 = 99');
send_expect($s, "mg p v s\r\n", "VA 3 s3\r\n99 \r\n", 'stored as "99 " (padded to 3 bytes)');
send_expect($s, "ma p v\r\nmg p v\r\n", "VA 3\r\n100\r\nVA 3\r\n100\r\n", 'back to 100');
send_expect($s, "ms p 2\r\n99\r\nma p v\r\nmg p v\r\n", "HD\r\nVA 3\r\n100\r\nVA 3\r\n100\r\n",
            'a longer result grows the value');
send_expect($s, "ms p 3\r\n 12\r\nma p v\r\n", "HD\r\nVA 2\r\n13\r\n", 'leading spaces are fine');

# --- non-numeric values -----------------------------------------------------------------------
my $NONNUM = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
send_expect($s, "ms t1 3\r\nabc\r\nma t1\r\n", "HD\r\n$NONNUM", 'a text value');
send_expect($s, "ma t1 q\r\n", $NONNUM, 'q does not hide it');
send_expect($s, "ma t1 N0 v\r\n", $NONNUM, 'N does not help');
send_expect($s, "ms t2 0\r\n\r\nma t2\r\n", "HD\r\n$NONNUM", 'an empty value');
send_expect($s, "ms t3 20\r\n18446744073709551616\r\nma t3\r\n", "HD\r\n$NONNUM", '2^64');
send_expect($s, "ms t4 2\r\n-5\r\nma t4\r\n", "HD\r\n$NONNUM", 'a negative number');
# The value is read as strtoull reads it: a number ends at white space,
# and what follows is not looked at.
send_expect($s, "ms n1 5\r\n5 abc\r\nma n1 v\r\n", "HD\r\nVA 1\r\n6\r\n", '"5 abc" counts as 5');
send_expect($s, "mg n1 v\r\n", "VA 5\r\n6    \r\n", '... and is rewritten in place, padded');
send_expect($s, "ms n2 2\r\n+5\r\nma n2 v\r\n", "HD\r\nVA 1\r\n6\r\n", '"+5" counts as 5');
send_expect($s, "ms n3 2\r\n-0\r\nma n3 v\r\n", "HD\r\nVA 1\r\n1\r\n", '"-0" counts as 0');
send_expect($s, "ms n4 2\r\n\t5\r\nma n4 v\r\n", "HD\r\nVA 1\r\n6\r\n", 'a leading tab');
# An empty value is refused before the CAS is compared; any other value after.
send_expect($s, "ms t2 0\r\n\r\nma t2 C1\r\n", "HD\r\n$NONNUM", 'empty value with a wrong C: non-numeric');
send_expect($s, "ma t1 C1\r\n", "EX\r\n", 'text value with a wrong C: EX');

# --- TTL ---------------------------------------------------------------------------------------
send_expect($s, "ms tt 2 T100\r\n10\r\n", "HD\r\n", 'tt = 10, T100');
line_like($s, "ma tt t T50 v\r\n", qr/^VA 2 t(99|100)\\r\\n\z/, 't before T: the old TTL');
is(read_bytes($s, 4), "11\r\n", '... now 11');
line_like($s, "ma tt T20 t v\r\n", qr/^VA 2 t(19|20)\\r\\n\z/, 'T before t: the new TTL');
is(read_bytes($s, 4), "12\r\n", '... now 12');
send_expect($s, "ms tt2 1\r\n1\r\nma tt2 t\r\n", "HD\r\nHD t-1\r\n", 'no TTL: t-1');
send_expect($s, "ma tt2 T0 N30 t\r\n", "HD t-1\r\n", 'N changes nothing on a hit');

# --- CAS ------------------------------------------------------------------------------------------
send_expect($s, "ms c1 2\r\n10\r\n", "HD\r\n", 'c1 = 10');
my $cas = cas_of($s, 'c1');
send_expect($s, "ma c1 C" . ($cas + 1000) . " v\r\n", "EX\r\n", 'C mismatch: EX');
send_expect($s, "ma c1 C" . ($cas + 1000) . " q O1 k c t\r\n", "EX O1 kc1\r\n",
            'q shows EX, with opaque and key only');
line_like($s, "ma c1 C$cas c v\r\n", qr/^VA 2 c(\d+)\\r\\n\z/, 'C matching: applied');
is(read_bytes($s, 4), "11\r\n", '... now 11');
my $cas2 = cas_of($s, 'c1');
isnt($cas2, $cas, 'a new CAS after the change');
send_expect($s, "ma c1 C$cas v\r\n", "EX\r\n", 'the old CAS no longer matches');
send_expect($s, "ma c1 C0 v\r\n", "VA 2\r\n12\r\n", 'C0: no check');
send_expect($s, "ma c1 E5555 c v\r\n", "VA 2 c5555\r\n13\r\n", 'E gives the new CAS');
send_expect($s, "ma c1 C5555 E5556 c\r\n", "HD c5556\r\n", 'C and E together');
send_expect($s, "ma c1 E0 c\r\n", "HD c0\r\n", 'E0 is a CAS of 0 for ma');

# --- q, k, O, b ---------------------------------------------------------------------------------
send_expect($s, "ms q1 1\r\n1\r\nma q1 q\r\nma q1 q v\r\nmn\r\nmg q1 v\r\n",
            "HD\r\nMN\r\nVA 1\r\n3\r\n", 'q hides HD and VA (the value changed twice)');
send_expect($s, "ma q1 O9 k v s f h l u x\r\n", "VA 1 O9 kq1\r\n4\r\n",
            'opaque and key come back; flags ma has no answer for are silent');
send_expect($s, "ma cTE= b k v\r\n", "VA 1 kcTE= b\r\n5\r\n", 'b: key "q1" in base64; k answers in base64');
send_expect($s, "ma Zh== b k\r\n", "NF kZg== b\r\n", 'the key is re-encoded from its bytes');
send_expect($s, "ma Zm9 b\r\n", $BADFLAG, 'invalid base64: "invalid or duplicate flag"');

# --- errors -----------------------------------------------------------------------------------------
send_expect($s, "ma\r\n", "CLIENT_ERROR bad command line format\r\n", 'ma without a key');
send_expect($s, "ma n !\r\n", "CLIENT_ERROR bad command line format\r\n", 'a malformed flag');
send_expect($s, 'ma ' . ('a' x 251) . "\r\n", $BADFLAG, 'a 251-byte key');
send_expect($s, "ma n z\r\n", $BADFLAG, 'unknown flag');
send_expect($s, "ma n v v\r\n", $BADFLAG, 'duplicate flag');
send_expect($s, "ma n O1 O2\r\n", $BADFLAG, 'duplicate opaque');
for my $bad ('D', 'D-1', 'D+1', 'Dabc', 'D18446744073709551616', 'J-1', 'N', 'N2147483648',
             'T', 'Tx', 'C-1', 'E', 'F') {
    send_expect($s, "ma n $bad\r\n", $BADFLAG, "bad number: $bad");
}
send_expect($s, "ma n MX Tx\r\n", $BADFLAG, 'a bad flag beats a bad mode');
send_expect($s, "ma n " . join(' ', qw(v k c t O1 D1 J1 N1 T1 M+ E1 P L I f h l s u)) . "\r\n",
            $BADFLAG, '19 flags: too many');
send_expect($s, "ma n MX O12345678901234567890123456789012\r\n",
            "CLIENT_ERROR invalid mode for ma M token\r\n", 'a bad mode beats a long opaque');
send_expect($s, "ms o 1\r\n5\r\nma o O12345678901234567890123456789012\r\n",
            "HD\r\nCLIENT_ERROR opaque token too long\r\n", 'a 32-byte opaque');
send_expect($s, "mg o v\r\n", "VA 1\r\n6\r\n", '... memcached finds that out after the incr');

# --- stats --------------------------------------------------------------------------------------------
send_expect($s, "ms s1 1\r\n5\r\n", "HD\r\n", 's1 = 5');
my $st0 = mem_stats($s);
send_bytes($s, "ma s1\r\n"            # incr hit
             . "ma s1 MD\r\n"         # decr hit
             . "ma nos\r\n"           # incr miss
             . "ma nos MD\r\n"        # decr miss
             . "ma nos2 N0\r\n"       # created: neither
             . "ma s1 C1\r\n"         # EX: neither
             . "mn\r\n");
read_line($s) for 1 .. 7;
my $st1 = mem_stats($s);
my %d = map { $_ => $st1->{$_} - $st0->{$_} } qw(incr_hits incr_misses decr_hits decr_misses);
is_deeply(\%d, { incr_hits => 1, incr_misses => 1, decr_hits => 1, decr_misses => 1 },
          'ma counts incr and decr hits and misses');

done_testing;
