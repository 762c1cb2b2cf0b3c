"""Events and what they move: unlocks, achievements, quests, notifications, stats, loads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .ledger import Transaction
from .profiles import XPAward, XPEntry

__all__ = [
    "AchievementStatus",
    "DailyActivity",
    "Inventory",
    "LoadReport",
    "Notification",
    "ObjectiveProgress",
    "QuestBoard",
    "QuestCompletion",
    "QuestStatus",
    "ReevaluateReport",
    "ScoredEvent",
    "Stats",
    "TrackResult",
    "Unlock",
]


@attrs.frozen
class Unlock:
    """One achievement unlock: ``tier`` names the tier (None if untiered), ``seq`` counts
    repeats from 1. ``xp`` and ``points`` are what it paid, after the rarity multiplier."""

    user_id: str
    key: str
    name: str
    rarity: str
    tier: str | None
    seq: int
    unlocked_at: datetime
    xp: int
    points: dict[str, int]
    title: str | None
    items: dict[str, int]
    achievement_points: int
    version: int


@attrs.frozen
class AchievementStatus:
    """A user's standing on one achievement: progress toward the next unlock, and unlocks.

    ``current``/``target``/``percent`` describe the next tier (or the repeat in progress);
    once nothing is left to earn, ``percent`` is 100.
    """

    key: str
    name: str
    description: str
    icon: str
    category: str
    rarity: str
    hidden: bool
    current: float
    target: int
    percent: float
    unlocked: bool
    unlocked_at: datetime | None
    times_unlocked: int
    tiers_unlocked: tuple[str, ...]
    next_tier: str | None
    retired: bool = False


@attrs.frozen
class ObjectiveProgress:
    """One objective of a quest in the current period."""

    description: str
    type: str
    event: str | None
    current: float
    target: int
    done: bool


@attrs.frozen
class QuestStatus:
    """A quest as a user sees it now: its rewards, this period's progress, when it expires.

    ``completed`` means no more completions this period (``completions == max_completions``).
    ``expires_at`` is when this period ends (``None`` for a one-time quest).
    """

    key: str
    name: str
    description: str
    category: str
    difficulty: str
    recurrence: str
    xp: int
    points: dict[str, int]
    objectives: tuple[ObjectiveProgress, ...]
    logic: str
    completions: int
    max_completions: int
    completed: bool
    needs_verification: bool
    period_start: datetime | None
    expires_at: datetime | None


@attrs.frozen
class QuestBoard:
    """``quests()``: the quests open to a user, grouped like seed 002's available challenges."""

    daily: tuple[QuestStatus, ...] = ()
    weekly: tuple[QuestStatus, ...] = ()
    monthly: tuple[QuestStatus, ...] = ()
    special: tuple[QuestStatus, ...] = ()


@attrs.frozen
class QuestCompletion:
    """One paid completion: ``seq`` counts completions of the quest within ``period``."""

    user_id: str
    key: str
    name: str
    period: str
    seq: int
    completed_at: datetime
    xp: int
    points: dict[str, int]
    title: str | None = None
    items: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class TrackResult:
    """What one ``track()`` did: the rule's XP and points, unlocks, and progress that moved."""

    user_id: str
    event: str
    value: float
    at: datetime
    xp: XPAward | None
    points: tuple[Transaction, ...]
    unlocked: tuple[Unlock, ...]
    progress: tuple[AchievementStatus, ...]
    rewarded: bool
    idempotency_key: str | None = None
    quests: tuple[QuestCompletion, ...] = ()


@attrs.frozen
class Notification:
    id: int
    user_id: str
    kind: str
    message: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None


@attrs.frozen
class Inventory:
    """Owned titles (with the equipped one) and items with their quantities."""

    user_id: str
    titles: tuple[str, ...]
    equipped_title: str | None
    items: dict[str, int]


@attrs.frozen
class DailyActivity:
    """One local day of a user: XP and points earned, achievements unlocked."""

    date: str
    xp: int
    points: dict[str, int]
    achievements: int


@attrs.frozen
class Stats:
    """``getUserStats``: progression, achievement totals by rarity, recent XP, daily activity."""

    user_id: str
    level: int
    xp: int
    progress: float
    achievements_unlocked: int
    achievements_total: int
    achievement_points: int
    by_rarity: dict[str, int]
    recent_xp: tuple[XPEntry, ...]
    daily: tuple[DailyActivity, ...]
    days_active: int


@attrs.frozen
class LoadReport:
    """What ``events.load`` changed: keys added, updated (version bumped), retired."""

    source: str
    added: tuple[str, ...]
    updated: tuple[str, ...]
    retired: tuple[str, ...]
    unchanged: tuple[str, ...]


@attrs.frozen
class ReevaluateReport:
    """What ``events.reevaluate`` did: users checked and unlocks granted (this run only)."""

    users: int
    unlocked: tuple[Unlock, ...]
    resumed_after: str | None


@attrs.frozen
class ScoredEvent:
    """A tracked event as a custom board's scorer sees it."""

    user_id: str
    event: str
    value: float
    metadata: Any
    at: datetime
