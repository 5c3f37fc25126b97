#!/usr/bin/perl
# Meta set (ms): modes (M), CAS compare (C), explicit CAS (E), invalidation
# (I), append autovivify (N), client flags and TTL (F, T), return flags,
# base64 keys, and which malformed requests skip their data block and which
# cannot (the data is then read as commands, as memcached does).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

# --- basics ---------------------------------------------------------------------
send_expect($s, "ms foo 2\r\nhi\r\n", "HD\r\n", 'ms stores: HD');
send_expect($s, "mg foo v f t\r\n", "VA 2 f0 t-1\r\nhi\r\n", 'flags 0 and no TTL by default');
send_expect($s, "ms foo 3 F77 T100\r\nabc\r\n", "HD\r\n", 'F and T');
line_like($s, "mg foo v f t\r\n", qr/^VA 3 f77 t(99|100)\\r\\n\z/, 'flags and TTL stored');
read_bytes($s, 5);
my $cas;
line_like($s, "ms foo 2 O9 k c s\r\nhi\r\n", qr/^HD O9 kfoo c(\d+) s2\\r\\n\z/,
          'O, k, c and s come back in the order asked');
my $newcas = cas_of($s, 'foo');
line_like($s, "ms foo 2 c\r\nhi\r\n", qr/^HD c(?!$newcas\\)\d+\\r\\n\z/, 'every store gets a new CAS');
line_like($s, "ms foo 2 s t f h l v u x k\r\nhi\r\n", qr/^HD s2 kfoo\\r\\n\z/,
          'flags ms has no answer for are accepted and silent');
send_bytes($s, "ms foo 2 q\r\nhi\r\n");
send_expect($s, "mn\r\n", "MN\r\n", 'q hides HD');
send_expect($s, "ms empty 0\r\n\r\nmg empty v\r\n", "HD\r\nVA 0\r\n\r\n", 'an empty value');
send_expect($s, "ms bin 4\r\n\r\n\0\n\r\nmg bin v\r\n", "HD\r\nVA 4\r\n\r\n\0\n\r\n",
            'values are binary-safe');
send_expect($s, "ms zeros 00002\r\nhi\r\n", "HD\r\n", 'leading zeros in the length');
send_expect($s, "ms neg0 -0\r\n\r\nmg neg0 s\r\n", "HD\r\nHD s0\r\n", '"-0" is a length of 0');
send_expect($s, "ms sp  2  T0 \r\nhi\r\n", "HD\r\n", 'extra spaces between tokens');

# --- modes ---------------------------------------------------------------------------
send_expect($s, "ms m1 3 MS\r\nabc\r\n", "HD\r\n", 'MS: set');
send_expect($s, "ms m1 3 ME c s k\r\nxyz\r\n", "NS c0 s3 km1\r\n", 'ME on an existing key: NS, c0');
send_expect($s, "ms m2 3 ME\r\nxyz\r\n", "HD\r\n", 'ME on a missing key: added');
send_expect($s, "ms m1 2 MA s\r\nde\r\n", "HD s5\r\n", 'MA appends; s is the new size');
send_expect($s, "ms m1 2 MP s\r\n01\r\n", "HD s7\r\n", 'MP prepends');
send_expect($s, "mg m1 v\r\n", "VA 7\r\n01abcde\r\n", 'joined value');
send_expect($s, "ms m3 2 MA c s\r\nde\r\n", "NS c0 s2\r\n", 'MA on a missing key: NS');
send_expect($s, "ms m3 2 MP\r\nde\r\n", "NS\r\n", 'MP on a missing key: NS');
send_expect($s, "ms m3 2 MR\r\nde\r\n", "NS\r\n", 'MR on a missing key: NS');
send_expect($s, "ms m1 2 MR F5\r\nde\r\n", "HD\r\n", 'MR on an existing key');
send_expect($s, "mg m1 v f\r\n", "VA 2 f5\r\nde\r\n", 'replaced, with the new flags');
send_expect($s, "ms m1 2 MSX\r\nzz\r\n", "HD\r\n", 'only the byte after M counts');
for my $mode ('', 'X', 's', 'e', 'a', 'p', 'r', '1') {
    send_expect($s, "ms m1 2 M$mode\r\nzz\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n",
                "invalid mode 'M$mode' (data skipped)");
}
send_expect($s, "ms ap 2 T100 F3\r\n12\r\nms ap 2 MA F9 T5\r\n34\r\n", "HD\r\nHD\r\n",
            'append ignores F and T');
