#!/usr/bin/perl
# docs/probes.md documents exactly the provider of probes/memcached_dtrace.d:
# every probe of the .d has one row, with the same argument list (types and
# names, in order), and no row names a probe the .d lacks.  Each group of
# probes has a bpftrace one-liner that names only real probes.  The manual
# page memcached-probes(7) generated from it (docs/md2man.awk) lists every
# probe and, where groff is installed, formats without warnings; a page
# already built in MC_BUILDDIR must be the one the generator makes now.
# With root and bpftrace, every one-liner is run against a server: it must
# compile and attach.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempfile);
use Test::More;
use McTest;

my $TOP = "$FindBin::Bin/..";
my $D_FILE = "$TOP/probes/memcached_dtrace.d";
my $MD = "$TOP/docs/probes.md";
my $AWK_GEN = "$TOP/docs/md2man.awk";

sub norm { my ($a) = @_; $a =~ s/\s+/ /g; $a =~ s/\s*\*\s*/ */g; $a =~ s/^ | $//g; return $a }
sub slurp { open my $fh, '<', $_[0] or die "cannot read $_[0]: $!"; local $/; return <$fh> }

# --- the .d -------------------------------------------------------------------
my (%d_args, @d_order);
for (split /\n/, slurp($D_FILE)) {
    next unless /^\s*probe\s+([a-z0-9_]+)\s*\((.*)\)\s*;/;
    $d_args{$1} = join ', ', map { norm($_) } grep { /\S/ && !/^\s*void\s*$/ } split /,/, $2;
    push @d_order, $1;
}
cmp_ok(scalar @d_order, '>=', 40, scalar(@d_order) . ' probes in the .d');

# --- the tables ---------------------------------------------------------------
my $md = slurp($MD);
my (%rows, %group_of, $group, @dups);
for (split /\n/, $md) {
    $group = $1 if /^## (.*)/;
    next unless /^\|\s*([a-z0-9_]+)\s*\|(.*)$/;
    my ($name, $rest) = ($1, $2);
    next if $name eq 'probe';
    my @cells = split /\|/, $rest;
    my @args = $cells[0] =~ /`([^`]*)`/g;
    push @dups, $name if exists $rows{$name};
    $rows{$name} = { args => join(', ', map { norm($_) } @args), cells => scalar @cells,
                     stability => $cells[2] // '' };
    $group_of{$name} = $group;
}
is_deeply(\@dups, [], 'no probe has two rows');
for my $name (@d_order) {
    if (!exists $rows{$name}) {
        fail("$name has a row in docs/probes.md");
        next;
    }
    is($rows{$name}{args}, $d_args{$name}, "$name: documented arguments match the .d");
    like($rows{$name}{stability}, qr/^\s*(stable \((compatible|extension)\)|debug)\s*$/,
         "$name: stability given");
}
my @unknown = grep { !exists $d_args{$_} } sort keys %rows;
is_deeply(\@unknown, [], 'no row names a probe the .d lacks');

# --- one-liners -------------------------------------------------------------------
# Code lines starting "bpftrace", with their continuation lines.
my (@oneliners, %has_oneliner, $g, $in);
for (split /\n/, $md) {
    $g = $1 if /^## (.*)/;
    if (/^    (bpftrace .*)$/) {
        push @oneliners, $1;
        $has_oneliner{$g} = 1;
        $in = 1;
    } elsif ($in && /^        (.*)$/) {
        $oneliners[-1] .= "\n$1";
    } else {
        $in = 0;
    }
}
my %groups = map { $_ => 1 } values %group_of;
ok($has_oneliner{$_}, "group \"$_\" has a bpftrace one-liner") for sort keys %groups;
my @all_oneliners = grep { /-e '/ } @oneliners;
my @bad_refs = grep { !exists $d_args{$_} } map { /usdt:[^:\s']*:memcached:([a-z0-9_]+)/g } @all_oneliners;
is_deeply(\@bad_refs, [], 'one-liners name only probes of the .d');

# --- the manual page ----------------------------------------------------------
my (undef, $gen) = tempfile('memcached-probes-XXXXXX', TMPDIR => 1, SUFFIX => '.7', UNLINK => 1);
my $awk = (grep { -x "$_/awk" } split /:/, $ENV{PATH} // '') ? 'awk' : undef;
SKIP: {
    skip 'awk not found', 4 unless $awk;
    my $page = `awk -v date=DATE -v version=VERSION -f '$AWK_GEN' '$MD'`;
    die "md2man.awk failed\n" if $?;
    open my $fh, '>', $gen or die; print $fh $page; close $fh;
    my @missing = grep { index($page, "\\fB" . ($_ =~ s/-/\\-/gr) . "\\fR(") < 0 } @d_order;
    is_deeply(\@missing, [], 'memcached-probes(7) has an entry for every probe');
    like($page, qr/^\.TH MEMCACHED-PROBES 7 /m, 'memcached-probes(7) has its .TH line');
    SKIP: {
        skip 'groff not installed', 1 unless grep { -x "$_/groff" } split /:/, $ENV{PATH} // '';
        my $warn = `groff -man -ww -z '$gen' 2>&1`;
        is($warn, '', 'memcached-probes(7) formats without groff warnings');
    }
    SKIP: {
        my $built = ($ENV{MC_BUILDDIR} // '') ne '' ? "$ENV{MC_BUILDDIR}/docs/memcached-probes.7" : '';
        skip 'no built memcached-probes.7 (MC_BUILDDIR unset or not built)', 1 unless $built && -f $built;
        my $b = slurp($built);
        # Only the date and version of the .TH line may differ.
        s/^\.TH .*$//m for $b, $page;
        is($b, $page, 'the built memcached-probes.7 is what docs/probes.md makes now');
    }
}

# --- run the one-liners ----------------------------------------------------
SKIP: {
    my $why = probes_skip_reason();
    skip "running the one-liners: $why", scalar @all_oneliners if defined $why;
    my $srv = start_server(args => '-m 8');
    my $pid = $srv->pid;
    for my $ol (@all_oneliners) {
        (my $cmd = $ol) =~ s/\n/ /g;
        my ($prog) = $cmd =~ /-e '(.*)'\s*$/s;
        if (!defined $prog) { fail("one-liner not of the form bpftrace ... -e '...': $cmd"); next }
        # Runs for a moment, then exits by itself.
        my $out = `bpftrace -p $pid -e '$prog interval:ms:300 { exit(); }' 2>&1`;
        ok($? == 0 && $out =~ /Attaching \d+ probes/, "one-liner compiles and attaches: " . substr($prog, 0, 60))
            or diag($out);
    }
}

done_testing();
