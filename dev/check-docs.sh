#!/usr/bin/env bash
# Builds the client library's DocC catalog (Sources/SegmentsClient/SegmentsClient.docc) against the
# library's public symbols and fails on any warning: a broken symbol link, an undocumented
# parameter. Writes the site to DIR when given (default: a temporary directory).
#   dev/check-docs.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swift package dump-symbol-graph --minimum-access-level public >"$work/dump.log" 2>&1 || {
    cat "$work/dump.log" >&2
    exit 1
}
mkdir "$work/symbols"
cp "$(dirname "$(swift build --show-bin-path)")"/symbolgraph/SegmentsClient*.symbols.json "$work/symbols/"
docc convert Sources/SegmentsClient/SegmentsClient.docc \
    --additional-symbol-graph-dir "$work/symbols" \
    --fallback-display-name SegmentsClient --fallback-bundle-identifier org.segments.client \
    --output-path "${out:-$work/site}" --warnings-as-errors
