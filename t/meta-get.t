#!/usr/bin/perl
# Meta get (mg): return flags in the order asked, quiet misses, TTL updates,
# vivify on miss (N), recache (R), stale items (X) and the win tokens
# (W, Z), base64 keys (b), and the error lines for malformed requests.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

# --- misses ---------------------------------------------------------------------
send_expect($s, "mg nokey\r\n", "EN\r\n", 'miss: EN');
send_expect($s, "mg nokey v s t c f h l\r\n", "EN\r\n", 'miss: item flags are not returned');
send_expect($s, "mg nokey O123 k v\r\n", "EN O123 knokey\r\n", 'miss: opaque and key are');
send_expect($s, "mg nokey k O123\r\n", "EN knokey O123\r\n", '... in the order asked');
send_bytes($s, "mg nokey q v k O1\r\n");
send_expect($s, "mn\r\n", "MN\r\n", 'miss with q: nothing at all');

# --- hits -------------------------------------------------------------------------
send_expect($s, "ms foo 2 F7\r\nhi\r\n", "HD\r\n", 'store foo');
send_expect($s, "mg foo\r\n", "HD\r\n", 'hit without flags: HD');
send_expect($s, "mg foo v\r\n", "VA 2\r\nhi\r\n", 'v: VA <size> and the value');
my $cas = cas_of($s, 'foo');
line_like($s, "mg foo s v f t c k O99 q\r\n",
          qr/^VA 2 s2 f7 t-1 c$cas kfoo O99\\r\\n\z/, 'every return flag, in the order asked');
is(read_bytes($s, 4), "hi\r\n", '... then the value');
line_like($s, "mg foo O1 k c t f s\r\n", qr/^HD O1 kfoo c$cas t-1 f7 s2\\r\\n\z/,
          'another order, another reply order');
send_expect($s, "mg foo v P L\r\n", "VA 2\r\nhi\r\n", 'P and L (proxy hints) are ignored');
send_expect($s, "mg foo v I x\r\n", "VA 2\r\nhi\r\n", 'flags of other commands are accepted (I, x)');
send_expect($s, "mg foo vv\r\n", "VA 2\r\nhi\r\n", 'a flag ignores what follows its letter');
send_expect($s, "mg  foo  v \r\n", "VA 2\r\nhi\r\n", 'runs of spaces separate tokens');
send_expect($s, "mg foo q\r\n", "HD\r\n", 'q does not hide a hit');
send_expect($s, "mg foo O\r\n", "HD O\r\n", 'an empty opaque is echoed as O');
send_expect($s, "mg foo O1234567890123456789012345678901\r\n",
            "HD O1234567890123456789012345678901\r\n", 'a 31-byte opaque is fine');

# Binary-safe values.
send_expect($s, "ms bin 6\r\na\r\n\0b\r\r\n", "HD\r\n", 'store a value with CR, LF, NUL');
send_expect($s, "mg bin v s\r\n", "VA 6 s6\r\na\r\n\0b\r\r\n", 'value comes back byte for byte');
send_expect($s, "ms empty 0\r\n\r\n", "HD\r\n", 'store an empty value');
send_expect($s, "mg empty v s\r\n", "VA 0 s0\r\n\r\n", 'an empty value');

# --- h, l and u --------------------------------------------------------------------
send_expect($s, "ms h1 1\r\nx\r\n", "HD\r\n", 'store h1');
line_like($s, "mg h1 h l\r\n", qr/^HD h0 l[01]\\r\\n\z/, 'h0: not fetched before this request');
line_like($s, "mg h1 h l\r\n", qr/^HD h1 l[01]\\r\\n\z/, 'h1 the second time');
send_expect($s, "ms h2 1\r\nx\r\n", "HD\r\n", 'store h2');
send_expect($s, "mg h2 h u\r\n", "HD h0\r\n", 'u: read without marking it fetched');
send_expect($s, "mg h2 h\r\n", "HD h0\r\n", '... so it is still unfetched');
send_expect($s, "mg h2 h\r\n", "HD h1\r\n", 'now fetched');

# --- TTL: t and T --------------------------------------------------------------------
send_expect($s, "ms ttl 1 T100\r\nx\r\n", "HD\r\n", 'store with T100');
line_like($s, "mg ttl t\r\n", qr/^HD t(99|100)\\r\\n\z/, 't: seconds left');
line_like($s, "mg ttl T50 t\r\n", qr/^HD t(49|50)\\r\\n\z/, 'T then t: t shows the new TTL');
line_like($s, "mg ttl t T200\r\n", qr/^HD t(49|50)\\r\\n\z/,
          't then T: t shows the TTL before the update');
