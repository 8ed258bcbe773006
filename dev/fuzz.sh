#!/usr/bin/env bash
# Builds a libFuzzer target with --sanitize=fuzzer and runs it for a number of seconds (docs/fuzzing.md).
#
#   dev/fuzz.sh TARGET|all SECONDS [extra libFuzzer flags...]   build and run (all: each target in turn)
#   dev/fuzz.sh --seed TARGET|all                               write the target's seed inputs into its corpus
#   dev/fuzz.sh --merge TARGET|all                              fold what runs found, minimised, into the corpus
#
# TARGET is a product of the SEGMENTS_FUZZ block of Package.swift, with or without its -fuzz suffix: wire,
# store-rpc, evaluator-rpc, ndjson, webhook, segment-language.
#
# Runs from the package root, release build in .build-fuzz. libFuzzer reads the committed corpus
# Fuzz/corpus/TARGET and writes what it finds to the working corpus .build-fuzz/fuzz/corpus/TARGET (not committed;
# --merge folds it, minimised, into the committed one). The dictionary is Fuzz/dictionaries/TARGET.dict when there
# is one. Crashing inputs are written to .build-fuzz/fuzz/artifacts/TARGET/ (not .build-fuzz/artifacts, which
# SwiftPM owns and clears when it builds); a fixed one goes to Fuzz/regressions/TARGET/, which
# `swift test --filter FuzzRegressionTests` replays.
# Set SEGMENTS_FUZZ_PACKAGE to build from another package that declares the same targets.
set -euo pipefail

all_targets=(wire-fuzz store-rpc-fuzz evaluator-rpc-fuzz ndjson-fuzz webhook-fuzz segment-language-fuzz)
root="$(cd "$(dirname "$0")/.." && pwd)"
package="${SEGMENTS_FUZZ_PACKAGE:-$root}"
scratch="$package/.build-fuzz"

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

mode=run
case "${1:-}" in
    --seed) mode=seed; shift ;;
    --merge) mode=merge; shift ;;
    -h | --help | "") usage ;;
esac
[ $# -ge 1 ] || usage
if [ "$1" = all ]; then
    targets=("${all_targets[@]}")
else
    name="${1%-fuzz}-fuzz"
    printf '%s\n' "${all_targets[@]}" | grep -qx "$name" || { echo "unknown fuzz target: $1" >&2; usage; }
    targets=("$name")
fi
shift
if [ "$mode" = run ]; then
    [ $# -ge 1 ] || usage
    seconds="$1"
    shift
fi

build() {
    (cd "$package" && SEGMENTS_FUZZ=1 swift build -c release --product "$1" --sanitize=fuzzer --scratch-path "$scratch")
}

for target in "${targets[@]}"; do
    build "$target"
    binary="$scratch/release/$target"
    corpus="$root/Fuzz/corpus/$target"
    work="$scratch/fuzz/corpus/$target"
    artifacts="$scratch/fuzz/artifacts/$target"
    mkdir -p "$corpus" "$work" "$artifacts"
    case "$mode" in
        seed)
            # The seeds are Swift values of the target's checks (so they follow the protocol); new ones only.
            seeds="$(mktemp -d)"
            SEGMENTS_FUZZ_WRITE_SEEDS="$seeds" "$binary" -runs=0 >/dev/null 2>&1 || true
            SWIFT_BACKTRACE=enable=no "$binary" -merge=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds" 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' || true
            rm -rf "$seeds"
            ;;
        merge)
            # A minimal set of inputs covering every edge (-set_cover_merge, counters off) keeps the committed
            # corpus to a few hundred files; the working corpus keeps everything for the next run.
            merged="$(mktemp -d)"
            SWIFT_BACKTRACE=enable=no "$binary" -set_cover_merge=1 -use_counters=0 -artifact_prefix="$artifacts/" \
                "$merged" "$corpus" "$work" 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' || true
            rm -rf "$corpus"
            mv "$merged" "$corpus"
            echo "$target: $(ls "$corpus" | wc -l) files in Fuzz/corpus/$target"
            ;;
        run)
            dictionary=()
            if [ -f "$root/Fuzz/dictionaries/$target.dict" ]; then
                dictionary=(-dict="$root/Fuzz/dictionaries/$target.dict")
            fi
            # SWIFT_BACKTRACE=enable=no lets libFuzzer catch the crash and save the input.
            SWIFT_BACKTRACE=enable=no "$binary" \
                -max_total_time="$seconds" \
                -max_len=4096 \
                -timeout=30 \
                "${dictionary[@]}" \
                -artifact_prefix="$artifacts/" \
                -print_final_stats=1 \
                "$@" \
                "$work" "$corpus"
            ;;
    esac
done
