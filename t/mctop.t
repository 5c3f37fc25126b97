#!/usr/bin/perl
# mctop, the compiled tool (tools/mctop, built when libbpf, clang and bpftool
# are found), against a live server.
#
# Batch --exact: a scripted load (sets, multigets that hit and miss, meta
# gets, deletes) must come out of the JSON exactly, key by key.  Batch
# sampled: a key read 20,000 times at probe_sample_rate 10 must be
# estimated within 20%, with sample_rate 10 (the probe's rate argument).
# CSV and text batch output name the same keys.  The full-screen view runs
# in a real terminal (a private tmux server): the scripted keys show,
# sorted by calls; sorting by key, the / filter, the detail view, the
# prefix roll-up, the JSON dump and q (with its summary) work.
# The load runs entirely while mctop is attached (it says so on stderr when
# MCTOP_READY is set) and the probes fire in the server's thread before
# each reply, so once the last reply is read, the maps hold everything.
# Needs root, the built tool and uprobes; skipped otherwise (failed under
# MEMCACHED_REQUIRE_PROBES).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my $TOP = "$FindBin::Bin/..";
my $BUILD = (defined $ENV{MC_BUILDDIR} && $ENV{MC_BUILDDIR} ne '') ? $ENV{MC_BUILDDIR} : $TOP;
my $MCTOP = "$BUILD/tools/mctop";
unless (-x $MCTOP) {
    if ($ENV{MEMCACHED_REQUIRE_PROBES}) {
        fail("mctop required (MEMCACHED_REQUIRE_PROBES) but not built: $MCTOP");
        done_testing();
        exit 1;
    }
    plan skip_all => "mctop not built ($MCTOP): configure found no libbpf, clang or bpftool";
}
require_probes_or_skip('all');

my $dir = tempdir('mctest-mctop-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $seq = 0;

# ---------------------------------------------------------------- batch runs

# Starts mctop with @args (stdout, stderr to files); returns once it has
# attached.
sub start_mctop {
    my (@args) = @_;
    my $n = ++$seq;
    my $t = { out => "$dir/out.$n", err => "$dir/err.$n", args => "@args" };
    $t->{pid} = fork // die "fork: $!";
    if (!$t->{pid}) {
        $ENV{MCTOP_READY} = 1;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $t->{out} or POSIX::_exit(127);
        open STDERR, '>', $t->{err} or POSIX::_exit(127);
        no warnings 'exec';
        exec $MCTOP, @args;
        POSIX::_exit(127);
    }
    my $deadline = time + 20;
    until (McTest::_slurp($t->{err}) =~ /^mctop: attached$/m) {
        if (waitpid($t->{pid}, WNOHANG) == $t->{pid}) {
            $t->{pid} = 0;
            die "mctop @args exited early:\n" . McTest::_slurp($t->{err});
        }
        die "mctop @args: not attached after 20 s\n" if time > $deadline;
        sleep 0.05;
    }
    return $t;
}

# Stops it (SIGINT, unless it ends by itself first with $wait_self);
# returns its stdout.
sub finish_mctop {
    my ($t, $wait_self) = @_;
    kill 'INT', $t->{pid} unless $wait_self;
    my $deadline = time + ($wait_self // 0) + 20;
    while (time < $deadline) {
        last if waitpid($t->{pid}, WNOHANG) == $t->{pid};
        sleep 0.05;
    }
    if (waitpid($t->{pid}, WNOHANG) == 0) {
        kill 'KILL', $t->{pid};
        waitpid $t->{pid}, 0;
        fail("mctop $t->{args} did not end");
    }
    $t->{pid} = 0;
    my $err = McTest::_slurp($t->{err});
    $err =~ s/^mctop: attached\n//m;
    is($err, '', "mctop $t->{args}: nothing on stderr");
    return McTest::_slurp($t->{out});
}

# A JSON document of mctop's (flat objects, numbers, strings, null, one
# array of objects) as a Perl structure: enough to read its own output.
sub parse_json {
    my ($text) = @_;
    my $pos = 0;
    my $value;
    my $ws = sub { $pos++ while $pos < length($text) && substr($text, $pos, 1) =~ /\s/ };
    my $string = sub {
        $text =~ /\G"((?:[^"\\]|\\.)*)"/gc or die "bad string at $pos";
        $pos = pos($text);
        my $s = $1;
        $s =~ s/\\u([0-9a-f]{4})/chr(hex $1)/ge;
        $s =~ s/\\(.)/$1/g;
        return $s;
    };
    $value = sub {
        $ws->();
        pos($text) = $pos;
        my $c = substr($text, $pos, 1);
        if ($c eq '{') {
            $pos++;
            my %h;
            $ws->();
            if (substr($text, $pos, 1) eq '}') { $pos++; return \%h }
            while (1) {
                $ws->();
                pos($text) = $pos;
                my $k = $string->();
                $ws->();
                substr($text, $pos++, 1) eq ':' or die "no colon at $pos";
                $h{$k} = $value->();
                $ws->();
                my $d = substr($text, $pos++, 1);
                return \%h if $d eq '}';
                die "bad object at $pos" unless $d eq ',';
            }
        }
        if ($c eq '[') {
            $pos++;
            my @a;
            $ws->();
            if (substr($text, $pos, 1) eq ']') { $pos++; return \@a }
            while (1) {
                push @a, $value->();
                $ws->();
                my $d = substr($text, $pos++, 1);
                return \@a if $d eq ']';
                die "bad array at $pos" unless $d eq ',';
            }
        }
        return $string->() if $c eq '"';
        if ($text =~ /\G(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|null|true|false)/gc) {
            $pos = pos($text);
            return $1 eq 'null' ? undef : $1;
        }
        die "bad JSON at $pos: " . substr($text, $pos, 20);
    };
    my $v = $value->();
    return $v;
}

