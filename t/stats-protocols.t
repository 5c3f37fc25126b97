#!/usr/bin/perl
# Text "stats <group>" and binary "stat <group>" report the same stats: the
# same names in the same order and, where nothing changes between the two
# requests, the same values; the detail dump is one binary stat "detailed"
# holding the text reply. Also each group's framing and kinds of reply.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use McTest;
use McBinary;

my $srv = start_server(args => '-m 64 -o track_sizes');
my $t = $srv->new_sock;
my $b = $srv->new_sock;

# The text reply to "stats ARGS" as [name, value] pairs, in order; dies
# unless it is STAT lines closed by END.
sub text_stats {
    my ($args) = @_;
    send_bytes($t, $args eq '' ? "stats\r\n" : "stats $args\r\n");
    my @s;
    while (1) {
        my $line = read_line($t);
        die "stats $args: no reply\n" unless defined $line;
        last if $line eq "END\r\n";
        $line =~ /^STAT (\S+) (.*)\r\n\z/ or die "stats $args: bad line " . mc_escape($line) . "\n";
        push @s, [$1, $2];
    }
    return @s;
}

# The binary reply to stat KEY as [name, value] pairs, in order; dies unless
# every packet succeeds and an empty one closes the list.
sub binary_stats {
    my ($key) = @_;
    send_bytes($b, bin_req('stat', key => $key, opaque => 7));
    my @s;
    while (1) {
        my $p = bin_read($b);
        die "stat $key: no reply\n" unless $p;
        die "stat $key: status $p->{status}\n" if $p->{status} != 0 || $p->{opaque} != 7;
        last if $p->{key} eq '' && $p->{val} eq '';
        push @s, [$p->{key}, $p->{val}];
    }
    return @s;
}

sub names { join ' ', map { $_->[0] } @_ }
sub pairs { join "\n", map { "$_->[0]=$_->[1]" } @_ }

# Some items in two classes, so that slabs, items and sizes have lines.
for my $i (1 .. 3) {
    send_expect($t, "set k:$i 0 0 3\r\nabc\r\n", "STORED\r\n", "set k:$i");
}
send_expect($t, "set big 0 0 2000\r\n" . ('x' x 2000) . "\r\n", "STORED\r\n", 'set a larger item');

# The LRU maintainer moves items between segments (and ages tick) on its
# own, so the binary reply is compared with a text reply taken while nothing
# changed: one bracketed by two identical text replies (retried until then,
# with a deadline).
for my $group (qw(settings slabs items sizes)) {
    my $deadline = time + 20;
    my (@text, @bin);
    while (1) {
        @text = text_stats($group);
        @bin = binary_stats($group);
        my @after = text_stats($group);
        last if pairs(@after) eq pairs(@text) || time > $deadline;
    }
    ok(@text > 0, "stats $group has lines");
    is(pairs(@bin), pairs(@text), "stat $group: the same names, values and order as stats $group");
}
# stats probes: a tracer elsewhere may attach between the two requests.
is(names(binary_stats('probes')), names(text_stats('probes')), 'stat probes: the same names as stats probes');

# The general group: counters move with every request, so names only.
{
    my @text = text_stats('');
    my @bin = binary_stats('');
    is($text[0][0], 'pid', 'stats starts with pid');
    is(names(@bin), names(@text), 'stat: the same names in the same order as stats');
    my %tv = map { @$_ } @text;
    my %bv = map { @$_ } @bin;
    is($bv{$_}, $tv{$_}, "stat and stats agree on $_") for qw(pid max_connections limit_maxbytes curr_items);
}

# stats conns: per socket, the addr, state and secs lines; not over binary.
{
    my @c = text_stats('conns');
    ok(scalar(grep { $_->[0] =~ /^\d+:state$/ && $_->[1] eq 'conn_listening' } @c),
       'stats conns lists the listening socket');
    ok(scalar(grep { $_->[0] =~ /^\d+:listen_addr$/ } @c), 'stats conns lists a client with its listener');
    send_expect($b, bin_req('stat', key => 'conns', opaque => 8),
                bin_error_res('stat', 'not_found', opaque => 8), 'stat conns: Not found');
}

# Unknown groups: ERROR over text, Not found over binary.
send_expect($t, "stats nosuchgroup\r\n", "ERROR\r\n", 'stats of an unknown group: ERROR');
send_expect($b, bin_req('stat', key => 'nosuchgroup', opaque => 9),
            bin_error_res('stat', 'not_found', opaque => 9), 'stat of an unknown group: Not found');

# stats detail dump: PREFIX lines over text, the same text as one stat over binary.
{
    send_expect($t, "stats detail on\r\n", "OK\r\n", 'stats detail on');
    send_expect($t, "get k:1 k:2 other:1\r\n",
                "VALUE k:1 0 3\r\nabc\r\nVALUE k:2 0 3\r\nabc\r\nEND\r\n", 'gets counted by prefix');
    send_expect($t, "delete other:1\r\n", "NOT_FOUND\r\n", 'a delete counted by prefix');
    send_bytes($t, "stats detail dump\r\n");
    my $dump = '';
    while (defined(my $line = read_line($t))) {
        $dump .= $line;
        last if $line eq "END\r\n";
    }
    like($dump, qr/^PREFIX k get 2 hit 2 set 0 del 0\r\n/m, 'text dump: prefix k');
    like($dump, qr/^PREFIX other get 1 hit 0 set 0 del 1\r\n/m, 'text dump: prefix other');
    like($dump, qr/END\r\n\z/, 'text dump ends with END');
    my $p = bin_call($b, 'stat', key => 'detail dump', opaque => 10);
    ok($p && $p->{status} == 0 && $p->{key} eq 'detailed', 'stat detail dump: one stat named detailed');
    is($p && $p->{val}, $dump, 'stat detail dump: its value is the text dump');
    $p = bin_read($b);
    ok($p && $p->{key} eq '' && $p->{val} eq '' && $p->{status} == 0, 'stat detail dump: then the end packet');
}

# stats reset zeroes counters, both ways.
{
    send_expect($t, "stats reset\r\n", "RESET\r\n", 'stats reset');
    my %s = map { @$_ } text_stats('');
    is($s{total_connections}, 0, 'stats reset zeroes total_connections');
    is($s{get_hits}, 0, 'stats reset zeroes get_hits');
    my @bin = binary_stats('reset');
    is(scalar @bin, 0, 'stat reset: just the end packet');
}

done_testing();
