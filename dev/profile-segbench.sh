#!/bin/bash
# Runs segbench once and records perf profiles of both daemons during two phases:
# the evaluator's catch-up and the unpaced live-ingest run.
#
# Usage: dev/profile-segbench.sh SCALE OUTDIR   (after swift build -c release)
# Writes OUTDIR/{catchup,live}-{ev,st}.data and OUTDIR/segbench.log. Read a profile with
#   perf report -i OUTDIR/live-ev.data --children --sort symbol -g none | swift demangle --simplified
# perf must be allowed to attach to your own processes (kernel.perf_event_paranoid <= 2).
# CALL_GRAPH=dwarf records the evaluator's stacks from DWARF (complete through inlined Swift frames;
# larger files, so at 199 Hz) instead of frame pointers.
set -euo pipefail
scale=${1:?scale: small, medium or large}
out=${2:?output directory}
mkdir -p "$out"
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/segbench-profile.XXXXXX)
trap 'rmdir "$work" 2>/dev/null || true' EXIT
.build/release/segbench --scale "$scale" --out "$out/segbench" --work-dir "$work" >"$out/segbench.log" 2>&1 &
bench=$!

wait_for_line() {
    until grep -q "$1" "$out/segbench.log"; do
        kill -0 "$bench" 2>/dev/null || { echo "segbench ended early; see $out/segbench.log" >&2; exit 1; }
        sleep 0.1
    done
}

# Records both daemons until segbench prints $2; profiles named $1-ev and $1-st.
record_until() {
    local evaluator store
    evaluator=$(pgrep -f "segment-evaluator --store $work")
    store=$(pgrep -f "profile-store --socket $work")
    if [ "${CALL_GRAPH:-fp}" = dwarf ]; then
        perf record -F 199 --call-graph dwarf,16384 -p "$evaluator" -o "$out/$1-ev.data" 2>/dev/null &
    else
        perf record -F 499 -g -p "$evaluator" -o "$out/$1-ev.data" 2>/dev/null &
    fi
    local p1=$!
    perf record -F 499 -g -p "$store" -o "$out/$1-st.data" 2>/dev/null &
    local p2=$!
    wait_for_line "$2"
    kill -INT "$p1" "$p2"
    wait "$p1" "$p2" || true
}

until pgrep -f "segment-evaluator --store $work" >/dev/null; do
    kill -0 "$bench" 2>/dev/null || { echo "segbench ended early; see $out/segbench.log" >&2; exit 1; }
    sleep 0.2
done
record_until catchup "caught up"
wait_for_line "burst:"
record_until live "live ingest, unpaced"
wait "$bench"
echo "profiles in $out"