sub keys_by_name { my ($doc) = @_; return { map { $_->{key} => $_ } @{ $doc->{keys} } } }

# Reads replies until $n "END" lines (or one line for other commands).
sub read_until_end {
    my ($s, $n) = @_;
    my $ok = 1;
    for (1 .. $n) {
        while (1) {
            my $line = read_line($s) // return 0;
            last if $line eq "END\r\n" || $line eq "EN\r\n";
        }
    }
    return $ok;
}

# ---------------------------------------------------------------- --batch --exact

{
    my $srv = start_server(args => '-t 2');
    my $t = start_mctop('--batch', '--json', '--exact', '-p', $srv->pid);
    my $s = $srv->new_sock;
    my $v = '0123456789';
    for (1 .. 5) { send_expect($s, "set hot 0 0 10\r\n$v\r\n", "STORED\r\n", 'set hot') }
    send_bytes($s, "get hot miss:1\r\n" x 300);
    ok(read_until_end($s, 300), '300 multigets answered');
    send_bytes($s, "mg hot v\r\n" x 50);
    my $got = read_bytes($s, 50 * length("VA 10\r\n$v\r\n"));
    is($got, "VA 10\r\n$v\r\n" x 50, '50 meta gets answered');
    send_bytes($s, "delete gone\r\n" x 7);
    is(read_bytes($s, 7 * length("NOT_FOUND\r\n")), "NOT_FOUND\r\n" x 7, '7 deletes answered');
    my $out = finish_mctop($t);
    my $doc = eval { parse_json($out) };
    ok($doc, 'the JSON parses') or diag("$@\n$out");
    $doc //= { keys => [] };
    is($doc->{mode}, 'exact', 'mode exact');
    is($doc->{sample_rate}, 1, 'sample_rate 1');
    my $k = keys_by_name($doc);
    is_deeply([sort keys %$k], ['gone', 'hot', 'miss:1'], 'the scripted keys, no others');
    my %want = (
        hot => { calls => 355, gets => 350, sets => 5, hits => 350, bytes => 5 * 10 + 350 * 10 },
        'miss:1' => { calls => 300, gets => 300, sets => 0, hits => 0, bytes => 0 },
        gone => { calls => 7, gets => 0, sets => 0, hits => 0, bytes => 0 },
    );
    for my $key (sort keys %want) {
        my %have = map { $_ => $k->{$key}{$_} } keys %{ $want{$key} };
        is_deeply(\%have, $want{$key}, "--exact counts $key exactly");
        ok(defined $k->{$key}{p50_us} && defined $k->{$key}{p99_us}
           && $k->{$key}{p99_us} >= $k->{$key}{p50_us}, "$key: p50_us <= p99_us");
    }
    is($doc->{keys}[0]{key}, 'hot', 'keys sorted by calls');
    is($doc->{totals}{calls}, 662, 'totals: 662 calls');
}

