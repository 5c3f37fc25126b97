#!/usr/bin/perl
# docs/memcached.1 stays true to the server: every option the page documents
# (".BR \-x ", " \-\-long" entries) is one `memcached -h` prints with the same
# short and long name, and every short option `-h` prints is documented in
# the page. Where groff is installed the page formats without warnings.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;

my $PAGE = "$FindBin::Bin/../docs/memcached.1";
open my $fh, '<', $PAGE or die "cannot read $PAGE: $!";
my $page = do { local $/; <$fh> };

my $bin = find_binary('memcached');
plan skip_all => "server binary not found: $bin" unless -x $bin;
my $help = `'$bin' -h 2>&1`;

# short => long, as -h prints them ("-p, --port=<num>").
my %help_long;
while ($help =~ /^-([A-Za-z]),? +--([a-z_-]+)/mg) { $help_long{$1} = $2 }
cmp_ok(scalar keys %help_long, '>=', 20, 'memcached -h lists its options');

# The page's entries: ".BR \-p ", " \-\-port =\fInum\fR".
my %page_long;
while ($page =~ /^\.BR \\-([A-Za-z]) ", " \\-\\-([a-z\\-]+)/mg) {
    my ($short, $long) = ($1, $2);
    $long =~ s/\\-/-/g;
    $page_long{$short} = $long;
}
cmp_ok(scalar keys %page_long, '>=', 20, 'the page documents options');

for my $short (sort keys %page_long) {
    # -S and -Z are in -h only when built with SASL and TLS.
    next if !defined $help_long{$short} && $short =~ /^[SZ]$/;
    is($help_long{$short}, $page_long{$short},
        "-$short is --$page_long{$short} in both the page and -h");
}
for my $short (sort keys %help_long) {
    next if $short eq 'N';    # accepted for compatibility only
    ok($page_long{$short} || $page =~ /^\.BI? \\-$short\b/m,
        "-$short (--$help_long{$short}) is documented in memcached(1)");
}

SKIP: {
    skip 'groff not installed', 1 unless grep { -x "$_/groff" } split /:/, $ENV{PATH};
    my $warn = `groff -man -Tutf8 -ww -z '$PAGE' 2>&1`;
    is($warn, '', 'memcached(1) formats without groff warnings');
}

done_testing();
