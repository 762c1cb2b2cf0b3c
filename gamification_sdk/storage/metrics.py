"""The statements of progression/metrics.py: per-user metrics (with their local
hours of the day) and their day buckets."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

__all__ = [
    "COUNT_DAY",
    "COUNT_METRIC",
    "COUNT_METRIC_IN_HOUR",
    "COUNT_TODAY_AND_METRIC",
    "COUNT_TODAY_AND_METRIC_IN_HOUR",
    "PERIODS",
    "READ_METRIC",
    "STATS",
    "WINDOW_TOTALS",
    "best_window",
    "longest_run",
    "longest_run_sql",
    "metric_from_hours",
    "period_sql",
    "rolling_sql",
]

# One occurrence in a local-day bucket; returns the day's new count.
COUNT_DAY = (
    "INSERT INTO metric_days (user_id, metric, day, count, sum) VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT (user_id, metric, day) DO UPDATE SET count = metric_days.count + 1, "
    "sum = metric_days.sum + excluded.sum RETURNING count"
)
# One occurrence in the metric's totals (?1 user, ?2 metric, ?3 value, ?4 1 on the first of
# its local day, ?5 the time); returns the whole new row, so nothing reads it again. The
# larger and smaller of two values are CASEs, not SQLite's max(a, b) and min(a, b), so
# PostgreSQL runs the same text: every column here is NOT NULL, where the two would differ.
_COUNT = (
    "INSERT INTO metrics (user_id, metric, count, sum, max, days, first_at, last_at{columns}) "
    "VALUES (?1, ?2, 1, ?3, ?3, ?4, ?5, ?5{values}) ON CONFLICT (user_id, metric) DO UPDATE "
    "SET count = metrics.count + 1, sum = metrics.sum + excluded.sum, "
    "max = CASE WHEN excluded.max > metrics.max THEN excluded.max ELSE metrics.max END, "
    "days = metrics.days + excluded.days, first_at = CASE WHEN excluded.first_at < "
    "metrics.first_at THEN excluded.first_at ELSE metrics.first_at END, last_at = CASE WHEN "
    "excluded.last_at > metrics.last_at THEN excluded.last_at ELSE metrics.last_at END"
    "{sets} RETURNING count, sum, max, days"
)
COUNT_METRIC = _COUNT.format(columns="", values="", sets="")
# The same, counting the occurrence in its local hour of the day too (m018): one statement
# per hour, so each is prepared once and the hour's two columns are named, not computed.
COUNT_METRIC_IN_HOUR = tuple(
    _COUNT.format(
        columns=f", h{h:02d}_count, h{h:02d}_sum",
        values=", 1, ?3",
        sets=f", h{h:02d}_count = metrics.h{h:02d}_count + 1, "
        f"h{h:02d}_sum = metrics.h{h:02d}_sum + excluded.sum",
    )
    for h in range(24)
)
# PostgreSQL only (SQLite has no writing CTE): COUNT_DAY and COUNT_METRIC (or the hour's) as
# one statement, one round trip (?1 user, ?2 metric, ?3 value, ?4 local day, ?5 the time);
# returns the metric's new row and, last, the day's count.
_TODAY = (
    "WITH d AS (INSERT INTO metric_days (user_id, metric, day, count, sum) "
    "VALUES (?1, ?2, ?4, 1, ?3) ON CONFLICT (user_id, metric, day) DO UPDATE "
    "SET count = metric_days.count + 1, sum = metric_days.sum + excluded.sum RETURNING count) "
)


def _with_day(count: str, values: str) -> str:
    head = f"VALUES (?1, ?2, 1, ?3, ?3, ?4, ?5, ?5{values}) ON CONFLICT"
    assert head in count
    select = (
        f"SELECT ?1, ?2, 1, ?3, ?3, CASE WHEN d.count = 1 THEN 1 ELSE 0 END, ?5, ?5{values} "
        "FROM d ON CONFLICT"
    )
    return _TODAY + count.replace(head, select) + ", (SELECT count FROM d)"


COUNT_TODAY_AND_METRIC = _with_day(COUNT_METRIC, "")
COUNT_TODAY_AND_METRIC_IN_HOUR = tuple(_with_day(c, ", 1, ?3") for c in COUNT_METRIC_IN_HOUR)
READ_METRIC = "SELECT count, sum, max, days FROM metrics WHERE user_id = ? AND metric = ?"
WINDOW_TOTALS = (
    "SELECT COALESCE(SUM(count), 0), COALESCE(SUM(sum), 0) FROM metric_days "
    "WHERE user_id = ? AND metric = ? AND day >= ? AND day <= ?"
)


def metric_from_hours(hours: Sequence[int]) -> str:
    """Give every user's time-of-day metric ``?1`` (at time ``?2``) what the hour columns of
    ``hours`` know of event ``?3``. A metric that was not kept gets the hours' count; one that
    was kept (all along, or until its achievement was retired) keeps the larger count."""
    count = " + ".join(f"h{h:02d}_count" for h in hours) or "0"
    total = " + ".join(f"h{h:02d}_sum" for h in hours) or "0"
    return (
        "INSERT INTO metrics (user_id, metric, count, sum, max, days, first_at, last_at) "
        f"SELECT user_id, ?1, {count}, {total}, 0, 0, ?2, ?2 FROM metrics "
        f"WHERE metric = ?3 AND {count} > 0 ON CONFLICT (user_id, metric) DO UPDATE SET "
        "count = CASE WHEN excluded.count > metrics.count THEN excluded.count "
        "ELSE metrics.count END, "
        "sum = CASE WHEN excluded.sum > metrics.sum THEN excluded.sum ELSE metrics.sum END"
    )


# The best rolling window of ``days`` local days in the user's whole history. (Subqueries in
# FROM are named: PostgreSQL before 16 requires it; its own spelling of the day arithmetic
# is in storage/postgres/statements.py.)
_BEST_ROLLING = (
    "SELECT COALESCE(MAX(total), 0) FROM (SELECT SUM({stat}) OVER (ORDER BY julianday(day) "
    "RANGE BETWEEN ? PRECEDING AND CURRENT ROW) AS total "
    "FROM metric_days WHERE user_id = ? AND metric = ?) AS windows"
)
# The best calendar day, ISO week (from Monday) or month in the user's whole history.
_BEST_PERIOD = (
    "SELECT COALESCE(MAX(total), 0) FROM (SELECT SUM({stat}) AS total FROM metric_days "
    "WHERE user_id = ? AND metric = ? GROUP BY {period}) AS periods"
)
PERIODS = {
    "day": "day",
    "week": "date(day, '-' || ((strftime('%w', day) + 6) % 7) || ' days')",
    "month": "substr(day, 1, 7)",
}
"""How ``best_window`` groups days into a calendar period, by its name."""
STATS = ("count", "sum")
"""The columns ``best_window`` sums."""
# Consecutive days minus their rank is constant within a run: group by it, take the largest.
_LONGEST_RUN = (
    "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM ("
    "SELECT julianday(day) - ROW_NUMBER() OVER (ORDER BY day) AS run FROM ("
    "SELECT DISTINCT day FROM metric_days WHERE user_id = ? AND metric IN ({marks})) AS days"
    ") AS runs GROUP BY run) AS lengths"
)


def rolling_sql(stat: str) -> str:
    """The best rolling window's statement, summing ``stat`` (one of ``STATS``)."""
    return _BEST_ROLLING.format(stat=stat)


def period_sql(stat: str, period: str) -> str:
    """The best calendar ``period``'s statement (a key of ``PERIODS``), summing ``stat``."""
    return _BEST_PERIOD.format(stat=stat, period=PERIODS[period])


def longest_run_sql(metrics: int) -> str:
    """The longest run's statement for ``metrics`` metrics (bound after the user)."""
    return _LONGEST_RUN.format(marks=", ".join("?" * metrics))


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
        sql, args = rolling_sql(column), (days - 1, *args)
    else:
        sql = period_sql(column, period or "day")
    best: float = conn.execute(sql, args).fetchone()[0]
    return best


def longest_run(conn: sqlite3.Connection, user_id: str, metrics: Sequence[str]) -> int:
    """The longest run of consecutive local days with at least one of ``metrics``."""
    sql = longest_run_sql(len(metrics))
    (days,) = conn.execute(sql, (user_id, *metrics)).fetchone()
    return int(days)
