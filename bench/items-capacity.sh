#!/usr/bin/env bash
# items-capacity.sh - how many items fit in a fixed memory limit: for each
# value size, fill a fresh server started with -m 64 with sequential keys
# (key:000000001, key:000000002, ...) until it evicts, write a bit more,
# and read curr_items.  Ours against the reference; higher is better.
#
# See bench/README.md.  Quick use:  bench/items-capacity.sh
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/lib.sh"

SIZES=${SIZES:-10 100 1000}
MEMORY_MB=${MEMORY_MB:-64}
SERVER_FLAGS=${SERVER_FLAGS:--t 4 -c 4096}
EXTRA_PCT=${EXTRA_PCT:-10}
OUT_DIR=${OUT_DIR:-}

usage() {
    cat <<EOF
usage: $0 [-s "SIZES"] [-m MB] [-o DIR]

For each value size, starts each server with -m MB (default $MEMORY_MB), sets
sequential keys until 'evictions' in stats turns non-zero, sets $EXTRA_PCT% more,
and reports curr_items for both servers and their ratio (ours/ref).
  -s "LIST"  value sizes in bytes (default "$SIZES")
  -m MB      memory limit given to both servers (default $MEMORY_MB)
  -o DIR     where logs go (default: a new /tmp/mcitems.* dir)
Environment: MC_SERVER, MC_REFERENCE (as for run-bench.sh), SERVER_FLAGS
(other server flags, default "$SERVER_FLAGS"), EXTRA_PCT (default $EXTRA_PCT),
and SIZES MEMORY_MB OUT_DIR as for the options.
EOF
}

while getopts "s:m:o:h" o; do
    case $o in
    s) SIZES=$OPTARG ;;
    m) MEMORY_MB=$OPTARG ;;
    o) OUT_DIR=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 1 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 1; }
[[ $MEMORY_MB =~ ^[1-9][0-9]*$ ]] || die "bad memory size '$MEMORY_MB'"
for s in $SIZES; do
    [[ $s =~ ^[0-9]+$ ]] || die "bad value size '$s'"
done

need_cmd awk mawk
need_cmd timeout coreutils
OURS=$(find_our_server) || exit 1
REF=$(find_ref_server) || exit 1
ensure_mcload

if [ -z "$OUT_DIR" ]; then
    OUT_DIR=$(mktemp -d /tmp/mcitems.XXXXXX)
else
    mkdir -p "$OUT_DIR"
fi

trap 'stop_all_servers' EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2206
FLAGS=($SERVER_FLAGS -m "$MEMORY_MB")

# write_keys PORT FIRST COUNT SIZE: set keys FIRST .. FIRST+COUNT-1
write_keys() {
    local out rc=0
    out=$("$MCLOAD" -q -s 127.0.0.1 -p "$1" -O -b "$2" -k "$3" -v "$4" -c 4 -d 64 -t 1 \
        2>>"$OUT_DIR/mcload.err") || rc=$?
    if [ $rc -ne 0 ]; then
        # set failures (e.g. SERVER_ERROR out of memory) are worth knowing
        # about but do not stop the fill; anything else does
        [ $rc -eq 3 ] || die "mcload failed (exit $rc): $(tail -3 "$OUT_DIR/mcload.err")"
        note "  errors while writing keys $2..$(($2 + $3 - 1)): errors=$(field errors "$out") desyncs=$(field desyncs "$out")"
    fi
}

