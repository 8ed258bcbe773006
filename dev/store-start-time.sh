#!/usr/bin/env bash
# How long a profile store takes to start serving on an existing database, and its peak memory meanwhile: it starts
# BINARY on the PostgreSQL database URL (or the SQLite data directory DIR), times the start until the store's socket
# appears, waits for the event-id filter's load to end (it runs while the store serves), prints the load's log line and
# the peak RSS (VmHWM) until then, and stops the store.
#
#   dev/store-start-time.sh .build/release/profile-store --postgres postgres://postgres@127.0.0.1:55432/segbench_medium
#   dev/store-start-time.sh .build/release/profile-store --data-dir /tmp/keep/store
#
# A standby's takeover runs the same start. Databases left by `segbench --keep` (SQLite) or `segbench --postgres URL`.
set -euo pipefail
binary=${1:?usage: store-start-time.sh BINARY --postgres URL | --data-dir DIR}
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s.%N)
"$binary" --socket "$work/store.sock" "$@" >"$work/store.log" 2>&1 &
pid=$!
while [ ! -S "$work/store.sock" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "the store exited:" >&2; cat "$work/store.log" >&2; exit 1; }
    sleep 0.05
done
ready=$(date +%s.%N)
for _ in $(seq 1200); do
    grep -q "event-id filter" "$work/store.log" && break
    sleep 0.1
done
peak=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$pid/status")
kill "$pid"
wait "$pid" || true
echo "ready after $(echo "$ready - $start" | bc) s; peak RSS $peak MiB until the event-id filter was loaded"
grep "event-id filter" "$work/store.log" || echo "(the event-id filter was not loaded within 120 s)"
