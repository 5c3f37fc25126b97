#!/usr/bin/env python3
"""bench/soak.py: the soak of issue 16, driven by bench/soak.sh.

Starts one server (normally the ASan/UBSan build) with a warm-restart file
and runs, for --seconds:
  * verifying clients, each owning its own keys and checking every read
    against its own model: set, append, incr, delete, short TTLs, and
    chunked values of 600 KB to 2 MB;
  * a churner keeping about --conns connections open, closing and
    reopening some of them all the time;
  * an admin client forcing a slab page move and an LRU crawl every few
    seconds;
  * a tracer attaching bpftrace to a probe and detaching every 20 s (when
    bpftrace and the probes are there);
  * one warm restart (SIGUSR1, then the same command line) at half time,
    after which every key the models hold is checked.
The models' expiry rule: a key set with a TTL of T s may be missing from
(when the set was sent + T - 1 s) on, as the server's clock counts whole
seconds (TTL - 2 s for a key set before the warm restart, which carries
the clock over in whole seconds); a hit after that is right too (the clock
may lag). Any other miss
is a mismatch unless a page move asked for since the key's last write
explains it (and those are checked against the server's evictions); a
mismatch says the key's TTL, age, time since the restart and its last
operations.
A store the server refuses with SERVER_ERROR out of memory (a 2 MB value
when -m is small and the LRU tails are busy, as memcached does too) is
counted apart, not as a mismatch: the client was told, and the key is
gone from the model as from the server. So is an append answered
NOT_STORED for want of memory for the joined value (memcached's reply
then too), once a get shows the old value unchanged. Reports mismatches, sanitizer
reports in the server's stderr, and memory sampled every 5 s (VmRSS and
its parts from /proc/PID/status, the memory file's pages, the server's
stats); exits 1 unless the goals hold: no mismatch, no sanitizer report,
and after warm-up the process's resident memory (VmRSS), its heap
(RssAnon) and the server's memory within 5%. Warm-up, for each server
process: its first WARMUP seconds and until the cache is full in it (it
has touched 95% of the memory file: slab memory is taken a page at a
time but a page's chunks are first written when the class needs them, so
RSS climbs until every chunk has been used once). --prefault makes the
memory file resident before the start (diagnosis).

Only 127.0.0.1; stops its server (and tracer) on exit.
"""
import argparse
import collections
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

WARMUP = 120      # seconds of each server process left out of the memory figures
FULL = 0.95       # ... and until it has touched this share of the memory file
# The server's clock counts whole seconds (as memcached's does): an item set
# with a TTL of T s lives between T-1 and T s after the set was sent (longer
# if the clock lags). A key may therefore have expired from (sent + T - 1) on.
# A warm restart carries the clock over in whole seconds of wall-clock time
# (the restored clock ticks on the second, the old one on its start's
# fraction), so it may run up to 1 s ahead of the old one: a key set before
# the restart may have expired from (sent + T - 2) on.
CLOCK_GRAIN = 1.0
RESTART_GRAIN = 1.0
NO_ENTRY = (None, 0.0, 0)   # a model entry: (value, when its set was sent, TTL or 0)
OOM_STORE = b'SERVER_ERROR out of memory storing object'
SAN_RE = re.compile(r'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|'
                    r'WARNING: ThreadSanitizer')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Conn:
    """A blocking text-protocol connection with a read buffer."""

    def __init__(self, port, timeout=20.0):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b'\r\n' not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise ConnectionError('closed')
            self.buf += chunk
        i = self.buf.index(b'\r\n')
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise ConnectionError('closed')
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def cmd(self, line, value=None):
        self.send(line + b'\r\n' + (value + b'\r\n' if value is not None else b''))
        return self.line()

    def get(self, key):
        """Returns the value, or None on a miss."""
        self.send(b'get ' + key + b'\r\n')
        hdr = self.line()
        if hdr == b'END':
            return None
        parts = hdr.split()
        if len(parts) != 4 or parts[0] != b'VALUE' or parts[1] != key:
            raise ValueError('bad reply %r' % hdr[:80])
        val = self.exact(int(parts[3]) + 2)[:-2]
        if self.line() != b'END':
            raise ValueError('no END after value')
        return val

    def stats(self, group=b''):
        self.send(b'stats ' + group + b'\r\n')
        out = {}
        while True:
            ln = self.line()
            if ln == b'END':
                return out
            parts = ln.split(b' ', 2)
            if len(parts) == 3:
                out[parts[1].decode()] = parts[2].decode()


