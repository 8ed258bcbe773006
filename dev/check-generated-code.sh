#!/usr/bin/env bash
# Fails when the committed generated code differs from what Protos/ generates.
set -euo pipefail
cd "$(dirname "$0")/.."
dev/generate-protos.sh
if ! git diff --exit-code -- Sources/SegmentsWire/Generated || [ -n "$(git status --porcelain -- Sources/SegmentsWire/Generated)" ]; then
    echo "check-generated-code: Sources/SegmentsWire/Generated is stale; run dev/generate-protos.sh and commit" >&2
    exit 1
fi
echo "check-generated-code: generated code is up to date" >&2
