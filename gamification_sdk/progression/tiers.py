"""Status tiers: a user reaches a tier as soon as what they earned in the rolling window
(XP, points of a currency, or an event's values) reaches its threshold, and keeps it until a
requalification date finds the window short, after a grace period.

Times are the user's: the window covers whole local days ending with the current one, and a
requalification date falls at the user's local midnight. The earning that qualifies a user
upgrades them in its own transaction (the domain-event subscriber below); the
``tier_requalify`` job downgrades, once: each row moves by a compare-and-set on its date.
"""

from __future__ import annotations

import calendar
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ..config import Config
from ..config.tiers import StatusTier, StatusTiersConfig
from ..core.clock import to_text
from ..economy.inventory import Items
from ..models import TierChange, TierStanding, TierStatus
from ..runtime.outbox import Notifications
from ..storage.store import Tx
from ..storage.tiers import (
    ADD_CHANGE,
    ADD_EARNING,
    BOARD,
    CHANGES,
    DUE,
    EARNED,
    MOVE,
    NEXT_SEQ,
    STATUS,
    UPSERT,
    ZONE,
)

__all__ = ["StatusTiers", "shift"]


def shift(day: date, months: int, days: int) -> date:
    """``day`` moved by calendar months (the 31st becomes the month's last day) or days."""
    if months:
        index = day.year * 12 + day.month - 1 + months
        year, month = divmod(index, 12)
        return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
    return day + timedelta(days=days)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


