#!/usr/bin/env python3
"""Samples CPU use of processes (and their threads) from /proc while a benchmark runs.

    cpu-sampler.py --interval 1 --until PID NAME=PID [NAME=PID ...]

Every interval prints one line with each process's CPU % over that interval (100 % = one core).
When the --until process exits, prints a JSON summary per process: CPU seconds (user, sys),
run-queue wait seconds (time runnable but not running, from /proc/PID/task/*/schedstat: how
much the other load on the machine delayed it), the busiest interval, and the threads that
used the most CPU.
"""
import argparse
import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def task_stats(pid):
    """{tid: (comm, utime_s, stime_s, wait_s)} for every thread of pid."""
    result = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                sched = f.read().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        result[tid] = (comm, int(fields[11]) / TICK, int(fields[12]) / TICK, int(sched[1]) / 1e9)
    return result


parser = argparse.ArgumentParser()
parser.add_argument("--interval", type=float, default=1.0)
parser.add_argument("--until", type=int, required=True)
parser.add_argument("procs", nargs="+")
args = parser.parse_args()
procs = [(p.split("=")[0], int(p.split("=")[1])) for p in args.procs]

first = {name: task_stats(pid) or {} for name, pid in procs}
last = dict(first)
peak = {name: 0.0 for name, _ in procs}
started = time.time()
previous = {name: sum(u + s for _, u, s, _ in first[name].values()) for name, _ in procs}
while True:
    time.sleep(args.interval)
    line = [f"t={time.time() - started:6.1f}s"]
    for name, pid in procs:
        now = task_stats(pid)
        if now is None:
            line.append(f"{name}=exited")
            continue
        merged = dict(last[name])
        merged.update(now)
        last[name] = merged
        total = sum(u + s for _, u, s, _ in merged.values())
        pct = 100 * (total - previous[name]) / args.interval
        previous[name] = total
        peak[name] = max(peak[name], pct)
        line.append(f"{name}={pct:5.0f}%")
    with open("/proc/loadavg") as f:
        line.append("load=" + f.read().split()[0])
    print("  ".join(line), file=sys.stderr, flush=True)
    if not os.path.exists(f"/proc/{args.until}"):
        break

summary = {}
for name, _ in procs:
    base = first[name]
    threads = {}
    for tid, (comm, u, s, w) in last[name].items():
        b = base.get(tid, (comm, 0, 0, 0))
        threads[tid] = (comm, u - b[1], s - b[2], w - b[3])
    summary[name] = {
        "user_s": round(sum(t[1] for t in threads.values()), 2),
        "sys_s": round(sum(t[2] for t in threads.values()), 2),
        "runqueue_wait_s": round(sum(t[3] for t in threads.values()), 2),
        "peak_interval_cpu_pct": round(peak[name]),
        "top_threads": [
            f"{c}:{u + s:.2f}s" for c, u, s, _ in sorted(threads.values(), key=lambda t: -(t[1] + t[2]))[:4]
        ],
    }
print(json.dumps(summary))
