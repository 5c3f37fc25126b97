#!/usr/bin/perl
# Warm restart (-e): a graceful stop (SIGUSR1) and a start with the same
# memory settings bring back every item with its value, flags, CAS unique
# and expiry; a start with other settings begins empty.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

my $dir = tempdir(CLEANUP => 1);
my $file = "$dir/cache.mem";
my $N = 10_000;

sub value_for { my $i = shift; return "value-$i-" . ('x' x ($i % 97)) }

# key => "exp=... cas=... flags=... size=..." from lru_crawler metadump.
sub dump_items {
    my $sock = shift;
    send_bytes($sock, "lru_crawler metadump all\r\n");
    # Dump lines end in a bare "\n"; the dump ends with "END\r\n".
    my $text = '';
    while (defined(my $chunk = read_line($sock))) {
        $text .= $chunk;
        last if $text =~ /(?:^|\n)END\r\n\z/;
    }
    my %items;
    for my $line (split /\n/, $text) {
        my ($key) = $line =~ /^key=(\S+)/ or next;
        my %f = $line =~ /(\w+)=(\S+)/g;
        $items{$key} = join ' ', map { "$_=$f{$_}" } qw(exp cas flags size cls);
    }
    return \%items;
}

my $srv = start_server(args => "-e $file -m 64 -I 2m");
my $s = $srv->new_sock;
my $now = time;
for my $i (1 .. $N) {
    # Every third key never expires, every third has a relative TTL, the
    # rest an absolute one.
    my $exp = $i % 3 == 0 ? 0 : $i % 3 == 1 ? 3600 : int($now) + 7200;
    my $v = value_for($i);
    send_bytes($s, "set k$i $i $exp " . length($v) . " noreply\r\n$v\r\n");
}
my $big = join '', map { chr(($_ * 7) % 251) } 1 .. 500_000;
send_expect($s, "set big 42 0 " . length($big) . "\r\n$big\r\n", "STORED\r\n", 'a 500 KB value too');
# Larger than a slab chunk (512 KB): stored as a chain of chunks, whose
# links must survive the memory file being mapped at another address.
my $huge = join '', map { chr(($_ * 13) % 256) } 1 .. 1_900_000;
send_expect($s, "set huge 7 0 " . length($huge) . "\r\n$huge\r\n", "STORED\r\n", 'a 1.9 MB value (chunked)');
# Appended to: a chain built part by part, with empty chunks in it (see
# t/storage-large.t), which must be restored whole too.
my $joined = $huge . 'tail';
send_expect($s, "set joined 0 0 " . length($huge) . "\r\n$huge\r\nappend joined 0 0 4\r\ntail\r\n",
            "STORED\r\nSTORED\r\n", 'a chunked value with an append');
my $before = dump_items($s);
is(scalar keys %$before, $N + 3, 'metadump lists every item before the stop');
my %slabs_before = %{ mem_stats($s, 'slabs') };

my %cas;
for my $i (1 .. $N) {
    send_bytes($s, "gets k$i\r\n");
    my $hdr = read_line($s) // '';
    ($cas{$i}) = $hdr =~ /^VALUE k$i $i \d+ (\d+)\r\n$/;
    read_bytes($s, length(value_for($i)) + 2);
    read_line($s);
}
is(scalar(grep { defined } values %cas), $N, 'every key has a CAS unique');

is(graceful_stop($srv), 0, 'SIGUSR1 stops the server with status 0');
ok(-s "$file.meta", 'the stop saved the metadata file');

$srv = start_server(args => "-e $file -m 64 -I 2m");
$s = $srv->new_sock;
like($srv->stderr_text, qr/restored \d+ items/, 'the restart says it restored items');
ok(!-e "$file.meta", 'the metadata is used once and removed');
my $after = dump_items($s);
is_deeply($after, $before, 'same keys with the same expiry, CAS, flags, size and class');

my $bad = 0;
for my $i (1 .. $N) {
    my $v = value_for($i);
    send_bytes($s, "gets k$i\r\n");
    my $got = read_line($s) // '';
    my $data = read_bytes($s, length($v) + 2);
    my $end = read_line($s) // '';
    $bad++ unless $got eq "VALUE k$i $i " . length($v) . " $cas{$i}\r\n"
        && $data eq "$v\r\n" && $end eq "END\r\n";
}
is($bad, 0, "all $N values come back byte-exact with their CAS unique");
send_expect($s, "get big\r\n", "VALUE big 42 " . length($big) . "\r\n$big\r\nEND\r\n",
            'the large value too');
