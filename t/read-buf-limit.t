#!/usr/bin/perl
# -o read_buf_mem_limit=N (MB): the bound on response objects per worker.
# The boundaries and replies below were measured on memcached 1.6.45: the
# limit is split over the -t workers in 16 KB buffers, one kept for reading
# and 13 response objects in each other one; a request holds one object and
# each key after the first of an ASCII multiget one more, until sent.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use McTest;
use McBinary;
use Socket ();

my $ERR = "SERVER_ERROR out of memory writing get response\r\n";

# Stores k1..k$n with the value $val, ten requests at a time (each batch
# well under any bound tested here).
sub store_keys {
    my ($s, $n, $val) = @_;
    for (my $i = 1; $i <= $n; $i += 10) {
        my $last = $i + 9 > $n ? $n : $i + 9;
        send_bytes($s, join '', map { "set k$_ 0 0 " . length($val) . "\r\n$val\r\n" } $i .. $last);
        my $want = "STORED\r\n" x ($last - $i + 1);
        read_bytes($s, length $want) eq $want or BAIL_OUT("cannot store k$i..k$last");
    }
}

sub multiget { my ($n, $p) = @_; $p //= 'k'; 'get ' . join(' ', map { "$p$_" } 1 .. $n) . "\r\n" }
sub values_of { my ($n, $val) = @_;
    join('', map { "VALUE k$_ 0 " . length($val) . "\r\n$val\r\n" } 1 .. $n) . "END\r\n" }
sub oom_count { mem_stats($_[0])->{response_obj_oom} }

# The largest multiget that works, and the first that does not, for two
# settings; the value size does not count, nor whether keys are found.
for my $case ([1, 4, 195], [2, 1, 1651], [1, 1, 819]) {
    my ($mb, $threads, $most) = @$case;
    my $srv = start_server(args => "-o read_buf_mem_limit=$mb -t $threads");
    my $s = $srv->new_sock;
    store_keys($s, $most + 1, 'x');
    my $oom = oom_count($s);
    send_expect($s, multiget($most), values_of($most, 'x'),
                "$mb MB, -t $threads: a $most-key multiget is answered");
    send_expect($s, multiget($most + 1), $ERR,
                "$mb MB, -t $threads: $most + 1 keys get the error and nothing else");
    is(oom_count($s), $oom + 1, 'response_obj_oom counts it');
    send_expect($s, multiget($most + 1, 'miss'), $ERR, 'misses hold an object each too');
    send_expect($s, "get k1\r\n", values_of(1, 'x'), 'the connection goes on');
}

{
    # A multiget line over 16 KB is read into a grown buffer, so the worker
    # keeps no 16 KB buffer for reading it: one more buffer (13 objects).
    # 4 MB, -t 1: 255 x 13 = 3315 objects, 3328 for such a line (1.6.45).
    my $srv = start_server(args => '-o read_buf_mem_limit=4 -t 1');
    my $s = $srv->new_sock;
    my @k3 = ('aaa' .. 'zzz');
    my @k5 = ('aaaaa' .. 'aaezz');
    my $get = sub { 'get ' . join(' ', @_) . "\r\n" };
    send_expect($s, $get->(@k3[0 .. 3314]), "END\r\n", '4 MB, -t 1: 3315 keys in a 13 KB line');
    send_expect($s, $get->(@k3[0 .. 3315]), $ERR, '... 3316 are too many');
    send_expect($s, $get->(@k5[0 .. 3327]), "END\r\n", '3328 keys in a 20 KB line are answered');
    send_expect($s, $get->(@k5[0 .. 3328]), $ERR, '... 3329 are too many');
}

{
    my $srv = start_server(args => '-o read_buf_mem_limit=1 -t 4');
    my $s = $srv->new_sock;
    my $big = 'v' x 2000;
    store_keys($s, 196, $big);
    send_expect($s, multiget(195), values_of(195, $big), '2000-byte values: 195 keys still fit');
    # A fresh connection for each failure below: on one that just sent
    # values, memcached 1.6.45 sends stale value bytes with the error (a
    # reused response object); the error alone is what it means to send.
    send_expect($srv->new_sock, multiget(196), $ERR, '... and 196 still do not');

    # The replies queued before the failing multiget are dropped with it;
    # the requests after it are served.
    send_expect($srv->new_sock, "get k1\r\nget k2\r\n" . multiget(196) . "get k3\r\n",
                $ERR . "VALUE k3 0 2000\r\n$big\r\nEND\r\n",
                'pipelined replies before the failure are dropped, later ones sent');
    send_expect($srv->new_sock, "gets " . join(' ', map { "k$_" } 1 .. 196) . "\r\n", $ERR, 'gets too');
}

{
    # With -R above the bound, stacked requests in one read all hold their
    # object at once; the first that finds none hangs up, sending nothing.
    my $srv = start_server(args => '-o read_buf_mem_limit=1 -t 4 -R 1000');
    my $s = $srv->new_sock;
    store_keys($s, 500, 'x');
    my $mg = sub { join '', map { "mg k$_ v\r\n" } 1 .. $_[0] };
    send_expect($s, $mg->(195), "VA 1\r\nx\r\n" x 195, '195 stacked mg are answered');
    my $watcher = $srv->new_sock;       # opened before the hang-ups
    my $oom = oom_count($s);
    my $c = $srv->new_sock;
    send_bytes($c, $mg->(196));
    expect_closed($c, '196 stacked mg: the connection is closed, nothing sent');
    $c = $srv->new_sock;
    send_bytes($c, $mg->(500));
    expect_closed($c, '500 stacked mg: closed too');
    is(oom_count($s), $oom + 2, 'response_obj_oom counts each');

    # Quiet misses hold their object until the flush as well.
    $c = $srv->new_sock;
    send_expect($c, join('', map { "mg miss$_ v q\r\n" } 1 .. 194) . "mn\r\n", "MN\r\n",
                '194 quiet misses and mn fit');
    $c = $srv->new_sock;
    send_bytes($c, join('', map { "mg miss$_ v q\r\n" } 1 .. 195) . "mn\r\n");
    expect_closed($c, '195 quiet misses and mn do not');

    # mn sends what is queued, which gives the objects back.
    my $twice = $mg->(150) . "mn\r\n" . $mg->(150) . "mn\r\n";
    my $replies = "VA 1\r\nx\r\n" x 150 . "MN\r\n";
    send_expect($s, $twice, $replies . $replies,
                'mn is a flush point: 2 x 150 mg with an mn after each are answered');

    # Binary: getkq per key, then noop.
    my $getkq = sub { join('', map { bin_req('getkq', key => "k$_") } 1 .. $_[0]) . bin_req('noop') };
    $c = $srv->new_sock;
    send_bytes($c, $getkq->(194));
    my @got = map { bin_read($c) } 1 .. 195;
    is(join(',', map { defined $_ ? "$_->{op}:$_->{status}:$_->{key}:$_->{val}" : 'none' } @got),
       join(',', (map { "13:0:k$_:x" } 1 .. 194), '10:0::'),
       'binary: 194 getkq and noop are answered');
    $c = $srv->new_sock;
    send_bytes($c, $getkq->(195));
    expect_closed($c, 'binary: 195 getkq and noop: closed, nothing sent');

    # Every worker goes on serving, old connections and new ones.
    mem_get_is($watcher, 'k7', 'x', 'a connection opened before the hang-ups is served');
    for my $i (1 .. 4) {
        mem_get_is($srv->new_sock, "k$i", 'x', "new connection $i is served");
    }
    send_expect($s, $mg->(195), "VA 1\r\nx\r\n" x 195, '195 stacked mg still fit: nothing leaked');
}

{
    # A client that does not read its 819-object reply (1 MB, -t 1: all the
    # worker has) gives each object back as its bytes leave, as memcached
    # frees each response once written: another client on the worker is
    # served meanwhile.
    my $srv = start_server(args => '-o read_buf_mem_limit=1 -t 1');
    my $s = $srv->new_sock;
    my $v = 'x' x 100_000;
    send_expect($s, "set k1 0 0 100000\r\n$v\r\nset k2 0 0 1\r\ny\r\n", "STORED\r\n" x 2, 'set k1 (100 KB), k2');
    my $slow = $srv->new_sock;
    setsockopt($slow, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096);
    my $hits = mem_stats($s)->{get_hits};
    send_bytes($slow, 'get ' . join(' ', ('k1') x 819) . "\r\n");
    poll_stats($s, undef, sub { $_[0]{get_hits} >= $hits + 819 });
    send_expect($srv->new_sock, "get k2\r\n", "VALUE k2 0 1\r\ny\r\nEND\r\n",
                'another client is served while the slow one has not read its reply');
    is(mem_stats($s)->{response_obj_oom}, 0, 'no response_obj_oom');
}

{
    # No limit by default (memcached's 0).
    my $srv = start_server(args => '-t 1');
    my $s = $srv->new_sock;
    store_keys($s, 1000, 'x');
    send_expect($s, multiget(1000), values_of(1000, 'x'), 'no limit: a 1000-key multiget works');
    is(mem_stats($s)->{response_obj_oom}, 0, 'response_obj_oom stays 0');
}

done_testing();
