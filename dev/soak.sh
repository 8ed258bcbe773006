#!/usr/bin/env bash
# The hostile randomized workload (Tests/IntegrationTests/HostileWorkload.swift) against release
# builds of the daemons and segclient (the test itself is a debug build: the release compiler
# crashes on one of the other test files), at its CI size or as a soak.
#
#   dev/soak.sh                      # CI size: 2 epochs of 10 phases, seed 20261205
#   dev/soak.sh --seed 7             # the same with another seed
#   dev/soak.sh --soak 3600          # epochs of 40 phases (fresh daemons, next seed) for an hour
#
# The summary (epochs, phases, seeds, operations, restarts by kind, watch batches, checks, the
# slowest catch-up) is printed at the end; a failing phase names its seed and phase, and the
# daemons' directory is kept under /tmp/segments-failed-*.
set -euo pipefail
cd "$(dirname "$0")/.."

seed=""
soak=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        --soak) soak="$2"; shift 2 ;;
        *) echo "usage: dev/soak.sh [--seed N] [--soak SECONDS]" >&2; exit 2 ;;
    esac
done

dev/install-deps.sh
echo "== build (release daemons and segclient; debug tests that drive them)" >&2
swift build -c release >&2
swift build --build-tests >&2
export SEGMENTS_TEST_BINARIES="$(swift build -c release --show-bin-path)"
[ -n "$seed" ] && export SEGMENTS_HOSTILE_SEED="$seed"
[ -n "$soak" ] && export SEGMENTS_HOSTILE_SOAK_SECONDS="$soak"
swift test --skip-build --filter HostileWorkloadTests 2>&1 \
    | grep -v -e '^↳' -e '^◇' -e '^Test Suite' -e 'Executed 0 tests'
