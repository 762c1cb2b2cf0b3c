"""The statements of ``economy/ratelimits.py``: the sliding log of calls per (action, user)."""

from __future__ import annotations

__all__ = ["COUNTED", "FORGET", "FORGET_LAST", "PRUNE", "PRUNE_USER", "RECORD", "WINDOW"]

# All of these run on the table's primary key (action, user_id, at): no scans.
WINDOW = (
    "SELECT coalesce(sum(hits), 0), min(at) FROM rate_limit_hits "
    "WHERE action = ? AND user_id = ? AND at > ?"
)
COUNTED = (
    "SELECT at, hits FROM rate_limit_hits WHERE action = ? AND user_id = ? AND at > ? ORDER BY at"
)
RECORD = (
    "INSERT INTO rate_limit_hits (action, user_id, at, hits) VALUES (?, ?, ?, 1) "
    "ON CONFLICT (action, user_id, at) DO UPDATE SET hits = rate_limit_hits.hits + 1"
)
FORGET = (
    "UPDATE rate_limit_hits SET hits = hits - 1 WHERE action = ? AND user_id = ? AND at = ? "
    "AND hits > 1"
)
FORGET_LAST = "DELETE FROM rate_limit_hits WHERE action = ? AND user_id = ? AND at = ? AND hits = 1"
PRUNE_USER = "DELETE FROM rate_limit_hits WHERE action = ? AND user_id = ? AND at <= ?"
PRUNE = "DELETE FROM rate_limit_hits WHERE action = ? AND at <= ?"
