"""The statements of progression/achievements.py: unlock rows and what criteria read."""

from __future__ import annotations

__all__ = [
    "EVALUATION_PROFILE",
    "EVALUATION_PROFILE_AND_UNLOCKS",
    "LIFETIME_EARNED",
    "LONGEST_STREAK",
    "NEW_UNLOCK",
    "UNLOCKS",
]

UNLOCKS = (
    "SELECT key, tier, seq, unlocked_at, baseline FROM achievement_unlocks WHERE user_id = ? "
    "ORDER BY key, tier, seq"
)
# Unlock rows are keyed (user_id, key, tier, seq): inserting one that exists changes nothing.
NEW_UNLOCK = (
    "INSERT OR IGNORE INTO achievement_unlocks (user_id, key, tier, seq, version, rarity, "
    "points, unlocked_at, rewards, baseline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
LIFETIME_EARNED = "SELECT lifetime_earned FROM accounts WHERE user_id = ? AND currency = ?"
EVALUATION_PROFILE = "SELECT xp, level, timezone FROM profiles WHERE user_id = ?"
# The same and, in one statement, what UNLOCKS reads (as a JSON array of its rows), for a
# track() that will need the unlocks anyway: one statement fewer per call.
EVALUATION_PROFILE_AND_UNLOCKS = (
    "SELECT xp, level, timezone, (SELECT json_group_array(json_array(key, tier, seq, "
    "unlocked_at, baseline)) FROM (SELECT key, tier, seq, unlocked_at, baseline "
    "FROM achievement_unlocks WHERE user_id = ?1 ORDER BY key, tier, seq)) "
    "FROM profiles WHERE user_id = ?1"
)
LONGEST_STREAK = "SELECT streak_longest FROM profiles WHERE user_id = ?"
