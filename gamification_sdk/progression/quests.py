"""Quests and challenges: per-period progress fed by track(), completions paid exactly once.

Progress is one row per (user, quest, period start), so a new period simply starts a new
row; nothing has to reset at midnight. Each paid completion is a row keyed by
(user, quest, period, seq), and its rewards carry keys derived from that row, so a retry or
a second process cannot pay twice, and ``seq`` can never pass ``max_completions``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from ..config import Config
from ..core.clock import to_text
from ..economy.inventory import Items
from ..errors import (
    NotFound,
    QuestAlreadyCompleted,
    QuestExpired,
    QuestLocked,
    QuestNotVerified,
    QuestUnavailable,
)
from ..models import ObjectiveProgress, QuestBoard, QuestCompletion, QuestStatus
from ..runtime.outbox import Notifications
from ..storage.quests import (
    CLOSE_PERIODS,
    COMPLETED_EVER,
    NEW_COMPLETION,
    NEW_PROGRESS,
    PERIOD_PROGRESS,
    UPDATE_PROGRESS,
    progress_of,
)
from ..storage.store import Tx
from .catalogue import Catalogue
from .definitions import Quest
from .metrics import Metrics, zone

if TYPE_CHECKING:
    from .achievements import Achievements, Context, Signal

__all__ = ["Period", "Quests", "period_of"]

PERIODIC = ("daily", "weekly", "monthly")  # the board's groups; the rest are "special"


class Period(NamedTuple):
    """One period of a quest for one user: its key (the local start date, ``once``, or the
    event window's start) and its bounds in UTC (``None`` where it has none)."""

    key: str
    start: datetime | None
    end: datetime | None

    @property
    def end_text(self) -> str | None:
        return None if self.end is None else to_text(self.end)


def _at(day: date, hour: int, minute: int, tz: str) -> datetime:
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(tz))
    return local.astimezone(UTC)


def period_of(quest: Quest, at: datetime, tz: str, start_hour: int) -> Period:
    """The period of ``quest`` that ``at`` falls in, for a user in ``tz``."""
    if quest.recurrence == "one_time":
        return Period("once", None, None)
    if quest.recurrence == "event":
        assert quest.available_from is not None
        return Period(quest.available_from.isoformat(), quest.available_from, quest.available_until)
    hour, minute = start_hour, 0
    if quest.reset_time is not None:
        hour, minute = int(quest.reset_time[:2]), int(quest.reset_time[3:])
    # Wall-clock arithmetic: the day starts at the reset time whatever DST does that night.
    day = (at.astimezone(zone(tz)) - timedelta(hours=hour, minutes=minute)).date()
    if quest.recurrence == "daily":
        first, after = day, day + timedelta(days=1)
    elif quest.recurrence == "weekly":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    return Period(first.isoformat(), _at(first, hour, minute, tz), _at(after, hour, minute, tz))


_Writes = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _queue(
    writes: _Writes,
    ctx: Context,
    quest: Quest,
    period: Period,
    values: list[float],
    completions: int,
    exists: bool,
) -> None:
    status = "completed" if completions >= quest.max_completions else "active"
    row = (json.dumps(values), completions, status, ctx.at_text, ctx.user_id, quest.key,
           period.key)  # fmt: skip
    if exists:
        writes[0].append(row)
    else:
        writes[1].append((*row, period.end_text))


def _matches(filters: Mapping[str, Any], metadata: Any) -> bool:
    if not filters:
        return True
    if not isinstance(metadata, dict):
        return False
    return all(
        key in metadata and type(metadata[key]) is type(want) and metadata[key] == want
        for key, want in filters.items()
    )


def _met(quest: Quest, values: list[float]) -> bool:
    done = [v >= o.target for v, o in zip(values, quest.objectives, strict=True)]
    if not done:
        return False
    return any(done) if quest.logic == "any" else all(done)


