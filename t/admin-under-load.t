#!/usr/bin/perl
# Admin commands that change run-time settings or walk every item
# (verbosity, stats detail, slabs automove, cache_memlimit, lru_crawler
# settings, probe_sample_rate, metadump, stats conns) while three clients
# set, touch, gat, mg T, md I and ma on their own keys on other workers.
# Every admin reply and every client reply must be memcached's. Under the
# ThreadSanitizer build (.ci/run) this is the test that makes the admin
# side and the workers meet: any race between them is a TSan report there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(time sleep);
use McTest;

my $SECONDS = $ENV{ADMIN_LOAD_SECONDS} // 4;
my $CLIENTS = 3;
my $WAIT    = 30;       # seconds one reply may take (a TSan build on a loaded machine)

my $srv = start_server(args => '-m 64 -t 4');

# One client: its own keys, each step's reply checked. Returns mismatches.
sub client {
    my ($id, $until) = @_;
    my $s = $srv->new_sock;
    my $bad = 0;
    my $i = 0;
    my $step = sub {
        my ($send, $expect) = @_;
        send_bytes($s, $send) or return ++$bad;
        my $got = read_bytes($s, length $expect, $WAIT);
        if ($got ne $expect) {
            diag("client $id: sent " . mc_escape($send) . ' got ' . mc_escape($got)
                 . ' expected ' . mc_escape($expect)) if $bad < 3;
            $bad++;
        }
    };
    while (time < $until && $bad == 0) {
        my $k = "c$id:" . ($i++ % 40);
        $step->("set $k 0 100 5\r\nhello\r\n", "STORED\r\n");
        $step->("touch $k 50\r\n", "TOUCHED\r\n");
        $step->("gat 60 $k\r\n", "VALUE $k 0 5\r\nhello\r\nEND\r\n");
        $step->("mg $k T30 v t\r\n", "VA 5 t30\r\nhello\r\n");
        $step->("md $k I T30\r\n", "HD\r\n");
        $step->("mg $k v\r\n", "VA 5 X W\r\nhello\r\n");
        $step->("ms $k 5 T20\r\nhello\r\n", "HD\r\n");
        $step->("ma n$id N40\r\n", "HD\r\n");
    }
    return $bad;
}

my $until = time + $SECONDS;
my @kids;
for my $id (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $bad = eval { client($id, $until) } // 99;
        _exit($bad > 99 ? 99 : $bad);
    }
    push @kids, $pid;
}

# The admin side: each command and the reply memcached gives it.
my @admin = (
    ["verbosity 1\r\n", "OK\r\n"],
    ["stats detail on\r\n", "OK\r\n"],
    ["slabs automove ratio 0.5\r\n", "OK\r\n"],
    ["slabs automove window 5\r\n", "OK\r\n"],
    ["slabs automove 1\r\n", "OK\r\n"],
    ["cache_memlimit 64\r\n", "OK\r\n"],
    ["lru_crawler sleep 50\r\n", "OK\r\n"],
    ["lru_crawler tocrawl 10\r\n", "OK\r\n"],
    ["probe_sample_rate 3\r\n", "OK\r\n"],
    ["lru_crawler metadump all\r\n", undef],
    ["stats conns\r\n", undef],
    ["stats detail dump\r\n", undef],
    ["slabs automove 2\r\n", "OK\r\n"],
    ["lru_crawler disable\r\n", "OK\r\n"],
    ["lru_crawler enable\r\n", "OK\r\n"],
    ["slabs automove 0\r\n", "OK\r\n"],
    ["probe_sample_rate 0\r\n", "OK\r\n"],
    ["stats detail off\r\n", "OK\r\n"],
    ["verbosity 0\r\n", "OK\r\n"],
    ["stats\r\n", undef],
);
my $a = $srv->new_sock;
my ($rounds, $admin_bad) = (0, 0);
while (time < $until || $rounds == 0) {
    for my $cmd (@admin) {
        my ($send, $expect) = @$cmd;
        send_bytes($a, $send) or do { $admin_bad++; last };
        if (defined $expect) {
            my $got = read_bytes($a, length $expect, $WAIT);
            next if $got eq $expect;
            diag('admin: sent ' . mc_escape($send) . ' got ' . mc_escape($got)) if $admin_bad < 3;
            $admin_bad++;
            next;
        }
        # A listing: lines up to END (metadump may be refused while a crawl runs).
        my $ok = 0;
        while (defined(my $line = read_line($a, $WAIT))) {
            # (metadump's lines end in "\n" alone: a read_line may hold several.)
            if ($line =~ /(?:^|\n)END\r\n\z/ || $line =~ /^BUSY /) { $ok = 1; last }
        }
        unless ($ok) {
            diag('admin: no END after ' . mc_escape($send)) if $admin_bad < 3;
            $admin_bad++;
        }
    }
    $rounds++;
    last if $admin_bad;
}
is($admin_bad, 0, "every admin reply is memcached's ($rounds rounds of " . scalar(@admin) . ' commands)');

# Clients end by themselves at $until; each gets $WAIT more to finish a step.
my $deadline = $until + $WAIT;
my %status;
while (keys %status < @kids && time < $deadline) {
    for my $pid (@kids) {
        next if exists $status{$pid};
        $status{$pid} = $? >> 8 if waitpid($pid, WNOHANG) == $pid;
    }
    sleep 0.05 if keys %status < @kids;
}
for my $i (0 .. $#kids) {
    my $pid = $kids[$i];
    unless (exists $status{$pid}) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $status{$pid} = 'still running at the deadline';
    }
    is($status{$pid}, 0, 'client ' . ($i + 1) . ": every reply is memcached's");
}

send_expect($a, "version\r\n", "VERSION 1.6.45\r\n", 'the server still answers');
done_testing();
