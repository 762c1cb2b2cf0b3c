"""What the engine's live definitions let a simulated user do: events, their mix, the shop.

The simulator reads the definitions the engine actually loaded (the default catalogue, a
``--definitions`` file, ``Config.packs``), so it drives the same events the configured rules,
quests and achievements watch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ..config import Config
from ..core.validation import check_text
from ..economy.shop_items import ShopItem, structure_shop_item
from ..engine import Gamification
from ..errors import InvalidInput
from ..progression.definitions import (
    Achievement,
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
    Streak,
    Sum,
    TimeOfDay,
    TotalXP,
    Window,
    structure_achievement,
    structure_quest,
    structure_rule,
)
from ..storage.simulator import LIVE_DEFINITIONS

__all__ = ["EventMix", "Plan", "read_plan"]

# An event no rule pays and only a one-off achievement watches (a post got featured, an account
# was verified) is a rare fact; one that achievements count up to 10 or more, or that a quest
# asks for, is a repeated action. Relative to a rule-paid action of reward 1.
RARE_WEIGHT = 0.02
REPEATED_WEIGHT = 0.3
REPEATED_TARGET = 10


@attrs.frozen
class EventMix:
    """The events tracked during sessions, each with a base weight and a reward size."""

    events: tuple[str, ...]
    weights: tuple[float, ...]
    rewards: tuple[float, ...]
    explicit: bool = False

    def weights_for(self, cheap_bias: float) -> list[float]:
        """Weights for a profile: an event paying ``r`` weighs ``base * r ** -cheap_bias``."""
        if self.explicit:
            return list(self.weights)
        return [w * r**-cheap_bias for w, r in zip(self.weights, self.rewards, strict=True)]


@attrs.frozen
class Plan:
    """Everything the simulator derives from the configuration and the live definitions."""

    login_events: tuple[str, ...]
    mix: EventMix
    metadata: Mapping[str, tuple[dict[str, Any] | None, ...]]
    shop: tuple[ShopItem, ...]
    achievement_names: Mapping[str, str]
    pays_xp: bool


def _criteria(c: Any) -> Iterator[Any]:
    yield c
    if isinstance(c, AllOf | AnyOf):
        for inner in c.criteria:
            yield from _criteria(inner)


def _watched(c: Any) -> Iterator[tuple[str, int]]:
    """(event, target) pairs a criterion counts; achievement-wide criteria give none."""
    for part in _criteria(c):
        if isinstance(part, Count | Sum | Max | Window | TimeOfDay):
            yield part.event, part.target or 1
        elif isinstance(part, FirstTime):
            yield part.event, 1
        elif isinstance(part, Streak | Custom):
            for event in part.events:
                yield event, part.target or 1
        elif not isinstance(
            part, Level | TotalXP | PointsEarned | AchievementCount | Collection | AllOf | AnyOf
        ):
            raise TypeError(f"unknown criterion {part!r}")


def read_plan(g: Gamification, config: Config, events: Mapping[str, float] | None = None) -> Plan:
    """Derive the plan from the engine's live definitions; ``events`` replaces the mix."""
    rules = []
    achievements = []
    quests = []
    shop = []
    rows = g.db.execute(LIVE_DEFINITIONS).fetchall()
    for kind, body in rows:
        data = json.loads(body)
        if kind == "rule":
            rules.append(structure_rule(data))
        elif kind == "achievement":
            achievements.append(structure_achievement(data))
        elif kind == "quest":
            quests.append(structure_quest(data))
        elif kind == "shop":
            shop.append(structure_shop_item(data))
    rewards = {r.event: r.xp + sum(r.points.values()) for r in rules}
    login = tuple(sorted(r.event for r in rules if r.daily_limit == 1))
    largest: dict[str, int] = {}
    for a in achievements:
        for event, target in _watched(a.criteria):
            largest[event] = max(largest.get(event, 0), target)
    filters: dict[str, list[dict[str, Any]]] = {}
    for q in quests:
        for objective in q.objectives:
            if objective.event is None:
                continue
            largest[objective.event] = max(largest.get(objective.event, 0), REPEATED_TARGET)
            if objective.filters and objective.filters not in filters.setdefault(
                objective.event, []
            ):
                filters[objective.event].append(dict(objective.filters))
    if events is not None:
        mix = _explicit_mix(events)
        login = tuple(e for e in login if e not in events)
    else:
        names = sorted((set(rewards) | set(largest)) - set(login))
        mix = EventMix(
            events=tuple(names),
            weights=tuple(_base_weight(e, rewards, largest) for e in names),
            rewards=tuple(float(max(1, rewards.get(e, 1))) for e in names),
        )
    metadata = {e: (None, *filters[e]) for e in sorted(filters)}
    pays_xp = (
        any(r.xp > 0 for r in rules)
        or any(q.rewards.xp > 0 for q in quests)
        or any(_pays_xp(a) and any(_watched(a.criteria)) for a in achievements)
        or config.streaks.bonus_xp_per_day > 0
    )
    return Plan(
        login_events=login,
        mix=mix,
        metadata=metadata,
        shop=tuple(sorted(shop, key=lambda item: (item.order, item.key))),
        achievement_names={a.key: a.name for a in achievements},
        pays_xp=pays_xp,
    )


def _pays_xp(a: Achievement) -> bool:
    return a.rewards.xp > 0 or any(t.rewards.xp > 0 for t in a.tiers)


def _base_weight(event: str, rewards: Mapping[str, int], largest: Mapping[str, int]) -> float:
    if event in rewards:
        return 1.0
    return REPEATED_WEIGHT if largest.get(event, 0) >= REPEATED_TARGET else RARE_WEIGHT


def _explicit_mix(events: Mapping[str, float]) -> EventMix:
    if not events:
        raise InvalidInput("events", "give at least one event with a weight")
    for name, weight in events.items():
        try:
            check_text(name, "event", max_length=100)
        except InvalidInput as exc:
            raise InvalidInput("events", f"{name!r}: {exc.problem}") from None
        if name.startswith("~") or "@" in name:
            raise InvalidInput("events", f"{name!r}: must not start with '~' or contain '@'")
        if (
            not isinstance(weight, int | float)
            or isinstance(weight, bool)
            or not (math.isfinite(weight) and weight > 0)
        ):
            raise InvalidInput("events", f"{name}: expected a weight > 0, got {weight!r}")
    names = tuple(events)
    return EventMix(
        events=names,
        weights=tuple(float(events[e]) for e in names),
        rewards=tuple(1.0 for _ in names),
        explicit=True,
    )
