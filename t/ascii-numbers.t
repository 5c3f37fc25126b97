#!/usr/bin/perl
# Number fields of text and meta commands: which spellings are taken and
# what each is read as, byte for byte as memcached 1.6.45 answers (measured
# against it: signs, blanks before/after, tabs, overflow, "-" alone).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

my $BAD = "CLIENT_ERROR bad command line format\r\n";
my $EXP = "CLIENT_ERROR invalid exptime argument\r\n";
my $TOK = "CLIENT_ERROR bad token in command line format\r\n";

# Each field: a request template ({X}: the number, {K}: a key new to this case)
# and its cases [input, reply], the reply with {K} for the key.
my $n = 0;
sub field {
    my ($name, $tmpl, @cases) = @_;
    for my $c (@cases) {
        my ($x, $want) = @$c;
        my $k = 'k' . ++$n;
        (my $req = $tmpl) =~ s/\{X\}/$x/;
        $req =~ s/\{K\}/$k/g;
        $want =~ s/\{K\}/$k/g;
        send_expect($s, $req, $want, "$name " . mc_escape($x));
    }
}

# set's flags: strtoull's syntax (blanks before, '+', "-N" as 2^64-N unless
# negative as int64), digits may end at a blank; only blanks is 0; the low
# 32 bits are kept.
my $f = sub { "STORED\r\nVA 1 f$_[0]\r\nx\r\n" };
my $fbad = "${BAD}EN\r\n";
field('set flags', "set {K} {X} 0 1\r\nx\r\nmg {K} f v\r\n",
      ['5', $f->(5)], ['05', $f->(5)], ['+5', $f->(5)], ['-0', $f->(0)], ['+0', $f->(0)],
      ["\t5", $f->(5)], ["5\t", $f->(5)], ["\x0b5", $f->(5)], ["5\r", $f->(5)],
      ["\r5", $f->(5)], ["5\tx", $f->(5)], ["\t", $f->(0)], ["\t\t", $f->(0)],
      ['4294967295', $f->(4294967295)], ['4294967296', $f->(0)], ['4294967297', $f->(1)],
      ['9223372036854775807', $f->(4294967295)], ['18446744073709551615', $f->(4294967295)],
      ['-18446744073709551615', $f->(1)],
      ['-5', $fbad], ['-1', $fbad], ['5x', $fbad], ['0x5', $fbad], ['+', $fbad], ['-', $fbad],
      ['++5', $fbad], ['+-5', $fbad], ['--5', $fbad], ["\tx", $fbad], ["\t-", $fbad],
      ['18446744073709551616', $fbad], ['-9223372036854775808', $fbad]);

# set's exptime: strtol's syntax within int64, digits may end at a blank,
# only blanks is 0, then cut to int32 (so 2^32 is 0 and 2^32-1 is -1).
my $live = "STORED\r\nVA 1\r\nx\r\n";
my $gone = "STORED\r\nEN\r\n";
field('set exptime', "set {K} 0 {X} 1\r\nx\r\nmg {K} v\r\n",
      ['5', $live], ['+5', $live], ['-0', $live], ["\t5", $live], ["5\t", $live],
      ["5\x0b", $live], ["\t", $live], ['4294967296', $live], ['4294967297', $live],
      ['-2147483649', $live], ['-4294967296', $live], ['-9223372036854775808', $live],
      ['-1', $gone], ['-5', $gone], ['2147483648', $gone], ['4294967295', $gone],
      ['9223372036854775807', $gone], ['1000000000', $gone],
      ['5x', $fbad], ['0x5', $fbad], ['-', $fbad], ['+', $fbad], ["\tx", $fbad],
      ['9223372036854775808', $fbad], ['18446744073709551615', $fbad],
      ['-18446744073709551615', $fbad]);

# Value length (set and ms): '-' then digits only; "-0" and "-" are 0.
my $chunk = "CLIENT_ERROR bad data chunk\r\nERROR\r\nEN\r\n";
my $vbad = "${BAD}ERROR\r\nEN\r\n";
my @vlen = (['-0', $chunk], ['-', $chunk], ['0', $chunk],
            ['+5', $vbad], ['+0', $vbad], ["\t5", $vbad], ["5\t", $vbad], ["\x0b5", $vbad],
            ["\r5", $vbad], ['-5', $vbad], ['5x', $vbad], ['2147483647', $vbad],
            ['4294967296', $vbad], ['18446744073709551616', $vbad], ["\t", $vbad]);
