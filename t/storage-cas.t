#!/usr/bin/perl
# Compare-and-swap under contention.
#   1. Lockstep rounds: two connections (served by different worker
#      threads) read the same cas unique with gets, then both send a cas
#      at once; exactly one must win each round.
#   2. Free-running: two processes each add 1 to a counter with
#      gets/cas retry loops; no increment may be lost or doubled.
# Then the cas_hits / cas_badval / cas_misses counters must match what the
# clients saw, exactly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(_exit);
use McTest;

my $srv = start_server(args => '-m 64 -t 4');
my ($a, $b) = ($srv->new_sock, $srv->new_sock);

# gets $key on $s: (value, cas) or () on a miss.
sub gets {
    my ($s, $key) = @_;
    send_bytes($s, "gets $key\r\n");
    my $l = read_line($s) // die "gets $key: no reply\n";
    return () if $l eq "END\r\n";
    $l =~ /^VALUE \Q$key\E \d+ (\d+) (\d+)\r\n\z/ or die "gets $key: bad reply " . mc_escape($l) . "\n";
    my ($len, $cas) = ($1, $2);
    my $v = read_bytes($s, $len + 2);
    my $end = read_line($s) // '';
    die "gets $key: bad end " . mc_escape($end) . "\n" unless $end eq "END\r\n";
    return (substr($v, 0, $len), $cas);
}

my %seen = (STORED => 0, EXISTS => 0, NOT_FOUND => 0);

# --- 1. lockstep rounds ---------------------------------------------------------
send_expect($a, "set race 0 0 1\r\n0\r\n", "STORED\r\n", 'set race = 0');
my $ROUNDS = 500;
my ($one_winner, $winner_a, $bad_reply, $value_ok) = (0, 0, 0, 0);
for my $r (1 .. $ROUNDS) {
    my ($va, $ca) = gets($a, 'race');
    my ($vb, $cb) = gets($b, 'race');
    last unless defined $ca && defined $cb && $ca == $cb;
    my $na = "a$r";
    my $nb = "b$r";
    # Both requests are on the wire before either reply is read; alternate
    # which goes first.
    my @order = $r % 2 ? ([$a, $na, $ca], [$b, $nb, $cb]) : ([$b, $nb, $cb], [$a, $na, $ca]);
    send_bytes($_->[0], "cas race 0 0 " . length($_->[1]) . " $_->[2]\r\n$_->[1]\r\n") for @order;
    my $ra = read_line($a) // '';
    my $rb = read_line($b) // '';
    for ($ra, $rb) {
        if (/^(STORED|EXISTS|NOT_FOUND)\r\n\z/) { $seen{$1}++ } else { $bad_reply++ }
    }
    my $won = ($ra eq "STORED\r\n") + ($rb eq "STORED\r\n");
    $one_winner++ if $won == 1 && ($ra eq "EXISTS\r\n" || $rb eq "EXISTS\r\n");
    $winner_a++ if $ra eq "STORED\r\n";
    my ($now) = gets($a, 'race');
    $value_ok++ if defined $now && $now eq ($ra eq "STORED\r\n" ? $na : $nb);
}
is($bad_reply, 0, 'every cas reply is STORED, EXISTS or NOT_FOUND');
is($one_winner, $ROUNDS, "exactly one winner and one EXISTS in each of $ROUNDS rounds");
is($value_ok, $ROUNDS, "the stored value is the winner's in every round");
note("connection a won $winner_a of $ROUNDS rounds");

# cas on a key that is not there, and with a stale unique.
send_expect($a, "cas nosuch 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n", 'cas on a missing key: NOT_FOUND');
$seen{NOT_FOUND}++;
my (undef, $stale) = gets($a, 'race');
send_expect($a, "set race 0 0 1\r\n0\r\n", "STORED\r\n", 'reset race = 0 (plain set changes the unique)');
send_expect($a, "cas race 0 0 1 $stale\r\nx\r\n", "EXISTS\r\n", 'cas with the unique from before the set: EXISTS');
$seen{EXISTS}++;
send_expect($a, "delete race\r\n", "DELETED\r\n", 'delete race');
send_expect($a, "cas race 0 0 1 $stale\r\nx\r\n", "NOT_FOUND\r\n", 'cas after delete: NOT_FOUND');
$seen{NOT_FOUND}++;
send_expect($a, "set counter 0 0 1\r\n0\r\n", "STORED\r\n", 'set counter = 0');

