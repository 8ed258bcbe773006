#!/bin/bash
# Measures the evaluator's CPU per live event: copies a kept segbench store and evaluator, starts
# both daemons on the copies, waits until the evaluator is at the store's head, imports 300,000
# events stamped "now" for the data's existing users (segclient, batches of 1,000, one in flight)
# and prints the evaluator's CPU time (user + system, from /proc) until it has applied them.
#
# Usage: dev/live-cpu.sh BIN_DIR KEPT_RUN_DIR [runs]
#   BIN_DIR       holds profile-store, segment-evaluator and segclient (e.g. .build/release)
#   KEPT_RUN_DIR  the work directory of `segbench --scale medium --keep --work-dir DIR`
#                 (DIR/segbench-*, holding store/ and evaluator/)
# The events file is generated once, with a fixed seed, in /tmp/live-cpu-events.ndjson. Runs of
# two builds are best interleaved: the machine's speed drifts between runs.
set -euo pipefail
. "$(dirname "$0")/kept-pair.sh"
bin=${1:?bin directory}
kept=${2:?kept segbench work directory}
runs=${3:-1}
events=/tmp/live-cpu-events.ndjson
count=300000

if [ ! -s "$events" ]; then
    python3 - "$events" "$count" <<'EOF'
import json, random, sys
random.seed(7)
urls = ['/', '/pricing', '/docs/start', '/docs/api', '/product/a', '/product/b', '/blog/x']
with open(sys.argv[1], 'w') as out:
    for i in range(int(sys.argv[2])):
        user = 'u%d' % random.randrange(100000)
        r = random.random()
        if r < 0.7:
            e = {'user': user, 'event': 'page_view', 'properties': {'url': random.choice(urls)}}
        elif r < 0.82:
            e = {'user': user, 'event': 'email_open', 'properties': {'campaign': 'c%d' % random.randrange(12)}}
        else:
            name = 'add_to_cart' if r < 0.94 else 'purchase'
            amount = round(random.lognormvariate(3 if name == 'add_to_cart' else 3.5, 0.8), 2)
            e = {'user': user, 'event': name, 'properties': {'sku': 'sku-%d' % random.randrange(50), 'amount': amount}}
        e['id'] = 'live-%d' % i
        out.write(json.dumps(e) + '\n')
EOF
fi

for _ in $(seq "$runs"); do
    work=$(mktemp -d /tmp/live-cpu.XXXXXX)
    start_kept_pair "$work"
    sleep 3
    cpu0=$(awk '{print $14 + $15}' "/proc/$evaluator/stat")
    start=$(date +%s.%N)
    "$bin/segclient" import events "$events" --batch 1000 --store "$work/store.sock" >"$work/import.log" 2>&1
    imported=$(date +%s.%N)
    until caught_up "$work"; do sleep 0.05; done
    done_at=$(date +%s.%N)
    cpu1=$(awk '{print $14 + $15}' "/proc/$evaluator/stat")
    python3 -c "
ticks = $cpu1 - $cpu0
print('evaluator CPU %.2f s = %.2f us/event; import %.2f s; evaluator at the head %.2f s after the start' % (
    ticks / 100, ticks / 100 / $count * 1e6, $imported - $start, $done_at - $start))"
    kill "$evaluator" "$store"
    wait "$evaluator" "$store" 2>/dev/null || true
    rm -rf "$work"
done
