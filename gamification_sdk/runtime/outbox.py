"""The notifications outbox: rows written with the change that caused them, read by the app.

Delivery (email, push, websockets) belongs to host plugins: the ``notify`` hook receives
each notification after its transaction commits. A user's preferences switch kinds off;
a switched-off kind is neither stored nor delivered.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..errors import InvalidInput
from ..models import Notification
from ..storage.notifications import (
    ADD,
    ENABLED,
    MARK_ALL_READ,
    MARK_READ,
    PREFERENCES,
    RECENT,
    RECENT_UNREAD,
    SET_PREFERENCE,
)
from ..storage.store import Tx

__all__ = ["KINDS", "Notifications"]

KINDS = (
    "achievement_unlocked",
    "leaderboard_reward",
    "level_up",
    "points_expiring",
    "quest_completed",
    "rank_changed",
    "referral_converted",
    "referral_milestone",
    "referral_signed_up",
    "streak_at_risk",
    "streak_broken",
    "streak_freeze_used",
    "tier_changed",
)


def _row(row: tuple[Any, ...]) -> Notification:
    return Notification(
        id=row[0],
        user_id=row[1],
        kind=row[2],
        message=row[3],
        data=json.loads(row[4]),
        created_at=datetime.fromisoformat(row[5]),
        read_at=None if row[6] is None else datetime.fromisoformat(row[6]),
    )


class Notifications:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # The ``notification_stored`` hook (assembly.py), asked inside the storing write.
        self.stored: Callable[[Notification], None] | None = None

    def add(
        self,
        tx: Tx,
        user_id: str,
        kind: str,
        message: str,
        data: dict[str, Any],
        at: datetime,
        at_text: str,
    ) -> Notification | None:
        """Store one notification unless the user switched ``kind`` off; tell the plugins that
        keep something with it (``notification_stored``) and queue its delivery."""
        row = self._conn.execute(ENABLED, (user_id, kind)).fetchone()
        if row is not None and not row[0]:
            return None
        body = json.dumps(data, sort_keys=True, separators=(",", ":"))
        cursor = self._conn.execute(ADD, (user_id, kind, message, body, at_text))
        note = Notification(int(cursor.lastrowid or 0), user_id, kind, message, data, at)
        if self.stored is not None:
            self.stored(note)
        tx.emit("notify", notification=note)
        return note

    def recent(self, user_id: str, *, unread_only: bool, limit: int) -> list[Notification]:
        sql = RECENT_UNREAD if unread_only else RECENT
        return [_row(r) for r in self._conn.execute(sql, (user_id, limit))]

    def mark_read(self, user_id: str, ids: list[int] | None, at_text: str) -> int:
        """Mark the user's ``ids`` (or all) read; returns how many changed."""
        if ids is None:
            cursor = self._conn.execute(MARK_ALL_READ, (at_text, user_id))
            return cursor.rowcount
        changed = 0
        for nid in ids:
            cursor = self._conn.execute(MARK_READ, (at_text, nid, user_id))
            changed += cursor.rowcount
        return changed

    def preferences(self, user_id: str) -> dict[str, bool]:
        found = dict.fromkeys(KINDS, True)
        for kind, enabled in self._conn.execute(PREFERENCES, (user_id,)):
            found[kind] = bool(enabled)
        return found

    def set_preferences(self, user_id: str, changes: dict[str, bool]) -> None:
        for kind, enabled in changes.items():
            self._conn.execute(SET_PREFERENCE, (user_id, kind, int(enabled)))


def check_preferences(changes: Mapping[str, object]) -> dict[str, bool]:
    """Validate ``{kind: bool}`` before anything is written."""
    if not changes:
        raise InvalidInput("preferences", "give at least one kind=True/False")
    for kind, enabled in changes.items():
        if kind not in KINDS:
            raise InvalidInput(kind, f"unknown notification kind; expected one of {KINDS}")
        if type(enabled) is not bool:
            raise InvalidInput(kind, f"expected True or False, got {enabled!r}")
    return {k: bool(v) for k, v in changes.items()}
