#!/usr/bin/env python3
"""Statements and WAL frames per keyed ``award_points`` / ``spend_points``, and per raw row.

How the figures in benchmarks/README.md's table of WAL frames were counted. On one engine of
``ratio.py`` (1,000 funded users, the benchmark configuration) with checkpoints inline and
then off (``wal_autocheckpoint = 0``, the WAL truncated first), the script:

- records the SQL of one call with ``set_trace_callback`` (every statement the connection ran);
- runs ``--calls`` more calls and reads the WAL's frame headers: each frame is one page write,
  a frame with a non-zero "database size" field ends a commit; frames / commits is the figure;
- names the B-tree each written page belongs to (``dbstat``), so the frames split by table.

The raw baseline and the raw double-entry floor of ``ratio.py`` are counted the same way.

    python benchmarks/frames.py [--calls 300] [--fill 0]
"""

from __future__ import annotations

import argparse
import collections
import sqlite3
import struct
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import ratio

_HEADER = 32  # the WAL file header
_FRAME_HEADER = 24


def wal_pages(wal: Path) -> tuple[list[int], int]:
    """The page number of every frame in ``wal`` and the number of commits."""
    data = wal.read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    pages, commits, offset = [], 0, _HEADER
    while offset + _FRAME_HEADER <= len(data):
        page, size_after_commit = struct.unpack(">II", data[offset : offset + 8])
        pages.append(page)
        commits += size_after_commit != 0
        offset += _FRAME_HEADER + page_size
    return pages, commits


def count(
    conn: sqlite3.Connection, path: Path, call: Callable[[int], float], calls: int
) -> tuple[list[str], float, dict[str, float]]:
    """(statements of one call, WAL frames per commit, frames per commit by B-tree)."""
    call(20)  # warm: statements prepared, the first page splits behind us
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    call(1)
    conn.set_trace_callback(None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    call(calls)
    pages, commits = wal_pages(Path(f"{path}-wal"))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with sqlite3.connect(path) as reader:
        owner = {page: name for name, page in reader.execute("SELECT name, pageno FROM dbstat")}
    by_tree = collections.Counter(owner.get(page, "?") for page in pages)
    split = {name: n / commits for name, n in by_tree.most_common()}
    return statements, len(pages) / commits, split


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300, help="commits counted per case")
    parser.add_argument("--fill", type=int, default=0, help="pre-fill the ledgers first")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gamification-frames-") as tmp:
        where = Path(tmp)
        engine_path = where / "engine.db"
        engine = ratio.Engine(engine_path, seed=not args.fill, checkpoint="inline")
        raw_path = where / "raw.db"
        raw = ratio.Raw(raw_path)
        if args.fill:
            engine.prefill(args.fill, 50_000)
            raw.prefill_ledger(args.fill)
        cases: list[tuple[str, sqlite3.Connection, Path, Callable[[int], float]]] = [
            ("award_points, unique key", engine.g.db.conn, engine_path, engine.award_points),
            ("spend_points, unique key", engine.g.db.conn, engine_path, engine.spend_points),
            ("raw baseline", raw.conn, raw_path, raw.per_txn),
            ("raw double-entry floor", raw.conn, raw_path, raw.double_entry),
        ]
        try:
            for name, conn, path, call in cases:
                statements, frames, split = count(conn, path, call, args.calls)
                print(f"{name}: {len(statements)} statements, {frames:.2f} WAL frames per commit")
                print(
                    "    frames by B-tree: " + ", ".join(f"{k} {v:.2f}" for k, v in split.items())
                )
                for statement in statements:
                    print(f"    {statement[:110]}")
        finally:
            engine.close()
            raw.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
