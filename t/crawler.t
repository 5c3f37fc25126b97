#!/usr/bin/perl
# The LRU crawler's automatic schedule and its "watch sysevents" lines, as
# in memcached 1.6.45: with the LRU maintainer, every LRU (each class's HOT,
# WARM, COLD and TEMP) is crawled at start and then after a wait of its
# own, which each crawl moves by what it found; each crawl is reported in
# one type=lru_crawler line per LRU. Without the maintainer nothing is
# crawled unless asked, and asked-for crawls are not reported.
#
# memcached-debug moves its clock with "debugtime"; any other server
# (MEMCACHED_BIN=/path/to/memcached too) is given real time, about two
# minutes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my @SEGS = qw(hot warm cold temp);
my %SEG_NO = map { $SEGS[$_] => $_ } 0 .. 3;

my $LINE = qr/^ts=(\d+)\.(\d+) gid=\d+ type=lru_crawler crawler=(\d+) lru=(hot|warm|cold|temp) /
         . qr/low_mark=(\d+) next_reclaims=(\d+) since_run=(\d+) next_run=(-?\d+) /
         . qr/elapsed=(\d+) examined=(\d+) reclaimed=(\d+)\n\z/;

# parse($line): the fields of a type=lru_crawler line as a hash (with
# key "class:lru" and memcached's LRU number), or undef for any other line.
sub parse {
    my ($line) = @_;
    $line =~ $LINE or return undef;
    # (memcached prints the microseconds unpadded)
    return { ts => $1 + $2 / 1e6, class => $3, lru => $4, low_mark => $5, next_reclaims => $6,
             since_run => $7, next_run => $8, elapsed => $9, examined => $10, reclaimed => $11,
             key => "$3:$4", number => $3 + 64 * $SEG_NO{$4} };
}

# The test's model of memcached's rule, per LRU: the wait (0 at start)
# shrinks by 60 s when more than 1% of the live items with a TTL (and at
# least 2) expire within the wait, grows by 60 s when none expires within
# the hour, or when they expire after the wait; at most an hour, and the
# next crawl is 5 s after it. Only this test's items are stored: the small
# class's all have less than a minute left when counted, the big class's
# have no TTL.
my %wait;
my ($bad_format, $bad_model, $line_reclaimed, @model_diag) = (0, 0, 0);
sub check_line {
    my ($line, $soon_class) = @_;
    my $f = parse($line);
    unless ($f) {
        $bad_format++;
        diag('not an lru_crawler line: ' . mc_escape($line));
        return undef;
    }
    $line_reclaimed += $f->{reclaimed};
    my $w = $wait{$f->{key}} // 0;
    my $soon = $f->{class} == $soon_class ? $f->{examined} : 0;
    my $low = int($f->{examined} / 100) + 1;    # the items this test stores all count
    $low = 1 if $f->{class} != $soon_class;     # ... or have no TTL
    if ($soon > $low) {
        $w -= 60 if $w >= 60;
    } elsif ($soon == 0) {
        $w += 60;
    }
    $w = 3600 if $w > 3600;
    $wait{$f->{key}} = $w;
    my $ok = $f->{low_mark} == $low && $f->{next_reclaims} == $soon && $f->{next_run} == $w + 5
        && $f->{since_run} <= 3 && $f->{elapsed} <= 2;
    unless ($ok) {
        $bad_model++;
        push @model_diag, "expected low_mark=$low next_reclaims=$soon next_run=" . ($w + 5)
            . ' since_run<=3 elapsed<=2: ' . mc_escape($line);
    }
    return $f;
}

# Two servers started together: A with the LRU maintainer (the default),
# B without.
my $A = start_server(args => '-m 64');
my $B = start_server(args => '-m 64 -o no_lru_maintainer');
my ($a, $b) = ($A->new_sock, $B->new_sock);
my $wa = $A->new_sock;
send_expect($wa, "watch sysevents\r\n", "OK\r\n", 'A: watch sysevents');
my $wb = $B->new_sock;
send_expect($wb, "watch sysevents\r\n", "OK\r\n", 'B: watch sysevents');
my $debug = $A->is_debug_build;
note($debug ? 'debug build: debugtime moves the clock' : 'no debugtime: real time, about two minutes');
sub advance {
    my ($secs) = @_;
    return unless $debug;
    debugtime($_, $secs) for $a, $b;
}

