#!/usr/bin/env python3
"""Prints the Markdown tables of docs/PERFORMANCE.md from a run.sh results directory.

    summarize.py RESULTS_DIR

Every figure is `median (min–max, n runs)`.
"""
import json
import os
import statistics
import sys

out = sys.argv[1]


def rows(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def fig(values, fmt="{:,.0f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med) + " (n=1)"
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))}, n={len(values)})"


machine = json.load(open(os.path.join(out, "machine.json")))
print(f"Run {machine['date']} at commit {machine['commit']}: {machine['nproc']} cores ({machine['cpu']}), "
      f"{machine['mem']} RAM; `uptime` at start: {machine['uptime']}\n")

imports = rows("import.jsonl")
if imports:
    print("### Bulk import: `segclient import events` of 1,000,000 events\n")
    print("| durability | --batch | events/s acknowledged (wall) | import wall s | store CPU s (user+sys) "
          "| store run-queue wait s | client CPU s | busiest second, store / client CPU | events per store CPU-second | store VmHWM MiB | store bytes written (wchar) GiB | data dir MiB | load 1-min before |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["durability"], r["batch"]) for r in imports}, key=lambda k: (k[0] != "full", k[1]))
    for d, b in keys:
        rs = [r for r in imports if (r["durability"], r["batch"]) == (d, b)]
        st = [r["import"]["cpu"]["server"] for r in rs]
        cl = [r["import"]["cpu"]["client"] for r in rs]
        print(f"| {d} | {b} | {fig([r['import']['events_per_s'] for r in rs])} "
              f"| {fig([r['import']['seconds'] for r in rs], '{:.1f}')} "
              f"| {fig([s['user_s'] + s['sys_s'] for s in st], '{:.1f}')} "
              f"| {fig([s['runqueue_wait_s'] for s in st], '{:.1f}')} "
              f"| {fig([r['import']['client_user_s'] + r['import']['client_sys_s'] for r in rs], '{:.1f}')} "
              f"| {fig([s['peak_interval_cpu_pct'] for s in st])} % / {fig([c['peak_interval_cpu_pct'] or None for c in cl])} % "
              f"| {fig([r['import']['stored'] / (s['user_s'] + s['sys_s']) for r, s in zip(rs, st)])} "
              f"| {fig([r['store_memory_after_import']['vmhwm_kb'] / 1024 for r in rs], '{:.0f}')} "
              f"| {fig([r['store_io']['wchar'] / 2**30 for r in rs], '{:.1f}')} "
              f"| {fig([r['data_dir_kb'] / 1024 for r in rs], '{:.0f}')} "
              f"| {', '.join(r['import']['load_before'].split()[0] for r in rs)} |")
    print()
    print("Busiest store threads per run (CPU seconds): " + "; ".join(
        f"{r['durability']}/{r['batch']}#{r['run']}: {' '.join(r['import']['cpu']['server']['top_threads'][:2])}"
        for r in imports))
    print()

client = rows("client.jsonl")
if client:
    print("### segclient alone (stand-in store that answers at once)\n")
    print("| events/s | wall s | client CPU s (user+sys) | client run-queue wait s | events per client CPU-second |")
    print("|---|---|---|---|---|")
    cl = [r["import"]["cpu"]["client"] for r in client]
    cpu = [r["import"]["client_user_s"] + r["import"]["client_sys_s"] for r in client]
    print(f"| {fig([r['import']['events_per_s'] for r in client])} | {fig([r['import']['seconds'] for r in client], '{:.1f}')} "
          f"| {fig(cpu, '{:.1f}')} | {fig([c['runqueue_wait_s'] for c in cl], '{:.1f}')} "
          f"| {fig([r['import']['stored'] / c for r, c in zip(client, cpu)])} |")
    print()

latency = rows("latency.jsonl")
if latency:
    print("### Round trips over the Unix socket (sequential, one call at a time, 5,000 timed calls after 500 warm-up)\n")
    print("| call | durability | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | calls/s |")
    print("|---|---|---|---|---|---|---|---|")
    for op, label in (("track", "`track` of 1 event"), ("get", "`GetProfile`")):
        for d in ("full", "normal"):
            rs = [r[op] for r in latency if r["durability"] == d]
            if not rs:
                continue
            print(f"| {label} | {d} | {fig([r['p50_us'] for r in rs])} | {fig([r['p90_us'] for r in rs])} "
                  f"| {fig([r['p99_us'] for r in rs])} | {fig([r['p999_us'] for r in rs])} "
                  f"| {fig([r['max_us'] for r in rs])} | {fig([r['calls_per_s'] for r in rs])} |")
    print()

feed = rows("feed.jsonl")
if feed:
    print("### Change feed: `Subscribe` from seq 1 over the imported store, counted by a client\n")
    print("| durability of the import | entries | events | seconds | events/s | entries/s | first batch ms | store VmHWM after MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for d in ("full", "normal"):
        rs = [r for r in feed if r["durability"] == d]
        if not rs:
            continue
        f = [r["feed"] for r in rs]
        print(f"| {d} | {fig([x['entries'] for x in f])} | {fig([x['events'] for x in f])} "
              f"| {fig([x['seconds'] for x in f], '{:.2f}')} | {fig([x['events_per_s'] for x in f])} "
              f"| {fig([x['entries_per_s'] for x in f])} | {fig([x['first_batch_ms'] for x in f], '{:.1f}')} "
              f"| {fig([r['store_memory_after_feed']['vmhwm_kb'] / 1024 for r in rs], '{:.0f}')} |")
    print()

ev = rows("evaluator.jsonl")
if ev:
    print("### Evaluator catch-up (3 segments, 1M events)\n")
    print("| catch-up s | events/s | evaluator VmHWM MiB |")
    print("|---|---|---|")
    print(f"| {fig([r['catch_up_s'] for r in ev], '{:.1f}')} | {fig([r['events_per_s'] for r in ev])} "
          f"| {fig([r['evaluator_memory']['vmhwm_kb'] / 1024 for r in ev], '{:.0f}')} |")