class Quests:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        metrics: Metrics,
        items: Items,
        notifications: Notifications,
        achievements: Achievements,
    ) -> None:
        self._conn = conn
        self._config = config
        self._metrics = metrics
        self._items = items
        self._notifications = notifications
        self._achievements = achievements
        self.verify: Callable[..., Any] | None = None  # the verify_quest hook, set by the engine

    @property
    def catalogue(self) -> Catalogue:
        return self._achievements.catalogue

    # -- what is open ----------------------------------------------------------------------

    def closed_reason(self, ctx: Context, quest: Quest, retired: bool) -> QuestUnavailable | None:
        """Why ``quest`` is closed to the user now, as the error to raise; None if open."""
        key = quest.key
        if retired:
            return QuestUnavailable(key, "is no longer offered")
        if quest.available_from is not None and ctx.at < quest.available_from:
            return QuestUnavailable(key, f"opens at {quest.available_from.isoformat()}")
        if quest.available_until is not None and ctx.at >= quest.available_until:
            return QuestExpired(key, f"ended at {quest.available_until.isoformat()}")
        if ctx.level < quest.min_level:
            return QuestLocked(key, f"is locked until level {quest.min_level}")
        needed = quest.requires_achievement
        if needed is not None and not ctx.unlocked(needed):
            return QuestLocked(key, f"is locked until achievement {needed!r} is unlocked")
        if quest.after is not None and not self._ever(ctx.user_id, quest.after):
            return QuestLocked(key, f"is locked until quest {quest.after!r} is completed")
        return None

    def _ever(self, user_id: str, key: str) -> bool:
        return self._conn.execute(COMPLETED_EVER, (user_id, key)).fetchone() is not None

    def period(self, ctx: Context, quest: Quest) -> Period:
        return period_of(quest, ctx.at, ctx.timezone, self._config.day_start_hour)

    def _progress(
        self, ctx: Context, quest: Quest, period: Period
    ) -> tuple[list[float], int, bool]:
        """This period's objective values, completions, and whether the row exists yet."""
        row = self._conn.execute(PERIOD_PROGRESS, (ctx.user_id, quest.key, period.key)).fetchone()
        if row is None:
            return [0.0] * len(quest.objectives), 0, False
        return json.loads(row[0]), row[1], True

    # -- progress --------------------------------------------------------------------------

    def _open_with_progress(
        self, ctx: Context, quests: list[Quest]
    ) -> list[tuple[Quest, Period, list[float], int, bool]]:
        """The open ones of ``quests`` with this period's progress, read in one query."""
        periods: dict[tuple[str, str | None, datetime | None], Period] = {}
        found: list[tuple[Quest, Period]] = []
        for quest in quests:
            if self.closed_reason(ctx, quest, False) is not None:
                continue
            # Quests sharing a recurrence and reset time share the period: compute it once.
            shape = (quest.recurrence, quest.reset_time, quest.available_from)
            period = periods.get(shape)
            if period is None:
                period = periods[shape] = self.period(ctx, quest)
            found.append((quest, period))
        if not found:
            return []
        rows = progress_of(
            self._conn, ctx.user_id, [(quest.key, period.key) for quest, period in found]
        )
        stored = {
            (quest, start): (progress, completions) for quest, start, progress, completions in rows
        }
        result = []
        for quest, period in found:
            row = stored.get((quest.key, period.key))
            if row is None:
                result.append((quest, period, [0.0] * len(quest.objectives), 0, False))
            else:
                result.append((quest, period, json.loads(row[0]), row[1], True))
        return result

    def on_event(
        self,
        tx: Tx,
        ctx: Context,
        event: str,
        value: float,
        metadata: Any,
        pending: list[Signal],
    ) -> list[QuestCompletion]:
        """Advance every open quest with an objective on ``event``; complete what is due."""
        done: list[QuestCompletion] = []
        writes: _Writes = ([], [])
        quests = self.catalogue.quests_by_event.get(event, [])
        for quest, period, values, completions, exists in self._open_with_progress(ctx, quests):
            if completions >= quest.max_completions:
                continue
            before = [v >= o.target for v, o in zip(values, quest.objectives, strict=True)]
            moved = False
            for i, objective in enumerate(quest.objectives):
                if objective.event != event or not _matches(objective.filters, metadata):
                    continue
                if quest.logic == "sequence" and not all(before[:i]):
                    continue
                values[i] += 1 if objective.type == "count" else value
                moved = True
            if moved:
                paid = self._settle(tx, ctx, quest, period, values, completions, pending)
                _queue(writes, ctx, quest, period, values, completions + len(paid), exists)
                done += paid
        self._flush(writes)
        return done

    def on_streak(
        self, tx: Tx, ctx: Context, streak: int, pending: list[Signal]
    ) -> list[QuestCompletion]:
        """The streak grew to ``streak`` today: move streak objectives."""
        done: list[QuestCompletion] = []
        writes: _Writes = ([], [])
        quests = self.catalogue.streak_quests
        for quest, period, values, completions, exists in self._open_with_progress(ctx, quests):
            if completions >= quest.max_completions:
                continue
            for i, objective in enumerate(quest.objectives):
                if objective.type == "streak":
                    values[i] = max(values[i], streak)
            paid = self._settle(tx, ctx, quest, period, values, completions, pending)
            _queue(writes, ctx, quest, period, values, completions + len(paid), exists)
            done += paid
        self._flush(writes)
        return done

    def _flush(self, writes: _Writes) -> None:
        updates, inserts = writes
        if updates:
            self._conn.executemany(UPDATE_PROGRESS, updates)
        if inserts:
            self._conn.executemany(NEW_PROGRESS, inserts)

    def _settle(
        self,
        tx: Tx,
        ctx: Context,
        quest: Quest,
        period: Period,
        values: list[float],
        completions: int,
        pending: list[Signal],
    ) -> list[QuestCompletion]:
        """Complete the quest if its objectives are met (``values`` then restarts in place
        for the next completion); the caller writes the progress row."""
        if quest.verification or not _met(quest, values):
            return []
        seq = completions + 1
        completion = self._complete(tx, ctx, quest, period, seq, None, pending)
        if seq < quest.max_completions:
            values[:] = [0.0] * len(quest.objectives)  # the next completion starts afresh
        return [completion]

    # -- completing ------------------------------------------------------------------------

    def verified(
        self, ctx: Context, key: str, evidence: Any, engine: Any
    ) -> tuple[Quest, Period, list[float], int, bool]:
        """``quests.complete``'s checks, before anything is written: the quest is open, not at
        its maximum this period, and verified. Raises the typed refusal otherwise."""
        found = self.catalogue.quests.get(key)
        if found is None:
            raise NotFound("quest_key", key)
        quest, _, retired = found
        closed = self.closed_reason(ctx, quest, retired)
        if closed is not None:
            raise closed
        period = self.period(ctx, quest)
        values, completions, exists = self._progress(ctx, quest, period)
        if completions >= quest.max_completions:
            raise QuestAlreadyCompleted(
                key, f"was already completed {completions} time(s) this period (the maximum)"
            )
        status = self._status(quest, period, values, completions)
        verdict = None
        if self.verify is not None:
            verdict = self.verify(engine=engine, user_id=ctx.user_id, quest=quest,
                                  evidence=evidence, progress=status)  # fmt: skip
        if verdict is None:
            verdict = _met(quest, values)
        if not verdict:
            raise QuestNotVerified(key, "was not verified: its objectives are not met")
        return quest, period, values, completions, exists

    def complete(
        self,
        tx: Tx,
        ctx: Context,
        checked: tuple[Quest, Period, list[float], int, bool],
        evidence_text: str | None,
    ) -> QuestCompletion:
        """Pay a completion that ``verified`` passed."""
        quest, period, values, completions, exists = checked
        pending: list[Signal] = []
        completion = self._complete(tx, ctx, quest, period, completions + 1, evidence_text, pending)
        if completions + 1 < quest.max_completions:
            values = [0.0] * len(quest.objectives)
        writes: _Writes = ([], [])
        _queue(writes, ctx, quest, period, values, completions + 1, exists)
        self._flush(writes)
        self._achievements.process(tx, ctx, pending, ())
        return completion

    def _complete(
        self,
        tx: Tx,
        ctx: Context,
        quest: Quest,
        period: Period,
        seq: int,
        evidence: str | None,
        pending: list[Signal],
    ) -> QuestCompletion:
        version = self.catalogue.quests[quest.key][1]
        rewards = quest.rewards
        self._conn.execute(
            NEW_COMPLETION,
            (
                ctx.user_id, quest.key, period.key, seq, version, ctx.at_text,
                json.dumps({"xp": rewards.xp, "points": rewards.points, "title": rewards.title,
                            "items": rewards.items}, sort_keys=True),
                evidence,
            ),
        )  # fmt: skip
        ref = f"{quest.key}:{period.key}:{seq}"
        achievements = self._achievements
        if rewards.xp:
            assert achievements.xp is not None
            award = achievements.xp.award(
                tx, ctx.user_id, rewards.xp, source=f"quest:{quest.key}", metadata=None,
                key=f"quest:{ref}", at=ctx.at, at_text=ctx.at_text, origin="quest",
            )  # fmt: skip
            achievements.moved_xp(ctx, award, pending)
        for currency, amount in sorted(rewards.points.items()):
            achievements.credit(
                tx, ctx, currency, amount, "earned", f"quest:{quest.key}", ("quest", quest.key),
                f"quest:{ctx.user_id}:{ref}:{currency}", pending, origin="quest",
            )  # fmt: skip
        if rewards.title is not None:
            self._items.grant_title(ctx.user_id, rewards.title, f"quest:{quest.key}", ctx.at_text)
        for item, quantity in sorted(rewards.items.items()):
            self._items.grant_item(ctx.user_id, item, quantity, ctx.at_text)
        day = ctx.day.isoformat()
        for metric in ("~quests", f"~quests:{quest.category}"):
            count = self._metrics.record(ctx.user_id, metric, 1, day, ctx.at_text).times
            pending.append((f"count:{metric}", count - 1, count))
            ctx.forget(metric)
        completion = QuestCompletion(
            user_id=ctx.user_id, key=quest.key, name=quest.name, period=period.key, seq=seq,
            completed_at=ctx.at, xp=rewards.xp, points=dict(rewards.points),
            title=rewards.title, items=dict(rewards.items),
        )  # fmt: skip
        self._notifications.add(
            tx, ctx.user_id, "quest_completed", f"Quest completed: {quest.name}",
            {"key": quest.key, "period": period.key, "seq": seq, "xp": rewards.xp,
             "points": dict(rewards.points)},
            ctx.at, ctx.at_text,
        )  # fmt: skip
        tx.emit("on_quest_completed", completion=completion)
        return completion

    # -- reading ---------------------------------------------------------------------------

    def _status(
        self, quest: Quest, period: Period, values: list[float], completions: int
    ) -> QuestStatus:
        objectives = tuple(
            ObjectiveProgress(o.description, o.type, o.event, min(v, o.target), o.target,
                              v >= o.target)
            for v, o in zip(values, quest.objectives, strict=True)
        )  # fmt: skip
        return QuestStatus(
            key=quest.key, name=quest.name, description=quest.description,
            category=quest.category, difficulty=quest.difficulty, recurrence=quest.recurrence,
            xp=quest.rewards.xp, points=dict(quest.rewards.points), objectives=objectives,
            logic=quest.logic, completions=completions, max_completions=quest.max_completions,
            completed=completions >= quest.max_completions,
            needs_verification=quest.verification, period_start=period.start,
            expires_at=period.end,
        )  # fmt: skip

    def board(self, ctx: Context, category: str | None) -> QuestBoard:
        groups: dict[str, list[QuestStatus]] = {name: [] for name in (*PERIODIC, "special")}
        ordered = sorted(self.catalogue.quests.values(), key=lambda q: (q[0].order, q[0].key))
        for quest, _, retired in ordered:
            if category is not None and quest.category != category:
                continue
            if self.closed_reason(ctx, quest, retired) is not None:
                continue
            period = self.period(ctx, quest)
            values, completions, _ = self._progress(ctx, quest, period)
            group = quest.recurrence if quest.recurrence in PERIODIC else "special"
            groups[group].append(self._status(quest, period, values, completions))
        return QuestBoard(**{name: tuple(found) for name, found in groups.items()})

    def close_periods(self, at_text: str) -> int:
        """Mark unfinished progress of ended periods expired; returns how many rows."""
        return self._conn.execute(CLOSE_PERIODS, (at_text, at_text)).rowcount
