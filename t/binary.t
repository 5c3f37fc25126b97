#!/usr/bin/perl
# The binary protocol: every opcode memcached serves (outside SASL), the
# quiet forms and what they leave out, opaque and CAS in replies, error
# statuses with memcached's texts, malformed packets, packets cut into
# single bytes, stats counted as for ASCII, -B, and binary over UDP.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use Test::More;
use McTest;
use McBinary;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

sub setx { my ($flags, $exp) = @_; return pack('NN', $flags // 0, $exp // 0) }
sub arithx { my ($delta, $initial, $exp) = @_; return pack('Q>Q>N', $delta, $initial, $exp) }
sub noop_res { bin_res('noop', opaque => $_[0] // 0) }

# A fresh connection, negotiated as binary by a first noop.
sub bin_sock {
    my $c = $srv->new_sock;
    send_expect($c, bin_req('noop', opaque => 1), noop_res(1), 'noop opens a binary connection');
    return $c;
}

# --- noop, version ------------------------------------------------------------------
send_expect($s, bin_req('noop', opaque => 0xdeadbeef, cas => 77),
            bin_res('noop', opaque => 0xdeadbeef), 'noop: opaque echoed, CAS 0 in reply');
my $r = bin_call($s, 'version', opaque => 42);
ok($r && $r->{op} == $OP{version} && $r->{status} == 0 && $r->{opaque} == 42
   && $r->{val} =~ /^\S+\z/ && $r->{key} eq '' && $r->{ext} eq '' && $r->{cas} == 0,
   'version: one packet with the version text');

# --- set and the get family ---------------------------------------------------------------
send_expect($s, bin_req('get', key => 'nokey', opaque => 3),
            bin_error_res('get', 'not_found', opaque => 3), 'get miss: "Not found"');
send_expect($s, bin_req('getk', key => 'nokey', opaque => 4),
            bin_res('getk', status => 'not_found', key => 'nokey', opaque => 4),
            'getk miss: the key, no text');

$r = bin_call($s, 'set', key => 'k1', ext => setx(0xdeadbeef, 0), val => 'hello', opaque => 5);
ok($r && $r->{status} == 0 && $r->{opaque} == 5 && $r->{cas} != 0 && $r->{val} eq ''
   && $r->{key} eq '' && $r->{ext} eq '', 'set: success with the new CAS');
my $cas1 = $r ? $r->{cas} : 0;

my $flags = pack('N', 0xdeadbeef);
send_expect($s, bin_req('get', key => 'k1', opaque => 6),
            bin_res('get', ext => $flags, val => 'hello', opaque => 6, cas => $cas1),
            'get hit: flags, value, CAS');
send_expect($s, bin_req('getk', key => 'k1', opaque => 7),
            bin_res('getk', ext => $flags, key => 'k1', val => 'hello', opaque => 7, cas => $cas1),
            'getk hit: with the key');
send_expect($s, bin_req('getq', key => 'k1', opaque => 8) . bin_req('getkq', key => 'k1', opaque => 9),
            bin_res('getq', ext => $flags, val => 'hello', opaque => 8, cas => $cas1)
            . bin_res('getkq', ext => $flags, key => 'k1', val => 'hello', opaque => 9, cas => $cas1),
            'getq/getkq hits are sent, with their own opcodes');
send_expect($s, bin_req('getq', key => 'miss1') . bin_req('getkq', key => 'miss2')
            . bin_req('noop', opaque => 10), noop_res(10), 'getq/getkq misses send nothing');

# Pipelined multi-get: getkq for each key, then a noop.
{
    my %have = map { ("mk$_" => "v$_") } (2, 5, 7);
    my ($send, $want) = ('', '');
    for my $k (keys %have) {
        send_bytes($s, bin_req('setq', key => $k, ext => setx(0, 0), val => $have{$k}));
    }
    for my $i (1 .. 8) {
        $send .= bin_req('getkq', key => "mk$i", opaque => $i);
    }
    $send .= bin_req('noop', opaque => 99);
    send_bytes($s, $send);
    my @got;
    while (my $p = bin_read($s)) {
        push @got, $p;
        last if $p->{op} == $OP{noop};
    }
    is(join(',', map { "$_->{opaque}:$_->{key}=$_->{val}" } @got),
       '2:mk2=v2,5:mk5=v5,7:mk7=v7,99:=', 'getkq x 8 + noop: only the hits, in order, then the noop');
}

# --- add, replace, append, prepend -------------------------------------------------------
send_expect($s, bin_req('add', key => 'k1', ext => setx(), val => 'x', opaque => 11),
            bin_error_res('add', 'exists', opaque => 11), 'add existing: "Data exists for key."');
send_expect($s, bin_req('addq', key => 'k1', ext => setx(), val => 'x', opaque => 12),
            bin_error_res('addq', 'exists', opaque => 12), 'addq still reports a failure');
send_expect($s, bin_req('replace', key => 'nokey', ext => setx(), val => 'x', opaque => 13),
            bin_error_res('replace', 'not_found', opaque => 13), 'replace missing: "Not found"');
send_expect($s, bin_req('append', key => 'nokey', val => 'x', opaque => 14),
            bin_error_res('append', 'not_stored', opaque => 14), 'append missing: "Not stored."');
$r = bin_call($s, 'add', key => 'k2', ext => setx(3, 0), val => 'two');
ok($r && $r->{status} == 0 && $r->{cas} != 0, 'add new key');
$r = bin_call($s, 'replace', key => 'k2', ext => setx(4, 0), val => 'TWO');
ok($r && $r->{status} == 0 && $r->{cas} != 0, 'replace existing key');
$r = bin_call($s, 'append', key => 'k2', val => '>>');
ok($r && $r->{status} == 0 && $r->{cas} != 0, 'append');
$r = bin_call($s, 'prepend', key => 'k2', val => '<<');
ok($r && $r->{status} == 0 && $r->{cas} != 0, 'prepend');
my $cas2 = $r ? $r->{cas} : 0;
send_expect($s, bin_req('get', key => 'k2'),
            bin_res('get', ext => pack('N', 4), val => '<<TWO>>', cas => $cas2),
            'append/prepend joined the value and kept the flags');
send_bytes($s, bin_req('setq', key => 'k3', ext => setx(), val => 'a')
           . bin_req('addq', key => 'k4', ext => setx(), val => 'b')
           . bin_req('replaceq', key => 'k3', ext => setx(), val => 'c')
           . bin_req('appendq', key => 'k3', val => 'd')
           . bin_req('prependq', key => 'k3', val => 'e')
           . bin_req('noop', opaque => 15));
send_expect($s, '', noop_res(15), 'quiet storage commands send nothing on success');
$r = bin_call($s, 'get', key => 'k3');
is($r && $r->{val}, 'ecd', 'setq, replaceq, appendq, prependq applied');
$r = bin_call($s, 'get', key => 'k4');
is($r && $r->{val}, 'b', 'addq applied');

# --- CAS ----------------------------------------------------------------------------------------
$r = bin_call($s, 'get', key => 'k1');
my $cas = $r ? $r->{cas} : 0;
send_expect($s, bin_req('set', key => 'k1', ext => setx(), val => 'z', cas => $cas + 1000),
            bin_error_res('set', 'exists'), 'set with a stale CAS: "Data exists for key."');
send_expect($s, bin_req('set', key => 'nokey', ext => setx(), val => 'z', cas => 12345),
            bin_error_res('set', 'not_found'), 'set with a CAS on a missing key: "Not found"');
send_expect($s, bin_req('add', key => 'k1', ext => setx(), val => 'z', cas => $cas + 1000),
            bin_error_res('add', 'exists'), 'add with a CAS acts as cas');
send_expect($s, bin_req('append', key => 'k1', val => 'z', cas => $cas + 1000),
            bin_error_res('append', 'exists'), 'append with a stale CAS');
$r = bin_call($s, 'set', key => 'k1', ext => setx(9, 0), val => 'casval', cas => $cas, opaque => 16);
ok($r && $r->{status} == 0 && $r->{opaque} == 16 && $r->{cas} != 0 && $r->{cas} != $cas,
   'set with the right CAS stores, new CAS');
send_expect($s, bin_req('set', key => 'k1', ext => setx(), val => 'z', cas => $cas),
            bin_error_res('set', 'exists'), 'the old CAS no longer matches');

# --- delete ---------------------------------------------------------------------------------------
send_expect($s, bin_req('delete', key => 'nokey', opaque => 17),
            bin_error_res('delete', 'not_found', opaque => 17), 'delete miss');
send_expect($s, bin_req('deleteq', key => 'nokey', opaque => 18),
            bin_error_res('deleteq', 'not_found', opaque => 18), 'deleteq miss is reported');
$r = bin_call($s, 'get', key => 'k1');
$cas = $r ? $r->{cas} : 0;
send_expect($s, bin_req('delete', key => 'k1', cas => $cas + 1000),
            bin_error_res('delete', 'exists'), 'delete with a stale CAS');
send_expect($s, bin_req('delete', key => 'k1', cas => $cas, opaque => 19),
            bin_res('delete', opaque => 19), 'delete with the right CAS, reply CAS 0');
send_expect($s, bin_req('get', key => 'k1'), bin_error_res('get', 'not_found'), 'deleted');
send_expect($s, bin_req('deleteq', key => 'k2') . bin_req('noop', opaque => 20), noop_res(20),
            'deleteq hit sends nothing');
send_expect($s, bin_req('get', key => 'k2'), bin_error_res('get', 'not_found'), 'deleteq deleted');

# --- incr, decr -----------------------------------------------------------------------------------
sub counter_is {
    my ($op, $key, $x, $value, $name, %a) = @_;
    my $r = bin_call($s, $op, key => $key, ext => $x, %a);
    ok($r && $r->{status} == 0 && $r->{val} eq pack('Q>', $value) && $r->{cas} != 0
       && $r->{op} == $OP{$op}, $name)
        or diag(explain($r));
    return $r;
}
counter_is('incr', 'cnt', arithx(5, 100, 0), 100, 'incr miss creates the key with the initial value');
counter_is('incr', 'cnt', arithx(5, 100, 0), 105, 'incr adds the delta');
counter_is('decr', 'cnt', arithx(6, 100, 0), 99, 'decr subtracts');
counter_is('decr', 'cnt', arithx(500, 100, 0), 0, 'decr stops at 0');
counter_is('decr', 'dcnt', arithx(1, 7, 0), 7, 'decr miss creates too');
send_expect($s, bin_req('get', key => 'cnt'),
            bin_res('get', ext => pack('N', 0), val => '0  ', cas => bin_call($s, 'getk', key => 'cnt')->{cas}),
            'the counter is stored as text (padded in place, as memcached does)');
send_expect($s, bin_req('incr', key => 'nocnt', ext => arithx(1, 5, 0xffffffff), opaque => 21),
            bin_error_res('incr', 'not_found', opaque => 21), 'expiry 0xffffffff: miss is "Not found"');
send_expect($s, bin_req('decr', key => 'nocnt', ext => arithx(1, 5, 0xffffffff)),
            bin_error_res('decr', 'not_found'), 'decr too');
send_expect($s, bin_req('get', key => 'nocnt'), bin_error_res('get', 'not_found'), 'nothing created');
send_bytes($s, bin_req('set', key => 'big64', ext => setx(), val => '18446744073709551615'));
bin_read($s);
counter_is('incr', 'big64', arithx(2, 0, 0), 1, 'incr wraps at 2^64');
counter_is('incr', 'max', arithx(1, 18446744073709551615, 0), 18446744073709551615,
           'initial value 2^64-1');
send_bytes($s, bin_req('set', key => 'text', ext => setx(), val => 'abc'));
bin_read($s);
send_expect($s, bin_req('incr', key => 'text', ext => arithx(1, 0, 0), opaque => 22),
            bin_error_res('incr', 'non_numeric', opaque => 22), 'incr on a non-numeric value');
send_expect($s, bin_req('incrq', key => 'text', ext => arithx(1, 0, 0)),
            bin_error_res('incrq', 'non_numeric'), 'incrq reports it too');
$r = bin_call($s, 'getk', key => 'cnt');
send_expect($s, bin_req('incr', key => 'cnt', ext => arithx(1, 0, 0), cas => $r->{cas} + 1000),
            bin_error_res('incr', 'exists'), 'incr with a stale CAS');
counter_is('incr', 'cnt', arithx(1, 0, 0), 1, 'incr with the right CAS', cas => $r->{cas});
send_expect($s, bin_req('incrq', key => 'cnt', ext => arithx(10, 0, 0))
            . bin_req('decrq', key => 'cnt', ext => arithx(1, 0, 0))
            . bin_req('incrq', key => 'newq', ext => arithx(1, 3, 0))
            . bin_req('noop', opaque => 23), noop_res(23), 'incrq/decrq send nothing on success');
counter_is('incr', 'cnt', arithx(0, 0, 0), 10, 'incrq and decrq applied');
counter_is('incr', 'newq', arithx(0, 0, 0), 3, 'incrq created its key');

# --- touch, gat ------------------------------------------------------------------------------------
$r = bin_call($s, 'set', key => 't', ext => setx(7, 0), val => 'abc');
my $tcas = $r ? $r->{cas} : 0;
my $exp = pack('N', 1000);
send_expect($s, bin_req('touch', key => 't', ext => $exp, opaque => 24),
            bin_res('touch', ext => pack('N', 7), opaque => 24, cas => $tcas),
            'touch hit: flags and CAS, no value');
send_expect($s, bin_req('touch', key => 'nokey', ext => $exp, opaque => 25),
            bin_error_res('touch', 'not_found', opaque => 25), 'touch miss');
send_expect($s, bin_req('gat', key => 't', ext => $exp, opaque => 26),
            bin_res('gat', ext => pack('N', 7), val => 'abc', opaque => 26, cas => $tcas), 'gat hit');
send_expect($s, bin_req('gatk', key => 't', ext => $exp),
            bin_res('gatk', ext => pack('N', 7), key => 't', val => 'abc', cas => $tcas), 'gatk hit');
send_expect($s, bin_req('gatq', key => 't', ext => $exp) . bin_req('gatkq', key => 't', ext => $exp),
            bin_res('gatq', ext => pack('N', 7), val => 'abc', cas => $tcas)
            . bin_res('gatkq', ext => pack('N', 7), key => 't', val => 'abc', cas => $tcas),
            'gatq/gatkq hits are sent');
send_expect($s, bin_req('gatq', key => 'nokey', ext => $exp) . bin_req('gatkq', key => 'nokey', ext => $exp)
            . bin_req('noop', opaque => 27), noop_res(27), 'gatq/gatkq misses send nothing');
send_expect($s, bin_req('gat', key => 'nokey', ext => $exp),
            bin_error_res('gat', 'not_found'), 'gat miss');
send_expect($s, bin_req('gatk', key => 'nokey', ext => $exp),
            bin_res('gatk', status => 'not_found', key => 'nokey'), 'gatk miss: the key, no text');
# An exptime over 30 days is a unix time; this one is long past.
send_expect($s, bin_req('touch', key => 't', ext => pack('N', 30 * 86400 + 1)),
            bin_res('touch', ext => pack('N', 7), cas => $tcas), 'touch with a past unix time');
send_expect($s, bin_req('get', key => 't'), bin_error_res('get', 'not_found'), 'and it expired');
$r = bin_call($s, 'set', key => 'g', ext => setx(0, 0), val => 'x');
send_bytes($s, bin_req('gat', key => 'g', ext => pack('N', 30 * 86400 + 1)));
bin_read($s);
send_expect($s, bin_req('get', key => 'g'), bin_error_res('get', 'not_found'), 'gat sets the exptime too');
$r = bin_call($s, 'set', key => 'far', ext => setx(0, 0xffffffff), val => 'x');
send_expect($s, bin_req('get', key => 'far'), bin_res('get', ext => pack('N', 0), val => 'x', cas => $r->{cas}),
            'exptime 0xffffffff is a unix time in 2106, not "already expired"');

# --- flush ---------------------------------------------------------------------------------------------
send_bytes($s, bin_req('setq', key => 'f1', ext => setx(), val => '1'));
send_expect($s, bin_req('flush', opaque => 28), bin_res('flush', opaque => 28), 'flush');
send_expect($s, bin_req('get', key => 'f1'), bin_error_res('get', 'not_found'), 'flush emptied the cache');
send_bytes($s, bin_req('setq', key => 'f2', ext => setx(), val => '2'));
send_expect($s, bin_req('flushq') . bin_req('noop', opaque => 29), noop_res(29), 'flushq sends nothing');
send_expect($s, bin_req('get', key => 'f2'), bin_error_res('get', 'not_found'), 'flushq flushed');
send_bytes($s, bin_req('setq', key => 'f3', ext => setx(), val => '3'));
send_expect($s, bin_req('flush', ext => pack('N', 3600)), bin_res('flush'), 'flush with a delay');
send_expect($s, bin_req('getk', key => 'f3'),
            bin_res('getk', ext => pack('N', 0), key => 'f3', val => '3',
                    cas => bin_call($s, 'get', key => 'f3')->{cas}),
            'a delayed flush leaves items until then');

# --- stat -------------------------------------------------------------------------------------------------
sub stat_packets {
    my ($c, $key, $opaque) = @_;
    send_bytes($c, bin_req('stat', key => $key // '', opaque => $opaque // 0));
    my @p;
    while (my $p = bin_read($c)) {
        push @p, $p;
        last if $p->{key} eq '' || $p->{status} != 0;
    }
    return @p;
}
sub stat_map { my %m = map { ($_->{key} => $_->{val}) } grep { $_->{key} ne '' } @_; return \%m }
{
    my @p = stat_packets($s, '', 30);
    my $end = $p[-1];
    ok(@p > 20 && $end && $end->{raw} eq bin_res('stat', opaque => 30), 'stat: many packets, then an empty one');
    ok(!grep({ $_->{op} != $OP{stat} || $_->{status} != 0 || $_->{opaque} != 30 || $_->{cas} != 0
               || $_->{ext} ne '' } @p), 'each stat packet: stat opcode, success, opaque, no CAS');
    is($p[0]{key}, 'pid', 'first stat is pid');
    like(stat_map(@p)->{pid} // '', qr/^\d+$/, 'pid value is ASCII digits');
    is(stat_map(@p)->{pid}, $srv->pid, 'the server\'s pid');

    @p = stat_packets($s, 'settings');
    ok(@p > 20 && $p[-1]{key} eq '', 'stat settings');
    is(stat_map(@p)->{maxbytes}, 64 * 1024 * 1024, 'settings: maxbytes');
    is(stat_map(@p)->{binding_protocol}, 'auto-negotiate', 'settings: binding_protocol');

    @p = stat_packets($s, 'slabs');
    ok(exists stat_map(@p)->{active_slabs} && exists stat_map(@p)->{total_malloced}, 'stat slabs');

    send_expect($s, bin_req('stat', key => 'bogus', opaque => 31),
                bin_error_res('stat', 'not_found', opaque => 31), 'stat of an unknown group: "Not found"');

    @p = stat_packets($s, 'items');
    ok(exists stat_map(@p)->{'items:1:number'} && $p[-1]{raw} eq bin_res('stat'), 'stat items');
    @p = stat_packets($s, 'sizes');
    is_deeply(stat_map(@p), { sizes_status => 'disabled' }, 'stat sizes');
    send_expect($s, bin_req('stat', key => 'conns', opaque => 32),
                bin_error_res('stat', 'not_found', opaque => 32), 'stat conns: "Not found" (as memcached)');
}

# stat detail on|off|dump: what binary clients switch on at connect.
{
    my $c = bin_sock();
    send_expect($c, bin_req('stat', key => 'detail on', opaque => 41), bin_res('stat', opaque => 41),
                'stat detail on: the terminator alone');
    send_bytes($c, bin_req('setq', key => 'pa:x', ext => setx(), val => 'v')
               . bin_req('getq', key => 'pa:x') . bin_req('getq', key => 'pb:y')
               . bin_req('deleteq', key => 'pa:x'));
    bin_read($c);   # the getq hit
    # One "detailed" stat holds the dump (its prefixes in hash order).
    my $dump_is = sub {
        my ($key, $opaque, $name) = @_;
        send_bytes($c, bin_req('stat', key => $key, opaque => $opaque));
        my $d = bin_read($c);
        my $end = bin_read($c);
        ok($d && $d->{status} == 0 && $d->{key} eq 'detailed' && $d->{opaque} == $opaque
           && $end && $end->{raw} eq bin_res('stat', opaque => $opaque), "$name: one packet, then the terminator");
        my @lines = split /(?<=\r\n)/, $d ? $d->{val} : '';
        is_deeply([sort @lines[0 .. $#lines - 1]],
                  ["PREFIX pa get 1 hit 1 set 1 del 1\r\n", "PREFIX pb get 1 hit 0 set 0 del 0\r\n"],
                  "$name: the counts per prefix");
        is($lines[-1], "END\r\n", "$name: END last");
    };
    $dump_is->('detail dump', 42, 'stat detail dump');
    send_expect($c, bin_req('stat', key => 'detail off', opaque => 43), bin_res('stat', opaque => 43),
                'stat detail off: the terminator alone');
    send_bytes($c, bin_req('getq', key => 'pc:z'));
    $dump_is->('detail dumpx', 44, 'after off, nothing more counted ("dumpx" is a dump)');
    send_expect($c, bin_req('stat', key => 'detail onx', opaque => 45), bin_res('stat', opaque => 45),
                'stat detail onx: taken as on');
    send_expect($c, bin_req('stat', key => 'detail bogus', opaque => 47),
                bin_error_res('stat', 'not_found', opaque => 47), 'stat detail bogus: "Not found"');
    send_expect($c, bin_req('stat', key => 'detail off'), bin_res('stat'), 'detail off again');

    my $x = start_server(args => '-X');
    my $xc = $x->new_sock;
    send_expect($xc, bin_req('stat', key => 'detail on', opaque => 48),
                bin_error_res('stat', 'not_found', opaque => 48), '-X: stat detail on: "Not found"');
    send_expect($xc, bin_req('stat', key => 'detail dump', opaque => 49),
                bin_error_res('stat', 'not_found', opaque => 49), '-X: stat detail dump: "Not found"');
}

# Stats count binary requests as ASCII does.
{
    my $c = bin_sock();
    send_bytes($c, bin_req('stat', key => 'reset'));
    is(bin_read($c)->{raw}, bin_res('stat'), 'stat reset: just the terminator');
    my $before = stat_map(stat_packets($c));
    send_bytes($c, bin_req('set', key => 's1', ext => setx(), val => '1')
               . bin_req('get', key => 's1') . bin_req('getq', key => 's1')
               . bin_req('getk', key => 'nope') . bin_req('getkq', key => 'nope')
               . bin_req('delete', key => 's1') . bin_req('delete', key => 's1')
               . bin_req('incr', key => 'nope', ext => arithx(1, 0, 0xffffffff))
               . bin_req('decr', key => 'nope', ext => arithx(1, 0, 0xffffffff))
               . bin_req('incr', key => 's2', ext => arithx(1, 0, 0))
               . bin_req('incr', key => 's2', ext => arithx(1, 0, 0))
               . bin_req('touch', key => 's2', ext => pack('N', 0))
               . bin_req('gat', key => 'nope', ext => pack('N', 0))
               . bin_req('set', key => 's3', ext => setx(), val => 'x', cas => 1)
               . bin_req('add', key => 's2', ext => setx(), val => 'x')
               . bin_req('flush')
               . bin_req('noop', opaque => 77));
    my $n = 0;
    while (my $p = bin_read($c)) { $n++; last if $p->{op} == $OP{noop} }
    my $after = stat_map(stat_packets($c));
    my %want = (cmd_get => 4, get_hits => 2, get_misses => 2, cmd_set => 3,
                delete_hits => 1, delete_misses => 1, incr_misses => 1, decr_misses => 1,
                incr_hits => 1, cmd_touch => 2, touch_hits => 1, touch_misses => 1,
                cas_misses => 1, cmd_flush => 1);
    my %got = map { ($_ => $after->{$_} - $before->{$_}) } keys %want;
    is_deeply(\%got, \%want, 'binary requests counted in the stats as ASCII ones');
    close $c;
}

# --- quit ----------------------------------------------------------------------------------------------------
{
    my $c = bin_sock();
    send_bytes($c, bin_req('quit', opaque => 32));
    send_expect($c, '', bin_res('quit', opaque => 32), 'quit: a reply');
    expect_closed($c, 'quit: then the connection closes');
    $c = bin_sock();
    send_bytes($c, bin_req('quitq'));
    expect_closed($c, 'quitq: closes without a reply');
}

# --- unknown opcodes -----------------------------------------------------------------------------------------
# (verbosity, 0x1b, is one: memcached 1.6 does not serve it.)
for my $op (0x1b, 0x20, 0x44, 0xff) {
    send_expect($s, bin_req($op, opaque => 33) . bin_req('noop', opaque => 34),
                bin_error_res($op, 'unknown', opaque => 33) . noop_res(34),
                sprintf('opcode 0x%02x: "Unknown command", connection goes on', $op));
}
# SASL auth without SASL: the key and value are read, then refused.
send_expect($s, bin_req(0x21, key => 'PLAIN', val => "\0user\0secret", opaque => 33)
            . bin_req('noop', opaque => 34),
            bin_error_res(0x21, 'unknown', opaque => 33) . noop_res(34),
            'SASL auth: "Unknown command", its body skipped');

# --- malformed packets ----------------------------------------------------------------------------------------
sub refused {
    my ($name, $req, $status, $op) = @_;
    my $c = bin_sock();
    send_bytes($c, $req . bin_req('noop', opaque => 35));
    send_expect($c, '', bin_error_res($op, $status), "$name: $status");
    expect_closed($c, "$name: then closed");
}
refused('get with extras', bin_req('get', key => 'k', ext => 'abcd'), 'invalid', 'get');
refused('get with a value', bin_req('get', key => 'k', val => 'vv'), 'invalid', 'get');
refused('get without key', bin_req('get'), 'invalid', 'get');
refused('key of 251 bytes', bin_req('get', key => 'a' x 251), 'invalid', 'get');
refused('set with 4 bytes of extras', bin_req('set', key => 'k', ext => 'abcd', val => 'v'), 'invalid', 'set');
refused('set without key', bin_req('set', ext => setx(), val => 'v'), 'invalid', 'set');
refused('delete with extras', bin_req('delete', key => 'k', ext => 'abcd'), 'invalid', 'delete');
refused('incr with 8 bytes of extras', bin_req('incr', key => 'k', ext => 'a' x 8), 'invalid', 'incr');
refused('touch without extras', bin_req('touch', key => 'k'), 'invalid', 'touch');
refused('flush with a key', bin_req('flush', key => 'k'), 'invalid', 'flush');
refused('flush with 2 bytes of extras', bin_req('flush', ext => 'ab'), 'invalid', 'flush');
refused('append with extras', bin_req('append', key => 'k', ext => setx(), val => 'v'), 'invalid', 'append');
refused('stat with extras', bin_req('stat', ext => 'abcd'), 'invalid', 'stat');
refused('noop with a body', bin_req('noop', val => 'xx'), 'invalid', 'noop');
refused('version with a key', bin_req('version', key => 'k'), 'invalid', 'version');
refused('quit with a key', bin_req('quit', key => 'k'), 'invalid', 'quit');
refused('SASL list with a key', bin_req(0x20, key => 'k'), 'invalid', 0x20);
refused('SASL auth without a key', bin_req(0x21), 'invalid', 0x21);
# Body lengths that lie.
refused('body shorter than the key', bin_req('get', key => 'abcd', bodylen => 2), 'unknown', 'get');
refused('body shorter than extras + key',
        bin_req('set', key => 'abcd', ext => setx(), bodylen => 10), 'unknown', 'set');
refused('body over 1 GB (get)', bin_req('get', key => 'k', bodylen => 0x7fffffff), 'invalid', 'get');
refused('body of 4 GB - 1 (set)', bin_req('set', key => 'k', ext => setx(), bodylen => 0xffffffff),
        'invalid', 'set');
refused('body of 1 GB + 1 (unknown opcode)', bin_req(0x44, bodylen => 0x40000001), 'invalid', 0x44);

# A bad magic byte on a binary connection: memcached hangs up at once.
{
    my $c = bin_sock();
    send_bytes($c, bin_req('noop', magic => 0x81));
    expect_closed($c, 'response magic (0x81) in a request: closed');
    $c = bin_sock();
    send_bytes($c, bin_req('noop', opaque => 36) . bin_req('noop', magic => 0x00));
    send_expect($c, '', noop_res(36), 'a noop is flushed before the bad packet');
    expect_closed($c, 'bad magic after a noop: closed');
    # Replies still queued when the bad packet comes are dropped.
    $c = bin_sock();
    send_bytes($c, bin_req('set', key => 'bm', ext => setx(), val => 'v')
               . bin_req('get', key => 'bm') . bin_req('noop', magic => 0x42));
    expect_closed($c, 'set + get + bad magic: closed, their replies dropped (as memcached)');
    $c = bin_sock();
    send_bytes($c, bin_req('get', key => 'nokey', opaque => 37) . bin_req('noop', magic => 0x42));
    send_expect($c, '', bin_error_res('get', 'not_found', opaque => 37), 'an error reply is flushed at once');
    expect_closed($c, 'then the bad magic closes');
    # Fewer than 24 bytes: the server waits for the rest of the header.
    $c = bin_sock();
    send_bytes($c, "\x80\x0a\0\0");
    expect_nothing($c, 200, 'a partial header gets no reply');
    send_expect($c, "\0" x 20, noop_res(0), 'the rest of it completes the noop');
}

# --- values too large --------------------------------------------------------------------------------------------
{
    my $c = bin_sock();
    $r = bin_call($c, 'set', key => 'tl', ext => setx(), val => 'old');
    my $big = 'x' x (1024 * 1024 + 10);
    send_expect($c, bin_req('set', key => 'tl', ext => setx(), val => $big, opaque => 38)
                . bin_req('noop', opaque => 39),
                bin_error_res('set', 'too_large', opaque => 38) . noop_res(39),
                'value over -I: "Too large.", its bytes skipped');
    send_expect($c, bin_req('get', key => 'tl'), bin_error_res('get', 'not_found'),
                'a failed set removed the old value');
    $r = bin_call($c, 'set', key => 'tl', ext => setx(), val => 'old');
    send_expect($c, bin_req('add', key => 'tl', ext => setx(), val => $big),
                bin_error_res('add', 'too_large'), 'add too large');
    send_expect($c, bin_req('get', key => 'tl'), bin_res('get', ext => pack('N', 0), val => 'old', cas => $r->{cas}),
                'a failed add keeps the old value');
    send_expect($c, bin_req('setq', key => 'tl', ext => setx(), val => $big, opaque => 40),
                bin_error_res('setq', 'too_large', opaque => 40), 'setq reports too large');
    # 500 KB round trip.
    my $v = join '', map { chr(32 + $_ % 90) } 1 .. 500_000;
    $r = bin_call($c, 'set', key => 'half', ext => setx(1, 0), val => $v);
    ok($r && $r->{status} == 0, 'set 500 KB');
    $r = bin_call($c, 'get', key => 'half');
    ok($r && $r->{val} eq $v && $r->{ext} eq pack('N', 1), 'get 500 KB back intact');
}

# --- packets cut into single bytes -----------------------------------------------------------------------------------
{
    my $c = bin_sock();
    my @req = (bin_req('set', key => 'split', ext => setx(5, 0), val => 'hello world', opaque => 41),
               bin_req('append', key => 'split', val => '!', opaque => 42),
               bin_req('getkq', key => 'split', opaque => 43),
               bin_req('incr', key => 'scnt', ext => arithx(1, 7, 0), opaque => 44),
               bin_req('stat', key => 'reset', opaque => 45),
               bin_req('noop', opaque => 46));
    for my $byte (split //, join '', @req) {
        send_bytes($c, $byte);
    }
    my @p;
    while (my $p = bin_read($c)) { push @p, $p; last if $p->{op} == $OP{noop} }
    is(join(' ', map { "$_->{opaque}/$_->{status}" } @p), '41/0 42/0 43/0 44/0 45/0 46/0',
       'byte-by-byte: every packet answered in order');
    my ($get) = grep { $_->{opaque} == 43 } @p;
    ok($get && $get->{val} eq 'hello world!' && $get->{key} eq 'split' && $get->{ext} eq pack('N', 5),
       'byte-by-byte: the value arrived whole');
    my ($inc) = grep { $_->{opaque} == 44 } @p;
    ok($inc && $inc->{val} eq pack('Q>', 7), 'byte-by-byte: incr extras parsed');
}

# --- ASCII and binary connections side by side; -B --------------------------------------------------------------------
{
    my $a = $srv->new_sock;
    send_expect($a, "set both 0 0 2\r\nhi\r\n", "STORED\r\n", 'ASCII connection on the same server');
    $r = bin_call($s, 'get', key => 'both');
    ok($r && $r->{val} eq 'hi', 'binary sees what ASCII stored');
    send_bytes($s, bin_req('set', key => 'both', ext => setx(3, 0), val => 'bin'));
    bin_read($s);
    mem_get_is($a, 'both', [3, 'bin'], 'ASCII sees what binary stored');
}
{
    my $bsrv = start_server(args => '-m 8 -B binary');
    my $c = $bsrv->new_sock;
    send_expect($c, bin_req('noop', opaque => 47), noop_res(47), '-B binary: binary works');
    $c = $bsrv->new_sock;
    send_bytes($c, "get a_long_enough_key_to_fill_a_header\r\n");
    expect_closed($c, '-B binary: ASCII text is a bad magic byte, closed');
    my @p = stat_packets($bsrv->new_sock, 'settings');
    is(stat_map(@p)->{binding_protocol}, 'binary', '-B binary: stat settings says so');

    my $asrv = start_server(args => '-m 8 -B ascii');
    $c = $asrv->new_sock;
    send_bytes($c, bin_req('get', key => 'foo') . "\r\nversion\r\n");
    send_expect($c, '', "ERROR\r\n", '-B ascii: a binary packet is parsed as a text line');
    like(read_line($c) // '', qr/^VERSION \S+\r\n\z/, '-B ascii: and the connection stays ASCII');
}

# --- over UDP: one message per reply packet, errors do not cut the datagram short ---------------
{
    my $usrv = start_server(args => '-m 8', udp => 1);
    my $u = IO::Socket::INET->new(Proto => 'udp', PeerAddr => '127.0.0.1', PeerPort => $usrv->port)
        or die "udp socket: $!";
    $u->send(pack('nnnn', 7, 0, 1, 0)
             . bin_req('set', key => 'uk', ext => setx(2, 0), val => 'uval', opaque => 1)
             . bin_req('get', key => 'nokey', opaque => 2)
             . bin_req('getk', key => 'uk', opaque => 3)
             . bin_req('noop', opaque => 4));
    my @msg;
    my $sel = IO::Select->new($u);
    while (@msg < 4 && $sel->can_read(2)) {
        $u->recv(my $d, 65536);
        push @msg, $d;
    }
    is(scalar @msg, 4, 'UDP: four reply messages for four packets');
    my @frames = map { join ',', unpack('nnnn', $_) } @msg;
    is_deeply(\@frames, [ ('7,0,1,0') x 4 ], 'UDP: each a one-datagram message with the request id');
    my @op = map { join '/', unpack('x8 x C x4 n x4 N', $_) } @msg;
    is_deeply(\@op, [ '1/0/1', '0/1/2', '12/0/3', '10/0/4' ],
              'UDP: set, get miss, getk hit, noop answered in order (opcode/status/opaque)');
    is(substr($msg[1] // '', 8), bin_error_res('get', 'not_found', opaque => 2), 'UDP: the miss reply');
    like($msg[2] // '', qr/uk\Kuval\z/, 'UDP: getk carries key and value');
}

done_testing;
