#!/usr/bin/perl
# With a memory file (-e), the whole file is item memory from the start, as
# in memcached: a fresh start gives every class one page and puts the rest
# in the global page pool; a warm restart gives back the pages as they were
# at the stop (classes and pool); so one busy class never gets more than
# its page plus the pool. Runs against any binary (MEMCACHED_BIN).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;
use McNet qw(run_server);

my $dir = tempdir(CLEANUP => 1);
my $MB = 1024 * 1024;

# class id => total_pages, from stats slabs.
sub class_pages {
    my $st = shift;
    my %pages = map { /^(\d+):total_pages$/ ? ($1 => $st->{$_}) : () } keys %$st;
    return \%pages;
}

sub fill {
    my ($sock, $prefix, $size, $count) = @_;
    my $v = 'v' x $size;
    my $buf = '';
    for my $i (1 .. $count) {
        $buf .= "set $prefix$i 0 0 $size noreply\r\n$v\r\n";
        if (length $buf > 256 * 1024) { send_bytes($sock, $buf); $buf = '' }
    }
    line_is($sock, $buf . "mn\r\n", "MN\r\n", "$count values of $size bytes sent");
}

# Fresh start: one page per class, the rest of -m in the pool.
for my $m (64, 100) {
    my $file = "$dir/fresh$m.mem";
    my $srv = start_server(args => "-e $file -m $m");
    my $s = $srv->new_sock;
    my $slabs = mem_stats($s, 'slabs');
    my $pages = class_pages($slabs);
    my $classes = scalar keys %$pages;
    ok($classes > 30, "-m $m: every class is listed ($classes)");
    is(scalar(grep { $_ != 1 } values %$pages), 0, "-m $m: each class has one page");
    is($slabs->{active_slabs}, $classes, "-m $m: active_slabs counts them all");
    is($slabs->{total_malloced}, $m * $MB, "-m $m: total_malloced is all of -m");
    is(mem_stats($s)->{slab_global_page_pool}, $m - $classes, "-m $m: the other pages are in the pool");
    $srv->stop;
}

# -m too small for a page in every class: the start is refused.
{
    my ($rc, $out) = run_server(argv => ['-p', 0, '-U', 0, '-m', 8, '-e', "$dir/small.mem"]);
    is($rc, 1, '-m 8 -e: exits 1');
    like($out, qr/max memory must be at least \d+ megabytes/, 'and says how much is needed');
}

# Eviction capacity: one class gets its own page plus the pool, no more.
{
    my $srv = start_server(args => "-e $dir/evict.mem -m 64");
    my $s = $srv->new_sock;
    my $pool = mem_stats($s)->{slab_global_page_pool};
    fill($s, 'e', 100, 400_000);
    my $slabs = mem_stats($s, 'slabs');
    my ($cls) = grep { ($slabs->{"$_:used_chunks"} // 0) > 0 } keys %{ class_pages($slabs) };
    is($slabs->{"$cls:total_pages"}, $pool + 1, "100-byte values fill their page and the pool ($pool + 1)");
    my $st = mem_stats($s);
    ok($st->{evictions} > 0, 'and then evict');
    is($st->{slab_global_page_pool}, 0, 'the pool is used up');
    $srv->stop;
}

# Warm restart: classes get their pages back, the pool its pages, and
# memcached reports no memory taken (nothing is carved anew).
{
    my $file = "$dir/warm.mem";
    my $srv = start_server(args => "-e $file -m 64");
    my $s = $srv->new_sock;
    fill($s, 'a', 100, 30_000);
    fill($s, 'b', 1000, 5_000);
    fill($s, 'c', 20_000, 300);
    my $before = class_pages(mem_stats($s, 'slabs'));
    my $pool = mem_stats($s)->{slab_global_page_pool};
    ok($pool > 0 && $pool < 25, "some of the pool was taken ($pool left)");
    is(graceful_stop($srv), 0, 'graceful stop');
    # memcached refuses metadata saved in the second it restarts in.
    my $stopped = int(time);
    sleep 0.05 while int(time) == $stopped;
    $srv = start_server(args => "-e $file -m 64");
    $s = $srv->new_sock;
    my $slabs = mem_stats($s, 'slabs');
    is_deeply(class_pages($slabs), $before, 'every class has the pages it had');
    is(mem_stats($s)->{curr_items}, 35_300, 'with its items');
    is(mem_stats($s)->{slab_global_page_pool}, $pool, 'the pool has the pages it had');
    is($slabs->{total_malloced}, 0, 'total_malloced is 0 after a restart, as in memcached');
    fill($s, 'd', 100, 200_000);
    my $after = class_pages(mem_stats($s, 'slabs'));
    my $sum = 0;
    $sum += $_ for values %$after;
    is($sum, 64, 'filling after the restart uses the whole file, no more');
    is(mem_stats($s)->{slab_global_page_pool}, 0, 'the pool is used up');
    $srv->stop;
}

done_testing;
