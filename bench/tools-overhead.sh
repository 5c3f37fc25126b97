#!/usr/bin/env bash
# tools-overhead.sh: what each tools/ tracer costs the server, measured.
#
# One server (ours, -t 4 -m 1024) pinned to cpu 0, mcload pinned to cpu 1
# (get90-32B-c50-d1: 90% gets, 32-byte values, 50 connections, one request
# in flight each, 100000 keys prefilled).  For each tool, ROUNDS rounds of
# an untraced run and a traced run, interleaved (A B A B ...).  The tool
# runs unpinned, output to /dev/null; a traced run starts once `stats
# probes` shows its probes attached.  Reported per tool: median ops/s and
# median server CPU microseconds per command (from mcload -C, which reads
# /proc/PID/stat), and the difference from untraced: the probe cost paid
# by the server's threads (the uprobe trap and the BPF program run in them).
# bpftrace's own CPU (reading and printing) is not in that figure; the ops/s
# column shows it where it competes for the two cores.  The two ratio
# columns: traced / untraced ops/s, and untraced / traced server CPU per
# command (the throughput ratio if the server alone set the pace).
#
# With -H the load is a hot key instead: 501 keys, the first read and
# written 10 times as often as each other one (mcload -k 501 -H 10).
# -L shapes each request: get (the default: one key per get, one request in
# flight), multiget (16 keys per get) or pipeline (16 requests in flight
# per connection).
#
# The compiled mctop (MCTOP_BIN, default the first built one found:
# _build/tools/mctop, tools/mctop, mctop on PATH) is measured as "mctop"
# (sampled at the server's default rate; --batch with 1 s tables, which
# reads the maps as often as the live view does) and "mctop --exact"; the
# bpftrace script as "mctop.bt".
#
# -Z instead measures sampling accuracy: a Zipf (s = 0.99) load over
# 100,000 keys for ZSECONDS (default 10) with mctop sampled (at
# probe_sample_rate ZRATE, default 100) and mctop --exact attached at once,
# ROUNDS times; prints how many of the exact top 10 keys the sampled top 10
# holds.
#
# -S instead measures mctop's start-up: ROUNDS runs of `mctop --batch -p
# PID -d 1`, with the server idle and then under the load, each timed from
# exec to the moment it has attached and counts (its "attached" line,
# MCTOP_READY), with its peak resident memory (/usr/bin/time -f %M).
#
# Usage: bench/tools-overhead.sh [-r ROUNDS] [-D SECONDS] [-T TOOL,...] [-H]
#                                [-L get|multiget|pipeline] [-Z] [-S]
# Needs root, bpftrace, taskset, and a build with --enable-dtrace
# (MC_SERVER, as for run-bench.sh).  TOOLS_DIR: the tools to measure
# (default tools/ next to bench/).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TOOLS_DIR=${TOOLS_DIR:-$BENCH_DIR/../tools}

ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5} WARMUP=${WARMUP:-1}
ONLY= KEYSPACE=(-k 100000) SHAPE=(-d 1) SHAPE_NAME=get ZIPF= STARTUP=
while getopts "r:D:T:HL:ZSh" o; do
    case $o in
    r) ROUNDS=$OPTARG ;;
    D) DURATION=$OPTARG ;;
    T) ONLY=$OPTARG ;;
    H) KEYSPACE=(-k 501 -H 10) ;;
    L) SHAPE_NAME=$OPTARG
       case $OPTARG in
       get) SHAPE=(-d 1) ;;
       multiget) SHAPE=(-d 1 -m 16-16) ;;
       pipeline) SHAPE=(-d 16) ;;
       *) die "-L: get, multiget or pipeline" ;;
       esac ;;
    Z) ZIPF=1 ;;
    S) STARTUP=1 ;;
    *) sed -n '/^# Usage/,/^# (default tools/s/^# \{0,1\}//p' "$0"; exit 1 ;;
    esac
done
[ "$(id -u)" = 0 ] || die "run as root (bpftrace)"
need_cmd bpftrace bpftrace
need_cmd taskset util-linux
ensure_mcload
SERVER=$(find_our_server)
if [ -z "${MCTOP_BIN:-}" ]; then
    for c in "$BENCH_DIR/../_build/tools/mctop" "$BENCH_DIR/../tools/mctop" "$(command -v mctop || true)"; do
        if [ -n "$c" ] && [ -x "$c" ] && [ -f "$c" ] && ! head -c 2 "$c" | grep -q '#!'; then
            MCTOP_BIN=$c
            break
        fi
    done
fi

