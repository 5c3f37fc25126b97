#!/usr/bin/perl
# Every -o option memcached 1.6.45 accepts starts a server that answers and
# shows the option in "stats settings"; bad options and flags fail with
# memcached's exact message and exit status. docs/options.md lists them all.
use strict;
use warnings;
use lib 't/lib';
use FindBin;
use Test::More;
use McTest;
use McPortServer;

# A binary built with --enable-tls takes -Z and ssl_*, one built with
# --enable-sasl takes -S (t/tls.t and t/sasl.t test them).
my $HELP_TEXT = (run_until_exit(args => '-h'))[1];
my $TLS_BUILT = $HELP_TEXT =~ /--enable-ssl/;
my $SASL_BUILT = $HELP_TEXT =~ /--enable-sasl/;

# [option, { stats settings line => value }]
my @accepted = (
    ['maxconns_fast',           { maxconns_fast => 'yes' }],
    ['maxconns_fast=1',         { maxconns_fast => 'yes' }],     # a switch ignores a value
    ['no_maxconns_fast',        { maxconns_fast => 'no' }],
    ['hashpower=16',            { hashpower_init => 16 }],
    ['no_hashexpand',           {}],
    ['slab_reassign',           { slab_reassign => 'yes' }],
    ['no_slab_reassign',        { slab_reassign => 'no' }],
    ['slab_automove',           { slab_automove => 1 }],
    ['slab_automove=2',         { slab_automove => 2 }],
    ['no_slab_automove',        { slab_automove => 0 }],
    ['slab_automove_ratio=0.5', { slab_automove_ratio => '0.50' }],
    ['slab_automove_window=30', { slab_automove_window => 30 }],
    ['tail_repair_time=60',     { tail_repair_time => 60 }],
    ['hash_algorithm=jenkins',  { hash_algorithm => 'jenkins' }],
    ['hash_algorithm=murmur3',  { hash_algorithm => 'murmur3' }],
    ['hash_algorithm=xxh3',     { hash_algorithm => 'xxh3' }],
    ['lru_crawler',             { lru_crawler => 'yes' }],
    ['no_lru_crawler',          { lru_crawler => 'no' }],
    ['lru_crawler_sleep=50',    { lru_crawler_sleep => 50 }],
    ['lru_crawler_tocrawl=100', { lru_crawler_tocrawl => 100 }],
    ['lru_maintainer',          { lru_maintainer_thread => 'yes', lru_segmented => 'yes' }],
    ['no_lru_maintainer',       { lru_maintainer_thread => 'no', lru_segmented => 'no' }],
    ['hot_lru_pct=30',          { hot_lru_pct => 30 }],
    ['warm_lru_pct=30',         { warm_lru_pct => 30 }],
    ['hot_max_factor=0.5',      { hot_max_factor => '0.50' }],
    ['warm_max_factor=1.5',     { warm_max_factor => '1.50' }],
    ['temporary_ttl=30',        { temp_lru => 'yes', temporary_ttl => 30 }],
    ['idle_timeout=60',         { idle_timeout => 60 }],
    ['watcher_logbuf_size=128', { watcher_logbuf_size => 131072 }],
    ['worker_logbuf_size=32',   { worker_logbuf_size => 32768 }],
    ['read_buf_mem_limit=8',    { read_buf_mem_limit => 8388608 }],
    ['slab_sizes=100-200-400',  {}],
    ['slab_chunk_max=256',      { slab_chunk_max => 262144 }],
    ['no_chunked_items',        { slab_chunk_max => 1048576 }],
    ['track_sizes',             { track_sizes => 'yes' }],
    ['inline_ascii_resp',       { inline_ascii_response => 'no' }],
    ['no_inline_ascii_resp',    { inline_ascii_response => 'no' }],
    ['modern',                  {}],
    ['no_modern',               { slab_reassign => 'no', slab_automove => 0, maxconns_fast => 'no',
                                  lru_segmented => 'no', lru_crawler => 'no',
                                  lru_maintainer_thread => 'no', hash_algorithm => 'jenkins',
                                  slab_chunk_max => 1048576 }],
    ['drop_privileges',         {}],
    ['no_drop_privileges',      {}],
    ['resp_obj_mem_limit=1',    {}],
    ['sock_cookie_id=42',       {}],
    # Numbers as memcached's safe_strtoul and safe_strtol read them: a sign,
    # "-0", and the low 32 bits of a larger number.
    ['lru_crawler_tocrawl=+7',  { lru_crawler_tocrawl => 7 }],
    ['lru_crawler_tocrawl=-0',  { lru_crawler_tocrawl => 0 }],
    ['lru_crawler_tocrawl=4294967297', { lru_crawler_tocrawl => 1 }],
    ['lru_crawler_tocrawl=-18446744073709551615', { lru_crawler_tocrawl => 1 }],
    ['slab_chunk_max=4294967808', { slab_chunk_max => 524288 }],
);

