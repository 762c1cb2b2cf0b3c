"""Profiles: a user's level, balances and titles, read over the user row (``runtime/users.py``
creates it on first write)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..config import Config
from ..models import Balance, Profile
from ..runtime.users import UserRows
from ..storage.profiles import BALANCES, READ_PROFILE, SET_TIMEZONE, TITLES
from .levels import LevelTable

__all__ = ["Profiles"]


class Profiles(UserRows):
    def __init__(self, conn: sqlite3.Connection, config: Config, table: LevelTable) -> None:
        super().__init__(conn, config)
        self._table = table

    def set_timezone(self, user_id: str, timezone: str, at_text: str) -> None:
        self._conn.execute(SET_TIMEZONE, (timezone, at_text, user_id))

    def balances(self, user_id: str) -> dict[str, Balance]:
        result = {}
        for currency, balance, held, earned, spent in self._conn.execute(BALANCES, (user_id,)):
            result[currency] = Balance(currency, balance, held, balance - held, earned, spent)
        return result

    def read(self, user_id: str) -> Profile:
        row = self._conn.execute(READ_PROFILE, (user_id,)).fetchone()
        if row is None:
            self.refuse_unknown(user_id)
            xp, prestige, xp_at_prestige, created_at, timezone = 0, 0, 0, None, None
        else:
            xp, _, prestige, xp_at_prestige, created, timezone = row
            created_at = datetime.fromisoformat(created)
        progress = self._table.progress(xp - xp_at_prestige)
        titles = tuple(title for (title,) in self._conn.execute(TITLES, (user_id,)))
        return Profile(
            user_id=user_id,
            level=progress.level,
            xp=xp,
            xp_into_level=progress.xp_into_level,
            xp_for_next_level=progress.xp_for_next_level,
            xp_to_next_level=progress.xp_to_next_level,
            progress=progress.percent,
            prestige=prestige,
            max_level=self._table.max_level,
            created_at=created_at,
            balances=self.balances(user_id),
            titles=titles,
            timezone=timezone or self._config.default_timezone,
        )
