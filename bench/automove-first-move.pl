#!/usr/bin/perl
# automove-first-move.pl: when does the automover move its first page?
# The load of t/storage-automove.t and the table in docs/options.md: a
# fresh server with -m 32 and slab_automove_window=W, 100-byte values
# until it evicts, then 20 KB values until a page moves. Prints, per run,
# seconds from the server's start (the spawn) to the first 20 KB store
# (the shift), to the first move, and from the shift to that move,
# plus the move's `watch sysevents` line when the server logs one.
#
#   bench/automove-first-move.pl [--ref PATH] [--ours PATH] [--runs N]
#                                [--delay S] W...
#
# --delay S waits S seconds between the fill and the first 20 KB store.
# Runs alternate between the servers. The move time is the ts= of its
# sysevents line when there is one (the decision: the page is emptied
# after), else the first stats poll that saw it (slabs_moved counts a move
# once done); "seen" is that poll.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Cwd ();
use Getopt::Long;
use Time::HiRes qw(time sleep);
use McTest;

my %o = (runs => 1);
GetOptions(\%o, 'ref=s', 'ours=s', 'runs=i', 'delay=f')
    or die "usage: $0 [--ref PATH] [--ours PATH] [--runs N] [--delay S] WINDOW...\n";
my @windows = @ARGV ? @ARGV : (3, 5, 10, 20, 30, 60);
$o{ours} //= (grep { -x } map { "$FindBin::Bin/../$_" } qw(_build/memcached/memcached memcached/memcached))[0];
$_ = Cwd::abs_path($_) for grep { defined } @o{qw(ours ref)};
my @servers = (['ours', $o{ours}]);
push @servers, ['1.6.45', $o{ref}] if $o{ref};

sub sets {
    my ($s, $prefix, $from, $n, $size) = @_;
    my $v = 'x' x $size;
    send_bytes($s, join('', map { "set $prefix$_ 0 0 $size noreply\r\n$v\r\n" } $from .. $from + $n - 1)
                   . "mn\r\n");
    read_line($s, 30) eq "MN\r\n" or die "no reply to mn\n";
}

sub one_run {
    my ($bin, $window) = @_;
    my $t0 = time;
    my $srv = start_server(binary => $bin, args => "-m 32 -o slab_automove_window=$window");
    my $w = $srv->new_sock;
    send_expect($w, "watch sysevents\r\n", "OK\r\n", 'watch sysevents');
    my $s = $srv->new_sock;
    my $i = 0;
    while (mem_stats($s)->{evictions} == 0 && time < $t0 + 60) {
        sets($s, 'small', $i, 2000, 100);
        $i += 2000;
    }
    sleep($o{delay}) if $o{delay};
    my $filled = time;
    my ($j, $seen) = (0, undef);
    while (time < $filled + 120) {
        sets($s, 'big', $j, 20, 20000);
        $j += 20;
        if (mem_stats($s)->{slabs_moved} > 0) {
            $seen = time;
            last;
        }
    }
    my $line;   # other sysevents (memcached's LRU crawler) are skipped
    if (defined $seen) {
        do { $line = read_log($w, 2) } while defined $line && $line !~ /type=slab_move/;
    }
    my $moved = $line && $line =~ /^ts=(\d+)\.(\d+) / ? $1 + $2 / 1e6 : $seen;
    $srv->stop;
    return ($filled - $t0, defined $moved ? $moved - $t0 : undef,
            defined $moved ? $moved - $filled : undef, defined $seen ? $seen - $t0 : undef,
            $line // "(no sysevents line)\n");
}

Test::More::plan('no_plan');   # send_expect reports through Test::More
for my $window (@windows) {
    for my $run (1 .. $o{runs}) {
        for my $sv (@servers) {
            my ($fill, $from_start, $from_shift, $seen, $line) = one_run($sv->[1], $window);
            my $load = (split ' ', `cat /proc/loadavg`)[0];
            Test::More::diag(sprintf("window %-4d %-6s shift at %5.1f s  first move %s s after start, %s s after the shift (seen %s)  load %s  %s",
                $window, $sv->[0], $fill, map({ defined $_ ? sprintf('%5.1f', $_) : ' none' } $from_start, $from_shift, $seen),
                $load, $line =~ s/\n\z//r));
        }
    }
}
