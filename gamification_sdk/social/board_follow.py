"""The boards' orders in memory on PostgreSQL, kept up to date in commit order.

Writers on many servers append to the change log at once there, so a row's ``seq`` does not
follow commit order: a reader that asked for ``seq > last`` would skip a row that committed
after a later one, and its board would stay wrong. Each period's order instead has its own
``ChangeLogReader`` (storage/postgres/changelog.py), started in the very statement that scans
the period's scores, so in one snapshot even where each statement takes its own (writes run
READ COMMITTED). An order catches up when it is read: one round trip, as on SQLite. Within
one read (``pinned``) it catches up once, at its first use: the read's snapshot holds still,
so a second catch-up would find nothing new and cost a round trip all the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ..storage.postgres.changelog import SCORES_AND_START, ChangeLogReader, LogBehind
from .board_order import Order

__all__ = ["Followed"]


def _scores(rows: Iterable[Any], marks: list[tuple[int, int | None]]) -> Iterator[Any]:
    """The score rows of ``SCORES_AND_START``; its start rows (no user) go to ``marks``."""
    for row in rows:
        if row[0] is None:
            marks.append((row[3], row[4]))
        else:
            yield row[0], row[1], row[2]


class Followed:
    """Period id -> its order and its place in the change log, read in commit order."""

    __slots__ = ("_block", "_conn", "_current", "orders")

    def __init__(self, conn: sqlite3.Connection, block: int) -> None:
        self._conn = conn
        self._block = block
        self.orders: dict[int, tuple[Order, ChangeLogReader]] = {}
        # Inside ``pinned``: the periods whose order this read has already caught up.
        self._current: set[int] | None = None

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One read: each period's order catches up at its first use only (nested: the
        outer read's)."""
        if self._current is not None:
            yield
            return
        self._current = set()
        try:
            yield
        finally:
            self._current = None

    def order(self, period_id: int) -> Order:
        """The period's order as of this read, built on first use or after a reset."""
        found = self.orders.get(period_id)
        current = self._current
        if found is not None and current is not None and period_id in current:
            return found[0]
        if found is not None and self._catch_up(period_id, *found):
            if current is not None:
                current.add(period_id)
            return found[0]
        marks: list[tuple[int, int | None]] = []
        rows = self._conn.execute(SCORES_AND_START, (period_id,))
        order = Order(_scores(rows, marks), self._block)
        reader = ChangeLogReader()
        reader.started(marks)
        self.orders[period_id] = (order, reader)
        if current is not None:
            current.add(period_id)
        return order

    def _catch_up(self, period_id: int, order: Order, reader: ChangeLogReader) -> bool:
        """Apply the period's rows committed since the last read; False if the order must
        be built again (the period was reset, or rows it had not read were pruned)."""
        try:
            rows = reader.read(self._conn)
        except LogBehind:
            return False
        for row in rows:
            if row.period_id != period_id:
                continue
            if row.user_id is None:
                return False
            if row.old_listed:
                order.remove(row.user_id, row.old_score, row.old_reached or 0)
            if row.listed:
                order.add(row.user_id, row.score, row.reached or 0)
        return True
