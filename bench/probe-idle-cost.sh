#!/usr/bin/env bash
# probe-idle-cost.sh: what the SDT provider costs while nothing traces it,
# counted in instructions so that the answer does not depend on how busy
# the machine is.
#
# Two -O2 servers from the same source: (a) configured without
# --enable-dtrace (the probes compile to nothing) and (b) with it (a
# semaphore test where each probe fires; the probe's site, a nop in a
# function of its own, is called only while a tracer has it enabled).
# Each runs under valgrind's callgrind (-t 1, one worker thread) and gets
# the same fixed request sequence from mcload: KEYS keys prefilled, then
# REQUESTS gets (all hits) and REQUESTS sets of VALUE-byte values, one
# connection, one request in flight, a fixed seed.  Counters are zeroed
# after the prefill and dumped after each phase.  Reported per phase: the
# worker thread's user-space instructions per request for (a) and (b),
# the ratio a/b (what the extra instructions leave of throughput if
# nothing but user-space instructions counted; kernel time, the same for
# both, makes the real figure closer to 1), and the instructions callgrind
# attributes to the probe sites themselves (the lines of probes.c: the
# nops and their argument moves, 0 unless something traces; semaphore tests are folded into the
# caller's lines and show only in the difference).  Instruction counts
# repeat exactly run to run, unlike ops/s on a shared machine.
#
# With -P DEPTH a third phase follows: REQUESTS gets (hits) pipelined
# DEPTH deep on the one connection.  How many requests one read brings in
# depends on timing, so this phase's counts vary a little run to run.
#
# With -c (compare) (a) and (b) are any two builds, given as MC_A and MC_B
# (say the server before and after a change, both with the provider): the
# check that only (b) has SDT notes is skipped and the table's a/b is
# simply before/after.  Nothing is built in this mode.
#
# With -T ROUNDS it then also runs bench/run-bench.sh on the same two
# binaries (b as "ours", a as "ref"), get and set workloads, ROUNDS
# interleaved rounds, for the wall-clock view with its spread.
#
# Usage: bench/probe-idle-cost.sh [-c] [-n REQUESTS] [-k KEYS] [-v VALUE] [-P DEPTH] [-T ROUNDS] [-o DIR]
#   MC_NOPROBES=/path/memcached  (a): default, build the tree in DIR/build-a
#   MC_PROBES=/path/memcached    (b): default, build the tree in DIR/build-b
#   MC_A=/path/memcached MC_B=/path/memcached   (a) and (b) with -c
# Needs valgrind; to build: gcc, make, pkg-config, libevent-dev,
# systemtap-sdt-dev (and autoconf, automake if the tree has no configure).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/lib.sh"
SRC_DIR=$(cd "$BENCH_DIR/.." && pwd)

REQUESTS=${REQUESTS:-20000} KEYS=${KEYS:-1000} VALUE=${VALUE:-32}
# No LRU maintainer: with it, whether a get moves its item between LRU
# segments depends on timing, and the count would vary run to run.
SERVER_OPTS=${SERVER_OPTS:--o no_lru_maintainer,no_lru_crawler}
read -ra SRV_OPTS <<<"$SERVER_OPTS"
TPUT_ROUNDS=0 OUT_DIR=${OUT_DIR:-} COMPARE=0 PIPE_DEPTH=0
while getopts "cn:k:v:P:T:o:h" o; do
    case $o in
    c) COMPARE=1 ;;
    P) PIPE_DEPTH=$OPTARG ;;
    n) REQUESTS=$OPTARG ;;
    k) KEYS=$OPTARG ;;
    v) VALUE=$OPTARG ;;
    T) TPUT_ROUNDS=$OPTARG ;;
    o) OUT_DIR=$OPTARG ;;
    *) sed -n '/^# Usage/,/^# systemtap/s/^# \{0,1\}//p' "$0"; exit 1 ;;
    esac
done
for n in "$REQUESTS" "$KEYS" "$VALUE" "$TPUT_ROUNDS" "$PIPE_DEPTH"; do
    [[ $n =~ ^[0-9]+$ ]] || die "-n, -k, -v, -P and -T want whole numbers"
done
cg_need_cmds
ensure_mcload
if [ -z "$OUT_DIR" ]; then
    OUT_DIR=$(mktemp -d /tmp/probe-idle.XXXXXX)
else
    mkdir -p "$OUT_DIR"
fi

# build DIR [CONFIGURE-FLAGS...]: an out-of-tree -O2 build of this tree.
build() {
    local dir=$1
    shift
    need_cmd make make
    need_cmd gcc gcc
    if [ ! -x "$SRC_DIR/configure" ]; then
        need_cmd autoreconf autoconf
        note "running autogen.sh in $SRC_DIR"
        (cd "$SRC_DIR" && ./autogen.sh) >"$OUT_DIR/autogen.log" 2>&1 ||
            die "autogen.sh failed (see $OUT_DIR/autogen.log)"
    fi
    mkdir -p "$dir"
    note "building $dir (configure $*)"
    (cd "$dir" && "$SRC_DIR/configure" "$@" && make -j"$(nproc)") >"$dir/build.log" 2>&1 ||
        die "build failed (see $dir/build.log)"
    echo "$dir/memcached/memcached"
}
if [ "$COMPARE" = 1 ]; then
    if [ -z "${MC_A:-}" ] || [ -z "${MC_B:-}" ]; then die "-c wants MC_A and MC_B (the two servers to compare)"; fi
    A_BIN=$(resolve_server "$MC_A") || die "no server at MC_A=$MC_A"
    B_BIN=$(resolve_server "$MC_B") || die "no server at MC_B=$MC_B"
