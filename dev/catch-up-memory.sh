#!/bin/bash
# Measures a fresh evaluator's catch-up and its memory: copies a kept segbench store, starts the
# store on the copy and an evaluator with an empty data directory, and prints the evaluator's
# resident set when its socket is up (it may have started applying by then: segbench measures the
# idle evaluator over an empty store instead), at the store's head and 15 s later (its post-catch-up
# save written, free memory handed back), the catch-up's time and CPU, and the engine's own
# estimate by kind of state (its `caught up` log line).
#
# Usage: dev/catch-up-memory.sh BIN_DIR KEPT_RUN_DIR [runs]
#   BIN_DIR       holds profile-store, segment-evaluator and segclient (e.g. .build/release)
#   KEPT_RUN_DIR  the work directory of a `segbench --keep` run (DIR/segbench-*, holding store/)
# With MALLOC_STATS=1 it also prints glibc's per-arena figures (malloc_info, through gdb) and the
# largest resident mappings.
set -euo pipefail
. "$(dirname "$0")/kept-pair.sh"
bin=${1:?bin directory}
kept=${2:?kept segbench work directory}
runs=${3:-1}

rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

for _ in $(seq "$runs"); do
    work=$(mktemp -d /tmp/catch-up-memory.XXXXXX)
    cp -r "$kept"/store "$work"/
    mkdir "$work/evaluator"
    "$bin/profile-store" --socket "$work/store.sock" --data-dir "$work/store" --log-level warning \
        2>"$work/store.log" &
    store=$!
    trap 'kill ${store:-} ${evaluator:-} 2>/dev/null || true' EXIT
    wait_for_socket "$work/store.sock" "$store" "$work/store.log"
    start=$(date +%s.%N)
    "$bin/segment-evaluator" --store "$work/store.sock" --socket "$work/ev.sock" --data-dir "$work/evaluator" \
        --log-level info 2>"$work/evaluator.log" &
    evaluator=$!
    wait_for_socket "$work/ev.sock" "$evaluator" "$work/evaluator.log"
    listening=$(rss_mib "$evaluator")
    until caught_up "$work"; do sleep 0.05; done
    done_at=$(date +%s.%N)
    at_head=$(rss_mib "$evaluator")
    cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$evaluator/stat")
    sleep 15
    echo "caught up in $(python3 -c "print('%.2f' % ($done_at - $start))") s, CPU $cpu s; RSS MiB: socket up $listening, at the head $at_head, 15 s later $(rss_mib "$evaluator")"
    grep "caught up with the store" "$work/evaluator.log" | tr ' ' '\n' | grep -E '^(users|window-entries|engine-bytes[a-z-]*)=' |
        tr '\n' ' '
    echo
    if [ "${MALLOC_STATS:-0}" = 1 ]; then
        gdb -p "$evaluator" -batch -ex "call (int)malloc_info(0, (void*)fopen(\"$work/malloc.xml\", \"w\"))" \
            -ex 'call (int)fflush(0)' >/dev/null 2>&1
        python3 - "$work/malloc.xml" "/proc/$evaluator/smaps" <<'EOF'
import re, sys
xml = open(sys.argv[1]).read()
for m in re.finditer(r'<heap nr="(\d+)">(.*?)</heap>', xml, re.S):
    free = re.search(r'<total type="rest" count="(\d+)" size="(\d+)"/>', m.group(2))
    system = re.search(r'<system type="current" size="(\d+)"/>', m.group(2))
    print('arena %s: %d KiB from the system, %d KiB free in %s chunks'
          % (m.group(1), int(system.group(1)) // 1024, int(free.group(2)) // 1024, free.group(1)))
rows, current = [], None
for line in open(sys.argv[2]):
    parts = line.split()
    if re.match(r'^[0-9a-f]+-[0-9a-f]+$', parts[0]):
        low, high = (int(x, 16) for x in parts[0].split('-'))
        current = [high - low, parts[5] if len(parts) > 5 else '[anonymous]', 0]
        rows.append(current)
    elif parts[0] == 'Rss:':
        current[2] = int(parts[1])
for size, name, rss in sorted(rows, key=lambda r: -r[2])[:8]:
    print('%8d KiB resident of %8d KiB  %s' % (rss, size // 1024, name))
EOF
    fi
    kill "$evaluator" "$store"
    wait "$evaluator" "$store" 2>/dev/null || true
    rm -rf "$work"
done
