"""PostgreSQL: each statement that changes ``lb_scores`` appends its own ``lb_log`` rows.

On SQLite, TEMP triggers on ``lb_scores`` append the boards' change log (storage/boards.py).
PostgreSQL had permanent triggers doing the same (p006), but under Citus ``lb_scores`` is
sharded by user and ``lb_log`` stays on the coordinator: a trigger running on a worker's
shard cannot write the coordinator's table. So here the statement writes the log itself, in
one statement of data-modifying CTEs (migration p010 dropped the triggers):

- ``prior`` reads, ``FOR UPDATE``, the rows the change may touch, as they stand before it;
- ``changed`` is the change itself, with ``RETURNING`` the rows as they end up;
- the statement appends, per returned row, what p006's trigger did: an inserted row (no
  ``prior`` row) if it is listed, a changed row if it is listed before or after, old and new
  values in the same columns.

``changed``'s own ``WHERE`` waits for ``prior`` (``(SELECT count(*) FROM prior) >= 0``, evaluated
once before its first row): the sub-statements of one statement run in no set order, and a
row the change already wrote in this statement would be skipped by ``FOR UPDATE``. Locked
first, a row cannot change between the read and the write, so ``prior`` holds the row the change
starts from: a writer that committed meanwhile is waited for and its version read. A row
that another transaction inserts after this statement's snapshot and before the upsert
conflicts with it would be logged as an insert; the engine rules that out, as every write of
a user's scores holds that user's lock (``PostgresBackend.write``) or runs ``SERIALIZABLE``,
where such a conflict fails and runs again.

A bulk path turns the log off for its own transaction with the transaction-local setting
``gamification.quiet_log`` (``storage.boards.QUIET_LOG``), as it did the triggers: then
``prior`` reads nothing and nothing is appended.
"""

from __future__ import annotations

__all__ = ["GATE", "LOGGING", "logged"]

LOGGING = "coalesce(current_setting('gamification.quiet_log', true), '') <> 'on'"
"""Whether this transaction logs board changes (a bulk path sets it off for itself)."""

GATE = "(SELECT count(*) FROM prior) >= 0"
"""A condition that is always true and makes the change wait until ``prior`` is read."""

_ROW = "user_id, period_id, score, reached, listed"
_LOG = (
    "INSERT INTO lb_log (period_id, user_id, old_score, old_reached, old_listed, score, "
    "reached, listed) "
    "SELECT n.period_id, n.user_id, o.score, o.reached, o.listed, n.score, n.reached, "
    "n.listed FROM changed AS n LEFT JOIN prior AS o "
    "ON o.user_id = n.user_id AND o.period_id = n.period_id "
    f"WHERE {LOGGING} AND (n.listed = 1 OR o.listed = 1)"
)


def logged(change: str, rows: str) -> str:
    """``change`` (PostgreSQL's text of an insert, upsert or update of ``lb_scores`` whose
    ``WHERE`` includes ``GATE``, with no ``RETURNING``) as one statement that also appends
    its log rows. ``rows``: a condition on ``lb_scores`` true of every row ``change`` may
    update (more is harmless: only the rows it returns are logged)."""
    return (
        f"WITH prior AS (SELECT {_ROW} FROM lb_scores WHERE {LOGGING} AND {rows} FOR UPDATE), "
        f"changed AS ({change} RETURNING {_ROW}) {_LOG}"
    )
