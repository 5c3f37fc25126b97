#!/usr/bin/perl
# probe_sample_rate, the rate of the request__sample probe: the -o option
# (default 100; 0 and INT32_MAX accepted, anything else refused at start),
# the text command that changes it at run time (OK; verbosity's
# CLIENT_ERROR for a missing, negative, non-numeric or too large rate;
# noreply; refused before a -Y login like every command), "stats settings"
# and -h.  Whether the probe fires as the rate says is probes-sample.t's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use McTest;
use McPortServer;

sub rate_of { return mem_stats($_[0], 'settings')->{probe_sample_rate} }

{
    my $srv = start_server();
    my $s = $srv->new_sock;
    is(rate_of($s), 100, 'stats settings: probe_sample_rate 100 by default');
    send_expect($s, "probe_sample_rate 7\r\n", "OK\r\n", 'probe_sample_rate 7: OK');
    is(rate_of($s), 7, 'stats settings shows the new rate');
    send_expect($s, "probe_sample_rate 0\r\n", "OK\r\n", 'probe_sample_rate 0: OK');
    is(rate_of($s), 0, 'rate 0 (never)');
    send_expect($s, "probe_sample_rate 2147483647\r\n", "OK\r\n", 'INT32_MAX: OK');
    for my $bad ('probe_sample_rate', 'probe_sample_rate abc', 'probe_sample_rate -1',
                 'probe_sample_rate 2147483648', 'probe_sample_rate 5x',
                 'probe_sample_rate 5 6') {
        send_expect($s, "$bad\r\n", "CLIENT_ERROR bad command line format\r\n", "'$bad' refused");
    }
    is(rate_of($s), 2147483647, 'a refused command leaves the rate as it was');
    send_bytes($s, "probe_sample_rate 9 noreply\r\nprobe_sample_rate x noreply\r\n");
    send_expect($s, "version\r\n", "VERSION 1.6.45\r\n", 'noreply: no reply, even to an error');
    is(rate_of($s), 9, 'noreply applied the rate');
    my $other = $srv->new_sock;
    is(rate_of($other), 9, 'the rate is the server\'s, not the connection\'s');
}

for my $case (['probe_sample_rate=1', 1], ['probe_sample_rate=0', 0],
              ['probe_sample_rate=250', 250]) {
    my ($opt, $want) = @$case;
    my $srv = start_server(args => "-o $opt");
    is(rate_of($srv->new_sock), $want, "-o $opt: stats settings probe_sample_rate $want");
}

for my $case (['-o probe_sample_rate', "Missing probe_sample_rate argument\n"],
              ['-o probe_sample_rate=x', "probe_sample_rate must be between 0 and 2147483647\n"],
              ['-o probe_sample_rate=-3', "probe_sample_rate must be between 0 and 2147483647\n"],
              ['-o probe_sample_rate=2147483648',
               "probe_sample_rate must be between 0 and 2147483647\n"]) {
    my ($args, $msg) = @$case;
    my ($code, $out) = run_until_exit(args => "-p -1 -l 127.0.0.1 $args");
    is($code, 1, "$args: exit status 1");
    is($out, $msg, "$args: message");
}

{
    my ($code, $out) = run_until_exit(args => '-h');
    is($code, 0, '-h exits 0');
    like($out, qr/^\s+- probe_sample_rate: .*request__sample/m, '-h lists probe_sample_rate');
}

{
    my $dir = tempdir('mctest-rate-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $fh, '>', "$dir/users" or die $!;
    print $fh "alice:secret\n";
    close $fh;
    my $srv = start_portfile_server(args => "-Y $dir/users");
    my $s = $srv->new_sock;
    send_expect($s, "probe_sample_rate 5\r\n", "CLIENT_ERROR unauthenticated\r\n",
                '-Y: probe_sample_rate refused before a login');
    send_bytes($s, "set a 0 0 12\r\nalice secret\r\n");
    is(read_line($s), "STORED\r\n", '-Y: login');
    send_expect($s, "probe_sample_rate 5\r\n", "OK\r\n", '-Y: accepted after the login');
    is(rate_of($s), 5, '-Y: rate applied');
}

done_testing();
