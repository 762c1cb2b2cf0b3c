"""Daily streaks: consecutive active local days, bridged by freezes and rest days.

The profile row keeps the streak's state: its length, the longest ever, the last active local
day and the day up to which missed days are settled. Settling walks the days after that: a
scheduled rest day is neutral, a missed day takes a freeze if the user holds one, and
otherwise the streak breaks there. One walk serves activity, the sweep job and reads (the
last without writing), so a profile read after a gap already shows what the sweep will
write down, and whichever settles a day first writes it once.

A freeze is the inventory item ``streak_freeze``: rewards, the shop and ``freeze_every``
grant it like any item.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from ..config import Config
from ..core.clock import to_text
from ..economy.inventory import FREEZE, Items
from ..errors import InvalidInput
from ..models import StreakStatus, SweepReport, XPAward
from ..runtime.outbox import Notifications
from ..runtime.runtime import retrying
from ..storage.store import Store, Tx
from ..storage.streaks import (
    ADD_REST_DAY,
    AT_RISK,
    CANCEL_REST_DAY,
    DUE_USERS,
    LOG_DAY,
    REST_DAYS,
    SAVE_STREAK,
    SET_WARNED,
    STREAK_STATE,
    STREAK_ZONES,
    USE_FREEZES,
)
from .metrics import local_day, zone

if TYPE_CHECKING:
    from .achievements import Context, Signal
    from .xp import XP

__all__ = ["FREEZE", "Streaks", "walk"]

ONE_DAY = timedelta(days=1)
_AHEAD = timedelta(days=400)  # rest days can be planned up to a year ahead


class Walk(NamedTuple):
    """The outcome of settling missed days: what is left, and what happened on which day."""

    current: int
    freezes: int
    frozen: tuple[date, ...]
    broken_on: date | None


def walk(current: int, freezes: int, first: date, last: date, rest: set[date]) -> Walk:
    """Settle the days ``first``..``last`` (none of them active) in order."""
    frozen: list[date] = []
    day = first
    while day <= last and current > 0:
        if day not in rest:
            if freezes == 0:
                return Walk(0, 0, tuple(frozen), day)
            freezes -= 1
            frozen.append(day)
        day += ONE_DAY
    return Walk(current, freezes, tuple(frozen), None)


class _State(NamedTuple):
    current: int
    longest: int
    last_day: date | None
    settled: date | None
    timezone: str | None
    freezes: int


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


class Streaks:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        items: Items,
        notifications: Notifications,
    ) -> None:
        self._conn = conn
        self._config = config
        self._items = items
        self._notifications = notifications
        self.xp: XP | None = None  # set by the engine
        self.moved_xp: Callable[[Context, XPAward, list[Signal]], None] | None = None

    # -- reading ---------------------------------------------------------------------------

    def _state(self, user_id: str) -> _State | None:
        row = self._conn.execute(STREAK_STATE, (user_id,)).fetchone()
        if row is None:
            return None
        return _State(row[0], row[1], _day(row[2]), _day(row[3]), row[4], row[5])

    def _rest(self, user_id: str, first: date, last: date) -> set[date]:
        rows = self._conn.execute(REST_DAYS, (user_id, first.isoformat(), last.isoformat()))
        return {date.fromisoformat(day) for (day,) in rows}

    def today(self, timezone: str | None, at: datetime) -> date:
        tz = timezone or self._config.default_timezone
        return local_day(at, tz, self._config.day_start_hour)[0]

    def status(self, user_id: str, at: datetime) -> StreakStatus:
        """The streak as of ``at``, missed days settled in memory (nothing is written)."""
        state = self._state(user_id)
        tz = None if state is None else state.timezone
        today = self.today(tz, at)
        if state is None:
            rest = self._rest(user_id, today, today + _AHEAD)
            return StreakStatus(0, 0, None, 0, False, False, today, tuple(sorted(rest)))
        current, freezes = state.current, state.freezes
        unsettled = current > 0 and state.settled is not None and state.settled < today - ONE_DAY
        # One read covers both the missed days to settle and the rest days still ahead.
        first = state.settled + ONE_DAY if unsettled and state.settled is not None else today
        rest = self._rest(user_id, first, today + _AHEAD)
        rest_days = tuple(sorted(day for day in rest if day >= today))
        if unsettled:
            done = walk(current, freezes, first, today - ONE_DAY, rest)
            current, freezes = done.current, done.freezes
        extended = state.last_day == today
        at_risk = current > 0 and not extended and today not in rest_days
        return StreakStatus(
            current, state.longest, state.last_day, freezes, extended, at_risk, today, rest_days
        )

    # -- writing ---------------------------------------------------------------------------

    def _settle(
        self, tx: Tx, user_id: str, state: _State, through: date, at: datetime, at_text: str
    ) -> tuple[_State, Walk | None]:
        """Write down the missed days up to ``through``: freezes used, or the break."""
        if not state.current or state.settled is None or state.settled >= through:
            return state, None
        first = state.settled + ONE_DAY
        done = walk(
            state.current, state.freezes, first, through, self._rest(user_id, first, through)
        )
        conn = self._conn
        if done.frozen:
            conn.execute(USE_FREEZES, (len(done.frozen), at_text, user_id))
            for day in done.frozen:
                log = (user_id, day.isoformat(), "freeze_used", state.current, at_text)
                conn.execute(LOG_DAY, log)
            left = state.freezes - len(done.frozen)
            self._notifications.add(
                tx, user_id, "streak_freeze_used",
                f"A streak freeze saved your {state.current}-day streak",
                {"days": [d.isoformat() for d in done.frozen], "streak": state.current,
                 "freezes_left": left},
                at, at_text,
            )  # fmt: skip
        if done.broken_on is not None:
            conn.execute(
                LOG_DAY, (user_id, done.broken_on.isoformat(), "broken", state.current, at_text)
            )
            self._notifications.add(
                tx, user_id, "streak_broken", f"Your {state.current}-day streak ended",
                {"streak": state.current, "day": done.broken_on.isoformat()}, at, at_text,
            )  # fmt: skip
        settled = _State(
            done.current, state.longest, state.last_day, through, state.timezone, done.freezes
        )
        conn.execute(
            SAVE_STREAK,
            (
                settled.current, settled.longest, _text(settled.last_day),
                through.isoformat(), at_text, user_id,
            ),
        )  # fmt: skip
        return settled, done

    def extend(self, tx: Tx, ctx: Context, pending: list[Signal]) -> int:
        """Count ``ctx.day`` as active; returns the streak (0 if the day was already counted
        or lies before the last active day: late activity does not rewrite a settled past)."""
        state = self._state(ctx.user_id)
        day = ctx.day
        if state is None or (state.last_day is not None and day <= state.last_day):
            return 0
        state, _ = self._settle(tx, ctx.user_id, state, day - ONE_DAY, ctx.at, ctx.at_text)
        current = state.current + 1 if state.current else 1
        longest = max(state.longest, current)
        config = self._config.streaks
        conn = self._conn
        conn.execute(
            SAVE_STREAK,
            (current, longest, day.isoformat(), day.isoformat(), ctx.at_text, ctx.user_id),
        )
        if longest != state.longest:
            pending.append(("streak", state.longest, longest))
        every = config.freeze_every
        if every and current % every == 0 and state.freezes < config.max_earned_freezes:
            self._items.grant_item(ctx.user_id, FREEZE, 1, ctx.at_text)
            log = (ctx.user_id, day.isoformat(), "freeze_earned", current, ctx.at_text)
            conn.execute(LOG_DAY, log)
        bonus = min(current * config.bonus_xp_per_day, config.bonus_xp_cap)
        if current >= 2 and bonus > 0:
            assert self.xp is not None and self.moved_xp is not None
            award = self.xp.award(
                tx, ctx.user_id, bonus, source="streak", metadata=None,
                key=f"streak:{day.isoformat()}", at=ctx.at, at_text=ctx.at_text, origin="streak",
            )  # fmt: skip
            self.moved_xp(ctx, award, pending)
        return current

    def settle_user(self, tx: Tx, user_id: str, at: datetime, at_text: str) -> Walk | None:
        """Settle one user's missed days up to yesterday (their local time)."""
        state = self._state(user_id)
        if state is None:
            return None
        yesterday = self.today(state.timezone, at) - ONE_DAY
        return self._settle(tx, user_id, state, yesterday, at, at_text)[1]

    def _future_day(self, user_id: str, day: object, at: datetime) -> tuple[date, date]:
        """``day`` checked to be a date not before the user's today; returns both."""
        if not isinstance(day, date) or isinstance(day, datetime):
            raise InvalidInput("day", f"expected a datetime.date, got {day!r}")
        state = self._state(user_id)
        today = self.today(None if state is None else state.timezone, at)
        if day < today:
            raise InvalidInput("day", f"{day} is in the past (today is {today} for this user)")
        return day, today

    def check_rest_day(self, user_id: str, day: object, at: datetime) -> tuple[date, bool]:
        """Validate a rest day to schedule; returns it and whether it is already scheduled."""
        day, today = self._future_day(user_id, day, at)
        if day > today + timedelta(days=366):
            raise InvalidInput("day", f"{day} is more than a year ahead")
        monday = day - timedelta(days=day.weekday())
        booked = self._rest(user_id, monday, monday + timedelta(days=6))
        if day in booked:
            return day, True
        allowed = self._config.streaks.rest_days_per_week
        if len(booked) >= allowed:
            raise InvalidInput(
                "day", f"the week of {monday} already has {allowed} rest day(s) scheduled"
            )
        return day, False

    def add_rest_day(self, user_id: str, day: date, at_text: str) -> None:
        self._conn.execute(ADD_REST_DAY, (user_id, day.isoformat(), at_text))

    def cancel_rest_day(self, user_id: str, day: object, at: datetime) -> bool:
        day, _ = self._future_day(user_id, day, at)
        cursor = self._conn.execute(CANCEL_REST_DAY, (user_id, day.isoformat()))
        return cursor.rowcount == 1

    # -- the sweep -------------------------------------------------------------------------

    def zones(self) -> list[str | None]:
        return [tz for (tz,) in self._conn.execute(STREAK_ZONES)]

    def sweep(
        self,
        store: Store,
        at: datetime,
        after_commit: Callable[[Tx], None],
        about: Callable[[str], AbstractContextManager[Tx]],
        chunk: int = 500,
        each_user: bool = True,
    ) -> SweepReport:
        """Settle every live streak whose user's day ended, and warn streaks at risk.

        Runs ``chunk`` users per transaction; running it again finds nothing left to do.
        ``about(user)`` is a write about that user (``Runtime.frame``): on PostgreSQL each
        user is settled under their lock, so another server's sweep or the user's own
        activity, settling the same days, waits and then finds them settled. Without
        ``each_user`` (SQLite, one writer) the users share their chunk's frame alone.
        """
        at_text = to_text(at)
        users = broken = frozen = warned = 0
        with store.read():
            zones = self.zones()

        # Each transaction is run again whole if another server's sweep conflicted with it
        # (PostgreSQL): the retry settles and warns only what that one left, and counts it.
        def settle(batch: list[str]) -> tuple[int, int, int]:
            counts = [0, 0, 0]
            # The users in the order every sweep takes them: two sweeps never deadlock.
            with about(batch[0]) as tx:
                for user_id in batch:
                    if each_user:
                        with about(user_id):
                            done = self.settle_user(tx, user_id, at, at_text)
                    else:
                        done = self.settle_user(tx, user_id, at, at_text)
                    if done is not None:
                        counts[0] += 1
                        counts[1] += done.broken_on is not None
                        counts[2] += len(done.frozen)
            after_commit(tx)
            return counts[0], counts[1], counts[2]

        def warn(tz: str | None, today: date) -> int:
            with store.write() as tx:
                count = self._warn(tx, tz, today, at, at_text)
            after_commit(tx)
            return count

        for tz in zones:
            today = self.today(tz, at)
            yesterday = (today - ONE_DAY).isoformat()
            for batch in self._due(store, tz, yesterday, chunk):
                settled, lost, used = retrying(partial(settle, batch))
                users, broken, frozen = users + settled, broken + lost, frozen + used
            if self._warning_time(tz, at):
                warned += retrying(partial(warn, tz, today))
        return SweepReport(users, broken, frozen, warned)

    def _due(self, store: Store, tz: str | None, yesterday: str, chunk: int) -> Iterator[list[str]]:
        after = ""
        while True:
            with store.read():
                batch = [
                    u for (u,) in self._conn.execute(DUE_USERS, (tz, yesterday, after, chunk))
                ]  # fmt: skip
            if not batch:
                return
            yield batch
            after = batch[-1]

    def _warning_time(self, tz: str | None, at: datetime) -> bool:
        hours = self._config.streaks.at_risk_hours
        if not hours:
            return False
        local = at.astimezone(zone(tz or self._config.default_timezone))
        into_day = (local.hour - self._config.day_start_hour) % 24
        return into_day >= 24 - hours

    def _warn(self, tx: Tx, tz: str | None, today: date, at: datetime, at_text: str) -> int:
        yesterday = (today - ONE_DAY).isoformat()
        day = today.isoformat()
        rows = self._conn.execute(AT_RISK, (tz, yesterday, day, day)).fetchall()
        for user_id, current in rows:
            self._conn.execute(SET_WARNED, (day, user_id))
            self._notifications.add(
                tx, user_id, "streak_at_risk",
                f"Your {current}-day streak ends tonight: be active today to keep it",
                {"streak": current, "day": day}, at, at_text,
            )  # fmt: skip
        return len(rows)


def _text(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
