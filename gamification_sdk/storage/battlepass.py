"""The statements of progression/battlepass.py: season progress, claims, season ends."""

from __future__ import annotations

__all__ = [
    "ADD_BOOSTS",
    "ADD_XP",
    "ARCHIVE_USER",
    "CLOSE_SEASON",
    "FINISHED_SEASON",
    "FINISH_SEASON",
    "HELD_QUANTITY",
    "IS_CLAIMED",
    "NEW_CLAIM",
    "SEASON_STATE",
    "SET_PREMIUM",
    "USERS_TO_ARCHIVE",
    "USER_CLAIMS",
    "USER_PROGRESS",
    "USE_ITEMS",
]

# The hot path: one statement per XP award while a season is active. The NOT EXISTS keeps a
# backdated award out of a season whose end was already archived.
ADD_XP = (
    "INSERT INTO battle_pass_progress (season, user_id, xp, updated_at) "
    "SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS "
    "(SELECT 1 FROM battle_pass_seasons WHERE season = ?1) "
    "ON CONFLICT (season, user_id) DO UPDATE SET xp = battle_pass_progress.xp + excluded.xp, "
    "updated_at = excluded.updated_at"
)
ADD_BOOSTS = (
    "INSERT INTO battle_pass_progress (season, user_id, xp, boosts, updated_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (season, user_id) DO UPDATE SET "
    "xp = battle_pass_progress.xp + excluded.xp, "
    "boosts = battle_pass_progress.boosts + excluded.boosts, updated_at = excluded.updated_at"
)
SET_PREMIUM = (
    "INSERT INTO battle_pass_progress (season, user_id, premium_at, premium_transaction_id, "
    "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (season, user_id) DO UPDATE SET "
    "premium_at = excluded.premium_at, premium_transaction_id = excluded.premium_transaction_id, "
    "updated_at = excluded.updated_at"
)
USER_PROGRESS = (
    "SELECT xp, boosts, premium_at FROM battle_pass_progress WHERE season = ? AND user_id = ?"
)
USER_CLAIMS = (
    "SELECT track, tier, claimed_at, auto FROM battle_pass_claims WHERE season = ? AND user_id = ?"
)
IS_CLAIMED = (
    "SELECT 1 FROM battle_pass_claims WHERE season = ? AND user_id = ? AND track = ? AND tier = ?"
)
NEW_CLAIM = (
    "INSERT INTO battle_pass_claims (season, user_id, track, tier, rewards, transactions, auto, "
    "claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
SEASON_STATE = "SELECT closed_at, archived_at FROM battle_pass_seasons WHERE season = ?"
CLOSE_SEASON = (
    "INSERT INTO battle_pass_seasons (season, closed_at) VALUES (?, ?) "
    "ON CONFLICT (season) DO NOTHING"
)
USERS_TO_ARCHIVE = (
    "SELECT user_id, xp, premium_at FROM battle_pass_progress WHERE season = ? "
    "AND archived_at IS NULL ORDER BY user_id LIMIT ?"
)
ARCHIVE_USER = (
    "UPDATE battle_pass_progress SET final_tier = ?, archived_at = ? WHERE season = ? "
    "AND user_id = ?"
)
FINISH_SEASON = (
    "UPDATE battle_pass_seasons SET archived_at = ?1, "
    "users = (SELECT count(*) FROM battle_pass_progress WHERE season = ?2), "
    "rewards_granted = (SELECT count(*) FROM battle_pass_claims WHERE season = ?2 AND auto = 1) "
    "WHERE season = ?2 RETURNING users, rewards_granted"
)
FINISHED_SEASON = (
    "SELECT users, rewards_granted, archived_at FROM battle_pass_seasons WHERE season = ?"
)
HELD_QUANTITY = "SELECT quantity FROM inventory WHERE user_id = ? AND item = ?"
USE_ITEMS = (
    "UPDATE inventory SET quantity = quantity - ?, updated_at = ? WHERE user_id = ? AND item = ? "
    "AND quantity >= ?"
)
