#!/usr/bin/perl
# slabs automove 1 (issue 11): when a page moves, and when it must not.
#  1. A value size shift: 100-byte values fill the cache, then 20 KB values,
#     then 100-byte values again; pages go to the 20 KB class and come back.
#  2. Eviction has to persist: with a window of 30 rounds (a class needs to
#     evict in more than a quarter of them), a short burst of evictions
#     moves nothing; evictions that go on do.
#  3. The age ratio: a class that keeps evicting gets no page while its
#     items are not younger than ratio times the oldest class's; setting
#     "slabs automove ratio" back to 0.8 lets the page move.
#  4. A window changed at run time ("slabs automove window 12") starts
#     empty: no page moves until it has filled again, though the class
#     evicts in enough of its rounds long before.
#  5. The window counts the automover's runs, which come 100 ms apart
#     after start: with window 20 no page moves in the first 9 s, one does
#     by about 10 s, and a `watch sysevents` watcher gets its slab_move line.
# memcached 1.6.45 behaves the same in all five (checked as a black box).
# Only 5 bounds how fast a move comes (loosely, and only when the cache
# filled fast); elsewhere every wait polls with a deadline and the time the
# first move took is only printed (see docs/options.md).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use McTest;

my $s;      # the connection the helpers below use

# $n sets of $size-byte values named "$prefix$i" from $from, noreply, then mn.
sub sets {
    my ($prefix, $from, $n, $size) = @_;
    my $v = 'x' x $size;
    send_bytes($s, join('', map { "set $prefix$_ 0 0 $size noreply\r\n$v\r\n" } $from .. $from + $n - 1)
                   . "mn\r\n");
    read_line($s, 30) eq "MN\r\n" or BAIL_OUT('no reply to mn');
}
sub pages {
    my $sl = mem_stats($s, 'slabs');
    return { map { /^(\d+):total_pages$/ ? ($1 => $sl->{$_}) : () } keys %$sl };
}
sub class_stat { my ($id, $name) = @_; mem_stats($s, 'items')->{"items:$id:$name"} // 0 }
sub moved { mem_stats($s)->{slabs_moved} }

# Stores 20 KB values (keys big<j>.., from $j on) until a page has moved
# since $moved0, 90 s at most; returns the pages moved and the server
# seconds it took.
sub evict_until_moved {
    my ($j, $moved0) = @_;
    my ($t0, $moved) = (mem_stats($s)->{time}, 0);
    my $deadline = time + 90;
    while (time < $deadline) {
        sets('big', $j, 20, 20000);
        $j += 20;
        last if ($moved = moved() - $moved0) > 0;
    }
    return ($moved, mem_stats($s)->{time} - $t0);
}

# 100-byte values until the cache evicts; returns (class, next key number).
sub fill_small {
    my ($i, $deadline) = (0, time + 60);
    while (mem_stats($s)->{evictions} == 0 && time < $deadline) {
        sets('small', $i, 2000, 100);
        $i += 2000;
    }
    my $p = pages();
    my ($small) = sort { $p->{$b} <=> $p->{$a} } keys %$p;
    cmp_ok(mem_stats($s)->{evictions}, '>', 0, "100-byte values fill the cache (class $small, $p->{$small} pages)");
    return ($small, $i);
}

# Waits (deadline 30 s) until the server's clock has advanced $n seconds.
sub wait_server_seconds {
    my ($n) = @_;
    my $t0 = mem_stats($s)->{time};
    my $st = poll_stats($s, undef, sub { $_[0]{time} >= $t0 + $n }, 30);
    return $st->{time} >= $t0 + $n;
}

# ---- 1. a value size shift --------------------------------------------------
{
    my $srv = start_server(args => '-m 32 -o slab_automove_window=3');
    $s = $srv->new_sock;
    send_expect($s, "slabs automove 1\r\n", "OK\r\n", 'slabs automove 1');
    my ($small, $i) = fill_small();
    my $per_page = mem_stats($s, 'slabs')->{"$small:chunks_per_page"};
    my $small_evicted = class_stat($small, 'evicted');
    my $moved0 = moved();

    # 20 KB values until their class holds 4 pages.
    my ($j, $start, $first, $large, $p) = (0, time, undef, undef, undef);
    my $deadline = $start + 60;
    while (time < $deadline) {
        sets('big', $j, 50, 20000);
        $j += 50;
        $first //= time - $start if moved() > $moved0;
        $p = pages();
        ($large) = grep { $_ != $small } keys %$p;
        last if defined $large && $p->{$large} >= 4;
    }
    ok(defined $large && $p->{$large} >= 4, 'pages move to the 20 KB class ('
       . (defined $large ? "class $large: $p->{$large}" : 'none') . ')');
    note(sprintf('first move %.1f s after the shift (window 3; 1.6.45: about 1.4 s)', $first // -1));
    # (plus at most the page of a move still under way when the stats are read)
    my $moved = moved() - $moved0;
    cmp_ok(class_stat($small, 'evicted') - $small_evicted, '<=', ($moved + 1) * $per_page,
           "the small class loses only what its $moved moved pages (and one moving) held");

    # Small values again; pages come back from the idle 20 KB class.
    SKIP: {
        skip 'no 20 KB class', 1 unless defined $large;
        my $had = $p->{$small};
        my $k = $i;
        $deadline = time + 60;
        while (time < $deadline) {
            sets('small', $k, 2000, 100);
            $k += 2000;
            $p = pages();
            last if $p->{$small} >= $had + 2;
        }
        cmp_ok($p->{$small}, '>=', $had + 2,
               "back to 100-byte values: class $small takes pages back ($had -> $p->{$small})");
    }
    $srv->stop;
}

# ---- 2. eviction has to persist ---------------------------------------------
{
    my $srv = start_server(args => '-m 32 -o slab_automove_window=30');
    $s = $srv->new_sock;
    my ($small) = fill_small();
    # Let the small class's own evictions (the end of the fill) pass.
    ok(wait_server_seconds(2), 'the server clock moves on');
    my $moved0 = moved();

    # One burst: the 20 KB class evicts within a second or two, far fewer
    # rounds than the 8 of 30 it needs.
    sets('big', 0, 50, 20000);
    my ($large) = grep { $_ != $small } keys %{ pages() };
    ok(defined $large && class_stat($large, 'evicted') > 0, 'a burst of 20 KB values evicts in their class');
    ok(wait_server_seconds(4), 'four server seconds pass');
    is(moved() - $moved0, 0, 'no page moves after a short burst of evictions');

    # Evictions that go on: a page moves, and not before several seconds.
    my ($moved, $waited) = evict_until_moved(50, $moved0);
    cmp_ok($moved, '>', 0, 'a page moves once the 20 KB class keeps evicting');
    cmp_ok($waited, '>=', 3, "the move waited for eviction to persist ($waited server seconds)");
    $srv->stop;
}

# ---- 3. the age ratio ---------------------------------------------------------
{
    my $srv = start_server(args => '-m 32 -o slab_automove_window=3');
    $s = $srv->new_sock;
    fill_small();
    send_expect($s, "slabs automove ratio 0.01\r\n", "OK\r\n", 'slabs automove ratio 0.01');
    # One 300 KB value per server second: its class (a few chunks a page)
    # evicts every second, and its oldest item is always a second or more
    # old, so its age never falls under 0.01 times the small class's.
    my $last = 0;
    my $n = 0;
    my $one_a_second = sub {
        my $now = mem_stats($s)->{time};
        return if $now == $last;
        $last = $now;
        sets('huge', $n++, 1, 300000);
    };
    my $moved0 = moved();
    my $t0 = mem_stats($s)->{time};
    my $deadline = time + 60;
    while (time < $deadline && mem_stats($s)->{time} < $t0 + 8) {
        $one_a_second->();
        sleep 0.05;
    }
    my $st = mem_stats($s);
    cmp_ok($st->{evictions}, '>', 0, 'the 300 KB class evicts');
    cmp_ok($n, '>=', 5, "$n values of 300 KB written, one a second");
    is($st->{slabs_moved} - $moved0, 0, 'no page moves while its items are not young enough for the ratio');

    send_expect($s, "slabs automove ratio 0.8\r\n", "OK\r\n", 'slabs automove ratio 0.8');
    $deadline = time + 30;
    while (time < $deadline && moved() == $moved0) {
        $one_a_second->();
        sleep 0.05;
    }
    cmp_ok(moved() - $moved0, '>', 0, 'with ratio 0.8 a page moves to the 300 KB class');
    $srv->stop;
}

# ---- 4. a window changed at run time refills first ---------------------------
{
    my $srv = start_server(args => '-m 32 -o slab_automove_window=3');
    $s = $srv->new_sock;
    my ($small) = fill_small();
    ok(wait_server_seconds(2), 'the server clock moves on');
    send_expect($s, "slabs automove window 12\r\n", "OK\r\n", 'slabs automove window 12');
    my ($moved, $waited) = evict_until_moved(0, moved());
    cmp_ok($moved, '>', 0, 'a page moves to the 20 KB class');
    # 4 evicting rounds of 12 would do; the 12 rounds of a new window take
    # at least 11 seconds.
    cmp_ok($waited, '>=', 8, "not before the new window filled ($waited server seconds)");
    $srv->stop;
}

# ---- 5. runs, not seconds; the sysevents line ---------------------------------
{
    my $t_spawn = time;
    my $srv = start_server(args => '-m 32 -o slab_automove_window=20');
    my $t_up = time;
    my $w = $srv->new_sock;
    send_expect($w, "watch sysevents\r\n", "OK\r\n", 'watch sysevents');
    $s = $srv->new_sock;
    my ($small) = fill_small();
    my $t_filled = time;
    my ($moved) = evict_until_moved(0, 0);
    my $t_seen = time;
    cmp_ok($moved, '>', 0, 'window 20: a page moves to the 20 KB class');
    my ($large) = grep { $_ != $small } keys %{ pages() };
    $large //= -1;
    # Other sysevents (an LRU crawler's) may come first.
    my $line;
    my $deadline = time + 10;
    do { $line = read_log($w, 2) } while time < $deadline && !(defined $line && $line =~ /type=slab_move/);
    like($line // '(none)', qr/^ts=\d+\.\d+ gid=\d+ type=slab_move src=$small dst=$large state=ok\n\z/,
         "watch sysevents: the move's line (class $small to $large)");
    # When the move happened: its line's time, else (no line) when the
    # stats showed it, a little later.
    my $at = (defined $line && $line =~ /^ts=(\d+)\.(\d+) / ? $1 + $2 / 1e6 : $t_seen) - $t_spawn;
    note(sprintf('window 20: cache filled %.1f s after the spawn, first move at %.1f s (1.6.45: about 10 s)',
                 $t_filled - $t_spawn, $at));
    # Run 21 (the first that may decide) comes 10.1 s after the mover
    # started, which was before the server answered.
    cmp_ok($at, '>=', $t_up - $t_spawn + 9, 'no page moves before the window of 20 runs has filled');
    SKIP: {
        # Evicting from 5 s on, the 20 KB class evicts in more than 5 of
        # runs 1..21: it can take the page at run 21. A one-second grid
        # would not reach run 21 before 20 s.
        skip 'the cache filled late (loaded machine)', 1 if $t_filled - $t_spawn > 5;
        cmp_ok($at, '<', 16, 'the first runs come fast: the page moves soon after 10 s');
    }
    $srv->stop;
}

done_testing();
