#!/usr/bin/env bash
# run-bench.sh - throughput of memcached-sdt ("ours") against a reference
# memcached, workload by workload, in interleaved rounds (A B A B ...).
#
# See bench/README.md.  Quick use:  bench/run-bench.sh
#        or:  MC_SERVER=/usr/bin/memcached bench/run-bench.sh   (self-check)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/lib.sh"

usage() {
    cat <<EOF
usage: $0 [-r ROUNDS] [-D SECONDS] [-w SECONDS] [-P yes|no] [-W LIST] [-o DIR] [-l]

Compares our server with a reference memcached under the same flags.
  -r N      rounds per workload, each runs ours then the reference (default $ROUNDS)
  -D SEC    measured seconds per run (default $DURATION)
  -w SEC    warm-up seconds before each measured run (default $WARMUP)
  -P yes|no pin the server to cpu 0 and the load generator to cpu 1 (default $PIN)
  -W LIST   comma-separated workloads to run (default: all); -l lists them
  -o DIR    where logs and raw results go (default: a new /tmp/mcbench.* dir)
Environment: MC_SERVER (ours; default: ../memcached next to bench/, a binary
or a directory holding one, else ../build/memcached), MC_REFERENCE (default
/usr/bin/memcached), SERVER_FLAGS (default "$SERVER_FLAGS"), KEYS (key
space, default $KEYS), LOAD_THREADS (mcload threads; default 1 pinned, 2 not),
and ROUNDS DURATION WARMUP PIN WORKLOADS OUT_DIR as for the options.
EOF
}

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
SETTLE=${SETTLE:-1}
PIN=${PIN:-yes}
WORKLOADS=${WORKLOADS:-all}
KEYS=${KEYS:-100000}
SERVER_FLAGS=${SERVER_FLAGS:--t 4 -m 1024 -c 4096}
OUT_DIR=${OUT_DIR:-}

# name | mcload workload flags | value size used to prefill
WORKLOAD_TABLE='
get90-32B-c50-d1    | -r 90:10 -v 32 -c 50 -d 1             | 32
get90-32B-c50-d16   | -r 90:10 -v 32 -c 50 -d 16            | 32
set50-1KB-c50-d1    | -r 50:50 -v 1024 -c 50 -d 1           | 1024
mget10-100-32B-c50  | -r 100:0 -m 10-100 -v 32 -c 50 -d 1   | 32
get90-32B-c1000-d1  | -r 90:10 -v 32 -c 1000 -d 1           | 32
'

list_workloads() {
    awk -F'|' 'NF == 3 { gsub(/^ +| +$/, "", $1); gsub(/^ +| +$/, "", $2); printf "  %-20s mcload %s\n", $1, $2 }' <<<"$WORKLOAD_TABLE"
}

while getopts "r:D:w:P:W:o:lh" o; do
    case $o in
    r) ROUNDS=$OPTARG ;;
    D) DURATION=$OPTARG ;;
    w) WARMUP=$OPTARG ;;
    P) PIN=$OPTARG ;;
    W) WORKLOADS=$OPTARG ;;
    o) OUT_DIR=$OPTARG ;;
    l) list_workloads; exit 0 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 1 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 1; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "rounds must be a positive integer"
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad duration '$DURATION'"
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad warm-up '$WARMUP'"
case $PIN in yes | no) ;; *) die "-P takes yes or no" ;; esac

# ---- prerequisites -------------------------------------------------------
need_cmd awk mawk
need_cmd timeout coreutils
need_cmd sort coreutils
[ "$PIN" = yes ] && need_cmd taskset util-linux
if [ "$PIN" = yes ] && [ "$(nproc)" -lt 2 ]; then
    note "only one cpu: not pinning"
    PIN=no
fi

OURS=$(find_our_server) || exit 1
REF=$(find_ref_server) || exit 1
ensure_mcload

if [ -z "$OUT_DIR" ]; then
    OUT_DIR=$(mktemp -d /tmp/mcbench.XXXXXX)
else
    mkdir -p "$OUT_DIR"
fi

if [ "$PIN" = yes ]; then
    SRV_PREFIX=(taskset -c 0)
    LOAD_PREFIX=(taskset -c 1)
    LOAD_THREADS=${LOAD_THREADS:-1}