# Both: 10 items dead in 2 s and 20 with 100 s to live (10 B values), and
# 5 without TTL (2000 B values).
my $v = '0123456789';
my $big = 'k' x 2000;
my $store = join('', map { "set dead$_ 0 2 10\r\n$v\r\n" } 1 .. 10)
          . join('', map { "set soon$_ 0 100 10\r\n$v\r\n" } 1 .. 20)
          . join('', map { "set keep$_ 0 0 2000\r\n$big\r\n" } 1 .. 5);
send_expect($_, $store, "STORED\r\n" x 35, '35 items stored') for $a, $b;
my @classes = sort { $::a <=> $::b } map { /^items:(\d+):number$/ ? $1 : () } keys %{ mem_stats($b, 'items') };
is(scalar @classes, 2, 'two classes hold them');
my ($small, $bigc) = @classes;

# --- the start-up crawl and the first scheduled one (65 s after its report) ---
# The start-up crawl's report (all LRUs empty, next_run=65) may reach the
# watcher first if it came up within the first second; then the LRUs are
# crawled again 66 s later: one line for each of the 64 x 4 LRUs but the
# HOT LRU of class 0 (memcached's LRU number 0 is no LRU), in their order.
# With debugtime, the start-up crawl is reported first (a second after it
# ran), or its report would come late and move the schedule.
poll_stats($a, undef, sub { $_[0]{uptime} >= 4 }) if $debug;
advance(70);
my (@second, $startup_lines);
my $deadline = time + ($debug ? 20 : 100);
while (@second < 255 && time < $deadline) {
    my $l = read_log($wa, $deadline - time) // last;
    my $f = parse($l);
    if (!@second && $f && $f->{next_run} == 65 && $f->{examined} == 0 && $f->{reclaimed} == 0) {
        $startup_lines++;
        check_line($l, $small);
        next;
    }
    my $g = check_line($l, $small);
    push @second, $g if $g;
}
ok(!$startup_lines || $startup_lines == 255, 'the start-up report, if seen, has all 255 LRUs')
    or diag("startup lines: $startup_lines");
is(scalar @second, 255, 'the first scheduled crawl reports 255 LRUs');
my %seen = map { $_->{key} => 1 } @second;
my @want = grep { $_ ne '0:hot' } map { my $s = $_; map { "$_:$s" } 0 .. 63 } @SEGS;
is_deeply([ sort keys %seen ], [ sort @want ], 'one line for each LRU of classes 0..63, no HOT 0');
# Each look at the schedule reports in LRU number order; a crawl that
# spans a clock tick is reported in two looks, a second apart.
my @looks = ([]);
my $prev_ts;
for my $f (@second) {
    push @looks, [] if defined $prev_ts && $f->{ts} - $prev_ts > 0.5;
    push @{ $looks[-1] }, $f->{number};
    $prev_ts = $f->{ts};
}
is_deeply([ map { [ sort { $::a <=> $::b } @$_ ] } @looks ], \@looks,
          'in LRU number order (HOT of every class, then WARM, ...)');