line_like($s, "mg ap v f t\r\n", qr/^VA 4 f3 t(99|100)\\r\\n\z/, '... the old flags and TTL stay');
read_bytes($s, 6);

# --- N: append autovivify -----------------------------------------------------------------
send_expect($s, "ms av 2 MA N30 F4\r\n12\r\n", "HD\r\n", 'MA N30 on a miss: created');
line_like($s, "mg av v t f\r\n", qr/^VA 2 t(29|30) f4\\r\\n\z/, 'with N\'s TTL and F\'s flags');
read_bytes($s, 4);
send_expect($s, "ms av 2 MA N30\r\n34\r\nmg av v\r\n", "HD\r\nVA 4\r\n1234\r\n",
            'MA N on a hit appends');
send_expect($s, "ms av2 2 MP N30 T5\r\n12\r\n", "HD\r\n", 'MP N on a miss');
line_like($s, "mg av2 t\r\n", qr/^HD t(29|30)\\r\\n\z/, 'N\'s TTL, not T\'s');
send_expect($s, "ms av3 2 MS N30\r\n12\r\nmg av3 t\r\n", "HD\r\nHD t-1\r\n", 'N means nothing to a set');
send_expect($s, "ms av4 2 MR N30\r\n12\r\n", "NS\r\n", '... or to a replace');

# --- C: compare and swap --------------------------------------------------------------------
send_expect($s, "ms c1 3\r\nabc\r\n", "HD\r\n", 'store c1');
$cas = cas_of($s, 'c1');
send_expect($s, "ms c1 3 C" . ($cas + 1000) . " c\r\nxyz\r\n", "EX c0\r\n", 'C mismatch: EX');
send_bytes($s, "ms c1 3 C" . ($cas + 1000) . " q\r\nxyz\r\n");
send_expect($s, "mn\r\n", "EX\r\nMN\r\n", 'q shows EX');
send_expect($s, "ms c9 3 C1 c\r\nxyz\r\n", "NF c0\r\n", 'C on a missing key: NF');
send_expect($s, "ms c1 3 C$cas\r\nxyz\r\n", "HD\r\n", 'C matching: stored');
send_expect($s, "ms c1 3 C$cas\r\nxyz\r\n", "EX\r\n", 'the same C again: EX');
send_expect($s, "ms c1 3 C0\r\nxyz\r\n", "EX\r\n", 'C0 compares with 0: EX');
send_expect($s, "ms c9 3 C0\r\nxyz\r\n", "NF\r\n", 'C0 on a missing key: NF');
$cas = cas_of($s, 'c1');
send_expect($s, "ms c1 2 MA C" . ($cas + 1) . "\r\n12\r\n", "EX\r\n", 'MA with a wrong C: EX');
send_expect($s, "ms c1 2 MA C$cas\r\n12\r\n", "HD\r\n", 'MA with the right C: appended');
send_expect($s, "ms c1 2 MA C0\r\n34\r\n", "HD\r\n", 'MA with C0: no check');
send_expect($s, "ms c9 2 MA C5\r\n12\r\n", "NS\r\n", 'MA with C on a missing key: NS');
send_expect($s, "ms c9 2 MR C5\r\n12\r\n", "NF\r\n", 'MR with C is a CAS: NF on a miss');
$cas = cas_of($s, 'c1');
send_expect($s, "ms c1 2 MR C" . ($cas + 1) . "\r\n12\r\n", "EX\r\n", 'MR with a wrong C: EX');
send_expect($s, "ms c1 2 MR C$cas\r\n12\r\n", "HD\r\n", 'MR with the right C: stored');
$cas = cas_of($s, 'c1');
send_expect($s, "ms c1 2 ME C$cas\r\n12\r\n", "NS\r\n", 'ME with C on a hit: NS');
send_expect($s, "ms c8 2 ME C5\r\n12\r\n", "HD\r\n", 'ME with C on a miss: added');

# --- E: explicit CAS -----------------------------------------------------------------------
send_expect($s, "ms e1 3 E5000 c\r\nabc\r\n", "HD c5000\r\n", 'E sets the CAS');
send_expect($s, "mg e1 c\r\n", "HD c5000\r\n", '... as stored');
send_expect($s, "ms e1 3 C5000 E6000 c\r\nxyz\r\n", "HD c6000\r\n", 'C then a new E');
send_expect($s, "ms e1 2 MA E7000 c\r\n12\r\n", "HD c7000\r\n", 'E with append');
send_expect($s, "ms e1 2 MA C6000 c\r\n12\r\n", "EX c0\r\n", 'the old CAS no longer matches');
line_like($s, "ms e2 1 E0 c\r\n1\r\n", qr/^HD c[1-9]\d*\\r\\n\z/, 'for ms, E0 means a fresh CAS');

