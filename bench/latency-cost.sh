#!/usr/bin/env bash
# latency-cost.sh: what -o latency_stats (the per-command latency
# histograms of `stats latency`) costs, on one -O2 binary run (a) with
# no_latency_stats and (b) with latency_stats.
#
# Instructions first, which repeat exactly run to run: each server runs
# under valgrind's callgrind (-t 1) and gets the same fixed sequence from
# mcload (KEYS keys prefilled, then REQUESTS gets, all hits, then REQUESTS
# sets, one connection, depth 1, fixed seeds); per phase it prints the
# worker thread's user-space instructions per request of (a) and (b), the
# extra, the instructions callgrind puts in latency.c and the extra ones in
# clock_gettime (two reads per request, one when the request's frame opens
# and one when its reply is queued).  Under valgrind clock_gettime is a
# system call, whose kernel time callgrind does not count; natively it is
# the vDSO, a few tens of ns a read (docs/performance.md has the figure).
#
# With -T ROUNDS it then runs bench/run-bench.sh with (b) as "ours" and (a)
# as "ref", get and set workloads, ROUNDS interleaved rounds.
#
# Usage: bench/latency-cost.sh [-n REQUESTS] [-k KEYS] [-v VALUE] [-T ROUNDS] [-o DIR]
#   MC_SERVER=/path/memcached   the -O2 server (default: ../_build/memcached/memcached,
#                               else what run-bench.sh finds)
# Needs valgrind (callgrind_control, callgrind_annotate), awk.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/lib.sh"

REQUESTS=${REQUESTS:-20000} KEYS=${KEYS:-1000} VALUE=${VALUE:-32}
SERVER_OPTS=${SERVER_OPTS:--o no_lru_maintainer,no_lru_crawler}
read -ra SRV_OPTS <<<"$SERVER_OPTS"
TPUT_ROUNDS=0 OUT_DIR=${OUT_DIR:-}
while getopts "n:k:v:T:o:h" o; do
    case $o in
    n) REQUESTS=$OPTARG ;;
    k) KEYS=$OPTARG ;;
    v) VALUE=$OPTARG ;;
    T) TPUT_ROUNDS=$OPTARG ;;
    o) OUT_DIR=$OPTARG ;;
    *) sed -n '/^# Usage/,/^# Needs/s/^# \{0,1\}//p' "$0"; exit 1 ;;
    esac
done
for n in "$REQUESTS" "$KEYS" "$VALUE" "$TPUT_ROUNDS"; do
    [[ $n =~ ^[0-9]+$ ]] || die "-n, -k, -v and -T want whole numbers"
done
need_cmd valgrind valgrind
need_cmd callgrind_control valgrind
need_cmd callgrind_annotate valgrind
need_cmd awk mawk
ensure_mcload
if [ -z "${MC_SERVER:-}" ] && [ -x "$BENCH_DIR/../_build/memcached/memcached" ]; then
    MC_SERVER=$BENCH_DIR/../_build/memcached/memcached
fi
BIN=$(find_our_server)
if [ -z "$OUT_DIR" ]; then
    OUT_DIR=$(mktemp -d /tmp/latency-cost.XXXXXX)
else
    mkdir -p "$OUT_DIR"
fi
trap 'stop_all_servers' EXIT
trap 'exit 130' INT TERM

# measure LABEL OPTION: runs the sequence under callgrind; leaves the
# dumps in OUT_DIR/cg.LABEL.PID.{1,2}-THREAD (1: gets, 2: sets).
declare -A PID_OF
measure() {
    local label=$1 opt=$2 pid port
    note "$label: $BIN -o $opt under callgrind"
    START_WAIT=60 start_server "$BIN" "$OUT_DIR/server.$label.log" \
        valgrind --tool=callgrind --separate-threads=yes \
        --callgrind-out-file="$OUT_DIR/cg.$label.%p" -- -t 1 -m 64 "${SRV_OPTS[@]}" -o "$opt"
    pid=$SERVER_PID port=$SERVER_PORT
    "$MCLOAD" -q -p "$port" -O -k "$KEYS" -v "$VALUE" -c 1 -d 1 >"$OUT_DIR/prefill.$label" ||
        die "prefill failed against $label"
    callgrind_control -z "$pid" >/dev/null
    "$MCLOAD" -q -p "$port" -n "$REQUESTS" -r 1:0 -k "$KEYS" -v "$VALUE" -c 1 -d 1 -S 1 \
        >"$OUT_DIR/load.$label.gets" || die "get phase failed against $label"
    callgrind_control -d "$pid" >/dev/null
    "$MCLOAD" -q -p "$port" -n "$REQUESTS" -r 0:1 -k "$KEYS" -v "$VALUE" -c 1 -d 1 -S 2 \
        >"$OUT_DIR/load.$label.sets" || die "set phase failed against $label"
    callgrind_control -d "$pid" >/dev/null
    stop_server "$pid"
    PID_OF[$label]=$pid
}