send_bytes($s, "get huge\r\n");
my $got_huge = read_bytes($s, length($huge) + 30, 10);
ok($got_huge eq "VALUE huge 7 " . length($huge) . "\r\n$huge\r\nEND\r\n",
   'the chunked 1.9 MB value comes back byte-exact');
send_bytes($s, "get joined\r\n");
my $want_joined = "VALUE joined 0 " . length($joined) . "\r\n$joined\r\nEND\r\n";
ok(read_bytes($s, length($want_joined), 10) eq $want_joined, 'the appended chunked value comes back byte-exact');
my %slabs_after = %{ mem_stats($s, 'slabs') };
my @used = grep { /:used_chunks$/ } keys %slabs_before;
is_deeply({ map { $_ => $slabs_after{$_} } @used }, { map { $_ => $slabs_before{$_} } @used },
          'every class has the chunks it had in use (the empty ones of the appended value too)');
send_expect($s, "set new 0 0 1\r\nn\r\n", "STORED\r\n", 'the restored cache takes new items');
send_bytes($s, "gets new\r\n");
my ($newcas) = (read_line($s) // '') =~ /^VALUE new 0 1 (\d+)/;
read_line($s); read_line($s);
ok(defined $newcas && $newcas > $N + 4, 'CAS uniques continue after the saved counter');

is(graceful_stop($srv), 0, 'second graceful stop');
$srv = start_server(args => "-e $file -m 48");
$s = $srv->new_sock;
is(mem_stats($s)->{curr_items}, 0, 'a restart with a different -m starts empty');
like($srv->stderr_text, qr/clean cache/, 'and says so');
mem_get_is($s, 'k1', undef, 'k1 is gone');

# The hash table comes back at the power it had grown to, so a restored
# cache does not grow it all over again.  (-o hashpower=13: 8192 buckets,
# grown past 1.5 items a bucket.)
{
    my $hfile = "$dir/hash.mem";
    my $hs = start_server(args => "-e $hfile -m 64 -o hashpower=13");
    my $hsock = $hs->new_sock;
    send_bytes($hsock, join '', map { "set h$_ 0 0 1 noreply\r\nh\r\n" } 1 .. 13_000);
    my $st = poll_stats($hsock, undef, sub { $_[0]{curr_items} == 13_000 &&
                                             $_[0]{hash_power_level} == 14 &&
                                             !$_[0]{hash_is_expanding} });
    is($st->{hash_power_level}, 14, '13000 items grow a power-13 table to 14');
    is(graceful_stop($hs), 0, 'graceful stop with the grown table');
    $hs = start_server(args => "-e $hfile -m 64 -o hashpower=13");
    $hsock = $hs->new_sock;
    $st = mem_stats($hsock);
    is($st->{curr_items}, 13_000, 'all 13000 items restored');
    is($st->{hash_power_level}, 14, 'the hash table comes back at power 14');
    is($st->{hash_is_expanding}, 0, 'and is not growing again');
    mem_get_is($hsock, 'h12345', 'h', 'a restored key is found in the restored table');
}

# A pending flush_all survives the restart: `stats settings` oldest comes
# back as it was, and the items it will drop stay until it takes effect.
{
    my $ffile = "$dir/flush.mem";
    my $fs = start_server(args => "-e $ffile -m 64");
    my $fsock = $fs->new_sock;
    send_expect($fsock, "set f 0 0 1\r\nf\r\nflush_all 500\r\n", "STORED\r\nOK\r\n", 'a flush_all 500 pending');
    my $oldest = mem_stats($fsock, 'settings')->{oldest};
    cmp_ok($oldest, '>', 500, "oldest $oldest before the stop");
    is(graceful_stop($fs), 0, 'graceful stop with a pending flush_all');
    $fs = start_server(args => "-e $ffile -m 64");
    $fsock = $fs->new_sock;
    is(mem_stats($fsock, 'settings')->{oldest}, $oldest, 'oldest restored');
    mem_get_is($fsock, 'f', 'f', 'the item is there until the flush takes effect');
    SKIP: {
        skip 'needs the debug build (debugtime)', 2 unless $fs->is_debug_build;
        debugtime($fsock, 501);
        mem_get_is($fsock, 'f', undef, 'and gone once it has');
    }
}

done_testing;
