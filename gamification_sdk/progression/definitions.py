"""Achievements and event rules declared as data, loaded strictly with cattrs.

A definition set is a mapping of lists, ``rules``, ``achievements``, ``quests`` and ``shop``
(TOML, JSON or a Python dict). ``load_set`` checks it as a whole: every problem is listed with
its path, and nothing is loaded unless the whole set is sound.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ..config.convert import _Expected, converter
from ..economy.shop_items import ShopItem

__all__ = [
    "RARITIES",
    "Achievement",
    "Criterion",
    "DefinitionSet",
    "Objective",
    "Quest",
    "Repeatable",
    "Rewards",
    "Rule",
    "ShopItem",
    "Tier",
]

Rarity = Literal["common", "uncommon", "rare", "epic", "legendary", "mythic"]
RARITIES: tuple[str, ...] = ("common", "uncommon", "rare", "epic", "legendary", "mythic")
Stat = Literal["count", "sum", "max"]
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_TARGET = 2**53


def _tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(value or ())


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


# -- criteria -------------------------------------------------------------------------------
# Each criterion measures one number for a user ("current") and compares it to a target.
# Threshold kinds watch a single metric, so tiers and fast crossing checks apply to them.


@attrs.frozen
class Count:
    """``event`` happened at least ``target`` times."""

    event: str
    target: int | None = None
    type: Literal["count"] = "count"


@attrs.frozen
class Sum:
    """The values of ``event`` add up to at least ``target``."""

    event: str
    target: int | None = None
    type: Literal["sum"] = "sum"


@attrs.frozen
class Max:
    """A single ``event`` carried a value of at least ``target``."""

    event: str
    target: int | None = None
    type: Literal["max"] = "max"


@attrs.frozen
class FirstTime:
    """``event`` happened once."""

    event: str
    type: Literal["first_time"] = "first_time"
    target: int | None = 1


@attrs.frozen
class Level:
    """The user reached level ``target``."""

    target: int | None = None
    type: Literal["level"] = "level"


@attrs.frozen
class TotalXP:
    """The user's lifetime XP is at least ``target``."""

    target: int | None = None
    type: Literal["total_xp"] = "total_xp"


@attrs.frozen
class Streak:
    """The user's longest daily streak is at least ``target`` days.

    Without ``events``: the engine's streak (docs/guides/streaks.md), where rest days and
    freezes keep a streak alive. With ``events``: the longest run of consecutive local days
    on which one of them happened."""

    target: int | None = None
    events: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    type: Literal["streak"] = "streak"


@attrs.frozen
class PointsEarned:
    """Lifetime ``currency`` earned (never reduced by spending) is at least ``target``."""

    currency: str
    target: int | None = None
    type: Literal["points_earned"] = "points_earned"


@attrs.frozen
class AchievementCount:
    """The user holds at least ``target`` achievements."""

    target: int | None = None
    type: Literal["achievements"] = "achievements"


@attrs.frozen
class Collection:
    """Every achievement in ``keys`` is unlocked."""

    keys: tuple[str, ...] = attrs.field(converter=_tuple)
    type: Literal["collection"] = "collection"
    target: int | None = None


@attrs.frozen
class Window:
    """``target`` (count or sum) of ``event`` within the last ``days`` local days, or within
    the current calendar ``period`` (day, week, month) of the user's time zone."""

    event: str
    target: int | None = None
    days: int | None = None
    period: Literal["day", "week", "month"] | None = None
    stat: Literal["count", "sum"] = "count"
    type: Literal["window"] = "window"


@attrs.frozen
class TimeOfDay:
    """``target`` of ``event`` at a local time from ``start`` to before ``end`` (may wrap)."""

    event: str
    start: str
    end: str
    target: int | None = None
    type: Literal["time_of_day"] = "time_of_day"

    @property
    def metric(self) -> str:
        return f"{self.event}@{self.start}-{self.end}"


@attrs.frozen
class Custom:
    """A plugin's evaluator (``register_criteria``) measures ``current``; ``events`` wake it."""

    name: str
    target: int | None = 1
    events: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    params: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    type: Literal["custom"] = "custom"


@attrs.frozen
class AllOf:
    """Every one of ``criteria`` is met."""

    criteria: tuple[Criterion, ...] = attrs.field(converter=_tuple)
    type: Literal["all"] = "all"
    target: int | None = None


@attrs.frozen
class AnyOf:
    """At least one of ``criteria`` is met."""

    criteria: tuple[Criterion, ...] = attrs.field(converter=_tuple)
    type: Literal["any"] = "any"
    target: int | None = None


Criterion = (
    Count | Sum | Max | FirstTime | Level | TotalXP | Streak | PointsEarned | AchievementCount
    | Collection | Window | TimeOfDay | Custom | AllOf | AnyOf
)  # fmt: skip
CRITERIA: dict[str, type[Any]] = {
    str(attrs.fields(cls).type.default): cls
    for cls in (
        Count, Sum, Max, FirstTime, Level, TotalXP, Streak, PointsEarned, AchievementCount,
        Collection, Window, TimeOfDay, Custom, AllOf, AnyOf,
    )
}  # fmt: skip


