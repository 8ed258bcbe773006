#!/usr/bin/env bash
# Stops the daemons started by dev/up.sh (SIGTERM: in-flight writes finish first).
set -euo pipefail
cd "$(dirname "$0")/.."
for pidfile in data/segments-console.pid data/segment-evaluator-*.pid data/profile-store.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "stopped $(basename "$pidfile" .pid)"
    fi
    rm -f "$pidfile"
done
