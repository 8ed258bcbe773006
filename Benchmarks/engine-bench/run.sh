#!/usr/bin/env bash
# Builds and runs the engine benchmark (release). Figures are CPU time of the process (getrusage), so other load on
# the machine slows them less than wall time would; still, run it two or three times and keep the best.
#   Benchmarks/engine-bench/run.sh                      # 100k users, 2M events, 50 segments
#   Benchmarks/engine-bench/run.sh --users 10000 --events 200000 --no-replay   # quick
# Writes the output to results/engine-bench-<UTC time>.txt as well.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --product engine-bench >&2
mkdir -p results
out="results/engine-bench-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
    echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || true) nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) $(grep MemTotal /proc/meminfo | xargs)"
    echo "# engine-bench $*"
    .build/release/engine-bench "$@"
} | tee "$out"
