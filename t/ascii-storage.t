#!/usr/bin/perl
# ASCII storage commands: set, add, replace, append, prepend, cas.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $srv = start_server(args => '-m 64 -I 1m');
my $s = $srv->new_sock;

# --- set -------------------------------------------------------------------
send_expect($s, "set foo 0 0 3\r\nbar\r\n", "STORED\r\n", 'set stores');
mem_get_is($s, 'foo', [0, 'bar'], 'value and flags come back');
send_expect($s, "set foo 0 0 4\r\nbaz2\r\n", "STORED\r\n", 'set overwrites');
mem_get_is($s, 'foo', [0, 'baz2'], 'overwritten value');

# Binary-safe data: CR, LF and NUL inside the block are just bytes.
send_expect($s, "set bin 0 0 6\r\na\r\n\0b\n\r\n", "STORED\r\n", 'set with CR/LF/NUL in data');
mem_get_is($s, 'bin', "a\r\n\0b\n", 'binary data comes back intact');

# --- flags ------------------------------------------------------------------
for my $f (0, 1, 4294967295) {
    send_expect($s, "set fl 0 0 1\r\nx\r\n", "STORED\r\n", "reset fl");
    send_expect($s, "set fl $f 0 1\r\nx\r\n", "STORED\r\n", "set with flags $f");
    send_expect($s, "get fl\r\n", "VALUE fl $f 1\r\nx\r\nEND\r\n", "flags $f come back");
}

# --- zero-length values -----------------------------------------------------
send_expect($s, "set empty 0 0 0\r\n\r\n", "STORED\r\n", 'zero-length set');
send_expect($s, "get empty\r\n", "VALUE empty 0 0\r\n\r\nEND\r\n", 'zero-length value is a hit');
send_expect($s, "append empty 0 0 2\r\nab\r\n", "STORED\r\n", 'append to empty value');
mem_get_is($s, 'empty', 'ab', 'append onto empty value');

# --- exptime that needs no waiting -------------------------------------------
send_expect($s, "set neg 0 -1 1\r\nx\r\n", "STORED\r\n", 'set with negative exptime is accepted');
mem_get_is($s, 'neg', undef, 'negative exptime: item expired at once');
send_expect($s, "set zero 0 0 1\r\nx\r\n", "STORED\r\n", 'set with exptime 0');
mem_get_is($s, 'zero', 'x', 'exptime 0: item is there');
send_expect($s, "set far 0 3600 1\r\nx\r\n", "STORED\r\n", 'set with exptime 3600');
mem_get_is($s, 'far', 'x', 'exptime 3600: item is there');
# A negative exptime on an existing key removes it.
send_expect($s, "set far 0 -100 1\r\ny\r\n", "STORED\r\n", 'overwrite with negative exptime');
mem_get_is($s, 'far', undef, 'overwritten item expired at once');

# Up to 30 days (2592000 s) exptime is relative; above that it is a unix
# time, so a small "absolute" value lies in the past.
my $now = mem_stats($s)->{time};
send_expect($s, "set r30 0 2592000 1\r\nx\r\n", "STORED\r\n", 'set with exptime of exactly 30 days');
mem_get_is($s, 'r30', 'x', '30 days is still relative: item is there');
send_expect($s, "set a30 0 2592001 1\r\nx\r\n", "STORED\r\n", 'set with exptime 30 days + 1 s');
mem_get_is($s, 'a30', undef, 'read as a unix time in 1970: expired at once');
send_expect($s, "set past 0 " . ($now - 5) . " 1\r\nx\r\n", "STORED\r\n", 'set with a unix time 5 s ago');
mem_get_is($s, 'past', undef, 'unix time in the past: expired at once');
send_expect($s, "set fut 0 " . ($now + 100) . " 1\r\nx\r\n", "STORED\r\n", 'set with a unix time 100 s ahead');
mem_get_is($s, 'fut', 'x', 'unix time in the future: item is there');
send_expect($s, "set vneg 0 -2592001 1\r\nx\r\n", "STORED\r\n", 'set with a large negative exptime');
mem_get_is($s, 'vneg', undef, 'large negative exptime: expired at once');