field('set length', "set {K} 0 0 {X}\r\nxxxxx\r\nmg {K} v\r\n",
      ['5', "STORED\r\nVA 5\r\nxxxxx\r\n"], ['05', "STORED\r\nVA 5\r\nxxxxx\r\n"], @vlen);
field('ms length', "ms {K} {X}\r\nxxxxx\r\nmg {K} v\r\n",
      ['5', "HD\r\nVA 5\r\nxxxxx\r\n"], @vlen);

# touch / gat / flush_all / slabs reassign: '-' then digits, within int32;
# "-" alone is 0.
my @i32bad = ('+5', '+0', "\t5", "5\t", "\x0b5", "\r5", '5x', "\t", '++5', '--5',
              '2147483648', '-2147483649', '4294967296');
field('touch exptime', "set {K} 0 0 1\r\nx\r\ntouch {K} {X}\r\nmg {K} v\r\n",
      (map { [$_, "STORED\r\nTOUCHED\r\nVA 1\r\nx\r\n"] } '0', '5', '-0', '-', '2147483647'),
      (map { [$_, "STORED\r\nTOUCHED\r\nEN\r\n"] } '-1', '-2147483648'),
      (map { [$_, "STORED\r\n${EXP}VA 1\r\nx\r\n"] } @i32bad));
field('gat exptime', "set {K} 0 0 1\r\nx\r\ngat {X} {K}\r\nmg {K} v\r\n",
      (map { [$_, "STORED\r\nVALUE {K} 0 1\r\nx\r\nEND\r\nVA 1\r\nx\r\n"] } '5', '-0', '-'),
      (map { [$_, "STORED\r\nVALUE {K} 0 1\r\nx\r\nEND\r\nEN\r\n"] } '-1'),
      (map { [$_, "STORED\r\n${EXP}VA 1\r\nx\r\n"] } @i32bad));
send_expect($s, "gat k\r\n", $BAD, 'gat without a key: bad format, not a bad exptime');
send_expect($s, "gats  k\r\n", $BAD, 'gats with one argument: bad format');
field('flush_all delay', "set {K} 0 0 1\r\nx\r\nflush_all {X}\r\nmg {K} v\r\nflush_all 0\r\n",
      (map { [$_, "STORED\r\nOK\r\nEN\r\nOK\r\n"] } '0', '-0', '-', '-5'),
      (map { [$_, "STORED\r\nOK\r\nVA 1\r\nx\r\nOK\r\n"] } '5', '2147483647'),
      (map { [$_, "STORED\r\n${EXP}VA 1\r\nx\r\nOK\r\n"] } @i32bad));
field('slabs reassign src', "slabs reassign {X} 1\r\n",
      (map { [$_, "NOSPARE source class has no spare pages\r\n"] } '0', '-0', '-', '5'),
      (map { [$_, "BADCLASS invalid src or dst class id\r\n"] } '-1', '2147483647'),
      (map { [$_, $BAD] } @i32bad));
field('slabs reassign dst', "slabs reassign 1 {X}\r\n",
      (map { [$_, "NOSPARE source class has no spare pages\r\n"] } '-'),
      (map { [$_, $BAD] } '+5', "\t5", '2147483648'));

# verbosity, cache_memlimit, lru_crawler sleep/tocrawl: digits only,
# within uint32.
my @u32bad = ('+5', '-0', '-5', "\t5", "5\t", '5x', '-', '4294967296', '18446744073709551615');
field('verbosity', "verbosity {X}\r\n",
      (map { [$_, "OK\r\n"] } '0', '5', '4294967295'), (map { [$_, $BAD] } @u32bad));
