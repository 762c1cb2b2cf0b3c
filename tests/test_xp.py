"""XP awards, profiles, level-up rewards, boosts, prestige and XP history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from conftest import START, unchanged
from hypothesis import given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    FakeClock,
    Gamification,
    LevelReward,
    LevelsConfig,
    errors,
)

Make = Callable[..., Gamification]

REWARDS = Config(
    levels=LevelsConfig(
        level_up_bonus={"points": 200},
        rewards=[LevelReward(level=3, points={"points": 50}, titles=["Rookie"])],
    )
)
SMALL = Config(levels=LevelsConfig(max_level=5, level_up_bonus={"points": 10}))
HOUR = timedelta(hours=1)


# -- award result and profile ----------------------------------------------------------------


def test_award_result_fields(g: Gamification) -> None:
    award = g.award_xp("alice", 150, source="quest")
    assert award.user_id == "alice"
    assert award.base_amount == 150
    assert award.multiplier == 1.0
    assert award.amount == 150
    assert award.total_xp == 150
    assert (award.old_level, award.new_level, award.leveled_up) == (1, 2, True)
    assert award.source == "quest"
    assert award.created_at == START
    assert award.idempotency_key is None
    assert award.id >= 1

    second = g.award_xp("alice", 10, source="quest")
    assert second.id > award.id
    assert (second.total_xp, second.old_level, second.new_level, second.leveled_up) == (
        160,
        2,
        2,
        False,
    )
    assert second.rewards == ()


def test_profile_fields(g: Gamification, clock: FakeClock) -> None:
    g.award_xp("alice", 250, source="quest")
    clock.advance(hours=3)
    g.award_xp("alice", 50, source="quest")
    p = g.profile("alice")
    assert p.user_id == "alice"
    assert p.level == 2
    assert p.xp == 300
    assert p.xp_into_level == 200
    assert p.xp_for_next_level == 300
    assert p.xp_to_next_level == 100
    assert p.progress == pytest.approx(66.67)
    assert p.prestige == 0
    assert p.max_level == 100
    assert p.created_at == START  # the first award, not the latest
    assert p.titles == ()


def test_never_seen_user_reads_level_one_and_zeros(g: Gamification) -> None:
    with unchanged(g):
        p = g.profile("ghost")
    assert p.user_id == "ghost"
    assert (p.level, p.xp, p.xp_into_level, p.progress, p.prestige) == (1, 0, 0, 0.0, 0)
    assert p.xp_for_next_level == p.xp_to_next_level == 100
    assert p.created_at is None
    assert p.titles == ()
    assert all(b.balance == 0 for b in p.balances.values())


def test_unknown_user_when_auto_create_is_off(make_engine: Make) -> None:
    g = make_engine(config=Config(auto_create_profiles=False))
    with unchanged(g):
        with pytest.raises(errors.UnknownUser) as info:
            g.profile("ghost")
        assert info.value.user_id == "ghost"
        with pytest.raises(errors.UnknownUser):
            g.award_xp("ghost", 10, source="quest")
        with pytest.raises(errors.UnknownUser):
            g.award_points("ghost", 10, currency="points", source="quest")
        with pytest.raises(errors.UnknownUser):
            g.xp.add_boost("ghost", 2.0, expires_at=START + HOUR, source="event")
        with pytest.raises(errors.UnknownUser):
            g.xp.prestige("ghost")


# -- level-up rewards ----------------------------------------------------------------------


def test_jump_over_several_levels_pays_each_level_once(make_engine: Make) -> None:
    g = make_engine(config=REWARDS)
    award = g.award_xp("alice", 1000, source="quest")  # level 1 -> 4
    assert (award.old_level, award.new_level) == (1, 4)
    assert [r.level for r in award.rewards] == [2, 3, 4]
    assert [r.points for r in award.rewards] == [{"points": 200}, {"points": 250}, {"points": 200}]
    assert [r.titles for r in award.rewards] == [(), ("Rookie",), ()]
    assert all(len(r.transaction_ids) == 1 for r in award.rewards)

    assert g.balance("alice", "points") == 650
    balance = g.points.balances("alice")["points"]
    assert (balance.balance, balance.available, balance.lifetime_earned) == (650, 650, 650)
    p = g.profile("alice")
    assert p.titles == ("Rookie",)
    assert p.balances["points"].balance == 650

    page = g.history("alice", currency="points")
    assert sorted(t.id for t in page.transactions) == sorted(
        tid for r in award.rewards for tid in r.transaction_ids
    )
    assert {t.source for t in page.transactions} == {"level_up"}
    assert sorted(t.amount for t in page.transactions) == [200, 200, 250]
    assert sorted(t.reference_id for t in page.transactions) == ["2", "3", "4"]

    # Further awards inside level 4 pay nothing more; reaching level 5 pays only level 5.
    assert g.award_xp("alice", 10, source="quest").rewards == ()
    nxt = g.award_xp("alice", 600, source="quest")
    assert [r.level for r in nxt.rewards] == [5]
    assert g.balance("alice", "points") == 850
    assert len(g.history("alice").transactions) == 4
    assert not g.verify_ledger()


def test_level_rewards_paid_step_by_step_equal_one_jump(make_engine: Make) -> None:
    g = make_engine(config=REWARDS)
    g.award_xp("jump", 1000, source="quest")
    for _ in range(10):
        g.award_xp("steps", 100, source="quest")
    assert g.balance("steps", "points") == g.balance("jump", "points") == 650
    assert g.profile("steps").titles == ("Rookie",)


# -- boosts ----------------------------------------------------------------------------------


def test_boost_multiplies_and_expires(g: Gamification, clock: FakeClock) -> None:
    boost = g.xp.add_boost("alice", 1.25, expires_at=START + HOUR, source="weekend")
    assert (boost.user_id, boost.factor, boost.source) == ("alice", 1.25, "weekend")
    assert boost.expires_at == START + HOUR
    award = g.award_xp("alice", 10, source="quest")
    assert (award.base_amount, award.multiplier, award.amount) == (10, 1.25, 13)  # 12.5 -> 13
    clock.advance(minutes=59)
    assert g.award_xp("alice", 10, source="quest").amount == 13
    clock.advance(minutes=1)  # exactly at expires_at: no longer active
    after = g.award_xp("alice", 10, source="quest")
    assert (after.multiplier, after.amount) == (1.0, 10)
    assert g.profile("alice").xp == 36


def test_boost_is_per_user(g: Gamification) -> None:
    g.xp.add_boost("alice", 2.0, expires_at=START + HOUR, source="event")
    assert g.award_xp("bob", 10, source="quest").amount == 10
    assert g.award_xp("alice", 10, source="quest").amount == 20


def test_boosts_multiply_together(g: Gamification, clock: FakeClock) -> None:
    g.xp.add_boost("alice", 2.0, expires_at=START + HOUR, source="a")
    g.xp.add_boost("alice", 1.5, expires_at=START + 2 * HOUR, source="b")
    award = g.award_xp("alice", 100, source="quest")
    assert (award.multiplier, award.amount) == (3.0, 300)
    clock.advance(hours=1)
    award = g.award_xp("alice", 100, source="quest")
    assert (award.multiplier, award.amount) == (1.5, 150)


def test_boost_starting_later(g: Gamification, clock: FakeClock) -> None:
    g.xp.add_boost("alice", 2.0, starts_at=START + HOUR, expires_at=START + 2 * HOUR, source="e")
    assert g.award_xp("alice", 10, source="quest").amount == 10
    clock.advance(hours=1)
    assert g.award_xp("alice", 10, source="quest").amount == 20


def test_boost_product_capped_by_max_multiplier(make_engine: Make) -> None:
    g = make_engine(config=Config(max_xp_multiplier=5.0))
    g.xp.add_boost("alice", 3.0, expires_at=START + HOUR, source="a")
    g.xp.add_boost("alice", 3.0, expires_at=START + HOUR, source="b")
    award = g.award_xp("alice", 10, source="quest")
    assert (award.multiplier, award.amount) == (5.0, 50)
    assert g.xp.history("alice")[0].multiplier == 5.0


def test_boost_above_max_multiplier_is_refused(make_engine: Make) -> None:
    g = make_engine(config=Config(max_xp_multiplier=5.0))
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.xp.add_boost("alice", 5.5, expires_at=START + HOUR, source="a")
    assert info.value.field == "factor"


@pytest.mark.parametrize(
    ("base", "factor", "amount"),
    [
        (10, 1.25, 13),
        (100, 1.15, 115),
        (10, 1.05, 11),
        (1, 1.5, 2),
        (3, 1.5, 5),
        (7, 1.1, 8),
        (100, 1.005, 101),
        (1, 0.5, 1),
        (3, 0.5, 2),
        (1, 0.4, 0),
    ],
)
def test_multiplier_rounds_half_up(g: Gamification, base: int, factor: float, amount: int) -> None:
    g.xp.add_boost("alice", factor, expires_at=START + HOUR, source="event")
    award = g.award_xp("alice", base, source="quest")
    assert award.amount == amount
    assert g.profile("alice").xp == amount
    entry = g.xp.history("alice")[0]
    assert (entry.base_amount, entry.multiplier, entry.amount) == (base, factor, amount)


def test_multiplier_recorded_in_history(g: Gamification, clock: FakeClock) -> None:
    g.award_xp("alice", 10, source="plain")
    g.xp.add_boost("alice", 1.5, expires_at=START + HOUR, source="event")
    g.award_xp("alice", 10, source="boosted")
    history = g.xp.history("alice")
    assert [(e.source, e.multiplier, e.amount) for e in history] == [
        ("boosted", 1.5, 15),
        ("plain", 1.0, 10),
    ]


def test_boost_expiry_must_be_in_the_future(g: Gamification) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.xp.add_boost("alice", 2.0, expires_at=START, source="event")
    assert info.value.field == "expires_at"


@pytest.mark.parametrize("factor", [0, -1.0, float("nan"), float("inf"), "2", True])
def test_bad_boost_factor(g: Gamification, factor: object) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.xp.add_boost("alice", factor, expires_at=START + HOUR, source="event")  # type: ignore[arg-type]
    assert info.value.field == "factor"


# -- prestige --------------------------------------------------------------------------------


def test_prestige_below_max_level_is_unavailable_and_writes_nothing(make_engine: Make) -> None:
    g = make_engine(config=SMALL)
    g.award_xp("alice", 900, source="quest")  # level 4 of 5
    with unchanged(g):
        with pytest.raises(errors.PrestigeUnavailable) as info:
            g.xp.prestige("alice")
        with pytest.raises(errors.PrestigeUnavailable):
            g.xp.prestige("never-seen")
    assert (info.value.level, info.value.max_level) == (4, 5)
    assert g.profile("alice").prestige == 0


def test_prestige_at_max_level(make_engine: Make) -> None:
    g = make_engine(config=SMALL)
    g.award_xp("alice", 1700, source="quest")  # level 5 (max)
    assert g.balance("alice", "points") == 40  # levels 2..5
    p = g.xp.prestige("alice")
    assert (p.level, p.prestige, p.xp, p.xp_into_level) == (1, 1, 1700, 0)
    assert p == g.profile("alice")

    award = g.award_xp("alice", 100, source="quest")
    assert (award.multiplier, award.amount) == (1.1, 110)
    assert (award.old_level, award.new_level, award.total_xp) == (1, 2, 1810)
    # Level 2's reward is paid again in the new prestige.
    assert [r.level for r in award.rewards] == [2]
    assert g.balance("alice", "points") == 50
    profile = g.profile("alice")
    assert (profile.level, profile.xp, profile.xp_into_level) == (2, 1810, 10)
    assert not g.verify_ledger()


def test_second_prestige_stacks_the_boost(make_engine: Make) -> None:
    g = make_engine(config=SMALL)
    g.award_xp("alice", 1600, source="quest")
    g.xp.prestige("alice")
    g.award_xp("alice", 2000, source="quest")
    assert g.profile("alice").level == 5
    assert g.xp.prestige("alice").prestige == 2
    award = g.award_xp("alice", 100, source="quest")
    assert (award.multiplier, award.amount) == (1.2, 120)


def test_prestige_boost_multiplies_with_other_boosts(make_engine: Make) -> None:
    g = make_engine(config=SMALL)
    g.award_xp("alice", 1600, source="quest")
    g.xp.prestige("alice")
    g.xp.add_boost("alice", 2.0, expires_at=START + HOUR, source="event")
    assert g.award_xp("alice", 100, source="quest").amount == 220


def test_prestige_titles_not_duplicated(make_engine: Make) -> None:
    config = Config(
        levels=LevelsConfig(max_level=3, rewards=[LevelReward(level=2, titles=["Climber"])])
    )
    g = make_engine(config=config)
    g.award_xp("alice", 400, source="quest")
    g.xp.prestige("alice")
    g.award_xp("alice", 400, source="quest")
    assert g.profile("alice").titles == ("Climber",)


# -- history ---------------------------------------------------------------------------------


def test_xp_history_newest_first_with_keyset_pagination(g: Gamification) -> None:
    for amount in range(1, 8):
        g.award_xp("alice", amount, source=f"s{amount}", metadata={"n": amount})
    g.award_xp("bob", 100, source="other")
    first = g.xp.history("alice", limit=3)
    assert [e.amount for e in first] == [7, 6, 5]
    assert [e.metadata for e in first] == [{"n": 7}, {"n": 6}, {"n": 5}]
    second = g.xp.history("alice", limit=3, before=first[-1].id)
    assert [e.amount for e in second] == [4, 3, 2]
    third = g.xp.history("alice", limit=3, before=second[-1].id)
    assert [e.amount for e in third] == [1]
    assert g.xp.history("alice", limit=3, before=third[-1].id) == []
    every = g.xp.history("alice")
    assert every == first + second + third
    assert [e.total_xp for e in every] == [28, 21, 15, 10, 6, 3, 1]
    assert all(e.user_id == "alice" for e in every)
    assert g.xp.history("nobody") == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"before": 0}, "before"),
        ({"before": "5"}, "before"),
    ],
)
def test_xp_history_bad_paging(g: Gamification, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(errors.InvalidInput) as info:
        g.xp.history("alice", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_backdated_award_records_created_at(g: Gamification) -> None:
    earlier = datetime(2025, 12, 24, 18, 30, tzinfo=timezone(timedelta(hours=-5)))
    award = g.award_xp("alice", 10, source="import", at=earlier)
    assert award.created_at == earlier
    g.award_xp("alice", 20, source="live")
    history = g.xp.history("alice")
    assert history[0].created_at == START
    assert history[1].created_at == earlier
    assert history[1].created_at == datetime(2025, 12, 24, 23, 30, tzinfo=UTC)
    assert g.profile("alice").created_at == earlier


def test_backdated_award_ignores_boost_active_now(g: Gamification) -> None:
    g.xp.add_boost("alice", 2.0, expires_at=START + HOUR, source="event")
    assert g.award_xp("alice", 10, source="import", at=START - HOUR).amount == 10
    assert g.award_xp("alice", 10, source="live").amount == 20


# -- property: XP log and profile agree ------------------------------------------------------

actions = st.lists(
    st.one_of(
        st.tuples(st.just("award"), st.sampled_from(["a", "b", "c"]), st.integers(1, 3000)),
        st.tuples(
            st.just("boost"),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([0.5, 1.1, 1.25, 1.5, 2.0, 3.0]),
        ),
        st.tuples(st.just("tick"), st.just(""), st.integers(1, 120)),
        st.tuples(st.just("prestige"), st.sampled_from(["a", "b", "c"]), st.just(0)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(steps=actions)
def test_profile_xp_equals_history_sum(steps: list[tuple[str, str, float]]) -> None:
    clock = FakeClock(START)
    config = Config(
        max_xp_multiplier=4.0,
        levels=LevelsConfig(
            max_level=8,
            level_up_bonus={"points": 5},
            rewards=[LevelReward(level=4, points={"points": 20}, titles=["Four"])],
        ),
    )
    with Gamification.open(":memory:", config=config, clock=clock, load_entrypoints=False) as g:
        for kind, user, value in steps:
            if kind == "award":
                g.award_xp(user, int(value), source="prop")
            elif kind == "boost":
                g.xp.add_boost(
                    user, value, expires_at=clock() + 30 * timedelta(minutes=1), source="prop"
                )
            elif kind == "tick":
                clock.advance(minutes=value)
            elif g.profile(user).level == g.profile(user).max_level:
                g.xp.prestige(user)
        for user in "abc":
            p = g.profile(user)
            history = g.xp.history(user, limit=1000)
            assert p.xp == sum(e.amount for e in history)
            if history:
                assert history[0].total_xp == p.xp
            # Each entry's running total is consistent with the one before it.
            for newer, older in pairwise(history):
                assert newer.total_xp == older.total_xp + newer.amount
        assert not g.verify_ledger()


def test_an_award_stores_null_for_no_metadata_key_or_fingerprint(g: Gamification) -> None:
    """The award's statement takes '' for no metadata or key (NULLIF stores NULL: storage/
    xp.py) and its fingerprint as a bytearray: what is stored is what it was with None and
    bytes, on either backend."""
    g.award_xp("ann", 5, source="t")
    g.award_xp("ann", 5, source="t", idempotency_key="k1", metadata={"a": 1})
    rows = g.db.execute(
        "SELECT metadata, idempotency_key, fingerprint FROM xp_awards WHERE user_id = 'ann' "
        "ORDER BY id"
    ).fetchall()
    assert tuple(rows[0]) == (None, None, None)
    metadata, key, fingerprint = rows[1]
    assert (metadata, key) == ('{"a":1}', "k1")
    assert isinstance(fingerprint, bytes) and len(fingerprint) == 16
    # The key still finds the award, and a different call under it is still refused.
    assert g.award_xp("ann", 5, source="t", idempotency_key="k1", metadata={"a": 1}).id == 2
    with pytest.raises(errors.IdempotencyConflict):
        g.award_xp("ann", 6, source="t", idempotency_key="k1")
