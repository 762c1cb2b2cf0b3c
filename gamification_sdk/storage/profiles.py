"""The statements of runtime/users.py and progression/profiles.py: profile rows, a user's balances
and titles."""

from __future__ import annotations

__all__ = [
    "BALANCES",
    "NEW_PROFILE",
    "PROFILE_EXISTS",
    "READ_PROFILE",
    "SET_TIMEZONE",
    "TITLES",
]

PROFILE_EXISTS = "SELECT 1 FROM profiles WHERE user_id = ?"
NEW_PROFILE = "INSERT INTO profiles (user_id, created_at, updated_at) VALUES (?, ?, ?)"
READ_PROFILE = (
    "SELECT xp, level, prestige, xp_at_prestige, created_at, timezone FROM profiles "
    "WHERE user_id = ?"
)
BALANCES = (
    "SELECT currency, balance, held, lifetime_earned, lifetime_spent "
    "FROM accounts WHERE user_id = ? ORDER BY currency"
)
TITLES = "SELECT title FROM titles WHERE user_id = ? ORDER BY granted_at, title"
SET_TIMEZONE = "UPDATE profiles SET timezone = ?, updated_at = ? WHERE user_id = ?"