else
    if [ -n "${MC_NOPROBES:-}" ]; then A_BIN=$(resolve_server "$MC_NOPROBES") || die "no server at MC_NOPROBES=$MC_NOPROBES"
    else A_BIN=$(build "$OUT_DIR/build-a"); fi
    if [ -n "${MC_PROBES:-}" ]; then B_BIN=$(resolve_server "$MC_PROBES") || die "no server at MC_PROBES=$MC_PROBES"
    else B_BIN=$(build "$OUT_DIR/build-b" --enable-dtrace); fi
fi
if [ "$COMPARE" = 0 ]; then
    need_cmd readelf binutils
    sdt_notes() { readelf -n "$1" 2>/dev/null | awk '/stapsdt/ { n++ } END { print n + 0 }'; }
    [ "$(sdt_notes "$B_BIN")" -gt 0 ] || die "$B_BIN has no SDT notes: not built with --enable-dtrace?"
    [ "$(sdt_notes "$A_BIN")" = 0 ] || die "$A_BIN has SDT notes: it should be built without --enable-dtrace"
fi

trap 'stop_all_servers' EXIT
trap 'exit 130' INT TERM

# probe_lines DUMP -> "Ir name" per probes.c line with a cost, from
# callgrind_annotate's annotation of probes.c.
probe_lines() {
    callgrind_annotate --threshold=100 --auto=yes --show-percs=no "$1" 2>/dev/null |
        awk '/^-- Auto-annotated source: / { inp = ($0 ~ /probes\.c$/); next }
             inp && /MEMCACHED_[A-Z_]+/ && $1 ~ /^[0-9,]+$/ {
                 n = $1; gsub(",", "", n)
                 match($0, /MEMCACHED_[A-Z_]+/); name = substr($0, RSTART + 10, RLENGTH - 10)
                 print n, tolower(name) }'
}

cg_measure a "$A_BIN"
cg_measure b "$B_BIN"
note "user/system split of (a), natively"
declare -A SHARE
SHARE[gets]=$(user_share 1:0 "$A_BIN")
SHARE[sets]=$(user_share 0:1 "$A_BIN")
PHASES="1 2"
if [ "$PIPE_DEPTH" -gt 0 ]; then
    PHASES="1 2 3"
    SHARE[pgets]=${SHARE[gets]} # (measured at depth 1)
fi
phase_name() { case $1 in 1) echo gets ;; 2) echo sets ;; 3) echo pgets ;; esac; }

{
    if [ "$COMPARE" = 1 ]; then
        echo "# (a) $A_BIN"
        echo "# (b) $B_BIN"
    else
        echo "# (a) no provider: $A_BIN"
        echo "# (b) provider compiled in, idle: $B_BIN"
    fi
    echo "# server -t 1 -m 64 $SERVER_OPTS under callgrind; $KEYS keys of $VALUE B prefilled; per phase $REQUESTS requests,"
    echo "# one connection, depth 1$([ "$PIPE_DEPTH" -gt 0 ] && echo " (pgets: depth $PIPE_DEPTH)").  Ir: user-space instructions of the worker thread."
    printf '%-6s %10s %10s %7s %8s %9s %6s %9s\n' phase a_Ir/req b_Ir/req extra a/b site_Ir user est_b/a
    for phase in $PHASES; do
        name=$(phase_name "$phase")
        fa=$(worker_dump a "$phase") fb=$(worker_dump b "$phase")
        probe_lines "$fb" >"$OUT_DIR/sites.$name"
        site=$(awk '{ s += $1 } END { print s + 0 }' "$OUT_DIR/sites.$name")
        awk -v p="$name" -v a="$(total_ir "$fa")" -v b="$(total_ir "$fb")" -v s="$site" \
            -v n="$REQUESTS" -v u="${SHARE[$name]}" 'BEGIN {
            printf "%-6s %10.1f %10.1f %7.1f %8.4f %9.1f %6.3f %9.4f\n", p, a / n, b / n, (b - a) / n,
                a / b, s / n, u, 1 / (1 + (b - a) / a * u) }'
    done
    echo
    echo "Probe sites hit in (b), instructions per request at each (probes.c lines):"
    for phase in $PHASES; do
        name=$(phase_name "$phase")
        awk -v p="$name" -v n="$REQUESTS" '$1 / n >= 0.005 { printf "  %-5s %-28s %6.2f\n", p, $2, $1 / n }' \
            "$OUT_DIR/sites.$name" | sort -k3,3gr
    done
    echo
    if [ "$COMPARE" = 1 ]; then
        echo "extra: (b) - (a) instructions per request (negative: (b) executes fewer)."
    else
        echo "extra: (b) - (a) instructions per request; site_Ir: the part at the probe sites"
        echo "  (nops, argument moves); the rest is semaphore tests and code-generation changes."
    fi
    echo "a/b: what (b) would keep of (a)'s throughput if user-space instructions were all"
    echo "  that counted.  user: the user-time share of (a)'s CPU in a native run of the"
    echo "  phase (50 conns; the rest is the kernel's, the same for both builds)."
    echo "est_b/a: 1 / (1 + extra/a_Ir * user), the throughput-equivalent estimate."
} | tee "$OUT_DIR/summary.txt"

if [ "$TPUT_ROUNDS" -gt 0 ]; then
    note "wall-clock throughput, $TPUT_ROUNDS rounds: ours = (b), ref = (a)"
    MC_SERVER=$B_BIN MC_REFERENCE=$A_BIN "$BENCH_DIR/run-bench.sh" -r "$TPUT_ROUNDS" \
        -W get90-32B-c50-d1,set50-1KB-c50-d1 -o "$OUT_DIR/throughput" | tee -a "$OUT_DIR/summary.txt"
fi
note "files in $OUT_DIR"
