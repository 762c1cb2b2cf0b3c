"""Achievements: every criterion type, tiers, repeats, prerequisites, hooks, reevaluate."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from conftest import unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LevelsConfig,
    errors,
    hookimpl,
)
from gamification_sdk.core.clock import to_text
from gamification_sdk.models import Unlock
from gamification_sdk.storage.schema import migrations

Make = Callable[..., Gamification]
FIXTURE = HealthCheck.function_scoped_fixture
CONFIG = Config(currencies=(CurrencyConfig("points"), CurrencyConfig("gems")))


def ach(key: str, criteria: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"key": key, "name": key.title(), "criteria": criteria, **extra}


def load(g: Gamification, *achievements: dict[str, Any], rules: Any = (), name: str = "t") -> None:
    g.events.load({"achievements": list(achievements), "rules": list(rules)}, name=name)


def keys(unlocks: Any) -> list[str]:
    return [u.key if u.tier is None else f"{u.key}/{u.tier}" for u in unlocks]


@pytest.fixture
def g(make_engine: Make) -> Gamification:
    return make_engine(config=CONFIG)


# -- criteria -------------------------------------------------------------------------------


def test_count_sum_max_and_first_time(g: Gamification) -> None:
    load(
        g,
        ach("first", {"type": "first_time", "event": "run"}),
        ach("three_runs", {"type": "count", "event": "run", "target": 3}),
        ach("marathon", {"type": "sum", "event": "run", "target": 42}),
        ach("long_run", {"type": "max", "event": "run", "target": 21}),
    )
    assert keys(g.track("ada", "run", value=5).unlocked) == ["first"]
    assert keys(g.track("ada", "run", value=21).unlocked) == ["long_run"]
    assert keys(g.track("ada", "run", value=16).unlocked) == ["three_runs", "marathon"]
    assert keys(g.track("ada", "run", value=30).unlocked) == []  # each once


def test_level_total_xp_and_points_earned_unlock_from_direct_awards(g: Gamification) -> None:
    load(
        g,
        ach("lvl3", {"type": "level", "target": 3}, rewards={"points": {"gems": 2}}),
        ach("xp250", {"type": "total_xp", "target": 250}),
        ach("rich", {"type": "points_earned", "currency": "points", "target": 100}),
    )
    g.award_xp("ada", 420, source="quiz")  # level 3 (quadratic: 400 XP)
    g.award_points("ada", 60, currency="points", source="x")
    g.spend_points("ada", 60, currency="points", source="shop")
    assert not g.achievements.get("ada", "rich").unlocked  # spending does not lower "earned"
    g.award_points("ada", 40, currency="points", source="x")
    got = {s.key: s.unlocked for s in g.achievements.list("ada")}
    assert got == {"lvl3": True, "xp250": True, "rich": True}
    assert g.balance("ada", "gems") == 2
    assert not g.verify_ledger()


def test_level_up_bonus_points_count_for_points_earned(make_engine: Make) -> None:
    # Found by the economy simulator: the level-up bonus was paid without telling the
    # points_earned criteria, so "earn 100 points" never unlocked from level bonuses.
    config = Config(levels=LevelsConfig(level_up_bonus={"points": 200}))
    g = make_engine(config=config)
    load(
        g,
        ach("p100", {"type": "points_earned", "currency": "points", "target": 100}),
        ach("p300", {"type": "points_earned", "currency": "points", "target": 300}),
        ach("p500", {"type": "points_earned", "currency": "points", "target": 500}),
        rules=[{"event": "post", "xp": 150}],
    )
    assert keys(g.track("ada", "post").unlocked) == ["p100"]  # level 2: 200 points
    g.award_xp("bob", 450, source="quiz")  # a direct award to level 3: 400 points
    assert {s.key for s in g.achievements.list("bob") if s.unlocked} == {"p100", "p300"}
    g.track("ada", "post")
    assert keys(g.track("ada", "post").unlocked) == ["p300"]  # 450 XP: level 3, 400 points
    assert not g.verify_ledger()


def test_achievement_count_collection_and_all_any(g: Gamification) -> None:
    load(
        g,
        ach("a", {"type": "first_time", "event": "a"}),
        ach("b", {"type": "first_time", "event": "b"}),
        ach("set", {"type": "collection", "keys": ["a", "b"]}),
        ach("two", {"type": "achievements", "target": 2}),
        ach("both", {"type": "all", "criteria": [
            {"type": "count", "event": "a", "target": 2},
            {"type": "count", "event": "b", "target": 1}]}),
        ach("either", {"type": "any", "criteria": [
            {"type": "count", "event": "a", "target": 3},
            {"type": "count", "event": "c", "target": 1}]}),
    )  # fmt: skip
    assert keys(g.track("ada", "a").unlocked) == ["a"]
    assert sorted(keys(g.track("ada", "b").unlocked)) == ["b", "set", "two"]
    assert keys(g.track("ada", "a").unlocked) == ["both"]
    assert keys(g.track("ada", "c").unlocked) == ["either"]
    assert g.achievements.get("ada", "set").percent == 100


def test_rolling_and_calendar_windows(g: Gamification, clock: FakeClock) -> None:
    load(
        g,
        ach("week_streak", {"type": "window", "event": "post", "days": 7, "target": 3}),
        ach("busy_month", {"type": "window", "event": "km", "period": "month", "stat": "sum",
                           "target": 100}),
    )  # fmt: skip
    g.track("ada", "post")
    clock.advance(days=7)  # the first post has left the 7-day window
    g.track("ada", "post")
    assert not g.track("ada", "post").unlocked
    assert keys(g.track("ada", "post").unlocked) == ["week_streak"]
    clock.set(datetime(2026, 3, 31, 12, tzinfo=UTC))
    g.track("ada", "km", value=60)
    clock.set(datetime(2026, 4, 1, 12, tzinfo=UTC))  # a new month starts from zero
    assert not g.track("ada", "km", value=60).unlocked
    assert g.achievements.get("ada", "busy_month").current == 60
    assert keys(g.track("ada", "km", value=40).unlocked) == ["busy_month"]


def test_time_of_day_uses_local_time_and_wraps_midnight(make_engine: Make) -> None:
    g = make_engine(config=Config(default_timezone="Asia/Tokyo"))
    load(g, ach("owl", {"type": "time_of_day", "event": "post", "start": "23:00",
                        "end": "05:00", "target": 2}))  # fmt: skip
    g.track("ada", "post", at=datetime(2026, 3, 2, 14, 30, tzinfo=UTC))  # 23:30 in Tokyo
    g.track("ada", "post", at=datetime(2026, 3, 2, 12, tzinfo=UTC))  # 21:00 local: not night
    assert not g.achievements.get("ada", "owl").unlocked
    result = g.track("ada", "post", at=datetime(2026, 3, 2, 17, 30, tzinfo=UTC))  # 02:30
    assert g.achievements.get("ada", "owl").current == 2
    assert keys(result.unlocked) == ["owl"]


def test_streak_counts_consecutive_local_days(g: Gamification, clock: FakeClock) -> None:
    load(
        g,
        ach("login3", {"type": "streak", "events": ["login"], "target": 3}),
        ach("active2", {"type": "streak", "target": 2}),  # any activity
    )
    g.track("ada", "login")
    assert keys(g.track("ada", "post").unlocked) == []  # same day: no new day, no run
    clock.advance(days=2)  # a gap: the run starts again
    assert keys(g.track("ada", "post").unlocked) == []
    clock.advance(days=1)
    assert keys(g.track("ada", "post").unlocked) == ["active2"]
    g.track("ada", "login")
    clock.advance(days=1)
    g.track("ada", "login")
    assert g.achievements.get("ada", "login3").current == 2
    # A backdated login on March 4th joins the logins of the 5th and 6th into a 3-day run.
    result = g.track("ada", "login", at=datetime(2026, 3, 4, 12, tzinfo=UTC))
    assert keys(result.unlocked) == ["login3"]
    assert g.achievements.get("ada", "login3").current == 3


def test_tiers_pay_each_tier_once(g: Gamification) -> None:
    load(g, ach("writer", {"type": "count", "event": "post"}, rarity="rare", tiers=[
        {"name": "bronze", "target": 2, "rewards": {"xp": 10}},
        {"name": "silver", "target": 4, "rewards": {"points": {"points": 7}}},
        {"name": "gold", "target": 5, "rewards": {"title": "Author"}}]))  # fmt: skip
    got: list[str] = []
    for _ in range(6):
        got += keys(g.track("ada", "post").unlocked)
    assert got == ["writer/bronze", "writer/silver", "writer/gold"]
    assert g.profile("ada").xp == 20  # 10 XP x rare (2)
    assert g.balance("ada", "points") == 7
    assert g.users.inventory("ada").titles == ("Author",)
    status = g.achievements.get("ada", "writer")
    assert status.tiers_unlocked == ("bronze", "silver", "gold") and status.next_tier is None


def test_a_jump_over_several_tiers_pays_all(g: Gamification) -> None:
    load(g, ach("km", {"type": "sum", "event": "run"}, tiers=[
        {"name": "5k", "target": 5}, {"name": "10k", "target": 10}]))  # fmt: skip
    assert keys(g.track("ada", "run", value=12).unlocked) == ["km/5k", "km/10k"]


def writer(*tiers: tuple[str, int]) -> dict[str, Any]:
    """Tier ``name`` pays 2**i gems, i its place in POOL, whatever list it is in."""
    return ach("writer", {"type": "count", "event": "post"}, tiers=[
        {"name": name, "target": target, "rewards": {"points": {"gems": 2 ** POOL.index(name)}}}
        for name, target in tiers])  # fmt: skip


POOL = ("iron", "bronze", "silver", "gold", "platinum")
UNLOCKS = "SELECT key, tier, seq FROM achievement_unlocks ORDER BY key, tier, seq"


def test_a_removed_tier_stays_earned_and_is_not_paid_again(g: Gamification) -> None:
    load(g, writer(("bronze", 2), ("silver", 4), ("gold", 6)))
    for _ in range(4):
        g.track("ada", "post")
    assert g.achievements.get("ada", "writer").tiers_unlocked == ("bronze", "silver")
    rows = g.db.execute(UNLOCKS).fetchall()
    load(g, writer(("bronze", 2), ("gold", 6)))  # silver removed
    status = g.achievements.get("ada", "writer")
    assert (status.tiers_unlocked, status.next_tier, status.target) == (("bronze", "silver"),
                                                                        "gold", 6)  # fmt: skip
    assert status.times_unlocked == 2 and g.events.reevaluate().unlocked == ()
    # A changed list: a new lowest tier, silver back at another target, bronze moved.
    load(g, writer(("iron", 1), ("silver", 3), ("bronze", 5), ("gold", 6)))
    assert keys(g.events.reevaluate().unlocked) == ["writer/iron"]
    status = g.achievements.get("ada", "writer")
    assert status.tiers_unlocked == ("iron", "silver", "bronze")
    assert keys(g.track("ada", "post").unlocked) == []  # 5 posts: bronze was earned at 2
    assert keys(g.track("ada", "post").unlocked) == ["writer/gold"]
    assert g.balance("ada", "gems") == 1 + 2 + 4 + 8  # each tier paid once
    assert len(g.db.execute(UNLOCKS).fetchall()) == len(rows) + 2
    assert keys(g.track("bob", "post").unlocked) == ["writer/iron"]  # new users: the new list


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.lists(st.sampled_from(POOL), unique=True, min_size=1), st.integers(0, 3)),
        max_size=8,
    )
)
def test_earned_tiers_stay_earned_and_paid_once_whatever_the_lists(
    steps: list[tuple[list[str], int]],
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    with Gamification.open(":memory:", clock=clock, config=CONFIG, load_entrypoints=False) as g:
        earned: set[str] = set()
        for names, posts in steps:
            load(g, writer(*((name, 2 * i + 1) for i, name in enumerate(names))))
            for _ in range(posts):
                g.track("ada", "post")
            g.events.reevaluate()
            now = set(g.achievements.get("ada", "writer").tiers_unlocked)
            assert earned <= now  # never lost
            earned = now
        assert g.balance("ada", "gems") == sum(2 ** POOL.index(name) for name in earned)
        counts = g.db.execute("SELECT COUNT(*) FROM achievement_unlocks GROUP BY tier").fetchall()
        assert all(count == 1 for (count,) in counts)


def test_a_file_from_before_tier_numbers_keeps_its_earned_tiers(
    clock: FakeClock, db_path: Path
) -> None:
    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m015_achievement_tier_numbers")
    with Gamification.open(":memory:", config=CONFIG, load_entrypoints=False) as scratch:
        load(scratch, writer(("bronze", 2), ("silver", 4), ("gold", 6)))
        (row,) = scratch.db.execute("SELECT * FROM definitions").fetchall()
    when = to_text(clock())
    db.execute("INSERT INTO definitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(row))
    db.execute("INSERT INTO profiles (user_id, xp, level, created_at, updated_at) "
               "VALUES ('ada', 0, 1, ?, ?)", [when, when])  # fmt: skip
    db.execute("INSERT INTO metrics VALUES ('ada', 'post', 4, 4, 1, 1, ?, ?)", [when, when])
    for tier in (0, 1):  # bronze and silver, by their places in the list
        db.execute("INSERT INTO achievement_unlocks VALUES ('ada', 'writer', ?, 1, 1, 'common', "
                   "10, ?, '{}', 0)", [tier, when])  # fmt: skip
    db.conn.commit()
    db.close()
    with Gamification.open(db_path, clock=clock, config=CONFIG, load_entrypoints=False) as g:
        assert migrations.pending(g.db) == []
        assert g.achievements.get("ada", "writer").tiers_unlocked == ("bronze", "silver")
        view = "SELECT tier FROM unlocked_achievements ORDER BY tier"
        assert g.db.execute(view).fetchall() == [("bronze",), ("silver",)]
        load(g, writer(("bronze", 2), ("gold", 6)))
        assert g.achievements.get("ada", "writer").tiers_unlocked == ("bronze", "silver")
        assert g.events.reevaluate().unlocked == ()
        assert keys(g.track("ada", "post").unlocked) == []  # and track() keeps hours now
        assert g.db.execute("SELECT SUM(count) FROM metric_hours").fetchone() == (1,)


def test_rarity_multiplies_xp_and_gives_achievement_points(make_engine: Make) -> None:
    g = make_engine(config=Config(levels=LevelsConfig(max_level=100)))
    load(g, ach("m", {"type": "first_time", "event": "x"}, rarity="mythic", rewards={"xp": 15}))
    unlock = g.track("ada", "x").unlocked[0]
    assert (unlock.xp, unlock.achievement_points) == (150, 1000)


def test_hidden_ones_show_only_once_unlocked(g: Gamification) -> None:
    load(g, ach("secret", {"type": "first_time", "event": "egg"}, hidden=True),
         ach("open", {"type": "first_time", "event": "post"}))  # fmt: skip
    assert [s.key for s in g.achievements.list("ada")] == ["open"]
    assert [s.key for s in g.achievements.list("ada", include_hidden=True)] == ["open", "secret"]
    with pytest.raises(errors.NotFound):
        g.achievements.get("ada", "secret")
    g.track("ada", "egg")
    assert [s.key for s in g.achievements.list("ada")] == ["open", "secret"]
    assert g.achievements.get("ada", "secret").unlocked


def test_prerequisites_wait_for_their_achievement(g: Gamification) -> None:
    load(
        g,
        ach("basic", {"type": "count", "event": "lesson", "target": 3}),
        ach("advanced", {"type": "count", "event": "quiz", "target": 1}, prerequisites=["basic"]),
    )
    assert not g.track("ada", "quiz").unlocked  # met, but "basic" is missing
    g.track("ada", "lesson")
    g.track("ada", "lesson")
    assert keys(g.track("ada", "lesson").unlocked) == ["basic", "advanced"]


def test_availability_window(g: Gamification, clock: FakeClock) -> None:
    load(g, ach("summer", {"type": "first_time", "event": "post"},
                available_from="2026-06-01T00:00:00+00:00",
                available_until="2026-09-01T00:00:00+00:00"))  # fmt: skip
    assert not g.track("ada", "post").unlocked
    assert keys(g.track("ada", "post", at=datetime(2026, 7, 1, tzinfo=UTC)).unlocked) == ["summer"]
    assert not g.track("bob", "post", at=datetime(2026, 9, 1, tzinfo=UTC)).unlocked


def test_repeatable_with_max_and_cooldown(g: Gamification, clock: FakeClock) -> None:
    load(g, ach("regular", {"type": "count", "event": "login", "target": 2},
                repeatable={"max": 2, "cooldown_days": 1}, rewards={"xp": 1}))  # fmt: skip
    seqs = []
    for _ in range(4):
        for _ in range(3):
            seqs += [u.seq for u in g.track("ada", "login").unlocked]
        clock.advance(days=1)
    assert seqs == [1, 2]
    assert g.achievements.get("ada", "regular").times_unlocked == 2
    assert g.profile("ada").xp == 2


def test_custom_criterion_from_a_plugin(make_engine: Make) -> None:
    calls: list[str] = []

    class Followers:
        @hookimpl
        def register_criteria(self, register: Callable[..., None]) -> None:
            def followers(engine: Gamification, user_id: str, params: dict[str, Any],
                          at: datetime) -> int:  # fmt: skip
                calls.append(user_id)
                return 10 if params["network"] == "big" else 1

            register("followers", followers)

    g = make_engine(plugins=(Followers(),))
    load(g, ach("popular", {"type": "custom", "name": "followers", "target": 5,
                            "events": ["followed"], "params": {"network": "big"}}))  # fmt: skip
    g.track("ada", "posted")
    assert calls == []  # not woken by other events
    assert keys(g.track("ada", "followed").unlocked) == ["popular"]
    with pytest.raises(errors.ConfigError, match="no plugin registered criterion 'nope'"):
        load(g, ach("x", {"type": "custom", "name": "nope"}), name="other")


def test_on_achievement_unlocked_fires_after_commit(make_engine: Make) -> None:
    seen: list[tuple[str, bool]] = []

    class Listener:
        @hookimpl
        def on_achievement_unlocked(self, engine: Gamification, unlock: Unlock) -> None:
            committed = engine.achievements.get(unlock.user_id, unlock.key).unlocked
            seen.append((unlock.key, committed))

    g = make_engine(plugins=(Listener(),))
    load(g, ach("first", {"type": "first_time", "event": "post"}))
    g.track("ada", "post")
    with pytest.raises(RuntimeError), g.batch():
        g.track("bob", "post")
        raise RuntimeError("rolled back: no hook")
    assert seen == [("first", True)]


def test_register_definitions_hook_loads_at_open(make_engine: Make, tmp_path: Path) -> None:
    path = tmp_path / "pack.json"
    path.write_text(json.dumps({"achievements": [ach("p", {"type": "first_time", "event": "x"})]}))

    class Pack:
        @hookimpl
        def register_definitions(self, register: Callable[..., None]) -> None:
            register(path, name="pack")

    db = tmp_path / "game.db"
    ignored = make_engine(db, plugins=(Pack(),))  # offered, not chosen: nothing loads
    assert ignored.achievements.list("ada") == []
    chosen = Config(packs=("pack",))
    ignored.settings.apply(chosen)  # choosing the pack in the stored configuration loads it
    assert keys(ignored.track("ada", "x").unlocked) == ["p"]
    ignored.close()
    again = make_engine(db, plugins=(Pack(),), config=chosen)  # loading again changes nothing
    assert again.db.execute("SELECT version FROM definitions").fetchall() == [(1,)]
    with pytest.raises(errors.ConfigError, match="no installed plugin offers 'other'"):
        make_engine(plugins=(Pack(),), config=Config(packs=("other",)))


def test_notifications_for_unlocks_respect_preferences(g: Gamification) -> None:
    load(
        g,
        ach("a", {"type": "first_time", "event": "a"}),
        ach("b", {"type": "first_time", "event": "b"}),
    )
    g.track("ada", "a")
    g.notifications.set_preferences("ada", achievement_unlocked=False)
    g.track("ada", "b")
    assert [n.data["key"] for n in g.notifications.list("ada")] == ["a"]


# -- exactly once ---------------------------------------------------------------------------


def test_unlocks_and_rewards_are_exactly_once_across_processes(
    make_engine: Make, db_path: Path
) -> None:
    one = make_engine(db_path, config=CONFIG)
    two = make_engine(db_path, config=CONFIG)
    load(one, ach("first", {"type": "count", "event": "post", "target": 1},
                  rewards={"points": {"gems": 3}}))  # fmt: skip
    two.events.refresh()
    assert keys(one.track("ada", "post").unlocked) == ["first"]
    assert two.track("ada", "post").unlocked == ()
    assert two.events.reevaluate().unlocked == ()
    assert two.balance("ada", "gems") == 3
    assert not two.verify_ledger()


@settings(max_examples=30, deadline=None, suppress_health_check=[FIXTURE])
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("track"), st.sampled_from(["a", "b"]), st.integers(0, 5)),
            st.tuples(st.just("xp"), st.integers(1, 300)),
            st.tuples(st.just("reevaluate"), st.just(0)),
        ),
        max_size=25,
    )
)
def test_every_unlock_happens_once_and_pays_once(ops: list[tuple[Any, ...]]) -> None:
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    with Gamification.open(":memory:", clock=clock, config=CONFIG, load_entrypoints=False) as g:
        load(
            g,
            ach("a3", {"type": "count", "event": "a", "target": 3},
                rewards={"points": {"gems": 1}}),
            ach("bsum", {"type": "sum", "event": "b"}, tiers=[
                {"name": "t1", "target": 5, "rewards": {"xp": 7}},
                {"name": "t2", "target": 12, "rewards": {"points": {"gems": 2}}}]),
            ach("lvl2", {"type": "level", "target": 2}, rewards={"points": {"points": 4}}),
            ach("all", {"type": "achievements", "target": 3}, rewards={"points": {"gems": 5}}),
        )  # fmt: skip
        for op in ops:
            if op[0] == "track":
                g.track("ada", op[1], value=op[2])
            elif op[0] == "xp":
                g.award_xp("ada", op[1], source="x")
            else:
                g.events.reevaluate()
            clock.advance(minutes=1)
        rows = g.db.execute(
            "SELECT key, tier, COUNT(*) FROM achievement_unlocks GROUP BY key, tier"
        ).fetchall()
        assert all(count == 1 for _, _, count in rows)
        unlocked = {(k, t) for k, t, _ in rows}
        gems = (
            1 * (("a3", 0) in unlocked)
            + 2 * (("bsum", 1) in unlocked)
            + 5 * (("all", 0) in unlocked)
        )
        assert g.balance("ada", "gems") == gems
        # Whatever the order, the state equals a full evaluation: nothing due is left.
        assert g.events.reevaluate().unlocked == ()
        assert not g.verify_ledger()


# -- reevaluate -----------------------------------------------------------------------------


def test_reevaluate_awards_new_definitions_retroactively(g: Gamification) -> None:
    for user in ("ada", "bob", "cyd"):
        for _ in range({"ada": 5, "bob": 2, "cyd": 0}[user]):
            g.track(user, "post")
    g.track("cyd", "login")
    load(g, ach("five", {"type": "count", "event": "post", "target": 5}, rewards={"xp": 5}),
         ach("two", {"type": "count", "event": "post", "target": 2}))  # fmt: skip
    seen: list[tuple[int, int]] = []
    report = g.events.reevaluate(progress=lambda done, total: seen.append((done, total)), chunk=2)
    assert sorted((u.user_id, u.key) for u in report.unlocked) == [
        ("ada", "five"), ("ada", "two"), ("bob", "two")]  # fmt: skip
    assert seen == [(2, 3), (3, 3)]
    assert g.profile("ada").xp == 5
    assert g.events.reevaluate().unlocked == ()  # exactly once


def paris(make_engine: Make) -> Gamification:
    return make_engine(config=Config(currencies=CONFIG.currencies,
                                     default_timezone="Europe/Paris"))  # fmt: skip


def tod(key: str, start: str, end: str, target: int) -> dict[str, Any]:
    return ach(key, {"type": "time_of_day", "event": "post", "start": start, "end": end,
                     "target": target})  # fmt: skip


def test_a_time_of_day_badge_added_later_counts_the_past_in_local_hours(
    make_engine: Make, clock: FakeClock
) -> None:
    g = paris(make_engine)
    clock.set(datetime(2026, 11, 1, tzinfo=UTC))
    for moment in [
        datetime(2026, 3, 28, 2, 30, tzinfo=UTC),  # 03:30 CET
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 01:30 CET, the night clocks go forward
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 03:30 CEST (02:30 on a fixed +1)
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST, the night clocks go back
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET, the same hour again
    ]:
        g.track("ada", "post", at=moment)
    load(g, tod("three", "03:00", "04:00", 2), tod("two", "02:00", "03:00", 2),
         tod("one", "01:00", "02:00", 2), tod("wide", "01:00", "05:00", 5),
         tod("half", "03:30", "05:00", 1))  # fmt: skip
    assert keys(g.events.reevaluate().unlocked) == ["three", "two", "wide"]
    assert g.achievements.get("ada", "one").current == 1
    # A window that starts within an hour counts only its whole hours from before it existed;
    # from then on it counts to the minute.
    assert g.achievements.get("ada", "half").current == 0
    assert keys(g.track("ada", "post", at=datetime(2026, 10, 31, 2, 45, tzinfo=UTC)).unlocked
                ) == ["half"]  # 03:45 CET  # fmt: skip
    assert g.events.reevaluate().unlocked == ()


def test_a_time_of_day_badge_back_from_retirement_counts_what_it_missed(
    make_engine: Make, clock: FakeClock
) -> None:
    g = paris(make_engine)
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 00:30 in Paris
    load(g, tod("owl", "00:00", "05:00", 3), name="night")
    g.track("ada", "post", at=night)
    load(g, ach("other", {"type": "first_time", "event": "login"}), name="night")  # owl retired
    g.track("ada", "post", at=night)
    g.track("ada", "post", at=night)
    load(g, tod("owl", "00:00", "05:00", 3), name="night")
    assert g.achievements.get("ada", "owl").current == 3
    assert keys(g.events.reevaluate().unlocked) == ["owl"]


def test_windows_added_later_find_the_best_window_of_the_past(
    g: Gamification, clock: FakeClock
) -> None:
    for day in (2, 3, 4, 6, 8):  # March: at most 3 posts within 3 days, 5 in the week of the 2nd
        g.track("ada", "post", at=datetime(2026, 3, day, 12, tzinfo=UTC))
    g.track("ada", "km", value=40, at=datetime(2026, 3, 5, tzinfo=UTC))
    g.track("ada", "km", value=70, at=datetime(2026, 4, 5, tzinfo=UTC))
    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    load(g, ach("three_in_3", {"type": "window", "event": "post", "days": 3, "target": 3}),
         ach("four_in_3", {"type": "window", "event": "post", "days": 3, "target": 4}),
         ach("week", {"type": "window", "event": "post", "period": "week", "target": 4}),
         ach("day2", {"type": "window", "event": "post", "period": "day", "target": 2}),
         ach("month", {"type": "window", "event": "km", "period": "month", "stat": "sum",
                       "target": 70}),
         ach("month2", {"type": "window", "event": "km", "period": "month", "stat": "sum",
                        "target": 100}))  # fmt: skip
    assert sorted(keys(g.events.reevaluate().unlocked)) == ["month", "three_in_3", "week"]
    assert g.achievements.get("ada", "four_in_3").current == 0  # progress: the present window


def test_a_repeatable_badge_added_later_repeats_for_the_past(
    g: Gamification, clock: FakeClock
) -> None:
    for _ in range(25):
        g.track("ada", "post")
    load(g, ach("every10", {"type": "count", "event": "post", "target": 10}, repeatable={}),
         ach("twice", {"type": "count", "event": "post", "target": 5}, repeatable={"max": 2}),
         ach("weekly", {"type": "count", "event": "post", "target": 10},
             repeatable={"cooldown_days": 7}))  # fmt: skip
    found = [(u.key, u.seq) for u in g.events.reevaluate().unlocked]
    assert found == [("every10", 1), ("every10", 2), ("twice", 1), ("twice", 2), ("weekly", 1)]
    status = g.achievements.get("ada", "every10")
    assert (status.times_unlocked, status.current, status.target) == (2, 5, 10)
    assert g.events.reevaluate().unlocked == ()

    def post(times: int) -> list[tuple[str, int]]:
        return [(u.key, u.seq) for _ in range(times) for u in g.track("ada", "post").unlocked]

    assert post(5) == [("every10", 3)]  # at 30, as if it had been there all along
    # A cooldown cannot be judged in the past: weekly repeated once, at 25, a week from now.
    clock.advance(days=7)
    assert post(5) == [("weekly", 2)]


def test_reevaluate_resumes_after_an_interruption(g: Gamification) -> None:
    for i in range(5):
        g.track(f"u{i}", "post")
    load(g, ach("one", {"type": "first_time", "event": "post"}))

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        g.events.reevaluate(progress=stop_after_two, chunk=2)
    report = g.events.reevaluate(chunk=2)
    assert report.resumed_after == "u1"
    assert sorted(u.user_id for u in report.unlocked) == ["u2", "u3", "u4"]
    assert g.db.execute("SELECT COUNT(*) FROM achievement_unlocks").fetchone()[0] == 5
    assert g.db.execute("SELECT COUNT(*) FROM job_state").fetchone()[0] == 0


def test_reevaluate_given_users_only(g: Gamification) -> None:
    g.track("ada", "post")
    g.track("bob", "post")
    load(g, ach("one", {"type": "first_time", "event": "post"}))
    assert [u.user_id for u in g.events.reevaluate(["bob", "nobody"]).unlocked] == ["bob"]
    with pytest.raises(errors.InvalidInput):
        g.events.reevaluate(chunk=0)


# -- reading and bad input ------------------------------------------------------------------


def test_progress_and_the_next_badge(g: Gamification) -> None:
    load(g, ach("p3", {"type": "count", "event": "post", "target": 3}, order=2),
         ach("p10", {"type": "count", "event": "post", "target": 10}, order=1))  # fmt: skip
    result = g.track("ada", "post")
    assert [(p.key, p.current, p.target, p.percent) for p in result.progress] == [
        ("p3", 1, 3, 33.33)]  # fmt: skip
    assert [s.key for s in g.achievements.list("ada")] == ["p10", "p3"]  # by order
    assert g.achievements.list("ada", category="nope") == []


def test_unknown_achievement_key(g: Gamification) -> None:
    with pytest.raises(errors.NotFound):
        g.achievements.get("ada", "nope")


def test_stats_count_by_rarity_and_day(g: Gamification, clock: FakeClock) -> None:
    load(g, ach("e", {"type": "first_time", "event": "x"}, rarity="epic", rewards={"xp": 10}),
         rules=[{"event": "x", "xp": 1, "points": {"points": 2}}])  # fmt: skip
    g.track("ada", "x")
    clock.advance(days=1)
    g.track("ada", "x")
    stats = g.users.stats("ada", days=2)
    assert (stats.achievements_unlocked, stats.achievement_points) == (1, 100)
    assert stats.by_rarity == {"epic": 1} and stats.days_active == 2
    assert [(d.xp, d.points, d.achievements) for d in stats.daily] == [
        (31, {"points": 2}, 1), (1, {"points": 2}, 0)]  # fmt: skip
    with pytest.raises(errors.InvalidInput):
        g.users.stats("ada", days=0)


def test_bad_calls_are_refused_and_change_nothing(g: Gamification) -> None:
    g.track("ada", "post")
    with unchanged(g):
        for call in (
            lambda: g.achievements.list(""),
            lambda: g.achievements.list("ada", include_hidden="yes"),  # type: ignore[arg-type]
            lambda: g.achievements.get("ada", ""),
            lambda: g.events.reevaluate(progress="x"),  # type: ignore[arg-type]
            lambda: g.events.reevaluate(["ada", ""]),
            lambda: g.events.load({"achievements": []}, name=""),
            lambda: g.notifications.mark_read("ada", [-1]),
            lambda: g.notifications.list("ada", limit=0),
        ):
            with pytest.raises(errors.InvalidInput):
                call()
