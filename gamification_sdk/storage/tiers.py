"""The statements of progression/tiers.py: status tiers, their earnings and their changes."""

from __future__ import annotations

__all__ = [
    "ADD_CHANGE",
    "ADD_EARNING",
    "BOARD",
    "CHANGES",
    "DUE",
    "EARNED",
    "MOVE",
    "NEXT_SEQ",
    "STATUS",
    "UPSERT",
    "ZONE",
]

ZONE = "SELECT timezone FROM profiles WHERE user_id = ?"
ADD_EARNING = "INSERT INTO tier_earnings (user_id, at, amount) VALUES (?, ?, ?)"
# (user, from, to): the window's bounds are inclusive at both ends for an upgrade (the award
# that just happened counts) and half-open for a requalification; callers pass the bounds.
EARNED = (
    "SELECT COALESCE(SUM(amount), 0) FROM tier_earnings WHERE user_id = ? AND at >= ? AND at <= ?"
)
STATUS = (
    "SELECT tier, rank, best_rank, since, requalify_on, due_at FROM tier_status WHERE user_id = ?"
)
UPSERT = (
    "INSERT INTO tier_status (user_id, tier, rank, best_rank, since, requalify_on, due_at) "
    "VALUES (:user, :tier, :rank, :best, :since, :requalify_on, :due_at) "
    "ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, rank = excluded.rank, "
    "best_rank = excluded.best_rank, since = excluded.since, "
    "requalify_on = excluded.requalify_on, due_at = excluded.due_at"
)
# A compare-and-set on the requalification date: a second run (or a second process) that
# read the same row finds the date already moved and changes nothing.
MOVE = (
    "UPDATE tier_status SET tier = :tier, rank = :rank, since = :since, "
    "requalify_on = :requalify_on, due_at = :due_at "
    "WHERE user_id = :user AND requalify_on = :was"
)
DUE = (
    "SELECT user_id FROM tier_status WHERE due_at IS NOT NULL AND due_at <= ? "
    "ORDER BY due_at, user_id LIMIT ?"
)
NEXT_SEQ = "SELECT COALESCE(MAX(seq), 0) + 1 FROM tier_changes WHERE user_id = ?"
ADD_CHANGE = (
    "INSERT INTO tier_changes (user_id, seq, old_tier, new_tier, kind, earned, requalify_on, at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
CHANGES = (
    "SELECT seq, old_tier, new_tier, kind, earned, requalify_on, at FROM tier_changes "
    "WHERE user_id = ? ORDER BY seq DESC LIMIT ?"
)
BOARD = (
    "SELECT user_id, tier, rank, since FROM tier_status WHERE rank >= 0 "
    "ORDER BY rank DESC, since, user_id LIMIT ?"
)
