# Sourced by the dev scripts that run both daemons on a copy of a kept segbench run directory
# (dev/live-cpu.sh, dev/time-advance.sh). They set $bin (the binaries' directory) and $kept (the
# run directory, holding store/ and evaluator/) first.

# Whether the evaluator of work directory $1 has applied the store's head.
caught_up() {
    "$bin/segclient" status --max-lag 0 --store "$1/store.sock" --evaluator "$1/ev.sock" >/dev/null 2>&1
}

# start_kept_pair WORK [STORE_OPTION...]: copies $kept's store and evaluator into WORK, starts the
# store (with the extra options) and the evaluator there, their PIDs in $store and $evaluator, and
# waits until the evaluator is at the store's head.
start_kept_pair() {
    local work=$1
    shift
    cp -r "$kept"/store "$kept"/evaluator "$work"/
    "$bin/profile-store" --socket "$work/store.sock" --data-dir "$work/store" "$@" --log-level warning \
        2>"$work/store.log" &
    store=$!
    until [ -S "$work/store.sock" ]; do sleep 0.1; done
    "$bin/segment-evaluator" --store "$work/store.sock" --socket "$work/ev.sock" --data-dir "$work/evaluator" \
        --log-level info 2>"$work/evaluator.log" &
    evaluator=$!
    until [ -S "$work/ev.sock" ]; do sleep 0.1; done
    until caught_up "$work"; do sleep 0.5; done
}
