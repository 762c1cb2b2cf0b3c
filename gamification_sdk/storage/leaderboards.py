"""The statements of social/leaderboards.py: board periods, their archive and rank rewards."""

from __future__ import annotations

__all__ = [
    "ARCHIVED_GLOBAL",
    "ARCHIVED_RANKS",
    "ARCHIVE_ROWS",
    "CLOSE_PERIOD",
    "ENDED_PERIODS",
    "PERIOD_BY_KEY",
    "PERIOD_ROW",
    "PERIOD_SCORES",
    "PREVIOUS_BY_END",
    "PREVIOUS_BY_KEY",
    "RECORD_REWARD",
    "SCORES_CHUNK",
    "scores_sql",
]

# An archived period's rows with whether global boards list each user now: the same rule
# as ``lb_scores.listed`` (see boards.py), from the profile's current settings.
ARCHIVED_GLOBAL = (
    "SELECT a.user_id, a.score, a.reached, a.previous_rank, a.movement, "
    "COALESCE(p.visibility, ?2) = 'public' AND COALESCE(p.show_on_global, ?3) <> 0 "
    "FROM lb_archive AS a JOIN profiles AS p ON p.user_id = a.user_id "
    "WHERE a.period_id = ?1 AND (a.user_id = ?4 "
    "OR (COALESCE(p.visibility, ?2) = 'public' AND COALESCE(p.show_on_global, ?3) <> 0))"
)
PERIOD_BY_KEY = (
    "SELECT id, closed_at FROM lb_periods WHERE board = ? AND period = ? AND period_key = ?"
)

SCORES_CHUNK = 500
"""The most users ``scores_sql`` is built for: longer lists are read in chunks."""


def scores_sql(closed: bool, users: int) -> str:
    """``(user_id, score, reached, previous_rank, movement)`` of ``users`` users (bound after
    the period id) in a period: from the archive once it is ``closed``, else the live rows,
    which have no movement yet (``lb_live``: lb_scores and the XP board's profile slots)."""
    table = "lb_archive" if closed else "lb_live"
    extra = "previous_rank, movement" if closed else "NULL, NULL"
    return (
        f"SELECT user_id, score, reached, {extra} FROM {table} WHERE period_id = ? "
        f"AND user_id IN ({', '.join('?' * users)})"
    )


# -- closing ----------------------------------------------------------------------------------

ENDED_PERIODS = (
    "SELECT id FROM lb_periods WHERE closed_at IS NULL AND ends_at <= ? ORDER BY ends_at, id"
)
PERIOD_ROW = "SELECT board, period, period_key, starts_at, closed_at FROM lb_periods WHERE id = ?"
PERIOD_SCORES = "SELECT user_id, score, reached, listed FROM lb_live WHERE period_id = ?"
ARCHIVE_ROWS = (
    "INSERT INTO lb_archive (period_id, user_id, score, reached, listed, rank, position, "
    "previous_rank, movement) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CLOSE_PERIOD = "UPDATE lb_periods SET closed_at = ?, ranked = ? WHERE id = ?"
# The closed period before this one: the season before by key, any other by its end.
PREVIOUS_BY_KEY = (
    "SELECT id FROM lb_periods WHERE board = ? AND period = ? AND period_key = ? "
    "AND closed_at IS NOT NULL"
)
PREVIOUS_BY_END = (
    "SELECT id FROM lb_periods WHERE board = ? AND period = ? AND ends_at = ? "
    "AND closed_at IS NOT NULL"
)
ARCHIVED_RANKS = "SELECT user_id, rank FROM lb_archive WHERE period_id = ?"
# The row is the once-only record: a reward already paid inserts nothing.
RECORD_REWARD = (
    "INSERT INTO lb_rewards (period_id, user_id, reward, rank, paid_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (period_id, user_id, reward) DO NOTHING"
)
