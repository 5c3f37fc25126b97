# shellcheck shell=bash disable=SC2034
# Shared helpers for bench/*.sh (sourced, not run).
# Needs: bash, coreutils (timeout), awk, and for pinning util-linux (taskset).

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
MCLOAD="$BENCH_DIR/mcload"

die() { echo "error: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

# need_cmd COMMAND DEBIAN-PACKAGE
need_cmd() {
    command -v "$1" >/dev/null 2>&1 ||
        die "'$1' not found; install the Debian package '$2' (apt-get install $2)"
}

# Resolve a server path: a directory means "the memcached binary inside it".
resolve_server() {
    local p=$1
    if [ -d "$p" ]; then
        p="$p/memcached"
    fi
    if [ ! -x "$p" ] || [ -d "$p" ]; then
        return 1
    fi
    (cd "$(dirname "$p")" && printf '%s/%s\n' "$(pwd)" "$(basename "$p")")
}

# Our server: $MC_SERVER if set; otherwise the first of ../memcached (a
# binary, or a directory holding one), ../build/memcached.  Prints the path.
find_our_server() {
    if [ -n "${MC_SERVER:-}" ]; then
        resolve_server "$MC_SERVER" && return 0
        die "our server not found at MC_SERVER='$MC_SERVER'"
    fi
    local c
    for c in "$BENCH_DIR/../memcached" "$BENCH_DIR/../build/memcached"; do
        resolve_server "$c" && return 0
    done
    die "our server not found (tried ../memcached, ../memcached/memcached and ../build/memcached next to bench/): build it first, or set MC_SERVER=/path/to/memcached"
}

# The reference server ($MC_REFERENCE, default /usr/bin/memcached).
find_ref_server() {
    local r=${MC_REFERENCE:-/usr/bin/memcached}
    resolve_server "$r" && return 0
    if [ "$r" = /usr/bin/memcached ]; then
        die "reference server /usr/bin/memcached not found; install the Debian package 'memcached' (apt-get install memcached), or set MC_REFERENCE"
    fi
    die "reference server not found at MC_REFERENCE='$r'"
}

# Build bench/mcload if it is missing or older than its source.
ensure_mcload() {
    if [ ! -x "$MCLOAD" ] || [ "$BENCH_DIR/mcload.c" -nt "$MCLOAD" ]; then
        need_cmd cc gcc
        note "building $MCLOAD"
        cc -O2 -Wall -Wextra -o "$MCLOAD" "$BENCH_DIR/mcload.c" -lpthread ||
            die "building mcload failed"
    fi
}

# Is anything listening on TCP port $1 (IPv4 or IPv6)?
port_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v h="$hex" 'FNR > 1 { split($2, a, ":"); if (a[length(a)] == h && $4 == "0A") f = 1 }
                     END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A port that nothing listens on.  Below the kernel's ephemeral range so
# that TIME_WAIT sockets of earlier client connections cannot block bind().
pick_port() {
    local lo=20000 hi=32000 p i
    for i in $(seq 1 200); do
        p=$(( lo + (RANDOM * 32768 + RANDOM) % (hi - lo) ))
        if ! port_listening "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free TCP port found in $lo-$hi"
}

# Send ASCII protocol commands to 127.0.0.1:$1, print the reply (CR removed).
# The trailing "quit" makes the server close, which ends the read.
mc_cmd() {
    local port=$1
    shift
    timeout 5 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/'"$port"' || exit 1
        printf "%s\r\n" "$@" "quit" >&3
        cat <&3' _ "$@" 2>/dev/null | tr -d '\r' || true
}

# mc_stat PORT NAME -> value of "STAT NAME value"
mc_stat() {
    mc_cmd "$1" stats | awk -v n="$2" '$1 == "STAT" && $2 == n { print $3 }'
}

STARTED_PIDS=()

# start_server BINARY LOGFILE CPU-PREFIX... -- FLAGS...
# Starts the server on a free port on 127.0.0.1; sets SERVER_PID and
# SERVER_PORT.  Retries on another port if the bind fails.  Waits up to
# START_WAIT seconds (default 5) for it to answer; a server run under
# valgrind needs more.
start_server() {
    local bin=$1 log=$2
    shift 2
    local prefix=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        prefix+=("$1")
        shift
    done
    shift
    local user=()
    [ "$(id -u)" = 0 ] && user=(-u root)
    local try port pid i
    for try in 1 2 3 4 5; do
        port=$(pick_port)
        "${prefix[@]}" "$bin" -p "$port" -l 127.0.0.1 -U 0 "${user[@]}" "$@" >"$log" 2>&1 &
        pid=$!
        for i in $(seq 1 $(( ${START_WAIT:-5} * 10 ))); do
            kill -0 "$pid" 2>/dev/null || break
            if port_listening "$port" && [ -n "$(mc_cmd "$port" version)" ]; then
                STARTED_PIDS+=("$pid")
                SERVER_PID=$pid
                SERVER_PORT=$port
                return 0
            fi
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            die "$bin started but does not answer on port $port (log: $log)"
        fi
        wait "$pid" 2>/dev/null || true
        if ! grep -qi "address already in use" "$log"; then
            die "$bin exited at startup (log $log):$(echo; sed 's/^/    /' "$log")"
        fi
    done
    die "could not start $bin on a free port"
}

stop_server() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${STARTED_PIDS[@]}"; do
        [ "$p" != "$pid" ] && keep+=("$p")
    done
    STARTED_PIDS=("${keep[@]}")
    return 0
}