# ---------------------------------------------------------------- sampled, -d

{
    my $srv = start_server(args => '-t 2 -o probe_sample_rate=10');
    my $t = start_mctop('--batch', '--json', '-p', $srv->pid, '-d', 600);
    my $s = $srv->new_sock;
    send_expect($s, "set hot 0 0 3\r\nabc\r\n", "STORED\r\n", 'set hot');
    # 20,000 reads of hot, 20 per request, with 2,000 reads of cold:N keys
    my $req = 'get ' . join(' ', ('hot') x 20) . " cold:" . "\r\n";
    for my $i (1 .. 1000) {
        send_bytes($s, 'get ' . join(' ', ('hot') x 20) . " cold:$i cold:" . ($i + 1) . "\r\n");
        read_until_end($s, 1) or last;
    }
    my $out = finish_mctop($t);
    my $doc = eval { parse_json($out) } // { keys => [] };
    is($doc->{mode}, 'sampled', 'mode sampled (the default)');
    is($doc->{sample_rate}, 10, 'sample_rate 10: the rate the probe reports');
    my $hot = keys_by_name($doc)->{hot} // {};
    my $calls = $hot->{calls} // 0;
    ok($calls >= 16000 && $calls <= 24000, "20,000 reads of hot estimated as $calls (within 20%)");
    is($doc->{keys}[0]{key}, 'hot', 'hot comes first');
    ok(($hot->{hits} // 0) >= 0.8 * 20000, 'its hits estimated too');
    my $total = $doc->{totals}{calls} // 0;
    ok($total >= 0.8 * 22001 && $total <= 1.2 * 22001, "totals estimated: $total of 22001");

    # -d ends a run by itself; CSV and text name the keys
    $t = start_mctop('--batch', '--csv', '--exact', '-p', $srv->pid, '-d', 2);
    send_bytes($s, "get hot\r\n" x 10);
    read_until_end($s, 10);
    $out = finish_mctop($t, 2);
    my @lines = split /\n/, $out;
    is($lines[0], 'seconds,key,calls,calls_per_s,gets,sets,hits,hit_pct,bytes,bytes_per_s,'
                  . 'p50_us,p99_us', 'CSV header');
    like($lines[1] // '', qr/^[\d.]+,hot,10,[\d.]+,10,0,10,100\.0,30,/, 'CSV row: hot, 10 calls');
    $t = start_mctop('--batch', '--exact', '-p', $srv->pid);
    send_bytes($s, "get hot\r\n" x 4);
    read_until_end($s, 4);
    $out = finish_mctop($t);
    like($out, qr/^\s+CALLS.*KEY$/m, 'text: a column header');
    like($out, qr/^\s+4\s+\S+\s+4\s+0\s+100\.0\s.*\shot$/m, 'text: hot with 4 calls');
}

# ---------------------------------------------------------------- the TUI in tmux

SKIP: {
    skip 'tmux not installed', 1 if system('command -v tmux >/dev/null 2>&1') != 0;
    my $srv = start_server(args => '-t 2');
    my $sock = "$dir/tmux.sock";
    my $dump = "$dir/dump.json";
    my @tmux = ('tmux', '-S', $sock);
    my $cmd = "MCTOP_READY=1 $MCTOP --exact -p " . $srv->pid . " -o $dump 0.3 2>$dir/tui.err;"
            . " echo MCTOP-EXIT=\$?; sleep 60";
    system(@tmux, 'new-session', '-d', '-s', 'mctop', '-x', '150', '-y', '40', $cmd) == 0
        or die 'tmux new-session failed';
    my $screen = sub { scalar `tmux -S $sock capture-pane -p -t mctop 2>/dev/null` };
    my $keys = sub { system(@tmux, 'send-keys', '-t', 'mctop', @_) };
    my $wait_for = sub {
        my ($re, $what) = @_;
        my $deadline = time + 15;
        my $text = '';
        while (time < $deadline) {
            $text = $screen->();
            return $text if $text =~ $re;
            sleep 0.1;
        }
        fail("TUI: $what") ;
        diag("screen:\n$text\nstderr:\n" . McTest::_slurp("$dir/tui.err"));
        return undef;
    };
    END { system('tmux', '-S', $sock, 'kill-server') if $sock && -S $sock }

    my $deadline = time + 20;
    sleep 0.1 until McTest::_slurp("$dir/tui.err") =~ /attached/ || time > $deadline;
    my $s = $srv->new_sock;
    send_expect($s, "set tui:hot 0 0 2\r\nhh\r\n", "STORED\r\n", 'set tui:hot');
    send_bytes($s, "get tui:hot\r\n" x 200 . "get tui:warm\r\n" x 50 . "get other:x\r\n" x 20);
    read_until_end($s, 270);

    my $text = $wait_for->(qr/tui:warm/, 'the scripted keys show');
    ok($text, 'TUI: the scripted keys show');
    my @keys = ($text // '') =~ /^\s+\d+\s.*\s(\S+)\s*$/mg;
    is_deeply([@keys[0 .. 2]], ['tui:hot', 'tui:warm', 'other:x'], 'TUI: rows sorted by calls');
    like($text // '', qr/^\s+201\s+\S+\s+200\s+1\s+100\.0\s.*tui:hot/m, "TUI: tui:hot 201 calls (200 gets, 1 set), 100% hits");
    like($text // '', qr/mctop\s+PID \d+.*sampled|exact/, 'TUI: header with the target and mode');

    $keys->('n');
    $text = $wait_for->(qr/KEYv/, 'sort by key');
    @keys = ($text // '') =~ /^\s+\d+\s.*\s(\S+)\s*$/mg;
    is_deeply([@keys[0 .. 2]], ['other:x', 'tui:hot', 'tui:warm'], 'TUI: n sorts by key');

    $keys->('/', 'w', 'a', 'r', 'm', 'Enter');
    $text = $wait_for->(qr/filter warm/, 'filter');
    @keys = ($text // '') =~ /^\s+\d+\s.*\s(\S+)\s*$/mg;
    is_deeply(\@keys, ['tui:warm'], 'TUI: / filters the keys');

    $keys->('Enter');
    $text = $wait_for->(qr/^key tui:warm/m, 'detail');
    like($text // '', qr/^\s+get\s+50\s+100\.0%/m, 'TUI detail: command mix (get 50)');
    like($text // '', qr/^\s+miss\s+50\s+100\.0%/m, 'TUI detail: outcome mix (miss 50)');
    like($text // '', qr/^latency .*p50/m, 'TUI detail: latency');
    like($text // '', qr/\|#+/, 'TUI detail: a histogram bar');
    $keys->('Escape');
    $wait_for->(qr/P99us/, 'back from the detail view');

    $keys->('/', 'BSpace', 'BSpace', 'BSpace', 'BSpace', 'Enter');
    $keys->('P');
    $text = $wait_for->(qr/prefixes on/, 'prefix roll-up');
    @keys = ($text // '') =~ /^\s+\d+\s.*\s(\S+)\s*$/mg;
    is_deeply([sort @keys], ['other', 'tui'], 'TUI: P rolls keys up to ":"');
    like($text // '', qr/^\s+251\s.*\stui\s*$/m, "TUI: the tui prefix has 251 calls");

    $keys->('d');
    $wait_for->(qr/dumped \d+ rows/, 'dump');
    my $doc = eval { parse_json(McTest::_slurp($dump)) } // {};
    is_deeply([sort map { $_->{key} } @{ $doc->{keys} // [] }], ['other', 'tui'],
              'TUI: d dumps the table shown as JSON');

    system(@tmux, 'resize-window', '-t', 'mctop', '-x', '100', '-y', '20');
    $text = $wait_for->(qr/P99us/, 'resize');
    my $widest = 0;
    for (split /\n/, $text // '') { $widest = length if length > $widest }
    ok($widest <= 100, "TUI: lines fit the resized terminal ($widest columns)");

    $keys->('q');
    $text = $wait_for->(qr/MCTOP-EXIT=0/, 'quit');
    like($text // '', qr/mctop summary/, 'TUI: q prints a summary');
    like($text // '', qr/\stui:hot\s*$/m, 'TUI: the summary lists the keys');
}

done_testing();
