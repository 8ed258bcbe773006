#!/usr/bin/env bash
# Connection load test (issue 16): release daemons in a temporary directory, then segload opens thousands of idle
# connections and slow watchers while a steady client measures its latency and a writer keeps memberships changing.
#
#   dev/load-test.sh                                   # 2000 connections to each daemon, 200 slow watchers, 30 s
#   dev/load-test.sh --connections 4000 --watchers 250 --seconds 60
#
# Extra arguments go to segload (see `segload --help`). Each daemon's --max-connections is set just above what is
# held, and segload tries 20 more connections to each, which must be refused with the limit's reason. The results
# table is printed at the end; the daemons' logs stay in the directory named at the start when KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

connections=2000
watchers=200
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --connections) connections="$2"; args+=("$1" "$2"); shift 2 ;;
        --watchers) watchers="$2"; args+=("$1" "$2"); shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

dev/install-deps.sh >&2
echo "== build (release)" >&2
for product in profile-store segment-evaluator segload; do
    swift build -c release --product "$product" >&2
done
bin="$(swift build -c release --show-bin-path)"

# Every connection is a descriptor on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work="$(mktemp -d /tmp/segload-XXXXXX)"
echo "== daemons in $work" >&2
cleanup() {
    kill "${store_pid:-}" "${evaluator_pid:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# Room for what segload holds plus its steady client and a little slack; the 20 extra attempts must be refused.
"$bin/profile-store" --socket "$work/store.sock" --data-dir "$work/store" --durability normal --log-level warning \
    --max-connections $((connections + 11)) 2>"$work/store.log" &
store_pid=$!
until [ -S "$work/store.sock" ]; do sleep 0.05; done
"$bin/segment-evaluator" --store "$work/store.sock" --socket "$work/eval.sock" --data-dir "$work/evaluator" \
    --log-level warning --max-connections $((connections + watchers + 11)) --max-watchers $((watchers + 10)) \
    2>"$work/evaluator.log" &
evaluator_pid=$!
until [ -S "$work/eval.sock" ]; do sleep 0.05; done

echo "== segload (machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo))" >&2
"$bin/segload" --store "$work/store.sock" --evaluator "$work/eval.sock" \
    --store-pid "$store_pid" --evaluator-pid "$evaluator_pid" --beyond 20 "${args[@]}"
