#!/usr/bin/env bash
# probe-nop-cost.sh: what an attached probe costs with a 5-byte nop at its
# site (what probes/gen-probes.awk emits on x86-64) against sys/sdt.h's own
# 1-byte nop.  On Linux 6.18 and later a uprobe on a 5-byte nop becomes a
# call to a trampoline instead of a breakpoint trap.
#
# Two -O2 builds of this tree with --enable-dtrace in DIR: nop5 as it is,
# and nop1 with the generated probes.c's "#define _SDT_NOP .nops 5" made
# "nop" (sdt.h's own default) and the server relinked.  The script checks
# the byte at request__done's site in each (0x0f: nopl, 0x90: nop).  Then
# ROUNDS rounds, builds interleaved: the server (-t 4 -m 1024) pinned to
# cpu 0, mcload pinned to cpu 1 (90% gets, 32-byte values, 50 connections,
# depth 1, 100000 keys), one run untraced and one with bpftrace attached to
# request__done with an empty action; printed per round and build: server
# CPU microseconds per request (mcload -C) untraced -> traced, and the
# difference, the cost of one probe hit.
#
# Usage: bench/probe-nop-cost.sh [-r ROUNDS] [-D SECONDS] [-o DIR]
# Needs root, bpftrace, taskset, objdump and readelf (binutils), and to
# build: gcc, make, pkg-config, libevent-dev, systemtap-sdt-dev (autoconf,
# automake if the tree has no configure).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/lib.sh"
SRC_DIR=$(cd "$BENCH_DIR/.." && pwd)

ROUNDS=5 DURATION=3 WARMUP=1 OUT_DIR=
while getopts "r:D:o:h" o; do
    case $o in
    r) ROUNDS=$OPTARG ;;
    D) DURATION=$OPTARG ;;
    o) OUT_DIR=$OPTARG ;;
    *) sed -n '/^# Usage/,/^# automake/s/^# \{0,1\}//p' "$0"; exit 1 ;;
    esac
done
[ "$(id -u)" = 0 ] || die "run as root (bpftrace)"
need_cmd bpftrace bpftrace
need_cmd taskset util-linux
need_cmd objdump binutils
need_cmd readelf binutils
need_cmd make make
ensure_mcload
[ -n "$OUT_DIR" ] || OUT_DIR=$(mktemp -d /tmp/probe-nop.XXXXXX)
mkdir -p "$OUT_DIR"

if [ ! -x "$SRC_DIR/configure" ]; then
    note "running autogen.sh in $SRC_DIR"
    (cd "$SRC_DIR" && ./autogen.sh) >"$OUT_DIR/autogen.log" 2>&1 || die "autogen.sh failed"
fi
B="$OUT_DIR/build"
mkdir -p "$B"
note "building $B (configure --enable-dtrace)"
# The generated sources first: a lone target does not build BUILT_SOURCES.
(cd "$B" && "$SRC_DIR/configure" --enable-dtrace && make probes.h probes.c memcached_dtrace.h &&
    make -j"$(nproc)" memcached/memcached) \
    >"$B/build.log" 2>&1 || die "build failed (see $B/build.log)"
cp "$B/memcached/memcached" "$OUT_DIR/memcached-nop5"
grep -q '_SDT_NOP .nops 5' "$B/probes.c" || die "$B/probes.c does not set a 5-byte nop"
sed -i 's/_SDT_NOP .nops 5/_SDT_NOP nop/' "$B/probes.c"
(cd "$B" && make memcached/memcached) >>"$B/build.log" 2>&1 || die "nop1 build failed (see $B/build.log)"
cp "$B/memcached/memcached" "$OUT_DIR/memcached-nop1"

# site_byte BINARY: the first byte of the instruction at request__done's site.
site_byte() {
    local loc
    loc=$(readelf -n "$1" | awk '/Name: request__done/ { f = 1 } f && /Location:/ { sub(",", "", $2); print $2; exit }')
    [ -n "$loc" ] || die "no request__done note in $1"
    objdump -d --start-address="$loc" --stop-address=$((loc + 1)) "$1" |
        awk -v l="${loc#0x}" '$1 ~ ":$" { a = $1; sub(":", "", a); sub(/^0+/, "", a); ll = l; sub(/^0+/, "", ll)
                                          if (a == ll) { print $2; exit } }'
}
[ "$(site_byte "$OUT_DIR/memcached-nop5")" = 0f ] || die "nop5 build: the site is not a 5-byte nop"
[ "$(site_byte "$OUT_DIR/memcached-nop1")" = 90 ] || die "nop1 build: the site is not a 1-byte nop"
note "sites checked: nop5 starts 0f (nopl), nop1 is 90 (nop)"

trap 'stop_all_servers; [ -n "${BT_PID:-}" ] && kill -- -"$BT_PID" 2>/dev/null; true' EXIT

# us_per_request BINARY: untraced then traced; prints "untraced traced".
us_per_request() {
    local bin=$1 line u t i
    start_server "$bin" "$OUT_DIR/server.log" taskset -c 0 -- -t 4 -m 1024 -c 4096
    "$MCLOAD" -p "$SERVER_PORT" -k 100000 -v 32 -O -q >/dev/null
    run() { taskset -c 1 "$MCLOAD" -p "$SERVER_PORT" -r 90:10 -v 32 -c 50 -d 1 -k 100000 \
                -w "$WARMUP" -D "$DURATION" -C "$SERVER_PID" -q | tail -1; }
    # Server CPU comes in clock ticks: on a machine too busy to give the
    # server a good share of its core the figure is meaningless.
    cpu_ok() { awk -v c="$(field server_cpu "$1")" -v o="$(field ops_per_server_cpu_s "$1")" \
                   'BEGIN { exit !(c >= 0.3 && o > 0) }'; }
    line=$(run)
    cpu_ok "$line" || die "the server got too little CPU to measure (machine busy?): $line"
    u=$(field ops_per_server_cpu_s "$line")
    setsid bpftrace -p "$SERVER_PID" -e "usdt:$bin:memcached:request__done {}" >/dev/null 2>&1 &
    BT_PID=$!
    for i in $(seq 1 200); do
        [ "$(mc_cmd "$SERVER_PORT" "stats probes" | awk '$2 == "probe:request__done" { print $3 }')" = 1 ] && break
        sleep 0.1
    done
    sleep 0.5
    line=$(run)
    cpu_ok "$line" || die "the server got too little CPU to measure (machine busy?): $line"
    t=$(field ops_per_server_cpu_s "$line")
    kill -INT -- -"$BT_PID" 2>/dev/null || true
    wait "$BT_PID" 2>/dev/null || true
    BT_PID=
    stop_server "$SERVER_PID"
    awk -v u="$u" -v t="$t" 'BEGIN { printf "%.2f %.2f\n", 1e6 / u, 1e6 / t }'
}

printf '%-6s %-28s %-28s\n' round 'nop1 untraced -> traced' 'nop5 untraced -> traced'
for r in $(seq 1 "$ROUNDS"); do
    row=$r
    for b in nop1 nop5; do
        note "round $r/$ROUNDS: $b"
        read -r u t < <(us_per_request "$OUT_DIR/memcached-$b")
        row="$row|$(awk -v u="$u" -v t="$t" 'BEGIN { printf "%.2f -> %.2f (%+.2f)", u, t, t - u }')"
    done
    IFS='|' read -r a n1 n5 <<<"$row"
    printf '%-6s %-28s %-28s\n' "$a" "$n1" "$n5"
done