# name|tool command (PID is replaced)|probes it attaches
CONFIGS=(
    "mcsnoop|mcsnoop -p PID|request__done"
    "mctop|@mctop --batch -p PID 1|request__sample"
    "mctop --exact|@mctop --batch --exact -p PID 1|request__done"
    "mctop.bt|mctop.bt -C -p PID 1|request__done"
    "mctop.bt -P|mctop.bt -C -P -p PID 1|request__done"
    "mctop.bt 5s|mctop.bt -C -p PID 5|request__done"
    "mclatency|mclatency -p PID|request__done"
    "mcslower|mcslower -p PID 1|request__done"
    "mcevict|mcevict -p PID|item__evict"
    "mcconn|mcconn -p PID|conn__open"
    # No tool: bpftrace with an empty action on request__done, the cost of
    # the uprobe alone (BIN is replaced by the server's path).
    "empty uprobe|bpftrace -p PID -e usdt:BIN:memcached:request__done{}|request__done"
)

OUT=$(mktemp -d /tmp/tools-overhead.XXXXXX)
trap 'stop_all_servers; [ -n "${TOOL_PID:-}" ] && kill -- -"$TOOL_PID" 2>/dev/null; true' EXIT
start_server "$SERVER" "$OUT/server.log" taskset -c 0 -- -t 4 -m 1024 -c 4096
note "server $SERVER pid $SERVER_PID port $SERVER_PORT; prefilling"
"$MCLOAD" -p "$SERVER_PORT" -k "${KEYSPACE[1]}" -v 32 -O -q >/dev/null
note "load ($SHAPE_NAME): mcload ${KEYSPACE[*]} -r 90:10 -v 32 -c 50 ${SHAPE[*]}; tools from $TOOLS_DIR, mctop ${MCTOP_BIN:-(not built)}"

load() {
    taskset -c 1 "$MCLOAD" -p "$SERVER_PORT" -r 90:10 -v 32 -c 50 "${SHAPE[@]}" "${KEYSPACE[@]}" \
        -w "$WARMUP" -D "$DURATION" -C "$SERVER_PID" -q | tail -1
}

probe_on() { mc_cmd "$SERVER_PORT" "stats probes" | awk -v p="probe:$1" '$2 == p { print $3 }'; }

