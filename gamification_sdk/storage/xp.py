"""The statements of progression/xp.py: the XP log, profiles' XP and level, boosts, prestige."""

from __future__ import annotations

__all__ = [
    "ACTIVE_BOOSTS",
    "AWARD_COLUMNS",
    "AWARD_STATE",
    "BOOST_STATE",
    "EXTEND_BOOSTS",
    "GRANT_LEVEL",
    "GRANT_TITLE",
    "HISTORY",
    "KEY_HOME",
    "NEW_AWARD",
    "NEW_BOOST",
    "NEW_PRESTIGE",
    "NEW_UNSIGNED",
    "ONE_AWARD",
    "PRESTIGE",
    "PRESTIGE_STATE",
    "SET_XP",
]

PRESTIGE_STATE = (
    "SELECT xp, level, prestige, xp_at_prestige, boosts_until FROM profiles WHERE user_id = ?"
)
# metadata and key may come as '' for none (NULLIF stores NULL): the sqlite3 module binds
# text directly but tries its adapters on None first, about 0.5 µs a parameter. Neither is
# ever '' otherwise (metadata is JSON; check_key refuses an empty key).
NEW_AWARD = (
    "INSERT INTO xp_awards (user_id, id, base_amount, multiplier, amount, total_xp, level_before, "
    "level_after, source, metadata, idempotency_key, created_at, fingerprint) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), ?, ?)"
)
# An award that keeps no fingerprint (no key, a level-up's, track()'s): NULL written here,
# not bound as None (see above).
NEW_UNSIGNED = NEW_AWARD.replace("?, ?)", "?, NULL)")
# Where a keyed award_xp keeps its key: its own log row (see Idempotency's homes). An award
# that pays level rewards keeps it in idempotency_keys instead, whose result holds them.
KEY_HOME = (
    "SELECT 'award_xp', fingerprint, json_array(user_id, id) FROM xp_awards "
    "WHERE idempotency_key = ?1 AND fingerprint IS NOT NULL"
)
SET_XP = "UPDATE profiles SET xp = ?, level = ?, updated_at = ? WHERE user_id = ?"
# The award's profile row and the user's last award id in one statement: a statement costs
# about as much as the B-tree seek it does. Last, the periods the XP board's slots hold
# (m020): the award's update then writes each slot without a CASE (see board_slots.py).
# The last column is the stored configuration version, for Store.confirm (award_xp's first
# read: see XP.award).
# AWARD_COLUMNS: also the first columns of track()'s read (storage/achievements.py), whose
# row XP.award then takes as its own.
AWARD_COLUMNS = (
    "xp, level, prestige, xp_at_prestige, boosts_until, "
    "(SELECT MAX(id) FROM xp_awards WHERE user_id = ?1), lb_p1, lb_p2, lb_p3, "
    "(SELECT MAX(version) FROM config_versions)"
)
AWARD_STATE = f"SELECT {AWARD_COLUMNS} FROM profiles WHERE user_id = ?1"
ACTIVE_BOOSTS = (
    "SELECT factor FROM xp_boosts WHERE user_id = ? AND expires_at > ? AND starts_at <= ?"
)
BOOST_STATE = "SELECT prestige, boosts_until FROM profiles WHERE user_id = ?"
EXTEND_BOOSTS = (
    "UPDATE profiles SET boosts_until = MAX(COALESCE(boosts_until, ''), ?) WHERE user_id = ?"
)
GRANT_LEVEL = (
    "INSERT OR IGNORE INTO level_rewards_granted (user_id, prestige, level, xp_award_id, "
    "granted_at) VALUES (?, ?, ?, ?, ?)"
)
GRANT_TITLE = (
    "INSERT OR IGNORE INTO titles (user_id, title, source, granted_at) VALUES (?, ?, ?, ?)"
)
NEW_BOOST = (
    "INSERT INTO xp_boosts (user_id, factor, source, starts_at, expires_at, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
PRESTIGE = (
    "UPDATE profiles SET prestige = ?, xp_at_prestige = xp, level = 1, updated_at = ? "
    "WHERE user_id = ?"
)
NEW_PRESTIGE = (
    "INSERT INTO prestiges (user_id, prestige, xp_at_prestige, created_at) VALUES (?, ?, ?, ?)"
)
# The columns of an XP log entry, in the order progression/xp.py's ``_entry`` reads them.
_COLUMNS = (
    "id, user_id, base_amount, multiplier, amount, total_xp, level_before, level_after, "
    "source, metadata, idempotency_key, created_at"
)
HISTORY = f"SELECT {_COLUMNS} FROM xp_awards WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
ONE_AWARD = f"SELECT {_COLUMNS} FROM xp_awards WHERE user_id = ? AND id = ?"
