"""What the example serves: seed 002's configuration, rules, badges, challenges and shop.

Everything here is data the SDK checks when the engine opens. The battle-pass season is
placed around the moment the engine is opened (its calendar month and the two after), so the
demo server always has a season running and tests pin it with a ``FakeClock``. That suits a
demo database made afresh on each start; a real deployment lists its seasons with fixed
dates, since a season dropped from the configuration is no longer closed by its job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gamification_sdk import (
    Config,
    Gamification,
    LevelsConfig,
    ReferralsConfig,
    Season,
    TierReward,
    hookimpl,
)
from gamification_sdk.models import Order
from gamification_sdk.progression.definitions import ShopItem

__all__ = [
    "ACHIEVEMENTS",
    "CURRENCY",
    "EARN_XP_SOURCES",
    "POINT_REWARDS",
    "ShopService",
    "build_config",
    "definitions",
    "open_engine",
    "season_for",
]

# Seed 002 has one currency: points (1 point = $0.001).
CURRENCY = "points"

# POST /profile/earn-xp takes a `source`; each is a tracked event whose rule (below) decides
# the XP, so the client's `xpAmount` is never trusted (seed 002: "server computes").
EARN_XP_SOURCES = ("workout", "daily_login")

BADGES = "https://cdn.example.com/badges"


def season_for(moment: datetime) -> Season:
    """Seed 002's battle pass: 50 tiers of 500 XP, premium for 30,000 points, running from
    the first of ``moment``'s month (UTC) for three months."""
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    month = start.month + 3
    end = start.replace(year=start.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
    return Season(
        f"shred-{start:%Y-%m}",
        start,
        end,
        name=f"Shred Season {start:%B %Y}",
        number=1,
        free_rewards=[
            TierReward(1, points={CURRENCY: 100}),
            TierReward(5, points={CURRENCY: 200}, items={"protein_sample": 1}),
            TierReward(10, points={CURRENCY: 500}, titles=["Shred Warrior"]),
            TierReward(50, points={CURRENCY: 5000}, titles=["Season Champion"]),
        ],
        premium_rewards=[
            TierReward(1, points={CURRENCY: 300}),
            TierReward(10, points={CURRENCY: 1000}, items={"training_session_voucher": 1}),
            TierReward(50, points={CURRENCY: 10_000}, items={"custom_trophy": 1}),
        ],
    )


def build_config(moment: datetime) -> Config:
    """The engine configuration: seed 002's 200-point level-up bonus, its referral code
    format (``SEAN-SWAN-X7Y2``) and the season around ``moment``. Rate limits, referral
    rewards and milestones, and leaderboard privacy defaults are already seed 002's."""
    return Config(
        levels=LevelsConfig(level_up_bonus={CURRENCY: 200}),
        referrals=ReferralsConfig(code_format="{name}-SWAN-{random}"),
        seasons=(season_for(moment),),
    )


def _badge(key: str, name: str, description: str, category: str, rarity: str, points: int,
           criteria: dict[str, Any], order: int) -> dict[str, Any]:  # fmt: skip
    rewards = {"points": {CURRENCY: points}} if points else {}
    return {"key": key, "name": name, "description": description, "category": category,
            "rarity": rarity, "icon": f"{BADGES}/{key}-v1.png", "rewards": rewards,
            "criteria": criteria, "order": order}  # fmt: skip


ACHIEVEMENTS: tuple[dict[str, Any], ...] = (
    _badge("first_steps", "First Steps", "Complete your first workout", "workout_milestone",
           "common", 50, {"type": "first_time", "event": "workout"}, 1),
    _badge("workout_legend", "100 Workout Legend", "Complete 100 workouts", "workout_milestone",
           "legendary", 5000, {"type": "count", "event": "workout", "target": 100}, 2),
    _badge("week_warrior", "Week Warrior", "Keep your streak going for 7 days", "streak",
           "rare", 100, {"type": "streak", "target": 7}, 3),
    _badge("lucky_13", "Lucky 13", "Reach level 13", "special", "rare", 100,
           {"type": "level", "target": 13}, 4),
    _badge("challenger", "Challenger", "Complete your first challenge", "special", "common", 50,
           {"type": "count", "event": "~quests", "target": 1}, 5),
    _badge("bronze_recruiter", "Bronze Recruiter",
           "A friend you referred made their first purchase", "referral", "rare", 0,
           {"type": "count", "event": "~referrals:converted", "target": 1}, 6),
    # For the player's screens: a tiered badge (progress toward the next tier) and a secret
    # one, shown as "???" until it is unlocked. The tiers pay nothing: the demo's balances
    # stay those of seed 002's badges.
    {**_badge("regular", "Regular", "Workouts, counted in tiers", "workout_milestone",
              "uncommon", 0, {"type": "count", "event": "workout"}, 7),
     "tiers": [{"name": "bronze", "target": 3}, {"name": "silver", "target": 10},
               {"name": "gold", "target": 25}]},
    {**_badge("early_bird", "Early Bird", "Check in for the first time", "special", "epic", 25,
              {"type": "first_time", "event": "daily_login"}, 8), "hidden": True},
)  # fmt: skip

# What each badge pays, for GET /achievements (the SDK's status lists progress, not rewards).
POINT_REWARDS = {a["key"]: a["rewards"].get("points", {}).get(CURRENCY, 0) for a in ACHIEVEMENTS}


def definitions(season: Season) -> dict[str, Any]:
    """Rules, achievements, challenges and shop items, as one definition set."""
    workouts = {"type": "count", "event": "workout"}
    return {
        "rules": [
            # Seed 002's earn-xp example: a workout earns 150 XP.
            {"event": "workout", "xp": 150, "daily_limit": 3},
            {"event": "daily_login", "xp": 10, "daily_limit": 1},
        ],
        "achievements": list(ACHIEVEMENTS),
        # Seed 002's challenges are server-validated by default (server_validation_required):
        # tracked workouts make progress, and POST /challenges/complete pays once the server's
        # own record meets the criteria.
        "quests": [
            {"key": "morning_cardio", "name": "Morning Cardio",
             "description": "Complete 30 minutes of cardio", "category": "workout",
             "difficulty": "medium", "recurrence": "daily", "verification": True,
             "rewards": {"xp": 15},
             "objectives": [{"type": "sum", "event": "workout", "target": 30,
                             "filters": {"workoutType": "cardio"},
                             "description": "minutes of cardio"}]},
            {"key": "five_a_week", "name": "Five a Week",
             "description": "Complete 5 workouts this week", "category": "workout",
             "difficulty": "hard", "recurrence": "weekly", "verification": True,
             "rewards": {"xp": 100, "points": {CURRENCY: 200}},
             "objectives": [{**workouts, "target": 5, "description": "workouts"}]},
            {"key": "streak_master", "name": "Streak Master",
             "description": "Maintain a 7-day streak", "category": "streak",
             "difficulty": "medium", "recurrence": "weekly", "verification": True,
             "rewards": {"xp": 50},
             "objectives": [{"type": "streak", "target": 7, "description": "days in a row"}]},
            {"key": "century_club", "name": "Century Club",
             "description": "Train 1,000 minutes this month", "category": "workout",
             "difficulty": "legendary", "recurrence": "monthly", "verification": True,
             "min_level": 5, "rewards": {"xp": 1000, "points": {CURRENCY: 2000}},
             "objectives": [{"type": "sum", "event": "workout", "target": 1000,
                             "description": "minutes of training"}]},
            {"key": "season_kickoff", "name": "Season Kickoff",
             "description": "Complete 10 workouts this season", "category": "special_event",
             "difficulty": "legendary", "recurrence": "event", "verification": True,
             "available_from": season.starts_at, "available_until": season.ends_at,
             "rewards": {"xp": 500, "points": {CURRENCY: 1000}},
             "objectives": [{**workouts, "target": 10, "description": "workouts"}]},
        ],
        # `category` is seed 002's itemType. External items are delivered by ShopService.
        "shop": [
            {"key": "training_session", "name": "Personal Training Session",
             "kind": "external", "category": "training_session",
             "price": {CURRENCY: 100_000}},
            {"key": "protein_sample", "name": "Protein Sample", "kind": "external",
             "category": "supplement", "price": {CURRENCY: 5_000}, "stock": 100},
            {"key": "swan_tshirt", "name": "SwanStudios T-shirt", "kind": "external",
             "category": "gear", "price": {CURRENCY: 25_000}, "stock": 50,
             "metadata": {"sku": "TS-SWAN-M"}},
            {"key": "streak_freeze", "name": "Streak Freeze", "kind": "streak_freeze",
             "category": "streak", "price": {CURRENCY: 500}, "per_user_limit": 3},
            {"key": "tier_boost", "name": "Tier Boost", "kind": "tier_boost",
             "category": "battle_pass", "price": {CURRENCY: 1_000}},
        ],
    }  # fmt: skip


class ShopService:
    """The shop's order service, called while the buyer's points are held (phase 2 of seed
    002's two-phase purchase). This one keeps orders in memory; a real host calls its shop
    here and returns the shop's order number. ``available = False`` makes it refuse, as a
    shop that is down would: the SDK then releases the hold and charges nothing."""

    def __init__(self) -> None:
        self.available = True
        self.orders: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    @hookimpl
    def fulfill_order(self, order: Order, item: ShopItem) -> str | None:
        if item.kind != "external":
            return None  # not ours: internal items need no order
        if not self.available:
            raise ConnectionError("the shop's order service is unavailable")
        with self._lock:
            self.orders.append((order.user_id, order.item, order.quantity))
            return f"SHOP-{len(self.orders):06d}"


def open_engine(
    path: str | Path,
    *,
    clock: Callable[[], datetime] | None = None,
    shop: ShopService | None = None,
    load_entrypoints: bool = True,
) -> Gamification:
    """Open (creating as needed) the example's engine on ``path`` with its definitions.

    A new file stores the configuration of today's season; reopened later (another month, the
    command line, a second worker), it keeps the configuration it stores (``adopt=True``).
    """
    moment = clock() if clock is not None else datetime.now(UTC)
    engine = Gamification.open(
        path,
        config=build_config(moment),
        adopt=True,
        clock=clock,
        plugins=[shop or ShopService()],
        load_entrypoints=load_entrypoints,
    )
    try:
        engine.events.load(definitions(engine.config.seasons[0]), name="swanstudios")
    except BaseException:
        engine.close()
        raise
    return engine
