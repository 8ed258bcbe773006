# Sourced by the dev scripts that run both daemons on a copy of a kept segbench run directory
# (dev/live-cpu.sh, dev/time-advance.sh). They set $bin (the binaries' directory) and $kept (the
# run directory, holding store/ and evaluator/) first.

# Whether the evaluator of work directory $1 has applied the store's head.
caught_up() {
    "$bin/segclient" status --max-lag 0 --store "$1/store.sock" --evaluator "$1/ev.sock" >/dev/null 2>&1
}

# Waits until socket $1 exists while process $2 runs (its log: $3); fails after 120 s.
wait_for_socket() {
    local tries=0
    until [ -S "$1" ]; do
        if ! kill -0 "$2" 2>/dev/null || [ $((tries += 1)) -gt 1200 ]; then
            echo "no socket $1; the daemon's log ($3) ends with:" >&2
            tail -5 "$3" >&2
            return 1
        fi
        sleep 0.1
    done
}

# start_kept_pair WORK [STORE_OPTION...]: copies $kept's store and evaluator into WORK, starts the
# store (with the extra options) and the evaluator there, their PIDs in $store and $evaluator
# (stopped when the script exits), and waits until the evaluator is at the store's head.
start_kept_pair() {
    local work=$1
    shift
    cp -r "$kept"/store "$kept"/evaluator "$work"/
    "$bin/profile-store" --socket "$work/store.sock" --data-dir "$work/store" "$@" --log-level warning \
        2>"$work/store.log" &
    store=$!
    trap 'kill ${store:-} ${evaluator:-} 2>/dev/null || true' EXIT
    wait_for_socket "$work/store.sock" "$store" "$work/store.log"
    "$bin/segment-evaluator" --store "$work/store.sock" --socket "$work/ev.sock" --data-dir "$work/evaluator" \
        --log-level info 2>"$work/evaluator.log" &
    evaluator=$!
    wait_for_socket "$work/ev.sock" "$evaluator" "$work/evaluator.log"
    until caught_up "$work"; do sleep 0.5; done
}
