#!/usr/bin/env python3
# bench/restart-expiry.py: when keys set before a warm restart expire after
# it, against their TTL. Each round starts BINARY with -e on a file in
# /dev/shm, sets 20 keys (TTLs of 3-5 s) at moments spread over one second,
# stops it with SIGUSR1, starts it again with the same command line (in a
# later wall-clock second, at a random moment: memcached 1.6.45 restores
# nothing in the second it stopped in) and polls every key until it is
# missing. --no-restart measures the same without the restart.
# Usage: bench/restart-expiry.py BINARY [ROUNDS] [--no-restart]
import os, random, signal, socket, statistics, subprocess, sys, tempfile, time


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, args, port):
        argv = [binary, '-l', '127.0.0.1', '-p', str(port), '-U', '0'] + args
        if os.geteuid() == 0:
            argv += ['-u', 'root']
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.sock = socket.create_connection(('127.0.0.1', port))
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError('server did not start')
                time.sleep(0.005)
        self.buf = b''

    def line(self):
        while b'\r\n' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError('server closed the connection')
            self.buf += data
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def stop(self, sig):
        self.sock.close()
        self.proc.send_signal(sig)
        self.proc.wait()


def one_round(binary, args, restart, nkeys=20):
    port = free_port()
    srv = Server(binary, args, port)
    time.sleep(1 - time.time() % 1 + 0.01)
    second = int(time.time())
    sets = []
    for j in range(nkeys):
        while time.time() < second + j / nkeys:
            time.sleep(0.001)
        ttl = 3 + j % 3
        sent = time.time()
        srv.sock.sendall(f'set k{j} 0 {ttl} 1\r\nx\r\n'.encode())
        if srv.line() != b'STORED':
            raise RuntimeError('set failed')
        sets.append(((sent + time.time()) / 2, ttl))
    if restart:
        srv.stop(signal.SIGUSR1)
        stopped = time.time()
        if int(time.time()) == int(stopped):
            time.sleep(1 - stopped % 1 + 0.01)
        time.sleep(random.random() * 0.5)
        srv = Server(binary, args, port)
    gone, last_seen = {}, {}
    deadline = time.time() + 10
    while len(gone) < nkeys and time.time() < deadline:
        live = [j for j in range(nkeys) if j not in gone]
        asked = time.time()
        srv.sock.sendall(('get ' + ' '.join(f'k{j}' for j in live) + '\r\n').encode())
        seen = set()
        while (line := srv.line()) != b'END':
            seen.add(int(line.split()[1][1:]))
            srv.line()
        answered = time.time()
        for j in live:
            if j in seen:
                last_seen[j] = asked
            else:
                gone[j] = answered
        time.sleep(0.003)
    srv.stop(signal.SIGKILL)
    # (seconds from the set to the last hit, to the first miss) - TTL
    return [(last_seen.get(j, t) - t - ttl, gone[j] - t - ttl)
            for j, (t, ttl) in enumerate(sets) if j in gone]


def main():
    argv = [a for a in sys.argv[1:] if a != '--no-restart']
    if not argv:
        sys.exit(__doc__ or 'usage: restart-expiry.py BINARY [ROUNDS] [--no-restart]')
    binary, rounds = argv[0], int(argv[1]) if len(argv) > 1 else 10
    restart = '--no-restart' not in sys.argv
    fd, path = tempfile.mkstemp(prefix='restart-expiry-', dir='/dev/shm')
    os.close(fd)
    os.unlink(path)
    args = ['-m', '64'] + (['-e', path] if restart else [])
    results = []
    try:
        for _ in range(rounds):
            results += one_round(binary, args, restart)
    finally:
        for p in (path, path + '.meta'):
            if os.path.exists(p):
                os.unlink(p)
    missing = [m for _, m in results]
    early = sum(1 for m in missing if m < -1)
    late = [s for s, _ in results if s > 0]
    print(f'{"restart" if restart else "no restart"}: {len(results)} keys; first missing at '
          f'TTL {min(missing):+.2f} s earliest, TTL {statistics.mean(missing):+.2f} s on average; '
          f'missing before TTL - 1 s: {early}; seen after TTL: {len(late)}'
          + (f', at TTL {max(late):+.2f} s latest' if late else ''))


if __name__ == '__main__':
    main()
