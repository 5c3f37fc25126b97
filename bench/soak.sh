#!/usr/bin/env bash
# bench/soak.sh: the soak of issue 16 (not part of make check). Builds the
# ASan/UBSan server (with the SDT provider, for the tracer) in
# _build-asan/ unless MC_SERVER names a server, then runs bench/soak.py:
# verifying clients, 1,000 connections churning, forced slab moves and
# crawls, a tracer attached and detached every 20 s, a warm restart at half
# time. Goal: 0 mismatches, 0 sanitizer reports, memory flat within 5%
# after warm-up (the first 120 s of each server process). A key with a TTL
# may be missing from (its set sent + TTL - 1 s) on, the server's clock
# counting whole seconds (- 2 s for a key set before the warm restart);
# any other miss not explained by a page move is a mismatch (lost data).
#
# Memory: -m 64 (soak.py --memory), small enough that the cache fills and
# evicts within the run; the item memory is the -e file in /dev/shm. The
# memory figures start, for each server process, once its warm-up is over:
# 120 s, and the cache full in the process (it has touched 95% of the
# memory file; a slab page's chunks are first written when the class
# needs them, so RSS climbs until each was used once). Gated within 5%:
# VmRSS, the heap (RssAnon: anonymous memory, ASan shadow and quarantine,
# where a leak would show) and the server's memory (anonymous + mapped
# files + the memory file's pages). Stores refused with SERVER_ERROR out of
# memory (2 MB values into a full 64 MB cache) are counted, not mismatches.
# ASan runs with its defaults (ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
# unless set): a 256 MB quarantine, filled within the warm-up, and freed
# memory never given back to the system (allocator_release_to_os_interval_ms
# unset), so RssAnon is the high-water mark and hides no growth.
# soak.py --help lists the switches for diagnosis (--no-moves, --no-tracer,
# --no-restart, --prefault, --memory MB, --samples FILE for a TSV every 5 s).
#
# Usage: bench/soak.sh [SECONDS]        (default 1800)
# Needs: python3, gcc, libevent-dev, systemtap-sdt-dev; bpftrace and root
# for the tracer (skipped otherwise); -m (64 MB) free in /dev/shm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
seconds=${1:-1800}
command -v python3 >/dev/null || { echo "soak: python3 not found (apt-get install python3)" >&2; exit 1; }

server=${MC_SERVER:-}
if [ -z "$server" ]; then
    build=$top/_build-asan
    if [ ! -x "$build/memcached/memcached" ]; then
        [ -x "$top/configure" ] || (cd "$top" && ./autogen.sh)
        mkdir -p "$build"
        dtrace=
        command -v dtrace >/dev/null && dtrace=--enable-dtrace
        (cd "$build" && "$top/configure" --enable-asan $dtrace >/dev/null && make -j"$(nproc)" >/dev/null)
    fi
    server=$build/memcached/memcached
fi
ulimit -n 65536 2>/dev/null || ulimit -n 4096
log=${SOAK_LOG:-$PWD/soak-server.log}
: > "$log"
exec python3 "$here/soak.py" --server "$server" --seconds "$seconds" --log "$log" \
    ${SOAK_ARGS:-}
