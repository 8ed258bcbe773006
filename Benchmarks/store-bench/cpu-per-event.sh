#!/usr/bin/env bash
# One import of an NDJSON events file into a fresh release profile-store (durability full),
# printing wall events/s and each process's CPU time per event (perf stat task-clock, which
# is much less sensitive to other load on the machine than the wall rate).
#
#   Benchmarks/store-bench/cpu-per-event.sh [BIN_DIR] [EVENTS] [BATCH]
#
# BIN_DIR holds profile-store and segclient (default .build/release); EVENTS defaults to
# /tmp/events-1m.ndjson (make it with gen-events.py); BATCH defaults to 20000.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/.build/release}
EVENTS=${2:-/tmp/events-1m.ndjson}
BATCH=${3:-20000}
D=$(mktemp -d /tmp/cpe.XXXXXX)
trap 'rm -rf "$D"' EXIT
perf stat -x, -e task-clock -o "$D/store.stat" "$BIN/profile-store" --socket "$D/s.sock" \
    --data-dir "$D/data" --durability full --log-level warning 2>"$D/store.log" &
PERF=$!
for _ in $(seq 100); do [[ -S "$D/s.sock" ]] && break; sleep 0.1; done
start=$(date +%s.%N)
SEGMENTS_STORE_SOCKET=$D/s.sock perf stat -x, -e task-clock -o "$D/client.stat" \
    "$BIN/segclient" import events "$EVENTS" --batch "$BATCH" --json >"$D/out.json"
end=$(date +%s.%N)
kill -TERM "$(pgrep -P "$PERF")"; wait "$PERF" || true
python3 - "$start" "$end" "$D" <<'PY'
import json, sys
start, end, d = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def ms(path):
    for line in open(path):
        parts = line.strip().split(',')
        if len(parts) > 2 and parts[2] == 'task-clock':
            return float(parts[0])
out = json.load(open(f'{d}/out.json'))
n = out['lines']
print(f"{n / (end - start):,.0f} events/s wall; store {ms(f'{d}/store.stat') / n * 1e3:.2f} µs CPU/event; "
      f"client {ms(f'{d}/client.stat') / n * 1e3:.2f} µs CPU/event; stored {out['stored']}, "
      f"duplicates {out['duplicates']}, failed {out['failed']}")
PY
