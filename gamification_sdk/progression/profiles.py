"""Profile rows: creation on first write, and reading a user's level, balances and titles."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..config import Config
from ..errors import UnknownUser
from ..models import Balance, Profile
from ..storage.profiles import (
    BALANCES,
    NEW_PROFILE,
    PROFILE_EXISTS,
    READ_PROFILE,
    SET_TIMEZONE,
    TITLES,
)
from .levels import LevelTable

__all__ = ["Profiles"]


class Profiles:
    def __init__(self, conn: sqlite3.Connection, config: Config, table: LevelTable) -> None:
        self._conn = conn
        self._config = config
        self._table = table

    def ensure(self, user_id: str, at_text: str) -> None:
        """Create the profile on first write, or raise ``UnknownUser`` when auto-create is off."""
        if self._conn.execute(PROFILE_EXISTS, (user_id,)).fetchone() is None:
            self.create(user_id, at_text)

    def create(self, user_id: str, at_text: str) -> None:
        """Create a profile known to be missing, if auto-create allows it."""
        self.refuse_unknown(user_id)
        self._conn.execute(NEW_PROFILE, (user_id, at_text, at_text))

    def refuse_unknown(self, user_id: str) -> None:
        """Raise ``UnknownUser`` for a missing profile when auto-create is off."""
        if not self._config.auto_create_profiles:
            raise UnknownUser(user_id)

    def set_timezone(self, user_id: str, timezone: str, at_text: str) -> None:
        self._conn.execute(SET_TIMEZONE, (timezone, at_text, user_id))

    def exists(self, user_id: str) -> bool:
        return self._conn.execute(PROFILE_EXISTS, (user_id,)).fetchone() is not None

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
