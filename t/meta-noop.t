#!/usr/bin/perl
# Meta no-op (mn), quiet mode (q) across a pipeline, and meta debug (me).
# mn answers MN once everything before it is answered, so a client can send
# a batch of quiet commands and read until MN: only the replies q does not
# hide arrive, in order.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

# --- mn -----------------------------------------------------------------------
send_expect($s, "mn\r\n", "MN\r\n", 'mn answers MN');
send_expect($s, "mn\r\n" x 3, "MN\r\n" x 3, 'three mn, three MN');
send_expect($s, "mn foo bar 1 !\r\n", "MN\r\n", 'mn ignores whatever follows it');
send_expect($s, "mn\n", "CLIENT_ERROR bad command line format\r\n",
            'a 3-byte line ("mn\n") is too short to be a command');
send_expect($s, "mnx\r\n", "ERROR\r\n", 'mnx is not a command');
send_expect($s, "MN\r\n", "ERROR\r\n", 'command names are lower case');

# --- quiet pipelines ------------------------------------------------------------
# Everything in one write; only the replies q lets through come back.
send_expect($s,
    "ms p1 2 q\r\nv1\r\n" .           # HD: hidden
    "ms p2 2 q O2\r\nv2\r\n" .        # HD: hidden, opaque and all
    "ms p3 2 q MR O3\r\nv3\r\n" .     # NS: shown
    "ms p1 2 q ME O4\r\nxx\r\n" .     # NS: shown
    "mg p1 v q k O5\r\n" .            # a hit: mg shows it even with q
    "mg p9 v q k O6\r\n" .            # a miss: hidden
    "md p9 q O7\r\n" .                # NF: shown
    "md p2 q O8\r\n" .                # HD: hidden
    "ma p9 q O9\r\n" .                # NF: shown
    "mn\r\n",
    "NS O3\r\nNS O4\r\nVA 2 kp1 O5\r\nv1\r\nNF O7\r\nNF O9\r\nMN\r\n",
    'quiet pipeline: only NS, the hit and NF come back, then MN');
send_expect($s, "mg p2 v\r\nmn\r\n", "EN\r\nMN\r\n", 'the quiet md deleted p2');

send_expect($s, "ms ctr 1 q\r\n5\r\nma ctr q\r\nma ctr q v\r\nma ctr v\r\nmn\r\n",
            "VA 1\r\n8\r\nMN\r\n", 'ma q hides HD and VA; the last ma (no q) shows 8');
send_expect($s, "ms ctr 1 q MR C1\r\n1\r\nma ctr q C1\r\nmn\r\n", "EX\r\nEX\r\nMN\r\n",
            'q shows EX from ms and ma');
send_expect($s, "md ctr q C1\r\nmn\r\n", "EX\r\nMN\r\n", 'q shows EX from md');
send_expect($s, "mg nope q\r\nmg nope q k O1\r\nmn\r\n", "MN\r\n",
            'mg q: misses say nothing at all, not even their opaque');
send_expect($s, "mg ctr q\r\nmn\r\n", "HD\r\nMN\r\n", 'mg q on a hit still says HD');

# Errors always come back.
send_expect($s, "mg ctr q z\r\nms k 1 q z\r\nx\r\nmd ctr q v v\r\nma ctr q z\r\nmn\r\n",
            "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid flag\r\n"
            . "CLIENT_ERROR duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nMN\r\n",
            'q never hides an error');
send_expect($s, "ms ctr 1 q\r\nx\r\nma ctr q\r\nmn\r\n",
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nMN\r\n",
            'q never hides a non-numeric ma error');
# 2 bytes announced, 4 sent in their place, the last two not "\r\n".
send_expect($s, "ms bad 2 q\r\nabcdmn\r\n", "CLIENT_ERROR bad data chunk\r\nMN\r\n",
            'q never hides a bad data chunk');

# Opaque values match replies to requests.
send_expect($s, "ms o1 1\r\na\r\nms o2 1\r\nb\r\n", "HD\r\nHD\r\n", 'two keys for opaque matching');
send_expect($s, "mg o1 v q Oone\r\nmg o9 v q Onine\r\nmg o2 v q Otwo\r\nmn\r\n",
            "VA 1 Oone\r\na\r\nVA 1 Otwo\r\nb\r\nMN\r\n", 'opaques tell the hits apart');

# A pipeline split at every byte still parses the same.
{
    my $batch = "ms sp 3 q\r\nabc\r\nmg sp v s q\r\nmg none q\r\nmd sp q\r\nmg sp\r\nmn\r\n";
    my $want = "VA 3 s3\r\nabc\r\nEN\r\nMN\r\n";
    for my $i (0 .. length($batch) - 1) {
        send_bytes($s, substr($batch, $i, 1));
        select(undef, undef, undef, 0.002) if $i % 7 == 0;
    }
    is(read_bytes($s, length $want), $want, 'a quiet pipeline sent a byte at a time');
}

