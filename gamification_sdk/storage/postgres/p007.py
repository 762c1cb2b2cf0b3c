"""Migration p007: ``metric_hours``, the readable view of SQLite's m018, on PostgreSQL.

The hour counts live in the metric row's 24 count and 24 sum columns on both engines; the
view shows them as SQLite's m016 table did, one row per user, event and local hour that has
an event, for people and older queries. The engine never reads it.
"""

from __future__ import annotations

__all__ = ["P007"]

P007 = "CREATE VIEW metric_hours AS " + " UNION ALL ".join(
    f"SELECT user_id, metric AS event, {hour} AS hour, h{hour:02d}_count AS count, "
    f"h{hour:02d}_sum AS sum FROM metrics WHERE h{hour:02d}_count > 0"
    for hour in range(24)
)
