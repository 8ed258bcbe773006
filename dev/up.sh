#!/usr/bin/env bash
# Quick start: builds the release binaries and starts the profile store, one evaluator and the web
# console in the background (set SEGMENTS_MANUAL_CLOCK=2026-11-01T00:00:00Z for test mode), with
# data under ./data and sockets where segclient looks by default ($XDG_RUNTIME_DIR/segments or
# /tmp/segments). The console listens on SEGMENTS_CONSOLE_LISTEN (default 127.0.0.1:8080); its
# access token is made once in data/console-token. Logs go to ./data/logs. Stop them with
# dev/down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
dev/install-deps.sh
swift build -c release --product profile-store
swift build -c release --product segment-evaluator
swift build -c release --product segclient
swift build -c release --product segments-console
bin="$(swift build -c release --show-bin-path)"
run_dir="${XDG_RUNTIME_DIR:-/tmp}/segments"
mkdir -p data/logs "$run_dir"
manual=()
[ -n "${SEGMENTS_MANUAL_CLOCK:-}" ] && manual=(--manual-clock "$SEGMENTS_MANUAL_CLOCK")

# Waits for the daemon's "ready" log line, not for its socket file: after a crash the old file is still there
# (the daemon replaces it once it has opened its data, which takes a moment on a large store).
start() { # name pidfile socket ready-message command...
    local name=$1 pidfile=$2 socket=$3 ready=$4
    shift 4
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "$name already running (pid $(cat "$pidfile"))"
        return
    fi
    local log="data/logs/$name.log" seen
    seen=$(wc -l <"$log" 2>/dev/null || echo 0)
    "$@" >>"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 1200); do
        if [ -S "$socket" ] && tail -n +"$((seen + 1))" "$log" | grep -q "$ready"; then
            echo "$name running (pid $(cat "$pidfile")), socket $socket"
            return
        fi
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "$name failed to start:"; tail -5 "data/logs/$name.log"; exit 1; }
        sleep 0.05
    done
    echo "$name did not open $socket in time"; exit 1
}

start profile-store data/profile-store.pid "$run_dir/store.sock" "profile store ready" \
    "$bin/profile-store" --socket "$run_dir/store.sock" --data-dir data/store "${manual[@]}"
start segment-evaluator-0 data/segment-evaluator-0.pid "$run_dir/evaluator-0.sock" "segment evaluator ready" \
    "$bin/segment-evaluator" --store "$run_dir/store.sock" --socket "$run_dir/evaluator-0.sock" \
    --data-dir data/evaluator-0 --shard 0/1
if [ ! -s data/console-token ]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >data/console-token)
fi
listen="${SEGMENTS_CONSOLE_LISTEN:-127.0.0.1:8080}"
if [ -f data/segments-console.pid ] && kill -0 "$(cat data/segments-console.pid)" 2>/dev/null; then
    echo "segments-console already running (pid $(cat data/segments-console.pid))"
else
    "$bin/segments-console" --store "$run_dir/store.sock" --evaluator "$run_dir/evaluator-0.sock" \
        --listen "$listen" --token-file data/console-token >>data/logs/segments-console.log 2>&1 &
    echo $! >data/segments-console.pid
    for _ in $(seq 1 200); do
        grep -q "console ready" data/logs/segments-console.log 2>/dev/null && break
        kill -0 "$(cat data/segments-console.pid)" 2>/dev/null || {
            echo "segments-console failed to start:"; tail -5 data/logs/segments-console.log; exit 1
        }
        sleep 0.05
    done
    echo "segments-console running (pid $(cat data/segments-console.pid)): http://$listen (token in data/console-token)"
fi
echo "segclient: $bin/segclient   (try: $bin/segclient status)"
