#!/bin/bash
# Measures a clock advance over a kept segbench data set (issue 11, item 7): copies a kept store and
# evaluator, starts the store with a manual clock at the current instant, starts the evaluator and
# waits until it is at the store's head, then moves the clock forward (`segclient clock advance`)
# and reports how long the evaluator took to apply the move, its CPU meanwhile, and how many
# transitions the move caused (counted in its transition log). "At the head" is polled with
# `segclient status --max-lag 0`, every 10 ms plus a process start.
#
# Usage: dev/time-advance.sh BIN_DIR KEPT_RUN_DIR [DURATION] [runs]
#   BIN_DIR       holds profile-store, segment-evaluator and segclient (e.g. .build/release)
#   KEPT_RUN_DIR  the work directory of `segbench --scale large --keep --work-dir DIR`
#                 (DIR/segbench-*, holding store/ and evaluator/)
#   DURATION      how far to move the clock, e.g. 1d (default), 1h, 7d
# PERF=1 records the evaluator with perf during the advance (perf.data in the run's directory,
# which is then kept); KEEP=1 keeps that directory too.
# BURST=N first imports N `burst_ping` events stamped at the manual clock's instant, one for each of
# N new users, whom segbench's `bench_burst` segment (`count(burst_ping within 3s) >= 1`) takes in:
# an advance of 3s then makes all N leave at one instant (segbench's burst of due exits).
set -euo pipefail
. "$(dirname "$0")/kept-pair.sh"
bin=${1:?bin directory}
kept=${2:?kept segbench work directory}
duration=${3:-1d}
runs=${4:-1}

for _ in $(seq "$runs"); do
    work=$(mktemp -d /tmp/time-advance.XXXXXX)
    start_kept_pair "$work" --manual-clock "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    if [ "${BURST:-0}" -gt 0 ]; then
        python3 -c "
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({'user': 'burst-%d' % i, 'event': 'burst_ping', 'id': 'burst-%d' % i}))" "$BURST" >"$work/burst.ndjson"
        "$bin/segclient" import events "$work/burst.ndjson" --batch 5000 --store "$work/store.sock" >/dev/null
        until caught_up "$work"; do sleep 0.5; done
    fi
    # Let the evaluator's idle-time save and memory release finish before measuring.
    sleep 5
    if [ "${PERF:-0}" = 1 ]; then
        perf record -F 999 -g -p "$evaluator" -o "$work/perf.data" 2>"$work/perf.log" &
        perf_pid=$!
        sleep 1
    fi
    before=$(python3 -c "import sqlite3, sys; db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
print(db.execute('SELECT coalesce(max(seq), 0) FROM transitions').fetchone()[0])" "$work/evaluator/evaluator.sqlite")
    log_lines=$(wc -l <"$work/evaluator.log")
    cpu0=$(awk '{print $14 + $15}' "/proc/$evaluator/stat")
    start=$(date +%s.%N)
    "$bin/segclient" clock advance "$duration" --store "$work/store.sock" >/dev/null
    acked=$(date +%s.%N)
    until caught_up "$work"; do sleep 0.01; done
    done_at=$(date +%s.%N)
    cpu1=$(awk '{print $14 + $15}' "/proc/$evaluator/stat")
    if [ "${PERF:-0}" = 1 ]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
    fi
    kill "$evaluator" "$store"
    wait "$evaluator" "$store" 2>/dev/null || true
    # The engine's own time for the move, from the evaluator's "moved time forward" line (logged from
    # 100 ms) among the lines written since the request.
    engine=$(tail -n +"$((log_lines + 1))" "$work/evaluator.log" | grep "moved time forward" | tail -1 |
        sed -n 's/.* took=\([0-9.e-]* [a-z]*\).*/\1/p' || true)
    # The move's transitions are those recorded after it was requested (they carry the log position
    # before the clock entry: time passes before an entry is applied).
    python3 - "$work/evaluator/evaluator.sqlite" "$before" "${engine:-under 100 ms}" <<EOF
import sqlite3, sys
db = sqlite3.connect('file:%s?mode=ro' % sys.argv[1], uri=True)
n = db.execute('SELECT count(*) FROM transitions WHERE seq > ?', (int(sys.argv[2]),)).fetchone()[0]
wall = $done_at - $start
print('advance $duration: %d transitions; engine %s; evaluator at the head %.3f s after the request '
      '(store ack %.3f s); evaluator CPU %.2f s' % (n, sys.argv[3], wall, $acked - $start, ($cpu1 - $cpu0) / 100))
EOF
    if [ "${PERF:-0}" = 1 ] || [ "${KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
done
