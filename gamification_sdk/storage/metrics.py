"""The statements of progression/metrics.py: per-user metrics and their day and hour buckets."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

__all__ = [
    "COUNT_DAY",
    "COUNT_HOUR",
    "COUNT_METRIC",
    "METRIC_FROM_HOURS",
    "READ_METRIC",
    "WINDOW_TOTALS",
    "best_window",
    "longest_run",
]

# One occurrence in a local-day bucket; returns the day's new count.
COUNT_DAY = (
    "INSERT INTO metric_days (user_id, metric, day, count, sum) VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT DO UPDATE SET count = count + 1, sum = sum + excluded.sum RETURNING count"
)
# One occurrence in the metric's totals; returns its new count and sum.
COUNT_METRIC = (
    "INSERT INTO metrics (user_id, metric, count, sum, max, days, first_at, last_at) "
    "VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + 1, "
    "sum = sum + excluded.sum, max = MAX(max, excluded.max), days = days + excluded.days, "
    "first_at = MIN(first_at, excluded.first_at), last_at = MAX(last_at, excluded.last_at) "
    "RETURNING count, sum"
)
READ_METRIC = "SELECT count, sum, max, days FROM metrics WHERE user_id = ? AND metric = ?"
WINDOW_TOTALS = (
    "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(sum), 0) FROM metric_days "
    "WHERE user_id = ? AND metric = ? AND day >= ? AND day <= ?"
)
COUNT_HOUR = (
    "INSERT INTO metric_hours (user_id, event, hour, count, sum) VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT DO UPDATE SET count = count + 1, sum = sum + excluded.sum"
)
# A time-of-day metric that was not kept gets what the hour buckets know; one that was kept
# (all along, or until its achievement was retired) keeps the larger count.
METRIC_FROM_HOURS = (
    "INSERT INTO metrics (user_id, metric, count, sum, max, days, first_at, last_at) "
    "SELECT user_id, ?, SUM(count), SUM(sum), 0, 0, ?, ? FROM metric_hours "
    "WHERE event = ? AND hour IN (SELECT value FROM json_each(?)) GROUP BY user_id "
    "ON CONFLICT DO UPDATE SET count = MAX(count, excluded.count), sum = MAX(sum, excluded.sum)"
)
# The best rolling window of ``days`` local days in the user's whole history.
_BEST_ROLLING = (
    "SELECT COALESCE(MAX(total), 0) FROM (SELECT SUM({stat}) OVER (ORDER BY julianday(day) "
    "RANGE BETWEEN ? PRECEDING AND CURRENT ROW) AS total "
    "FROM metric_days WHERE user_id = ? AND metric = ?)"
)
# The best calendar day, ISO week (from Monday) or month in the user's whole history.
_BEST_PERIOD = (
    "SELECT COALESCE(MAX(total), 0) FROM (SELECT SUM({stat}) AS total FROM metric_days "
    "WHERE user_id = ? AND metric = ? GROUP BY {period})"
)
_PERIODS = {
    "day": "day",
    "week": "date(day, '-' || ((strftime('%w', day) + 6) % 7) || ' days')",
    "month": "substr(day, 1, 7)",
}
# Consecutive days minus their rank is constant within a run: group by it, take the largest.
_LONGEST_RUN = (
    "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM ("
    "SELECT julianday(day) - ROW_NUMBER() OVER (ORDER BY day) AS run FROM ("
    "SELECT DISTINCT day FROM metric_days WHERE user_id = ? AND metric IN ({marks}))"
    ") GROUP BY run)"
)


def best_window(
    conn: sqlite3.Connection,
    user_id: str,
    metric: str,
    days: int | None,
    period: str | None,
    stat: str,
) -> float:
    """The largest ``stat`` (``count``, else the sum) of ``metric`` over any ``days``
    consecutive local days, or else over any calendar ``period`` (day, week, month)."""
    column = "count" if stat == "count" else "sum"
    args: tuple[object, ...] = (user_id, metric)
    if days is not None:
        sql, args = _BEST_ROLLING.format(stat=column), (days - 1, *args)
    else:
        sql = _BEST_PERIOD.format(stat=column, period=_PERIODS[period or "day"])
    best: float = conn.execute(sql, args).fetchone()[0]
    return best


def longest_run(conn: sqlite3.Connection, user_id: str, metrics: Sequence[str]) -> int:
    """The longest run of consecutive local days with at least one of ``metrics``."""
    sql = _LONGEST_RUN.format(marks=", ".join("?" * len(metrics)))
    (days,) = conn.execute(sql, (user_id, *metrics)).fetchone()
    return int(days)
