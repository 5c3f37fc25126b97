#!/usr/bin/env bash
# rss-over-limit.sh: how much resident memory a full server holds above its
# -m limit (hash table, connection and thread buffers, code, libraries).
#
# Each server (ours, then the reference, then any binary in MC_EXTRA, a
# space-separated list) is started fresh ROUNDS times with -m MB (default 8,
# -t 4), written about 50 MB of values of 1024-4096 bytes (mcload -O: keys
# 0 .. 19999 set once, pipelined), and once that is done its VmRSS (from
# /proc/PID/status) less the limit is printed, per round and as the range.
# Nothing else is running in the server meanwhile; evictions keep the items
# within the limit, so what is above it is the server's own overhead.
#
# With -s, the last round of each server also prints where its resident
# memory is (from /proc/PID/smaps): anonymous memory (heap, thread stacks,
# the hash table, the item pages) and each file-backed object's resident
# pages (the binary and every shared library), in kB.
#
# Usage: bench/rss-over-limit.sh [-r ROUNDS] [-m MB] [-k KEYS] [-s]
# Env: MC_SERVER (ours), MC_REFERENCE (default /usr/bin/memcached), MC_EXTRA.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 MB=8 KEYS=20000 SMAPS=0
while getopts "r:m:k:sh" o; do
    case $o in
    r) ROUNDS=$OPTARG ;;
    m) MB=$OPTARG ;;
    k) KEYS=$OPTARG ;;
    s) SMAPS=1 ;;
    *) sed -n '/^# Usage/,/^# Env/s/^# \{0,1\}//p' "$0"; exit 1 ;;
    esac
done
ensure_mcload
SERVERS=("$(find_our_server)" "$(find_ref_server)")
for x in ${MC_EXTRA:-}; do
    SERVERS+=("$(resolve_server "$x" || die "MC_EXTRA: no server binary at $x")")
done

OUT=$(mktemp -d /tmp/rss-over-limit.XXXXXX)
trap 'stop_all_servers' EXIT

vmrss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# smaps_by_object PID: resident kB per backing object, largest first (heap,
# stacks and other anonymous mappings as one [anon]); a file's mappings
# (text, data, relro) are summed under its name.
smaps_by_object() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]"
                                   if (name ~ /^\[(heap|stack)/ || name ~ /^\[anon/) name = "[anon]" }
         $1 == "Rss:" { rss[name] += $2 }
         END { for (n in rss) if (rss[n] > 0) printf "    %8d kB  %s\n", rss[n], n }' \
        "/proc/$1/smaps" | sort -k3,3 -s | sort -rn -s
}

printf '%-40s %5s %12s %16s %10s\n' server round rss_kB over_limit_kB evictions
for bin in "${SERVERS[@]}"; do
    over=()
    for r in $(seq 1 "$ROUNDS"); do
        start_server "$bin" "$OUT/server.log" -- -m "$MB" -t 4
        "$MCLOAD" -p "$SERVER_PORT" -k "$KEYS" -v 1024-4096 -O -q >/dev/null
        rss=$(vmrss_kb "$SERVER_PID")
        ev=$(mc_stat "$SERVER_PORT" evictions)
        over+=($((rss - MB * 1024)))
        printf '%-40s %5d %12d %16d %10d\n' "$bin" "$r" "$rss" "${over[-1]}" "$ev"
        if [ "$SMAPS" = 1 ] && [ "$r" = "$ROUNDS" ]; then
            smaps_by_object "$SERVER_PID"
        fi
        stop_server "$SERVER_PID"
    done
    lo=$(printf '%s\n' "${over[@]}" | sort -n | head -1)
    hi=$(printf '%s\n' "${over[@]}" | sort -n | tail -1)
    awk -v b="$bin" -v lo="$lo" -v hi="$hi" -v mb="$MB" \
        'BEGIN { printf "%s: -m %d, resident above the limit %.1f-%.1f MB\n", b, mb, lo / 1024, hi / 1024 }'
done
