"""Titles and items granted by rewards, and the title a user shows."""

from __future__ import annotations

import sqlite3

from ..errors import NotFound
from ..models import Inventory
from ..storage.inventory import (
    EQUIP_TITLE,
    EQUIPPED_TITLE,
    GRANT_ITEM,
    GRANT_TITLE,
    ITEMS,
    OWNS_TITLE,
    TITLES,
)

__all__ = ["FREEZE", "Items"]

# The inventory item a streak spends to cover a missed day; the shop sells it.
FREEZE = "streak_freeze"


class Items:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def grant_title(self, user_id: str, title: str, source: str, at_text: str) -> bool:
        """Give ``title`` (once); True if it is new to the user."""
        cursor = self._conn.execute(GRANT_TITLE, (user_id, title, source, at_text))
        return cursor.rowcount == 1

    def grant_item(self, user_id: str, item: str, quantity: int, at_text: str) -> None:
        self._conn.execute(GRANT_ITEM, (user_id, item, quantity, at_text))

    def read(self, user_id: str) -> Inventory:
        titles = tuple(t for (t,) in self._conn.execute(TITLES, (user_id,)))
        row = self._conn.execute(EQUIPPED_TITLE, (user_id,)).fetchone()
        items = dict(self._conn.execute(ITEMS, (user_id,)).fetchall())
        return Inventory(user_id, titles, None if row is None else row[0], items)

    def equip_title(self, user_id: str, title: str | None) -> None:
        """Show ``title`` (one the user owns), or none with ``None``."""
        if title is not None:
            owned = self._conn.execute(OWNS_TITLE, (user_id, title)).fetchone()
            if owned is None:
                raise NotFound("title", title)
        self._conn.execute(EQUIP_TITLE, (title, user_id))