# --- add / replace --------------------------------------------------------------
send_expect($s, "add newkey 0 0 1\r\na\r\n", "STORED\r\n", 'add on missing key');
send_expect($s, "add newkey 0 0 1\r\nb\r\n", "NOT_STORED\r\n", 'add on existing key');
mem_get_is($s, 'newkey', 'a', 'add did not overwrite');
send_expect($s, "replace nokey 0 0 1\r\nb\r\n", "NOT_STORED\r\n", 'replace on missing key');
mem_get_is($s, 'nokey', undef, 'replace did not create');
send_expect($s, "replace newkey 5 0 2\r\nbb\r\n", "STORED\r\n", 'replace on existing key');
mem_get_is($s, 'newkey', [5, 'bb'], 'replace changed value and flags');
send_expect($s, "add exp 0 -1 1\r\nx\r\n", "STORED\r\n", 'add with negative exptime');
send_expect($s, "add exp 0 0 1\r\ny\r\n", "STORED\r\n", 'add succeeds over an expired item');
mem_get_is($s, 'exp', 'y', 'add replaced the expired item');

# --- append / prepend -------------------------------------------------------
send_expect($s, "set ap 7 0 3\r\nmid\r\n", "STORED\r\n", 'set for append/prepend');
send_expect($s, "append ap 0 0 4\r\n-end\r\n", "STORED\r\n", 'append');
send_expect($s, "prepend ap 0 0 6\r\nstart-\r\n", "STORED\r\n", 'prepend');
# Flags and exptime given to append/prepend are ignored.
send_expect($s, "get ap\r\n", "VALUE ap 7 13\r\nstart-mid-end\r\nEND\r\n", 'append/prepend joined, flags kept');
send_expect($s, "append noap 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 'append on missing key');
send_expect($s, "prepend noap 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 'prepend on missing key');
mem_get_is($s, 'noap', undef, 'append/prepend did not create');
send_expect($s, "append ap 0 0 0\r\n\r\n", "STORED\r\n", 'append zero bytes');
mem_get_is($s, 'ap', 'start-mid-end', 'append of nothing leaves value as is');

# --- noreply ------------------------------------------------------------------
send_bytes($s, "set nr 0 0 1 noreply\r\na\r\n");
expect_nothing($s, 200, 'set noreply: no reply');
mem_get_is($s, 'nr', 'a', 'set noreply stored');
send_bytes($s, "add nr 0 0 1 noreply\r\nb\r\n");
expect_nothing($s, 200, 'add noreply (NOT_STORED): no reply');
send_bytes($s, "replace nr 0 0 1 noreply\r\nc\r\n");
expect_nothing($s, 200, 'replace noreply: no reply');
send_bytes($s, "append nr 0 0 1 noreply\r\nd\r\n");
expect_nothing($s, 200, 'append noreply: no reply');
send_bytes($s, "prepend nr 0 0 1 noreply\r\ne\r\n");
expect_nothing($s, 200, 'prepend noreply: no reply');
mem_get_is($s, 'nr', 'ecd', 'noreply commands all took effect');
my $wrong = (gets_cas('nr') // 0) + 1;
send_bytes($s, "cas nr 0 0 1 $wrong noreply\r\nf\r\n");
expect_nothing($s, 200, 'cas noreply (EXISTS): no reply');
mem_get_is($s, 'nr', 'ecd', 'failed cas noreply changed nothing');
# Pipelined noreply sets followed by a get: only the get answers.
send_expect($s, "set p1 0 0 1 noreply\r\n1\r\nset p2 0 0 1 noreply\r\n2\r\nget p1 p2\r\n",
            "VALUE p1 0 1\r\n1\r\nVALUE p2 0 1\r\n2\r\nEND\r\n", 'pipelined noreply sets then get');

# --- delete, with and without noreply ----------------------------------------
send_expect($s, "set d1 0 0 1\r\na\r\nset d2 0 0 1\r\nb\r\nset d3 0 0 1\r\nc\r\n",
            "STORED\r\n" x 3, 'three keys to delete');
my $dst = mem_stats($s);
send_expect($s, "delete d1\r\n", "DELETED\r\n", 'delete: DELETED');
mem_get_is($s, 'd1', undef, 'deleted key is gone');
send_expect($s, "delete d1\r\n", "NOT_FOUND\r\n", 'delete of a missing key: NOT_FOUND');
send_expect($s, "delete d2 0\r\n", "DELETED\r\n", 'delete with a zero time: DELETED');
send_bytes($s, "delete d3 noreply\r\n");
expect_nothing($s, 200, 'delete noreply (hit): no reply');
mem_get_is($s, 'd3', undef, 'delete noreply removed the key');
send_bytes($s, "delete d3 noreply\r\n");
expect_nothing($s, 200, 'delete noreply (miss): no reply');
send_expect($s, "set d4 0 0 1\r\nd\r\n", "STORED\r\n", 'set d4');
send_bytes($s, "delete d4 0 noreply\r\n");
expect_nothing($s, 200, 'delete with a zero time and noreply: no reply');
mem_get_is($s, 'd4', undef, '... and the key is gone');
# Pipelined: the quiet deletes take effect before the get that follows them.
send_expect($s, "set d5 0 0 1\r\ne\r\nset d6 0 0 1\r\nf\r\n", "STORED\r\nSTORED\r\n", 'set d5 d6');
send_expect($s, "delete d5 noreply\r\ndelete d6 noreply\r\ndelete d7 noreply\r\nget d5 d6\r\n",
            "END\r\n", 'pipelined delete noreply then get: only END');
my $dst2 = mem_stats($s);
is($dst2->{delete_hits} - $dst->{delete_hits}, 6, 'delete_hits counts the quiet hits too');
is($dst2->{delete_misses} - $dst->{delete_misses}, 3, 'delete_misses counts the quiet misses too');

# --- cas ----------------------------------------------------------------------
send_expect($s, "set c 0 0 2\r\nv1\r\n", "STORED\r\n", 'set for cas');
send_bytes($s, "gets c\r\n");
my $hdr = read_line($s) // '';
like($hdr, qr/^VALUE c 0 2 (\d+)\r\n\z/, 'gets returns a cas unique');
my ($cas1) = $hdr =~ /(\d+)\r\n\z/;
$cas1 //= 0;
send_expect($s, '', "v1\r\nEND\r\n", 'gets data and END');

send_expect($s, "cas c 0 0 2 " . ($cas1 + 1000) . "\r\nxx\r\n", "EXISTS\r\n", 'cas with wrong unique: EXISTS');
mem_get_is($s, 'c', 'v1', 'EXISTS left the value alone');
send_expect($s, "cas nocas 0 0 2 $cas1\r\nxx\r\n", "NOT_FOUND\r\n", 'cas on missing key: NOT_FOUND');
mem_get_is($s, 'nocas', undef, 'NOT_FOUND did not create');
send_expect($s, "cas c 3 0 2 $cas1\r\nv2\r\n", "STORED\r\n", 'cas with right unique: STORED');
send_expect($s, "get c\r\n", "VALUE c 3 2\r\nv2\r\nEND\r\n", 'cas stored value and flags');
send_expect($s, "cas c 0 0 2 $cas1\r\nv3\r\n", "EXISTS\r\n", 'same unique again: EXISTS');

# The unique changes on every store, whatever the command.
my %seen;
my $prev = gets_cas('c');
$seen{$prev}++;
for my $cmd ("set c 0 0 1\r\na\r\n", "append c 0 0 1\r\nb\r\n", "prepend c 0 0 1\r\nc\r\n",
             "replace c 0 0 1\r\nd\r\n") {
    (my $label = $cmd) =~ s/ .*//s;
    send_expect($s, $cmd, "STORED\r\n", "$label for cas change");
    my $now = gets_cas('c');
    ok(defined $now && !$seen{$now}++, "$label gave a new cas unique ($prev -> " . ($now // 'none') . ")");
    $prev = $now // $prev;
}
send_expect($s, "cas c 0 0 1 $prev\r\ne\r\n", "STORED\r\n", 'cas with latest unique');
my $after = gets_cas('c');
ok(defined $after && $after != $prev, 'cas store gives a new unique too');

# cas noreply that succeeds.
send_bytes($s, "cas c 0 0 1 $after noreply\r\nf\r\n");
expect_nothing($s, 200, 'cas noreply (STORED): no reply');
mem_get_is($s, 'c', 'f', 'cas noreply stored');

# Uniques are distinct across keys as well.
send_expect($s, "set u1 0 0 1\r\na\r\nset u2 0 0 1\r\na\r\n", "STORED\r\nSTORED\r\n", 'two keys');
isnt(gets_cas('u1'), gets_cas('u2'), 'different keys have different uniques');

# --- bad data chunk ---------------------------------------------------------
# The server reads exactly <bytes>+2 bytes; if they don't end in \r\n the
# store fails, and whatever follows them is read as the next command line.
send_expect($s, "set bad 0 0 3\r\nabcdefghijkl\r\n",
            "CLIENT_ERROR bad data chunk\r\nERROR\r\n",
            'data longer than declared: bad data chunk, the excess parsed as a command');
mem_get_is($s, 'bad', undef, 'bad chunk stored nothing');
# Here the leftover is a lone "\n", an empty command line: 1.6.45 answers it
# with CLIENT_ERROR bad command line format (1.6.18 said ERROR).
send_expect($s, "set bad 0 0 3\r\nab\r\n\r\n",
            "CLIENT_ERROR bad data chunk\r\nCLIENT_ERROR bad command line format\r\n",
            'data shorter than declared: bad data chunk');
mem_get_is($s, 'bad', undef, 'short chunk stored nothing');
send_expect($s, "set bad 0 0 3\r\nabc\r\n", "STORED\r\n", 'connection usable after bad chunk');
send_expect($s, "set bad 0 0 3\r\nxyzwvutsr\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n",
            'bad chunk over an existing key');
mem_get_is($s, 'bad', 'abc', 'a bad chunk leaves the existing value');

# --- too large ------------------------------------------------------------------
my $big = 'B' x int(1.1 * 1024 * 1024);
send_expect($s, "set big 0 0 4\r\nsmal\r\n", "STORED\r\n", 'set before too-large overwrite');
send_expect($s, "set big 0 0 " . length($big) . "\r\n$big\r\n",
            "SERVER_ERROR object too large for cache\r\n", 'value over -I: object too large', 20);
# A failed set of an existing key removes the old value (upstream behaviour).
mem_get_is($s, 'big', undef, 'too-large set removed the old value');
send_expect($s, "set huge 0 0 " . length($big) . "\r\n$big\r\n",
            "SERVER_ERROR object too large for cache\r\n", 'too large on a new key', 20);
mem_get_is($s, 'huge', undef, 'too-large key absent');
send_bytes($s, "version\r\n");
like(read_line($s), qr/^VERSION \S+\r\n\z/, 'connection works after too-large set');
my $ok_size = 'C' x (1024 * 1024 - 1024);
send_expect($s, "set fits 0 0 " . length($ok_size) . "\r\n$ok_size\r\n", "STORED\r\n",
            'value a bit under -I is stored', 20);
mem_get_is($s, 'fits', $ok_size, 'and comes back whole');

done_testing;

sub gets_cas {
    my ($key) = @_;
    send_bytes($s, "gets $key\r\n");
    my $line = read_line($s) // '';
    my ($len, $cas) = $line =~ /^VALUE \Q$key\E \d+ (\d+) (\d+)\r\n\z/ or return undef;
    read_bytes($s, $len + 2);
    my $end = read_line($s) // '';
    return $end eq "END\r\n" ? $cas : undef;
}
