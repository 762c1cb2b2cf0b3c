"""The statements of progression/streaks.py: streak state on profiles, rest days, the log."""

from __future__ import annotations

__all__ = [
    "ADD_REST_DAY",
    "AT_RISK",
    "CANCEL_REST_DAY",
    "DUE_USERS",
    "LOG_DAY",
    "REST_DAYS",
    "SAVE_STREAK",
    "SET_WARNED",
    "STREAK_STATE",
    "STREAK_ZONES",
    "USE_FREEZES",
]

STREAK_STATE = (
    "SELECT p.streak_current, p.streak_longest, p.streak_last_day, p.streak_settled_day, "
    "p.timezone, COALESCE(i.quantity, 0) FROM profiles p LEFT JOIN inventory i "
    "ON i.user_id = p.user_id AND i.item = 'streak_freeze' WHERE p.user_id = ?"
)
SAVE_STREAK = (
    "UPDATE profiles SET streak_current = ?, streak_longest = ?, streak_last_day = ?, "
    "streak_settled_day = ?, updated_at = ? WHERE user_id = ?"
)
REST_DAYS = "SELECT day FROM rest_days WHERE user_id = ? AND day >= ? AND day <= ? ORDER BY day"
LOG_DAY = "INSERT INTO streak_log (user_id, day, kind, streak, created_at) VALUES (?, ?, ?, ?, ?)"
USE_FREEZES = (
    "UPDATE inventory SET quantity = quantity - ?, updated_at = ? "
    "WHERE user_id = ? AND item = 'streak_freeze'"
)
STREAK_ZONES = "SELECT DISTINCT timezone FROM profiles WHERE streak_current > 0"
DUE_USERS = (
    "SELECT user_id FROM profiles WHERE streak_current > 0 AND timezone IS ? "
    "AND streak_settled_day < ? AND user_id > ? ORDER BY user_id LIMIT ?"
)
AT_RISK = (
    "SELECT user_id, streak_current FROM profiles WHERE streak_current > 0 AND timezone IS ? "
    "AND streak_settled_day = ? AND (streak_warned_day IS NULL OR streak_warned_day < ?) "
    "AND NOT EXISTS (SELECT 1 FROM rest_days r WHERE r.user_id = profiles.user_id AND r.day = ?)"
)
SET_WARNED = "UPDATE profiles SET streak_warned_day = ? WHERE user_id = ?"
ADD_REST_DAY = "INSERT INTO rest_days (user_id, day, created_at) VALUES (?, ?, ?)"
CANCEL_REST_DAY = "DELETE FROM rest_days WHERE user_id = ? AND day = ?"
