"""The statements of ``ops/stats.py``: a user's recent XP, points and unlocks."""

from __future__ import annotations

__all__ = ["POINTS_SINCE", "UNLOCKS", "XP_SINCE"]

XP_SINCE = "SELECT amount, created_at FROM xp_awards WHERE user_id = ? AND created_at >= ?"
# Points earned: credits, not refunds (money back) or transfers (points moving between users).
POINTS_SINCE = (
    "SELECT a.currency, e.amount, t.created_at FROM accounts a "
    "JOIN entries e ON e.account_id = a.id JOIN transactions t ON t.id = e.transaction_id "
    "WHERE a.user_id = ? AND e.amount > 0 AND t.created_at >= ? "
    "AND t.type NOT IN ('refund', 'transfer')"
)
UNLOCKS = "SELECT rarity, points, unlocked_at FROM achievement_unlocks WHERE user_id = ?"
