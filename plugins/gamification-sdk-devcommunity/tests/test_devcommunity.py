"""The devcommunity pack (seed 004): loads cleanly, is found by its entry point, pays as seeded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import entry_points

import gamification_sdk_devcommunity as pack
import pytest

from gamification_sdk import Config, FakeClock, Gamification
from gamification_sdk.models import TrackResult

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def g(clock: FakeClock) -> Iterator[Gamification]:
    # The default Config has the one currency this pack pays in: points.
    config = Config(packs=("devcommunity",))
    with Gamification.open(
        ":memory:", config=config, clock=clock, plugins=[pack], load_entrypoints=False
    ) as e:
        yield e


def keys(result: TrackResult) -> set[str]:
    return {u.key for u in result.unlocked}


def test_pack_loads_cleanly_and_a_reload_changes_nothing(g: Gamification) -> None:
    listed = g.achievements.list("ada", include_hidden=True)
    assert len(listed) == 20
    assert {a.category for a in listed} == {
        "projects", "battles", "community", "engagement", "milestones",
    }  # fmt: skip
    assert {a.rarity for a in listed} == {"common"} and not any(a.hidden for a in listed)
    report = g.events.load(pack.DEFINITIONS, name=pack.NAME)
    assert (report.added, report.updated, report.retired) == ((), (), ())
    assert len(report.unchanged) == 20  # and no rules: the seed prices no events


def test_pack_is_found_through_its_entry_point() -> None:
    found = [ep for ep in entry_points(group="gamification_sdk") if ep.name == "devcommunity"]
    assert [ep.value for ep in found] == ["gamification_sdk_devcommunity"]
    assert found[0].load() is pack


def test_a_member_unlocks_as_seeded(g: Gamification, clock: FakeClock) -> None:
    # Every achievement pays the seed's default 10 points and no XP.
    first = g.track("ada", "project_created")
    assert [(u.key, u.xp, u.points, u.achievement_points) for u in first.unlocked] == [
        ("first_project", 0, {"points": 10}, 10)
    ]
    assert first.xp is None and first.points == ()  # no rules
    for _ in range(3):
        assert keys(g.track("ada", "project_created")) == set()
    assert keys(g.track("ada", "project_created")) == {"5_projects"}
    assert keys(g.track("ada", "project_published")) == {"first_published"}
    assert keys(g.track("ada", "battle_participated")) == {"first_battle"}
    for _ in range(3):
        g.track("ada", "battle_participated")
    assert keys(g.track("ada", "battle_participated")) == {"5_battles"}
    assert [keys(g.track("ada", "battle_won")) for _ in range(5)] == [set()] * 4 + [{"5_wins"}]
    assert [keys(g.track("ada", "community_help")) for _ in range(5)][-1] == {"help_5"}
    assert g.balance("ada", "points") == 70

    # Logins: three days, a missed day, then seven in a row for Week Streak.
    assert keys(g.track("ada", "daily_login")) == {"first_login"}
    for _ in range(2):
        clock.advance(days=1)
        g.track("ada", "daily_login")
    clock.advance(days=2)
    for _ in range(6):
        assert keys(g.track("ada", "daily_login")) == set()
        clock.advance(days=1)
    assert g.achievements.get("ada", "7_day_streak").current == 6
    assert keys(g.track("ada", "daily_login")) == {"7_day_streak"}
    assert g.balance("ada", "points") == 90

    # The tenth quiz pays 10 points, and they make 100 earned: Point Collector in the same call.
    quizzes = [keys(g.track("ada", "quiz_completed")) for _ in range(10)]
    assert quizzes == [set()] * 9 + [{"10_quizzes", "100_points"}]
    assert g.balance("ada", "points") == 110

    # Points the host awards count toward the milestones too (lifetime earned, not balance).
    g.spend_points("ada", 100, currency="points", source="shop")
    g.award_points("ada", 390, currency="points", source="contest")
    assert g.achievements.get("ada", "500_points").unlocked
    assert not g.achievements.get("ada", "1000_points").unlocked
    assert g.achievements.get("ada", "1000_points").current == 510

    earned = {a.key for a in g.achievements.list("ada") if a.unlocked}
    assert earned == {
        "first_project", "5_projects", "first_published", "first_battle", "5_battles",
        "5_wins", "help_5", "first_login", "7_day_streak", "10_quizzes", "100_points",
        "500_points",
    }  # fmt: skip
    assert g.balance("ada", "points") == 12 * 10 + 390 - 100
    assert g.profile("ada").xp == 0
    assert not g.verify_ledger()
