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
cg_need_cmds
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

# fn_ir DUMP REGEX -> the instructions spent in the functions (file:name)
# that match, not counting what they call.
fn_ir() {
    callgrind_annotate --inclusive=no --threshold=100 --show-percs=no "$1" 2>/dev/null |
        awk -v re="$2" '$1 ~ /^[0-9,]+$/ && $2 ~ re { n = $1; gsub(",", "", n); s += n }
                        END { print s + 0 }'
}

cg_measure a "$BIN" -o no_latency_stats
cg_measure b "$BIN" -o latency_stats
note "user/system split of (a), natively"
declare -A SHARE
SHARE[gets]=$(user_share 1:0 "$BIN" -o no_latency_stats)
SHARE[sets]=$(user_share 0:1 "$BIN" -o no_latency_stats)
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