for my $case (@accepted) {
    my ($opt, $want) = @$case;
    my $srv = eval { start_server(args => "-m 64 -o $opt") };
    ok($srv, "-o $opt: the server starts and answers version") or do { diag $@; next };
    my $set = mem_stats($srv->new_sock, 'settings');
    for my $stat (sort keys %$want) {
        is($set->{$stat}, $want->{$stat}, "-o $opt: stats settings $stat");
    }
    if ($opt eq 'resp_obj_mem_limit=1') {
        like($srv->stderr_text, qr/^DEPRECATED: resp_obj_mem_limit no longer used\. See read_buf_mem_limit,$/m,
             '-o resp_obj_mem_limit: the deprecation line');
    }
    $srv->stop;
}

# ---- what the implemented ones do
{
    my $srv = start_server(args => '-o slab_sizes=100-200-400,track_sizes');
    my $s = $srv->new_sock;
    send_expect($s, "set a 0 0 1\r\nx\r\n", "STORED\r\n", 'slab_sizes: store a small item');
    is(mem_stats($s, 'slabs')->{'1:chunk_size'}, 104, 'slab_sizes: class 1 is 100 bytes, aligned to 8');
    is(mem_stats($s, 'sizes')->{64}, 1, 'track_sizes: stats sizes counts it in the 64-byte bucket');
    is_deeply(mem_stats(start_server()->new_sock, 'sizes'), { sizes_status => 'disabled' },
              'without track_sizes: sizes_status disabled');
    $srv = start_server(args => '-o no_slab_reassign');
    send_expect($srv->new_sock, "slabs reassign 1 2\r\n",
                "CLIENT_ERROR slab reassignment disabled\r\n", 'no_slab_reassign: reassign refused');
}

