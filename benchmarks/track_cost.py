#!/usr/bin/env python3
"""What one ``track()`` costs the database: statements run and WAL frames written per call.

    python benchmarks/track_cost.py           # the 50-achievement row's catalogue, keyed calls
    python benchmarks/track_cost.py --list    # and the statements of one call

Counts, not timings, so a noisy machine gives the same answer: the statements from
``BEGIN`` to ``COMMIT`` (a trace callback), and the WAL's growth over 100 committed calls
from an emptied WAL, divided by the frame size (the engine's checkpointer starts only past
1,000 pages, about 125 calls). Users already have their rows, as in the ratio rows
(``benchmarks/README.md``, section track()).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ratio import Tracking, catalogue

CALLS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--list", action="store_true", help="print the statements of one call")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "track.db"
        engine = Tracking(path, catalogue(50, 0, unlocking=False))
        try:
            engine.track(2_000)  # every user has its rows, as in the timed rounds
            conn = engine.g.db.conn
            statements: list[str] = []
            conn.set_trace_callback(statements.append)
            engine.track(CALLS)
            conn.set_trace_callback(None)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            wal = Path(f"{path}-wal")
            before = wal.stat().st_size
            engine.track(CALLS)
            grown = wal.stat().st_size - before
            page = conn.execute("PRAGMA page_size").fetchone()[0]
        finally:
            engine.close()
    print(f"statements per track(): {len(statements) / CALLS:.2f}")
    print(f"WAL frames per track(): {grown / (page + 24) / CALLS:.2f} (page size {page})")
    if args.list:
        for statement in statements[: len(statements) // CALLS]:
            print("  ", statement[:120])


if __name__ == "__main__":
    main()
