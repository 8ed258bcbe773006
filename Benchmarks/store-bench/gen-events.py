#!/usr/bin/env python3
"""Deterministic NDJSON event file for the store benchmarks.

    gen-events.py [--events 1000000] [--users 100000] [--seed 42] > events-1m.ndjson

Users u0…u(users-1) uniformly; event mix 60 % page_view (url one of /, /docs, /pricing,
/blog/x), 20 % email_open, 15 % add_to_cart, 5 % purchase (amount 5–150); times uniform over
2026-10-01 … 2026-10-27 (UTC, whole seconds); ~60 % of lines carry a unique id `e-N`.
"""
import argparse
import random
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--events", type=int, default=1_000_000)
parser.add_argument("--users", type=int, default=100_000)
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

rng = random.Random(args.seed)
start = 1790812800  # 2026-10-01T00:00:00Z
span = 27 * 86400
urls = ["/", "/docs", "/pricing", "/blog/x"]
out = sys.stdout
lines = []
for n in range(args.events):
    user = rng.randrange(args.users)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + rng.randrange(span)))
    r = rng.random()
    if r < 0.60:
        line = '{"user":"u%d","event":"page_view","at":"%s","properties":{"url":"%s"}' % (user, at, rng.choice(urls))
    elif r < 0.80:
        line = '{"user":"u%d","event":"email_open","at":"%s"' % (user, at)
    elif r < 0.95:
        line = '{"user":"u%d","event":"add_to_cart","at":"%s"' % (user, at)
    else:
        line = '{"user":"u%d","event":"purchase","at":"%s","properties":{"amount":%.2f}' % (
            user, at, rng.uniform(5, 150))
    if rng.random() < 0.6:
        line += ',"id":"e-%d"' % n
    lines.append(line + "}\n")
    if len(lines) >= 10000:
        out.write("".join(lines))
        lines = []
out.write("".join(lines))
