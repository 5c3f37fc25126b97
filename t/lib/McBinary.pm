package McBinary;

# Binary protocol helpers for the tests: build request packets and the
# exact reply packets expected back, and read reply packets off a socket
# (with McTest's buffered reads, so they mix with send_expect and friends).
# See the POD at the end.

use strict;
use warnings;

use Exporter 'import';
use McTest qw(read_bytes send_bytes);

our @EXPORT = qw(%OP %ST bin_req bin_res bin_read bin_call bin_error_res);

# Opcodes (memcached's numbers; quiet forms end in "q").
our %OP = (
    get => 0x00, set => 0x01, add => 0x02, replace => 0x03, delete => 0x04,
    incr => 0x05, decr => 0x06, quit => 0x07, flush => 0x08, getq => 0x09,
    noop => 0x0a, version => 0x0b, getk => 0x0c, getkq => 0x0d, append => 0x0e,
    prepend => 0x0f, stat => 0x10, setq => 0x11, addq => 0x12, replaceq => 0x13,
    deleteq => 0x14, incrq => 0x15, decrq => 0x16, quitq => 0x17, flushq => 0x18,
    appendq => 0x19, prependq => 0x1a, verbosity => 0x1b, touch => 0x1c,
    gat => 0x1d, gatq => 0x1e, gatk => 0x23, gatkq => 0x24,
);

# Reply statuses and the error text memcached sends with each.
our %ST = (
    ok => 0x0000, not_found => 0x0001, exists => 0x0002, too_large => 0x0003,
    invalid => 0x0004, not_stored => 0x0005, non_numeric => 0x0006,
    auth => 0x0020, unknown => 0x0081, no_memory => 0x0082,
);
my %TEXT = (
    0x0001 => 'Not found', 0x0002 => 'Data exists for key.', 0x0003 => 'Too large.',
    0x0004 => 'Invalid arguments', 0x0005 => 'Not stored.',
    0x0006 => 'Non-numeric server-side value for incr or decr',
    0x0020 => 'Auth failure.', 0x0081 => 'Unknown command', 0x0082 => 'Out of memory',
);

sub _op { my ($op) = @_; return $op =~ /^\d+$/ ? $op : ($OP{$op} // die "unknown opcode name $op") }

# bin_req(op, key => K, ext => E, val => V, opaque => N, cas => N,
#         bodylen => N, magic => N): one request packet.
sub bin_req {
    my ($op, %a) = @_;
    my ($key, $ext, $val) = map { $_ // '' } @a{qw(key ext val)};
    my $body = length($ext) + length($key) + length($val);
    return pack('C C n C C n N N Q>', $a{magic} // 0x80, _op($op), length $key,
                length $ext, 0, 0, $a{bodylen} // $body, $a{opaque} // 0, $a{cas} // 0)
        . $ext . $key . $val;
}

# bin_res(op, status => S, key => K, ext => E, val => V, opaque => N,
#         cas => N): the reply packet expected, byte for byte.
sub bin_res {
    my ($op, %a) = @_;
    my ($key, $ext, $val) = map { $_ // '' } @a{qw(key ext val)};
    my $st = $a{status} // 0;
    $st = $ST{$st} // die "unknown status $st" unless $st =~ /^\d+$/;
    return pack('C C n C C n N N Q>', 0x81, _op($op), length $key, length $ext, 0,
                $st, length($ext) + length($key) + length($val), $a{opaque} // 0,
                $a{cas} // 0) . $ext . $key . $val;
}

# bin_error_res(op, status, opaque => N): an error reply with memcached's text.
sub bin_error_res {
    my ($op, $status, %a) = @_;
    $status = $ST{$status} // die "unknown status $status" unless $status =~ /^\d+$/;
    return bin_res($op, status => $status, val => $TEXT{$status}, %a);
}

# bin_read($sock, $timeout): the next reply packet as a hashref (magic, op,
# status, ext, key, val, opaque, cas, raw), or undef on timeout/EOF.
sub bin_read {
    my ($sock, $timeout) = @_;
    my $hdr = read_bytes($sock, 24, $timeout);
    return undef unless length $hdr == 24;
    my ($magic, $op, $klen, $elen, $dtype, $status, $blen, $opaque, $cas) =
        unpack('C C n C C n N N Q>', $hdr);
    my $body = $blen ? read_bytes($sock, $blen, $timeout) : '';
    return undef unless length $body == $blen;
    return { magic => $magic, op => $op, status => $status, datatype => $dtype,
             ext => substr($body, 0, $elen), key => substr($body, $elen, $klen),
             val => substr($body, $elen + $klen), opaque => $opaque, cas => $cas,
             raw => $hdr . $body };
}

# bin_call($sock, op, %req): sends one request and returns bin_read's reply.
sub bin_call {
    my ($sock, $op, %a) = @_;
    send_bytes($sock, bin_req($op, %a));
    return bin_read($sock);
}

1;

__END__

=head1 NAME

McBinary - binary protocol packets for the memcached-sdt tests

=head1 SYNOPSIS

    use McTest;
    use McBinary;

    send_expect($s, bin_req('noop', opaque => 7), bin_res('noop', opaque => 7), 'noop');
    my $r = bin_call($s, 'set', key => 'k', ext => pack('NN', 0, 0), val => 'v');
    send_expect($s, bin_req('get', key => 'nope'),
                bin_error_res('get', 'not_found'), 'miss');

=head1 FUNCTIONS

C<bin_req> and C<bin_res> take an opcode (name from C<%OP> or number) and
the packet's parts; lengths are computed unless C<bodylen> overrides the
request's.  C<status> is a number or a C<%ST> name.  C<bin_error_res> adds
the error text memcached sends.  C<bin_read> and C<bin_call> return a
hashref, undef when no whole packet arrived in time.

=cut