my %sum;
for my $f (@second) {
    my $c = $f->{class} == $small ? 'small' : $f->{class} == $bigc ? 'big' : 'other';
    $sum{"$c examined"} += $f->{examined};
    $sum{"$c reclaimed"} += $f->{reclaimed};
}
is($sum{'small examined'}, 20, "class $small: 20 live items examined (the dead ones are not)");
is($sum{'big examined'}, 5, "class $bigc: 5 live items examined");
is(($sum{'other examined'} // 0) + ($sum{'other reclaimed'} // 0) + ($sum{'big reclaimed'} // 0), 0,
   'nothing anywhere else');
my $st = mem_stats($a);
is($st->{crawler_reclaimed}, $sum{'small reclaimed'}, 'the lines report every crawler reclaim');
is($st->{crawler_reclaimed} + $st->{reclaimed}, 10,
   'the crawler and the maintainer reclaimed the 10 dead items between them');
cmp_ok($st->{lru_crawler_starts}, '>=', 2, 'lru_crawler_starts: the start-up crawl and this one');
my @fast = grep { $_->{class} == $small && $_->{next_run} == 5 } @second;
ok(@fast >= 1, 'an LRU with more than 1% of its items expiring within the minute comes back in 5 s');

# --- the small class's LRUs come back every 6 s until their items are gone ---
# (7 s between lines: due 6 s after a report, reported a second later.)
my %fast_left = map { $_->{key} => 1 } @fast;
my %last;
$deadline = time + ($debug ? 30 : 70);
my $steps = 0;
while (time < $deadline) {
    if ($debug) {
        last if $steps == 8;            # 48 s: the items' 100 s are over
        advance(6);
        $steps++;
        my %due = map { $_ => 1 } grep { $wait{$_} == 0 } keys %wait;
        while (keys %due && time < $deadline) {
            my $l = read_log($wa, $deadline - time) // last;
            my $f = check_line($l, $small) or next;
            ok(0, "$f->{key} was not due") unless delete $due{$f->{key}};
            $last{$f->{key}} = $f;
        }
        is(scalar keys %due, 0, "step $steps: every LRU due was crawled");
        next;
    }
    my $l = read_log($wa, $deadline - time) // last;
    my $f = check_line($l, $small) or next;
    $last{$f->{key}} = $f;
    last if !grep { !$last{$_} || $last{$_}{examined} } keys %fast_left;
}
for my $k (sort keys %fast_left) {
    my $f = $last{$k};
    ok($f && $f->{examined} == 0 && $f->{next_run} == 65,
       "$k: once its items are gone, back to a 60 s wait (next_run=65)");
}
$st = poll_stats($a, undef, sub { $_[0]{curr_items} == 5 });
is($st->{curr_items}, 5, 'A: only the 5 items without TTL are left');
is($st->{crawler_reclaimed}, $line_reclaimed, 'the lines report every crawler reclaim');
is($st->{crawler_reclaimed} + $st->{reclaimed}, 30, 'crawler and maintainer reclaimed all 30');
is($bad_format, 0, 'every line in memcached\'s format');
is($bad_model, 0, 'every line follows the schedule\'s rule') or diag(join "\n", @model_diag[0 .. ($#model_diag < 9 ? $#model_diag : 9)]);

# --- crawls asked for are not reported ---
{
    my $reply;
    my $until = time + 10;
    do {
        send_bytes($a, "lru_crawler crawl all\r\n");
        $reply = read_line($a) // '';
        sleep 0.05 if $reply =~ /^BUSY/;
    } while ($reply =~ /^BUSY/ && time < $until);
    is($reply, "OK\r\n", 'A: lru_crawler crawl all');
    poll_stats($a, undef, sub { !$_[0]{lru_crawler_running} });
    expect_nothing($wa, 1500, 'A: no line for a crawl that was asked for');
}

# --- no LRU maintainer: no automatic crawl ---
{
    expect_nothing($wb, 300, 'B (no_lru_maintainer): no line all along');
    my $st = mem_stats($b);
    is($st->{lru_crawler_starts}, 0, 'B: no crawl started');
    is($st->{crawler_items_checked}, 0, 'B: no item looked at');
    is($st->{curr_items}, 35, 'B: the dead items wait for a crawl or a fetch');
    send_expect($b, "lru_crawler crawl all\r\n", "OK\r\n", 'B: lru_crawler crawl all');
    $st = poll_stats($b, undef, sub { $_[0]{crawler_reclaimed} >= 30 && !$_[0]{lru_crawler_running} });
    is($st->{crawler_reclaimed}, 30, 'B: the crawl reclaims the 30 dead items');
    is($st->{lru_crawler_starts}, 1, 'B: one crawl');
    expect_nothing($wb, 1500, 'B: and it is not reported');
}

# --- lru_crawler disable stops the schedule; enable resumes it (debug build) ---
if ($debug) {
    send_expect($a, "lru_crawler disable\r\n", "OK\r\n", 'A: lru_crawler disable');
    my $starts = mem_stats($a)->{lru_crawler_starts};
    debugtime($a, 4000);
    expect_nothing($wa, 2500, 'disabled: nothing crawled an hour later');
    is(mem_stats($a)->{lru_crawler_starts}, $starts, '... no crawl started');
    send_expect($a, "lru_crawler enable\r\n", "OK\r\n", 'A: lru_crawler enable');
    my $n = 0;
    my $until = time + 15;
    while ($n < 255 && time < $until) {
        my $l = read_log($wa, $until - time) // last;
        check_line($l, $small) and $n++;
    }
    is($n, 255, 'enabled again: every LRU, overdue, is crawled at once');
    is($bad_model, 0, '... by the same rule');
}

done_testing();
