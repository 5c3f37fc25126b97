#!/usr/bin/perl
# request__sample fires for about one key-level operation in
# probe_sample_rate, with the arguments request__done has for the same
# operation: a load of 2,000 gets (9 keys that hit, 1 that misses) and 9
# sets at rate 10 must give 2009/10 samples give or take 20% (the gaps are
# uniform in 1..19, so the count's spread is a few samples), each one
# right after the request__done of its operation and equal to it.  Rate 1
# samples every operation, rate 0 none; a rate set with the command takes
# effect at once.  rate itself (arg7) needs bpftrace 0.24 to be read here;
# mctop.t checks it through mctop's sample_rate.
# Needs root and bpftrace; skipped otherwise (failed under
# MEMCACHED_REQUIRE_PROBES).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

require_probes_or_skip('all');

my $U = 'usdt:{BIN}:memcached';
my $BOTH = "$U:request__done { printf(\"%llu|done|%d|%s|%s|%d|%s|%lld\\n\", nsecs, arg0, "
         . "str(arg1), str(arg2), arg3, str(arg4), arg5); }\n"
         . "$U:request__sample { printf(\"%llu|sample|%d|%s|%s|%d|%s|%lld\\n\", nsecs, arg0, "
         . "str(arg1), str(arg2), arg3, str(arg4), arg5); }\n";

sub trace {
    my ($srv, $client) = @_;
    my @rows = map { [ split /\|/, $_, -1 ] } grep { /^\d+\|/ } trap_probe($srv, $BOTH, $client);
    return sort { $a->[0] <=> $b->[0] } @rows;
}

sub load {
    my ($s, $rounds) = @_;
    for my $i (0 .. 8) {
        my $v = 'v' x ($i + 1);
        send_expect($s, "set s:$i 0 0 " . length($v) . "\r\n$v\r\n", "STORED\r\n", "set s:$i")
            if $rounds;
    }
    my $req = 'get ' . join(' ', map { "s:$_" } 0 .. 9) . "\r\n";
    my $want = join('', map { my $v = 'v' x ($_ + 1); "VALUE s:$_ 0 " . length($v) . "\r\n$v\r\n" } 0 .. 8)
             . "END\r\n";
    my $bad = 0;
    for (1 .. $rounds) {
        send_bytes($s, $req);
        my $got = read_bytes($s, length $want);
        $bad++ if $got ne $want;
    }
    is($bad, 0, "$rounds multigets answered right");
}

my $srv = start_server(args => '-t 1 -o probe_sample_rate=10');
{
    my @rows = trace($srv, sub { load($srv->new_sock, 200) });
    my @done = grep { $_->[1] eq 'done' } @rows;
    my @samples = grep { $_->[1] eq 'sample' } @rows;
    is(scalar @done, 2009, 'request__done: every operation');
    my $n = scalar @samples;
    ok($n >= 0.8 * 200.9 && $n <= 1.2 * 200.9, "rate 10: $n samples of 2009 operations (200.9 +-20%)");
    my %keys = map { $_->[4] => 1 } @samples;
    ok(keys(%keys) >= 8, 'samples spread over the keys (' . join(' ', sort keys %keys) . ')');
    # each sample follows the request__done of its operation, same values
    my $mismatch = 0;
    for my $i (0 .. $#rows) {
        next unless $rows[$i][1] eq 'sample';
        my $d = $i > 0 ? $rows[$i - 1] : undef;
        $mismatch++ unless $d && $d->[1] eq 'done'
            && join('|', @$d[2 .. 7]) eq join('|', @{$rows[$i]}[2 .. 7]);
    }
    is($mismatch, 0, 'every sample carries its operation\'s request__done values');
    my @bad = grep { !(($_->[3] eq 'get' && $_->[4] =~ /^s:([0-8])$/ && $_->[6] eq 'hit'
                        && $_->[7] == $1 + 1)
                       || ($_->[3] eq 'get' && $_->[4] eq 's:9' && $_->[6] eq 'miss' && $_->[7] == -1)
                       || ($_->[3] eq 'set' && $_->[4] =~ /^s:([0-8])$/ && $_->[6] eq 'stored'
                           && $_->[7] == $1 + 1))
                     || $_->[5] != length($_->[4]) || $_->[2] <= 0 } @samples;
    is(scalar @bad, 0, 'sample arguments: cmd, key, keylen, status, valuelen as sent')
        or diag(join("\n", map { join('|', @$_) } @bad[0 .. ($#bad < 4 ? $#bad : 4)]));
}
{
    my $s = $srv->new_sock;
    send_expect($s, "probe_sample_rate 1\r\n", "OK\r\n", 'rate 1 at run time');
    my @rows = trace($srv, sub { load($s, 20) });
    is(scalar(grep { $_->[1] eq 'sample' } @rows), 209, 'rate 1: every operation sampled');
    send_expect($s, "probe_sample_rate 0\r\n", "OK\r\n", 'rate 0 at run time');
    @rows = trace($srv, sub { load($s, 20) });
    is(scalar(grep { $_->[1] eq 'sample' } @rows), 0, 'rate 0: nothing sampled');
    is(scalar(grep { $_->[1] eq 'done' } @rows), 209, 'rate 0: request__done still fires');
}

done_testing();
