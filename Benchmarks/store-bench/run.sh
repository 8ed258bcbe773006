#!/usr/bin/env bash
# Reproduces the profile-store figures in docs/PERFORMANCE.md.
#
#   Benchmarks/store-bench/run.sh            # everything, RUNS=3 repetitions of each measurement
#   RUNS=1 STEPS="import latency" Benchmarks/store-bench/run.sh
#
# Steps (STEPS, default all): build, import (1M events, durability full and normal, batch 5000,
# then 20000), latency (track/get round trips), feed (Subscribe from seq 1), client (segclient
# import against a do-nothing stand-in store), evaluator (optional; needs the segment-evaluator
# binary). Each import run starts a fresh store. Results go to $OUT as JSON lines plus per-second
# CPU samples; summarize.py prints the table.
#
# Environment: SB (scratch dir, default /tmp/sb, deleted at the end unless KEEP=1), EVENTS
# (NDJSON file, default /tmp/events-1m.ndjson, generated with gen-events.py when missing), RUNS,
# BATCHES (default "5000 20000"), PROBE_BATCH (default 5000), OUT (reuse one to add to a run).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SB=${SB:-/tmp/sb}
EVENTS=${EVENTS:-/tmp/events-1m.ndjson}
RUNS=${RUNS:-3}
BATCHES=${BATCHES:-"5000 20000"}
PROBE_BATCH=${PROBE_BATCH:-5000}  # the import after which feed and latency are measured
STEPS=${STEPS:-"build import client evaluator"}
OUT=${OUT:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)}
BIN=$ROOT/.build-release/release
BENCH=$HERE/.build/release/store-bench
STORE_PID=
mkdir -p "$SB" "$OUT"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
has_step() { [[ " $STEPS " == *" $1 "* ]]; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

cleanup() {
    [[ -n "$STORE_PID" ]] && kill -TERM "$STORE_PID" 2>/dev/null && wait "$STORE_PID" 2>/dev/null || true
    [[ -n "${FAKE_PID:-}" ]] && kill "$FAKE_PID" 2>/dev/null || true
    [[ -n "${EVAL_PID:-}" ]] && kill -TERM "$EVAL_PID" 2>/dev/null || true
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$SB"
}
trap cleanup EXIT

wait_for_socket() {
    for _ in $(seq 1 100); do [[ -S "$1" ]] && return 0; sleep 0.1; done
    log "no socket at $1"; return 1
}

start_store() { # durability
    rm -rf "$SB/data" "$SB/store.sock"
    "$BIN/profile-store" --socket "$SB/store.sock" --data-dir "$SB/data" --durability "$1" \
        --log-level warning >"$SB/store.log" 2>&1 &
    STORE_PID=$!
    wait_for_socket "$SB/store.sock"
}

stop_store() {
    kill -TERM "$STORE_PID"; wait "$STORE_PID" 2>/dev/null || true; STORE_PID=
}

io() { # pid -> bytes written through write()/pwrite() and syscall counts, from /proc/PID/io
    awk '{v[$1]=$2} END{printf "{\"wchar\": %d, \"write_bytes\": %d, \"syscw\": %d, \"rchar\": %d}", v["wchar:"], v["write_bytes:"], v["syscw:"], v["rchar:"]}' "/proc/$1/io"
}

memory() { # pid -> {"vmhwm_kb":…, "vmrss_kb":…}
    awk '/VmHWM/{h=$2} /VmRSS/{r=$2} END{printf "{\"vmhwm_kb\": %d, \"vmrss_kb\": %d}", h, r}' "/proc/$1/status"
}

# segclient import with a CPU sampler on the store (or stand-in) and the client.
# Prints one JSON object: the client's summary, wall/CPU of both, load before.
timed_import() { # socket server_pid batch tag
    local socket=$1 server=$2 batch=$3 tag=$4 before
    before=$(load)
    SEGMENTS_STORE_SOCKET=$socket /usr/bin/time -f '{"client_wall_s": %e, "client_user_s": %U, "client_sys_s": %S}' \
        -o "$SB/time.json" "$BIN/segclient" import events "$EVENTS" --batch "$batch" --json >"$SB/import.json" &
    local timer=$! client=
    for _ in $(seq 1 50); do client=$(pgrep -P "$timer" || true); [[ -n "$client" ]] && break; sleep 0.05; done
    python3 "$HERE/cpu-sampler.py" --interval 1 --until "${client:-$timer}" server="$server" client="${client:-$timer}" \
        2>"$OUT/cpu-$tag.log" >"$SB/cpu.json"
    wait "$timer"
    python3 - "$SB/import.json" "$SB/time.json" "$SB/cpu.json" "$before" "$(load)" <<'EOF'
import json, sys
imp, tim, cpu = (json.load(open(p)) for p in sys.argv[1:4])
out = {"stored": imp["stored"], "seconds": imp["seconds"], "events_per_s": round(imp["stored"] / imp["seconds"]),
       **tim, "cpu": cpu, "load_before": sys.argv[4], "load_after": sys.argv[5]}
print(json.dumps(out))
EOF
}

# --- build -------------------------------------------------------------------------------------
if has_step build; then
    log "building release binaries (scratch path .build-release)"
    (cd "$ROOT" && swift build -c release --scratch-path .build-release --product profile-store >&2 \
        && swift build -c release --scratch-path .build-release --product segclient >&2)
    (cd "$ROOT" && swift build -c release --scratch-path .build-release --product segment-evaluator >&2) \
        || log "segment-evaluator did not build; the evaluator step will be skipped"
    (cd "$HERE" && swift build -c release >&2)
fi
if [[ ! -f "$EVENTS" ]]; then
    log "generating $EVENTS"
    python3 "$HERE/gen-events.py" --events 1000000 --users 100000 --seed 42 >"$EVENTS"
fi

{
    echo "{\"date\": \"$(date -u +%FT%TZ)\", \"nproc\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\"," \
        "\"mem\": \"$(free -h | awk '/Mem:/{print $2}')\", \"uptime\": \"$(uptime | xargs)\", \"events_file\": \"$EVENTS\"," \
        "\"events_lines\": $(wc -l <"$EVENTS"), \"commit\": \"$(cd "$ROOT" && git rev-parse --short HEAD)\"}"
} >"$OUT/machine.json"

# --- import (+ memory, feed, latency on the freshly imported store) ---------------------------
if has_step import; then
    for durability in full normal; do
        for batch in $BATCHES; do
            for run in $(seq 1 "$RUNS"); do
                tag=import-$durability-$batch-$run
                log "$tag (load $(load))"
                start_store "$durability"
                result=$(timed_import "$SB/store.sock" "$STORE_PID" "$batch" "$tag")
                mem=$(memory "$STORE_PID")
                sio=$(io "$STORE_PID")
                disk=$(du -sk "$SB/data" | cut -f1)
                echo "{\"durability\": \"$durability\", \"batch\": $batch, \"run\": $run, \"import\": $result," \
                    "\"store_memory_after_import\": $mem, \"store_io\": $sio, \"data_dir_kb\": $disk}" >>"$OUT/import.jsonl"
                if [[ "$batch" == "$PROBE_BATCH" ]]; then
                    # Read paths on the loaded store: feed catch-up, then GetProfile, then track.
                    f=$("$BENCH" feed --store "$SB/store.sock" --from 1)
                    echo "{\"durability\": \"$durability\", \"run\": $run, \"load\": \"$(load)\", \"feed\": $f," \
                        "\"store_memory_after_feed\": $(memory "$STORE_PID")}" >>"$OUT/feed.jsonl"
                    g=$("$BENCH" latency --store "$SB/store.sock" --op get --count 5000 --warmup 500)
                    t=$("$BENCH" latency --store "$SB/store.sock" --op track --count 5000 --warmup 500)
                    echo "{\"durability\": \"$durability\", \"run\": $run, \"load\": \"$(load)\", \"get\": $g," \
                        "\"track\": $t, \"store_memory_end\": $(memory "$STORE_PID")}" >>"$OUT/latency.jsonl"
                fi
                stop_store
            done
        done
    done
fi

# --- client alone: segclient import against a stand-in store that does no work ----------------
if has_step client; then
    rm -f "$SB/fake.sock"
    "$BENCH" fake-store --socket "$SB/fake.sock" 2>"$SB/fake.log" &
    FAKE_PID=$!
    wait_for_socket "$SB/fake.sock"
    for run in $(seq 1 "$RUNS"); do
        log "client-only run $run (load $(load))"
        result=$(timed_import "$SB/fake.sock" "$FAKE_PID" 5000 "client-$run")
        echo "{\"run\": $run, \"import\": $result}" >>"$OUT/client.jsonl"
    done
    kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true; FAKE_PID=
fi

# --- evaluator catch-up (optional) -------------------------------------------------------------
if has_step evaluator && [[ -x "$BIN/segment-evaluator" ]]; then
    for run in $(seq 1 "$RUNS"); do
        log "evaluator run $run (load $(load))"
        start_store full
        export SEGMENTS_STORE_SOCKET=$SB/store.sock
        "$BIN/segclient" segment create buyers 'count(purchase within 30d) >= 1' >/dev/null
        "$BIN/segclient" segment create pricing_lookers 'count(page_view where url starts_with "/pricing" within 7d) >= 3' >/dev/null
        "$BIN/segclient" segment create lapsed 'last(purchase) < 30d ago' >/dev/null
        "$BIN/segclient" import events "$EVENTS" --batch 5000 >/dev/null 2>&1
        head=$("$BENCH" feed --store "$SB/store.sock" --from 999999999 | python3 -c 'import json,sys; print(json.load(sys.stdin)["head_seq"])')
        rm -rf "$SB/ev" "$SB/ev.sock"
        start=$(date +%s.%N)
        "$BIN/segment-evaluator" --store "$SB/store.sock" --socket "$SB/ev.sock" --data-dir "$SB/ev" \
            --log-level warning >"$SB/ev.log" 2>&1 &
        EVAL_PID=$!
        wait_for_socket "$SB/ev.sock"
        "$BIN/segclient" check u1 buyers --evaluator "$SB/ev.sock" --min-seq "$head" >/dev/null || true
        end=$(date +%s.%N)
        echo "{\"run\": $run, \"head_seq\": $head, \"catch_up_s\": $(echo "$end - $start" | bc)," \
            "\"events_per_s\": $(echo "1000000 / ($end - $start)" | bc), \"evaluator_memory\": $(memory "$EVAL_PID")," \
            "\"load\": \"$(load)\"}" >>"$OUT/evaluator.jsonl"
        kill -TERM "$EVAL_PID"; wait "$EVAL_PID" 2>/dev/null || true; EVAL_PID=
        unset SEGMENTS_STORE_SOCKET
        stop_store
    done
fi

python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
