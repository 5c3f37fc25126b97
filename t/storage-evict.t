#!/usr/bin/perl
# Eviction under a small memory limit: with -m 8, write about 50 MB of
# 1-4 KB values (sizes from a fixed-seed generator, pipelined with noreply,
# then one synchronous command), and check that
#   - the server's resident memory stays within the limit plus a fixed
#     overhead (see $RSS_OVERHEAD_KB below);
#   - "evictions" rises and curr_items is far below what was written;
#   - the most recently written keys are all still there;
#   - every value that comes back, old or new, is byte-exact.
# Each value is a function of its key, so any hit can be checked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

# What the server may hold in memory beyond the -m limit, in KB.
# Measured (x86_64, glibc, -m 8, default -t 4), VmRSS:
#   right after start, idle: about 2.7 MB (binary, libc, the worker and
#   background threads' stacks, connection table); the hash table
#   (hashpower 16, 8 B a bucket = 512 KB) is calloc'ed but not yet touched.
#   after this test's 50 MB: about 11.1 MB, i.e. 2.9 MB above the limit:
#   the idle part, the hash table (most buckets touched by ~20000 keys),
#   this connection's read buffer for 256 KB pipelined bursts, and the
#   allocator's slack.  (memcached 1.6.45 measured 3.7 MB above the limit
#   here, Debian's 1.6.18 5.4 MB.)
# Allow 6 MB: about twice what was measured; a leak of a tenth of the data
# written (5 MB) on top of the measured 2.9 MB would not fit in it.
my $LIMIT_MB       = 8;
my $RSS_OVERHEAD_KB = 6 * 1024;

my $TOTAL_BYTES = 50 * 1024 * 1024;
my $SEED        = 0x5eed1234;

# Deterministic generator (LCG, 31-bit state); sizes in 1024..4096.
sub size_for {
    my ($i) = @_;
    my $x = ($SEED ^ ($i * 2654435761)) % 2147483648;
    $x = ($x * 1103515245 + 12345) % 2147483648 for 1 .. 3;
    return 1024 + $x % 3073;
}
sub key_for { sprintf 'ev:%07d', $_[0] }
# "key|size|" repeated, cut to the size: a wrong key, a wrong length or
# shifted bytes all show.
sub value_for {
    my ($i) = @_;
    my $n = size_for($i);
    my $unit = key_for($i) . "|$n|";
    return substr($unit x (int($n / length $unit) + 1), 0, $n);
}

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)\s+kB/ }
    return undef;
}

my $srv = start_server(args => "-m $LIMIT_MB");
my $s = $srv->new_sock;
my $rss_idle = rss_kb($srv->pid);
ok(defined $rss_idle, "read VmRSS of the server (idle: ${\ ($rss_idle // '?')} kB)");

# --- write ~50 MB, pipelined ---------------------------------------------------
my ($n, $written, $buf) = (0, 0, '');
while ($written < $TOTAL_BYTES) {
    my $v = value_for($n);
    $buf .= 'set ' . key_for($n) . ' ' . ($n % 65536) . " 0 " . length($v) . " noreply\r\n$v\r\n";
    $written += length $v;
    $n++;
    if (length $buf > 256 * 1024) { send_bytes($s, $buf) or die "send: $!"; $buf = '' }
}
send_bytes($s, $buf) or die "send: $!";
send_expect($s, "version\r\n", "VERSION ", 'server answers after the burst (nothing else was sent back)', 30);
like(read_line($s) // '', qr/^\S+\r\n\z/, 'version line complete');
note("wrote $n keys, $written value bytes");

my $st = mem_stats($s);
cmp_ok($st->{evictions}, '>', 0, "evictions rose ($st->{evictions})");
cmp_ok($st->{curr_items}, '<', $n / 2, "curr_items ($st->{curr_items}) well below keys written ($n)");
    # Seen off by -1 and +16 on the ASAN build, now and then, right after a
    # burst while the LRU maintainer still moves items between segments.
    cmp_ok($st->{curr_items} + $st->{evictions}, '==', $n,
           'every key written is either held or was evicted (no other loss)');
cmp_ok($st->{total_items}, '==', $n, 'total_items counts every store');
is($st->{store_no_memory}, 0, 'no store failed for lack of memory (evictions are on)');

my $rss = rss_kb($srv->pid);
my $cap = $LIMIT_MB * 1024 + $RSS_OVERHEAD_KB;
SKIP: {
    # AddressSanitizer's shadow memory and quarantine make RSS meaningless.
    my $maps = do { local (@ARGV, $/) = ("/proc/${\ $srv->pid}/maps"); <> } // '';
    skip 'sanitizer build: RSS not comparable', 1 if $maps =~ /libasan|libtsan/;
    cmp_ok($rss, '<=', $cap, "VmRSS ${rss} kB within -m $LIMIT_MB plus $RSS_OVERHEAD_KB kB overhead ($cap kB)");
}
note(sprintf 'VmRSS idle %d kB, after %d kB; %d kB above the limit', $rss_idle, $rss,
     $rss - $LIMIT_MB * 1024);

# --- the newest keys are there -------------------------------------------------
my $RECENT = 200;
my $recent_ok = 0;
for my $i ($n - $RECENT .. $n - 1) {
    my $k = key_for($i);
    my $v = value_for($i);
    my $f = $i % 65536;
    send_bytes($s, "get $k\r\n");
    my $got = read_bytes($s, length("VALUE $k $f " . length($v) . "\r\n$v\r\nEND\r\n"));
    $recent_ok++ if $got eq "VALUE $k $f " . length($v) . "\r\n$v\r\nEND\r\n";
}
is($recent_ok, $RECENT, "the $RECENT most recently written keys are all there, byte-exact");

# --- every hit is byte-exact ----------------------------------------------------
# Multi-gets over the whole key space; parse each VALUE and compare with
# what was written for that key.
my ($hits, $bad, $proto) = (0, 0, 0);
my $BATCH = 100;
for (my $from = 0; $from < $n; $from += $BATCH) {
    my $to = $from + $BATCH - 1;
    $to = $n - 1 if $to > $n - 1;
    send_bytes($s, 'get ' . join(' ', map { key_for($_) } $from .. $to) . "\r\n");
    while (1) {
        my $line = read_line($s);
        if (!defined $line) { $proto++; last }
        last if $line eq "END\r\n";
        if ($line !~ /^VALUE ev:(\d{7}) (\d+) (\d+)\r\n\z/) { $proto++; last }
        my ($i, $f, $len) = ($1 + 0, $2, $3);
        my $data = read_bytes($s, $len + 2);
        $hits++;
        if ($i < $from || $i > $to || $f != $i % 65536 || $data ne value_for($i) . "\r\n") {
            $bad++;
            diag("bad value for " . key_for($i) . ": flags $f, " . mc_escape(substr($data, 0, 60)))
                if $bad <= 5;
        }
    }
    last if $proto;
}
is($proto, 0, 'multi-get replies well formed');
is($bad, 0, "no wrong value among $hits hits");
my $st2 = mem_stats($s);
is($hits, $st2->{curr_items}, 'hits over the whole key space equal curr_items');

my $status = $srv->stop;
is($status, 0, 'server exits 0 on TERM');

done_testing;