field('cache_memlimit', "cache_memlimit {X}\r\n",
      ['5', "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"],
      ['64', "OK\r\n"], ['1000000000', "OK\r\n"],
      (map { [$_, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n"] }
       '1000000001', '4294967295'),
      (map { [$_, "ERROR\r\n"] } @u32bad));
send_expect($s, "cache_memlimit\r\n", "ERROR\r\n", 'cache_memlimit without a number');
send_expect($s, "cache_memlimit x noreply\r\nmn\r\n", "MN\r\n", 'its ERROR obeys noreply');
send_expect($s, "cache_memlimit 64\r\nstats settings\r\n", "OK\r\n", 'cache_memlimit 64');
my $maxbytes;
while (defined(my $l = read_line($s))) {
    $maxbytes = $1 if $l =~ /^STAT maxbytes (\d+)/;
    last if $l eq "END\r\n";
}
is($maxbytes, 64 * 1024 * 1024, 'MEMLIMIT_ADJUST_FAILED left the limit alone');
field('lru_crawler sleep', "lru_crawler sleep {X}\r\n",
      (map { [$_, "OK\r\n"] } '0', '1000000'),
      (map { [$_, "CLIENT_ERROR sleep must be one second or less\r\n"] } '1000001', '4294967295'),
      (map { [$_, $BAD] } @u32bad));
field('lru_crawler tocrawl', "lru_crawler tocrawl {X}\r\n",
      (map { [$_, "OK\r\n"] } '0', '4294967295'), (map { [$_, $BAD] } @u32bad));

# lru_crawler crawl's class ids: strtoul's syntax, low 32 bits kept.
field('lru_crawler crawl', "lru_crawler crawl {X}\r\n",
      (map { [$_, "BADCLASS invalid class id\r\n"] }
       '0', '-0', '-1', '4294967296', '18446744073709551615', "\t", '5x'),
      ['4294967297', "OK\r\n"]);

# slabs automove ratio/freeratio: strtod's syntax, may end at a blank.
field('slabs automove freeratio', "slabs automove freeratio {X}\r\n",
      (map { [$_, "OK\r\n"] } '0.5', "0.5\t", "\t0.5", '+1', '-1'),
      (map { [$_, "ERROR\r\n"] } "\t", '5x', '-'));
field('slabs automove ratio', "slabs automove ratio {X}\r\n",
      (map { [$_, "OK\r\n"] } '0.8', "0.8\r"), (map { [$_, "ERROR\r\n"] } '0.8x'));

# incr/decr delta: digits only, up to 2^64-1.
field('incr delta', "set {K} 0 0 2\r\n10\r\nincr {K} {X}\r\n",
      ['05', "STORED\r\n15\r\n"], ['4294967296', "STORED\r\n4294967306\r\n"],
      ['18446744073709551615', "STORED\r\n9\r\n"],
      (map { [$_, "STORED\r\nCLIENT_ERROR invalid numeric delta argument\r\n"] }
       '+5', '-0', '-5', "\t5", "5\t", '5x', '0x5', '-', '18446744073709551616'));

# Meta: N, T, R (and ma's N/T) take '-' then digits within int32, "-"
# alone being 0; F digits within uint32; D digits within uint64.
field('mg T', "set {K} 0 0 1\r\nx\r\nmg {K} T{X}\r\n",
      (map { [$_, "STORED\r\nHD\r\n"] } '0', '-0', '-', '-5', '2147483647', '-2147483648'),
      (map { [$_, "STORED\r\n$TOK"] } '', '+5', "\t5", "5\t", '2147483648', '-2147483649'));
field('mg N', "mg {K} N{X} v\r\n",
      (map { [$_, "VA 0 W\r\n\r\n"] } '-', '-0', '30'), (map { [$_, $TOK] } '+5', "\t5"));
field('ma N', "ma {K} N{X} v\r\n",
      (map { [$_, "VA 1\r\n0\r\n"] } '-', '0'),
      (map { [$_, "CLIENT_ERROR invalid or duplicate flag\r\n"] } '+5', "5\t", '2147483648'));
field('ms F', "ms {K} 1 F{X}\r\nx\r\nmg {K} f\r\n",
      ['5', "HD\r\nHD f5\r\n"], ['4294967295', "HD\r\nHD f4294967295\r\n"],
      (map { [$_, "${BAD}EN\r\n"] } '+5', '-0', "\t5", "5\t", '-', '4294967296'));
field('ma D', "ms {K} 2\r\n10\r\nma {K} D{X} v\r\n",
      ['4294967296', "HD\r\nVA 10\r\n4294967306\r\n"],
      (map { [$_, "HD\r\nCLIENT_ERROR invalid or duplicate flag\r\n"] }
       '+5', '-0', "\t5", "5\t", '-', '18446744073709551616'));

# "noreply" standing where the number goes still silences the error.
send_expect($s, "set nr 0 0 1\r\nx\r\ncas nr 0 0 1 noreply\r\ny\r\nmn\r\n", "STORED\r\nMN\r\n",
            'cas with noreply as its unique: silent, data block skipped');
send_expect($s, "incr nr noreply\r\ndecr nr noreply\r\nmn\r\n", "MN\r\n",
            'incr/decr with noreply as the delta: silent');
send_expect($s, "touch nr noreply\r\nmn\r\n", "MN\r\n", 'touch with noreply as the exptime: silent');

done_testing;
