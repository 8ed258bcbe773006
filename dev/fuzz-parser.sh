#!/usr/bin/env bash
# Runs the segment language fuzzer: `dev/fuzz.sh segment-language SECONDS`, kept for old habits.
#
#   dev/fuzz-parser.sh [SECONDS] [extra libFuzzer flags...]     (default 60 seconds)
set -euo pipefail
seconds="${1:-60}"
shift || true
exec "$(dirname "$0")/fuzz.sh" segment-language "$seconds" "$@"
