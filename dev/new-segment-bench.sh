#!/bin/bash
# Times what a new user does first: data loaded, then segments defined. Starts a store and an
# evaluator in a temporary directory, loads segbench's data at SCALE into them (with the 67 segbench
# segments), then times, put → first read that sees the segment (segclient check --min-seq):
#   shared:  a segment over aggregates and attributes already kept (evaluated for every user)
#   derived: a new window over events already kept (computed from memory, no read of the log)
#   read:    a new filter over page_view (a read of the change log from its start)
#   burst:   ten segments with new filters over add_to_cart, created one after the other
# and prints the evaluator's log lines about back-fill reads.
#
# Usage: dev/new-segment-bench.sh [SCALE]   (after swift build -c release; default medium)
set -euo pipefail
scale=${1:-medium}
cd "$(dirname "$0")/.."
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/new-segment-bench.XXXXXX)
cleanup() {
    kill "$(cat "$work/ev.pid" 2>/dev/null)" "$(cat "$work/store.pid" 2>/dev/null)" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/profile-store" --socket "$work/store.sock" --data-dir "$work/store" --log-level warning \
    >>"$work/store.log" 2>&1 &
echo $! >"$work/store.pid"
until [ -S "$work/store.sock" ]; do sleep 0.05; done
"$bin/segment-evaluator" --store "$work/store.sock" --socket "$work/ev.sock" --data-dir "$work/ev" \
    --log-level info >>"$work/ev.log" 2>&1 &
echo $! >"$work/ev.pid"
until [ -S "$work/ev.sock" ]; do sleep 0.05; done

echo "loading segbench data ($scale) ..."
"$bin/segbench" --scale "$scale" --quick --out "$work/segbench" \
    --store-socket "$work/store.sock" --evaluator-socket "$work/ev.sock" >"$work/segbench.log" 2>&1

export SEGMENTS_STORE_SOCKET=$work/store.sock SEGMENTS_EVALUATOR_SOCKET=$work/ev.sock
c=$bin/segclient
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
head_seq() { "$c" status --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["head_seq"])'; }
# Waits until the evaluator has applied store change $1 and answers for segment $2.
await() { until "$c" check --min-seq "$1" u0 "$2" >/dev/null 2>&1; do :; done; }
put() {
    local start seq
    start=$(date +%s%N)
    seq=$("$c" segment create "$1" "$2" | grep -o 'seq [0-9]*' | grep -o '[0-9]*')
    await "$seq" "$1"
    printf '%-8s %6s ms  %s\n' "$3" "$(ms "$start")" "$2"
}
await "$(head_seq)" plan_free
put nsb_shared 'sum(purchase.amount within 90d) > 100 and not plan = "free"' shared
put nsb_derived 'count(purchase within 45d) >= 2' derived
put nsb_read 'count(page_view where url starts_with "/blog" within 3d) >= 1' read
start=$(date +%s%N)
for i in $(seq 1 10); do
    "$c" segment create "nsb_burst_$i" "count(add_to_cart where price > $i within ${i}d) >= 1" >/dev/null
done
await "$(head_seq)" nsb_burst_10
printf '%-8s %6s ms  %s\n' burst "$(ms "$start")" "10 × count(add_to_cart where price > i within id) >= 1"
echo "back-fill reads (evaluator log):"
grep -o 'events-kept=[0-9]* needs=.*read-time=[0-9.]* [a-z]*' "$work/ev.log" || true