# --- I: invalidate ---------------------------------------------------------------------------
send_expect($s, "ms i1 3 E100\r\nabc\r\n", "HD\r\n", 'store with CAS 100');
send_expect($s, "ms i1 3 I C50 E101 c\r\nold\r\n", "HD c101\r\n",
            'I with an older CAS: stored anyway...');
send_expect($s, "mg i1 v c\r\n", "VA 3 c101 X W\r\nold\r\n", '... marked stale (X), first reader wins');
send_expect($s, "mg i1 v\r\n", "VA 3 Z X\r\nold\r\n", 'later readers: Z X');
send_expect($s, "ms i1 3 I C999999 c\r\nnew\r\n", "EX c0\r\n", 'I with a newer CAS: EX');
send_expect($s, "ms i1 3 I C101 c E102\r\nnew\r\n", "HD c102\r\n", 'I with the same CAS: a plain store');
send_expect($s, "mg i1 v\r\n", "VA 3\r\nnew\r\n", '... not stale');
send_expect($s, "ms i1 3 I C0\r\nnew\r\n", "EX\r\n", 'I with C0: EX');
send_expect($s, "ms i1 3 I\r\nset\r\nmg i1 v\r\n", "HD\r\nVA 3\r\nset\r\n", 'I without C: a plain set');
send_expect($s, "ms i1 3 I C1 MA\r\nxyz\r\n", "EX\r\n", 'I means nothing to append');
send_expect($s, "ms i9 3 I C1\r\nxyz\r\n", "NF\r\n", 'I with C on a miss: NF');
send_expect($s, "ms st 1\r\n1\r\nmd st I\r\nms st 1 MA\r\n2\r\nmg st v\r\n",
            "HD\r\nHD\r\nHD\r\nVA 2\r\n12\r\n", 'appending to a stale item makes a fresh one');

# --- base64 keys ------------------------------------------------------------------------------
send_expect($s, "ms Zm9vYg== 3 b k c s O1 E9\r\nabc\r\n", "HD kZm9vYg== b c9 s3 O1\r\n",
            'b: the key is decoded; k returns it encoded, followed by b');
send_expect($s, "mg foob v\r\n", "VA 3\r\nabc\r\n", 'stored under the decoded key');
send_expect($s, "ms Zm9vYg== 3 b s O1\r\nabc\r\n", "HD s3 O1\r\n", 'no b in the reply without k');
send_expect($s, "ms Zh== 1 b k\r\n1\r\n", "HD kZg== b\r\n", 'the key is re-encoded from its bytes');
send_expect($s, "ms Zm9vYg== 3 b k q MR C1\r\nabc\r\n", "EX kZm9vYg== b\r\n", 'k on EX');
send_expect($s, "ms Zm9 1 b\r\n1\r\n", "CLIENT_ERROR error decoding key\r\n",
            'invalid base64: error, data skipped');
send_expect($s, "mn\r\n", "MN\r\n", '... the data was not read as a command');

# --- errors that skip the data block ---------------------------------------------------------
my %skipped = (
    "ms foo 2 z"                => "CLIENT_ERROR invalid flag",
    "ms foo 2 v v"              => "CLIENT_ERROR duplicate flag",
    "ms foo 2 T"                => "CLIENT_ERROR bad token in command line format",
    "ms foo 2 Tx"               => "CLIENT_ERROR bad token in command line format",
    "ms foo 2 C-1"              => "CLIENT_ERROR bad token in command line format",
    "ms foo 2 E"                => "CLIENT_ERROR bad token in command line format",
    "ms foo 2 F"                => "CLIENT_ERROR bad command line format",
    "ms foo 2 F4294967296"      => "CLIENT_ERROR bad command line format",
    "ms foo 2 D"                => "CLIENT_ERROR invalid numeric delta value",
    "ms foo 2 J-1"              => "CLIENT_ERROR invalid numeric initial value",
    "ms foo 2 MX T"             => "CLIENT_ERROR bad token in command line format",
    "ms foo 2 MX z"             => "CLIENT_ERROR invalid flag",
    "ms foo 2 MS MX"            => "CLIENT_ERROR duplicate flag",
    "ms Zm9 2 MX b"             => "CLIENT_ERROR error decoding key",
    "ms foo 2 O12345678901234567890123456789012" => "CLIENT_ERROR opaque token too long",
    "ms foo 2 MX O12345678901234567890123456789012" => "CLIENT_ERROR invalid mode for ms M token",
    'ms ' . ('k' x 251) . ' 2' => "CLIENT_ERROR bad command line format",
    'ms foo 2 k' . (' v' x 17) => "CLIENT_ERROR options flags are too long",
);
for my $line (sort keys %skipped) {
    send_expect($s, "$line\r\nhi\r\nmn\r\n", "$skipped{$line}\r\nMN\r\n",
                'skipped: ' . substr($line, 0, 40));
}
send_expect($s, 'ms foo 2 k' . (' v' x 16) . "\r\nhi\r\n", "CLIENT_ERROR duplicate flag\r\n",
            '17 flags are not too many for ms');
