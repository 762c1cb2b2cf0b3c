"""An engine's SQL, recorded and replayed on raw ``sqlite3``.

``recording()`` makes the engine's own connection a ``Recording``, which keeps every
statement it runs with its parameters; ``Replay`` runs such statements on a plain
connection set up as the engine sets up its own (pragmas, TEMP triggers, the background
checkpointer). ``breakdown.py`` uses them to time a call statement by statement and
``ceiling.py`` to time the engine's SQL with none of its Python.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    from gamification_sdk.storage.checkpoints import SAFETY_NET_PAGES, Checkpointer
except ImportError:  # a package from before storage/ (compare.py --harness after)
    from gamification_sdk.checkpoints import (  # type: ignore[no-redef]
        SAFETY_NET_PAGES,
        Checkpointer,
    )

# One statement as the engine ran it: SQL, parameters, and whether through executemany.
Statement = tuple[str, Any, bool]


class RecordingCursor(sqlite3.Cursor):
    """A cursor of a ``Recording`` connection: the engine runs its hot statements on a cursor
    it keeps (storage/backend.py), so they are recorded here."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        log = self.connection.log  # type: ignore[attr-defined]
        log.append((sql, parameters, False))
        return super().execute(sql, parameters)


class Recording(sqlite3.Connection):
    """A connection that keeps every statement it runs, with its parameters."""

    log: list[Statement]

    def cursor(self, factory: Any = RecordingCursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.log.append((sql, parameters, False))
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        rows = list(parameters)
        self.log.append((sql, rows, True))
        return super().executemany(sql, rows)


@contextmanager
def recording() -> Iterator[list[Statement]]:
    """The first connection opened inside (the engine's own; not its checkpointer's, which
    runs on another thread) records its statements into the list yielded."""
    log: list[Statement] = []
    real = sqlite3.connect
    opened: list[sqlite3.Connection] = []

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        if opened:
            return real(*args, **kwargs)
        conn = real(*args, factory=Recording, **kwargs)
        opened.append(conn)
        assert isinstance(conn, Recording)
        conn.log = log
        return conn

    sqlite3.connect = connect  # type: ignore[assignment]
    try:
        yield log
    finally:
        sqlite3.connect = real


def temp_setup(log: Sequence[Statement]) -> list[str]:
    """The per-connection state an engine sets up at open (the boards' TEMP triggers): it
    must exist on the replaying connection too, or its work would go unmeasured."""
    return [sql for sql, _, _ in log if sql.lstrip().upper().startswith("CREATE TEMP")]


class Replay:
    """Raw sqlite3 with the engine's pragmas, running recorded statements."""

    def __init__(self, path: Path, setup: Sequence[str]) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, cached_statements=512)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES}")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute(f"PRAGMA cache_size = {-1024 * 64}")
        for sql in setup:
            self.conn.execute(sql)
        self.checkpointer = Checkpointer(str(path), busy_timeout=5.0)
        self.spent: dict[str, int] = defaultdict(int)
        self.seen: dict[str, int] = defaultdict(int)

    def run(self, calls: Sequence[Sequence[Statement]]) -> float:
        """Seconds for ``calls`` (each a list of statements), and per-statement totals."""
        execute, executemany, clock = self.conn.execute, self.conn.executemany, time.perf_counter_ns
        spent, seen = self.spent, self.seen
        total = 0
        for statements in calls:
            for sql, params, many in statements:
                start = clock()
                try:
                    if many:
                        executemany(sql, params).fetchall()
                    else:
                        execute(sql, params).fetchall()
                except sqlite3.Error as exc:
                    raise RuntimeError(f"replaying {sql!r} {params!r}: {exc}") from exc
                took = clock() - start
                if sql == "COMMIT":
                    self.checkpointer.committed(self.conn.total_changes)
                spent[sql] += took
                seen[sql] += 1
                total += took
        return total / 1e9

    def run_plain(self, statements: Sequence[tuple[str, Any, bool, bool]]) -> float:
        """Seconds for ``statements`` (SQL, parameters, executemany?, a COMMIT?) run back to
        back, with no per-statement clock: only what the engine's own calls would run."""
        conn, committed = self.conn, self.checkpointer.committed
        execute, executemany = conn.execute, conn.executemany
        start = time.perf_counter()
        for sql, params, many, commit in statements:
            if many:
                executemany(sql, params).fetchall()
            else:
                execute(sql, params).fetchall()
            if commit:  # as the engine's store does after each COMMIT
                committed(conn.total_changes)
        return time.perf_counter() - start

    def run_least(
        self,
        statements: Sequence[tuple[str, Any, bool, bool]],
        calls: Sequence[tuple[str, str]],
        least: Callable[[str, str], object],
    ) -> float:
        """``run_plain`` with ``least(user, key)`` before each call's statements (each call
        begins with ``BEGIN IMMEDIATE``): ``calls`` gives each call's user and key."""
        conn, committed = self.conn, self.checkpointer.committed
        execute, executemany = conn.execute, conn.executemany
        made = iter(calls)
        start = time.perf_counter()
        for sql, params, many, commit in statements:
            if sql == "BEGIN IMMEDIATE":
                least(*next(made))
            if many:
                executemany(sql, params).fetchall()
            else:
                execute(sql, params).fetchall()
            if commit:
                committed(conn.total_changes)
        return time.perf_counter() - start

    def close(self) -> None:
        self.checkpointer.close()
        self.conn.close()
