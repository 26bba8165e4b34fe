#!/usr/bin/env python3
"""A model of the server's group commit, in SQLite alone (no HTTP, no
deciding): the schema of server/src/store/sqlite/schema.rs, rows of the
sizes the server writes (event 0.25 KB, decision 1.5 KB, case 1.4 KB,
three departments and three journal entries per event, sequential ids,
handling units spread over 3,200 grids), committed 300 at a time with
synchronous=FULL in WAL mode, as the ingest pipeline does at 16 x 50.

It prints the WAL bytes each event costs and the time per event of the
transaction (statements and commit with its fsync), for a variant:

  base     the schema as it is
  nounit   without the `events_unit` index (unit, received_at, id)
  half     JSON texts half as long (what compressing them would give)
  page1k   pages of 1 KiB instead of 4 (page2k: 2 KiB): a scattered index
           entry dirties a smaller page

Usage: python3 tools/sqlite-model/write_model.py VARIANT [BATCHES] [DIR]
(docs/BENCHMARKS.md, "Session 5"). Python adds a few microseconds per row
of its own, so compare variants with each other, not with the server.
"""
import os
import random
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE events (id TEXT NOT NULL PRIMARY KEY, body_hash TEXT NOT NULL,
  event_json TEXT NOT NULL, decision_json TEXT NOT NULL, case_json TEXT NOT NULL,
  version INTEGER NOT NULL, state TEXT NOT NULL, unit TEXT, lead TEXT NOT NULL,
  respond_by INTEGER NOT NULL, resolve_by INTEGER NOT NULL, accepted_at INTEGER,
  reported_at INTEGER NOT NULL, received_at INTEGER NOT NULL, next_due INTEGER);
CREATE TABLE event_departments (event_id TEXT NOT NULL, department TEXT NOT NULL,
  role TEXT NOT NULL, received_at INTEGER NOT NULL,
  PRIMARY KEY (event_id, department)) WITHOUT ROWID;
CREATE TABLE journal (seq INTEGER NOT NULL PRIMARY KEY, event_id TEXT,
  kind TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX events_received ON events (received_at, id);
CREATE INDEX events_state ON events (state, received_at, id);
CREATE INDEX events_reported ON events (reported_at);
CREATE INDEX event_departments_department ON event_departments (department, received_at, event_id);
CREATE INDEX journal_event ON journal (event_id) WHERE event_id IS NOT NULL;
"""

BATCH = 300

VARIANTS = ("base", "nounit", "half", "page1k", "page2k")


def main():
    variant = sys.argv[1] if len(sys.argv) > 1 else "base"
    if variant not in VARIANTS:
        sys.exit(f"unknown variant {variant!r}: {', '.join(VARIANTS)}")
    batches = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    path = os.path.join(sys.argv[3] if len(sys.argv) > 3 else ".", "write-model.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    c = sqlite3.connect(path, isolation_level=None)
    if variant.startswith("page"):
        # Only a new database takes a page size; it must come first.
        c.execute(f"PRAGMA page_size={int(variant[4]) * 1024}")
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("PRAGMA cache_size=-8192")
    # Checkpoints run between measured batches, so the WAL's growth is
    # exactly what each commit wrote.
    c.execute("PRAGMA wal_autocheckpoint=0")
    c.executescript(SCHEMA)
    if variant != "nounit":
        c.execute("CREATE INDEX events_unit ON events (unit, received_at, id)")
    share = 0.5 if variant == "half" else 1.0
    # Random bytes as hex: incompressible, like the texts as SQLite sees them.
    decision = os.urandom(int(1480 * share) // 2).hex()
    case = os.urandom(int(1400 * share) // 2).hex()
    event = os.urandom(125).hex()
    units = [f"G{i:06d}" for i in range(3200)]
    rng = random.Random(1)
    seq, wal, grown, spent, counted = 0, 0, 0, 0.0, 0
    start = time.time_ns()
    for b in range(batches):
        rows, deps, entries = [], [], []
        for i in range(BATCH):
            k = b * BATCH + i
            eid, now = f"EV-{k:08d}", start + k * 50_000
            rows.append((eid, "h" * 64, event, decision, case, 1, "dispatched",
                         rng.choice(units), "urban", now + 1, now + 2, None, now, now, now + 3))
            for d, role in (("urban", "lead"), ("fire", "assist"), ("property", "assist")):
                deps.append((eid, d, role, now))
            for size in (150, 400, 150):
                seq += 1
                entries.append((seq, eid, "transition", "x" * size, "a" * 64, "b" * 64))
        t0 = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        c.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        c.executemany("INSERT OR IGNORE INTO event_departments VALUES (?,?,?,?)", deps)
        c.executemany("INSERT INTO journal VALUES (?,?,?,?,?,?)", entries)
        c.execute("COMMIT")
        t1 = time.perf_counter()
        size = os.path.getsize(path + "-wal")
        # The second half only: the indexes have grown past the cache.
        if b >= batches // 2:
            grown += size - wal
            spent += t1 - t0
            counted += BATCH
        wal = size
        if b % 10 == 9:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            wal = os.path.getsize(path + "-wal")
    c.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    print(f"{variant}: WAL {grown / counted / 1024:.2f} KiB per event, "
          f"{spent / counted * 1e6:.1f} us per event (statements and commit)")


if __name__ == "__main__":
    main()
