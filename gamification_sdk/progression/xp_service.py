"""``g.xp``: XP awards, boosts, prestige, the XP log and the level table."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from ..core.checks import check_before, check_limit
from ..core.clock import to_text
from ..core.validation import (
    check_amount,
    check_at,
    check_id,
    check_key,
    check_metadata,
    check_text,
)
from ..errors import InvalidInput
from ..models import Profile, XPAward, XPBoost, XPEntry
from ..runtime.idempotency import fingerprint, json_codec
from ..runtime.runtime import Runtime
from ..storage.store import Tx
from .achievements import Achievements
from .bulk import BulkXP
from .levels import LevelTable
from .profiles import Profiles
from .streaks import Streaks
from .users_service import read_profile
from .xp import XP

__all__ = ["XPService"]


class XPService:
    def __init__(
        self,
        rt: Runtime,
        xp: XP,
        table: LevelTable,
        bulk: BulkXP,
        profiles: Profiles,
        streaks: Streaks,
        achievements: Achievements,
    ) -> None:
        self._rt = rt
        self._store = rt.store
        self._xp = xp
        self._table = table
        self._bulk = bulk
        self._profiles = profiles
        self._streaks = streaks
        self._achievements = achievements

    @property
    def level_table(self) -> LevelTable:
        return self._table

    def award(
        self,
        user_id: str,
        amount: int,
        *,
        source: str,
        idempotency_key: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
    ) -> XPAward:
        """Award XP (times any active multipliers); level-ups pay each crossed level once."""
        check_id(user_id)
        check_amount(amount)
        check_text(source, "source", max_length=100)
        key = check_key(idempotency_key)
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        if self._bulk.active:
            bulk = self._bulk.award(user_id, amount, source, meta, key, moment, at_text, explicit)
            if bulk is not None:
                return bulk
        # Kept in the award's own row (xp.key_in_row), so computed here, not by _write.
        signature = None if key is None else fingerprint(user_id, amount, source, meta, explicit)
        return self._rt.write(
            "award_xp",
            key,
            lambda: signature,
            self._xp.codec,
            at_text,
            lambda tx: self._achievements.after_xp(
                tx,
                self._xp.award(
                    tx,
                    user_id,
                    amount,
                    source=source,
                    metadata=meta,
                    key=key,
                    at=moment,
                    at_text=at_text,
                    origin="direct",
                    signature=signature,
                ),
                moment,
                at_text,
            ),
            confirms=True,
            user_id=user_id,
            ahead=(lambda tx: self._xp.read_ahead(tx, user_id)) if self._rt.queues else None,
        )

    def add_boost(
        self,
        user_id: str,
        factor: float,
        *,
        expires_at: datetime,
        source: str,
        starts_at: datetime | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> XPBoost:
        """A time-limited XP multiplier; active boosts multiply together.

        See docs/guides/profiles-xp-levels.md.
        """
        check_id(user_id)
        if type(factor) not in (int, float) or not math.isfinite(factor) or factor <= 0:
            raise InvalidInput("factor", f"expected a positive finite number, got {factor!r}")
        config = self._rt.config
        if factor > config.max_xp_multiplier:
            raise InvalidInput(
                "factor", f"{factor} is above max_xp_multiplier {config.max_xp_multiplier}"
            )
        check_text(source, "source", max_length=100)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        start = moment if starts_at is None else check_at(starts_at, "starts_at")
        end = check_at(expires_at, "expires_at")
        if end <= start:
            raise InvalidInput("expires_at", "must be after starts_at (or now)")

        def body(tx: Tx) -> XPBoost:
            self._profiles.ensure(user_id, at_text)
            return self._xp.add_boost(
                user_id,
                float(factor),
                source=source,
                starts_at=start,
                expires_at=end,
                at_text=at_text,
            )

        return self._rt.write(
            "add_xp_boost",
            key,
            lambda: fingerprint(
                user_id,
                float(factor),
                source,
                to_text(start) if starts_at else None,
                to_text(end),
                explicit,
            ),
            json_codec(XPBoost),
            at_text,
            body,
            user_id=user_id,
        )

    def boost_factor(self, user_id: str, at: datetime) -> float | None:
        """The built-in ``xp_multiplier``: the user's active boosts times the permanent
        prestige boost (None if neither applies).

        For the built-in boosts plugin, which the engine calls during an award; it reads in
        the caller's transaction and opens none of its own.
        """
        return self._xp.boost_factor(user_id, at)

    def prestige(
        self, user_id: str, *, idempotency_key: str | None = None, at: datetime | None = None
    ) -> Profile:
        """At max level: back to level 1, prestige + 1, and a permanent XP boost."""
        check_id(user_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> Profile:
            self._xp.prestige(user_id, at_text)
            return read_profile(self._profiles, self._streaks, user_id, moment)

        return self._rt.write(
            "prestige",
            key,
            lambda: fingerprint(user_id, explicit),
            json_codec(Profile),
            at_text,
            body,
            user_id=user_id,
        )

    def history(self, user_id: str, *, limit: int = 50, before: int | None = None) -> list[XPEntry]:
        """XP changes, newest first. Pass the last entry's ``id`` as ``before`` for more."""
        check_id(user_id)
        check_limit(limit)
        check_before(before)
        with self._store.read():
            return self._xp.history(user_id, limit=limit, before=before)
