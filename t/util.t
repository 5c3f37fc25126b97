#!/usr/bin/perl
# The unit tests of memcached/util.c (decimal parser, %XX key encoder):
# t/util_test.c, built by `make check` in the build tree, prints its own TAP.
use strict;
use warnings;
use lib 't/lib';
use Test::More;

my $dir = (defined $ENV{MC_BUILDDIR} && $ENV{MC_BUILDDIR} ne '') ? $ENV{MC_BUILDDIR} : '.';
my $bin = "$dir/t/util_test";
plan skip_all => "$bin not built (make check builds it)" unless -x $bin;
exec $bin or die "cannot run $bin: $!";
