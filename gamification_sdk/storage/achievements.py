"""The statements of progression/achievements.py: unlock rows and what criteria read."""

from __future__ import annotations

from .xp import AWARD_COLUMNS

__all__ = [
    "EVALUATION_PROFILE",
    "LIFETIME_EARNED",
    "LONGEST_STREAK",
    "NEW_UNLOCK",
    "TRACK_AWARD_PROFILE",
    "TRACK_PROFILE",
    "UNLOCKS",
    "UNLOCKS_OF",
]

UNLOCKS = (
    "SELECT key, tier, seq, unlocked_at, baseline FROM achievement_unlocks WHERE user_id = ? "
    "ORDER BY key, tier, seq"
)
# One achievement's unlocks: a range of the primary key (user_id, key, tier, seq).
UNLOCKS_OF = (
    "SELECT tier, seq, unlocked_at, baseline FROM achievement_unlocks WHERE user_id = ? "
    "AND key = ? ORDER BY tier, seq"
)
# Unlock rows are keyed (user_id, key, tier, seq): inserting one that exists changes nothing.
NEW_UNLOCK = (
    "INSERT INTO achievement_unlocks (user_id, key, tier, seq, version, rarity, "
    "points, unlocked_at, rewards, baseline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (user_id, key, tier, seq) DO NOTHING"
)
LIFETIME_EARNED = "SELECT lifetime_earned FROM accounts WHERE user_id = ? AND currency = ?"
# The profile, and whether the user has unlocked anything: if not, no unlock is read later.
_PROFILE = "xp, level, timezone, EXISTS (SELECT 1 FROM achievement_unlocks WHERE user_id = ?1)"
EVALUATION_PROFILE = f"SELECT {_PROFILE} FROM profiles WHERE user_id = ?1"
# track()'s first read: the same, and the stored configuration version, which it hands to
# Store.confirm in place of a PRAGMA data_version statement (see Store.write's confirms).
TRACK_PROFILE = (
    f"SELECT {_PROFILE}, (SELECT MAX(version) FROM config_versions) "
    "FROM profiles WHERE user_id = ?1"
)
# track()'s first read when the event's rule pays XP: the award's own read (AWARD_STATE's
# columns, in its order, the version among them), then the timezone and whether any unlock
# exists. XP.award takes the row instead of reading the profile again (XP.writes says when
# it may): one profile read per track, not two.
TRACK_AWARD_PROFILE = (
    f"SELECT {AWARD_COLUMNS}, timezone, "
    "EXISTS (SELECT 1 FROM achievement_unlocks WHERE user_id = ?1) "
    "FROM profiles WHERE user_id = ?1"
)
LONGEST_STREAK = "SELECT streak_longest FROM profiles WHERE user_id = ?"
