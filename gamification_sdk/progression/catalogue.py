"""The active definitions, compiled into indexes so evaluation cost does not grow with them.

Every criterion depends on *signals*: a metric that moved (``count:post_created``,
``xp``, ``points:gems``...) or an event that happened (``event:post_created``). A simple
achievement (one metric, no prerequisites, no availability window, not repeatable) sits in
a sorted target list per signal: when the metric moves from ``old`` to ``new``, a bisect
finds exactly the targets crossed. Everything else is woken by its signals and evaluated
in full. Achievements that watch nothing that moved are never looked at.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import attrs

from ..models import AchievementStatus
from .definitions import Achievement as Definition
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
    Quest,
    Streak,
    Sum,
    TimeOfDay,
    TotalXP,
    Window,
)
from .definitions import Rule as RuleDefinition

__all__ = ["UNTOUCHED", "Catalogue", "Entry", "Plan", "signals_of", "target_of"]

ANY_EVENT = "event:*"
_PLANS = 4096  # plans kept per catalogue: event names come from callers, so bound them
UNTOUCHED = 1024  # statuses kept per entry (Entry.untouched)


_NONE_AHEAD: tuple[list[tuple[str, int]], int] = ([], 0)


class Plan(NamedTuple):
    """What ``track()`` does for one event under this catalogue, worked out once: the signal
    names it moves, and which follow-ups can react at all, so a call skips the rest."""

    count_signal: str  # "count:<event>"
    sum_signal: str  # "sum:<event>"
    day_signal: str  # "day:<event>"
    # Simple achievements ahead on the event's count or sum: the "next badge" statuses read
    # the user's unlocks, so the context reads them with the profile.
    badges: bool
    time_of_day: tuple[TimeOfDay, ...]
    quests: bool  # a live quest has an objective on the event
    rule: RuleDefinition | None
    pays_xp: bool  # the rule may pay XP: track()'s first read is then the award's too
    # Achievements the event itself wakes ("event:<event>", then "event:*"), worked out
    # here rather than by two lookups and a string per call.
    woken: tuple[str, ...]


def value_signal(c: Any) -> str | None:
    """The one metric a single-metric criterion compares with its target, if it has one."""
    if isinstance(c, Count | FirstTime):
        return f"count:{c.event}"
    if isinstance(c, Sum):
        return f"sum:{c.event}"
    if isinstance(c, TimeOfDay):
        return f"tod:{c.metric}"
    if isinstance(c, Level):
        return "level"
    if isinstance(c, TotalXP):
        return "xp"
    if isinstance(c, PointsEarned):
        return f"points:{c.currency}"
    if isinstance(c, AchievementCount):
        return "achievements"
    if isinstance(c, Streak) and not c.events:
        return "streak"  # the engine's streak, freezes and rest days included
    return None


def target_of(c: Any) -> int:
    """What ``measure`` must reach: met children for all/any, members for a collection."""
    if isinstance(c, Collection):
        return len(c.keys)
    if isinstance(c, AllOf):
        return len(c.criteria)
    if isinstance(c, AnyOf):
        return 1
    return int(c.target or 1)


def signals_of(c: Any) -> set[str]:
    """Every signal that can change whether ``c`` is met."""
    if isinstance(c, AllOf | AnyOf):
        return set().union(*(signals_of(inner) for inner in c.criteria))
    single = value_signal(c)
    if single is not None:
        return {single}
    if isinstance(c, Max | Window):
        return {f"event:{c.event}"}
    if isinstance(c, Collection):
        return {"achievements"}
    if isinstance(c, Streak):
        # A run of an event's days can only grow on its first occurrence of a local day.
        return {f"day:{e}" for e in c.events}
    if isinstance(c, Custom):
        return {f"event:{e}" for e in c.events} if c.events else {ANY_EVENT}
    raise AssertionError(f"no signals for {c!r}")


@attrs.frozen
class Entry:
    """One achievement as evaluation sees it.

    Unlock rows keep a tier by its number (``achievement_tiers``), not by its place in the
    list: ``targets`` are the current tiers' targets in order, ``tiers`` their numbers, and
    ``tier_names`` names every number the achievement ever had, so removed tiers that were
    earned stay earned. An achievement without tiers has the one number 0.
    """

    definition: Definition
    version: int
    retired: bool
    targets: tuple[int, ...]
    tier_names: Mapping[int, str | None]
    fast: bool
    tiers: tuple[int, ...] = (0,)
    # The status fields that come from the definition alone (AchievementStatus's first
    # seven), gathered once here: a status is built on every track() with a next badge.
    shown: tuple[str, str, str, str, str, str, bool] = attrs.field(init=False)

    # The statuses of the untouched achievement (nothing of it earned) by its measured int
    # value, which is all they depend on then: users at the same count share one, as a
    # status is immutable. Bounded (``UNTOUCHED``); a new catalogue starts with none.
    untouched: dict[float, AchievementStatus] = attrs.field(
        init=False, factory=dict, eq=False, repr=False
    )

    @shown.default
    def _shown(self) -> tuple[str, str, str, str, str, str, bool]:
        a = self.definition
        return (a.key, a.name, a.description, a.icon, a.category, a.rarity, a.hidden)

    @property
    def key(self) -> str:
        return self.definition.key

    @classmethod
    def build(
        cls,
        definition: Definition,
        version: int,
        retired: bool,
        numbers: Mapping[str, int] | None = None,
    ) -> Entry:
        c = definition.criteria
        tiers: tuple[int, ...] = (0,)
        if definition.tiers:
            targets = tuple(t.target for t in definition.tiers)
            known = dict(numbers or {})
            for t in definition.tiers:  # numbered as the loader numbers them, if it has not
                known.setdefault(t.name, max(known.values(), default=-1) + 1)
            tiers = tuple(known[t.name] for t in definition.tiers)
            names: dict[int, str | None] = {number: name for name, number in known.items()}
        else:
            targets, names = (target_of(c),), {0: None}
        fast = (
            value_signal(c) is not None
            and not definition.prerequisites
            and definition.available_from is None
            and definition.available_until is None
            and definition.repeatable is None
        )
        return cls(definition, version, retired, targets, names, fast, tiers)


class Catalogue:
    """Active achievements and rules, indexed by signal; rebuilt whenever definitions load."""

    def __init__(
        self,
        achievements: Iterable[tuple[Definition, int, bool]] = (),
        rules: Iterable[RuleDefinition] = (),
        quests: Iterable[tuple[Quest, int, bool]] = (),
        tier_numbers: Mapping[str, Mapping[str, int]] | None = None,
    ) -> None:
        self.entries: dict[str, Entry] = {}
        # key -> (quest, version, retired); event -> live quests with an objective on it
        self.quests: dict[str, tuple[Quest, int, bool]] = {}
        self.quests_by_event: dict[str, list[Quest]] = defaultdict(list)
        self.streak_quests: list[Quest] = []
        for quest, version, retired in quests:
            self.quests[quest.key] = (quest, version, retired)
            if retired:
                continue
            for event in dict.fromkeys(o.event for o in quest.objectives if o.event):
                self.quests_by_event[event].append(quest)
            if any(o.type == "streak" for o in quest.objectives):
                self.streak_quests.append(quest)
        self.rules: dict[str, RuleDefinition] = {r.event: r for r in rules}
        # signal -> sorted targets, and the (key, tier) each target belongs to
        self._targets: dict[str, list[int]] = {}
        self._owners: dict[str, list[tuple[str, int]]] = {}
        self._woken: dict[str, list[str]] = defaultdict(list)
        self.time_of_day: dict[str, list[TimeOfDay]] = defaultdict(list)
        fast: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
        for definition, version, retired in achievements:
            numbers = (tier_numbers or {}).get(definition.key)
            entry = Entry.build(definition, version, retired, numbers)
            self.entries[entry.key] = entry
            if retired:
                continue
            for tod in _time_of_day(definition.criteria):
                if tod not in self.time_of_day[tod.event]:
                    self.time_of_day[tod.event].append(tod)
            if entry.fast:
                signal = value_signal(definition.criteria)
                assert signal is not None
                for tier, target in zip(entry.tiers, entry.targets, strict=True):
                    fast[signal].append((target, entry.key, tier))
            else:
                for signal in sorted(signals_of(definition.criteria)):
                    self._woken[signal].append(entry.key)
                if definition.prerequisites:
                    self._woken["achievements"].append(entry.key)
        for signal, items in fast.items():
            items.sort()
            self._targets[signal] = [t for t, _, _ in items]
            self._owners[signal] = [(k, tier) for _, k, tier in items]
        self.watched = frozenset(self._targets) | frozenset(self._woken)
        self._plans: dict[str, Plan] = {}
        self.digest = hashlib.blake2b(
            repr(sorted((e.key, e.version, e.retired) for e in self.entries.values())).encode()
            + repr(sorted(self.rules)).encode()
            + repr(sorted((k, v, r) for k, (_, v, r) in self.quests.items())).encode(),
            digest_size=8,
        ).hexdigest()

    def plan(self, event: str) -> Plan:
        """What tracking ``event`` involves (cached)."""
        found = self._plans.get(event)
        if found is not None:
            return found
        names = (f"count:{event}", f"sum:{event}", f"day:{event}")
        rule = self.rules.get(event)
        found = Plan(
            *names,
            badges=names[0] in self._targets or names[1] in self._targets,
            time_of_day=tuple(self.time_of_day.get(event, ())),
            quests=event in self.quests_by_event,
            rule=rule,
            pays_xp=rule is not None and rule.xp != 0,
            woken=(*self.woken(f"event:{event}"), *self.woken(ANY_EVENT)),
        )
        if len(self._plans) < _PLANS:
            self._plans[event] = found
        return found

    def crossed(self, signal: str, old: float, new: float) -> list[tuple[str, int]]:
        """Simple achievements whose target lies in ``(old, new]`` for ``signal``."""
        targets = self._targets.get(signal)
        # The usual case, no target within reach, costs two comparisons and no bisect.
        if not targets or new <= old or new < targets[0] or old >= targets[-1]:
            return []
        lo = bisect.bisect_right(targets, old)
        hi = bisect.bisect_right(targets, new)
        return self._owners[signal][lo:hi]

    def next_up(self, signal: str, value: float) -> tuple[list[tuple[str, int]], int]:
        """Simple achievements on ``signal`` still ahead of ``value``, nearest first: the
        owners by target and where those ahead start (no copy of the rest: a call usually
        looks at the first only)."""
        targets = self._targets.get(signal)
        if not targets:
            return _NONE_AHEAD
        return self._owners[signal], bisect.bisect_right(targets, value)

    def woken(self, signal: str) -> list[str]:
        return self._woken.get(signal, [])

    def active(self) -> list[Entry]:
        return [e for e in self.entries.values() if not e.retired]


def _time_of_day(c: Any) -> Iterator[TimeOfDay]:
    if isinstance(c, TimeOfDay):
        yield c
    elif isinstance(c, AllOf | AnyOf):
        for inner in c.criteria:
            yield from _time_of_day(inner)
