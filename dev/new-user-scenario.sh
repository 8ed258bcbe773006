#!/bin/bash
# What a new user does first, on release binaries: load 50k profiles and 500k events, then define
# 20 segments at once while the evaluator is killed (-9) after the 9th and started again at the
# 13th; then restart the store (SIGTERM), write 50k more events and 5 more segments. Prints how
# long the evaluator took to reach the store's head each time, then compares every segment's member
# count with a fresh evaluator built from nothing, and one segment with an independent Python count.
#
# Usage: dev/new-user-scenario.sh [BIN_DIR]   (default .build/release; swift build -c release first)
set -u
B=${1:-$(cd "$(dirname "$0")/.." && pwd)/.build/release}
W=$(mktemp -d /tmp/new-user.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
export SEGMENTS_STORE_SOCKET=$W/store.sock SEGMENTS_EVALUATOR_SOCKET=$W/ev.sock
SC="$B/segclient"
python3 - "$W" <<'PY'
import json, random, sys
w = sys.argv[1]; random.seed(3)
countries = ['DE','FR','US','ES','JP','IT']
with open(w+'/profiles.ndjson','w') as f:
    for i in range(50000):
        f.write(json.dumps({'id':'n%d'%i,'attributes':{'country':random.choice(countries),'age':random.randrange(16,80),'plan':random.choice(['free','pro','team'])}})+'\n')
names = ['page_view','purchase','add_to_cart','email_open']
with open(w+'/events.ndjson','w') as f:
    for i in range(500000):
        e = {'user':'n%d'%random.randrange(50000),'event':random.choice(names),'id':'a%d'%i}
        if e['event']=='purchase': e['properties']={'amount':round(random.uniform(1,300),2)}
        f.write(json.dumps(e)+'\n')
with open(w+'/events2.ndjson','w') as f:
    for i in range(50000):
        f.write(json.dumps({'user':'n%d'%random.randrange(50000),'event':'page_view','id':'b%d'%i})+'\n')
PY
start_store() { $B/profile-store --socket $W/store.sock --data-dir $W/store --log-level warning 2>>$W/store.log & SP=$!; until [ -S $W/store.sock ]; do sleep 0.1; done; }
start_ev() { $B/segment-evaluator --store $W/store.sock --socket $W/$1.sock --data-dir $W/$1 --log-level info 2>>$W/$1.log & eval "$2=$!"; until [ -S $W/$1.sock ]; do sleep 0.1; done; }
# Waits until evaluator $1 (ev or fresh) has applied the store's head (`status --max-lag 0` exits 0 then) and
# prints how long that took.
wait_head() {
    local t0=$(date +%s.%N)
    until SEGMENTS_EVALUATOR_SOCKET=$W/$1.sock $SC status --max-lag 0 >/dev/null 2>&1; do sleep 0.01; done
    python3 -c "print('%.0f ms' % (1000 * ($(date +%s.%N) - $t0)))"
}
start_store
t0=$(date +%s.%N)
$SC import profiles $W/profiles.ndjson --batch 5000 2>&1 | tail -1
$SC import events $W/events.ndjson --batch 10000 2>&1 | tail -1
python3 -c "print('data loaded in %.2f s' % ($(date +%s.%N)-$t0))"
start_ev ev EP
SEGS=(
 'country in ["DE","FR"] and age >= 30' 'count(page_view) >= 3' 'sum(purchase.amount) > 200' 'plan = "pro"'
 'count(add_to_cart) >= 2 and count(purchase) = 0' 'country = "JP"' 'age < 25' 'count(email_open) >= 4'
 'country in ["DE","FR"] and age >= 30' 'plan = "team" and count(page_view) >= 2' 'max(purchase.amount) > 250'
 'count(page_view within 1d) >= 1' 'country in ["DE","FR"] and age >= 30' 'avg(purchase.amount) > 100'
 'count(purchase) >= 2' 'not plan = "free"' 'count(page_view) >= 10' 'age >= 60 and country = "US"'
 'min(purchase.amount) < 5' 'count(add_to_cart) >= 1')
pids=()
for i in "${!SEGS[@]}"; do
  $SC segment create s$i "${SEGS[$i]}" > /dev/null 2>>$W/burst.err & pids+=($!)
  if [ $i = 8 ]; then kill -9 $EP; echo "evaluator killed -9 after definition 9"; fi
  if [ $i = 12 ]; then start_ev ev EP; echo "evaluator restarted at definition 13"; fi
done
wait "${pids[@]}"
echo -n "evaluator at the store's head after the burst: "; wait_head ev
kill $SP; wait $SP 2>/dev/null; echo "store restarted (SIGTERM)"; start_store
$SC import events $W/events2.ndjson --batch 5000 2>&1 | tail -1
for i in 20 21 22 23 24; do $SC segment create s$i "count(page_view) >= $((i-17))" >/dev/null; done
echo -n "evaluator at the new head: "; wait_head ev
start_ev fresh FP
echo -n "fresh evaluator at the head: "; wait_head fresh
diff=0
for i in $(seq 0 24); do
  a=$($SC members s$i --count 2>&1); b=$(SEGMENTS_EVALUATOR_SOCKET=$W/fresh.sock $B/segclient members s$i --count 2>&1)
  [ "$a" = "$b" ] || { diff=$((diff+1)); echo "s$i differs: $a vs $b"; }
done
echo "segments differing between the survivor and a fresh evaluator: $diff of 25"
echo "s0 (country in [DE,FR] and age >= 30): $($SC members s0 --count)"
python3 - "$W" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]+'/profiles.ndjson'):
    a = json.loads(line)['attributes']
    if a['country'] in ('DE','FR') and a['age'] >= 30: n += 1
print('independent Python count for s0:', n)
PY
echo "burst client errors: $(wc -l < $W/burst.err)"
echo "warnings and errors in the survivor's log:"; grep -E " (warning|error|critical) " $W/ev.log | cut -c1-200