class StatusTiers:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        items: Items,
        notifications: Notifications,
        current: Callable[[], Tx | None],
    ) -> None:
        self._conn = conn
        self.config: StatusTiersConfig = config.tiers
        # The currencies some tier multiplies: an award in any other asks nothing.
        self.points_currencies = frozenset(
            currency for tier in self.config.tiers for currency in tier.points_multiplier
        )
        self._default_zone = config.default_timezone
        self._items = items
        self._notifications = notifications
        self._current = current

    @property
    def on(self) -> bool:
        return bool(self.config.tiers)

    def _zone(self, user_id: str) -> ZoneInfo:
        row = self._conn.execute(ZONE, (user_id,)).fetchone()
        return ZoneInfo(row[0] if row is not None and row[0] else self._default_zone)

    def _window(self, day: date, sign: int) -> date:
        c = self.config
        return shift(day, sign * (c.window_months or 0), sign * (c.window_days or 0))

    def _earned(self, user_id: str, start: datetime, end: datetime) -> float:
        row = self._conn.execute(EARNED, (user_id, to_text(start), to_text(end))).fetchone()
        return float(row[0])

    def earned_by(self, user_id: str, at: datetime, zone: ZoneInfo) -> float:
        """What the window ending with ``at``'s local day holds up to ``at``."""
        today = at.astimezone(zone).date()
        start = _midnight(self._window(today + timedelta(days=1), -1), zone)
        return self._earned(user_id, start, at)

    def _due_at(self, requalify_on: date, zone: ZoneInfo) -> datetime:
        return _midnight(requalify_on + timedelta(days=self.config.grace_days), zone)

    def earn(self, user_id: str, amount: float, at: datetime) -> None:
        """Count ``amount`` earned at ``at`` and upgrade the user if it qualifies them
        (inside the earning's transaction)."""
        if amount <= 0:
            return
        self._conn.execute(ADD_EARNING, (user_id, to_text(at), amount))
        row = self._conn.execute(STATUS, (user_id,)).fetchone()
        rank = -1 if row is None else min(int(row[1]), len(self.config.tiers) - 1)
        if rank == len(self.config.tiers) - 1:
            return
        zone = self._zone(user_id)
        earned = self.earned_by(user_id, at, zone)
        qualifying = self.config.qualifying(earned)
        if qualifying > rank:
            tx = self._current()
            if tx is None:
                raise RuntimeError("a tier upgrade must happen inside a write")
            best = -1 if row is None else int(row[2])
            self._set(tx, user_id, row, rank, best, qualifying, earned, at, zone, "upgrade")

    def _set(
        self,
        tx: Tx,
        user_id: str,
        row: tuple[object, ...] | None,
        old: int,
        best: int,
        new: int,
        earned: float,
        at: datetime,
        zone: ZoneInfo,
        kind: Literal["upgrade", "downgrade"],
        requalify_on: date | None = None,
    ) -> TierChange:
        """Move the user from rank ``old`` to ``new``; ``requalify_on``: the new tier's date
        (an upgrade starts a window from today)."""
        tiers = self.config.tiers
        tier = tiers[new].name if new >= 0 else None
        if new >= 0 and requalify_on is None:
            # Held for a whole window after the day it was reached: the first
            # requalification judges the days after that one, not the earning that upgraded.
            requalify_on = self._window(at.astimezone(zone).date(), 1) + timedelta(days=1)
        if new < 0:
            requalify_on = None
        at_text = to_text(at)
        values = {
            "user": user_id,
            "tier": tier,
            "rank": new,
            "best": max(best, new),
            "since": at_text if new >= 0 else None,
            "requalify_on": None if requalify_on is None else requalify_on.isoformat(),
            "due_at": None if requalify_on is None else to_text(self._due_at(requalify_on, zone)),
        }
        if row is None or kind == "upgrade":
            self._conn.execute(UPSERT, values)
        else:
            cursor = self._conn.execute(MOVE, {**values, "was": row[4]})
            if cursor.rowcount != 1:
                raise RuntimeError("tier_status changed under the requalification")
        for reached in range(best + 1, new + 1):
            if tiers[reached].title:
                self._items.grant_title(user_id, str(tiers[reached].title), "tier", at_text)
            for item, quantity in tiers[reached].items.items():
                self._items.grant_item(user_id, item, quantity, at_text)
        seq = int(self._conn.execute(NEXT_SEQ, (user_id,)).fetchone()[0])
        old_tier = tiers[old].name if old >= 0 else None
        self._conn.execute(
            ADD_CHANGE,
            (user_id, seq, old_tier, tier, kind, earned, values["requalify_on"], at_text),
        )
        change = TierChange(user_id, seq, old_tier, tier, kind, earned, requalify_on, at)
        shown = tiers[new].title or tier if new >= 0 else None
        message = (
            f"You reached the {shown} tier"
            if kind == "upgrade"
            else (f"Your tier is now {shown}" if shown else "You no longer hold a tier")
        )
        data = {"old_tier": old_tier, "new_tier": tier, "kind": kind, "earned": earned}
        self._notifications.add(tx, user_id, "tier_changed", message, data, at, at_text)
        tx.emit("on_tier_changed", change=change)
        return change

    def requalify(self, tx: Tx, now: datetime, limit: int) -> tuple[list[TierChange], int]:
        """Requalify up to ``limit`` users whose date and grace passed by ``now``; returns the
        downgrades and how many users were looked at."""
        due = [user for (user,) in self._conn.execute(DUE, (to_text(now), limit))]
        changes = [change for user in due for change in self._requalify_one(tx, user, now)]
        return changes, len(due)

    def _requalify_one(self, tx: Tx, user_id: str, now: datetime) -> list[TierChange]:
        row = self._conn.execute(STATUS, (user_id,)).fetchone()
        zone = self._zone(user_id)
        rank, best = min(int(row[1]), len(self.config.tiers) - 1), int(row[2])
        requalify_on = date.fromisoformat(row[4])
        # Every cycle that ended by now, each judged by the window ending at its deadline,
        # but never below what the window ending now qualifies for.
        floor = self.config.qualifying(self.earned_by(user_id, now, zone))
        target, earned = rank, 0.0
        while rank >= 0 and target >= 0 and self._due_at(requalify_on, zone) <= now:
            deadline = self._due_at(requalify_on, zone)
            start = _midnight(self._window(deadline.astimezone(zone).date(), -1), zone)
            earned = self._earned(user_id, start, deadline - timedelta(microseconds=1))
            qualifies = self.config.qualifying(earned)
            if qualifies < target:
                target = self._downgraded(target, qualifies)
            requalify_on = self._window(requalify_on, 1)
        new = max(target, floor) if target < rank else rank
        if new >= rank:
            values = {
                "user": user_id, "tier": row[0], "rank": rank, "since": row[3],
                "requalify_on": requalify_on.isoformat(),
                "due_at": to_text(self._due_at(requalify_on, zone)), "was": row[4],
            }  # fmt: skip
            self._conn.execute(MOVE, values)
            return []
        return [
            self._set(tx, user_id, row, rank, best, new, earned, now, zone, "downgrade",
                      requalify_on)
        ]  # fmt: skip

    def _downgraded(self, rank: int, qualifies: int) -> int:
        rule = qualifies if self.config.downgrade == "straight" else max(qualifies, rank - 1)
        floor = self.config.tiers[rank].downgrade_to
        return max(rule, self.config.rank(floor)) if floor is not None else rule

    def status(self, user_id: str, at: datetime) -> TierStatus:
        row = self._conn.execute(STATUS, (user_id,)).fetchone()
        tiers = self.config.tiers
        rank = -1 if row is None else min(int(row[1]), len(tiers) - 1)
        zone = self._zone(user_id)
        earned = self.earned_by(user_id, at, zone)
        held = tiers[rank] if rank >= 0 else None
        above = tiers[rank + 1] if rank + 1 < len(tiers) else None
        requalify_on = None if row is None or row[4] is None else date.fromisoformat(row[4])
        return TierStatus(
            user_id=user_id,
            tier=None if held is None else held.name,
            title=None if held is None else held.title,
            since=None if row is None or row[3] is None else datetime.fromisoformat(row[3]),
            earned=earned,
            next_tier=None if above is None else above.name,
            to_next=None if above is None else max(0.0, above.threshold - earned),
            requalify_on=requalify_on,
            downgrade_at=None if requalify_on is None else self._due_at(requalify_on, zone),
            xp_multiplier=1.0 if held is None else held.xp_multiplier,
            at=at,
        )

    def history(self, user_id: str, limit: int) -> list[TierChange]:
        return [
            TierChange(
                user_id,
                seq,
                old,
                new,
                kind,
                float(earned),
                None if on is None else date.fromisoformat(on),
                datetime.fromisoformat(at),
            )
            for seq, old, new, kind, earned, on, at in self._conn.execute(CHANGES, (user_id, limit))
        ]

    def board(self, limit: int) -> list[TierStanding]:
        return [
            TierStanding(i + 1, user_id, tier, datetime.fromisoformat(since))
            for i, (user_id, tier, _, since) in enumerate(self._conn.execute(BOARD, (limit,)))
        ]

    def xp_factor(self, user_id: str) -> float | None:
        """The held tier's XP multiplier, or None (no tier, or a factor of 1)."""
        tier = self._held(user_id)
        factor = None if tier is None else tier.xp_multiplier
        return None if factor == 1 else factor

    def points_factor(self, user_id: str, currency: str) -> float | None:
        """The held tier's multiplier of earned ``currency``, or None (none, or 1)."""
        if currency not in self.points_currencies:
            return None
        tier = self._held(user_id)
        factor = None if tier is None else tier.points_multiplier.get(currency)
        return None if factor == 1 else factor

    def _held(self, user_id: str) -> StatusTier | None:
        if not self.on:
            return None
        row = self._conn.execute(STATUS, (user_id,)).fetchone()
        if row is None or int(row[1]) < 0:
            return None
        return self.config.tiers[min(int(row[1]), len(self.config.tiers) - 1)]