line_like($s, "mg ttl t\r\n", qr/^HD t(199|200)\\r\\n\z/, 'the update stuck');
send_expect($s, "mg ttl T0 t\r\n", "HD t-1\r\n", 'T0: no expiry, t-1');
send_expect($s, "mg ttl T-1\r\n", "HD\r\n", 'T-1: expire now');
send_expect($s, "mg ttl\r\n", "EN\r\n", '... gone');
send_expect($s, "mg ttl T30\r\n", "EN\r\n", 'T on a miss: EN');

# --- C: skip the value when the CAS matches -----------------------------------------
$cas = cas_of($s, 'foo');
send_expect($s, "mg foo v C$cas\r\n", "HD\r\n", 'C matching: HD without the value');
send_expect($s, "mg foo v s C$cas\r\n", "HD s2\r\n", '... other flags still answered');
send_expect($s, "mg foo v C" . ($cas + 1000) . "\r\n", "VA 2\r\nhi\r\n", 'C not matching: the value');
send_expect($s, "mg foo E5 c\r\n", "HD c$cas\r\n", 'E changes nothing on a hit');

# --- N: vivify on miss -------------------------------------------------------------
line_like($s, "mg viv N30 v c t s k O1\r\n", qr/^VA 0 c\d+ t(29|30) s0 kviv O1 W\\r\\n\z/,
          'N on a miss: an empty item, and W (this client recaches)');
is(read_bytes($s, 2), "\r\n", '... with an empty value');
line_like($s, "mg viv N30 v t\r\n", qr/^VA 0 t(29|30) Z\\r\\n\z/, 'the next client sees Z');
read_bytes($s, 2);
send_expect($s, "mg viv\r\n", "HD Z\r\n", 'Z even without N');
send_expect($s, "mg viv2 N30 h l f s\r\n", "HD h0 l0 f0 s0 W\r\n",
            'a created item: never fetched, just accessed, flags 0, empty');
send_expect($s, "mg viv2 h\r\n", "HD h1 Z\r\n", 'the vivifying request counted as a fetch');
send_expect($s, "mg viv3 N30 E777 c\r\n", "HD c777 W\r\n", 'E: CAS of the created item');
send_expect($s, "mg viv4 N30 q\r\n", "HD W\r\n", 'q does not hide the W');
send_expect($s, "mg viv8 N30 E0 c\r\n", "HD c0 W\r\n", 'E0 is a CAS of 0');
send_expect($s, "mg viv5 t N30\r\n", "HD t-1 W\r\n",
            't before N: the created item has no TTL yet');
line_like($s, "mg viv5 t\r\n", qr/^HD t(29|30) Z\\r\\n\z/, '... N set it afterwards');
line_like($s, "mg viv6 N30 T60 t\r\n", qr/^HD t(59|60) W\\r\\n\z/, 'N then T: T wins');
line_like($s, "mg viv7 T60 N30 t\r\n", qr/^HD t(29|30) W\\r\\n\z/, 'T then N: N wins');
# Other clients (other connections, other worker threads): Z, never a
# second W, and their N leaves the winner's TTL alone.
{
    my @others = map { $srv->new_sock } 1 .. 4;
    line_like($others[0], "mg vivx N30 t\r\n", qr/^HD t(29|30) W\\r\\n\z/, 'client 1 wins');
    for my $i (1 .. 3) {
        line_like($others[$i], "mg vivx N90 t\r\n", qr/^HD t(29|30) Z\\r\\n\z/,
                  "client " . ($i + 1) . ": Z, TTL still the winner's");
    }
    send_expect($s, "md vivx I\r\n", "HD\r\n", 'invalidated');
    line_like($others[1], "mg vivx t\r\n", qr/^HD t(29|30) X W\\r\\n\z/, 'stale: one client wins again');
    line_like($others[$_], "mg vivx t\r\n", qr/^HD t(29|30) Z X\\r\\n\z/, 'stale: the others see Z')
        for 0, 2, 3;
}
send_expect($s, "ms viv 3\r\nnew\r\n", "HD\r\n", 'the winner stores the new value');
send_expect($s, "mg viv N30 v\r\n", "VA 3\r\nnew\r\n", 'no token flags on a fresh item');
line_like($s, "mg foo N30 t v\r\n", qr/^VA 2 t-1\\r\\n\z/, 'N on a hit changes nothing');
read_bytes($s, 4);

