"""The statements of progression/quests.py: per-period quest progress and paid completions."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = [
    "CLOSE_PERIODS",
    "COMPLETED_EVER",
    "NEW_COMPLETION",
    "NEW_PROGRESS",
    "PERIOD_PROGRESS",
    "UPDATE_PROGRESS",
    "progress_of",
    "progress_sql",
]

PERIOD_PROGRESS = (
    "SELECT progress, completions FROM quest_progress "
    "WHERE user_id = ? AND quest = ? AND period_start = ?"
)
UPDATE_PROGRESS = (
    "UPDATE quest_progress SET progress = ?, completions = ?, status = ?, updated_at = ? "
    "WHERE user_id = ? AND quest = ? AND period_start = ?"
)
# The same parameters as UPDATE_PROGRESS, then the period's end.
NEW_PROGRESS = (
    "INSERT INTO quest_progress (progress, completions, status, updated_at, user_id, quest, "
    "period_start, period_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
NEW_COMPLETION = (
    "INSERT INTO quest_completions (user_id, quest, period_start, seq, version, completed_at, "
    "rewards, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
COMPLETED_EVER = "SELECT 1 FROM quest_completions WHERE user_id = ? AND quest = ? LIMIT 1"
CLOSE_PERIODS = (
    "UPDATE quest_progress SET status = 'expired', updated_at = ? "
    "WHERE status = 'active' AND period_end <= ?"
)


def progress_of(
    conn: sqlite3.Connection, user_id: str, periods: Sequence[tuple[str, str]]
) -> list[tuple[str, str, Any, int]]:
    """``(quest, period_start, progress, completions)`` of the stored ones among ``periods``
    (``(quest, period_start)`` pairs, at least one), read in one statement."""
    args: list[str] = [user_id]
    for quest, start in periods:
        args += (quest, start)
    return conn.execute(progress_sql(len(periods)), args).fetchall()


def progress_sql(periods: int) -> str:
    """``progress_of``'s statement for ``periods`` (quest, period_start) pairs."""
    pairs = ", ".join("(?, ?)" for _ in range(periods))
    return (
        "SELECT quest, period_start, progress, completions FROM quest_progress "
        f"WHERE user_id = ? AND (quest, period_start) IN (VALUES {pairs})"
    )
