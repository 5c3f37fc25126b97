#!/usr/bin/perl
# The built binaries carry the provider exactly as probes/memcached_dtrace.d
# declares it (PROBES.md rules 1 and 2), read from their .note.stapsdt notes
# with `readelf -n`; no root needed.  For every probe of the .d, in both
# memcached and memcached-debug:
#   - it has at least one site (a probe with no call site is not shipped);
#   - every site has the same non-zero semaphore and a non-zero base;
#   - all sites share one argument signature (the size@ part of each
#     argument: -4@, 8@, ...), with as many arguments as the .d declares,
#     matching the .d's types (int -4, int64_t -8, pointers 8).
# And no site names a memcached probe the .d does not declare.
use strict;
use warnings;
use FindBin;
use File::Basename qw(dirname);
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $D_FILE = "$FindBin::Bin/../probes/memcached_dtrace.d";

# Size@ prefix each C type must have in the notes.  A type not listed here
# fails the test, so whoever adds a new type adds its expected size too.
my %SIGNATURE_OF_TYPE = (
    'int' => '-4', 'int32_t' => '-4', 'uint32_t' => '4', 'unsigned' => '4',
    'int64_t' => '-8', 'uint64_t' => '8',
);

sub skip_or_fail {
    my ($why) = @_;
    if ($ENV{MEMCACHED_REQUIRE_PROBES}) {
        fail("probes required (MEMCACHED_REQUIRE_PROBES) but: $why");
        done_testing();
        exit 1;
    }
    plan skip_all => $why;
}

# --- the provider as declared ---------------------------------------------
# name => [types...], in declaration order.
my (%declared, @order);
{
    open my $fh, '<', $D_FILE or die "cannot read $D_FILE: $!";
    while (<$fh>) {
        next unless /^\s*probe\s+([a-z0-9_]+)\s*\((.*)\)\s*;/;
        my ($name, $args) = ($1, $2);
        my @types;
        for my $arg (split /,/, $args) {
            $arg =~ s/^\s+|\s+$//g;
            next if $arg eq '' || $arg eq 'void';
            # The type is everything but the trailing identifier.
            (my $type = $arg) =~ s/\s*\b[A-Za-z_][A-Za-z0-9_]*$//;
            $type = $arg if $type eq '';
            push @types, $type;
        }
        die "probe $name declared twice in $D_FILE\n" if $declared{$name};
        $declared{$name} = \@types;
        push @order, $name;
    }
}

sub expected_signature {
    my ($type) = @_;
    return '8' if $type =~ /\*\s*$/;
    (my $bare = $type) =~ s/\bconst\b\s*//g;
    $bare =~ s/^\s+|\s+$//g;
    return $SIGNATURE_OF_TYPE{$bare};
}

# --- the binaries ----------------------------------------------------------
# MEMCACHED_BIN names one binary; its sibling is checked too when present.
my @binaries;
if (defined $ENV{MC_BUILDDIR} && $ENV{MC_BUILDDIR} ne '') {
    @binaries = map { "$ENV{MC_BUILDDIR}/memcached/$_" } qw(memcached memcached-debug);
} elsif (defined $ENV{MEMCACHED_BIN} && $ENV{MEMCACHED_BIN} ne '') {
    my $dir = dirname($ENV{MEMCACHED_BIN});
    @binaries = grep { $_ eq $ENV{MEMCACHED_BIN} || -x $_ }
                map { "$dir/$_" } qw(memcached memcached-debug);
    push @binaries, $ENV{MEMCACHED_BIN} unless grep { $_ eq $ENV{MEMCACHED_BIN} } @binaries;
} else {
    @binaries = (find_binary('memcached'), find_binary('memcached-debug'));
}

skip_or_fail('readelf not found in PATH')
    unless grep { -x "$_/readelf" } split /:/, ($ENV{PATH} // '');
for my $bin (@binaries) {
    skip_or_fail("server binary not found: $bin") unless -f $bin && -x _;
}

# Parses `readelf -n` into name => [ { semaphore, base, sizes => [..] } ].
sub read_notes {
    my ($bin) = @_;
    my $text = `readelf -n '$bin' 2>&1`;
    die "readelf -n $bin failed: $text" if $?;
    my (%sites, $cur);
    for my $line (split /\n/, $text) {
        if ($line =~ /^\s*stapsdt\s/) {
            $cur = { provider => '', args => '' };
        } elsif ($cur && $line =~ /^\s*Provider:\s*(\S+)/) {
            $cur->{provider} = $1;
        } elsif ($cur && $line =~ /^\s*Name:\s*(\S+)/) {
            $cur->{name} = $1;
        } elsif ($cur && $line =~ /Location:\s*(0x[0-9a-f]+),\s*Base:\s*(0x[0-9a-f]+),\s*Semaphore:\s*(0x[0-9a-f]+)/i) {
            @$cur{qw(location base semaphore)} = (hex $1, hex $2, hex $3);
            # Arguments come on the next line, if any: register the site now
            # and let that line fill them in.
            $cur->{sizes} = [];
            push @{ $sites{$cur->{name}} }, $cur if $cur->{provider} eq 'memcached';
        } elsif ($cur && $line =~ /^\s*Arguments:\s*(.*)$/) {
            $cur->{args} = $1;
            $cur->{sizes} = [ map { /^(-?\d+)@/ ? $1 : "?($_)" } split ' ', $1 ];
        }
    }
    return \%sites;
}

# Every reason to skip is known before the first test runs.
my %notes = map { $_ => read_notes($_) } @binaries;
for my $bin (@binaries) {
    skip_or_fail("$bin has no memcached stapsdt notes (built without --enable-dtrace?)")
        unless %{ $notes{$bin} };
}

ok(scalar(@order) >= 40, sprintf('%d probes declared in the .d', scalar @order))
    or BAIL_OUT("could not parse $D_FILE");

for my $bin (@binaries) {
    my $sites = $notes{$bin};
    my $short = $bin =~ s{.*/}{}r;

    for my $name (@order) {
        my $want_types = $declared{$name};
        my @want = map { expected_signature($_) } @$want_types;
        my $list = $sites->{$name} // [];
        subtest "$short: $name" => sub {
            ok(@$list >= 1, "has a call site") or return;
            my %sem = map { $_->{semaphore} => 1 } @$list;
            ok(!$sem{0}, 'semaphore is non-zero at every site');
            is(scalar keys %sem, 1, 'one semaphore for all sites');
            ok(!grep({ !$_->{base} } @$list), 'base address is non-zero at every site');

            my %sig = map { join(' ', @{ $_->{sizes} }) => 1 } @$list;
            is(scalar keys %sig, 1, sprintf('one argument signature over %d site(s)', scalar @$list))
                or diag(join "\n", map { sprintf('  site 0x%x: %s', $_->{location}, $_->{args}) } @$list);
            my @got = @{ $list->[0]{sizes} };
            is(scalar @got, scalar @want, 'argument count matches the .d (' . scalar(@want) . ')');
            for my $i (0 .. $#want) {
                my $type = $want_types->[$i];
                if (!defined $want[$i]) {
                    fail("arg$i: no expected size known for type '$type' (add it to this test)");
                    next;
                }
                is($got[$i] // '<missing>', $want[$i], "arg$i ($type) is $want[$i]\@");
            }
        };
    }

    my @undeclared = grep { !$declared{$_} } sort keys %$sites;
    is_deeply(\@undeclared, [], "$short: no site names a probe the .d does not declare");
}

done_testing();
