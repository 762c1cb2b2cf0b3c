"""User rows: the profile row every capability needs before it writes about a user.

The ledger opens an account, a referral code is made, an event is tracked: each first makes
sure the user exists (or refuses an unknown one when auto-create is off). That basic lives
here, below the capabilities, so none of them imports progression's profiles for it;
``progression/profiles.py`` builds the full profile (level, balances, titles) on top.
"""

from __future__ import annotations

import sqlite3

from ..config import Config
from ..errors import UnknownUser
from ..storage.profiles import NEW_PROFILE, PROFILE_EXISTS

__all__ = ["UserRows"]


class UserRows:
    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self._conn = conn
        self._config = config

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

    def exists(self, user_id: str) -> bool:
        return self._conn.execute(PROFILE_EXISTS, (user_id,)).fetchone() is not None
