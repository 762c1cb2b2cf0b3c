"""The ceiling of the engine's own design: the exact SQL its calls run, replayed by raw
``sqlite3`` with none of its Python.

A ``Ceiling`` records, once and before any round, every call a case of ``ratio.py`` will
make (``slices`` rounds of ``per_round`` calls: the warm-up pass and the timed rounds), from
an engine opened on a file seeded like the measured engine's. Each round then replays the
next slice of those statements (``BEGIN`` to ``COMMIT``, with their parameters) on a
snapshot of that file taken just before the first recorded call, on a connection set up as
the engine's (``replay.Replay``: its pragmas, TEMP triggers and background checkpointer).
So a round does exactly the work of the engine's calls: the same users in the same
rotation, fresh idempotency keys (no UNIQUE conflict, no idempotent hit replayed), the
same rows written.

The rate it reaches is what the engine would reach if its Python cost nothing: below a
target, the design itself cannot meet it; above, the engine's Python is the gap.

Given ``least`` (least.py), a second copy replays the same slices with, before each call's
statements, the least Python any engine must run for that call (its checks, clock,
fingerprint and result): the "least Python" row, what a Python engine of this design could
reach at best.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from replay import Replay, recording, temp_setup

from gamification_sdk import Gamification

# A call as ratio.py times it: the engine, a user, a fresh idempotency key.
Call = Callable[[Gamification, str, str], object]
# least.py: from the recording engine, the least Python of one call (user, key).
LeastFactory = Callable[[Gamification], Callable[[str, str], object]]
# What a table holds: its row count and an order-free digest of its rows.
State = dict[str, tuple[int, int]]


def state(conn: sqlite3.Connection) -> State:
    """Every table's row count and the sum of its rows' hashes (equal files, equal sums;
    the hashes are this process's, so compare only within one run)."""
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_stat%'"
        )
    ]
    found: State = {}
    for table in tables:
        count, digest = 0, 0
        for row in conn.execute(f'SELECT * FROM "{table}"'):
            count += 1
            digest = (digest + hash(row)) & 0xFFFFFFFFFFFFFFFF
        found[table] = (count, digest)
    return found


def differences(want: State, got: State) -> list[str]:
    return [
        f"{table}: engine {want.get(table)}, replay {got.get(table)}"
        for table in sorted(set(want) | set(got))
        if want.get(table) != got.get(table)
    ]


def snapshot(conn: sqlite3.Connection, path: Path) -> None:
    """A consistent copy of the database ``conn`` is open on (its WAL included)."""
    target = sqlite3.connect(path)
    try:
        conn.backup(target)
    finally:
        target.close()


class Ceiling:
    """The engine's SQL for ``call``: recorded from an engine opened (``open_engine``) on a
    copy of ``seed`` named after ``name``, replayed one slice of ``per_round`` calls a round."""

    def __init__(
        self,
        seed: Path,
        name: str,
        open_engine: Callable[[Path], Gamification],
        call: Call,
        users: Sequence[str],
        per_round: int,
        slices: int,
        least: LeastFactory | None = None,
    ) -> None:
        recorded_on, replayed, checked, leastened = (
            seed.with_name(f"{name}-{part}.db") for part in ("record", "replay", "check", "least")
        )
        source = sqlite3.connect(seed)
        try:
            snapshot(source, recorded_on)
        finally:
            source.close()
        user = itertools.cycle(users)
        key = itertools.count()
        with recording() as log:
            g = open_engine(recorded_on)
            try:
                setup = temp_setup(log)
                # Whatever opening wrote (a catalogue loaded again) is in every copy.
                for path in (replayed, checked, leastened):
                    snapshot(g.db.conn, path)
                self._least = None if least is None else least(g)
                recorded: list[list[tuple[str, Any, bool, bool]]] = []
                # Per slice, each call's (user, key), for the least-Python replay.
                self.calls: list[list[tuple[str, str]]] = []
                conn = g.db.conn
                for _ in range(slices):
                    mark, changed = len(log), conn.total_changes
                    made: list[tuple[str, str]] = []
                    for _ in range(per_round):
                        made.append((next(user), f"k{next(key):012d}"))
                        call(g, *made[-1])
                    self.calls.append(made)
                    # Fresh keys: every call writes (an idempotent hit would write nothing).
                    if conn.total_changes - changed < per_round:
                        raise RuntimeError(f"{per_round} calls wrote fewer rows than calls")
                    recorded.append(
                        [(sql, params, many, sql == "COMMIT") for sql, params, many in log[mark:]]
                    )
                    del log[mark:]  # the slice holds them now
                self.want = state(conn)
            finally:
                g.close()
        for statements in recorded:
            commits = sum(commit for *_, commit in statements)
            if commits != per_round:
                raise RuntimeError(f"expected {per_round} commits per slice, recorded {commits}")
        self.per_round, self.slices = per_round, recorded
        # The whole recording replayed once on its own copy: it must end where the engine
        # did, or the timed replay would measure something else.
        check = Replay(checked, setup)
        try:
            for statements in recorded:
                check.run_plain(statements)
            got = state(check.conn)
        finally:
            check.close()
        checked.unlink()
        wrong = differences(self.want, got)
        if wrong:
            raise RuntimeError("the replay does not end where the engine did: " + "; ".join(wrong))
        self.replay = Replay(replayed, setup)
        self.next = 0
        self.least: Replay | None = None
        if self._least is not None:
            self.least = Replay(leastened, setup)
        else:
            leastened.unlink()
        self.next_least = 0

    @property
    def checkpointers(self) -> list[Any]:
        found = [self.replay.checkpointer]
        if self.least is not None:
            found.append(self.least.checkpointer)
        return found

    def _forget(self, index: int) -> None:
        """A slice replayed by every copy that replays it: its memory can go."""
        if self.least is None or (self.next > index and self.next_least > index):
            self.slices[index] = []
            self.calls[index] = []

    def run(self) -> float:
        """The next slice, replayed: the engine's calls per second with none of its Python."""
        if self.next >= len(self.slices):
            raise RuntimeError(f"only {len(self.slices)} slices were recorded")
        index = self.next
        self.next += 1
        seconds = self.replay.run_plain(self.slices[index])
        self._forget(index)
        return self.per_round / seconds

    def run_least(self) -> float:
        """The next slice again, on its own copy, each call's statements after the least
        Python that call needs (least.py): what a Python engine of this design could reach."""
        assert self.least is not None and self._least is not None, "made without least="
        if self.next_least >= len(self.slices):
            raise RuntimeError(f"only {len(self.slices)} slices were recorded")
        index = self.next_least
        self.next_least += 1
        seconds = self.least.run_least(self.slices[index], self.calls[index], self._least)
        self._forget(index)
        return self.per_round / seconds

    def close(self) -> None:
        """Close; when every slice was replayed, the file must hold what the engine's did."""
        try:
            for replay, done in ((self.replay, self.next), (self.least, self.next_least)):
                if replay is not None and done == len(self.slices):
                    wrong = differences(self.want, state(replay.conn))
                    if wrong:
                        raise RuntimeError("the timed replay diverged: " + "; ".join(wrong))
        finally:
            self.replay.close()
            if self.least is not None:
                self.least.close()
