#!/usr/bin/perl
# Malformed and unknown binary packets, a representative set of what
# bench/binary-replay.pl throws at us and at memcached: when the server
# waits for more bytes, when it answers and goes on, when it answers and
# hangs up, and when it hangs up without a word. Each case runs on its own
# connection; a case that waits is then given the bytes it waits for, so
# silence is told apart from a dead connection.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;
use McBinary;

my $srv = start_server(args => '-m 64');

sub fresh { my $c = $srv->new_sock; return $c }
sub noop { bin_req('noop', opaque => $_[0] // 0xfeedface) }
sub noop_res { bin_res('noop', opaque => $_[0] // 0xfeedface) }
sub unknown_res { bin_error_res($_[0], 'unknown', opaque => $_[1] // 0) }
sub hdr {   # a header alone, lengths as given
    my ($op, $keylen, $extlen, $bodylen, $opaque) = @_;
    return pack('C C n C C n N N Q>', 0x80, $op, $keylen, $extlen, 0, 0, $bodylen,
                $opaque // 0, 0);
}

# --- an unknown opcode skips its whole body length after extras and key ------
{
    # The 28-byte packet: opcode 0x1b, 4 bytes of extras, body length 4.
    # The extras are read with the header, then 4 more bytes are skipped:
    # nothing is sent while the server waits for them.
    my $pkt = pack('H*', '801b0000' . '04000000' . '00000004' . '00000000'
                   . '0000000000000000' . '00000001');
    is(length $pkt, 28, 'the 28-byte packet');
    my $c = fresh();
    send_bytes($c, $pkt);
    expect_nothing($c, 300, '28-byte packet: no reply while 4 more bytes are awaited');
    send_expect($c, 'abcd' . noop(), unknown_res(0x1b) . noop_res(),
                'the 4 bytes skipped: "Unknown command", then the noop');

    # With the whole packet and its body in one write: the body is skipped.
    $c = fresh();
    send_expect($c, $pkt . 'wxyz' . noop(2), unknown_res(0x1b) . noop_res(2),
                '28-byte packet and 4 more bytes: "Unknown command", noop answered');

    # A key counts too: 2 key bytes read, then 2 more skipped, which eat
    # the first 2 bytes of the noop behind it. Its rest is no packet.
    $c = fresh();
    send_expect($c, hdr(0x44, 2, 0, 2, 5) . 'ab' . noop(), unknown_res(0x44, 5),
                'unknown opcode with a key: answered once its skip is done');
    expect_nothing($c, 300, 'the noop behind it lost 2 bytes: no reply');
    send_bytes($c, "\0\0");
    expect_closed($c, 'what is left of the noop has a bad magic byte: closed');

    # No body: answered and flushed at once; the connection goes on.
    $c = fresh();
    send_expect($c, hdr(0xee, 0, 0, 0, 6), unknown_res(0xee, 6), 'unknown opcode, no body: answered');
    send_expect($c, noop(7), noop_res(7), 'and the connection goes on');

    # A body of exactly 1 GB is skipped, not refused; 1 GB + 1 is refused.
    $c = fresh();
    send_bytes($c, hdr(0x44, 0, 0, 0x40000000, 8) . noop());
    expect_nothing($c, 300, 'unknown opcode, 1 GB body: skipped silently');
    $c = fresh();
    send_expect($c, hdr(0x44, 0, 0, 0x40000001, 9) . noop(),
                bin_error_res(0x44, 'invalid', opaque => 9), '1 GB + 1: "Invalid arguments"');
    expect_closed($c, '1 GB + 1: then closed');
}

# --- extras and key are awaited before the header is judged -----------------------
{
    # A 300-byte key (too long) is read before it is refused.
    my $c = fresh();
    send_bytes($c, hdr(0x00, 300, 0, 300, 10) . ('k' x 100));
    expect_nothing($c, 300, 'key of 300 bytes, 100 sent: waits for the rest');
    send_expect($c, 'k' x 200, bin_error_res('get', 'invalid', opaque => 10),
                'the whole key: "Invalid arguments"');
    expect_closed($c, 'key of 300 bytes: then closed');

    # Extras and key longer than the body: "Unknown command", once they are in.
    $c = fresh();
    send_bytes($c, hdr(0x01, 4, 8, 2, 11) . ('e' x 8));
    expect_nothing($c, 300, 'extras + key over the body length: waits for the key');
    send_expect($c, 'kkkk', bin_error_res('set', 'unknown', opaque => 11),
                'then "Unknown command"');
    expect_closed($c, 'extras + key over the body length: then closed');

    # A get whose body is shorter than its key, the key not sent yet.
    $c = fresh();
    send_bytes($c, hdr(0x00, 4, 0, 2, 12) . 'ab');
    expect_nothing($c, 300, 'body shorter than the key, key half sent: waits');
    send_expect($c, 'cd', bin_error_res('get', 'unknown', opaque => 12), 'then "Unknown command"');
    expect_closed($c, 'then closed');

    # A body over 1 GB is refused only once extras and key are in.
    $c = fresh();
    send_bytes($c, hdr(0x00, 4, 0, 0x7fffffff, 13) . 'ab');
    expect_nothing($c, 300, 'body over 1 GB, key half sent: waits');
    send_expect($c, 'cd', bin_error_res('get', 'invalid', opaque => 13), 'then "Invalid arguments"');
    expect_closed($c, 'then closed');

    # An unknown opcode with a key and extras: still awaited first.
    $c = fresh();
    send_bytes($c, hdr(0x99, 10, 20, 30, 14) . ('x' x 29));
    expect_nothing($c, 300, 'unknown opcode, extras and key not all in: waits');
    send_expect($c, 'x' . ('y' x 30) . noop(), unknown_res(0x99, 14) . noop_res(),
                'then "Unknown command", its body skipped, the noop answered');
}

# --- a header, extras and key must fit in 16 KB (memcached's read buffer) -----
{
    my $c = fresh();
    send_expect($c, hdr(0x70, 16360, 0, 16360, 15) . ('a' x 16360),
                bin_error_res(0x70, 'invalid', opaque => 15),
                '24 + 16360 bytes: read whole, the key refused as too long');
    expect_closed($c, 'then closed');

    $c = fresh();
    send_bytes($c, hdr(0x70, 16361, 0, 16361, 16) . ('a' x 16000));
    expect_nothing($c, 300, '24 + 16361 bytes, 16000 of the key sent: waits');
    send_bytes($c, 'a' x 361);
    expect_closed($c, 'the 16 KB buffer fills before the key is whole: closed, no reply');

    $c = fresh();
    send_bytes($c, hdr(0x05, 0xffff, 0xff, 0x100fe, 17) . ('a' x 0x100fe) . noop());
    expect_closed($c, 'largest extras and key: closed, no reply');
}

# --- a skipped value sends nothing until it is skipped -------------------------
{
    # A value over -I 1m: "Too large." waits until its bytes are skipped.
    my $c = fresh();
    send_bytes($c, bin_req('set', key => 'big', ext => pack('NN', 0, 0), opaque => 18,
                           bodylen => 8 + 3 + 2 * 1024 * 1024) . ('v' x 1000));
    expect_nothing($c, 300, 'set too large, value not all sent: no reply yet');
    send_expect($c, ('v' x (2 * 1024 * 1024 - 1000)) . noop(),
                bin_error_res('set', 'too_large', opaque => 18) . noop_res(),
                'value skipped: "Too large.", then the noop');
}

# --- bad magic, and a fault after a good packet ---------------------------------------
{
    # (The first byte of a connection picks its protocol: a bad magic
    # byte means something only after a binary packet.)
    my $c = fresh();
    send_expect($c, noop(21) . pack('H*', '7f' . '00' x 23), noop_res(21), 'noop answered');
    expect_closed($c, 'then magic 0x7f: closed, no reply');

    # Header faults flush nothing queued before them: a get's hit reply
    # queued by the first packet is sent with the error.
    $c = fresh();
    send_expect($c, bin_req('getk', key => 'nokey', opaque => 19) . hdr(0x00, 0, 0, 0, 20),
                bin_res('getk', status => 'not_found', key => 'nokey', opaque => 19)
                . bin_error_res('get', 'invalid', opaque => 20),
                'getk miss, then a get without key: both replies');
    expect_closed($c, 'then closed');
}

done_testing();
