"""Per-user metrics kept incrementally: count, sum and max per event, and local-day buckets.

Day buckets make windowed criteria ("10 posts within 7 days", "this week") a range read of
at most 31 rows instead of a scan of history. Weeks and months are sums of their days.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = ["ACTIVE", "Metrics", "Recorded", "day_bounds", "local_day", "period_start", "zone"]

ACTIVE = "~active"  # the pseudo-metric whose ``days`` is the user's distinct active days

_DAY = (
    "INSERT INTO metric_days (user_id, metric, day, count, sum) VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT DO UPDATE SET count = count + 1, sum = sum + excluded.sum RETURNING count"
)
_METRIC = (
    "INSERT INTO metrics (user_id, metric, count, sum, max, days, first_at, last_at) "
    "VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + 1, "
    "sum = sum + excluded.sum, max = MAX(max, excluded.max), days = days + excluded.days, "
    "first_at = MIN(first_at, excluded.first_at), last_at = MAX(last_at, excluded.last_at) "
    "RETURNING count, sum"
)
_READ = "SELECT count, sum, max, days FROM metrics WHERE user_id = ? AND metric = ?"
_WINDOW = (
    "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(sum), 0) FROM metric_days "
    "WHERE user_id = ? AND metric = ? AND day >= ? AND day <= ?"
)


# Consecutive days minus their rank is constant within a run: group by it, take the largest.
_LONGEST_RUN = (
    "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM ("
    "SELECT julianday(day) - ROW_NUMBER() OVER (ORDER BY day) AS run FROM ("
    "SELECT DISTINCT day FROM metric_days WHERE user_id = ? AND metric IN ({marks}))"
    ") GROUP BY run)"
)


class Recorded(NamedTuple):
    """One recorded occurrence: the metric's new count (``times``) and sum, its count on that
    local day, and whether it made the day newly active."""

    times: int
    total: float
    today: int
    new_active_day: bool


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(at: datetime, tz: str, start_hour: int = 0) -> tuple[date, int]:
    """The user's day of ``at`` in ``tz`` (days start at ``start_hour`` local), and the local
    minute of the wall clock (0-1439)."""
    local = at.astimezone(zone(tz))
    minute = local.hour * 60 + local.minute
    if local.hour < start_hour:
        return local.date() - timedelta(days=1), minute
    return local.date(), minute


def day_bounds(day: date, tz: str, start_hour: int = 0) -> tuple[datetime, datetime]:
    """When the user's ``day`` starts and ends, as aware UTC times (23 or 25 hours at DST)."""
    place = zone(tz)
    start = datetime(day.year, day.month, day.day, start_hour, tzinfo=place)
    after = day + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, start_hour, tzinfo=place)
    return start.astimezone(UTC), end.astimezone(UTC)


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if period == "month":
        return day.replace(day=1)
    return day


class Metrics:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(
        self,
        user_id: str,
        metric: str,
        value: float,
        day: str,
        at_text: str,
        *,
        active: bool = True,
    ) -> Recorded:
        """Count one occurrence worth ``value`` on local ``day``; ``active=False`` for what
        happened to the user rather than what they did (the day stays as it was)."""
        execute = self._conn.execute
        (today,) = execute(_DAY, (user_id, metric, day, value)).fetchone()
        first_today = today == 1
        count, total = execute(
            _METRIC, (user_id, metric, value, value, int(first_today), at_text, at_text)
        ).fetchone()
        # Only the first occurrence of an event on a day can make the day newly active.
        new_active_day = (
            first_today and active and metric != ACTIVE and self.mark_active(user_id, day, at_text)
        )
        return Recorded(count, total, today, new_active_day)

    def mark_active(self, user_id: str, day: str, at_text: str) -> bool:
        """Mark local ``day`` active without an event; True if it was not active yet."""
        execute = self._conn.execute
        (active,) = execute(_DAY, (user_id, ACTIVE, day, 0)).fetchone()
        if active != 1:
            return False
        execute(_METRIC, (user_id, ACTIVE, 0, 0, 1, at_text, at_text)).fetchone()
        return True

    def longest_run(self, user_id: str, metrics: Sequence[str]) -> int:
        """The longest run of consecutive local days with at least one of ``metrics``."""
        sql = _LONGEST_RUN.format(marks=", ".join("?" * len(metrics)))
        (days,) = self._conn.execute(sql, (user_id, *metrics)).fetchone()
        return int(days)

    def read(self, user_id: str, metric: str) -> tuple[int, float, float, int]:
        """``(count, sum, max, days)``, zeros if the user never had the metric."""
        row = self._conn.execute(_READ, (user_id, metric)).fetchone()
        return (0, 0, 0, 0) if row is None else (row[0], row[1], row[2], row[3])

    def window(self, user_id: str, metric: str, first: date, last: date) -> tuple[int, float]:
        """``(count, sum)`` of the local days from ``first`` to ``last`` inclusive."""
        count, total = self._conn.execute(
            _WINDOW, (user_id, metric, first.isoformat(), last.isoformat())
        ).fetchone()
        return int(count), total
