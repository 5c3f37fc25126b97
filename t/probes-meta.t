#!/usr/bin/perl
# Meta commands fire the same command probes as the ASCII commands they
# stand for (from the operations layer), with NUL-terminated keys (read
# here with str(arg1) and no length), and request__done names the meta
# command and its outcome. A base64 key (b) reaches the probes decoded.
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
my $srv = start_server(args => '-m 16');

# Each probe prints one '|'-separated line starting with nsecs; sorted on it.
sub trace {
    my ($program, $client) = @_;
    my @lines = trap_probe($srv, $program, $client);
    my @rows = map { [ split /\|/, $_, -1 ] } grep { /^\d+\|/ } @lines;
    diag("unexpected bpftrace output: $_") for grep { !/^\d+\|/ } @lines;
    return sort { $a->[0] <=> $b->[0] } @rows;
}

my @rows = trace(<<"BT", sub {
$U:command__get { printf("%llu|get|%s|%d|%d|%lld\\n", nsecs, str(arg1), arg2, arg3, arg4); }
$U:command__touch { printf("%llu|touch|%s|%d|%d|%lld\\n", nsecs, str(arg1), arg2, arg3, arg4); }
$U:command__set { printf("%llu|set|%s|%d|%d|%lld\\n", nsecs, str(arg1), arg2, arg3, arg4); }
$U:command__add { printf("%llu|add|%s|%d|%d|%lld\\n", nsecs, str(arg1), arg2, arg3, arg4); }
$U:command__append { printf("%llu|append|%s|%d|%d|%lld\\n", nsecs, str(arg1), arg2, arg3, arg4); }
$U:command__cas { printf("%llu|cas|%s|%d|%d|%lld\\n", nsecs, str(arg1), arg2, arg3, arg4); }
$U:command__delete { printf("%llu|delete|%s|%d\\n", nsecs, str(arg1), arg2); }
$U:command__incr { printf("%llu|incr|%s|%d|%lld\\n", nsecs, str(arg1), arg2, arg3); }
$U:command__decr { printf("%llu|decr|%s|%d|%lld\\n", nsecs, str(arg1), arg2, arg3); }
$U:request__done { printf("%llu|done|%s|%s|%d|%s|%lld\\n", nsecs, str(arg1), str(arg2), arg3, str(arg4), arg5); }
$U:process__command__start { printf("%llu|start|%s\\n", nsecs, str(arg1, arg2)); }
$U:process__command__end { printf("%llu|end|%d\\n", nsecs, arg2); }
BT
    my $s = $srv->new_sock;
    send_expect($s, "ms metakey 5 T0 F3\r\nhello\r\n", "HD\r\n", 'ms');
    send_expect($s, "mg metakey v\r\n", "VA 5\r\nhello\r\n", 'mg hit');
    send_expect($s, "mg nosuchkey v\r\n", "EN\r\n", 'mg miss');
    send_expect($s, "mg metakey T30\r\n", "HD\r\n", 'mg with T');
    send_expect($s, "ms metakey 1 ME\r\nx\r\n", "NS\r\n", 'ms add mode, not stored');
    send_expect($s, "ms metakey 3 MA\r\nabc\r\n", "HD\r\n", 'ms append mode');
    send_expect($s, "ms metakey 1 C1\r\nx\r\n", "EX\r\n", 'ms with a wrong CAS');
    send_expect($s, "ms Zm9vYg== 3 b\r\nabc\r\n", "HD\r\n", 'ms with a base64 key');
    send_expect($s, "mg Zm9vYg== b s\r\n", "HD s3\r\n", 'mg with a base64 key');
    send_expect($s, "ms counter 2\r\n41\r\n", "HD\r\n", 'a counter');
    send_expect($s, "ma counter v\r\n", "VA 2\r\n42\r\n", 'ma incr');
    send_expect($s, "ma counter MD D2 v\r\n", "VA 2\r\n40\r\n", 'ma decr');
    send_expect($s, "ma nocounter\r\n", "NF\r\n", 'ma miss');
    send_expect($s, "md metakey\r\n", "HD\r\n", 'md');
    send_expect($s, "md metakey\r\n", "NF\r\n", 'md miss');
    send_expect($s, "mg metakey z\r\n", "CLIENT_ERROR invalid flag\r\n", 'mg error');
});

my @cmd = grep { $_->[1] ne 'start' && $_->[1] ne 'end' && $_->[1] ne 'done' } @rows;
my @got = map { join '|', @$_[1 .. $#$_] } @cmd;
# command probes: name|key|keylen|size|cas for get/set-like, key|keylen for
# delete, key|keylen|value for incr/decr. CAS values vary: masked.
s/^((?:get|touch|set|add|append|cas)\|[^|]*\|\d+\|-?\d+)\|(\d+)$/$1|CAS$2/ for @got;
my @want = (
    'set|metakey|7|5|CAS',
    'get|metakey|7|5|CAS',
    'get|nosuchkey|9|-1|CAS0',
    'touch|metakey|7|5|CAS',
    'add|metakey|7|1|CAS0',
    'append|metakey|7|3|CAS',
    'cas|metakey|7|1|CAS1',
    'set|foob|4|3|CAS',
    'get|foob|4|3|CAS',
    'set|counter|7|2|CAS',
    'incr|counter|7|42',
    'decr|counter|7|40',
    'incr|nocounter|9|-1',
    'delete|metakey|7',
    'delete|metakey|7',
);
# A CAS masked as "CAS" must be non-zero; "CAS0"/"CAS1" are exact.
for (@got) { s/\|CAS([1-9]\d*)$/|CAS/ unless /^cas\|/ }
is_deeply(\@got, \@want, 'command probes: one per meta request, keys NUL-terminated (str(arg1) alone)')
    or diag(join "\n", @got);

my @done = map { join '|', @$_[2 .. $#$_] } grep { $_->[1] eq 'done' } @rows;
is_deeply(\@done, [
    'ms|metakey|7|stored|5',
    'mg|metakey|7|hit|5',
    'mg|nosuchkey|9|miss|-1',
    'mg|metakey|7|hit|5',
    'ms|metakey|7|not_stored|1',
    'ms|metakey|7|stored|3',
    'ms|metakey|7|exists|1',
    'ms|foob|4|stored|3',
    'mg|foob|4|hit|3',
    'ms|counter|7|stored|2',
    'ma|counter|7|stored|-1',
    'ma|counter|7|stored|-1',
    'ma|nocounter|9|not_found|-1',
    'md|metakey|7|deleted|-1',
    'md|metakey|7|not_found|-1',
    'mg|metakey|7|error|-1',
], 'request__done: meta command name, decoded key, outcome') or diag(join "\n", @done);

my @se = map { $_->[1] eq 'start' ? "start|$_->[2]" : "end|$_->[2]" }
         grep { $_->[1] eq 'start' || $_->[1] eq 'end' } @rows;
is($se[0], 'start|ms metakey 5 T0 F3', 'process__command__start shows the ms line');
is($se[1], 'end|4', 'process__command__end fires once the value is stored (HD, 4 bytes)');
is(scalar(grep { /^start/ } @se), 16, 'one start per request');
is(scalar(grep { /^end/ } @se), 16, 'one end per request');

done_testing;
