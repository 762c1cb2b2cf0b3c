"""The statements of progression/loader.py: stored definition sets and achievement tier numbers."""

from __future__ import annotations

__all__ = [
    "DEFINITIONS",
    "NEW_DEFINITION",
    "NEW_TIER_NUMBER",
    "RETIRE_DEFINITION",
    "TIER_NUMBERS",
    "TIER_NUMBERS_OF",
    "UPDATE_DEFINITION",
]

DEFINITIONS = "SELECT kind, key, source, version, digest, body, retired_at FROM definitions"
NEW_DEFINITION = (
    "INSERT INTO definitions (kind, key, source, version, digest, body, "
    "loaded_at) VALUES (?, ?, ?, 1, ?, ?, ?)"
)
# The next version of a definition; it also brings a retired one back.
UPDATE_DEFINITION = (
    "UPDATE definitions SET source = ?, version = version + 1, digest = ?, "
    "body = ?, loaded_at = ?, retired_at = NULL WHERE kind = ? AND key = ?"
)
RETIRE_DEFINITION = "UPDATE definitions SET retired_at = ? WHERE kind = ? AND key = ?"
TIER_NUMBERS = "SELECT key, name, tier FROM achievement_tiers"
TIER_NUMBERS_OF = "SELECT name, tier FROM achievement_tiers WHERE key = ?"
NEW_TIER_NUMBER = "INSERT INTO achievement_tiers (key, tier, name) VALUES (?, ?, ?)"