# fill BINARY LABEL SIZE -> sets R_ITEMS R_EVICT R_WRITTEN R_BYTES R_TOTAL
fill() {
    local bin=$1 label=$2 size=$3
    start_server "$bin" "$OUT_DIR/$label-$size.log" -- "${FLAGS[@]}"
    local pid=$SERVER_PID port=$SERVER_PORT
    # chunk: about a quarter of what could fit, so the first eviction is
    # found within a few rounds without overshooting much
    local chunk=$(( MEMORY_MB * 1048576 / (size + 80) / 4 ))
    [ $chunk -ge 10000 ] || chunk=10000
    local limit=$(( MEMORY_MB * 1048576 * 2 / (size > 0 ? size : 1) + 1000000 ))
    local next=1 evictions=0
    while :; do
        write_keys "$port" "$next" "$chunk" "$size"
        next=$((next + chunk))
        kill -0 "$pid" 2>/dev/null || die "$label server died while being filled (log $OUT_DIR/$label-$size.log)"
        evictions=$(mc_stat "$port" evictions)
        [ -n "$evictions" ] || die "$label server gave no 'evictions' in stats"
        [ "$evictions" -eq 0 ] || break
        [ $((next - 1)) -lt $limit ] ||
            die "$label server: no evictions after $((next - 1)) keys of $size bytes with -m $MEMORY_MB"
    done
    local extra=$(( (next - 1) * EXTRA_PCT / 100 ))
    [ $extra -ge 1 ] || extra=1
    write_keys "$port" "$next" "$extra" "$size"
    next=$((next + extra))
    kill -0 "$pid" 2>/dev/null || die "$label server died while being filled"
    local st
    st=$(mc_cmd "$port" stats)
    R_ITEMS=$(awk '$2 == "curr_items" { print $3 }' <<<"$st")
    R_EVICT=$(awk '$2 == "evictions" { print $3 }' <<<"$st")
    R_TOTAL=$(awk '$2 == "total_items" { print $3 }' <<<"$st")
    R_BYTES=$(awk '$2 == "bytes" { print $3 }' <<<"$st")
    R_WRITTEN=$((next - 1))
    [ -n "$R_ITEMS" ] || die "$label server gave no 'curr_items' in stats"
    echo "size=$size server=$label written=$R_WRITTEN $(awk '$1 == "STAT" { printf "%s=%s ", $2, $3 }' <<<"$st")" \
        >>"$OUT_DIR/stats.txt"
    stop_server "$pid"
}

A_VER=$("$OURS" -V 2>/dev/null | head -1 || true)
B_VER=$("$REF" -V 2>/dev/null | head -1 || true)
{
    echo "# ours: $OURS (${A_VER:-version unknown})"
    echo "# ref:  $REF (${B_VER:-version unknown})"
    echo "# server flags: ${FLAGS[*]}; keys written until evictions > 0, then +$EXTRA_PCT%"
    echo "# stats dumps and logs: $OUT_DIR"
} >&2

FMT='%8s %12s %12s %7s %12s %12s %10s %10s\n'
# shellcheck disable=SC2059
TABLE=$(printf "$FMT" value_B ours_items ref_items ratio ours_written ref_written ours_B/item ref_B/item)
for size in $SIZES; do
    note "value size $size: filling ours"
    fill "$OURS" ours "$size"
    a_items=$R_ITEMS a_written=$R_WRITTEN a_ev=$R_EVICT
    note "  ours: curr_items=$R_ITEMS evictions=$R_EVICT total_items=$R_TOTAL bytes=$R_BYTES written=$R_WRITTEN"
    note "value size $size: filling ref"
    fill "$REF" ref "$size"
    b_items=$R_ITEMS b_written=$R_WRITTEN b_ev=$R_EVICT
    note "  ref:  curr_items=$R_ITEMS evictions=$R_EVICT total_items=$R_TOTAL bytes=$R_BYTES written=$R_WRITTEN"
    : "$a_ev" "$b_ev"
    ratio=$(awk -v a="$a_items" -v b="$b_items" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }')
    mem=$((MEMORY_MB * 1048576))
    # shellcheck disable=SC2059
    TABLE+=$'\n'$(printf "$FMT" "$size" "$a_items" "$b_items" "$ratio" "$a_written" "$b_written" \
        "$(awk -v m=$mem -v n="$a_items" 'BEGIN { printf "%.1f", n ? m / n : 0 }')" \
        "$(awk -v m=$mem -v n="$b_items" 'BEGIN { printf "%.1f", n ? m / n : 0 }')")
done

echo
echo "$TABLE"
echo
echo "items: curr_items after the fill (higher is better); ratio = ours/ref."
echo "written: keys set in all; B/item: the -m limit divided by curr_items."
