"""The boards' change log (``lb_log``) read in commit order on PostgreSQL.

On SQLite one writer at a time appends to the log, so a row's ``seq`` is also its commit
order and a reader asks for ``seq > last``. On PostgreSQL writers on many servers append at
once: ``seq`` is taken at INSERT, and a transaction that took seq 10 may commit after the
one that took seq 11. A reader that had moved past 11 would never see 10, and its board
would stay wrong. Each row therefore carries its transaction's id (``tx``, p004), and a
reader keeps:

- ``horizon``: the ``xmin`` of its last read's snapshot. Every transaction with a smaller id
  had ended by then, so every such row was either read then or before, or rolled back.
- ``seen``: the rows it read whose ``tx`` is at or above the horizon (committed by then, but
  younger than the oldest transaction still open). They are read again next time, and
  skipped.

A read takes every visible row with ``tx >= horizon`` that it has not seen, in ``seq``
order. Nothing is missed: a transaction open during one read has an id at or above that
read's ``xmin``, so its rows come in a later read. Nothing is read twice: ``seen`` covers
the overlap. Nothing waits for a slow transaction either: rows committed after it are read
at once, so a process sees its own award in its next read.

The order within a user is the order that matters, since a row holds that user's old and
new score. Writers of one user's score hold its row lock until they commit, so of two
rows of one user the later ``seq`` also committed later, and a read never holds the later
without the earlier (the earlier one's transaction had ended before the later one wrote).

Pruning deletes old rows and raises the watermark ``log_pruned_below`` in ``lb_settings``:
every deleted row's ``tx`` is below it. A reader whose horizon is below the watermark may
have lost rows; it rebuilds its order from the score rows instead (``LogBehind``).
"""

from __future__ import annotations

__all__ = ["SCORES_AND_START", "ChangeLogReader", "LogBehind", "LogRow", "prune"]

from typing import Any, NamedTuple

# One round trip: the snapshot's horizon, the pruning watermark and the rows. The LEFT JOIN
# keeps the first two when no row is new. xid8 goes through text: psycopg has no loader for
# it, and ids fit a BIGINT for the life of any cluster (2^63 transactions).
_READ = (
    "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin, "
    "(SELECT value::bigint FROM lb_settings WHERE name = 'log_pruned_below') AS pruned) "
    "SELECT h.xmin, h.pruned, l.seq, l.tx::text::bigint, l.period_id, l.user_id, "
    "l.old_score, l.old_reached, l.old_listed, l.score, l.reached, l.listed "
    "FROM h LEFT JOIN lb_log l ON l.tx >= ?::text::xid8 ORDER BY l.seq"
)
_START = (
    "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) "
    "SELECT h.xmin::text::bigint, l.seq FROM h LEFT JOIN lb_log l ON l.tx >= h.xmin"
)
# A period's listed scores and the reader's start in one statement, so in one snapshot even
# where each statement takes its own (READ COMMITTED, as writes run): the start's rows have
# no user (horizon, seq), the scores no horizon.
SCORES_AND_START = (
    "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) "
    "SELECT NULL, NULL, NULL, h.xmin::text::bigint, l.seq "
    "FROM h LEFT JOIN lb_log l ON l.tx >= h.xmin "
    "UNION ALL SELECT user_id, score, reached, NULL, NULL FROM lb_scores "
    "WHERE period_id = ? AND listed = 1"
)
# Deletes the rows of transactions that ended before every open one began, except the
# newest ``keep``, and moves the watermark above every deleted row's id (never down).
_PRUNE = (
    "WITH gone AS (DELETE FROM lb_log WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) "
    "AND seq <= (SELECT MAX(seq) FROM lb_log) - ? RETURNING tx::text::bigint AS tx) "
    "INSERT INTO lb_settings (name, value) "
    "SELECT 'log_pruned_below', (MAX(tx) + 1)::text FROM gone HAVING COUNT(*) > 0 "
    "ON CONFLICT (name) DO UPDATE SET value = GREATEST(lb_settings.value::bigint, "
    "excluded.value::bigint)::text RETURNING value"
)


class LogBehind(Exception):
    """Rows this reader had not read were pruned: rebuild the order from the score rows."""


class LogRow(NamedTuple):
    """One change of one user's score in one period (``user_id`` None: a period reset)."""

    seq: int
    period_id: int
    user_id: str | None
    old_score: Any
    old_reached: int | None
    old_listed: int | None
    score: Any
    reached: int | None
    listed: int | None


class ChangeLogReader:
    """One process's position in the log (see the module docstring); not thread-safe: the
    board that owns it reads under its lock."""

    __slots__ = ("horizon", "seen")

    def __init__(self) -> None:
        self.horizon: int | None = None
        self.seen: frozenset[int] = frozenset()

    def start(self, conn: Any) -> None:
        """Mark what the snapshot ``conn`` reads in holds: call it in the same snapshot
        (a REPEATABLE READ transaction) as the scan that builds the order in memory."""
        rows = conn.execute(_START).fetchall()
        self.horizon = rows[0][0]
        self.seen = frozenset(seq for _, seq in rows if seq is not None)

    def started(self, marks: list[tuple[int, int | None]]) -> None:
        """``start`` from the ``(horizon, seq)`` rows of ``SCORES_AND_START``."""
        self.horizon = marks[0][0]
        self.seen = frozenset(seq for _, seq in marks if seq is not None)

    def read(self, conn: Any) -> list[LogRow]:
        """The rows committed since the last read (or ``start``), in ``seq`` order; raises
        ``LogBehind`` if some were pruned first."""
        if self.horizon is None:
            raise LogBehind("the reader has not started: build the order, then start()")
        rows = conn.execute(_READ, (str(self.horizon),)).fetchall()
        horizon, pruned = rows[0][0], rows[0][1]
        if pruned is not None and self.horizon < pruned:
            raise LogBehind(
                f"rows below transaction {pruned} were pruned; this reader had read up to "
                f"{self.horizon}"
            )
        seen = self.seen
        new = [LogRow(row[2], *row[4:]) for row in rows if row[2] is not None]
        fresh = [row for row in new if row.seq not in seen]
        self.seen = frozenset(row[2] for row in rows if row[2] is not None and row[3] >= horizon)
        self.horizon = horizon
        return fresh


def prune(conn: Any, keep: int) -> int | None:
    """Delete the log's old rows but the newest ``keep``; the new watermark, or None if
    nothing was deleted. Run it in a write transaction."""
    if keep < 0:
        raise ValueError(f"keep: {keep} is negative")
    row = conn.execute(_PRUNE, (keep,)).fetchone()
    return None if row is None else int(row[0])
