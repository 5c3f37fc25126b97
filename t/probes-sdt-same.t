#!/usr/bin/perl
# Two builds of the provider carry the same probes: the one under test
# (MC_BUILDDIR) and another one (MC_SDT_OTHER_BUILDDIR), typically the builtin
# generator's (--with-sdt=builtin) against systemtap's sys/sdt.h. For memcached
# and memcached-debug, every probe has the same sites count, the same argument
# signature (the size@ part of each argument) and a semaphore that is the
# symbol memcached_<probe>_semaphore in .probes, in both builds. Register
# names may differ: the compiler chooses them. Skipped unless
# MC_SDT_OTHER_BUILDDIR is set (.ci/run sets it for its second build).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

my $other = $ENV{MC_SDT_OTHER_BUILDDIR} // '';
my $mine  = $ENV{MC_BUILDDIR} // '';
plan skip_all => 'MC_SDT_OTHER_BUILDDIR and MC_BUILDDIR name the two builds to compare'
    if $other eq '' || $mine eq '';

# name => { sites => N, sizes => "-4 8 ...", semaphore => symbol }
sub provider_of {
    my ($bin) = @_;
    my %symbol_at;
    for (split /\n/, `nm '$bin'`) {
        my ($addr, $kind, $sym) = split ' ';
        next unless defined $sym && $sym =~ /_semaphore$/;
        $symbol_at{hex $addr} = $sym;
    }
    my $text = `readelf -n '$bin' 2>&1`;
    die "readelf -n $bin: $text" if $?;
    my (%probe, $cur);
    for my $line (split /\n/, $text) {
        if ($line =~ /^\s*stapsdt\s/) {
            $cur = { provider => '', sizes => '' };
        } elsif ($cur && $line =~ /^\s*Provider:\s*(\S+)/) {
            $cur->{provider} = $1;
        } elsif ($cur && $line =~ /^\s*Name:\s*(\S+)/) {
            $cur->{name} = $1;
        } elsif ($cur && $line =~ /Semaphore:\s*(0x[0-9a-f]+)/i) {
            $cur->{semaphore} = $symbol_at{hex $1} // sprintf('(no symbol at %s)', $1);
            next unless $cur->{provider} eq 'memcached';
            my $p = $probe{$cur->{name}} //= { sites => 0, sizes => '', semaphore => '' };
            $p->{sites}++;
            $p->{semaphore} = $cur->{semaphore};
            $p->{last} = $cur;
        } elsif ($cur && $line =~ /^\s*Arguments:\s*(.*)$/) {
            my $sizes = join ' ', map { /^(-?\d+)@/ ? $1 : "?$_" } split ' ', $1;
            $probe{$cur->{name}}{sizes} = $sizes
                if $cur->{provider} eq 'memcached';
        }
    }
    delete $_->{last} for values %probe;
    return \%probe;
}

for my $which (qw(memcached memcached-debug)) {
    my ($a_bin, $b_bin) = ("$mine/memcached/$which", "$other/memcached/$which");
    ok(-x $a_bin && -x $b_bin, "$which built in both trees") or next;
    my ($a, $b) = (provider_of($a_bin), provider_of($b_bin));
    ok(scalar(keys %$a) > 0, "$which: the build under test has memcached probes");
    is_deeply([sort keys %$a], [sort keys %$b], "$which: the same probe names");
    for my $name (sort keys %$b) {
        next unless $a->{$name};
        is_deeply($a->{$name}, $b->{$name},
            "$which: ${name} has the same sites, signature and semaphore");
        is($a->{$name}{semaphore}, "memcached_${name}_semaphore",
            "$which: the semaphore of ${name} is its own symbol");
    }
}

done_testing();