# --- R: recache before expiry ----------------------------------------------------------
send_expect($s, "ms rc 1 T100\r\nx\r\n", "HD\r\n", 'store with T100');
send_expect($s, "mg rc R30\r\n", "HD\r\n", 'R30 with 100 s left: no win');
send_expect($s, "mg rc R101\r\n", "HD W\r\n", 'R101 with 100 s left: W');
send_expect($s, "mg rc R101\r\n", "HD Z\r\n", 'the next one sees Z');
send_expect($s, "mg rc\r\n", "HD Z\r\n", 'Z stays until the item is replaced');
send_expect($s, "ms rc2 1\r\nx\r\n", "HD\r\n", 'store without a TTL');
send_expect($s, "mg rc2 R1000\r\n", "HD\r\n", 'R never wins for an item without TTL');
send_expect($s, "ms rc3 1 T100\r\nx\r\n", "HD\r\n", 'store with T100');
send_expect($s, "mg rc3 R2592001\r\n", "HD\r\n",
            'R over 30 days is a unix time (long past): no win');
send_expect($s, "mg rc3 R10 T5\r\n", "HD\r\n", 'R before T compares the old TTL');
send_expect($s, "ms rc4 1 T100\r\nx\r\n", "HD\r\n", 'store with T100');
send_expect($s, "mg rc4 T5 R10\r\n", "HD W\r\n", 'T before R compares the new one');

# --- stale items (X) and the win token ---------------------------------------------------
send_expect($s, "ms st 3 T100\r\nold\r\n", "HD\r\n", 'store st');
$cas = cas_of($s, 'st');
send_expect($s, "md st I T30\r\n", "HD\r\n", 'md I: mark it stale');
my $cas2 = cas_of($s, 'st');
isnt($cas2, $cas, 'invalidation gave it a new CAS');
line_like($s, "mg st v c t\r\n", qr/^VA 3 c$cas2 t(29|30) X W\\r\\n\z/,
          'first reader of a stale item: X and W');
is(read_bytes($s, 5), "old\r\n", '... with the old value');
line_like($s, "mg st v\r\n", qr/^VA 3 Z X\\r\\n\z/, 'later readers: Z and X');
read_bytes($s, 5);
send_expect($s, "ms st 3\r\nnew\r\n", "HD\r\n", 'the winner stores');
send_expect($s, "mg st v\r\n", "VA 3\r\nnew\r\n", 'fresh again: no X, no Z');

# --- base64 keys ----------------------------------------------------------------------------
send_expect($s, "ms Zm9vYg== 3 b\r\nabc\r\n", "HD\r\n", 'store under base64 "foob"');
send_expect($s, "mg foob v k\r\n", "VA 3 kZm9vYg== b\r\nabc\r\n",
            'an item stored under a base64 key returns it base64-encoded, with b');
send_expect($s, "mg Zm9vYg== b v k O1\r\n", "VA 3 kZm9vYg== b O1\r\nabc\r\n",
            'fetched by its base64 form: b follows the key');
send_expect($s, "mg Zm9v b k v\r\n", "VA 2 kfoo\r\nhi\r\n",
            'b on a plainly stored key: the key comes back as stored');
send_expect($s, "mg bm9rZXk= b k O2\r\n", "EN kbm9rZXk= b O2\r\n", 'miss with b and k');
send_expect($s, "mg Zh== b k\r\n", "EN kZg== b\r\n", 'the key is re-encoded from its bytes');
send_expect($s, "mg Zm9v.. b k\r\n", "HD kfoo\r\n", 'bytes outside the alphabet are skipped');
send_expect($s, "mg Zm9=Zm9v b k\r\n", "EN kZm8= b\r\n", 'a padded group ends the key');
send_expect($s, "mg AAEC b N30 k\r\n", "HD k\x00\x01\x02 W\r\n",
            'a key vivified under b is not a base64 key: raw bytes back');
for my $bad ('Zm9vYg', 'Zm9vYg=', 'Zm9vYg===', 'A===', 'Zm9v====', 'Zm-_', 'nokey') {
    send_expect($s, "mg $bad b k\r\n", "CLIENT_ERROR error decoding key\r\n",
                "invalid base64 key '$bad'");
}

# --- errors ------------------------------------------------------------------------------------
my $FMT = "CLIENT_ERROR bad command line format\r\n";
send_expect($s, "mg\r\n", $FMT, 'mg without a key');
send_expect($s, 'mg ' . ('a' x 251) . " v\r\n", $FMT, 'a 251-byte key');
send_expect($s, 'mg ' . ('a' x 250) . " v\r\n", "EN\r\n", 'a 250-byte key is fine');
send_expect($s, "mg foo z\r\n", "CLIENT_ERROR invalid flag\r\n", 'unknown flag z');
send_expect($s, "mg foo 1\r\n", "CLIENT_ERROR invalid flag\r\n", 'a digit is no flag');
send_expect($s, "mg foo v v\r\n", "CLIENT_ERROR duplicate flag\r\n", 'a flag given twice');
send_expect($s, "mg foo !\r\n", $FMT, 'a flag starting with "!" makes the line malformed');
send_expect($s, "mg foo z ~\r\n", $FMT, '... whatever precedes it');
send_expect($s, "mg foo \x01\r\n", $FMT, 'a control byte');
send_expect($s, "mg foo T\r\n", "CLIENT_ERROR bad token in command line format\r\n",
            'T without a number');
