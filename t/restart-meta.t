#!/usr/bin/perl
# Warm restart (-e) with a metadata file that is not what a graceful stop
# wrote: empty or corrupt, the server refuses to start (a message naming
# the file, a non-zero exit, the file kept), as memcached does; well formed
# but for other settings or from another server, it starts clean.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;
use McNet;

my $dir = tempdir(CLEANUP => 1);
my $file = "$dir/cache.mem";

sub write_file { my ($path, $text) = @_; open my $fh, '>', $path or die "$path: $!"; print $fh $text; close $fh }
sub slurp { my ($path) = @_; open my $fh, '<', $path or return undef; local $/; my $s = <$fh>; return $s }

# Starts with -e and expects a refusal.
sub refused {
    my ($name, $meta) = @_;
    write_file("$file.meta", $meta);
    my ($rc, $out) = run_server(argv => ['-p', free_port(), '-U', 0, '-l', '127.0.0.1',
                                         '-e', $file, '-m', 40], timeout => 5);
    ok(defined $rc && $rc != 0, "$name: the server exits, non-zero") or diag($out);
    like($out, qr/^\[restart\] corrupt metadata file \Q$file.meta\E \(.+\)/m,
         "$name: a message naming the metadata file");
    is(slurp("$file.meta"), $meta, "$name: the metadata file is kept as it was");
}

# Starts with -e and expects a clean start; returns the server.
sub starts_clean {
    my ($name, $meta, $args) = @_;
    defined $meta ? write_file("$file.meta", $meta) : unlink("$file.meta");
    my $srv = start_server(args => "-e $file " . ($args // '-m 40'));
    like($srv->stderr_text, qr/clean cache/, "$name: starts with a clean cache, and says so");
    ok(!-e "$file.meta", "$name: the metadata is removed");
    return $srv;
}

# No memory file yet: an empty metadata file still stops the start.
refused('empty, no memory file', '');
refused('one byte', "\n");
refused('not metadata', "hello world\n");
refused('binary garbage', join('', map { chr(($_ * 37) % 256) } 1 .. 300));

# A real save, then damaged copies of it.
my $srv = starts_clean('no metadata', undef);
my $s = $srv->new_sock;
send_expect($s, "set k 5 0 2\r\nhi\r\n", "STORED\r\n", 'an item to save');
is(graceful_stop($srv), 0, 'SIGUSR1 stops the server');
my $good = slurp("$file.meta");
ok(defined $good && length $good > 40, 'the stop saved the metadata');
my @lines = split /(?<=\n)/, $good;

refused('magic line only', $lines[0]);
refused('settings line cut short', $lines[0] . substr($lines[1], 0, 10));
refused('without the counters', $lines[0] . $lines[1]);
(my $bad_counters = $lines[2]) =~ s/cas=\d+/cas=zz/;
refused('counters not numbers', join('', @lines[0, 1], $bad_counters, @lines[3 .. $#lines]));
(my $many_pages = $lines[2]) =~ s/pages=\d+/pages=99999999/;
refused('more pages than the memory file holds', join('', @lines[0, 1], $many_pages, @lines[3 .. $#lines]));
(my $one_more = $lines[2]) =~ s/pages=(\d+)/'pages=' . ($1 + 1)/e;
refused('page owners cut off', join('', @lines[0, 1], $one_more, @lines[3 .. $#lines]));
refused('a page owner not a number', join('', @lines[0 .. 2]) . "x\n");

# The intact file still restores (the checks refuse only what is broken).
write_file("$file.meta", $good);
$srv = start_server(args => "-e $file -m 40");
like($srv->stderr_text, qr/restored 1 items/, 'the intact metadata restores the cache');
mem_get_is($srv->new_sock, 'k', 'hi', 'and the item is back');
$srv->stop;

# Well formed, but not for these settings, or not ours: a clean start.
$srv = starts_clean('other -m', $good, '-m 48');
mem_get_is($srv->new_sock, 'k', undef, 'other -m: the item is not restored');
$srv->stop;
$srv = starts_clean("memcached's own format", "Tmain\nKslab_config 1.25\nKmaxbytes 8388608\n");
$srv->stop;


done_testing;