# ---- what the options that show nothing in stats settings do
{
    # hashpower / no_hashexpand: 13000 items are more than 1.5 per bucket of
    # 2^13; the table grows to 2^14 unless no_hashexpand.
    my $grows = start_server(args => '-o hashpower=13');
    my $fixed = start_server(args => '-o hashpower=13,no_hashexpand');
    my ($gs, $fs) = ($grows->new_sock, $fixed->new_sock);
    is(mem_stats($gs)->{hash_power_level}, 13, "-o hashpower=13: hash_power_level 13");
    my $load = join '', map { "set h$_ 0 0 1 noreply\r\nx\r\n" } 1 .. 13000;
    for my $s ($gs, $fs) {
        send_bytes($s, $load . "version\r\n");
        like(read_line($s, 30) // '', qr/^VERSION /, "13000 items stored");
    }
    my $st = poll_stats($gs, undef, sub { $_[0]{hash_power_level} == 14 && !$_[0]{hash_is_expanding} });
    is($st->{hash_power_level}, 14, "without no_hashexpand: the table grows to 2^14");
    $st = mem_stats($fs);
    is($st->{hash_power_level}, 13, "-o no_hashexpand: it stays at 2^13");
    is($st->{curr_items}, 13000, "-o no_hashexpand: all 13000 items kept");
    mem_get_is($fs, 'h12999', 'x', '-o no_hashexpand: items found in the crowded table');
}
{
    # modern is memcached 1.6's "currently: nothing": it leaves every setting
    # as it was, and installs no sandbox (drop_privileges does: t/seccomp.t).
    my $settings = sub {
        my ($args) = @_;
        my $srv = start_server(args => $args);
        my $st = mem_stats($srv->new_sock, 'settings');
        delete @$st{qw(tcpport udpport)};
        my $pid = $srv->pid;
        my ($seccomp) = do { local (@ARGV, $/) = ("/proc/$pid/status"); <> } =~ /^Seccomp:\s+(\d+)/m;
        return ($st, $seccomp);
    };
    my ($default) = $settings->('-m 64');
    for my $opt (qw(modern no_drop_privileges)) {
        my ($st, $seccomp) = $settings->("-m 64 -o $opt");
        is_deeply($st, $default, "-o $opt: stats settings the same as without it");
        is($seccomp, 0, "-o $opt: no seccomp filter installed");
    }
    my ($old) = $settings->('-m 64 -o no_modern');
    my ($old_then_modern) = $settings->('-m 64 -o no_modern,modern');
    is_deeply($old_then_modern, $old, '-o no_modern,modern: modern does not undo no_modern');
}
{
    # sock_cookie_id sets SO_MARK on the listening socket (root has CAP_NET_ADMIN).
    my $srv = start_server(args => '-o sock_cookie_id=42');
    my $port = $srv->port;
    my $ss = `ss -Hltne 'sport = :$port' 2>/dev/null`;
    SKIP: {
        skip 'needs root (SO_MARK) and ss', 2 unless $> == 0 && $ss =~ /LISTEN/;
        like($ss, qr/\bfwmark:0x2a\b/, '-o sock_cookie_id=42: the listener carries mark 0x2a');
        my $plain = start_server();
        my $pport = $plain->port;
        unlike(`ss -Hltne 'sport = :$pport' 2>/dev/null`, qr/fwmark/, 'without it: no mark');
    }
}

# ---- refusals: [args, exit status, exact output]
my @refused = (
    ['-o bogus', 1, qq{Illegal suboption "bogus"\n}],
    # memcached 1.6.45 names the unknown option alone, as written, on stderr
    ['-o hashpower=20,bogus,modern', 1, qq{Illegal suboption "bogus"\n}],
    ['-o hashpower=20,bogus=a=b,modern', 1, qq{Illegal suboption "bogus=a=b"\n}],
    ['-o hashpower=20,,modern', 1, qq{Illegal suboption ""\n}],
    ['-o ,bogus', 1, qq{Illegal suboption ""\n}],
    ['-o HASHPOWER=20', 1, qq{Illegal suboption "HASHPOWER=20"\n}],
    ['-o lru_segmented', 1, qq{Illegal suboption "lru_segmented"\n}],
    ($TLS_BUILT ? () : ['-o ssl_chain_cert=x', 1, qq{Illegal suboption "ssl_chain_cert=x"\n}]),
    ['-o ext_path=/tmp/x:64m', 1, qq{Illegal suboption "ext_path=/tmp/x:64m"\n}],
    ['-o proxy_config=x', 1, qq{Illegal suboption "proxy_config=x"\n}],
    ['-o hashpower', 1, "Missing numeric argument for hashpower\n"],
    ['-o hashpower=5', 1, "Initial hashtable multiplier of 5 is too low\n"],
    ['-o hashpower=40', 1, "Initial hashtable multiplier of 40 is too high\n"
        . qq{Choose a value based on "STAT hash_power_level" from a running instance\n}],
    ['-o idle_timeout', 1, "Missing numeric argument for idle_timeout\n"],
    ['-o slab_automove=3', 1, "slab_automove must be between 0 and 2\n"],
    ['-o slab_automove_ratio=2', 1, "slab_automove_ratio must be > 0 and < 1\n"],
    ['-o slab_automove_window=2', 1, "slab_automove_window must be > 2 and < 1800\n"],
    ['-o tail_repair_time=5', 1, "Cannot set tail_repair_time to less than 10 seconds\n"],
    ['-o hash_algorithm', 1, "Missing hash_algorithm argument\n"],
    ['-o hash_algorithm=md5', 1, "Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n"],
    ['-o lru_crawler_sleep=2000000', 1, "LRU crawler sleep must be between 0 and 1 second\n"],
    ['-o lru_crawler_tocrawl=abc', 1, "lru_crawler_tocrawl takes a numeric 32bit value\n"],
    ['-o hot_lru_pct=90', 1, "hot_lru_pct must be > 1 and < 80\n"],
    ['-o warm_lru_pct', 1, "Missing warm_lru_pct argument\n"],
    ['-o hot_max_factor=0', 1, "hot_max_factor must be > 0\n"],
    ['-o temporary_ttl', 1, "Missing temporary_ttl argument\n"],
    ['-o watcher_logbuf_size=x', 1, "could not parse argument to watcher_logbuf_size\n"],
    ['-o read_buf_mem_limit=-1', 1, "could not parse argument to read_buf_mem_limit\n"],
    ['-o lru_crawler_tocrawl=18446744073709551616', 1,
        "lru_crawler_tocrawl takes a numeric 32bit value\n"],
    ['-o lru_crawler_tocrawl=5x', 1, "lru_crawler_tocrawl takes a numeric 32bit value\n"],
    ['-o slab_chunk_max=2147483648', 1, "slab_chunk_max must be >= 0\n"],
    ['-o slab_chunk_max=9223372036854775808', 1, "could not parse argument to slab_chunk_max\n"],
    ['-o slab_chunk_max=0', 1, "slab_chunk_max must be >= 0\n"],
    ['-o slab_chunk_max=2048', 1, "slab_chunk_max must be specified in kilobytes.\n"],
    ['-o slab_chunk_max=300', 64,
        "-I (item_size_max: 1048576) must be evenly divisible by slab_chunk_max (bytes: 307200)\n"],
    ['-o hot_lru_pct=50,warm_lru_pct=40', 64,
        "hot_lru_pct + warm_lru_pct cannot be more than 80% combined\n"],
    ['-o no_lru_maintainer,temporary_ttl=10', 64,
        "temporary_ttl requires lru_maintainer to be enabled\n"],
    ['-o slab_sizes=10-20', 64, "slab size 10 is out of valid range\n"],
    ['-o slab_sizes=100-90', 64,
        "slab size 90 cannot be lower than or equal to a previous class size\n"],
    ['-o slab_sizes=100-104', 64,
        "slab size 104 must be at least 8 bytes larger than previous class\n"],
    # single-letter flags
    ($TLS_BUILT ? () : ['-Z', 64, "This server is not built with TLS support.\n"]),
    ($SASL_BUILT ? () : ['-S', 64, "This server is not built with SASL support.\n"]),
    ['-N 0', 1, "Maximum number of NAPI IDs must be greater than 0\n"],
    ['-N 8 -t 4', 64, "Number of napi_ids(8) cannot be greater than number of threads(4)\n"],
    ['-I 1023', 64, "Item max size cannot be less than 1024 bytes.\n"],
    ['-I 1g', 64, "Item max size cannot be less than 1024 bytes.\n"],
    ['-I 256k', 64, "slab_chunk_max (bytes: 524288) cannot be larger than -I (item_size_max 262144)\n"],
    ['-I 1000k', 64,
        "-I (item_size_max: 1024000) must be evenly divisible by slab_chunk_max (bytes: 524288)\n"],
    ['-I 2000m -m 8000', 64, "Cannot set item size limit higher than a gigabyte.\n"],
    ['-m 1g', 64, "Cannot set item size limit higher than 1/2 of memory max.\n"],
    ['-D', 1, undef],
    ['-c 0', 1, "Maximum connections must be greater than 0\n"],
);
for my $case (@refused) {
    my ($args, $code, $out) = @$case;
    my ($got_code, $got_out) = run_until_exit(args => "-p -1 -U 0 -l 127.0.0.1 $args");
    is($got_code, $code, "$args: exit status $code");
    is($got_out, $out, "$args: message") if defined $out;
}
{
    # run_until_exit merges the two streams: the unknown option is on stderr.
    my $bin = find_binary();
    my $user = $> == 0 ? '-u root' : '';
    my $err = `timeout 10 '$bin' $user -p -1 -U 0 -l 127.0.0.1 -o bogus 2>&1 >/dev/null`;
    is($err, qq{Illegal suboption "bogus"\n}, '-o bogus: the message is on stderr');
}
{
    my ($code, $out) = run_until_exit(args => '-p -1 -x');
    is($code, 1, 'an unknown flag: exit status 1');
    like($out, qr/invalid option -- 'x'\nIllegal argument "\?"\n\z/, 'an unknown flag: message');
}

# ---- accepted flags
{
    my $srv = start_server(args => '-N 2');
    is(mem_stats($srv->new_sock, 'settings')->{num_napi_ids}, 2, '-N 2: accepted and shown');
    $srv = start_server(args => '-t 65');
    like($srv->stderr_text, qr/WARNING: Setting a high number of workerthreads is not recommended/,
         '-t 65: a warning, and it runs');
    $srv = start_server(args => '-D ab');
    is(mem_stats($srv->new_sock, 'settings')->{stat_key_prefix}, 'a', '-D: the first character');
    $srv = start_server(args => '-I 2m');
    my $set = mem_stats($srv->new_sock, 'settings');
    is($set->{item_size_max}, 2097152, '-I 2m: 2 MB items');
    is($set->{slab_chunk_max}, 524288, '-I over 1 MB: chunks stay at half a page');
}

# ---- -h
{
    my ($code, $out) = run_until_exit(args => '-h');
    is($code, 0, '-h exits 0');
    like($out, qr/^-s, --unix-socket=<file>/m, '-h: unix-socket');
    like($out, qr/^-Y, --auth-file=<file>/m, '-h: auth-file');
    like($out, qr/^-o, --extended/m, '-h: extended options');
    unlike($out, qr/extstore|ext_path|proxy/i, '-h: no extstore or proxy');
    if ($SASL_BUILT) {
        like($out, qr/^-S, --enable-sasl/m, '-h of a SASL build: -S');
    } else {
        unlike($out, qr/sasl/i, '-h without SASL: no -S');
    }
    if ($TLS_BUILT) {
        like($out, qr/^-Z, --enable-ssl/m, '-h of a TLS build: -Z');
    } else {
        unlike($out, qr/ssl|tls/i, '-h without TLS: no -Z, ssl_* or TLS listener prefixes');
    }
}

# ---- docs/options.md lists every option tested here (a file check)
SKIP: {
    my $doc = "$FindBin::Bin/../docs/options.md";
    skip 'docs/options.md not found', 1 unless -f $doc;
    open my $fh, '<', $doc or die;
    my $text = do { local $/; <$fh> };
    my @missing = grep { index($text, "`$_`") < 0 }
                  map { (my $n = $_->[0]) =~ s/=.*//; $n } @accepted;
    is_deeply(\@missing, [], 'docs/options.md names every accepted -o option');
}

done_testing;