# --- 2. free-running incrementers ---------------------------------------------------
# Each child does $INCS successful increments and reports how many EXISTS
# and NOT_FOUND replies it got on a pipe.
my $INCS = 1500;
my @kids;
for my $id (1 .. 2) {
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        my ($exists, $notfound, $err) = (0, 0, 0);
        eval {
            my $s = $srv->new_sock;
            my $done = 0;
            my $deadline = time + 120;     # a server that never stores must not hang us
            while ($done < $INCS) {
                die "only $done of $INCS increments stored in 120 s\n" if time > $deadline;
                my ($v, $cas) = gets($s, 'counter');
                die "counter vanished\n" unless defined $cas;
                my $nv = $v + 1;
                send_bytes($s, "cas counter 0 0 " . length($nv) . " $cas\r\n$nv\r\n");
                my $r = read_line($s) // die "no cas reply\n";
                if    ($r eq "STORED\r\n")    { $done++ }
                elsif ($r eq "EXISTS\r\n")    { $exists++ }
                elsif ($r eq "NOT_FOUND\r\n") { $notfound++ }
                else { die "bad cas reply " . mc_escape($r) . "\n" }
            }
            1;
        } or do { $err = 1; print STDERR "child $id: $@" };
        print $wr "$exists $notfound $err\n";
        close $wr;
        _exit(0);
    }
    close $wr;
    push @kids, [$pid, $rd];
}
my ($exists_kids, $notfound_kids, $err_kids) = (0, 0, 0);
for my $k (@kids) {
    my $line = readline($k->[1]) // "0 0 1\n";
    my ($e, $nf, $er) = split ' ', $line;
    $exists_kids += $e; $notfound_kids += $nf; $err_kids += $er;
    waitpid $k->[0], 0;
}
is($err_kids, 0, 'both incrementers ran without protocol errors');
my ($final) = gets($a, 'counter');
is($final, 2 * $INCS, "counter is exactly 2 x $INCS: no increment lost or doubled");
is($notfound_kids, 0, 'no NOT_FOUND while the key existed');
note("incrementers saw $exists_kids EXISTS replies");

# --- the counters -----------------------------------------------------------------
my $st = mem_stats($a);
is($st->{cas_hits}, $seen{STORED} + 2 * $INCS, 'cas_hits = every STORED reply to a cas');
is($st->{cas_badval}, $seen{EXISTS} + $exists_kids, 'cas_badval = every EXISTS reply');
is($st->{cas_misses}, $seen{NOT_FOUND} + $notfound_kids, 'cas_misses = every NOT_FOUND reply');
is($st->{cmd_set}, 3 + ($seen{STORED} + $seen{EXISTS} + $seen{NOT_FOUND}) + 2 * $INCS + $exists_kids,
   'cmd_set counts the sets and every cas attempt');

is($srv->stop, 0, 'server exits 0 on TERM');
# --- how CAS uniques are numbered ------------------------------------------------
# As memcached 1.6.45: the first one handed out is 2; every store that is
# tried takes one, stored or not, unless it brings its own (meta E); an
# incr in place takes one even with E.
{
    my $srv2 = start_server(args => '-m 64');
    my $c = $srv2->new_sock;
    send_expect($c, "set n1 0 0 1\r\nx\r\n", "STORED\r\n", 'first set');
    my (undef, $first) = gets($c, 'n1');
    is($first, 2, 'the first CAS unique is 2');
    # step($cmd, $reply, $takes, $name): after $cmd, a set gets a unique
    # $takes + 1 above the previous one.
    my $prev = $first;
    my $step = sub {
        my ($cmd, $reply, $takes, $name) = @_;
        send_expect($c, $cmd, $reply, $name);
        send_expect($c, "set probe 0 0 1\r\nx\r\n", "STORED\r\n", "probe after: $name");
        my (undef, $cas) = gets($c, 'probe');
        is($cas - $prev - 1, $takes, "$name takes $takes unique(s)");
        $prev = $cas;
    };
    $step->("add n1 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 1, 'a refused add');
    $step->("replace nx 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 1, 'a refused replace');
    $step->("append nx 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 1, 'a refused append');
    $step->("cas n1 0 0 1 1\r\nx\r\n", "EXISTS\r\n", 1, 'a cas that lost');
    $step->("cas nx 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n", 1, 'a cas of a missing key');
    $step->("ms n1 1 MR E500\r\nx\r\n", "HD\r\n", 0, 'an ms with E');
    my (undef, $e) = gets($c, 'n1');
    is($e, 500, 'which set the unique it brought');
    $step->("ms nx 1 MR E600\r\nx\r\n", "NS\r\n", 0, 'a refused ms with E');
    $step->("mg nv N30 E700\r\n", "HD W\r\n", 0, 'an mg that vivifies with E');
    $step->("set n2 0 0 1\r\n5\r\n", "STORED\r\n", 1, 'a set');
    $step->("ma n2 E900\r\n", "HD\r\n", 1, 'an incr in place with E');
    $step->("incr nx 1\r\n", "NOT_FOUND\r\n", 0, 'an incr of a missing key');
    $step->("get n1\r\n", "VALUE n1 0 1\r\nx\r\nEND\r\n", 0, 'a get');
    $srv2->stop;
}

done_testing;
