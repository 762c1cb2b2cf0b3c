"""The statements of progression/events.py: ``reevaluate``'s walk over profiles and its place."""

from __future__ import annotations

__all__ = [
    "COUNT_PROFILES",
    "COUNT_PROFILES_THROUGH",
    "FORGET_REEVALUATE_PLACE",
    "PROFILES_AFTER",
    "REEVALUATE_PLACE",
    "SAVE_REEVALUATE_PLACE",
]

# Where an interrupted run over all users stopped, and the catalogue digest it ran with.
REEVALUATE_PLACE = "SELECT cursor, digest FROM job_state WHERE name = 'reevaluate'"
SAVE_REEVALUATE_PLACE = (
    "INSERT INTO job_state (name, cursor, digest, updated_at) "
    "VALUES ('reevaluate', ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
    "cursor = excluded.cursor, digest = excluded.digest, "
    "updated_at = excluded.updated_at"
)
FORGET_REEVALUATE_PLACE = "DELETE FROM job_state WHERE name = 'reevaluate'"
COUNT_PROFILES = "SELECT COUNT(*) FROM profiles"
COUNT_PROFILES_THROUGH = "SELECT COUNT(*) FROM profiles WHERE user_id <= ?"
PROFILES_AFTER = "SELECT user_id FROM profiles WHERE user_id > ? ORDER BY user_id LIMIT ?"
