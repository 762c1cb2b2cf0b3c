"""Per-user metrics kept incrementally: count, sum and max per event, and local-day buckets.

Day buckets make windowed criteria ("10 posts within 7 days", "this week") a range read of
at most 31 rows instead of a scan of history. Weeks and months are sums of their days.
The metric row of an event also counts it per local hour of the day (24 count and 24 sum
columns, written by the same upsert), so a time-of-day achievement loaded later can count the
past (``from_hours``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ..runtime.runtime import Mispredicted
from ..storage import metrics as queries
from ..storage.metrics import (
    COUNT_DAY,
    COUNT_METRIC,
    COUNT_METRIC_IN_HOUR,
    COUNT_TODAY_AND_METRIC,
    COUNT_TODAY_AND_METRIC_IN_HOUR,
    READ_METRIC,
    WINDOW_TOTALS,
    metric_from_hours,
)
from ..storage.store import Tx

__all__ = [
    "ACTIVE", "Metrics", "Recorded", "day_bounds", "local_day", "period_start", "whole_hours",
    "zone",
]  # fmt: skip

ACTIVE = "~active"  # the pseudo-metric whose ``days`` is the user's distinct active days


class Recorded(NamedTuple):
    """One recorded occurrence: the metric's new count (``times``) and sum, its count on that
    local day, whether it made the day newly active, and the metric's whole new row
    (``Metrics.read``'s shape), so the caller need not read it back."""

    times: int
    total: float
    today: int
    new_active_day: bool
    row: tuple[int, float, float, int]


_new_tuple = tuple.__new__


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(at: datetime, tz: str, start_hour: int = 0) -> tuple[date, int]:
    """The user's day of ``at`` in ``tz`` (days start at ``start_hour`` local), and the local
    minute of the wall clock (0-1439)."""
    # A UTC time in the UTC zone is its own local time: no conversion (most users' case).
    local = at if tz == "UTC" and at.tzinfo is UTC else at.astimezone(zone(tz))
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


def whole_hours(start: str, end: str) -> list[int]:
    """The local hours of the day that lie wholly within ``start``-``end`` (may wrap)."""
    lo = int(start[:2]) * 60 + int(start[3:])
    length = (int(end[:2]) * 60 + int(end[3:]) - lo) % 1440
    return [hour for hour in range(24) if (hour * 60 - lo) % 1440 + 60 <= length]


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if period == "month":
        return day.replace(day=1)
    return day


class Metrics:
    def __init__(self, conn: sqlite3.Connection, *, writing_ctes: bool = False) -> None:
        self._conn = conn
        # PostgreSQL: the day's count and the metric's in one statement, one round trip.
        self._together = writing_ctes

    def record(
        self,
        user_id: str,
        metric: str,
        value: float,
        day: str,
        at_text: str,
        *,
        active: bool = True,
        hour: int | None = None,
        tx: Tx | None = None,
    ) -> Recorded:
        """Count one occurrence worth ``value`` on local ``day`` (and in the local ``hour`` of
        the day, 0-23, for an event); ``active=False`` for what happened to the user rather
        than what they did (the day stays as it was). ``tx``: the write, which may hold this
        very count queued ahead (``record_ahead``)."""
        execute = self._conn.execute
        if self._together:
            sql = COUNT_TODAY_AND_METRIC if hour is None else COUNT_TODAY_AND_METRIC_IN_HOUR[hour]
            params = (user_id, metric, value, day, at_text)
            queued = None
            if tx is not None and tx.ahead:
                queued = tx.take(sql, params)
                if queued is None:
                    # Counted ahead on another day or hour (the user's zone was not the one
                    # guessed): that count must not stand.
                    raise Mispredicted()
            found = (queued or execute(sql, params)).fetchone()
            row, today = found[:4], found[4]
            first_today = today == 1
        else:
            (today,) = execute(COUNT_DAY, (user_id, metric, day, value)).fetchone()
            first_today = today == 1
            sql = COUNT_METRIC if hour is None else COUNT_METRIC_IN_HOUR[hour]
            row = execute(sql, (user_id, metric, value, int(first_today), at_text)).fetchone()
        # Only the first occurrence of an event on a day can make the day newly active.
        new_active_day = (
            first_today and active and metric != ACTIVE and self.mark_active(user_id, day, at_text)
        )
        # tuple.__new__ directly: a NamedTuple's own __new__ is a Python function on top.
        return _new_tuple(Recorded, (row[0], row[1], today, new_active_day, row))

    def record_ahead(
        self, tx: Tx, user_id: str, metric: str, value: float, day: str, at_text: str, minute: int
    ) -> None:
        """Queue ``record``'s count of an event (PostgreSQL, Runtime.write's ``ahead``)."""
        sql = COUNT_TODAY_AND_METRIC_IN_HOUR[minute // 60]
        tx.queue_ahead(self._conn, sql, (user_id, metric, value, day, at_text))

    def mark_active(self, user_id: str, day: str, at_text: str) -> bool:
        """Mark local ``day`` active without an event; True if it was not active yet."""
        execute = self._conn.execute
        (active,) = execute(COUNT_DAY, (user_id, ACTIVE, day, 0)).fetchone()
        if active != 1:
            return False
        execute(COUNT_METRIC, (user_id, ACTIVE, 0, 1, at_text)).fetchone()
        return True

    def from_hours(self, metric: str, event: str, hours: list[int], at_text: str) -> None:
        """Give every user's time-of-day ``metric`` the ``event`` count of ``hours``."""
        self._conn.execute(metric_from_hours(hours), (metric, at_text, event))

    def best_window(
        self, user_id: str, metric: str, days: int | None, period: str | None, stat: str
    ) -> float:
        """The largest ``stat`` (count or sum) of ``metric`` over any window of the user's
        history: ``days`` consecutive local days, or one calendar ``period``."""
        return queries.best_window(self._conn, user_id, metric, days, period, stat)

    def longest_run(self, user_id: str, metrics: Sequence[str]) -> int:
        """The longest run of consecutive local days with at least one of ``metrics``."""
        return queries.longest_run(self._conn, user_id, metrics)

    def read(self, user_id: str, metric: str) -> tuple[int, float, float, int]:
        """``(count, sum, max, days)``, zeros if the user never had the metric."""
        row = self._conn.execute(READ_METRIC, (user_id, metric)).fetchone()
        return (0, 0, 0, 0) if row is None else (row[0], row[1], row[2], row[3])

    def window(self, user_id: str, metric: str, first: date, last: date) -> tuple[int, float]:
        """``(count, sum)`` of the local days from ``first`` to ``last`` inclusive."""
        count, total = self._conn.execute(
            WINDOW_TOTALS, (user_id, metric, first.isoformat(), last.isoformat())
        ).fetchone()
        return int(count), total
