"""``g.users``: a user's profile, time zone, statistics, inventory and equipped title."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfoNotFoundError

import attrs

from ..core.clock import to_text
from ..core.validation import check_at, check_id, check_text
from ..economy.inventory import Items
from ..errors import InvalidInput, NotFound
from ..models import Inventory, Profile, Stats
from ..runtime.runtime import Runtime
from .achievements import Achievements, Context
from .metrics import zone
from .profiles import Profiles
from .streaks import Streaks

__all__ = ["UsersService", "read_profile"]


def read_profile(profiles: Profiles, streaks: Streaks, user_id: str, moment: datetime) -> Profile:
    """The profile with its streak as of ``moment``, inside the caller's transaction (``g.xp``
    returns one after a prestige)."""
    profile = profiles.read(user_id)
    return attrs.evolve(profile, streak=streaks.status(user_id, moment))


class UsersService:
    def __init__(
        self,
        rt: Runtime,
        profiles: Profiles,
        streaks: Streaks,
        items: Items,
        achievements: Achievements,
        stats: Callable[[Context, int], Stats],
    ) -> None:
        self._rt = rt
        self._store = rt.store
        self._profiles = profiles
        self._streaks = streaks
        self._items = items
        self._achievements = achievements
        # ops/stats.py, which reads across the capabilities from the layer above them.
        self._stats = stats

    def get(self, user_id: str, *, at: datetime | None = None) -> Profile:
        """The user's level, XP, progress, prestige, balances, titles, time zone and streak."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return read_profile(self._profiles, self._streaks, user_id, moment)

    def set_timezone(self, user_id: str, timezone: str) -> Profile:
        """Set the user's IANA time zone (``"Europe/Berlin"``); their days follow it from now."""
        check_id(user_id)
        check_text(timezone, "timezone", max_length=100)
        try:
            zone(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("timezone", f"{timezone!r} is not an IANA time zone") from None
        moment = self._rt.now()
        at_text = to_text(moment)
        with self._store.write():
            self._profiles.ensure(user_id, at_text)
            self._profiles.set_timezone(user_id, timezone, at_text)
            return read_profile(self._profiles, self._streaks, user_id, moment)

    def stats(self, user_id: str, *, days: int = 30) -> Stats:
        """Level, achievements by rarity, recent XP and per-day activity (getUserStats)."""
        check_id(user_id)
        if type(days) is not int or not 1 <= days <= 366:
            raise InvalidInput("days", f"expected an int from 1 to 366, got {days!r}")
        moment = self._rt.now()
        with self._store.read():
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            return self._stats(ctx, days)

    def inventory(self, user_id: str) -> Inventory:
        """Titles (and the equipped one) and items the user owns."""
        check_id(user_id)
        with self._store.read():
            return self._items.read(user_id)

    def equip_title(self, user_id: str, title: str | None) -> Inventory:
        """Show an owned ``title`` (``NotFound`` otherwise), or none with ``None``."""
        check_id(user_id)
        if title is not None:
            check_text(title, "title", max_length=100)
        with self._store.write():
            if not self._profiles.exists(user_id):
                raise NotFound("user", user_id)
            self._items.equip_title(user_id, title)
            return self._items.read(user_id)
