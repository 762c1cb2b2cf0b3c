"""``track()``: an event updates the user's metrics, pays its rule, and wakes achievements.

Everything happens in the caller's transaction: the metric rows, the rule's XP and points,
every unlock with its rewards, and the notifications. The reward always comes from the
rules, never from the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from ..core.clock import to_text
from ..models import (
    QuestCompletion,
    ReevaluateReport,
    TrackResult,
    Transaction,
    Unlock,
    XPAward,
)
from ..runtime.bus import EventTracked
from ..runtime.runtime import Runtime
from ..storage.events import (
    COUNT_PROFILES,
    COUNT_PROFILES_THROUGH,
    FORGET_REEVALUATE_PLACE,
    PROFILES_AFTER,
    REEVALUATE_PLACE,
    SAVE_REEVALUATE_PLACE,
)
from ..storage.store import Tx
from .achievements import Achievements, Context, Signal
from .catalogue import Plan
from .metrics import ACTIVE, Metrics, Recorded, local_day
from .profiles import Profiles
from .quests import Quests
from .streaks import Streaks
from .track_codec import paid_points, track_codec
from .xp import XP

__all__ = ["Tracker", "paid_points", "reevaluate", "track_codec"]


def _in_window(minute: int, start: str, end: str) -> bool:
    lo = int(start[:2]) * 60 + int(start[3:])
    hi = int(end[:2]) * 60 + int(end[3:])
    return lo <= minute < hi if lo < hi else minute >= lo or minute < hi


class Tracker:
    def __init__(
        self,
        profiles: Profiles,
        metrics: Metrics,
        xp: XP,
        achievements: Achievements,
        streaks: Streaks,
        quests: Quests,
        activity_events: tuple[str, ...] | None,
    ) -> None:
        self._quests = quests
        self._profiles = profiles
        self._metrics = metrics
        self._xp = xp
        self._achievements = achievements
        self._streaks = streaks
        self._activity = None if activity_events is None else frozenset(activity_events)
        # Set when the parts are wired: metric and custom boards subscribe.
        self.publish_tracked: Callable[[EventTracked], None] | None = None
        # The default zone and the hour days start: the day a track counts on, guessed for
        # ``read_ahead`` from the zone each user last had here (PostgreSQL).
        self.day_rule = ("UTC", 0)
        self._zones: dict[str, str] = {}

    def read_ahead(
        self, tx: Tx, user_id: str, event: str, value: float, at: datetime, at_text: str
    ) -> bool:
        """Queue ``track``'s read of the user and its count of the event on the day the user's
        zone is guessed to give (Runtime.write's ``ahead``); a wrong guess runs it again."""
        self._achievements.read_ahead(tx, user_id, self._achievements.catalogue.plan(event).pays_xp)
        default, start_hour = self.day_rule
        day, minute = local_day(at, self._zones.get(user_id, default), start_hour)
        self._metrics.record_ahead(tx, user_id, event, value, day.isoformat(), at_text, minute)
        return True

    def track(
        self,
        tx: Tx,
        user_id: str,
        event: str,
        value: float,
        *,
        at: datetime,
        at_text: str,
        key: str | None,
        metadata: str | None,
    ) -> TrackResult:
        """Record the event, let streaks and quests follow it, pay its rule, then unlock what
        all that made due and report the next badges. The follow-ups are direct calls, in
        this order, because each returns what the next needs (signals, completions): a
        publish-and-subscribe round costs more µs than the call it replaces."""
        achievements = self._achievements
        plan = achievements.catalogue.plan(event)
        ctx = achievements.track_context(user_id, at, at_text, tx, plan.pays_xp)
        # The rule's award takes the row just read unless an XP write came first (XP.writes).
        seen = self._xp.writes
        if tx.ahead is not None:
            self._remember_zone(user_id, ctx.timezone)
        if not ctx.exists:
            self._profiles.create(user_id, at_text)
        signals, moved, recorded = self._record(ctx, plan, event, value, tx)
        if self.publish_tracked is not None:
            self.publish_tracked(EventTracked(user_id, event, value, metadata, at))
        quests: list[QuestCompletion] = []
        if recorded.today == 1:  # a new day for this event (and maybe for the user): streaks
            signals.append((plan.day_signal, 0, 1))
            if recorded.new_active_day:
                signals.append((f"day:{ACTIVE}", 0, 1))
            activity = self._activity
            if recorded.new_active_day if activity is None else event in activity:
                quests = self._extend_streak(tx, ctx, signals)
        if plan.quests:
            meta = None if metadata is None else json.loads(metadata)
            quests += self._quests.on_event(tx, ctx, event, value, meta, signals)
        rule = plan.rule
        rewarded = rule is not None and (
            rule.daily_limit is None or recorded.today <= rule.daily_limit
        )
        xp_award: XPAward | None = None
        points: list[Transaction] = []
        if rule is not None and rewarded:
            source = f"event:{event}"
            if rule.xp:
                xp_award = self._xp.award(
                    tx, user_id, rule.xp, source=source, metadata=metadata,
                    key=None if key is None else f"track:{key}", at=at, at_text=at_text,
                    origin="event", state=ctx.award_state, seen=seen,
                )  # fmt: skip
                achievements.moved_xp(ctx, xp_award, signals)
            for currency, amount in sorted(rule.points.items()) if rule.points else ():
                posting_key = None if key is None else f"track:{user_id}:{key}:{currency}"
                credit = achievements.credit(
                    tx, ctx, currency, amount, "earned", source, ("event", event),
                    posting_key, signals, origin="event",
                )  # fmt: skip
                points.append(credit)
        unlocked = achievements.process(tx, ctx, signals, plan.woken)
        if unlocked:  # an unlock's own writes may move metrics: the statuses read them anew
            ctx.forget(event)
        progress = achievements.next_badges(ctx, moved) if plan.badges or len(moved) > 2 else []
        # Positional (TrackResult's order): keywords cost a fifth more on every call.
        return TrackResult(
            user_id, event, value, at, xp_award, tuple(points), tuple(unlocked),
            tuple(progress), rewarded, key, tuple(quests),
        )  # fmt: skip

    def _remember_zone(self, user_id: str, timezone: str) -> None:
        zones = self._zones
        if timezone == self.day_rule[0]:
            zones.pop(user_id, None)
            return
        if len(zones) >= 100_000:  # a bound, not a cache policy: guesses are only guesses
            zones.clear()
        zones[user_id] = timezone

    def _record(
        self, ctx: Context, plan: Plan, event: str, value: float, tx: Tx | None = None
    ) -> tuple[list[Signal], list[tuple[str, float]], Recorded]:
        """Count the event (its day, its local hour, its time-of-day windows); the signals
        that moved, the values for next badges, and the event's counts. The rows written are
        what the context caches: nothing later in the call reads them back."""
        user_id, day, at_text = ctx.user_id, ctx.day.isoformat(), ctx.at_text
        metrics = self._metrics
        recorded = metrics.record(user_id, event, value, day, at_text, hour=ctx.minute // 60, tx=tx)
        ctx.knows(event, recorded.row)
        count, total = recorded.times, recorded.total
        moved: list[tuple[str, float]] = [(plan.count_signal, count), (plan.sum_signal, total)]
        signals: list[Signal] = [
            (plan.count_signal, count - 1, count),
            (plan.sum_signal, total - value, total),
        ]
        for tod in plan.time_of_day:
            if _in_window(ctx.minute, tod.start, tod.end):
                derived = metrics.record(user_id, tod.metric, value, day, at_text)
                ctx.knows(tod.metric, derived.row)
                signals.append((f"tod:{tod.metric}", derived.times - 1, derived.times))
                moved.append((f"tod:{tod.metric}", derived.times))
        return signals, moved, recorded

    def _extend_streak(self, tx: Tx, ctx: Context, signals: list[Signal]) -> list[QuestCompletion]:
        """Count the context's day for the streak, and move streak quests if it grew."""
        streak = self._streaks.extend(tx, ctx, signals)
        if streak and self._achievements.catalogue.streak_quests:
            return self._quests.on_streak(tx, ctx, streak, signals)
        return []

    def activity(self, tx: Tx, user_id: str, *, at: datetime, at_text: str) -> None:
        """``streaks.record_activity``: mark the local day active without an event."""
        ctx = self._achievements.context(user_id, at, at_text)
        if not ctx.exists:
            self._profiles.create(user_id, at_text)
        signals: list[Signal] = []
        if self._metrics.mark_active(user_id, ctx.day.isoformat(), at_text):
            signals.append((f"day:{ACTIVE}", 0, 1))
        self._extend_streak(tx, ctx, signals)
        self._achievements.process(tx, ctx, signals, ())


def reevaluate(
    rt: Runtime,
    profiles: Profiles,
    achievements: Achievements,
    user_ids: list[str] | None,
    progress: Callable[[int, int], None] | None,
    chunk: int,
) -> ReevaluateReport:
    """Evaluate every active achievement for each user, ``chunk`` users per transaction.

    A run over all users keeps its place in ``job_state`` (with the catalogue's digest), so an
    interrupted run resumes after the last committed chunk. Unlock rows make it exactly-once
    whatever happens: a chunk run twice finds everything already unlocked.
    """
    store = rt.store
    conn = store.conn
    digest = achievements.catalogue.digest
    resumed_after: str | None = None
    if user_ids is None:
        with store.read():
            row = conn.execute(REEVALUATE_PLACE).fetchone()
            total = conn.execute(COUNT_PROFILES).fetchone()[0]
        if row is not None and row[1] == digest:
            resumed_after = row[0]
    else:
        total = len(user_ids)
    cursor = resumed_after or ""
    done = 0
    failures: list[tuple[str, BaseException]] = []
    if resumed_after is not None:
        with store.read():
            done = conn.execute(COUNT_PROFILES_THROUGH, (resumed_after,)).fetchone()[0]
    unlocked: list[Unlock] = []
    position = 0
    while True:
        if user_ids is None:
            with store.read():
                batch = [u for (u,) in conn.execute(PROFILES_AFTER, (cursor, chunk))]
        else:
            batch = user_ids[position : position + chunk]
            position += chunk
        if not batch:
            break
        moment = rt.now()
        at_text = to_text(moment)
        with store.write() as tx:
            for user_id in batch:
                if user_ids is not None and not profiles.exists(user_id):
                    continue
                ctx = achievements.context(user_id, moment, at_text)
                unlocked += achievements.evaluate_all(tx, ctx)
            if user_ids is None:
                conn.execute(SAVE_REEVALUATE_PLACE, (batch[-1], digest, at_text))
        if tx.committed:
            rt.dispatch(tx, None, failures)
        cursor = batch[-1]
        done += len(batch)
        if progress is not None:
            progress(done, total)
    if user_ids is None:
        with store.write():
            conn.execute(FORGET_REEVALUATE_PLACE)
    report = ReevaluateReport(users=done, unlocked=tuple(unlocked), resumed_after=resumed_after)
    rt.raise_hook_errors(failures, report)
    return report
