#!/usr/bin/env python3
"""Commit times of an SQLite WAL database with SQLite's automatic checkpoint at a given threshold, to see what a
checkpoint costs the commit that runs it (docs/PERFORMANCE.md, eighth round).

    dev/wal-commit-times.py AUTOCHECKPOINT_PAGES [DIRECTORY]

400 commits of 1,000 event-like rows each (an indexed user column, as the store's events), synchronous=NORMAL.
AUTOCHECKPOINT_PAGES 0 turns the automatic checkpoint off: what a writer whose checkpoints run elsewhere
(WALCheckpointer) pays. Prints the p50, p99 and largest commit time.
"""
import os
import sqlite3
import sys
import time

auto = int(sys.argv[1])
directory = sys.argv[2] if len(sys.argv) > 2 else '/tmp'
path = os.path.join(directory, 'wal-commit-times-%d.sqlite' % auto)
for f in (path, path+'-wal', path+'-shm'):
    if os.path.exists(f): os.remove(f)
db = sqlite3.connect(path, isolation_level=None)
db.execute('PRAGMA journal_mode=WAL'); db.execute('PRAGMA synchronous=NORMAL')
db.execute('PRAGMA wal_autocheckpoint=%d' % auto)
db.execute('CREATE TABLE e(id INTEGER PRIMARY KEY, user TEXT, name TEXT, body BLOB)')
db.execute('CREATE INDEX e_user ON e(user, id)')
times = []
row = 0
for b in range(400):
    t0 = time.perf_counter()
    db.execute('BEGIN IMMEDIATE')
    db.executemany('INSERT INTO e(user, name, body) VALUES (?, ?, ?)', [('u%d' % ((row + i) * 7919 % 100000), 'purchase', b'x' * 60) for i in range(1000)])
    db.execute('COMMIT')
    row += 1000
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
db.close()
for f in (path, path + '-wal', path + '-shm'):
    if os.path.exists(f):
        os.remove(f)
print('autocheckpoint', auto, 'commits', len(times), 'p50 %.1f ms p99 %.1f ms max %.1f ms' % (times[len(times)//2], times[len(times)*99//100], times[-1]))
