#!/usr/bin/perl
# "watch": a connection turns into a stream of log lines (fetchers,
# mutations, deletions, evictions, connevents) in memcached's format;
# -W refuses it, and at most 20 watchers are allowed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use McTest;

# expect_log($w, $body, $name): the next line is "ts=S.U gid=N $body\n",
# where CFD and PORT in $body stand for any number.
sub expect_log {
    my ($w, $body, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $re = quotemeta($body);
    $re =~ s/CFD/\\d+/g;
    $re =~ s/PORT/\\d+/g;
    my $line = read_log($w) // '(nothing)';
    like($line, qr/^ts=\d+\.\d+ gid=\d+ $re\n\z/, $name);
}

# start_watcher($srv, $args): a socket that sent "watch $args" and got OK.
sub start_watcher {
    my ($srv, $args) = @_;
    my $w = $srv->new_sock;
    send_expect($w, "watch $args\r\n", "OK\r\n", "watch $args: OK");
    sleep 0.2;      # the watcher is registered once its OK is out
    return $w;
}

sub wait_stat {
    my ($s, $name, $want) = @_;
    my $deadline = time + 5;
    my $v;
    while (time < $deadline) {
        $v = mem_stats($s)->{$name};
        return $v if $v eq $want;
        sleep 0.1;
    }
    return $v;
}

# --- -W ----------------------------------------------------------------------------
{
    my $srv = start_server(args => '-m 32 -W');
    my $s = $srv->new_sock;
    send_expect($s, "watch\r\n", "CLIENT_ERROR watch commands not allowed\r\n", '-W refuses watch');
    send_expect($s, "watch fetchers\r\n", "CLIENT_ERROR watch commands not allowed\r\n",
                '-W refuses watch with kinds');
    send_expect($s, "version\r\n", '', 'connection still served');
    like(read_line($s), qr/^VERSION /, 'version after refusal');
}

my $srv = start_server(args => '-m 64');
my $s = $srv->new_sock;

# --- arguments -------------------------------------------------------------------------
send_expect($s, "watch bogus\r\n", "ERROR\r\n", 'unknown kind');
send_expect($s, "watch fetchers bogus\r\n", "ERROR\r\n", 'one unknown kind spoils the lot');
send_expect($s, "version\r\n", '', 'connection still served after ERROR');
like(read_line($s), qr/^VERSION /, 'version after ERROR');

# --- default: fetchers only ----------------------------------------------------------------
{
    my $w = start_watcher($srv, '');
    send_expect($s, "set foo 0 0 3\r\nbar\r\nget foo\r\nget nope\r\n",
                "STORED\r\nVALUE foo 0 3\r\nbar\r\nEND\r\nEND\r\n", 'set, get hit, get miss');
    expect_log($w, 'type=item_get key=foo status=not_found clsid=0 cfd=CFD size=0',
               "the set's own lookup");
    expect_log($w, 'type=item_get key=foo status=found clsid=1 cfd=CFD size=3', 'get hit');
    expect_log($w, 'type=item_get key=nope status=not_found clsid=0 cfd=CFD size=0', 'get miss');
    expect_nothing($w, 300, 'no store lines without mutations');
    is(mem_stats($s)->{log_watchers}, 1, 'stats log_watchers: 1');
    close $w;
    is(wait_stat($s, 'log_watchers', 0), 0, 'a watcher that hangs up is dropped');
}

# --- fetchers and mutations ---------------------------------------------------------------------
{
    send_expect($s, "delete foo\r\n", "DELETED\r\n", 'clean up');
    my $w = start_watcher($srv, 'fetchers mutations');
    send_expect($s, "set foo 0 100 3\r\nbar\r\nadd foo 0 0 1\r\nx\r\nappend foo 0 0 1\r\nx\r\n"
                  . "cas foo 0 0 1 1\r\nx\r\n",
                "STORED\r\nNOT_STORED\r\nSTORED\r\nEXISTS\r\n", 'set, add, append, cas');
    expect_log($w, 'type=item_get key=foo status=not_found clsid=0 cfd=CFD size=0', 'set: lookup');
    expect_log($w, 'type=item_store key=foo status=stored cmd=set ttl=100 clsid=1 cfd=CFD size=3',
               'set: stored with its ttl');
    expect_log($w, 'type=item_get key=foo status=found clsid=1 cfd=CFD size=3', 'add: lookup');
    expect_log($w, 'type=item_store key=foo status=not_stored cmd=add ttl=0 clsid=1 cfd=CFD size=1',
               'add: not_stored, the request item');
    expect_log($w, 'type=item_get key=foo status=found clsid=1 cfd=CFD size=3', 'append: lookup');
    expect_log($w, 'type=item_store key=foo status=stored cmd=append ttl=100 clsid=1 cfd=CFD size=4',
               'append: the joined item');
    expect_log($w, 'type=item_get key=foo status=found clsid=1 cfd=CFD size=4', 'cas: lookup');
    expect_log($w, 'type=item_store key=foo status=exists cmd=cas ttl=0 clsid=1 cfd=CFD size=1',
               'cas: exists');
    send_expect($s, "ms mk 2 T0\r\nhi\r\n", "HD\r\n", 'meta set');
    expect_log($w, 'type=item_get key=mk status=not_found clsid=0 cfd=CFD size=0', 'ms: lookup');
    expect_log($w, 'type=item_store key=mk status=stored cmd=set ttl=0 clsid=1 cfd=CFD size=2',
               'ms: stored as a set');
    send_expect($s, "incr foo 1\r\n", '', 'incr on a non-number');
    like(read_line($s), qr/^CLIENT_ERROR /, 'incr refused');
    expect_log($w, 'type=item_get key=foo status=found clsid=1 cfd=CFD size=4', 'incr: lookup');

    # keys are shown URI-encoded
    send_expect($s, "get a%b/c:d~e_f.g-h\r\n", "END\r\n", 'get an odd key');
    expect_log($w, 'type=item_get key=a%25b%2Fc%3Ad~e_f.g-h status=not_found clsid=0 cfd=CFD size=0',
               'odd key encoded');
    close $w;
    wait_stat($s, 'log_watchers', 0);
}

# --- deletions ----------------------------------------------------------------------------------
{
    my $w = start_watcher($srv, 'deletions');
    send_expect($s, "delete foo\r\ndelete foo\r\nmd mk\r\n", "DELETED\r\nNOT_FOUND\r\nHD\r\n",
                'delete, delete miss, md');
    expect_log($w, 'type=deleted key=foo cmd=delete clsid=1 size=4', 'delete');
    expect_log($w, 'type=deleted key=mk cmd=md clsid=1 size=2', 'md (a miss logs nothing)');
    expect_nothing($w, 300, 'nothing else');
    close $w;
    wait_stat($s, 'log_watchers', 0);
}

# --- connevents -------------------------------------------------------------------------------------
{
    my $w = start_watcher($srv, 'connevents');
    my $c = $srv->new_sock;
    my $port = $c->sockport;
    send_expect($c, "version\r\n", '', 'a client');
    read_line($c);
    send_bytes($c, "quit\r\n");
    expect_closed($c, 'quit closes');
    expect_log($w, "type=conn_new rip=127.0.0.1 rport=$port transport=tcp cfd=CFD", 'conn_new');
    expect_log($w, "type=conn_close rip=127.0.0.1 rport=$port transport=tcp reason=normal cfd=CFD",
               'conn_close after quit: normal');
    close $w;
    wait_stat($s, 'log_watchers', 0);
}

# --- at most 20 watchers ----------------------------------------------------------------------------
{
    my @w = map { start_watcher($srv, 'mutations') } 1 .. 20;
    is(mem_stats($s)->{log_watchers}, 20, 'twenty watchers');
    my $extra = $srv->new_sock;
    send_expect($extra, "watch\r\n", "WATCHER_TOO_MANY log watcher limit reached\r\n",
                'the 21st is refused');
    send_expect($s, "set many 0 0 1\r\nx\r\n", "STORED\r\n", 'one store');
    my $all = 1;
    for my $w (@w) {
        my $l = read_log($w) // '';
        $all = 0 unless $l =~ /type=item_store key=many status=stored/;
    }
    ok($all, 'every watcher got the line');
    close $_ for @w;
    is(wait_stat($s, 'log_watchers', 0), 0, 'all dropped after hanging up');
}
$srv->stop;

# --- evictions ---------------------------------------------------------------------------------
{
    my $small = start_server(args => '-m 2');
    my $c = $small->new_sock;
    my $w = start_watcher($small, 'evictions');
    my $v = 'x' x 100000;
    my $t0 = time;
    send_expect($c, "set k0 0 1000 100000\r\n$v\r\nget k0\r\n",
                "STORED\r\nVALUE k0 0 100000\r\n$v\r\nEND\r\n", 'k0 stored and fetched');
    send_bytes($c, join('', map { "set k$_ 0 0 100000\r\n$v\r\n" } 1 .. 40));
    read_line($c) for 1 .. 40;
    my $l = read_log($w) // '';
    # The ttl left: 1000 less the whole seconds the server's clock moved
    # since the set (a busy machine makes that more than 1).
    my $left = 1000 - int(time - $t0) - 1;
    like($l, qr/^ts=\d+\.\d+ gid=\d+ type=eviction key=k0 fetch=yes ttl=\d+ la=\d+ clsid=\d+ size=100000\n\z/,
         'the oldest goes first: fetched, with its ttl');
    my ($ttl) = $l =~ / ttl=(\d+) /;
    ok(defined $ttl && $ttl <= 1000 && $ttl >= $left, "... its ttl: 1000 less the seconds gone (>= $left)")
        or diag("ttl " . ($ttl // 'none'));
    $l = read_log($w) // '';
    like($l, qr/^ts=\d+\.\d+ gid=\d+ type=eviction key=k1 fetch=no ttl=-1 la=\d+ clsid=\d+ size=100000\n\z/,
         'then k1: never fetched, no ttl');
    $small->stop;
}

# --- a watcher that does not read loses lines, counted ---------------------------------------------
{
    my $srv2 = start_server(args => '-m 64 -o watcher_logbuf_size=8');
    my $c = $srv2->new_sock;
    my $w = start_watcher($srv2, 'fetchers');
    for my $round (1 .. 10) {
        send_bytes($c, join('', map { "get key$_\r\n" } 1 .. 2000));
        read_line($c) for 1 .. 2000;
    }
    my $st = mem_stats($c);
    ok($st->{log_watcher_skipped} + $st->{log_worker_dropped} > 0, 'lines were dropped and counted');
    my ($bad, $n) = (0, 0);
    while (defined(my $l = read_log($w, 1))) {
        $n++;
        $bad++ unless $l =~ /^(ts=\d+\.\d+ gid=\d+ type=item_get key=key\d+ status=not_found clsid=0 cfd=\d+ size=0|skipped=\d+)\n\z/;
    }
    ok($n > 0, "the watcher got lines ($n)");
    is($bad, 0, 'every line arrived whole');
    $srv2->stop;
}

# The other kinds memcached 1.6.45 accepts: sysevents (the LRU crawler's
# schedule: t/crawler.t), rawcmds and the proxy's. A watcher of only those
# gets no item lines.
{
    my $srv = start_server(args => '-m 64');
    for my $kinds ('sysevents', 'rawcmds', 'proxyreqs', 'proxyevents', 'proxyuser',
                   'fetchers sysevents rawcmds') {
        my $w = $srv->new_sock;
        send_expect($w, "watch $kinds\r\n", "OK\r\n", "watch $kinds: OK");
    }
    my $w = $srv->new_sock;
    send_expect($w, "watch sysevents rawcmds\r\n", "OK\r\n", 'watch sysevents rawcmds');
    my $r = $srv->new_sock;
    send_expect($r, "watch rawcmds proxyreqs proxyevents proxyuser\r\n", "OK\r\n",
                'watch rawcmds and the proxy kinds');
    my $c = $srv->new_sock;
    send_expect($c, "set sk 0 0 1\r\nx\r\nget sk\r\n", "STORED\r\nVALUE sk 0 1\r\nx\r\nEND\r\n",
                'a set and a get');
    expect_nothing($r, 300, '... are not logged to a rawcmds/proxy watcher');
    # The crawler's start-up report may reach a sysevents watcher now.
    my @other;
    while (defined(my $l = read_log($w, 0.3))) {
        push @other, $l unless $l =~ /^ts=\d+\.\d+ gid=\d+ type=lru_crawler /;
    }
    is_deeply(\@other, [], '... nor to a sysevents/rawcmds watcher (only crawler lines, if any)');
    send_expect($srv->new_sock, "watch sysevents bogus\r\n", "ERROR\r\n", 'an unknown kind is still refused');
}

# watch must come first in its read: after other requests whose replies
# are not yet flushed (noreply and quiet ones too) memcached refuses it;
# "mn" flushes, so watch may follow it.
{
    my $PIPE = "ERROR cannot pipeline other commands before watch\r\n";
    my $srv = start_server(args => '-m 64');
    my $c = $srv->new_sock;
    send_bytes($c, "version\r\nwatch\r\n");
    like(read_line($c) // '', qr/^VERSION /, 'version answered');
    send_expect($c, '', $PIPE, 'watch after version in one write: refused');
    send_expect($c, "watch\r\nversion\r\n", "OK\r\n", 'watch alone in its read: OK');
    my $d = $srv->new_sock;
    send_expect($d, "set wq 0 0 1 noreply\r\nx\r\nwatch\r\n", $PIPE, 'after a noreply set: refused');
    send_expect($d, "mg nope q\r\nwatch\r\n", $PIPE, 'after a quiet mg: refused');
    send_expect($d, "mg nope q\r\nmn\r\nwatch\r\n", "MN\r\nOK\r\n", 'after mn: accepted');
}

done_testing();
