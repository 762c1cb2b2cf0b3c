"""The statements of ``economy/inventory.py``: titles, items and the equipped title."""

from __future__ import annotations

__all__ = [
    "EQUIPPED_TITLE",
    "EQUIP_TITLE",
    "GRANT_ITEM",
    "GRANT_TITLE",
    "ITEMS",
    "OWNS_TITLE",
    "TITLES",
]

# rowcount 1 when the title is new to the user, 0 when they had it.
GRANT_TITLE = (
    "INSERT INTO titles (user_id, title, source, granted_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (user_id, title) DO NOTHING"
)
GRANT_ITEM = (
    "INSERT INTO inventory (user_id, item, quantity, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (user_id, item) DO UPDATE SET "
    "quantity = inventory.quantity + excluded.quantity, updated_at = excluded.updated_at"
)
TITLES = "SELECT title FROM titles WHERE user_id = ? ORDER BY granted_at, title"
EQUIPPED_TITLE = "SELECT equipped_title FROM profiles WHERE user_id = ?"
ITEMS = "SELECT item, quantity FROM inventory WHERE user_id = ? AND quantity > 0 ORDER BY item"
OWNS_TITLE = "SELECT 1 FROM titles WHERE user_id = ? AND title = ?"
EQUIP_TITLE = "UPDATE profiles SET equipped_title = ? WHERE user_id = ?"
