#!/usr/bin/env bash
# Builds the segment language fuzzer with libFuzzer and runs it for a number of seconds.
#
#   dev/fuzz-parser.sh [SECONDS] [extra libFuzzer flags...]     (default 60 seconds)
#
# Runs from the package root. The working corpus lives in .build-fuzz/corpus (seeded below); crashing inputs are
# written to .build-fuzz/artifacts/. Seeds and dictionary live in this script, not in the target's directory,
# so that SwiftPM sees no unhandled files there.
# Set SEGMENTS_FUZZ_PACKAGE to build from another package that declares the same target (for example a private
# dev package while the main package does not compile).
set -euo pipefail

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
package="${SEGMENTS_FUZZ_PACKAGE:-$root}"
scratch="$package/.build-fuzz"

cd "$package"
SEGMENTS_FUZZ=1 swift build -c release --product segment-language-fuzz --sanitize=fuzzer --scratch-path "$scratch"
binary="$scratch/release/segment-language-fuzz"

mkdir -p "$scratch/corpus" "$scratch/artifacts"

# Seeds: the contract's examples and lines that touch every part of the grammar, one input per line.
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" > "$scratch/corpus/seed-$n"
done <<'SEEDS'
plan = "pro" and country in ["DE", "FR"] and age >= 18
first(signup where source not in ["ads", [1, 2]]) <= 2026-01-01T00:00:00.5+02:00 and exists(plan) and count(x) = 1e3
count(purchase) >= 1 and count(purchase within 30d) = 0      # lapsed buyers
last(purchase) < 30d ago                                     # the same
count(page_view where url starts_with "/pricing" within 7d) >= 3
sum(purchase.amount within 90d) > 500
count(add_to_cart within 2d) >= 1 and count(purchase within 2d) = 0
signup_at > 14d ago and not in_segment("employees")
not (plan = "pro") or plan != "pro" or tags contains "a" or `first name` ends_with "x"
avg("page view".`load ms` where ok = true and at_ms > now within 12h) >= 1.5 and min(e.p) < -3 and max(e.p) != 0
SEEDS

# Keywords, operators and token shapes, for libFuzzer's -dict.
cat > "$scratch/segment.dict" <<'DICT'
# Keywords, operators and shapes of the segment language, for libFuzzer's -dict.
"and"
"or"
"not"
"in"
"not in"
"contains"
"starts_with"
"ends_with"
"exists("
"in_segment(\"a\")"
"count("
"sum("
"avg("
"min("
"max("
"first("
"last("
" where "
" within "
" ago"
"now"
"true"
"false"
"="
"=="
"!="
"<"
"<="
">"
">="
"("
")"
"["
"]"
","
"."
"#"
"`"
"\""
"\\u00e9"
"\\uD83D\\uDE00"
"30d"
"0s"
"2w"
"15m"
"12h"
"-1.5e3"
"2026-01-01T00:00:00Z"
"2026-02-29T10:00:00.123+01:00"
"2026-11-01"
DICT

# SWIFT_BACKTRACE=enable=no lets libFuzzer catch the crash and save the input.
SWIFT_BACKTRACE=enable=no "$binary" \
    -max_total_time="$seconds" \
    -max_len=4096 \
    -timeout=10 \
    -dict="$scratch/segment.dict" \
    -artifact_prefix="$scratch/artifacts/" \
    -print_final_stats=1 \
    "$@" \
    "$scratch/corpus"