send_expect($s, "mg foo T+5\r\n", "CLIENT_ERROR bad token in command line format\r\n",
            'T with a plus sign');
send_expect($s, "mg foo N2147483648\r\n", "CLIENT_ERROR bad token in command line format\r\n",
            'N past 32 bits');
send_expect($s, "mg foo C-1\r\n", "CLIENT_ERROR bad token in command line format\r\n",
            'C negative');
send_expect($s, "mg foo F\r\n", $FMT, 'F without a number');
send_expect($s, "mg foo D\r\n", "CLIENT_ERROR invalid numeric delta value\r\n", 'bad D');
send_expect($s, "mg foo J\r\n", "CLIENT_ERROR invalid numeric initial value\r\n", 'bad J');
send_expect($s, "mg foo T D\r\n", "CLIENT_ERROR invalid numeric delta value\r\n",
            'two bad numbers: the last one is reported');
send_expect($s, "mg foo Tx v v\r\n", "CLIENT_ERROR duplicate flag\r\n",
            'a duplicate beats a bad number');
send_expect($s, "mg foo z v v\r\n", "CLIENT_ERROR invalid flag\r\n", 'the first hard error wins');
send_expect($s, "mg Zm9 b z\r\n", "CLIENT_ERROR invalid flag\r\n", 'flags are checked before the key');
send_expect($s, "mg foo O12345678901234567890123456789012\r\n",
            "CLIENT_ERROR opaque token too long\r\n", 'a 32-byte opaque is too long');
send_expect($s, "mg nokey q O12345678901234567890123456789012\r\n",
            "CLIENT_ERROR opaque token too long\r\n", '... even on a quiet miss');
# memcached finds an over-long opaque while replying: the lookup has been
# done, T and N given before the O have been applied, the rest has not,
# and no recache token was handed out.
{
    my $O = 'O12345678901234567890123456789012';
    send_expect($s, "ms ol 1 T100\r\n1\r\nmg ol $O T5\r\n", "HD\r\nCLIENT_ERROR opaque token too long\r\n",
                'opaque too long, T after it');
    line_like($s, "mg ol t\r\n", qr/^HD t(99|100)\\r\\n\z/, '... T not applied');
    send_expect($s, "mg ol T5 $O\r\n", "CLIENT_ERROR opaque token too long\r\n", 'T before it');
    line_like($s, "mg ol t\r\n", qr/^HD t[45]\\r\\n\z/, '... T applied');
    send_expect($s, "mg ol R200 $O\r\nmg ol\r\n", "CLIENT_ERROR opaque token too long\r\nHD\r\n",
                '... and R won nothing (no Z for the next reader)');
    send_expect($s, "mg olv N30 $O\r\n", "CLIENT_ERROR opaque token too long\r\n", 'a vivify with it');
    line_like($s, "mg olv t\r\n", qr/^HD t(29|30)\\r\\n\z/, '... created, N applied, no token handed out');
}
send_expect($s, 'mg foo' . (' v' x 19) . "\r\n", "CLIENT_ERROR options flags are too long\r\n",
            '19 flags are too many');
line_like($s, "mg foo v s t c f h l k O1 u P L x I D1 J1 M1 N1\r\n",
          qr/^VA 2 s2 t-1 c\d+ f7 h1 l\d+ kfoo O1\\r\\n\z/, '18 flags are fine');
read_bytes($s, 4);
send_expect($s, "mg foo\tv\r\n", "EN\r\n", 'a tab is part of the key');
send_expect($s, "mg foo v\n", "VA 2\r\nhi\r\n", 'a bare LF ends the line too');

# --- stats --------------------------------------------------------------------------------------
my $st0 = mem_stats($s);
send_bytes($s, "mg foo\r\nmg nokey\r\nmg foo T100\r\nmg nokey T100\r\nmg vivst N30\r\nmn\r\n");
read_line($s) for 1 .. 6;
my $st1 = mem_stats($s);
my %d = map { $_ => $st1->{$_} - $st0->{$_} } qw(cmd_get get_hits get_misses cmd_touch touch_hits);
is_deeply(\%d, { cmd_get => 4, get_hits => 2, get_misses => 2, cmd_touch => 1, touch_hits => 1 },
          'mg counts as a get; with T on a hit as a touch; a vivified miss as a hit');

done_testing;