else
    SRV_PREFIX=()
    LOAD_PREFIX=()
    LOAD_THREADS=${LOAD_THREADS:-2}
fi

# ---- workloads to run ----------------------------------------------------
declare -a WL_NAME WL_ARGS WL_VSIZE
while IFS='|' read -r name args vsize; do
    name=$(echo "$name" | xargs)
    [ -n "$name" ] || continue
    if [ "$WORKLOADS" != all ] && [[ ",$WORKLOADS," != *",$name,"* ]]; then
        continue
    fi
    WL_NAME+=("$name")
    WL_ARGS+=("$(echo "$args" | xargs)")
    WL_VSIZE+=("$(echo "$vsize" | xargs)")
done <<<"$WORKLOAD_TABLE"
[ ${#WL_NAME[@]} -gt 0 ] || die "no workload matches '$WORKLOADS' (see -l)"

# ---- servers -------------------------------------------------------------
trap 'stop_all_servers' EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2206
FLAGS=($SERVER_FLAGS)
start_server "$OURS" "$OUT_DIR/ours.log" "${SRV_PREFIX[@]}" -- "${FLAGS[@]}"
A_PID=$SERVER_PID A_PORT=$SERVER_PORT
start_server "$REF" "$OUT_DIR/ref.log" "${SRV_PREFIX[@]}" -- "${FLAGS[@]}"
B_PID=$SERVER_PID B_PORT=$SERVER_PORT
A_VER=$(mc_cmd "$A_PORT" version | head -1)
B_VER=$(mc_cmd "$B_PORT" version | head -1)

est=$(( ${#WL_NAME[@]} * ROUNDS * 2 ))
est=$(awk -v n="$est" -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", n * (d + w + 0.5) + 5 }')
{
    echo "# ours: $OURS ($A_VER) port $A_PORT"
    echo "# ref:  $REF ($B_VER) port $B_PORT"
    echo "# server flags: $SERVER_FLAGS; pinning: $PIN$([ "$PIN" = yes ] && echo " (servers cpu 0, mcload cpu 1)")"
    echo "# mcload: -t $LOAD_THREADS -k $KEYS -D $DURATION -w $WARMUP; $ROUNDS rounds; about ${est}s"
    echo "# raw results and logs: $OUT_DIR"
} | tee "$OUT_DIR/summary.txt" >&2

check_alive() {
    kill -0 "$A_PID" 2>/dev/null || die "our server (pid $A_PID) died; log: $OUT_DIR/ours.log"
    kill -0 "$B_PID" 2>/dev/null || die "the reference server (pid $B_PID) died; log: $OUT_DIR/ref.log"
}

# run_load PORT ARGS... -> mcload summary line on stdout.  mcload's exit
# status 3 (the run saw errors) is passed on; anything else fatal ends here.
run_load() {
    local port=$1 rc=0 out
    shift
    out=$("${LOAD_PREFIX[@]}" "$MCLOAD" -q -s 127.0.0.1 -p "$port" "$@" 2>>"$OUT_DIR/mcload.err") || rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
        check_alive
        die "mcload failed (exit $rc) against port $port: $(tail -3 "$OUT_DIR/mcload.err")"
    fi
    LOAD_LINE=$out
    return $rc
}

RAW="$OUT_DIR/results.txt"
: >"$RAW"
TABLE="$OUT_DIR/table.txt"
FMT='%-19s %10s %10s %6s  %10s %10s %6s  %8s %8s %7s %5s %s\n'
# shellcheck disable=SC2059
printf "$FMT" workload ours_ops/s ref_ops/s ratio ours/cpu_s ref/cpu_s ratio \
    ours_p99 ref_p99 spread% other notes >"$TABLE"

for i in "${!WL_NAME[@]}"; do
    name=${WL_NAME[$i]}
    # shellcheck disable=SC2206
    args=(${WL_ARGS[$i]})
    vsize=${WL_VSIZE[$i]}
    note "workload $name: mcload ${WL_ARGS[$i]}"
    for port in "$A_PORT" "$B_PORT"; do
        run_load "$port" -O -k "$KEYS" -v "$vsize" -c 8 -d 32 -t 1 ||
            note "prefill on port $port saw errors: $LOAD_LINE"
        # an unmeasured run so that both servers start the rounds warmed up
        run_load "$port" -t "$LOAD_THREADS" -k "$KEYS" -D "$SETTLE" "${args[@]}" || true
    done
    check_alive
    a_ops=() b_ops=() a_p99=() b_p99=() a_eff=() b_eff=() client_max=0 other_max=0 notes=""
    for r in $(seq 1 "$ROUNDS"); do
        for side in A B; do
            if [ $side = A ]; then port=$A_PORT pid=$A_PID; else port=$B_PORT pid=$B_PID; fi
            rc=0
            run_load "$port" -C "$pid" -t "$LOAD_THREADS" -k "$KEYS" -D "$DURATION" -w "$WARMUP" "${args[@]}" || rc=$?
            line=$LOAD_LINE
            check_alive
            echo "workload=$name round=$r server=$side $line" >>"$RAW"
            ops=$(field ops_per_sec "$line")
            p99=$(field p99_us "$line")
            eff=$(field ops_per_server_cpu_s "$line")
            ccpu=$(field client_cpu "$line")
            client_max=$(awk -v a="$client_max" -v b="${ccpu:-0}" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
            ocpu=$(field other_cpu "$line")
            other_max=$(awk -v a="$other_max" -v b="${ocpu:-0}" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
            if [ $rc -eq 3 ]; then
                err="$side:errors=$(field errors "$line"),desyncs=$(field desyncs "$line")"
                note "round $r $side: $err"
                [[ $notes == *"$side:"* ]] || notes="$notes $err"
            fi
            if [ $side = A ]; then
                a_ops+=("$ops") a_p99+=("$p99") a_eff+=("${eff:-0}")
            else
                b_ops+=("$ops") b_p99+=("$p99") b_eff+=("${eff:-0}")
            fi
            note "  round $r $([ $side = A ] && echo "ours" || echo "ref "): ops_per_sec=$ops p99_us=$p99 ops_per_server_cpu_s=$eff server_cpu=$(field server_cpu "$line") client_cpu=$ccpu other_cpu=$ocpu"
        done
    done
    am=$(median "${a_ops[@]}")
    bm=$(median "${b_ops[@]}")
    ratio=$(awk -v a="$am" -v b="$bm" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }')
    ae=$(median "${a_eff[@]}")
    be=$(median "${b_eff[@]}")
    eratio=$(awk -v a="$ae" -v b="$be" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }')
    # the load generator near one busy core per thread means it, not the
    # server, may be what limits the rate
    if awk -v c="$client_max" -v t="$LOAD_THREADS" 'BEGIN { exit !(c >= 0.95 * t) }'; then
        notes="$notes client-bound(client_cpu=$client_max)"
    fi
    sa=$(spread_pct "${a_ops[@]}")
    sb=$(spread_pct "${b_ops[@]}")
    spread=$(awk -v a="$sa" -v b="$sb" 'BEGIN { print (a + 0 > b + 0) ? a : b }')
    # shellcheck disable=SC2059
    printf "$FMT" "$name" "$(printf %.0f "$am")" "$(printf %.0f "$bm")" "$ratio" \
        "$(printf %.0f "$ae")" "$(printf %.0f "$be")" "$eratio" \
        "$(printf %.0f "$(median "${a_p99[@]}")")" "$(printf %.0f "$(median "${b_p99[@]}")")" \
        "$spread" "$other_max" "${notes# }" >>"$TABLE"
done

{
    echo
    cat "$TABLE"
    echo
    echo "ops/s: median over the rounds; ratio = ours/ref (above 1: ours is faster)."
    echo "/cpu_s: ops per CPU-second the server used in the measured window (median);"
    echo "  its ratio is the per-core efficiency, less sensitive to other load on the box."
    echo "p99: microseconds, median over rounds.  spread%: (max-min)/median of the rounds'"
    echo "  ops/s, the larger of the two servers; differences smaller than it are noise."
    echo "other: most CPU (in cores) that other processes on the machine used during a"
    echo "  measured run; above ~0.2 the raw ops/s were disturbed, read the /cpu_s ratio."
} | tee -a "$OUT_DIR/summary.txt"
