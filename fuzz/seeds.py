#!/usr/bin/env python3
"""fuzz/seeds.py: writes the seed corpora in fuzz/corpus/<target>/ (valid
requests of every kind, and a few known-bad ones). Run it from anywhere;
the files are committed, so this only needs rerunning when seeds change."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def stream(target, name, text, chunk=0):
    put(target, name, bytes([chunk]) + text)


TEXT = {
    'storage': b'set a 0 0 1\r\nx\r\nadd b 5 0 2\r\nyy\r\nreplace a 1 0 1\r\nz\r\n'
               b'append a 0 0 2\r\nqq\r\nprepend a 0 0 2\r\nrr\r\nget a b c\r\n',
    'cas': b'set k 0 0 1\r\n1\r\ngets k\r\ncas k 0 0 1 1\r\n2\r\ncas k 0 0 1 999\r\n3\r\ncas nokey 0 0 1 1\r\nx\r\n',
    'arith': b'set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\n'
             b'incr missing 1\r\nset s 0 0 1\r\nx\r\nincr s 1\r\n',
    'noreply': b'set a 0 0 1 noreply\r\nx\r\nadd a 0 0 1 noreply\r\ny\r\nincr a 1 noreply\r\n'
               b'delete a noreply\r\ntouch a 10 noreply\r\nflush_all noreply\r\nget a\r\n',
    'touch': b'set t 0 100 1\r\nx\r\ntouch t 10\r\ngat 0 t\r\ngats 100 t u\r\ntouch nokey 1\r\n',
    'delete': b'set d 0 0 1\r\nx\r\ndelete d\r\ndelete d\r\ndelete d 0\r\ndelete d 5\r\n',
    'stats': b'stats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats sizes\r\n'
             b'stats conns\r\nstats detail on\r\nset p:x 0 0 1\r\nx\r\nget p:x\r\nstats detail dump\r\n'
             b'stats detail off\r\nstats reset\r\nstats nosuch\r\n',
    'admin': b'version\r\nverbosity 1\r\nverbosity\r\nflush_all 10\r\nflush_all\r\ncache_memlimit 100\r\n'
             b'cache_memlimit 0\r\nlru_crawler crawl all\r\nlru_crawler metadump all\r\nlru_crawler sleep 100\r\n'
             b'lru_crawler tocrawl 5\r\nlru_crawler disable\r\nlru_crawler enable\r\n'
             b'slabs reassign 1 2\r\nslabs automove 1\r\nslabs automove 3\r\nwatch\r\n',
    'errors': b'set a 0 0 -1\r\nset a 0 0 abc\r\nset ' + b'k' * 251 + b' 0 0 1\r\nx\r\n'
              b'get\r\nbogus\r\nset a 0 0 1\r\nxyz\r\nincr a\r\nGET / HTTP/1.1\r\n',
    'large': b'set big 0 0 20000\r\n' + b'v' * 20000 + b'\r\nappend big 0 0 3\r\nabc\r\nget big\r\n',
    'multiget': b'get ' + b' '.join(b'k%d' % i for i in range(100)) + b'\r\n',
    'bare-newline': b'set a 0 0 1\nx\nget a\nversion\n',
    'quit': b'set a 0 0 1\r\nx\r\nquit\r\nget a\r\n',
    'shutdown': b'shutdown bogus\r\nshutdown graceful\r\n',
    # issue 16 item 0: a first read of nothing but spaces ending in a
    # prefix of "get " (the over-read fixed in proto_text.c)
    'spaces-get': b' ' * 16381 + b'get',
    'spaces': b' ' * 16384,
    'slab-move': b''.join(b'set m%d 0 0 1000\r\n' % i + b'a' * 1000 + b'\r\n' for i in range(130))
                 + b'slabs reassign -1 1\r\n',
}
for name, text in TEXT.items():
    stream('text', name, text)
stream('text', 'storage-split', TEXT['storage'], chunk=3)
stream('text', 'large-split', TEXT['large'], chunk=200)
# A slow reader: 2-byte reads, and 512 bytes of replies taken per wake-up,
# so the driver waits for writability, also with a value half read.
stream('text', 'slow-reader', b'set a 0 0 1500\r\n' + b's' * 1500 + b'\r\nget a a\r\n'
       b'set b 0 0 3000\r\n' + b't' * 3000 + b'\r\nget b\r\n', chunk=2)
# More requests in one read than -R lets run at once: the driver yields.
stream('text', 'yield', b'set a 0 0 1\r\nx\r\n' + b'get a\r\n' * 50 + b'mn\r\n' * 30)

META = {
    'mg': b'ms a 2\r\nhi\r\nmg a v k f t s c h l O123 q\r\nmg miss v\r\nmg miss v q\r\nmn\r\n',
    'ms-modes': b'ms a 1 MS\r\nx\r\nms a 1 ME\r\ny\r\nms a 1 MA\r\nz\r\nms a 1 MP\r\nw\r\n'
                b'ms a 1 MR\r\nv\r\nms b 1 MA N30\r\nq\r\nms c 1 I\r\nx\r\n',
    'ms-flags': b'ms a 3 T100 F5 c k O9 b\r\nabc\r\nms YWJj 3 b\r\nxyz\r\nmg YWJj b v k\r\n',
    'cas': b'ms a 1 c\r\nx\r\nmg a c\r\nms a 1 C1\r\ny\r\nms a 1 C999\r\nz\r\nmd a C1\r\nmd a q\r\n',
    'ma': b'ma n N0 J13 v\r\nma n MI D5 v t c\r\nma n MD D100 v\r\nma missing\r\nms s 1\r\nx\r\nma s\r\n',
    'md': b'ms a 1\r\nx\r\nmd a I T30\r\nmg a v c\r\nmg a v\r\nmd a x\r\nmd nokey q\r\nmn\r\n',
    'stale-win': b'ms a 1 T10\r\nx\r\nmd a I\r\nmg a v c\r\nmg a v c\r\nmg a R30 v N30\r\n'
                 b'mg nokey N30 v c\r\nmg nokey N30 v c\r\n',
    'me': b'ms a 1\r\nx\r\nme a\r\nme nokey\r\nme YQ== b\r\n',
    'errors': b'mg\r\nms a\r\nms a -1\r\nms a 1 Z\r\nx\r\nmg ' + b'k' * 251 + b' v\r\nms a 1 T\r\nx\r\n'
              b'ma a D\r\nmg a O' + b'o' * 40 + b'\r\nmx\r\nmg a v v v v v v v v v v v v v v v v v v v v v v v v v\r\n',
    'mixed': b'set a 0 0 1\r\nx\r\nmg a v\r\nms b 2 I\r\nbb\r\nget a b\r\nmn\r\n',
    'base64': b'ms Zm9v 3 b\r\nbar\r\nmg Zm9v b v k\r\nma Zm9v b\r\nmd Zm9v b q\r\nmg !!!! b v\r\n',
    'large': b'ms big 20000 T0\r\n' + b'L' * 20000 + b'\r\nmg big s v\r\n',
}
for name, text in META.items():
    stream('meta', name, text)
stream('meta', 'mg-split', META['mg'], chunk=1)


def binpkt(op, key=b'', extras=b'', value=b'', cas=0, opaque=0xdeadbeef, vb=0):
    body = extras + key + value
    return struct.pack('>BBHBBHIIQ', 0x80, op, len(key), len(extras), 0, vb, len(body),
                       opaque, cas) + body


SET_EXT = struct.pack('>II', 7, 0)
ARITH_EXT = struct.pack('>QQI', 5, 10, 0)
BIN = {
    'get-set': binpkt(1, b'k', SET_EXT, b'val') + binpkt(0, b'k') + binpkt(0xc, b'k') + binpkt(0x9, b'miss')
               + binpkt(0xd, b'k') + binpkt(0xa),
    'add-replace': binpkt(2, b'a', SET_EXT, b'1') + binpkt(2, b'a', SET_EXT, b'2') + binpkt(3, b'a', SET_EXT, b'3')
                   + binpkt(3, b'nokey', SET_EXT, b'x') + binpkt(0x12, b'b', SET_EXT, b'q') + binpkt(0x13, b'b', SET_EXT, b'r'),
    'append': binpkt(1, b'a', SET_EXT, b'mid') + binpkt(0xe, b'a', b'', b'end') + binpkt(0xf, b'a', b'', b'start')
              + binpkt(0x19, b'a', b'', b'q') + binpkt(0x1a, b'a', b'', b'p') + binpkt(0, b'a'),
    'delete': binpkt(1, b'd', SET_EXT, b'x') + binpkt(4, b'd') + binpkt(4, b'd') + binpkt(0x14, b'd'),
    'arith': binpkt(5, b'n', ARITH_EXT) + binpkt(5, b'n', ARITH_EXT) + binpkt(6, b'n', ARITH_EXT)
             + binpkt(0x15, b'n', ARITH_EXT) + binpkt(0x16, b'n', ARITH_EXT) + binpkt(1, b's', SET_EXT, b'abc')
             + binpkt(5, b's', ARITH_EXT),
    'cas': binpkt(1, b'c', SET_EXT, b'x') + binpkt(1, b'c', SET_EXT, b'y', cas=1) + binpkt(1, b'c', SET_EXT, b'z', cas=12345),
    'touch-gat': binpkt(1, b't', SET_EXT, b'x') + binpkt(0x1c, b't', struct.pack('>I', 100))
                 + binpkt(0x1d, b't', struct.pack('>I', 10)) + binpkt(0x1e, b't', struct.pack('>I', 10))
                 + binpkt(0x23, b't', struct.pack('>I', 10)) + binpkt(0x24, b'miss', struct.pack('>I', 10)),
    'admin': binpkt(0xb) + binpkt(0x10) + binpkt(0x10, b'settings') + binpkt(0x10, b'items')
             + binpkt(0x1b, b'', struct.pack('>I', 1)) + binpkt(8) + binpkt(8, b'', struct.pack('>I', 10))
             + binpkt(0x18) + binpkt(0xa),
    'sasl': binpkt(0x20) + binpkt(0x21, b'PLAIN', b'', b'\0user\0pass') + binpkt(0x22, b'PLAIN', b'', b'x'),
    'quit': binpkt(1, b'a', SET_EXT, b'x') + binpkt(0x17) + binpkt(0, b'a'),
    'quit-loud': binpkt(7) + binpkt(0xa),
    'bad-magic': b'\x81' + binpkt(0xa)[1:],
    'bad-lengths': struct.pack('>BBHBBHIIQ', 0x80, 1, 10, 8, 0, 0, 4, 0, 0) + b'x' * 4
                   + struct.pack('>BBHBBHIIQ', 0x80, 0, 0xffff, 0, 0, 0, 0xffffffff, 0, 0),
    'unknown': binpkt(0x3f, b'k') + binpkt(0xa),
    'large': binpkt(1, b'big', SET_EXT, b'B' * 20000) + binpkt(0, b'big'),
}
for name, data in BIN.items():
    put('binary', name, b'\x00' + data)
put('binary', 'get-set-split', b'\x0c' + BIN['get-set'])     # 3-byte reads
put('binary', 'auto-negotiate', b'\x01' + BIN['get-set'])
put('binary', 'slow-reader', b'\x04' + BIN['large'] + binpkt(0, b'big'))    # 1-byte reads
# Bit 1 of the first byte: a server with -S (SASL builds): log in first.
put('binary', 'sasl-login', b'\x02' + binpkt(0x20) + binpkt(0x21, b'PLAIN', b'', b'\0fuzz@fuzz\0fuzz')
    + BIN['get-set'])
put('binary', 'sasl-refused', b'\x02' + binpkt(0x21, b'PLAIN', b'', b'\0fuzz@fuzz\0nope')
    + binpkt(0x22, b'PLAIN', b'', b'x') + BIN['get-set'])


def udp(payload, rid=1, seq=0, count=1):
    dgram = struct.pack('>HHHH', rid, seq, count, 0) + payload
    return struct.pack('>H', len(dgram)) + dgram


put('udp', 'text', udp(b'set a 0 0 1\r\nx\r\n') + udp(b'get a\r\n', 2) + udp(b'get a a a a\r\n', 3))
put('udp', 'multi-packet', udp(b'set a 0 0 1\r\n', 4, 0, 2) + udp(b'x\r\n', 4, 1, 2) + udp(b'get a\r\n', 5))
put('udp', 'short', struct.pack('>H', 4) + b'\0\0\0\0' + udp(b'', 6))
put('udp', 'big-reply', udp(b'set big 0 0 5000\r\n' + b'z' * 5000 + b'\r\n', 7)
    + udp(b'get big big big\r\n', 8) + udp(b'stats\r\n', 9))
put('udp', 'truncated-value', udp(b'set a 0 0 100\r\nshort\r\n', 10) + udp(b'get a\r\n', 11))
put('udp', 'binary', udp(binpkt(1, b'k', SET_EXT, b'v'), 12) + udp(binpkt(0, b'k'), 13))
put('udp', 'meta', udp(b'ms m 2\r\nhi\r\nmg m v\r\nmn\r\n', 14))

put('authfile', 'one', b'user:pass\n')
put('authfile', 'many', b'a:b\nuser:pass\r\nc:dd\nlast:entry')
put('authfile', 'malformed', b'nocolon\n')
put('authfile', 'empty-line', b'a:b\n\nc:d\n')
put('authfile', 'login-ok', b'user:pass\n\xff\x00set x 0 0 9\r\nuser pass\r\nset a 0 0 1\r\nx\r\nget a\r\n')
put('authfile', 'login-bad', b'user:pass\n\xff\x00set x 0 0 9\r\nuser nope\r\nget a\r\n')
put('authfile', 'unauth', b'user:pass\n\xff\x00get a\r\nversion\r\n')
put('authfile', 'login-long', b'user:pass\n\xff\x00set x 0 0 17000\r\n' + b'u' * 17000 + b'\r\n')

FP = (b'maxbytes=67108864 page=1048576 chunk=48 factor=1.2500 itemmax=1048576 '
      b'chunkmax=524288 cas=1 sizes=0')
put('restart', 'valid', b'memcached-sdt warm restart 3\n' + FP +
    b'\nstarted=1700000000 cas=42 base=7f0000000000 pages=3\n1 5 39 \n')
put('restart', 'no-pages', b'memcached-sdt warm restart 3\n' + FP +
    b'\nstarted=1700000000 cas=1 base=0 pages=0\n\n')
put('restart', 'bad-owner', b'memcached-sdt warm restart 3\n' + FP +
    b'\nstarted=1 cas=1 base=1000 pages=2\n1 200\n')
put('restart', 'other-settings', b'memcached-sdt warm restart 3\nmaxbytes=1 page=1\n')
put('restart', 'too-many-pages', b'memcached-sdt warm restart 3\n' + FP +
    b'\nstarted=1 cas=1 base=1000 pages=999999999\n')

OPTS = [b'maxconns_fast', b'hashpower=20', b'tail_repair_time=30', b'no_lru_crawler',
        b'lru_crawler_sleep=50,lru_crawler_tocrawl=10', b'lru_maintainer', b'no_lru_maintainer',
        b'hot_lru_pct=20,warm_lru_pct=40,hot_max_factor=0.2,warm_max_factor=2.0',
        b'temporary_ttl=61', b'idle_timeout=10', b'watcher_logbuf_size=256,worker_logbuf_size=64',
        b'slab_chunk_max=16', b'slab_sizes=100-200-300-1000', b'slab_sizes=100-90',
        b'slab_automove=2,slab_automove_ratio=0.8,slab_automove_window=30', b'modern', b'no_modern',
        b'no_hashexpand', b'track_sizes', b'drop_privileges', b'no_drop_privileges',
        b'read_buf_mem_limit=10', b'sock_cookie_id=5', b'ssl_chain_cert=/nonexistent',
        b'ssl_verify_mode=1', b'hash_algorithm=murmur3', b'bogus=1', b'hashpower', b'=,,=']
for i, o in enumerate(OPTS):
    put('options', 'opt%02d' % i, o)
