"""The fitness pack (seed 002): loads cleanly, is found by its entry point, pays as seeded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points

import gamification_sdk_fitness as pack
import pytest

from gamification_sdk import Config, FakeClock, Gamification
from gamification_sdk.models import TrackResult

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def g(clock: FakeClock) -> Iterator[Gamification]:
    # The default Config has the one currency this pack pays in: points.
    config = Config(packs=("fitness",))
    with Gamification.open(
        ":memory:", config=config, clock=clock, plugins=[pack], load_entrypoints=False
    ) as e:
        yield e


def keys(result: TrackResult) -> set[str]:
    return {u.key for u in result.unlocked}


def test_pack_loads_cleanly_and_a_reload_changes_nothing(g: Gamification) -> None:
    listed = g.achievements.list("ada", include_hidden=True)
    assert [a.key for a in listed] == [
        "first_steps", "workout_legend", "challenge_champion", "week_warrior", "year_streak",
        "lucky_13", "level_50_club", "recruiter",
    ]  # fmt: skip
    report = g.events.load(pack.DEFINITIONS, name=pack.NAME)
    assert (report.added, report.updated, report.retired) == ((), (), ())
    assert len(report.unchanged) == 8 + 4


def test_pack_is_found_through_its_entry_point() -> None:
    found = [ep for ep in entry_points(group="gamification_sdk") if ep.name == "fitness"]
    assert [ep.value for ep in found] == ["gamification_sdk_fitness"]
    assert found[0].load() is pack


def test_a_member_unlocks_as_seeded(g: Gamification, clock: FakeClock) -> None:
    # A workout earns 150 XP (the rule); the first one unlocks First Steps (50 points).
    first = g.track("ada", "workout_completed")
    assert first.xp is not None and first.xp.amount == 150
    assert [(u.key, u.xp, u.points) for u in first.unlocked] == [("first_steps", 0, {"points": 50})]

    # Workouts on days 1-3 and 5, a rest day on day 4, nothing on day 6, a workout on day 7:
    # the longest streak is 5. A streak freeze spent on day 6 joins them: Week Warrior.
    for _ in range(2):
        clock.advance(days=1)
        g.track("ada", "workout_completed")
    clock.advance(days=1)
    assert keys(g.track("ada", "rest_day")) == set()
    clock.advance(days=1)
    g.track("ada", "workout_completed")
    clock.advance(days=2)
    assert keys(g.track("ada", "workout_completed")) == set()
    assert g.achievements.get("ada", "week_warrior").current == 5
    freeze = g.track("ada", "streak_freeze_used", at=clock() - timedelta(days=1))
    assert [(u.key, u.points) for u in freeze.unlocked] == [("week_warrior", {"points": 100})]
    assert g.profile("ada").xp == 5 * 150

    # Level 13 (14,400 XP on the default curve): Lucky 13.
    assert g.award_xp("ada", 14_400 - 750, source="migration").new_level == 13
    assert g.achievements.get("ada", "lucky_13").unlocked

    # Referrals: each signup pays the referrer 500 points; the milestones are tiers.
    tiers = []
    for _ in range(10):
        result = g.track("ada", "referral_signed_up")
        assert result.points[0].amount == 500
        tiers += [(u.tier, u.points, u.items) for u in result.unlocked]
    assert tiers == [
        ("bronze", {"points": 500}, {}),
        ("silver", {"points": 3000}, {}),
        ("gold", {"points": 8000}, {"golden_border": 1}),
    ]
    assert g.achievements.get("ada", "recruiter").next_tier == "platinum"
    assert g.track("ada", "referral_converted").points[0].amount == 2000
    assert g.track("bob", "joined_with_referral").points[0].amount == 500

    # The hundredth workout: 100 Workout Legend, 5,000 points and the title.
    for _ in range(94):
        assert keys(g.track("ada", "workout_completed")) == set()
    legend = g.track("ada", "workout_completed")
    assert [(u.key, u.rarity, u.points, u.title) for u in legend.unlocked] == [
        ("workout_legend", "legendary", {"points": 5000}, "Legendary Warrior")
    ]
    inventory = g.users.inventory("ada")
    assert "Legendary Warrior" in inventory.titles and inventory.items == {"golden_border": 1}

    earned = {a.key for a in g.achievements.list("ada") if a.unlocked}
    assert earned == {"first_steps", "week_warrior", "lucky_13", "recruiter", "workout_legend"}
    assert g.profile("ada").xp == 14_400 + 95 * 150
    assert g.balance("ada", "points") == (
        50 + 100 + 100 + 10 * 500 + 500 + 3000 + 8000 + 2000 + 5000
    )
    assert g.balance("bob", "points") == 500
    assert not g.verify_ledger()
