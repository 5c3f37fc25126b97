#!/usr/bin/perl
# A reply that runs out of memory while it is built is never sent in part:
# the replies queued before it leave, then the connection closes. Needs
# memcached-debug's fault hook (MC_DEBUG_REPLY_BLOCKS=N: a reply holds at
# most N text blocks of 16 KB, as if malloc failed for the next).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use McTest;

my $NKEYS = 100;
my @keys = map { sprintf('%s%03d', 'k' x 240, $_) } 1 .. $NKEYS;   # 243-byte keys
my $multiget = 'get ' . join(' ', @keys) . "\r\n";
my $whole = join('', map { "VALUE $_ 0 1\r\nv\r\n" } @keys) . "END\r\n";

sub store_all {
    my ($s) = @_;
    send_bytes($s, join '', map { "set $_ 0 0 1\r\nv\r\n" } @keys);
    my $want = "STORED\r\n" x $NKEYS;
    is(read_bytes($s, length $want), $want, "$NKEYS long keys stored");
}

# Without the hook the multiget's text needs more than one 16 KB block.
{
    my $srv = start_server();
    plan skip_all => 'needs memcached-debug (its MC_DEBUG_REPLY_BLOCKS fault hook)'
        unless $srv->is_debug_build;
    my $s = $srv->new_sock;
    store_all($s);
    cmp_ok(length $whole, '>', 16384, 'the multiget reply is over one block');
    send_bytes($s, $multiget);
    is(read_bytes($s, length $whole), $whole, 'with memory, the multiget is answered whole');
}

{
    local $ENV{MC_DEBUG_REPLY_BLOCKS} = 1;
    my $srv = start_server();
    my $s = $srv->new_sock;
    store_all($s);

    # The reply before it in the same write leaves whole; nothing of the
    # get does; the connection closes.
    send_bytes($s, "version\r\n$multiget");
    like(read_line($s) // '', qr/^VERSION \S+\r\n\z/, 'the earlier reply is sent');
    expect_closed($s, 'the connection closes with no part of the failed reply');

    # A reply that fits is untouched, and the server keeps serving.
    my $t = $srv->new_sock;
    send_bytes($t, "get $keys[0]\r\n");
    my $one = "VALUE $keys[0] 0 1\r\nv\r\nEND\r\n";
    is(read_bytes($t, length $one), $one, 'a get that fits is answered on a new connection');
    my $st = mem_stats($t);
    ok($st->{curr_items} == $NKEYS, 'nothing stored was lost');

    # And that connection goes on.
    send_bytes($t, "version\r\n");
    like(read_line($t) // '', qr/^VERSION /, 'the new connection goes on');
}

done_testing();
