"""The Sparkle pack (seed 000): loads cleanly, is found by its entry point, and pays as seeded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import entry_points

import gamification_sdk_sparkle as pack
import pytest

from gamification_sdk import Config, CurrencyConfig, FakeClock, Gamification, errors
from gamification_sdk.models import TrackResult

# mypy reads Config.currencies (attrs converter=tuple) as Iterable[_T_co]: an engine typing quirk.
CONFIG = Config(
    currencies=(CurrencyConfig("sparkle"), CurrencyConfig("premium")),
    packs=("sparkle",),
)
START = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # a Monday, 00:30 in UTC (the default zone)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def g(clock: FakeClock) -> Iterator[Gamification]:
    with Gamification.open(
        ":memory:", config=CONFIG, clock=clock, plugins=[pack], load_entrypoints=False
    ) as engine:
        yield engine


def keys(result: TrackResult) -> set[str]:
    return {u.key for u in result.unlocked}


def test_pack_loads_cleanly_and_a_reload_changes_nothing(g: Gamification) -> None:
    listed = g.achievements.list("ada", include_hidden=True)
    assert len(listed) == 33
    assert [a.key for a in listed][:3] == ["first_post", "prolific_writer", "content_creator"]
    assert {a.key for a in listed if a.hidden} == {
        "bug_hunter", "sparkle_superfan", "mod_appreciation",
    }  # fmt: skip
    report = g.events.load(pack.DEFINITIONS, name=pack.NAME)
    assert (report.added, report.updated, report.retired) == ((), (), ())
    assert len(report.unchanged) == 33 + 10
    assert sum(1 for u in report.unchanged if u.startswith("rule:")) == 10


def test_pack_needs_the_sparkle_currency(clock: FakeClock) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        Gamification.open(
            ":memory:", config=Config(packs=("sparkle",)), clock=clock, plugins=[pack],
            load_entrypoints=False,
        )  # fmt: skip
    assert any("sparkle" in p and "unknown currency" in p for p in caught.value.problems)


def test_pack_is_found_through_its_entry_point() -> None:
    found = [ep for ep in entry_points(group="gamification_sdk") if ep.name == "sparkle"]
    assert [ep.value for ep in found] == ["gamification_sdk_sparkle"]
    assert found[0].load() is pack


def test_a_member_unlocks_as_seeded(g: Gamification, clock: FakeClock) -> None:
    # Ten posts after midnight: the rule pays 10 XP each; First Steps at the first post
    # (50 XP, common); Prolific Writer and Night Owl at the tenth (200 x 1.5 each, uncommon).
    first = g.track("ada", "post_created")
    assert keys(first) == {"first_post"}
    assert first.xp is not None and first.xp.amount == 10
    assert [(u.xp, u.points) for u in first.unlocked] == [(50, {})]
    for _ in range(8):
        clock.advance(minutes=10)
        assert keys(g.track("ada", "post_created")) == set()
    tenth = g.track("ada", "post_created")
    assert keys(tenth) == {"prolific_writer", "night_owl"}
    assert {u.xp for u in tenth.unlocked} == {300}
    assert g.profile("ada").xp == 10 * 10 + 50 + 300 + 300

    # Viral Sensation: the largest single post (its reaction total) reaches 1000.
    assert keys(g.track("ada", "post_liked", value=999)) == set()
    viral = g.track("ada", "post_liked", value=1000)
    assert [(u.key, u.rarity, u.xp, u.points) for u in viral.unlocked] == [
        ("viral_sensation", "epic", 3000, {"sparkle": 100})
    ]
    assert viral.xp is None and viral.points == ()  # no rule for post_liked
    assert g.balance("ada", "sparkle") == 100
    assert g.profile("ada").xp == 3750

    # Daily logins pay 10 XP once per local day. Three days, a missed day, then 30 in a row:
    # Streak Master needs 30 consecutive days (750 x 2 XP, 50 sparkle).
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert g.track("ada", "daily_login").rewarded
    again = g.track("ada", "daily_login")
    assert not again.rewarded and again.xp is None
    for _ in range(2):
        clock.advance(days=1)
        g.track("ada", "daily_login")
    clock.advance(days=2)  # 2026-03-05 missed
    for day in range(1, 30):
        assert keys(g.track("ada", "daily_login")) == set(), day
        clock.advance(days=1)
    assert g.achievements.get("ada", "streak_master").current == 29
    streak = g.track("ada", "daily_login")
    assert [(u.key, u.xp, u.points) for u in streak.unlocked] == [
        ("streak_master", 1500, {"sparkle": 50})
    ]
    assert g.achievements.get("ada", "dedication").current == 30
    assert g.profile("ada").xp == 3750 + 33 * 10 + 1500

    # A direct XP award to level 10 (8100 XP on the default curve) unlocks Rising Star.
    award = g.award_xp("ada", 8100 - 5580, source="migration")
    assert award.new_level == 10
    assert g.achievements.get("ada", "level_10").unlocked
    assert not g.achievements.get("ada", "level_25").unlocked
    assert g.profile("ada").xp == 8100 + 100

    # A hidden one stays out of the listing until it is earned.
    assert "mod_appreciation" not in {a.key for a in g.achievements.list("ada")}
    with pytest.raises(errors.NotFound):
        g.achievements.get("ada", "mod_appreciation")
    mod = g.track("ada", "mod_recognition")
    assert [(u.key, u.xp) for u in mod.unlocked] == [("mod_appreciation", 3000)]
    assert "mod_appreciation" in {a.key for a in g.achievements.list("ada")}

    # True Sparkle Fan needs the Sparkle badges as well as ten Sparkle challenges.
    for _ in range(10):
        assert keys(g.track("ada", "sparkle_challenge_completed")) == set()
    assert keys(g.track("ada", "summer_challenges_completed")) == {"summer_sparkle"}
    party = g.track("ada", "anniversary_participation")
    assert [(u.key, u.xp, u.points) for u in party.unlocked] == [
        ("sparkle_anniversary", 3000, {"sparkle": 200})
    ]
    (superfan,) = [a for a in g.achievements.list("ada", include_hidden=True)
                   if a.key == "sparkle_superfan"]  # fmt: skip
    assert (superfan.unlocked, superfan.current, superfan.target) == (False, 1, 2)

    earned = {a.key for a in g.achievements.list("ada", include_hidden=True) if a.unlocked}
    assert earned == {
        "first_post", "prolific_writer", "night_owl", "viral_sensation", "streak_master",
        "level_10", "mod_appreciation", "summer_sparkle", "sparkle_anniversary",
    }  # fmt: skip
    assert g.profile("ada").xp == 8200 + 3000 + 1500 + 3000
    assert g.balance("ada", "sparkle") == 100 + 50 + 200
    assert g.balance("ada", "premium") == 0
    assert not g.verify_ledger()
