#!/usr/bin/env bash
# Regenerates the Swift code for Protos/ into Sources/SegmentsWire/Generated.
#
# Uses protoc from Debian's protobuf-compiler and protoc-gen-swift built from this package's own
# swift-protobuf dependency (same version as the runtime), never swift-protobuf's build plugin.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null; then
    echo "generate-protos: installing protobuf-compiler" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi

scratch=".build-protoc"
swift build -c release --scratch-path "$scratch" --product protoc-gen-swift >&2
plugin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/protoc-gen-swift"

out="Sources/SegmentsWire/Generated"
rm -rf "$out"
mkdir -p "$out"
protoc \
    --plugin=protoc-gen-swift="$plugin" \
    --swift_out="$out" \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=DropPath \
    -I Protos \
    Protos/segments/v1/*.proto
echo "generate-protos: wrote $(ls "$out" | wc -l) files to $out" >&2
