"""One small game the reliability tests share: rules, achievements, a quest, a shop, a season.

Every engine of a scenario (the parent's, each child's, the replay's) opens with ``CONFIG``
and a ``FakeClock`` at ``START``, so the same operations in the same order give the same
rows: what the concurrency test's replay relies on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    Season,
    StatusTier,
    StatusTiersConfig,
    TierReward,
    hookimpl,
)

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
USERS = ("u0", "u1", "u2", "u3", "u4", "u5")

SEASON = Season(
    "s1", START - timedelta(days=1), START + timedelta(days=60),
    total_tiers=20, xp_per_tier=100, premium_price=150,
    free_rewards=[TierReward(t, points={"points": 5 * t}) for t in range(1, 21)],
    premium_rewards=[TierReward(t, points={"points": 10}, items={"gem": 1})
                     for t in range(2, 21, 2)],
)  # fmt: skip

# Purchases are not rate-limited: random sequences would hit seed 002's 5 an hour, which
# tests/test_ratelimits.py covers.
CONFIG = Config(
    currencies=(CurrencyConfig("points"), CurrencyConfig("stars", spendable=False)),
    seasons=[SEASON],
    rate_limits={"purchase": None, "quest_complete": None},
    # One status tier no scenario reaches: the hook fault cases award it on purpose.
    tiers=StatusTiersConfig(measure="xp", window_months=12, tiers=(StatusTier("legend", 10**12),)),
    busy_timeout=30,
)

DEFINITIONS: dict[str, Any] = {
    "rules": [
        {"event": "workout", "xp": 40, "points": {"points": 5}},
        {"event": "post", "xp": 10, "points": {"stars": 1}, "daily_limit": 50},
    ],
    "achievements": [
        {"key": "first_workout", "name": "First workout", "rewards": {"points": {"points": 20}},
         "criteria": {"type": "first_time", "event": "workout"}},
        {"key": "regular", "name": "Regular", "criteria": {"type": "count", "event": "workout"},
         "tiers": [{"name": "bronze", "target": 3, "rewards": {"xp": 25}},
                   {"name": "silver", "target": 10, "rewards": {"title": "Regular"}}]},
        {"key": "level_3", "name": "Level 3", "criteria": {"type": "level", "target": 3},
         "rewards": {"points": {"stars": 10}}},
    ],
    "quests": [
        {"key": "checkin", "name": "Check-in", "recurrence": "daily", "verification": True,
         "rewards": {"xp": 30, "points": {"points": 10}},
         "objectives": [{"type": "count", "event": "workout", "target": 1}]},
        {"key": "posts", "name": "Three posts", "recurrence": "daily",
         "rewards": {"points": {"points": 15}},
         "objectives": [{"type": "count", "event": "post", "target": 3}]},
    ],
    "shop": [
        {"key": "hat", "name": "Hat", "kind": "cosmetic", "price": {"points": 30}, "stock": 25},
        {"key": "freeze", "name": "Freeze", "kind": "streak_freeze", "price": {"points": 20}},
        {"key": "boost", "name": "Tier boost", "kind": "tier_boost", "price": {"points": 40}},
    ],
}  # fmt: skip


class Trainer:
    """Approves ``quests.complete`` evidence ``{"ok": true}``; anything else is refused."""

    @hookimpl
    def verify_quest(self, evidence: Any) -> bool:
        return evidence == {"ok": True}


def open_game(
    path: str | Path = ":memory:",
    *,
    config: Config = CONFIG,
    clock: FakeClock | None = None,
    plugins: tuple[object, ...] = (),
    load: bool = True,
    schema: str | None = None,
) -> Gamification:
    """An engine on the scenario: the config, a clock at START, the definitions loaded.
    (``path`` may be a PostgreSQL URL, with ``schema``.)"""
    g = Gamification.open(
        path,
        config=config,
        clock=clock or FakeClock(START),
        plugins=(Trainer(), *plugins),
        load_entrypoints=False,
        schema=schema,
    )
    if load:
        g.events.load(DEFINITIONS, name="reliability")
    return g