# worker_dump LABEL PHASE -> the dump of the thread with the most
# instructions (the one worker; the others only tick timers).
worker_dump() {
    local f best='' max=-1 t
    for f in "$OUT_DIR/cg.$1.${PID_OF[$1]}.$2"-*; do
        t=$(awk '$1 == "totals:" { print $2; exit }' "$f")
        if [ "${t:-0}" -gt "$max" ]; then max=$t best=$f; fi
    done
    [ -n "$best" ] || die "no callgrind dump for $1 phase $2"
    echo "$best"
}
total_ir() { awk '$1 == "totals:" { print $2; exit }' "$1"; }
# fn_ir DUMP REGEX -> the instructions spent in the functions (file:name)
# that match, not counting what they call.
fn_ir() {
    callgrind_annotate --inclusive=no --threshold=100 --show-percs=no "$1" 2>/dev/null |
        awk -v re="$2" '$1 ~ /^[0-9,]+$/ && $2 ~ re { n = $1; gsub(",", "", n); s += n }
                        END { print s + 0 }'
}

# user_share RATIO: runs (a) natively (server pinned to cpu 0, mcload to
# cpu 1 when taskset exists) with 50 connections at depth 1 and the
# phase's get:set RATIO for 3 s; prints the server's user CPU time as a
# fraction of its user + system time, from /proc/PID/stat.
user_share() {
    local srv=() ld=() pid port u0 s0 u1 s1
    if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
        srv=(taskset -c 0) ld=(taskset -c 1)
    fi
    start_server "$BIN" "$OUT_DIR/server.native.log" "${srv[@]}" -- -t 4 -m 64 -o no_latency_stats
    pid=$SERVER_PID port=$SERVER_PORT
    "$MCLOAD" -q -p "$port" -O -k "$KEYS" -v "$VALUE" -c 1 -d 1 >/dev/null
    read -r u0 s0 < <(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$pid/stat")
    "${ld[@]}" "$MCLOAD" -q -p "$port" -D 3 -r "$1" -k "$KEYS" -v "$VALUE" -c 50 -d 1 >/dev/null ||
        die "native load failed"
    read -r u1 s1 < <(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$pid/stat")
    stop_server "$pid"
    awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) 'BEGIN { printf "%.3f\n", (u + s > 0) ? u / (u + s) : 1 }'
}

measure a no_latency_stats
measure b latency_stats
note "user/system split of (a), natively"
declare -A SHARE
SHARE[gets]=$(user_share 1:0)
SHARE[sets]=$(user_share 0:1)
{
    echo "# $BIN, -t 1 -m 64 $SERVER_OPTS under callgrind; $KEYS keys of $VALUE B prefilled;"
    echo "# per phase $REQUESTS requests, one connection, depth 1.  Ir: user-space"
    echo "# instructions of the worker thread per request.  (a) no_latency_stats, (b) latency_stats."
    printf '%-6s %10s %10s %7s %9s %7s %8s %6s %8s\n' phase a_Ir/req b_Ir/req extra latency.c clock a/b \
        user est_b/a
    for phase in 1 2; do
        name=$([ $phase = 1 ] && echo gets || echo sets)
        fa=$(worker_dump a $phase) fb=$(worker_dump b $phase)
        lat=$(fn_ir "$fb" '/latency\\.[ch]:')
        clk=$(( $(fn_ir "$fb" 'clock_gettime|vdso') - $(fn_ir "$fa" 'clock_gettime|vdso') ))
        awk -v p="$name" -v a="$(total_ir "$fa")" -v b="$(total_ir "$fb")" -v l="$lat" \
            -v c="$clk" -v n="$REQUESTS" -v u="${SHARE[$name]}" 'BEGIN {
            printf "%-6s %10.1f %10.1f %7.1f %9.1f %7.1f %8.4f %6.3f %8.4f\n", p, a / n, b / n,
                (b - a) / n, l / n, c / n, a / b, u, 1 / (1 + (b - a) / a * u) }'
    done
    echo
    echo "extra: (b) - (a); latency.c: the instructions in latency.c (classifying the"
    echo "command, recording); clock: the extra in clock_gettime and the vDSO; a/b: what (b) would"
    echo "keep of (a)'s throughput if user-space instructions were all that counted;"
    echo "user: the user-time share of (a)'s CPU in a native run of the phase (50 conns);"
    echo "est_b/a: 1 / (1 + extra/a_Ir * user), the throughput-equivalent estimate."
} | tee "$OUT_DIR/summary.txt"

if [ "$TPUT_ROUNDS" -gt 0 ]; then
    printf '#!/bin/sh\nexec "%s" -o latency_stats "$@"\n' "$BIN" >"$OUT_DIR/with-latency"
    printf '#!/bin/sh\nexec "%s" -o no_latency_stats "$@"\n' "$BIN" >"$OUT_DIR/without-latency"
    chmod +x "$OUT_DIR/with-latency" "$OUT_DIR/without-latency"
    note "wall-clock throughput, $TPUT_ROUNDS rounds: ours = latency_stats, ref = no_latency_stats"
    MC_SERVER=$OUT_DIR/with-latency MC_REFERENCE=$OUT_DIR/without-latency \
        "$BENCH_DIR/run-bench.sh" -r "$TPUT_ROUNDS" \
        -W get90-32B-c50-d1,set50-1KB-c50-d1 -o "$OUT_DIR/throughput" | tee -a "$OUT_DIR/summary.txt"
fi
note "files in $OUT_DIR"