# --- me -------------------------------------------------------------------------
send_expect($s, "ms dbg 2\r\nhi\r\n", "HD\r\n", 'item for me');
line_like($s, "me dbg\r\n", qr/^ME dbg exp=-1 la=\d+ cas=\d+ fetch=no cls=1 size=64\\r\\n\z/,
          'me: exp=-1 (no TTL), la, cas, fetch=no, slab class and total size');
line_like($s, "me dbg\r\n", qr/fetch=no/, 'me does not count as a fetch');
send_expect($s, "mg dbg\r\n", "HD\r\n", 'a fetch');
line_like($s, "me dbg\r\n", qr/^ME dbg exp=-1 la=\d+ cas=\d+ fetch=yes cls=1 size=64\\r\\n\z/,
          'me after mg: fetch=yes');
send_bytes($s, "mg dbg c\r\n");
my ($cas) = (read_line($s) // '') =~ /^HD c(\d+)/;
line_like($s, "me dbg\r\n", qr/ cas=\Q${\($cas \/\/ 'none')}\E /, 'me shows the CAS mg shows');
send_expect($s, "ms dbg2 5 T100\r\nhello\r\n", "HD\r\n", 'item with a TTL');
line_like($s, "me dbg2\r\n", qr/^ME dbg2 exp=(99|100) la=\d+ cas=\d+ fetch=no cls=1 size=68\\r\\n\z/,
          'me: exp is the seconds left');
send_expect($s, "me none\r\n", "EN\r\n", 'me on a miss: EN');
line_like($s, "me dbg x y z\r\n", qr/^ME dbg exp=/, 'me ignores tokens after the key');
send_expect($s, "me\r\n", "CLIENT_ERROR bad command line format\r\n", 'me without a key');
send_expect($s, 'me ' . ('k' x 251) . "\r\n", "CLIENT_ERROR bad command line format\r\n",
            'me with a 251-byte key');
send_expect($s, "me dbg !\r\n", "CLIENT_ERROR bad command line format\r\n",
            'me: a token starting with "!" is malformed');

# A 2000-byte value lands in a bigger slab class.
send_expect($s, "ms big 2000\r\n" . ('x' x 2000) . "\r\n", "HD\r\n", 'a 2000-byte item');
line_like($s, "me big\r\n", qr/^ME big exp=-1 la=\d+ cas=\d+ fetch=no cls=15 size=2062\\r\\n\z/,
          'me: class 15, 2062 bytes');

# Non-zero client flags take 4 bytes in memcached's item header: size=
# counts them, and they can push an item into the next class (35 bytes of
# value under a 2-byte key fill class 1's 96-byte chunk exactly).
my $v35 = 'v' x 35;
send_expect($s, "set f0 0 0 35\r\n$v35\r\nset f7 7 0 35\r\n$v35\r\n", "STORED\r\nSTORED\r\n",
            'the same value with and without flags');
line_like($s, "me f0\r\n", qr/^ME f0 exp=-1 la=\d+ cas=\d+ fetch=no cls=1 size=96\\r\\n\z/,
          'me: no flags, 96 bytes, class 1');
line_like($s, "me f7\r\n", qr/^ME f7 exp=-1 la=\d+ cas=\d+ fetch=no cls=2 size=100\\r\\n\z/,
          'me: flags 7, 100 bytes, class 2');

# Keys stored base64-encoded (ms b) are shown base64-encoded.
send_expect($s, "ms AAEC 2 b\r\nhi\r\n", "HD\r\n", 'store under the binary key 00 01 02');
line_like($s, "me \x00\x01\x02\r\n", qr/^ME AAEC exp=-1 /, 'me shows a binary key in base64');
# me decodes a base64 key only when another token follows the b (as
# memcached 1.6 does); "me <key> b" looks the key up as written.
line_like($s, "me AAEC b x\r\n", qr/^ME AAEC exp=-1 /, 'me <base64> b x: decoded');
send_expect($s, "me AAEC b\r\n", "EN\r\n", 'me <base64> b: looked up as written');
send_expect($s, "me dbg b x\r\n", "CLIENT_ERROR bad command line format\r\n",
            'me with b and a key that is not base64');

# --- stats ------------------------------------------------------------------------
my $before = mem_stats($s);
send_bytes($s, "me dbg\r\nme none\r\nmn\r\nmg dbg\r\n");
read_line($s) for 1 .. 4;
my $after = mem_stats($s);
is($after->{cmd_meta} - $before->{cmd_meta}, 2, 'cmd_meta counts me requests (not mn, not mg)');
is($after->{cmd_get} - $before->{cmd_get}, 1, 'me is not a get');

done_testing;
