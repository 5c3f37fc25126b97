#!/bin/sh
# fuzz/run.sh: runs each fuzz target over its corpus for a bounded time.
# Usage: fuzz/run.sh BUILDDIR SECONDS [TARGET...] (default: every target).
# A crash stops with the target's status; its input is left as
# BUILDDIR/fuzz/crash-* (add it to fuzz/corpus/<target>/ with the fix).
# New inputs found go to a scratch corpus, not the committed one.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
seconds=$2
shift 2
[ $# -gt 0 ] || set -- text meta binary udp authfile restart options
status=0
for t in "$@"; do
    bin=$build/fuzz/fuzz-$t
    [ -x "$bin" ] || { echo "run.sh: $bin not built (make fuzz)" >&2; exit 1; }
    work=$build/fuzz/work-$t
    mkdir -p "$work"
    echo "== fuzz-$t: ${seconds}s"
    # -close_fd_mask=1: the options parser prints its refusals to stdout.
    if (cd "$build/fuzz" && "$bin" -max_total_time="$seconds" -timeout=10 \
            -rss_limit_mb=2048 -max_len=65536 -close_fd_mask=1 -print_final_stats=1 \
            "$work" "$here/corpus/$t" >"$work.log" 2>&1); then
        grep -E '^#[0-9]+.*DONE|^stat::' "$work.log" || tail -n 5 "$work.log"
    else
        tail -n 60 "$work.log"
        status=1
    fi
done
exit $status