class Soak:
    def __init__(self, a):
        self.a = a
        self.port = free_port()
        self.stop = threading.Event()
        self.paused = threading.Event()     # set while a restart is under way
        self.lock = threading.Lock()
        self.counts = {'ops': 0, 'mismatches': 0, 'oom_refusals': 0, 'evicted_misses': 0, 'expiry_slack': 0,
                       'early_ttl_misses': 0, 'ttl_misses': 0,
                       'churned': 0, 'slab_moves': 0, 'crawls': 0, 'traces': 0,
                       'client_errors': 0, 'restarts': 0}
        self.details = []
        self.rss = []
        self.move_times = []        # when the admin asked for a page move
        self.written = {}           # key -> when a client last stored it
        self.history = {}           # key -> its last operations, for a mismatch's report
        self.t0 = time.time()
        self.proc = None
        self.tracer = None
        self.errlog = open(a.log, 'ab')
        self.evictions_before_restart = 0
        self.final = {}
        self.restart_t = None       # seconds into the run when the restart began
        self.restart_wall = None    # time.time() when the restarted server answered

    # ---------------------------------------------------------- server
    def argv(self):
        return [self.a.server, '-p', str(self.port), '-U', '0', '-l', '127.0.0.1',
                '-m', str(self.a.memory), '-I', '4m', '-c', str(self.a.conns + 200),
                '-t', '4', '-e', self.a.memfile] + (['-u', 'root'] if os.geteuid() == 0 else [])

    def start_server(self):
        env = dict(os.environ)
        env.setdefault('ASAN_OPTIONS', 'detect_leaks=1:abort_on_error=0')
        env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1')
        self.proc = subprocess.Popen(self.argv(), stdout=self.errlog, stderr=self.errlog, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                c = Conn(self.port, 2)
                c.cmd(b'version')
                c.close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit('server exited at start (see %s)' % self.a.log)
                time.sleep(0.1)
        raise SystemExit('server did not start within 60 s')

    def server_evictions(self):
        try:
            c = Conn(self.port, 10)
            n = int(c.stats().get('evictions', 0))
            c.close()
            return n
        except (OSError, ConnectionError, ValueError):
            return 0

    def restart(self):
        """Warm restart: clients pause, SIGUSR1, same command line again."""
        self.paused.set()
        time.sleep(2)                   # clients finish their current op
        self.evictions_before_restart = self.server_evictions()
        self.proc.send_signal(signal.SIGUSR1)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.note('warm restart: server did not stop on SIGUSR1')
        self.start_server()
        self.restart_wall = time.time()
        with self.lock:
            self.counts['restarts'] += 1
        self.paused.clear()

    # ---------------------------------------------------------- reports
    def note(self, msg):
        with self.lock:
            self.counts['mismatches'] += 1
            if len(self.details) < 50:
                self.details.append(msg)

    def bump(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    # ---------------------------------------------------------- clients
    def client(self, cid):
        rnd = random.Random(cid * 7919 + 1)
        model = {}          # key -> (value, expires_at or None)
        counters = {}       # key -> int
        c = None
        prefix = b'soak%d:' % cid
        while not self.stop.is_set():
            if self.paused.is_set():
                if c:
                    c.close()
                    c = None
                time.sleep(0.2)
                continue
            try:
                if c is None:
                    c = Conn(self.port)
                    self.verify_all(c, model, counters, rnd)
                self.one_op(c, rnd, prefix, model, counters)
                self.bump('ops')
            except (OSError, ConnectionError, ValueError) as e:
                if not self.paused.is_set() and not self.stop.is_set():
                    self.bump('client_errors')
                    if self.proc.poll() is not None:
                        rc = self.proc.returncode
                        self.note('server died (%s): %s' % (
                            'signal %d' % -rc if rc < 0 else 'exit status %d' % rc, e))
                        self.stop.set()
                if c:
                    c.close()
                c = None
                time.sleep(0.2)
        if c:
            c.close()

    def moved_since(self, t):
        """True if a page move was asked for after t (less 60 s: a move
        waits for busy items, longer under ASan): it may have evicted. The
        total is checked against the server's evictions at the end."""
        with self.lock:
            return any(m >= t - 60 for m in self.move_times[-100:])

    def since_restart(self, now):
        if self.restart_wall is None:
            return 'before the restart'
        return '%.1f s after the restart' % (now - self.restart_wall)

    def may_have_expired(self, ent, now):
        """True if the model entry's TTL may have run out at the server by
        now (the time its reply was read: the latest the server could have
        served the command)."""
        value, sent, ttl = ent
        return ttl > 0 and now >= self.may_expire_at(ent)

    def may_expire_at(self, ent):
        """When the entry's TTL may have run out at the server, the earliest."""
        value, sent, ttl = ent
        early = CLOCK_GRAIN
        if self.restart_wall is not None and sent < self.restart_wall:
            early += RESTART_GRAIN      # set on the server before the restart
        return sent + ttl - early

    def log_op(self, key, sent, what):
        """Remembers one operation on key (its client's only: keys are per
        client) with when it was sent, seconds into the run."""
        h = self.history.get(key)
        if h is None:
            h = self.history[key] = collections.deque(maxlen=8)
        h.append('%.2f %s' % (sent - self.t0, what))

    def key_story(self, key, ent, now):
        """TTL, age and time since the restart of a key, for a mismatch."""
        value, sent, ttl = ent
        if ttl:
            life = 'TTL %d s, set sent %.2f s ago, may expire in %.2f s' % (
                ttl, now - sent, self.may_expire_at(ent) - now)
        else:
            life = 'no TTL, set sent %.1f s ago' % (now - sent) if sent else 'no TTL'
        return '%s, last written %.1f s ago, %s; now %.2f; its last operations: %s' % (
            life, now - self.written.get(key, now), self.since_restart(now), now - self.t0,
            ' | '.join(self.history.get(key, ())))

    def explain_miss(self, what, key, ent=NO_ENTRY):
        """A key the model holds live was missing: right only after a page
        move (a miss of a key whose TTL may have run out is never passed
        here)."""
        if self.moved_since(self.written.get(key, 0)):
            self.bump('early_ttl_misses' if ent[2] else 'evicted_misses')
        else:
            now = time.time()
            self.note('%s %s: missing with no eviction to explain it (%s)' % (
                what, key.decode(), self.key_story(key, ent, now)))

    def check(self, c, key, model):
        sent = time.time()
        got = c.get(key)
        now = time.time()
        self.log_op(key, sent, 'get %s' % ('miss' if got is None else '%d B' % len(got)))
        ent = model.get(key, NO_ENTRY)
        want = ent[0]
        if got == want:
            return                  # a hit past the TTL too: the clock may lag
        if got is None and want is not None:
            if self.may_have_expired(ent, now):
                self.bump('ttl_misses')
                if now < ent[1] + ent[2]:
                    self.bump('expiry_slack')   # in its last second: either is right
                model.pop(key, None)
                return
            if self.moved_since(self.written.get(key, 0)):
                # A page move evicts what it cannot rescue: a miss is right then.
                self.bump('early_ttl_misses' if ent[2] else 'evicted_misses')
                if os.environ.get('SOAK_VERBOSE'):
                    print('# explained miss %s: %s' % (key.decode(), self.key_story(key, ent, now)),
                          flush=True)
                model.pop(key, None)
                return
        self.note('key %s: got %s, want %s (%s)' % (
            key.decode(), describe(got), describe(want), self.key_story(key, ent, now)))
        if got is None:
            model.pop(key, None)
        else:
            model[key] = (got, now, 0)

    def verify_all(self, c, model, counters, rnd):
        for key in list(model):
            self.check(c, key, model)
        for key, v in list(counters.items()):
            got = c.get(key)
            if got is None:
                self.explain_miss('get', key)
                del counters[key]
            elif int(got) != v:
                self.note('counter %s: got %s, want %d' % (key.decode(), got[:20], v))
                counters[key] = int(got)

    def one_op(self, c, rnd, prefix, model, counters):
        r = rnd.random()
        if r < 0.02:
            # Chunked value of 600 KB to 2 MB.
            key = prefix + b'big%d' % rnd.randrange(2)
            size = rnd.randrange(600 * 1024, 2 * 1024 * 1024)
            val = bytes([rnd.randrange(33, 127)]) * 64 + os.urandom(size // 4).hex().encode()[:size - 64]
            sent = time.time()
            rep = c.cmd(b'set %s 0 0 %d' % (key, len(val)), val)
            if rep != b'STORED':
                if rep != OOM_STORE:
                    self.note('big set %s refused: %r' % (key.decode(), rep))
                self.bump('oom_refusals')
                model.pop(key, None)
            else:
                model[key] = (val, sent, 0)
                self.written[key] = sent
                self.log_op(key, sent, 'set %d B' % len(val))
            self.check(c, key, model)
        elif r < 0.40:
            key = prefix + b'k%d' % rnd.randrange(300)
            ttl = rnd.choice([0, 0, 0, 3, 5, 8])
            val = os.urandom(rnd.randrange(1, 3000)).hex().encode()
            sent = time.time()      # the TTL runs from here (the server's clock at the set)
            rep = c.cmd(b'set %s %d %d %d' % (key, rnd.randrange(1 << 16), ttl, len(val)), val)
            if rep != b'STORED':
                if rep != OOM_STORE:
                    self.note('set %s: %r' % (key.decode(), rep))
                self.bump('oom_refusals')
                model.pop(key, None)
                return
            model[key] = (val, sent, ttl)
            self.written[key] = sent
            self.log_op(key, sent, 'set ttl %d %d B %s' % (ttl, len(val), rep.decode()))
        elif r < 0.50:
            key = prefix + b'k%d' % rnd.randrange(300)
            add = os.urandom(rnd.randrange(1, 200)).hex().encode()
            sent = time.time()
            rep = c.cmd(b'append %s 0 0 %d' % (key, len(add)), add)
            ent = model.get(key, NO_ENTRY)
            self.log_op(key, sent, 'append %d B %s' % (len(add), rep.decode()))
            if rep == b'STORED':
                if ent[0] is None:
                    self.note('append %s stored on a key the model lacks' % key.decode())
                else:
                    model[key] = (ent[0] + add, ent[1], ent[2])    # append keeps the TTL
                    self.written[key] = sent
            elif rep == b'NOT_STORED':
                # Missing, or (as memcached) no memory for the joined value:
                # then the old value must be there as it was.
                if ent[0] is not None and c.get(key) == ent[0]:
                    self.bump('oom_refusals')
                    return
                if ent[0] is not None and not self.may_have_expired(ent, time.time()):
                    self.explain_miss('append', key, ent)
                model.pop(key, None)
            else:
                self.note('append %s: %r' % (key.decode(), rep))
        elif r < 0.60:
            key = prefix + b'n%d' % rnd.randrange(20)
            if key not in counters:
                sent = time.time()
                rep = c.cmd(b'set %s 0 0 1' % key, b'5')
                self.log_op(key, sent, 'set 1 B %s' % rep.decode())
                counters[key] = 5
                self.written[key] = sent
                return
            d = rnd.randrange(1, 1000)
            sent = time.time()
            rep = c.cmd(b'incr %s %d' % (key, d))
            self.log_op(key, sent, 'incr %s' % rep.decode()[:24])
            if rep == b'NOT_FOUND':
                self.explain_miss('incr', key)
                del counters[key]
                return
            counters[key] = (counters[key] + d) % (1 << 64)
            self.written[key] = sent
            if int(rep) != counters[key]:
                self.note('incr %s: got %s, want %d' % (key.decode(), rep[:24], counters[key]))
                counters[key] = int(rep)
        elif r < 0.68:
            key = prefix + b'k%d' % rnd.randrange(300)
            sent = time.time()
            rep = c.cmd(b'delete %s' % key)
            self.log_op(key, sent, 'delete %s' % rep.decode())
            ent = model.pop(key, NO_ENTRY)
            live = ent[0] is not None and not self.may_have_expired(ent, time.time())
            if rep == b'NOT_FOUND' and live:
                self.explain_miss('delete', key, ent)
            elif rep == b'DELETED' and ent[0] is None:
                self.note('delete %s: deleted a key the model lacks' % key.decode())
        else:
            keys = [prefix + b'k%d' % rnd.randrange(300) for _ in range(rnd.randrange(1, 8))]
            for key in keys:
                self.check(c, key, model)

    # ---------------------------------------------------------- background load
    def churner(self):
        rnd = random.Random(42)
        socks = []
        while not self.stop.is_set():
            if self.paused.is_set():
                for s in socks:
                    s.close()
                socks = []
                time.sleep(0.2)
                continue
            try:
                while len(socks) < self.a.conns:
                    s = socket.create_connection(('127.0.0.1', self.port), timeout=5)
                    s.sendall(b'version\r\n' if rnd.random() < 0.5 else b'get churn:nokey\r\n')
                    socks.append(s)
                for _ in range(self.a.conns // 20):
                    s = socks.pop(rnd.randrange(len(socks)))
                    s.close()
                    self.bump('churned')
            except OSError:
                time.sleep(0.2)
            time.sleep(0.1)
        for s in socks:
            s.close()

    def admin(self):
        rnd = random.Random(7)
        while not self.stop.wait(3):
            if self.paused.is_set():
                continue
            try:
                c = Conn(self.port, 10)
                classes = [int(k.split(':')[0]) for k in c.stats(b'slabs') if k.endswith(':total_pages')]
                if len(classes) >= 2 and not self.a.no_moves:
                    src, dst = rnd.sample(classes, 2)
                    asked = time.time()
                    rep = c.cmd(b'slabs reassign %d %d' % (src, dst))
                    if rep == b'OK':
                        self.bump('slab_moves')
                        with self.lock:
                            self.move_times.append(asked)
                if c.cmd(b'lru_crawler crawl all') == b'OK':
                    self.bump('crawls')
                c.close()
            except (OSError, ConnectionError, ValueError):
                pass

    def tracer_loop(self):
        bpftrace = shutil.which('bpftrace')
        if not bpftrace or os.geteuid() != 0 or self.a.no_tracer:
            return
        script = 'usdt:%s:memcached:command__get { @gets = count(); }' % self.a.server
        while not self.stop.wait(1):
            if self.paused.is_set() or self.proc.poll() is not None:
                continue
            t = subprocess.Popen([bpftrace, '-p', str(self.proc.pid), '-e', script],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.tracer = t
            self.stop.wait(10)
            t.send_signal(signal.SIGINT)
            try:
                t.wait(10)
            except subprocess.TimeoutExpired:
                t.kill()
                t.wait()
            self.tracer = None
            self.bump('traces')
            self.stop.wait(10)

    SAMPLE_STATS = ('total_malloced', 'limit_maxbytes', 'bytes', 'curr_items',
                    'curr_connections', 'hash_bytes', 'read_buf_bytes',
                    'response_obj_bytes', 'slabs_moved')

    def sampler(self, started):
        """Every 5 s: the server's VmRSS and its parts (anonymous: the heap,
        ASan's shadow and quarantine; shared memory: the -e item file's
        pages this process has touched), next to the stats that explain
        them. One line each in --samples."""
        out = open(self.a.samples, 'w') if self.a.samples else None
        if out:
            out.write('t\trestarts\tVmRSS\tRssAnon\tRssFile\tRssShmem\tMemFile\t%s\n'
                      % '\t'.join(self.SAMPLE_STATS))
        while not self.stop.wait(5):
            if self.paused.is_set() or self.proc is None or self.proc.poll() is not None:
                continue
            try:
                with open('/proc/%d/status' % self.proc.pid) as f:
                    text = f.read()
                kb = {k: int(re.search(k + r':\s+(\d+)', text).group(1))
                      for k in ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem')}
            except (OSError, AttributeError):
                continue
            try:
                # The memory file's pages in RAM (tmpfs), whichever process
                # touched them: the item memory the server holds.
                kb['MemFile'] = os.stat(self.a.memfile).st_blocks // 2
            except OSError:
                kb['MemFile'] = 0
            st = {}
            try:
                c = Conn(self.port, 10)
                st = c.stats()
                st.update(c.stats(b'slabs'))
                c.close()
            except (OSError, ConnectionError, ValueError):
                pass
            now = time.time() - started
            with self.lock:
                restarts = self.counts['restarts']
                self.rss.append((now, restarts, kb, int(st.get('total_malloced', 0) or 0),
                                 int(st.get('limit_maxbytes', 0) or 0)))
            if out:
                out.write('%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n' % (
                    now, restarts, kb['VmRSS'], kb['RssAnon'], kb['RssFile'], kb['RssShmem'],
                    kb['MemFile'],
                    '\t'.join(st.get(k, '-') for k in self.SAMPLE_STATS)))
                out.flush()
        if out:
            out.close()

    # ---------------------------------------------------------- run
    def run(self):
        for f in (self.a.memfile, self.a.memfile + '.meta'):
            if os.path.exists(f):
                os.unlink(f)
        if self.a.prefault:
            # The item memory made resident up front, all -m of it, as a
            # cache that has filled: the server maps the file as it is (same
            # size: kept), so the slab pages it takes later do not show as
            # growth; what can still grow is the process's own memory.
            fd = os.open(self.a.memfile, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.a.memory << 20)
            finally:
                os.close(fd)
        self.start_server()
        started = time.time()
        threads = [threading.Thread(target=self.client, args=(i,), daemon=True)
                   for i in range(self.a.clients)]
        threads += [threading.Thread(target=f, daemon=True)
                    for f in (self.churner, self.admin, self.tracer_loop)]
        threads.append(threading.Thread(target=self.sampler, args=(started,), daemon=True))
        for t in threads:
            t.start()
        restart_at = started + self.a.seconds / 2
        end = started + self.a.seconds
        restarted = False
        try:
            while time.time() < end and not self.stop.is_set():
                time.sleep(1)
                if not restarted and not self.a.no_restart and time.time() >= restart_at:
                    self.restart_t = time.time() - started
                    self.restart()
                    restarted = True
                if int(time.time() - started) % 60 == 0:
                    with self.lock:
                        print('# %4ds %s' % (time.time() - started, self.counts), flush=True)
        finally:
            self.stop.set()
            for t in threads:
                t.join(30)
            if self.tracer:
                self.tracer.kill()
            try:
                c = Conn(self.port, 10)
                st = c.stats()
                self.final = {k: st.get(k) for k in ('curr_items', 'total_items', 'evictions',
                                                      'expired_unfetched', 'evicted_unfetched',
                                                      'reclaimed', 'crawler_reclaimed',
                                                      'slabs_moved', 'slab_reassign_rescues',
                                                      'curr_connections', 'total_connections')}
                c.close()
            except (OSError, ConnectionError, ValueError):
                self.final = {}
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
        for f in (self.a.memfile, self.a.memfile + '.meta'):
            if os.path.exists(f):
                os.unlink(f)
        return self.report(time.time() - started)

    def report(self, elapsed):
        self.errlog.close()
        with open(self.a.log, 'rb') as f:
            text = f.read().decode(errors='replace')
        san = len(SAN_RE.findall(text))
        # Memory after warm-up: each server process's samples from the first
        # one at least WARMUP s after its start (ASan's quarantine fills in
        # about 30 s, 1,000 connections get their buffers, the restored
        # cache is walked) at which it has touched FULL of the memory file:
        # VmRSS counts a page of the memory file once this process has
        # touched it, so it climbs until every chunk was used once.
        # "Server memory" is the process's anonymous memory (heap, ASan's
        # shadow and quarantine) and mapped files (code) plus the memory
        # file's pages in RAM, whichever process touched them.
        warm = WARMUP
        full_kb = self.a.memory * 1024 * FULL
        procs = [('first', 0, self.restart_t)]
        if self.restart_t is not None:
            procs.append(('second', self.restart_t, None))
        after, warm_ends = [], []
        for which, start, end in procs:
            mine = [x for x in self.rss if x[0] >= start and (end is None or x[0] < end)]
            t = next((x[0] for x in mine
                      if x[0] - start >= warm and x[2]['RssShmem'] >= full_kb), None)
            warm_ends.append((which, t))
            if t is not None:
                after += [x for x in mine if x[0] >= t]
        figures = {}
        for name, f in (('server memory (anon + file + memory file)',
                         lambda kb: kb['RssAnon'] + kb['RssFile'] + kb['MemFile']),
                        ('heap part (RssAnon)', lambda kb: kb['RssAnon']),
                        ('memory file in RAM', lambda kb: kb['MemFile']),
                        ('VmRSS of the process', lambda kb: kb['VmRSS'])):
            v = [f(x[2]) for x in after]
            if v:
                figures[name] = (min(v), max(v), (max(v) - min(v)) / min(v) * 100)
        c = self.counts
        evictions = self.evictions_before_restart + int(self.final.get('evictions') or 0)
        if c['evicted_misses'] > evictions:
            # More keys went missing than the server evicted: some were lost.
            c['mismatches'] += c['evicted_misses'] - evictions
            self.details.append('%d keys missing, but the server evicted only %d'
                                % (c['evicted_misses'], evictions))
        print('soak: %.0f s, %d clients, %d connections churned, %d ops' %
              (elapsed, self.a.clients, c['churned'], c['ops']))
        print('soak: %d slab moves forced, %d crawls, %d tracer attach/detach, %d warm restart(s)' %
              (c['slab_moves'], c['crawls'], c['traces'], c['restarts']))
        print('soak: server evictions (both runs) %d' % evictions)
        print('soak: misses of keys with a TTL before it ran out, after a page move: %d'
              % c['early_ttl_misses'])
        print('soak: misses of keys whose TTL may have run out (from set sent + TTL - %g s, '
              '- %g s if set before the restart): %d'
              % (CLOCK_GRAIN, CLOCK_GRAIN + RESTART_GRAIN, c['ttl_misses']))
        print('soak: mismatches %d, misses explained by evictions/page moves %d, '
              'reads at a TTL edge %d, client reconnects %d' %
              (c['mismatches'], c['evicted_misses'], c['expiry_slack'], c['client_errors']))
        print('soak: stores refused for want of memory (SERVER_ERROR out of memory, or an append '
              'NOT_STORED with the old value intact): %d' % c['oom_refusals'])
        print('soak: sanitizer reports %d (%s)' % (san, self.a.log))
        print('soak: server at the end: %s' % ' '.join('%s=%s' % kv for kv in sorted(self.final.items())))
        for which, t in warm_ends:
            print('soak: %s server: warm-up (%d s and the cache full in the process) %s' % (
                which, warm, 'ended at %.0f s' % t if t is not None else 'did not end'))
        if after:
            print('soak: %d memory samples (every 5 s) after warm-up; memory file %s' % (
                len(after), 'made resident before the start (--prefault)' if self.a.prefault
                else 'not made resident before the start'))
            for name, (lo, hi, sp) in figures.items():
                print('soak: %s after warm-up %d..%d KB (spread %.1f%%)' % (name, lo, hi, sp))
            used = [x[3] for x in after]
            print('soak: slab memory taken (total_malloced) after warm-up %.0f..%.0f MB of %.0f MB'
                  % (min(used) / 1048576.0, max(used) / 1048576.0, after[-1][4] / 1048576.0))
        for d in self.details:
            print('  mismatch: ' + d)
        gated = ('server memory (anon + file + memory file)', 'heap part (RssAnon)',
                 'VmRSS of the process')
        ok = c['mismatches'] == 0 and san == 0 and bool(after) and \
            all(figures[g][2] <= 5.0 for g in gated)
        print('soak: ' + ('PASS' if ok else 'FAIL'))
        return 0 if ok else 1


def describe(v):
    if v is None:
        return 'a miss'
    return '%d bytes %r...' % (len(v), v[:16])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--server', required=True)
    p.add_argument('--seconds', type=int, default=1800)
    p.add_argument('--clients', type=int, default=8)
    p.add_argument('--conns', type=int, default=1000)
    p.add_argument('--memory', type=int, default=64,
                   help='-m, megabytes (small, so that the cache fills and evicts)')
    p.add_argument('--memfile', default='/dev/shm/memcached-soak-%d.mem' % os.getpid())
    p.add_argument('--log', default='soak-server.log')
    p.add_argument('--no-moves', action='store_true', help='no forced page moves (diagnosis)')
    p.add_argument('--no-tracer', action='store_true', help='no tracer (diagnosis)')
    p.add_argument('--no-restart', action='store_true', help='no warm restart (diagnosis)')
    p.add_argument('--prefault', action='store_true',
                   help='make the memory file resident before the start (diagnosis)')
    p.add_argument('--samples', default='', help='write the memory samples here (TSV)')
    a = p.parse_args()
    a.server = os.path.abspath(a.server)
    sys.exit(Soak(a).run())


if __name__ == '__main__':
    main()
