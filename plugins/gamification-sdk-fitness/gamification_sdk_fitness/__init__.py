"""Seed 002's SwanStudios fitness catalogue: workout, streak, level and referral achievements.

Installing the package is enough: the engine finds it through the ``gamification_sdk``
entry-point group and loads ``definitions.toml`` as the set named ``fitness``. The engine's
``Config`` must have the ``points`` currency (the default). The streak achievements use the
``fitness.streak`` criterion registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from gamification_sdk import hookimpl

__all__ = ["DEFINITIONS", "NAME", "STREAK", "longest_streak"]

NAME = "fitness"
STREAK = "fitness.streak"
DEFINITIONS = Path(__file__).with_name("definitions.toml")

# Days are the user's local days, as the engine buckets them; a run is a gap-free stretch.
_LONGEST_RUN = (
    "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM ("
    "SELECT julianday(day) - ROW_NUMBER() OVER (ORDER BY day) AS run FROM ("
    "SELECT DISTINCT day FROM metric_days WHERE user_id = ? AND metric IN ({marks}))"
    ") GROUP BY run)"
)


def longest_streak(engine: Any, user_id: str, params: Mapping[str, Any], at: datetime) -> int:
    """The longest run of consecutive local days with at least one of ``params["events"]``."""
    events = params.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise ValueError(f"{STREAK}: params.events must be a non-empty list of event names")
    sql = _LONGEST_RUN.format(marks=", ".join("?" * len(events)))
    (days,) = engine.db.execute(sql, [user_id, *events]).fetchone()
    return int(days)


@hookimpl
def register_criteria(register: Callable[[str, Callable[..., Any]], None]) -> None:
    register(STREAK, longest_streak)


@hookimpl
def register_definitions(register: Callable[..., None]) -> None:
    register(DEFINITIONS, name=NAME)
