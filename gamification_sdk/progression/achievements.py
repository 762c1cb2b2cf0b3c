"""Achievement evaluation: measuring criteria, unlocking exactly once, paying rewards.

Unlock rows are keyed ``(user_id, key, tier, seq)``: inserting one that exists changes
nothing, so a second evaluation (a retry, ``reevaluate``, two processes) can never pay twice.
Rewards go through the XP log and the ledger with keys derived from that row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..economy.inventory import Items
from ..economy.ledger import Ledger, Posting
from ..errors import InvalidInput
from ..models import AchievementStatus, Transaction, Unlock, XPAward
from ..runtime.bus import AchievementUnlocked
from ..runtime.outbox import Notifications
from ..storage.achievements import (
    EVALUATION_PROFILE,
    NEW_UNLOCK,
    TRACK_AWARD_PROFILE,
    TRACK_PROFILE,
)
from ..storage.store import Tx
from .catalogue import UNTOUCHED, Catalogue, Entry, target_of
from .context import Context, Signal
from .definitions import (
    AchievementCount,
    AllOf,
    AnyOf,
    Collection,
    Count,
    Custom,
    FirstTime,
    Level,
    Max,
    PointsEarned,
    Rewards,
    Streak,
    Sum,
    TimeOfDay,
    TotalXP,
    Window,
)
from .metrics import Metrics, period_start

if TYPE_CHECKING:
    from .xp import XP

# Context and Signal live in context.py; imported from here too, as before.
__all__ = ["Achievements", "Context", "Signal"]

Evaluator = Callable[..., Any]

# The criteria measured by a column of their event's metric row (count, sum, max), by exact
# type; anything else (a subclass included) goes through ``measure``'s checks.
_METRIC_COLUMN: dict[type, int] = {Count: 0, FirstTime: 0, Sum: 1, Max: 2}


def _no_confirm(version: int | None) -> None:
    """Until the parts are wired, nothing to confirm."""


class Achievements:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        metrics: Metrics,
        ledger: Ledger,
        items: Items,
        notifications: Notifications,
        facade: Any,
    ) -> None:
        self._conn = conn
        self._config = config
        self._metrics = metrics
        self._ledger = ledger
        self._items = items
        self._notifications = notifications
        # The facade only to pass custom criteria as engine= (runtime.facade).
        self._facade = facade
        self.xp: XP | None = None  # set by the engine: XP and achievements call each other
        # Set when the parts are wired: achievement boards subscribe.
        self.publish_unlocked: Callable[[AchievementUnlocked], None] | None = None
        self.catalogue = Catalogue()
        self.evaluators: dict[str, Evaluator] = {}
        # Store.confirm: track_context hands it the configuration version its read returns.
        self.confirm: Callable[[int | None], None] = _no_confirm

    # -- context ---------------------------------------------------------------------------

    def read_ahead(self, tx: Tx, user_id: str, award: bool) -> bool:
        """Queue ``track_context``'s read of the user (Runtime.write's ``ahead``); writes
        nothing."""
        tx.queue_ahead(self._conn, TRACK_AWARD_PROFILE if award else TRACK_PROFILE, (user_id,))
        return False

    def context(self, user_id: str, at: datetime, at_text: str) -> Context:
        row = self._conn.execute(EVALUATION_PROFILE, (user_id,)).fetchone()
        return self._context(user_id, at, at_text, row)

    def track_context(
        self, user_id: str, at: datetime, at_text: str, tx: Tx, award: bool
    ) -> Context:
        """``context`` as track()'s first read: it also confirms the stored configuration
        version (Store.confirm; a no-op outside a write begun with ``confirms``). A user
        without a profile confirms nothing: the store checks before COMMIT instead.

        ``award``: the event's rule pays XP. The read is then XP.award's too, kept in the
        context's ``award_state`` for it (TRACK_AWARD_PROFILE)."""
        sql = TRACK_AWARD_PROFILE if award else TRACK_PROFILE
        queued = tx.take(sql, (user_id,)) if tx.ahead else None
        row = (queued or self._conn.execute(sql, (user_id,))).fetchone()
        if row is None:
            return self._context(user_id, at, at_text, None)
        if not award:
            self.confirm(row[4])
            return self._context(user_id, at, at_text, row)
        self.confirm(row[9])
        ctx = self._context(user_id, at, at_text, (row[0], row[1], row[10], row[11]))
        ctx.award_state = row
        return ctx

    def _context(
        self, user_id: str, at: datetime, at_text: str, row: tuple[Any, ...] | None
    ) -> Context:
        xp, level, tz, any_unlock = (0, 1, None, True) if row is None else row[:4]
        ctx = Context(
            self._conn, self._metrics, user_id, at, at_text, xp, level,
            tz or self._config.default_timezone, row is not None, self._config.day_start_hour,
        )  # fmt: skip
        if not any_unlock:
            ctx.none_unlocked()
        return ctx

    # -- measuring -------------------------------------------------------------------------

    def measure(self, ctx: Context, c: Any) -> float:
        """The number ``c`` compares with its target (or met children, for all/any)."""
        column = _METRIC_COLUMN.get(type(c))
        if column is not None:  # the usual criteria, without a chain of isinstance checks
            return ctx.metric(c.event)[column]
        if isinstance(c, Count | FirstTime):
            return ctx.metric(c.event)[0]
        if isinstance(c, Sum):
            return ctx.metric(c.event)[1]
        if isinstance(c, Max):
            return ctx.metric(c.event)[2]
        if isinstance(c, TimeOfDay):
            return ctx.metric(c.metric)[0]
        if isinstance(c, Level):
            return ctx.level
        if isinstance(c, TotalXP):
            return ctx.xp
        if isinstance(c, Streak):
            if not c.events:
                return ctx.longest_streak()
            return self._metrics.longest_run(ctx.user_id, c.events)
        if isinstance(c, PointsEarned):
            return ctx.earned(c.currency)
        if isinstance(c, AchievementCount):
            return len(ctx.unlocks)
        if isinstance(c, Collection):
            return sum(1 for key in c.keys if ctx.unlocked(key))
        if isinstance(c, Window):
            if ctx.retroactive:
                return self._metrics.best_window(ctx.user_id, c.event, c.days, c.period, c.stat)
            first, last = self._window(ctx.day, c)
            count, total = self._metrics.window(ctx.user_id, c.event, first, last)
            return count if c.stat == "count" else total
        if isinstance(c, Custom):
            return self._custom(ctx, c)
        if isinstance(c, AllOf):
            return sum(1 for inner in c.criteria if self.met(ctx, inner))
        if isinstance(c, AnyOf):
            return 1 if any(self.met(ctx, inner) for inner in c.criteria) else 0
        raise AssertionError(f"cannot measure {c!r}")

    def met(self, ctx: Context, c: Any) -> bool:
        return self.measure(ctx, c) >= target_of(c)

    @staticmethod
    def _window(day: date, c: Window) -> tuple[date, date]:
        if c.days is not None:
            return day - timedelta(days=c.days - 1), day
        return period_start(day, c.period or "day"), day

    def _custom(self, ctx: Context, c: Custom) -> float:
        evaluate = self.evaluators.get(c.name)
        if evaluate is None:
            return 0  # its plugin is gone: nothing new unlocks, earned stays earned
        value = evaluate(engine=self._facade, user_id=ctx.user_id, params=dict(c.params), at=ctx.at)
        if type(value) is bool:
            return int(value)
        if not isinstance(value, int | float) or value != value:
            raise InvalidInput(
                f"criterion {c.name}", f"evaluator returned {value!r}; need a number"
            )
        return value

    # -- evaluating ------------------------------------------------------------------------

    def process(
        self, tx: Tx, ctx: Context, signals: list[Signal], by_event: Sequence[str] = ()
    ) -> list[Unlock]:
        """Unlock what the moved metrics make due, and evaluate ``by_event``: the keys of the
        achievements the call's event woke (``Plan.woken``); repeat until quiet."""
        unlocked: list[Unlock] = []
        catalogue = self.catalogue
        woken = list(by_event)
        watched = catalogue.watched
        pending = signals  # only read: what unlocks move goes to a new list
        while pending or woken:
            due: list[tuple[str, int]] = []
            for name, old, new in pending:
                if name in watched:  # most signals of a call move nothing anyone watches
                    due += catalogue.crossed(name, old, new)
                    woken += catalogue.woken(name)
            pending = []
            for key, tier in due:
                entry = catalogue.entries[key]
                if tier in ctx.unlocks_of(key):
                    continue
                unlocked.append(self._unlock(tx, ctx, entry, tier, 1, 0, pending))
            seen: set[str] = set()
            for key in woken:
                if key not in seen:
                    seen.add(key)
                    unlocked += self.evaluate(tx, ctx, catalogue.entries[key], pending)
            woken = []
        return unlocked

    def evaluate(self, tx: Tx, ctx: Context, entry: Entry, pending: list[Signal]) -> list[Unlock]:
        """Check one achievement in full and unlock whatever of it is due."""
        a = entry.definition
        if entry.retired or not self._available(a, ctx.at):
            return []
        if any(not ctx.unlocked(pre) for pre in a.prerequisites):
            return []
        done = ctx.unlocks_of(a.key)
        found: list[Unlock] = []
        if a.repeatable is not None:
            history = done.get(0, [])
            if a.repeatable.max is not None and len(history) >= a.repeatable.max:
                return []
            baseline = 0.0
            if history:
                _, last_at, baseline = history[-1]
                ready = datetime.fromisoformat(last_at) + timedelta(days=a.repeatable.cooldown_days)
                if ctx.at < ready:
                    return []
            value, target = self.measure(ctx, a.criteria), entry.targets[0]
            if value - baseline < target:
                return []
            seq = len(history) + 1
            if not ctx.retroactive or a.repeatable.cooldown_days:
                return [self._unlock(tx, ctx, entry, 0, seq, value, pending)]
            # The past, as if the achievement had been there: a repeat at each full target.
            times = int((value - baseline) // target)
            if a.repeatable.max is not None:
                times = min(times, a.repeatable.max - len(history))
            for k in range(times):
                step = baseline + (k + 1) * target
                found.append(self._unlock(tx, ctx, entry, 0, seq + k, step, pending))
            return found
        value = self.measure(ctx, a.criteria)
        for tier, target in zip(entry.tiers, entry.targets, strict=True):
            if tier not in done and value >= target:
                found.append(self._unlock(tx, ctx, entry, tier, 1, 0, pending))
        return found

    def evaluate_all(self, tx: Tx, ctx: Context) -> list[Unlock]:
        """Everything active, for ``reevaluate``: prerequisites first, until nothing changes."""
        ctx.retroactive = True
        ctx.unlocks  # every entry asks for its unlocks: one read of them all  # noqa: B018
        found: list[Unlock] = []
        while True:
            pending: list[Signal] = []
            round_found: list[Unlock] = []
            for entry in self.catalogue.active():
                round_found += self.evaluate(tx, ctx, entry, pending)
            found += round_found
            if not round_found:
                return found

    @staticmethod
    def _available(a: Any, at: datetime) -> bool:
        if a.available_from is not None and at < a.available_from:
            return False
        return a.available_until is None or at < a.available_until

    # -- unlocking -------------------------------------------------------------------------

    def _unlock(
        self,
        tx: Tx,
        ctx: Context,
        entry: Entry,
        tier: int,
        seq: int,
        baseline: float,
        pending: list[Signal],
    ) -> Unlock:
        a = entry.definition
        rewards: Rewards = a.tiers[entry.tiers.index(tier)].rewards if a.tiers else a.rewards
        tier_name = entry.tier_names[tier]
        multiplier = self._config.achievements.rarity_xp_multipliers[a.rarity]
        xp = int(Decimal(rewards.xp * Decimal(str(multiplier))).quantize(0, ROUND_HALF_UP))
        points = self._config.achievements.rarity_points[a.rarity]
        # The count of unlocked keys, only if something watches it (it reads every unlock).
        counted = "achievements" in self.catalogue.watched
        before = len(ctx.unlocks) if counted else 0
        self._conn.execute(
            NEW_UNLOCK,
            (
                ctx.user_id, a.key, tier, seq, entry.version, a.rarity, points, ctx.at_text,
                json.dumps({"xp": xp, "points": rewards.points, "title": rewards.title,
                            "items": rewards.items}, sort_keys=True),
                baseline,
            ),
        )  # fmt: skip
        ctx.add_unlock(a.key, tier, (seq, ctx.at_text, baseline))
        if self.publish_unlocked is not None:
            self.publish_unlocked(AchievementUnlocked(ctx.user_id, a.key, points, ctx.at))
        if counted:
            pending.append(("achievements", before, len(ctx.unlocks)))
        ref = f"{a.key}:{tier}:{seq}"
        if xp:
            assert self.xp is not None
            award = self.xp.award(
                tx, ctx.user_id, xp, source=f"achievement:{a.key}", metadata=None,
                key=f"achievement:{ref}", at=ctx.at, at_text=ctx.at_text, origin="achievement",
            )  # fmt: skip
            self.moved_xp(ctx, award, pending)
        for currency, amount in sorted(rewards.points.items()):
            self.credit(
                tx, ctx, currency, amount, "bonus", f"achievement:{a.key}",
                ("achievement", a.key), f"achievement:{ctx.user_id}:{ref}:{currency}", pending,
                origin="achievement",
            )  # fmt: skip
        if rewards.title is not None:
            self._items.grant_title(ctx.user_id, rewards.title, f"achievement:{a.key}", ctx.at_text)
        for item, quantity in sorted(rewards.items.items()):
            self._items.grant_item(ctx.user_id, item, quantity, ctx.at_text)
        unlock = Unlock(
            user_id=ctx.user_id, key=a.key, name=a.name, rarity=a.rarity, tier=tier_name,
            seq=seq, unlocked_at=ctx.at, xp=xp, points=dict(rewards.points),
            title=rewards.title, items=dict(rewards.items), achievement_points=points,
            version=entry.version,
        )  # fmt: skip
        label = a.name if tier_name is None else f"{a.name} ({tier_name})"
        self._notifications.add(
            tx, ctx.user_id, "achievement_unlocked", f"Achievement unlocked: {label}",
            {"key": a.key, "tier": tier_name, "seq": seq, "rarity": a.rarity, "xp": xp,
             "points": dict(rewards.points)},
            ctx.at, ctx.at_text,
        )  # fmt: skip
        tx.emit("on_achievement_unlocked", unlock=unlock)
        return unlock

    def grantable(self, key: str) -> bool:
        """Whether ``grant`` can unlock ``key``: it is defined and not retired."""
        entry = self.catalogue.entries.get(key)
        return entry is not None and not entry.retired

    def grant(self, tx: Tx, ctx: Context, key: str) -> list[Unlock]:
        """Unlock achievement ``key`` (its first tier) as a reward, whatever its criteria,
        unless the user has it; then whatever that makes due. Check ``grantable`` first."""
        entry = self.catalogue.entries[key]
        first = entry.tiers[0]
        if first in ctx.unlocks_of(key):
            return []
        pending: list[Signal] = []
        unlocked = [self._unlock(tx, ctx, entry, first, 1, 0.0, pending)]
        return unlocked + self.process(tx, ctx, pending, ())

    def moved_xp(self, ctx: Context, award: XPAward, pending: list[Signal]) -> None:
        total, level = award.total_xp, award.new_level
        if total != ctx.xp:
            pending.append(("xp", ctx.xp, total))
        if level != ctx.level:
            pending.append(("level", ctx.level, level))
        ctx.xp, ctx.level = total, level
        if award.rewards:  # most awards cross no level: no level-up points to report
            self._level_points(ctx, award, pending)

    def _level_points(self, ctx: Context, award: XPAward, pending: list[Signal]) -> None:
        """Level-up bonuses are points earned too: lifetime-earned criteria must see them."""
        paid: dict[str, int] = {}
        for reward in award.rewards:
            for currency, amount in reward.points.items():
                paid[currency] = paid.get(currency, 0) + amount
        for currency, amount in sorted(paid.items()):
            if f"points:{currency}" in self.catalogue.watched:
                earned = ctx.earned(currency)
                pending.append((f"points:{currency}", earned - amount, earned))

    def credit(
        self,
        tx: Tx,
        ctx: Context,
        currency: str,
        amount: int,
        kind: str,
        source: str,
        reference: tuple[str, str],
        key: str | None,
        pending: list[Signal],
        *,
        origin: str,
    ) -> Any:
        posting = Posting(
            kind, currency, amount, ctx.user_id, source, ctx.at, ctx.at_text,
            reference=reference, key=key,
        )  # fmt: skip
        result = self._ledger.credit(tx, posting, origin=origin)
        if f"points:{currency}" in self.catalogue.watched:
            earned = ctx.earned(currency)
            pending.append((f"points:{currency}", earned - amount, earned))
        return result

    def after_xp(self, tx: Tx, award: XPAward, at: datetime, at_text: str) -> XPAward:
        """Unlock what a direct ``award_xp`` makes due (total XP and level criteria)."""
        watched = self.catalogue.watched
        # Most awards pay no level reward: the currencies they paid are looked at only then.
        if (
            "xp" in watched
            or ("level" in watched and award.leveled_up)
            or (
                award.rewards
                and any(
                    f"points:{currency}" in watched
                    for reward in award.rewards
                    for currency in reward.points
                )
            )
        ):
            ctx = self.context(award.user_id, at, at_text)
            signals: list[Signal] = [("xp", award.total_xp - award.amount, award.total_xp)]
            if award.leveled_up:
                signals.append(("level", award.old_level, award.new_level))
            self._level_points(ctx, award, signals)
            self.process(tx, ctx, signals, ())
        return award

    def after_points(self, tx: Tx, credit: Transaction, at: datetime, at_text: str) -> None:
        """Unlock what a direct points award makes due (lifetime-earned criteria)."""
        signal = f"points:{credit.currency}"
        if signal in self.catalogue.watched:
            ctx = self.context(credit.user_id, at, at_text)
            earned = ctx.earned(credit.currency)
            self.process(tx, ctx, [(signal, earned - credit.amount, earned)], ())

    # -- reading ---------------------------------------------------------------------------

    def status(self, ctx: Context, entry: Entry) -> AchievementStatus:
        a = entry.definition
        done = ctx.unlocks_of(a.key)
        if not done and a.repeatable is None and not entry.retired:
            # Nothing of it earned yet (every next badge): the general case below reduced to
            # what it gives then, the first tier ahead, which depends on the value alone.
            value = self.measure(ctx, a.criteria)
            memo = type(value) is int  # not a float: 4.0 must not answer for 4
            if memo:
                known = entry.untouched.get(value)
                if known is not None:
                    return known
            target = entry.targets[0]
            percent = 100.0 if target <= 0 else min(100.0, round(100.0 * max(value, 0) / target, 2))
            status = AchievementStatus(
                *entry.shown, value, target, percent, False, None, 0, (),
                entry.tier_names[entry.tiers[0]], False,
            )  # fmt: skip
            if memo:
                if len(entry.untouched) >= UNTOUCHED:
                    entry.untouched.clear()
                entry.untouched[value] = status
            return status
        history = [row for rows in done.values() for row in rows]
        first = min((row[1] for row in history), default=None)
        # Current tiers in order, then earned tiers the definition no longer has.
        earned = [t for t in entry.tiers if t in done]
        earned += sorted(t for t in done if t not in entry.tiers)
        tiers_done = tuple(name for t in earned if (name := entry.tier_names.get(t)) is not None)
        value = self.measure(ctx, a.criteria) if not entry.retired or done else 0
        remaining = [i for i, tier in enumerate(entry.tiers) if tier not in done]
        if a.repeatable is not None and (
            a.repeatable.max is None or len(history) < a.repeatable.max
        ):
            baseline = done[0][-1][2] if done.get(0) else 0
            current, target, next_tier = value - baseline, entry.targets[0], None
        elif remaining:
            target = entry.targets[remaining[0]]
            current, next_tier = value, entry.tier_names[entry.tiers[remaining[0]]]
        else:
            target, current, next_tier = entry.targets[-1], max(value, entry.targets[-1]), None
        percent = 100.0 if target <= 0 else min(100.0, round(100.0 * max(current, 0) / target, 2))
        return AchievementStatus(
            key=a.key, name=a.name, description=a.description, icon=a.icon,
            category=a.category, rarity=a.rarity, hidden=a.hidden, current=current,
            target=target, percent=percent, unlocked=bool(done),
            unlocked_at=None if first is None else datetime.fromisoformat(first),
            times_unlocked=len(history), tiers_unlocked=tiers_done, next_tier=next_tier,
            retired=entry.retired,
        )  # fmt: skip

    def listing(
        self, ctx: Context, *, include_hidden: bool, category: str | None
    ) -> list[AchievementStatus]:
        found = []
        ctx.unlocks  # every entry asks for its unlocks: one read of them all  # noqa: B018
        entries = sorted(self.catalogue.entries.values(), key=lambda e: (e.definition.order, e.key))
        for entry in entries:
            a = entry.definition
            if category is not None and a.category != category:
                continue
            earned = ctx.unlocked(a.key)
            if entry.retired and not earned:
                continue
            if a.hidden and not earned and not include_hidden:
                continue
            found.append(self.status(ctx, entry))
        return found

    def next_badges(
        self, ctx: Context, moved: Iterable[tuple[str, float]]
    ) -> list[AchievementStatus]:
        """Per moved metric, the nearest visible achievement still ahead: "next badge"."""
        found: list[AchievementStatus] = []
        seen: set[str] = set()
        catalogue = self.catalogue
        entries = catalogue.entries
        for signal, value in moved:
            owners, start = catalogue.next_up(signal, value)
            for index in range(start, len(owners)):
                key = owners[index][0]
                entry = entries[key]
                if key in seen or entry.definition.hidden:
                    continue
                status = self.status(ctx, entry)
                if status.percent < 100:
                    seen.add(key)
                    found.append(status)
                    break
        return found