def _structure_criterion(data: object, _: object) -> Any:
    if not isinstance(data, Mapping):
        raise _Expected(f"expected a table with a 'type', got {type(data).__name__}")
    kind = data.get("type")
    cls = CRITERIA.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise _Expected(f"unknown criteria type {kind!r}; expected one of {', '.join(CRITERIA)}")
    return converter.structure(dict(data), cls)


converter.register_structure_hook_func(lambda t: t == Criterion, _structure_criterion)


# -- rewards and achievements ---------------------------------------------------------------


@attrs.frozen
class Rewards:
    """What an unlock pays: XP (times the rarity multiplier), points, a title, items."""

    xp: int = 0
    points: dict[str, int] = attrs.field(factory=dict, converter=_dict)
    title: str | None = None
    items: dict[str, int] = attrs.field(factory=dict, converter=_dict)

    @property
    def empty(self) -> bool:
        return not (self.xp or self.points or self.title or self.items)


@attrs.frozen
class Tier:
    """One step of a tiered achievement: its own target and reward."""

    name: str
    target: int
    rewards: Rewards = attrs.field(factory=Rewards)


@attrs.frozen
class Repeatable:
    """How often an achievement may unlock again: at most ``max`` times, ``cooldown_days`` apart."""

    max: int | None = None
    cooldown_days: float = 0.0


@attrs.frozen
class Achievement:
    key: str
    name: str
    criteria: Criterion
    description: str = ""
    icon: str = ""
    category: str = "general"
    rarity: Rarity = "common"
    rewards: Rewards = attrs.field(factory=Rewards)
    hidden: bool = False
    prerequisites: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    available_from: datetime | None = None
    available_until: datetime | None = None
    repeatable: Repeatable | None = None
    tiers: tuple[Tier, ...] = attrs.field(default=(), converter=_tuple)
    order: int = 0


@attrs.frozen
class Rule:
    """XP and points for an event, from the rules and never from the caller.

    ``daily_limit`` caps how many occurrences per local day earn the reward (the event still
    counts toward achievements).
    """

    event: str
    xp: int = 0
    points: dict[str, int] = attrs.field(factory=dict, converter=_dict)
    daily_limit: int | None = None


# -- quests ---------------------------------------------------------------------------------

Difficulty = Literal["easy", "medium", "hard", "legendary"]
Recurrence = Literal["daily", "weekly", "monthly", "one_time", "event"]


@attrs.frozen
class Objective:
    """One thing a quest asks for within its period.

    ``count``: ``event`` happens ``target`` times; ``sum``: its values add up to ``target``
    (minutes, glasses, kilometres); ``streak``: the user's streak reaches ``target`` days.
    ``filters`` must all equal the event's metadata fields (``{workout_type = "cardio"}``).
    """

    target: int
    type: Literal["count", "sum", "streak"] = "count"
    event: str | None = None
    filters: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    description: str = ""


@attrs.frozen
class Quest:
    """A recurring quest or challenge (seed 002's challenges, seed 003's quests).

    Its progress restarts each period (``recurrence``, starting at ``reset_time`` local, by
    default the engine's day start). ``logic`` combines objectives: ``all``, ``any``, or
    ``sequence`` (all, each counting only once the ones before it are done). ``after`` chains
    quests: this one opens once that one was completed. ``verification``: progress alone does
    not complete it; ``quests.complete`` does, if the ``verify_quest`` hook (or, with no
    plugin answering, the objectives) agree.
    """

    key: str
    name: str
    objectives: tuple[Objective, ...] = attrs.field(default=(), converter=_tuple)
    description: str = ""
    category: str = "general"
    difficulty: Difficulty = "easy"
    recurrence: Recurrence = "daily"
    reset_time: str | None = None
    rewards: Rewards = attrs.field(factory=Rewards)
    logic: Literal["all", "any", "sequence"] = "all"
    min_level: int = 1
    requires_achievement: str | None = None
    after: str | None = None
    max_completions: int = 1
    available_from: datetime | None = None
    available_until: datetime | None = None
    verification: bool = False
    order: int = 0


@attrs.frozen
class DefinitionSet:
    rules: tuple[Rule, ...] = attrs.field(default=(), converter=_tuple)
    achievements: tuple[Achievement, ...] = attrs.field(default=(), converter=_tuple)
    quests: tuple[Quest, ...] = attrs.field(default=(), converter=_tuple)
    shop: tuple[ShopItem, ...] = attrs.field(default=(), converter=_tuple)


_SECTIONS = {"rules": Rule, "achievements": Achievement, "quests": Quest, "shop": ShopItem}

# -- checking -------------------------------------------------------------------------------


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)


def structure_achievement(data: Mapping[str, Any]) -> Achievement:
    return converter.structure(dict(data), Achievement)


def structure_rule(data: Mapping[str, Any]) -> Rule:
    return converter.structure(dict(data), Rule)


def structure_quest(data: Mapping[str, Any]) -> Quest:
    return converter.structure(dict(data), Quest)
