#!/usr/bin/env python3
"""Trains the zstd dictionary the store packs decisions and cases with.

    pip install zstandard
    python3 tools/pack-dict/train.py DATABASE OUT

DATABASE is a store (`whistle.db`) with many events, such as the ingest
bench's for policies/wuhou (copy it while the bench runs). Its decisions
and cases, 8,000 events' worth picked with a fixed seed, train a 32 KiB
dictionary (zstd's trainer, tuned for level 1).

The dictionary in server/src/store/pack/ was made so. Stored events need
its exact bytes: a new dictionary is a new file and a new format byte in
server/src/store/pack.rs, never a replacement.
"""

import random
import sqlite3
import sys

import zstandard


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    db, out = sys.argv[1], sys.argv[2]
    rows = sqlite3.connect(db).execute(
        "SELECT decision_json, case_json FROM events "
        "WHERE typeof(decision_json) = 'text' ORDER BY rowid"
    ).fetchall()
    if len(rows) < 8000:
        sys.exit(f"{db}: {len(rows)} events with text decisions; 8000 are needed")
    random.seed(7)
    random.shuffle(rows)
    samples = [text.encode() for pair in rows[:8000] for text in pair]
    trained = zstandard.train_dictionary(32768, samples, level=1)
    with open(out, "wb") as f:
        f.write(trained.as_bytes())
    print(f"{out}: {len(trained.as_bytes())} bytes from {len(samples)} texts")


if __name__ == "__main__":
    main()
