"""One user's state during one evaluation (achievements.py), read lazily and cached."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ..storage.achievements import LIFETIME_EARNED, LONGEST_STREAK, UNLOCKS, UNLOCKS_OF
from .metrics import Metrics, local_day

__all__ = ["Context", "Signal"]

# (signal, value before, value after): what a write moved, for the achievements watching it.
Signal = tuple[str, float, float]


class Context:
    """One user's state during one evaluation, read lazily and cached."""

    # Slots: every track() builds one, and its attributes are read all along the call.
    __slots__ = (
        "_keyed", "_metric", "_unlocks", "at", "at_text", "award_state", "conn", "day",
        "exists", "level", "metrics", "minute", "retroactive", "start_hour", "timezone",
        "user_id", "xp",
    )  # fmt: skip

    def __init__(
        self,
        conn: sqlite3.Connection,
        metrics: Metrics,
        user_id: str,
        at: datetime,
        at_text: str,
        xp: int,
        level: int,
        timezone: str,
        exists: bool = True,
        start_hour: int = 0,
    ) -> None:
        self.conn = conn
        self.exists = exists  # False: the user has no profile row (yet)
        self.metrics = metrics
        self.user_id = user_id
        self.at = at
        self.at_text = at_text
        self.xp = xp
        self.level = level
        self.timezone = timezone
        self.start_hour = start_hour
        self.day, self.minute = local_day(at, timezone, start_hour)
        # reevaluate: judge the whole past where the metrics keep it, not only the present
        self.retroactive = False
        self._metric: dict[str, tuple[int, float, float, int]] = {}
        self._unlocks: dict[str, dict[int, list[tuple[int, str, float]]]] | None = None
        self._keyed: dict[str, dict[int, list[tuple[int, str, float]]]] = {}
        # track()'s profile read when its rule pays XP (TRACK_AWARD_PROFILE), which XP.award
        # takes in place of its own read while nothing else wrote XP (XP.writes).
        self.award_state: tuple[Any, ...] | None = None

    def metric(self, name: str) -> tuple[int, float, float, int]:
        found = self._metric.get(name)
        if found is None:
            found = self._metric[name] = self.metrics.read(self.user_id, name)
        return found

    def forget(self, name: str) -> None:
        self._metric.pop(name, None)

    def knows(self, name: str, row: tuple[int, float, float, int]) -> None:
        """``name``'s row as this call just wrote it (an upsert's RETURNING): no read back."""
        self._metric[name] = row

    @property
    def unlocks(self) -> dict[str, dict[int, list[tuple[int, str, float]]]]:
        """key -> tier -> [(seq, unlocked_at, baseline)], in order: every unlock of the user,
        for what needs them all (a count, a listing, reevaluate)."""
        if self._unlocks is None:
            found: dict[str, dict[int, list[tuple[int, str, float]]]] = {}
            for key, tier, seq, unlocked_at, baseline in self.conn.execute(
                UNLOCKS, (self.user_id,)
            ):
                found.setdefault(key, {}).setdefault(tier, []).append((seq, unlocked_at, baseline))
            self._unlocks = found
            self._keyed = {}  # the whole map answers from now on
        return self._unlocks

    def unlocks_of(self, key: str) -> dict[int, list[tuple[int, str, float]]]:
        """``key``'s unlocks (tier -> rows): from the whole map once it is read, else by one
        indexed read of that key, so a track() costs the same however much the user has
        unlocked (reading every unlock cost ~1 us per unlock). Read only, like ``unlocks``."""
        if self._unlocks is not None:
            return self._unlocks.get(key, {})
        found = self._keyed.get(key)
        if found is None:
            found = self._keyed[key] = {}
            for tier, seq, unlocked_at, baseline in self.conn.execute(
                UNLOCKS_OF, (self.user_id, key)
            ):
                found.setdefault(tier, []).append((seq, unlocked_at, baseline))
        return found

    def none_unlocked(self) -> None:
        """The user has no unlock yet (the profile read said so): nothing to read."""
        self._unlocks = {}

    def add_unlock(self, key: str, tier: int, row: tuple[int, str, float]) -> None:
        """An unlock row just inserted: into what was read before it (a read after it finds
        the row itself)."""
        if self._unlocks is not None:
            self._unlocks.setdefault(key, {}).setdefault(tier, []).append(row)
        elif key in self._keyed:
            self._keyed[key].setdefault(tier, []).append(row)

    def unlocked(self, key: str) -> bool:
        return bool(self.unlocks_of(key))

    def longest_streak(self) -> int:
        row = self.conn.execute(LONGEST_STREAK, (self.user_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def earned(self, currency: str) -> int:
        row = self.conn.execute(LIFETIME_EARNED, (self.user_id, currency)).fetchone()
        return 0 if row is None else int(row[0])