# traced_run "tool command" probe: starts the tool in its own process group,
# waits for its probe, runs the load, stops the tool.
traced_run() {
    local cmd=${1//PID/$SERVER_PID} probe=$2 _ exe
    cmd=${cmd//BIN/$SERVER}
    if [ "${cmd%% *}" = bpftrace ]; then
        setsid ${cmd} >/dev/null 2>&1 &
    else
        exe=$TOOLS_DIR/${cmd%% *}
        [ "${cmd%% *}" = @mctop ] && exe=$MCTOP_BIN
        # -d goes first: getopts stops at a tool's positional interval.
        setsid "$exe" -d $((DURATION + WARMUP + 30)) ${cmd#* } >/dev/null 2>&1 &
    fi
    TOOL_PID=$!
    for _ in $(seq 1 200); do
        [ "$(probe_on "$probe")" -ge 1 ] 2>/dev/null && break
        sleep 0.1
    done
    [ "$(probe_on "$probe")" -ge 1 ] || die "$cmd did not attach"
    sleep 0.5
    load
    kill -INT -- -"$TOOL_PID" 2>/dev/null || true
    wait "$TOOL_PID" 2>/dev/null || true
    TOOL_PID=
    for _ in $(seq 1 50); do
        [ "$(probe_on "$probe")" = 0 ] && break
        sleep 0.1
    done
}

# -S: mctop from exec to attached, and its peak RSS.
if [ -n "$STARTUP" ]; then
    [ -n "${MCTOP_BIN:-}" ] || die "-S needs the compiled mctop (MCTOP_BIN)"
    [ -x /usr/bin/time ] || die "-S needs /usr/bin/time (Debian: time)"
    start_once() {
        local t0 t1
        rm -f "$OUT/err"
        t0=$(date +%s%N)
        MCTOP_READY=1 /usr/bin/time -f 'rss_kb %M' -o "$OUT/time" \
            "$MCTOP_BIN" --batch -p "$SERVER_PID" -d 1 >/dev/null 2>"$OUT/err" &
        local p=$!
        while ! grep -q 'mctop: attached' "$OUT/err" 2>/dev/null; do
            kill -0 "$p" 2>/dev/null || die "mctop exited before attaching: $(cat "$OUT/err")"
            sleep 0.001
        done
        t1=$(date +%s%N)
        wait "$p"
        printf '%s %.1f %s\n' "$1" "$(( (t1 - t0) / 1000 ))e-3" "$(awk '{ print $2 }' "$OUT/time")"
    }
    printf '%-8s %10s %10s\n' server start_ms peak_rss_kb
    for r in $(seq 1 "$ROUNDS"); do start_once idle; done
    taskset -c 1 "$MCLOAD" -p "$SERVER_PORT" -r 90:10 -v 32 -c 50 "${SHAPE[@]}" "${KEYSPACE[@]}" \
        -D $((ROUNDS * 3 + 10)) -q >/dev/null &
    LOAD_PID=$!
    sleep 1
    for r in $(seq 1 "$ROUNDS"); do start_once loaded; done
    kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null || true
    exit 0
fi

# -Z: top-10 agreement of sampled and exact mctop on a Zipf load.
if [ -n "$ZIPF" ]; then
    [ -n "${MCTOP_BIN:-}" ] || die "-Z needs the compiled mctop (MCTOP_BIN)"
    ZSECONDS=${ZSECONDS:-10} ZRATE=${ZRATE:-100}
    mc_cmd "$SERVER_PORT" "probe_sample_rate $ZRATE" >/dev/null
    note "zipf: probe_sample_rate $ZRATE, $ZSECONDS s per round"
    for r in $(seq 1 "$ROUNDS"); do
        "$MCTOP_BIN" --batch --json -p "$SERVER_PID" -d "$((ZSECONDS + 1))" >"$OUT/s.json" 2>/dev/null &
        s_pid=$!
        "$MCTOP_BIN" --batch --json --exact -p "$SERVER_PID" -d "$((ZSECONDS + 1))" >"$OUT/e.json" 2>/dev/null &
        e_pid=$!
        for _ in $(seq 1 100); do
            [ "$(probe_on request__sample)" -ge 1 ] 2>/dev/null &&
                [ "$(probe_on request__done)" -ge 1 ] 2>/dev/null && break
            sleep 0.1
        done
        taskset -c 1 "$MCLOAD" -p "$SERVER_PORT" -r 90:10 -v 32 -c 50 -d 1 -k 100000 -z 0.99 \
            -D "$ZSECONDS" -q >/dev/null
        wait "$s_pid" "$e_pid" || true
        top10() { { grep -o '"key":"[^"]*"' "$1" || true; } | head -10 | sort; }
        common=$(comm -12 <(top10 "$OUT/s.json") <(top10 "$OUT/e.json") | wc -l)
        calls=$(grep -o '"totals":{"calls":[0-9]*' "$OUT/e.json" | grep -o '[0-9]*$' || true)
        samples=$(grep -o '"samples":[0-9]*' "$OUT/s.json" | head -1 | grep -o '[0-9]*$' || true)
        printf 'zipf round %d: sampled top 10 holds %d of the exact top 10 (%s operations, %s samples)\n' \
            "$r" "$common" "$calls" "$samples"
    done
    exit 0
fi

# spread: the lowest and highest ops/s ratio of one round (traced over the
# untraced run just before it): how much to trust the medians.
printf '%-14s %10s %10s %6s %12s %12s %10s %6s %12s\n' tool base_ops/s ops/s ratio base_us/op us/op delta_us ratio spread
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r name cmd probe <<<"$c"
    if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
    if [[ $cmd == @mctop* ]] && [ -z "${MCTOP_BIN:-}" ]; then note "$name: not built"; continue; fi
    b_ops=() b_cpu=() t_ops=() t_cpu=()
    for r in $(seq 1 "$ROUNDS"); do
        note "$name: round $r/$ROUNDS untraced"
        line=$(load)
        b_ops+=("$(field ops_per_sec "$line")") b_cpu+=("$(field ops_per_server_cpu_s "$line")")
        note "$name: round $r/$ROUNDS traced"
        line=$(traced_run "$cmd" "$probe")
        t_ops+=("$(field ops_per_sec "$line")") t_cpu+=("$(field ops_per_server_cpu_s "$line")")
    done
    awk -v n="$name" -v bo="$(median "${b_ops[@]}")" -v to="$(median "${t_ops[@]}")" \
        -v bc="$(median "${b_cpu[@]}")" -v tc="$(median "${t_cpu[@]}")" \
        -v bl="${b_ops[*]}" -v tl="${t_ops[*]}" 'BEGIN {
        bu = 1e6 / bc; tu = 1e6 / tc
        k = split(bl, b, " "); split(tl, t, " "); lo = 1e9; hi = 0
        for (i = 1; i <= k; i++) { r = t[i] / b[i]; if (r < lo) lo = r; if (r > hi) hi = r }
        printf "%-14s %10d %10d %6.3f %12.2f %12.2f %10.2f %6.3f %5.2f-%-5.2f\n", n, bo, to, to / bo, bu, tu, tu - bu, bu / tu, lo, hi }'
done
