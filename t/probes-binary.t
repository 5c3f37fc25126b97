#!/usr/bin/perl
# Binary requests fire the same probes, with the same arguments, as their
# ASCII equivalents: the same workload runs once in ASCII (keys "a:...")
# and once in binary (keys "b:...", same lengths), and the command probes
# and request__done must match row for row.  Binary packets are pipelined
# in one write, so a key is followed by more packet bytes in the read
# buffer: reading it with str(arg1) alone shows whether it is NUL-terminated.
# Also: process__command__start/end once per packet, protocol__error for
# error statuses, and the incr that creates its key.
# Needs root and bpftrace; skipped otherwise (failed under
# MEMCACHED_REQUIRE_PROBES).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;
use McBinary;

require_probes_or_skip('all');

my $U = 'usdt:{BIN}:memcached';
my $srv = start_server(args => '-m 16');

sub setx { pack('NN', $_[0] // 0, $_[1] // 0) }
sub arithx { pack('Q>Q>N', @_) }

# The binary workload: request packets, in one write.
my @bin = (
    bin_req('set', key => 'b:k1', ext => setx(), val => 'hello'),
    bin_req('get', key => 'b:k1'),
    bin_req('getk', key => 'b:miss'),
    bin_req('getq', key => 'b:miss2'),
    bin_req('setq', key => 'b:n', ext => setx(), val => '10'),
    bin_req('incr', key => 'b:n', ext => arithx(5, 0, 0)),
    bin_req('decr', key => 'b:n', ext => arithx(3, 0, 0)),
    bin_req('incr', key => 'b:none', ext => arithx(1, 0, 0xffffffff)),
    bin_req('touch', key => 'b:n', ext => pack('N', 100)),
    bin_req('gat', key => 'b:n', ext => pack('N', 100)),
    bin_req('delete', key => 'b:k1'),
    bin_req('delete', key => 'b:k1'),
    # binary only: incr creating its key, and error statuses
    bin_req('incr', key => 'b:auto', ext => arithx(1, 42, 0)),
    bin_req('setq', key => 'b:txt', ext => setx(), val => 'abc'),
    bin_req('incr', key => 'b:txt', ext => arithx(1, 0, 0)),
    bin_req(0x44),
    bin_req('noop'),
);
# The ASCII equivalents of the first twelve.
my $ascii = "set a:k1 0 0 5\r\nhello\r\nget a:k1\r\nget a:miss\r\nget a:miss2\r\n"
          . "set a:n 0 0 2 noreply\r\n10\r\nincr a:n 5\r\ndecr a:n 3\r\nincr a:none 1\r\n"
          . "touch a:n 100\r\ngat 100 a:n\r\ndelete a:k1\r\ndelete a:k1\r\n";
my $ascii_reply = "STORED\r\nVALUE a:k1 0 5\r\nhello\r\nEND\r\nEND\r\nEND\r\n15\r\n12\r\n"
                . "NOT_FOUND\r\nTOUCHED\r\nVALUE a:n 0 2\r\n12\r\nEND\r\nDELETED\r\nNOT_FOUND\r\n";

my ($aport, $bport);
my @replies;
my @lines = trap_probe($srv, <<"BT", sub {
$U:command__set { printf("%llu|set|%d|%s|%d|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3, arg4); }
$U:command__get { printf("%llu|get|%d|%s|%d|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3, arg4); }
$U:command__touch { printf("%llu|touch|%d|%s|%d|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3, arg4); }
$U:command__delete { printf("%llu|delete|%d|%s|%d\\n", nsecs, arg0, str(arg1), arg2); }
$U:command__incr { printf("%llu|incr|%d|%s|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3); }
$U:command__decr { printf("%llu|decr|%d|%s|%d|%lld\\n", nsecs, arg0, str(arg1), arg2, arg3); }
$U:request__done { printf("%llu|done|%d|%s|%s|%d|%s|%lld\\n", nsecs, arg0, str(arg1), str(arg2), arg3, str(arg4), arg5); }
$U:protocol__error { printf("%llu|error|%d|%s|%s\\n", nsecs, arg0, str(arg1), str(arg2)); }
$U:process__command__start { printf("%llu|start|%d|%d\\n", nsecs, arg0, arg2); }
$U:process__command__end { printf("%llu|end|%d|%d\\n", nsecs, arg0, arg2); }
$U:conn__open { printf("%llu|open|%d|%s\\n", nsecs, arg0, str(arg2)); }
BT
    my $as = $srv->new_sock;
    $aport = $as->sockport;
    send_expect($as, $ascii, $ascii_reply, 'ASCII workload replies');
    my $bs = $srv->new_sock;
    $bport = $bs->sockport;
    send_bytes($bs, join '', @bin);
    while (my $p = bin_read($bs)) {
        push @replies, $p;
        last if $p->{op} == $OP{noop};
    }
    is(scalar @replies, 14, 'binary workload: 14 reply packets (17 sent: two quiet sets and a getq miss say nothing)');
});

my @rows = sort { $a->[0] <=> $b->[0] } map { [ split /\|/, $_, -1 ] } grep { /^\d+\|/ } @lines;
diag("unexpected bpftrace output: $_") for grep { !/^\d+\|/ } @lines;

# Connection ids from conn__open, matched on the client's port.
my %fd_of_port = map { my ($p) = $_->[3] =~ /:(\d+)$/; ($p // 0) => $_->[2] } grep { $_->[1] eq 'open' } @rows;
my ($A, $B) = ($fd_of_port{$aport}, $fd_of_port{$bport});
ok(defined $A && defined $B && $A != $B, "connids: ASCII $A, binary $B") or diag(explain(\%fd_of_port));
$A //= -1;
$B //= -1;

my %is_cmd = map { ($_ => 1) } qw(set get touch delete incr decr done);
sub row_key { my ($r) = @_; return $r->[1] eq 'done' ? $r->[4] : $r->[3] }
# A row without time and connid, the key's protocol prefix made neutral,
# the CAS argument replaced by whether it is non-zero.
sub norm {
    my ($r) = @_;
    my @f = @$r[1, 3 .. $#$r];
    $f[$f[0] eq 'done' ? 2 : 1] =~ s/^[ab]:/x:/;
    $f[4] = $f[4] > 0 ? 'cas>0' : 'cas=0' if $f[0] =~ /^(set|get|touch)$/;
    return join '|', @f;
}
my @arows = map { norm($_) } grep { $is_cmd{$_->[1]} && $_->[2] == $A } @rows;
my @brows = map { norm($_) } grep { $is_cmd{$_->[1]} && $_->[2] == $B
                                     && row_key($_) !~ /^b:(auto|txt)$/ } @rows;
my @want = (
    'set|x:k1|4|5|cas>0', 'done|set|x:k1|4|stored|5',
    'get|x:k1|4|5|cas>0', 'done|get|x:k1|4|hit|5',
    'get|x:miss|6|-1|cas=0', 'done|get|x:miss|6|miss|-1',
    'get|x:miss2|7|-1|cas=0', 'done|get|x:miss2|7|miss|-1',
    'set|x:n|3|2|cas>0', 'done|set|x:n|3|stored|2',
    'incr|x:n|3|15', 'done|incr|x:n|3|stored|-1',
    'decr|x:n|3|12', 'done|decr|x:n|3|stored|-1',
    'incr|x:none|6|-1', 'done|incr|x:none|6|not_found|-1',
    'touch|x:n|3|2|cas>0', 'done|touch|x:n|3|touched|-1',
    'touch|x:n|3|2|cas>0', 'done|gat|x:n|3|hit|2',
    'delete|x:k1|4', 'done|delete|x:k1|4|deleted|-1',
    'delete|x:k1|4', 'done|delete|x:k1|4|not_found|-1',
);
is_deeply(\@arows, \@want, 'ASCII: command probes and request__done as expected')
    or diag(join "\n", @arows);
is_deeply(\@brows, \@arows, 'binary: the same probes with the same arguments (keys read with str(arg1))')
    or diag(join "\n", @brows);

# The incr that creates its key, and the non-numeric incr.
my @auto = grep { $is_cmd{$_->[1]} && $_->[2] == $B && row_key($_) eq 'b:auto' } @rows;
is_deeply([ map { join '|', @$_[1, 3 .. $#$_] } @auto ],
          [ 'incr|b:auto|6|42', 'done|incr|b:auto|6|stored|-1' ],
          'incr creating its key: command__incr with the initial value, request__done "stored"');
my @txt = grep { $_->[1] eq 'done' && $_->[2] == $B && row_key($_) eq 'b:txt' } @rows;
is_deeply([ map { join '|', @$_[1, 3 .. $#$_] } @txt ],
          [ 'done|set|b:txt|5|stored|3', 'done|incr|b:txt|5|error|-1' ],
          'non-numeric incr: request__done status "error"');

# protocol__error for error statuses.
my @err = map { join '|', @$_[3, 4] } grep { $_->[1] eq 'error' && $_->[2] == $B } @rows;
is_deeply(\@err, [ 'client_error|Non-numeric server-side value for incr or decr', 'error|Unknown command' ],
          'protocol__error: kind and message text for the binary error statuses');

# process__command__start/end: once per packet; start covers header,
# extras and key, end the packet's reply.
my @se = grep { ($_->[1] eq 'start' || $_->[1] eq 'end') && $_->[2] == $B } @rows;
my @want_se;
my @reply_len = map { length $_->{raw} } @replies;
for my $req (@bin) {
    my ($op, $klen, $elen) = unpack('x C n C', $req);
    push @want_se, "start|" . (24 + $elen + $klen);
    my $silent = $op == $OP{getq} || $op == $OP{setq};
    push @want_se, 'end|' . ($silent ? 0 : shift @reply_len);
}
is_deeply([ map { "$_->[1]|$_->[3]" } @se ], \@want_se,
          'process__command__start/end: once per packet, request and reply sizes')
    or diag(join ' ', map { "$_->[1]|$_->[3]" } @se);

done_testing;
