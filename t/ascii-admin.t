#!/usr/bin/perl
# ASCII admin commands as memcached 1.6.45 answers them: a trailing noreply,
# extra and missing tokens, lru tune|mode|temp_ttl and stats cachedump.
# Every expected reply below was measured on memcached 1.6.45.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 32 -t 2');
my $s = $srv->new_sock;

# The reply to "cmd" followed by "mn": a reply the command should not have
# sent shows up before the MN.
sub then_mn {
    my ($cmd, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    send_expect($s, "$cmd\r\nmn\r\n", $want . "MN\r\n", $name // $cmd);
}

sub setting { mem_stats($s, 'settings')->{ $_[0] } }

# --- a trailing noreply silences every admin command, known or not -------------
for my $cmd ('lru_crawler bogus noreply', 'lru_crawler noreply', 'lru_crawler crawl 1 noreply',
             'lru_crawler crawl 99 noreply', 'lru_crawler sleep 10 noreply',
             'lru_crawler tocrawl 10 noreply', 'lru_crawler enable noreply',
             'lru_crawler metadump all noreply', 'lru_crawler mgdump all noreply',
             'slabs noreply', 'slabs bogus noreply', 'slabs automove 3 noreply',
             'slabs automove x noreply', 'slabs reassign 1 2 noreply',
             'slabs reassign 99 1 noreply', 'slabs reassign x y noreply', 'lru noreply',
             'lru mode noreply', 'lru bogus noreply', 'shutdown noreply',
             'shutdown graceful noreply', 'bogus noreply', 'bogus a b noreply', 'xx noreply',
             'cache_memlimit 2 noreply', 'flush_all bogus noreply') {
    then_mn($cmd, '', "$cmd: no reply");
}
# ... but not stats, watch or version.
then_mn('stats noreply', "ERROR\r\n");
then_mn('stats bogus noreply', "ERROR\r\n");
then_mn('watch noreply', "ERROR\r\n");
then_mn('version noreply', "VERSION 1.6.45\r\n");

# What the silenced commands did: lru_crawler counts noreply as one token too
# many (nothing happens); slabs and lru take it off first (the change is made).
is(setting('lru_crawler'), 'yes', 'lru_crawler enable noreply: still enabled');
then_mn('lru_crawler disable noreply', '');
is(setting('lru_crawler'), 'yes', 'lru_crawler disable noreply: not disabled');
then_mn('lru_crawler sleep 77 noreply', '');
isnt(setting('lru_crawler_sleep'), '77', 'lru_crawler sleep ... noreply: not applied');
then_mn('slabs automove 2 noreply', '');
is(setting('slab_automove'), '2', 'slabs automove 2 noreply: applied');
then_mn('slabs automove 0', "OK\r\n");
then_mn('slabs automove window 33 noreply', '');
is(setting('slab_automove_window'), '33', 'slabs automove window noreply: applied');

# --- lru_crawler: exact arguments --------------------------------------------------
then_mn('lru_crawler crawl 1 2', "ERROR\r\n");
then_mn('lru_crawler crawl all x', "ERROR\r\n");
then_mn('lru_crawler crawl', "ERROR\r\n");
then_mn('lru_crawler crawl ,', "NOTSTARTED no items to crawl\r\n");
then_mn('lru_crawler crawl 0', "BADCLASS invalid class id\r\n");
then_mn('lru_crawler sleep 10 x', "ERROR\r\n");
then_mn('lru_crawler tocrawl 10 x', "ERROR\r\n");
then_mn('lru_crawler enable x', "ERROR\r\n");
then_mn('lru_crawler disable x', "ERROR\r\n");
then_mn('lru_crawler enable', "ERROR failed to start lru crawler thread\r\n",
        'lru_crawler enable while enabled');
then_mn('lru_crawler disable', "OK\r\n");
then_mn('lru_crawler disable', "OK\r\n", 'lru_crawler disable twice');
then_mn('lru_crawler enable', "OK\r\n");
send_expect($s, "lru_crawler metadump ,\r\n", "NOTSTARTED no items to crawl\r\n",
            'metadump of no class');

# --- slabs: reassign takes exactly two classes ---------------------------------------
then_mn('slabs reassign 1 2 x', "ERROR\r\n");
then_mn('slabs reassign 1', "ERROR\r\n");
then_mn('slabs reassign 1 1', "SAME src and dst class are identical\r\n");
then_mn('slabs automove 1 x', "OK\r\n", 'slabs automove ignores extra tokens');
then_mn('slabs automove 0', "OK\r\n");

# --- lru tune | mode | temp_ttl ---------------------------------------------------------
then_mn('lru tune 10 25 0.1 2', "OK\r\n");
my $st = mem_stats($s, 'settings');
is(join(' ', @{$st}{qw(hot_lru_pct warm_lru_pct hot_max_factor warm_max_factor)}),
   '10 25 0.10 2.00', 'lru tune: stats settings');
then_mn('lru tune 50 40 0.5 3', "ERROR hot and warm pcts must not exceed 80\r\n");
then_mn('lru tune 81 0 0.5 3', "ERROR hot and warm pcts must not exceed 80\r\n");
then_mn('lru tune 80 0 0.5 3', "OK\r\n");
then_mn('lru tune 0 0 0 0', "ERROR hot/warm age factors must be greater than 0\r\n");
then_mn('lru tune 10 20 -0.5 3', "ERROR hot/warm age factors must be greater than 0\r\n");
then_mn('lru tune 10 20 0.5 -3', "ERROR hot/warm age factors must be greater than 0\r\n");
then_mn('lru tune 10 20 0.5 3.5 4', "OK\r\n", 'lru tune ignores extra tokens');
is(setting('warm_max_factor'), '3.50', 'lru tune: factors are decimals');
for my $bad ('lru tune', 'lru tune 10', 'lru tune 10 20 0.5', 'lru tune -1 20 0.5 3',
             'lru tune x 20 0.5 3', 'lru tune 10 20 x 3', 'lru tune 10.5 20 0.5 3',
             'lru tune 4294967296 20 0.5 3') {
    then_mn($bad, "ERROR\r\n");
}
then_mn('lru tune 10 20 nan inf', "OK\r\n", 'lru tune takes nan and inf, as memcached');
is(setting('hot_max_factor') . ' ' . setting('warm_max_factor'), 'nan inf', 'lru tune nan inf');
then_mn('lru tune 11 21 0.6 4 noreply', '');
is(setting('warm_lru_pct'), '21', 'lru tune noreply: applied');
then_mn('lru tune 20 40 0.2 2', "OK\r\n");

# CVE-2019-11596: "lru mode" with a missing or bad mode crashed memcached.
for my $bad ('lru', 'lru mode', 'lru mode x', 'lru mode FLAT', 'lru temp_ttl', 'lru temp_ttl x',
             'lru temp_ttl 2147483648', 'lru bogus', 'lru bogus 1') {
    then_mn($bad, "ERROR\r\n");
}
send_expect($s, "lru mode \r\nlru mode\0\r\nversion\r\n", "ERROR\r\nERROR\r\nVERSION 1.6.45\r\n",
            'lru mode with bad arguments: the server lives on');

then_mn('lru mode flat', "OK\r\n");
is(setting('lru_segmented'), 'no', 'lru mode flat: stats settings');
send_expect($s, "set flat1 0 0 1\r\na\r\n", "STORED\r\n");
my $items = mem_stats($s, 'items');
is("$items->{'items:1:number_cold'} $items->{'items:1:number_hot'}", '1 0',
   'lru mode flat: a new item goes to COLD');
then_mn('lru mode segmented x', "OK\r\n", 'lru mode ignores extra tokens');
is(setting('lru_segmented'), 'yes', 'lru mode segmented: stats settings');

then_mn('lru temp_ttl 100', "OK\r\n");
is(setting('temp_lru') . ' ' . setting('temporary_ttl'), 'yes 100', 'lru temp_ttl: stats settings');
send_expect($s, "set temp1 0 50 1\r\na\r\n", "STORED\r\n");
is(mem_stats($s, 'items')->{'items:1:number_temp'}, 1, 'lru temp_ttl: a short TTL goes to TEMP');
then_mn('lru temp_ttl -1', "OK\r\n");
is(setting('temp_lru') . ' ' . setting('temporary_ttl'), 'no 100', 'lru temp_ttl -1: TEMP off, the ttl kept');
send_expect($s, "set temp2 0 50 1\r\na\r\n", "STORED\r\n");
ok(!exists mem_stats($s, 'items')->{'items:1:number_temp'}, 'lru temp_ttl -1: no TEMP lines');
then_mn('lru temp_ttl 0 5', "OK\r\n", 'lru temp_ttl ignores extra tokens');
is(setting('temp_lru') . ' ' . setting('temporary_ttl'), 'yes 0', 'lru temp_ttl 0');
is(mem_stats($s, 'items')->{'items:1:number_temp'}, 1, 'lru temp_ttl -1: the item set then is not in TEMP');
then_mn('lru temp_ttl 57 noreply', '');
is(setting('temporary_ttl'), '57', 'lru temp_ttl noreply: applied');

# --- stats cachedump <class> <limit> ------------------------------------------------------
# In flat mode every item is in COLD, which cachedump lists newest first.
{
    my $srv2 = start_server(args => '-m 32 -t 2');
    my $c = $srv2->new_sock;
    send_expect($c, "lru mode flat\r\n", "OK\r\n");
    send_expect($c, "set cd1 0 0 3\r\nabc\r\nset cd2 0 0 1\r\nx\r\nset cd3 0 1000 2\r\nxy\r\n",
                "STORED\r\nSTORED\r\nSTORED\r\n", 'cachedump: three items');
    my $now = mem_stats($c, '')->{time};
    send_bytes($c, "stats cachedump 1 0\r\n");
    my @lines;
    while (defined(my $l = read_line($c))) { push @lines, $l; last if $l eq "END\r\n" }
    is(scalar @lines, 4, 'cachedump: three ITEM lines and END');
    like($lines[0], qr/^ITEM cd3 \[2 b; (\d+) s\]\r\n\z/, 'cachedump: newest first, value bytes');
    my ($exp) = ($lines[0] // '') =~ /; (\d+) s/;
    ok(defined $exp && $exp >= $now + 999 && $exp <= $now + 1001, 'cachedump: absolute exptime')
        or diag("exp $exp now $now");
    is(join('', @lines[1 .. 3]), "ITEM cd2 [1 b; 0 s]\r\nITEM cd1 [3 b; 0 s]\r\nEND\r\n",
       'cachedump: no-TTL items show 0 s');
    send_expect($c, "stats cachedump 1 1 x\r\n", $lines[0] . "END\r\n",
                'cachedump: limit, extra tokens ignored');
    send_expect($c, "stats cachedump 0 0\r\n", "END\r\n", 'cachedump: class 0');
    send_expect($c, "stats cachedump 63 0\r\n", "END\r\n", 'cachedump: empty class');
    send_expect($c, "stats cachedump 64 0\r\n", "CLIENT_ERROR Illegal slab id\r\n");
    send_expect($c, "stats cachedump 4294967297 0\r\n", "CLIENT_ERROR bad command line format\r\n");
    send_expect($c, "stats cachedump\r\n", "CLIENT_ERROR bad command line\r\n");
    send_expect($c, "stats cachedump 1\r\n", "CLIENT_ERROR bad command line\r\n");
    for my $bad ('-1 0', 'x 0', '1 x', '1 -1', '+1 0', "1\t 0") {
        send_expect($c, "stats cachedump $bad\r\n", "CLIENT_ERROR bad command line format\r\n",
                    "cachedump $bad");
    }
    my $srv3 = start_server(args => '-X');
    send_expect($srv3->new_sock, "stats cachedump 1 0\r\n",
                "CLIENT_ERROR stats cachedump not allowed\r\n", 'cachedump with -X');
}

# Switching a full cache to flat: new sets still evict, and the maintainer
# drains HOT and WARM into COLD.
{
    my $srv5 = start_server(args => '-m 8');
    my $c = $srv5->new_sock;
    my $v = 'x' x 20000;
    my $stored = 0;
    for my $i (1 .. 300) {
        send_bytes($c, "set a$i 0 0 20000\r\n$v\r\n");
        $stored++ if (read_line($c) // '') eq "STORED\r\n";
    }
    send_expect($c, "get a299\r\n", "VALUE a299 0 20000\r\n$v\r\nEND\r\n");
    send_expect($c, "get a299\r\n", "VALUE a299 0 20000\r\n$v\r\nEND\r\n");
    send_expect($c, "lru mode flat\r\n", "OK\r\n");
    for my $i (1 .. 600) {
        send_bytes($c, "set b$i 0 0 20000\r\n$v\r\n");
        $stored++ if (read_line($c) // '') eq "STORED\r\n";
    }
    is($stored, 900, 'lru mode flat on a full cache: every set stored');
    my ($cls) = grep { /^items:(\d+):number$/ } keys %{ mem_stats($c, 'items') };
    ($cls) = $cls =~ /items:(\d+):/;
    my $st = poll_stats($c, 'items', sub {
        ($_[0]{"items:$cls:number_hot"} // 1) == 0 && ($_[0]{"items:$cls:number_warm"} // 1) == 0 });
    is(($st->{"items:$cls:number_hot"} // '') . ' ' . ($st->{"items:$cls:number_warm"} // ''), '0 0',
       'lru mode flat: HOT and WARM drained into COLD');
    cmp_ok($st->{"items:$cls:evicted"}, '>', 0, 'lru mode flat: evictions from COLD');
}

# Without the LRU maintainer, mode and temp_ttl are refused; tune is not.
{
    my $srv4 = start_server(args => '-o no_lru_maintainer');
    my $c = $srv4->new_sock;
    send_expect($c, "lru mode flat\r\nlru mode segmented\r\nlru temp_ttl 5\r\n",
                "ERROR\r\nERROR\r\nERROR\r\n", 'no_lru_maintainer: lru mode, temp_ttl refused');
    send_expect($c, "lru tune 10 20 0.1 2\r\n", "OK\r\n", 'no_lru_maintainer: lru tune');
}

# --- stats settings oldest: the last flush_all's cut-off on the relative clock ----
# memcached's relative clock reads uptime + 60 (62 at start).  An immediate
# flush_all shows the second before its own, a delayed one (relative or
# absolute) the second before it takes effect, one at an absolute time already
# past shows 0 (and cancels a pending one).
{
    my $srv5 = start_server(args => '-m 32');
    my $c = $srv5->new_sock;
    is(mem_stats($c, 'settings')->{oldest}, 0, 'oldest is 0 before any flush_all');
    # Sends $cmd between two stats; returns the first stats and oldest once
    # both stats read the same clock second (so the cut-off is exact).
    my $flush = sub {
        my ($cmd, $reply) = @_;
        my $deadline = time + 10;
        while (1) {
            my $before = mem_stats($c);
            my $cmdline = ref $cmd ? $cmd->($before) : $cmd;
            send_expect($c, "$cmdline\r\n", $reply // "OK\r\n", $cmdline);
            my $after = mem_stats($c);
            my $oldest = mem_stats($c, 'settings')->{oldest};
            return ($before, $oldest, $cmdline)
                if ($before->{uptime} == $after->{uptime} && $before->{time} == $after->{time})
                    || time > $deadline;
        }
    };
    my ($st, $oldest) = $flush->('flush_all');
    is($oldest, $st->{uptime} + 60 - 1, "flush_all: oldest $oldest = uptime $st->{uptime} + 60 - 1");
    cmp_ok($oldest, '>=', 61, 'flush_all: the relative clock starts at 62');
    ($st, $oldest) = $flush->('flush_all 10');
    is($oldest, $st->{uptime} + 60 + 10 - 1, "flush_all 10: oldest $oldest");
    ($st, $oldest) = $flush->('flush_all 0');
    is($oldest, $st->{uptime} + 60 - 1, "flush_all 0 is immediate: oldest $oldest");
    ($st, $oldest) = $flush->('flush_all -1');
    is($oldest, $st->{uptime} + 60 - 1, "flush_all -1 is immediate: oldest $oldest");
    ($st, $oldest, my $cmd) = $flush->(sub { 'flush_all ' . ($_[0]{time} + 100) });
    is($oldest, $st->{uptime} + 60 + 100 - 1, "$cmd (time + 100): oldest $oldest");
    ($st, $oldest, $cmd) = $flush->(sub { 'flush_all ' . ($_[0]{time} - 2) });
    is($oldest, $st->{uptime} + 60 - 2 - 1, "$cmd (time - 2): oldest $oldest");
    ($st, $oldest, $cmd) = $flush->(sub { 'flush_all ' . ($_[0]{time} - $_[0]{uptime} - 61) });
    is($oldest, 0, "$cmd (1 s after the clock's origin): oldest 0");
    ($st, $oldest, $cmd) = $flush->(sub { 'flush_all ' . ($_[0]{time} - 100) });
    is($oldest, 0, "$cmd (time - 100, before the clock's origin): oldest 0");
    ($st, $oldest) = $flush->('flush_all 2592000');
    is($oldest, $st->{uptime} + 60 + 2592000 - 1, "flush_all 2592000 (30 days) is relative: oldest $oldest");
    ($st, $oldest) = $flush->('flush_all 5 noreply', '');
    is($oldest, $st->{uptime} + 60 + 5 - 1, "flush_all 5 noreply: oldest $oldest");
    send_expect($c, "flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n", 'flush_all abc refused');
    is(mem_stats($c, 'settings')->{oldest}, $oldest, 'a refused flush_all leaves oldest alone');
}

# An item read within a minute of its last access keeps that access time
# (memcached bumps at most once a minute), from the server's first second on:
# here without the LRU maintainer, whose moves between LRUs set it too.
{
    my $srv7 = start_server(args => '-m 32 -o no_lru_maintainer');
    my $c = $srv7->new_sock;
    send_expect($c, "set a 0 0 1\r\nx\r\n", "STORED\r\n", 'no_lru_maintainer: set a');
    my $at = mem_stats($c)->{uptime};
    poll_stats($c, undef, sub { $_[0]{uptime} > $at });
    send_expect($c, "get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n", 'get a a second later');
    send_expect($c, "get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n", 'get a again');
    send_bytes($c, "me a\r\n");
    my ($la) = (read_line($c) // '') =~ /\bla=(\d+)/;
    cmp_ok($la // -1, '>=', 1, "me a: la=" . ($la // 'none') . ", not reset by the reads in its first minute");
}

# Without CAS (-C), an immediate flush_all drops what was stored before it
# and keeps what is stored after it in the same second.
{
    my $srv6 = start_server(args => '-m 32 -C');
    my $c = $srv6->new_sock;
    send_expect($c, "set before 0 0 1\r\nb\r\nflush_all\r\nset after 0 0 1\r\na\r\nget before\r\nget after\r\n",
                "STORED\r\nOK\r\nSTORED\r\nEND\r\nVALUE after 0 1\r\na\r\nEND\r\n",
                '-C: flush_all drops the item before it, keeps the one after it');
}

send_expect($s, "version\r\n", "VERSION 1.6.45\r\n", 'server alive at the end');
done_testing();