send_expect($s, "mg foo v\r\n", "VA 2\r\nhi\r\n", 'none of them stored anything');

# --- errors that cannot skip it -------------------------------------------------------------
# Without a usable length, or with a malformed flag byte, the data block
# is read as a command line.
for my $line ('ms foo', 'ms foo bar', 'ms foo -1', 'ms foo +2', 'ms foo 2x', 'ms foo 0x2',
              'ms foo 2147483646', 'ms foo 4294967297', 'ms foo 2 !', 'ms foo 2 v ~',
              'ms ' . ('k' x 251) . ' 2 !') {
    send_expect($s, "$line\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n",
                'not skipped: ' . substr($line, 0, 40));
}
send_expect($s, "ms\r\n", "CLIENT_ERROR bad command line format\r\n", 'ms alone');

# --- the data block ---------------------------------------------------------------------------
# 2 bytes announced, 4 in their place: the last two must be "\r\n".
send_expect($s, "ms bd 2\r\nhiXYmn\r\n", "CLIENT_ERROR bad data chunk\r\nMN\r\n", 'bad data chunk');
send_expect($s, "mg bd v\r\n", "EN\r\n", 'nothing stored');
send_expect($s, "ms bd 2 O1 k c\r\nhi\rXmn\r\n", "CLIENT_ERROR bad data chunk\r\nMN\r\n",
            'bad data chunk: no return flags');
send_expect($s, "ms bd 2\r\nhiX\r\n", "CLIENT_ERROR bad data chunk\r\n"
            . "CLIENT_ERROR bad command line format\r\n",
            'one byte too many: the "\n" left over is a too-short line');
# The value in pieces.
send_bytes($s, "ms pc 10\r\n01234");
select(undef, undef, undef, 0.1);
send_bytes($s, "56789\r");
select(undef, undef, undef, 0.1);
send_expect($s, "\nmg pc v\r\n", "HD\r\nVA 10\r\n0123456789\r\n", 'a value arriving in pieces');

# Too large for the cache: the old value must not survive.
send_expect($s, "ms big 2\r\nhi\r\nms big2 2\r\nhi\r\n", "HD\r\nHD\r\n", 'two small values');
my $big = 'x' x (1024 * 1024 + 1);
send_expect($s, "ms big " . length($big) . " q\r\n$big\r\nmn\r\n",
            "SERVER_ERROR object too large for cache\r\nMN\r\n", 'too large: SERVER_ERROR (q or not)');
send_expect($s, "mg big v\r\n", "EN\r\n", 'the old value is gone');
send_expect($s, "ms big2 " . length($big) . " MA\r\n$big\r\nmg big2 v\r\n",
            "SERVER_ERROR object too large for cache\r\nEN\r\n", '... even for an append');

# --- stats -------------------------------------------------------------------------------------
send_expect($s, "ms sc 1 E10\r\n1\r\n", "HD\r\n", 'store with CAS 10');
my $st0 = mem_stats($s);
send_bytes($s, "ms sc 1 C10\r\n1\r\n"         # cas hit
             . "ms sc 1 C10\r\n1\r\n"         # bad value
             . "ms scx 1 C10\r\n1\r\n"        # cas miss
             . "ms sc 1 I C1\r\n1\r\n"        # stale store: a cas hit
             . "ms sc 1 MA C1\r\n1\r\n"       # append with a wrong C: no cas stat
             . "ms sc 1 ME\r\n1\r\n"          # NS
             . "mn\r\n");
read_line($s) for 1 .. 7;
my $st1 = mem_stats($s);
my %d = map { $_ => $st1->{$_} - $st0->{$_} } qw(cmd_set cas_hits cas_badval cas_misses);
is_deeply(\%d, { cmd_set => 6, cas_hits => 2, cas_badval => 1, cas_misses => 1 },
          'ms counts cmd_set and the cas stats as memcached does');

done_testing;
