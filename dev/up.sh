#!/usr/bin/env bash
# Quick start: builds the release binaries and starts the profile store and one evaluator in the
# background (set SEGMENTS_MANUAL_CLOCK=2026-11-01T00:00:00Z for test mode), with data
# under ./data and sockets where segclient looks by default ($XDG_RUNTIME_DIR/segments or
# /tmp/segments). Logs go to ./data/logs. Stop them with dev/down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
dev/install-deps.sh
swift build -c release --product profile-store
swift build -c release --product segment-evaluator
swift build -c release --product segclient
bin="$(swift build -c release --show-bin-path)"
run_dir="${XDG_RUNTIME_DIR:-/tmp}/segments"
mkdir -p data/logs "$run_dir"
manual=()
[ -n "${SEGMENTS_MANUAL_CLOCK:-}" ] && manual=(--manual-clock "$SEGMENTS_MANUAL_CLOCK")

start() { # name pidfile socket command...
    local name=$1 pidfile=$2 socket=$3
    shift 3
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "$name already running (pid $(cat "$pidfile"))"
        return
    fi
    "$@" >>"data/logs/$name.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 200); do
        [ -S "$socket" ] && { echo "$name running (pid $(cat "$pidfile")), socket $socket"; return; }
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "$name failed to start:"; tail -5 "data/logs/$name.log"; exit 1; }
        sleep 0.05
    done
    echo "$name did not open $socket in time"; exit 1
}

start profile-store data/profile-store.pid "$run_dir/store.sock" \
    "$bin/profile-store" --socket "$run_dir/store.sock" --data-dir data/store "${manual[@]}"
start segment-evaluator-0 data/segment-evaluator-0.pid "$run_dir/evaluator-0.sock" \
    "$bin/segment-evaluator" --store "$run_dir/store.sock" --socket "$run_dir/evaluator-0.sock" \
    --data-dir data/evaluator-0 --shard 0/1
echo "segclient: $bin/segclient   (try: $bin/segclient status)"