stop_all_servers() {
    local p
    for p in "${STARTED_PIDS[@]}"; do
        stop_server "$p"
    done
}

# field NAME LINE -> value of NAME=value in an mcload summary line
field() {
    awk -v n="$1" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == n) { print kv[2]; exit } } }' <<<"$2"
}

# median of the numbers given as arguments
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# spread of the numbers as a percentage of their median: (max-min)/median
spread_pct() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (m == 0) print "nan"; else printf "%.1f\n", 100 * (v[NR] - v[1]) / m }'
}

# ---- callgrind harness (probe-idle-cost.sh, latency-cost.sh) ----------------
# Instruction counts of one worker thread over a fixed request sequence.
# Uses the caller's OUT_DIR, REQUESTS, KEYS, VALUE, SRV_OPTS (array) and
# PIPE_DEPTH (0: no pipelined phase); mcload must be built (ensure_mcload).

# The valgrind and awk commands the harness runs.
cg_need_cmds() {
    need_cmd valgrind valgrind
    need_cmd callgrind_control valgrind
    need_cmd callgrind_annotate valgrind
    need_cmd awk mawk
}

# cg_measure LABEL BINARY [SERVER-ARGS...]: runs BINARY -t 1 -m 64
# SRV_OPTS SERVER-ARGS under callgrind and plays the sequence: KEYS keys
# prefilled, counters zeroed, REQUESTS gets (hits), a dump, REQUESTS sets,
# a dump, and with PIPE_DEPTH > 0 REQUESTS gets that deep, a dump. Leaves
# the dumps in OUT_DIR/cg.LABEL.PID.{1,2,3}-THREAD; PID_OF[LABEL] = PID.
declare -A PID_OF
cg_measure() {
    local label=$1 bin=$2 pid port
    shift 2
    note "$label: $bin${*:+ $*} under callgrind"
    START_WAIT=60 start_server "$bin" "$OUT_DIR/server.$label.log" \
        valgrind --tool=callgrind --separate-threads=yes \
        --callgrind-out-file="$OUT_DIR/cg.$label.%p" -- -t 1 -m 64 "${SRV_OPTS[@]}" "$@"
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
    if [ "${PIPE_DEPTH:-0}" -gt 0 ]; then
        "$MCLOAD" -q -p "$port" -n "$REQUESTS" -r 1:0 -k "$KEYS" -v "$VALUE" -c 1 -d "$PIPE_DEPTH" -S 3 \
            >"$OUT_DIR/load.$label.pgets" || die "pipelined get phase failed against $label"
        callgrind_control -d "$pid" >/dev/null
    fi
    stop_server "$pid"
    PID_OF[$label]=$pid
}

# worker_dump LABEL PHASE -> the thread's dump with the most instructions
# (the one worker thread; the others only tick timers).
worker_dump() {
    local f best='' max=-1 t
    for f in "$OUT_DIR/cg.$1.${PID_OF[$1]}.$2"-*; do
        t=$(awk '$1 == "totals:" { print $2; exit }' "$f")
        if [ "${t:-0}" -gt "$max" ]; then max=$t best=$f; fi
    done
    [ -n "$best" ] || die "no callgrind dump for $1 phase $2"
    echo "$best"
}

# total_ir DUMP -> the dump's total instructions.
total_ir() { awk '$1 == "totals:" { print $2; exit }' "$1"; }

# user_share RATIO BINARY [SERVER-ARGS...]: runs BINARY -t 4 -m 64
# SERVER-ARGS natively (pinned to cpu 0, mcload to cpu 1 when taskset
# exists) with 50 connections at depth 1 and the get:set RATIO for 3 s;
# prints the server's user CPU time as a fraction of its user + system
# time, from /proc/PID/stat.
user_share() {
    local ratio=$1 bin=$2 srv=() ld=() pid port u0 s0 u1 s1
    shift 2
    if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
        srv=(taskset -c 0) ld=(taskset -c 1)
    fi
    start_server "$bin" "$OUT_DIR/server.native.log" "${srv[@]}" -- -t 4 -m 64 "$@"
    pid=$SERVER_PID port=$SERVER_PORT
    "$MCLOAD" -q -p "$port" -O -k "$KEYS" -v "$VALUE" -c 1 -d 1 >/dev/null
    read -r u0 s0 < <(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$pid/stat")
    "${ld[@]}" "$MCLOAD" -q -p "$port" -D 3 -r "$ratio" -k "$KEYS" -v "$VALUE" -c 50 -d 1 >/dev/null ||
        die "native load against $bin failed"
    read -r u1 s1 < <(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$pid/stat")
    stop_server "$pid"
    awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) 'BEGIN { printf "%.3f\n", (u + s > 0) ? u / (u + s) : 1 }'
}
