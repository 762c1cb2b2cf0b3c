"""The statements of simulator/catalogue.py and simulator/driver.py: what a simulation reads."""

from __future__ import annotations

__all__ = [
    "FIRST_UNLOCKS",
    "LEVELS",
    "LIFETIMES",
    "LIVE_DEFINITIONS",
    "PROGRESS",
    "STREAKS_FROM",
    "SYSTEM_BALANCES",
]

# catalogue.py: the definitions the engine loaded, to derive what simulated users do.
LIVE_DEFINITIONS = "SELECT kind, body FROM definitions WHERE retired_at IS NULL ORDER BY kind, key"

# driver.py: the day-end snapshot and the final report.
SYSTEM_BALANCES = (
    "SELECT system_name, currency, balance FROM accounts WHERE system_name IS NOT NULL"
)
LEVELS = "SELECT user_id, level FROM profiles"
STREAKS_FROM = "SELECT user_id, streak_current FROM profiles WHERE streak_current >= ?"
PROGRESS = "SELECT user_id, level, xp FROM profiles"
LIFETIMES = (
    "SELECT user_id, currency, lifetime_earned, lifetime_spent FROM accounts "
    "WHERE user_id IS NOT NULL"
)
FIRST_UNLOCKS = (
    "SELECT user_id, key, MIN(unlocked_at) FROM achievement_unlocks "
    "GROUP BY user_id, key ORDER BY user_id, key"
)
