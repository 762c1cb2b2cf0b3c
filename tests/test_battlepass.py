"""Battle pass: season bounds, tier math, claims, the premium pass, tier boosts, season end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    BattlePass,
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    SchedulerConfig,
    Season,
    TierReward,
    errors,
)
from gamification_sdk.config.leaderboards import BoardConfig, LeaderboardsConfig
from gamification_sdk.progression import battlepass as battlepass_module
from gamification_sdk.runtime.bus import XPAwarded

Make = Callable[..., Gamification]
US = timedelta(microseconds=1)
SPRING_START = datetime(2026, 3, 1, tzinfo=UTC)
SPRING_END = datetime(2026, 4, 1, tzinfo=UTC)
SUMMER_END = datetime(2026, 7, 1, tzinfo=UTC)
FREE = (
    TierReward(1, points={"points": 100}),
    TierReward(2, items={"protein_sample": 1}),
    TierReward(5, titles=["Spring Warrior"]),
    TierReward(10, points={"points": 5000}, achievements=["season_champion"]),
)
PREMIUM = (
    TierReward(1, points={"points": 1000}),
    TierReward(3, items={"training_session": 1}),
    TierReward(10, titles=["Legend"]),
)
SPRING = Season(
    "spring", SPRING_START, SPRING_END, name="Spring Shred 2026", number=1, total_tiers=10,
    xp_per_tier=100, free_rewards=FREE, premium_rewards=PREMIUM,
)  # fmt: skip
SUMMER = Season(
    "summer", SPRING_END, SUMMER_END, name="Summer", number=2, total_tiers=3, xp_per_tier=100,
    free_rewards=[TierReward(1, points={"points": 7})],
)  # fmt: skip
CONFIG = Config(seasons=[SPRING, SUMMER])
CHAMPION = {"achievements": [
    {"key": "season_champion", "name": "Season Champion",
     "criteria": {"type": "count", "event": "crowned", "target": 1}},
]}  # fmt: skip
BOOSTS = {"shop": [
    {"key": "boost", "name": "Tier boost", "kind": "tier_boost", "price": {"points": 10}},
]}  # fmt: skip


@pytest.fixture
def bp(make_engine: Make) -> Gamification:
    g = make_engine(config=CONFIG)
    g.events.load(CHAMPION, name="champion")
    return g


def states(view: BattlePass, track: str = "free") -> list[tuple[int, str]]:
    rewards = view.free_rewards if track == "free" else view.premium_rewards
    return [(r.tier, r.state) for r in rewards]


def progress_rows(g: Gamification) -> list[tuple[Any, ...]]:
    return g.db.execute(
        "SELECT season, user_id, xp FROM battle_pass_progress ORDER BY season, user_id"
    ).fetchall()


# -- configuration --------------------------------------------------------------------------------


def test_seasons_are_one_list_for_boards_and_the_battle_pass() -> None:
    top = Config(seasons=[SPRING])
    nested = Config(leaderboards=LeaderboardsConfig(seasons=[SPRING]))
    assert top == nested
    assert top.seasons == top.leaderboards.seasons == nested.seasons == (SPRING,)
    assert Config.from_dict(top.to_dict()) == top
    assert Config(seasons=[SPRING], leaderboards=LeaderboardsConfig(seasons=[SPRING])) == top
    with pytest.raises(errors.ConfigError) as info:
        Config(seasons=[SPRING], leaderboards=LeaderboardsConfig(seasons=[SUMMER]))
    assert [p.split(":")[0] for p in info.value.problems] == ["seasons"]
    # A season without tier rewards is a leaderboard season only; the seed's defaults stay.
    plain = Season("plain", SPRING_START, SPRING_END)
    assert not plain.battle_pass and SPRING.battle_pass
    assert (plain.total_tiers, plain.xp_per_tier, plain.premium_price) == (50, 500, 30_000)
    assert Config(seasons=[plain, SUMMER]).battle_pass_seasons == (SUMMER,)


def test_a_battle_pass_season_is_also_a_season_board(make_engine: Make) -> None:
    boards = LeaderboardsConfig(
        boards=[BoardConfig("xp", periods=("all_time", "season"))], visibility="public",
        show_on_global=True,
    )  # fmt: skip
    g = make_engine(config=Config(seasons=[SPRING, SUMMER], leaderboards=boards))
    g.award_xp("ann", 120, source="t")
    page = g.boards.get("xp", period="season")
    assert [(e.user_id, e.score) for e in page.entries] == [("ann", 120)]
    assert g.battle_pass.get("ann").tier == 1


def season(**changes: Any) -> dict[str, Any]:
    base = {"key": "s", "starts_at": "2026-03-01T00:00:00+00:00",
            "ends_at": "2026-04-01T00:00:00+00:00",
            "free_rewards": [{"tier": 1, "points": {"points": 10}}]}  # fmt: skip
    return {**base, **changes}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"seasons": [season(total_tiers=0)]}, "seasons[0].total_tiers"),
        ({"seasons": [season(total_tiers=1001)]}, "seasons[0].total_tiers"),
        ({"seasons": [season(xp_per_tier=0)]}, "seasons[0].xp_per_tier"),
        ({"seasons": [season(premium_price=0)]}, "seasons[0].premium_price"),
        ({"seasons": [season(premium_currency="gems")]}, "seasons[0].premium_currency"),
        ({"seasons": [season(name="")]}, "seasons[0].name"),
        ({"seasons": [season(number=0)]}, "seasons[0].number"),
        (
            {
                "seasons": [
                    season(number=1),
                    season(
                        key="t",
                        number=1,
                        starts_at="2026-05-01T00:00:00+00:00",
                        ends_at="2026-06-01T00:00:00+00:00",
                    ),
                ]
            },
            "seasons[1].number",
        ),
        (
            {"seasons": [season(free_rewards=[{"tier": 0, "points": {"points": 1}}])]},
            "seasons[0].free_rewards[0].tier",
        ),
        (
            {"seasons": [season(total_tiers=3, free_rewards=[{"tier": 4, "titles": ["x"]}])]},
            "seasons[0].free_rewards[0].tier",
        ),
        (
            {
                "seasons": [
                    season(
                        premium_rewards=[{"tier": 2, "titles": ["x"]}, {"tier": 2, "titles": ["y"]}]
                    )
                ]
            },
            "seasons[0].premium_rewards[1].tier",
        ),
        (
            {"seasons": [season(free_rewards=[{"tier": 1, "points": {"gems": 1}}])]},
            "seasons[0].free_rewards[0].points['gems']",
        ),
        (
            {"seasons": [season(free_rewards=[{"tier": 1, "items": {"hat": 0}}])]},
            "seasons[0].free_rewards[0].items['hat']",
        ),
        (
            {"seasons": [season(free_rewards=[{"tier": 1, "titles": [""]}])]},
            "seasons[0].free_rewards[0].titles[0]",
        ),
        ({"seasons": [season(free_rewards=[{"tier": 1}])]}, "seasons[0].free_rewards[0]"),
        ({"seasons": [season(), season(key="t")]}, "seasons[1]"),
        (
            {"leaderboards": {"seasons": [season(xp_per_tier=-5)]}},
            "leaderboards.seasons[0].xp_per_tier",
        ),
        ({"seasons": [season(total_tiers="5")]}, "seasons[0].total_tiers"),
    ],
)
def test_config_problems_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config.from_dict(data)
    assert path in [p.split(":")[0] for p in info.value.problems], info.value.problems


def test_premium_currency_must_be_spendable() -> None:
    currencies = [CurrencyConfig("points"), CurrencyConfig("gems", spendable=False)]
    with pytest.raises(errors.ConfigError) as info:
        Config(currencies=currencies, seasons=[attrs.evolve(SPRING, premium_currency="gems")])
    assert info.value.problems == ["seasons[0].premium_currency: 'gems' is not spendable"]
    with pytest.raises(errors.ConfigError) as info:
        Config(currencies=currencies[::-1], seasons=[SPRING])
    assert info.value.field == "seasons[0].premium_currency"
    # A plain season does not sell a pass: the first currency may be unspendable.
    Config(currencies=currencies[::-1], seasons=[Season("plain", SPRING_START, SPRING_END)])


# -- progress: season bounds and tier math --------------------------------------------------------


def test_season_boundaries_walked_with_the_clock(bp: Gamification, clock: FakeClock) -> None:
    clock.set(SPRING_START - US)
    bp.award_xp("ada", 100, source="t")  # before the season: counts for nothing
    with pytest.raises(errors.NoActiveSeason):
        bp.battle_pass.get("ada")
    assert progress_rows(bp) == []
    clock.set(SPRING_START)  # the first instant is in
    bp.award_xp("ada", 40, source="t")
    clock.set(SPRING_END - US)  # the last instant is in
    bp.award_xp("ada", 60, source="t")
    view = bp.battle_pass.get("ada")
    assert (view.season, view.tier, view.season_xp, view.active) == ("spring", 1, 100, True)
    assert (view.name, view.number, view.starts_at, view.ends_at) == (
        "Spring Shred 2026",
        1,
        SPRING_START,
        SPRING_END,
    )
    clock.set(SPRING_END)  # the end is out of spring and the start of summer
    bp.award_xp("ada", 250, source="t")
    assert bp.battle_pass.get("ada", season="spring").season_xp == 100
    summer = bp.battle_pass.get("ada")
    assert (summer.season, summer.season_xp, summer.tier) == ("summer", 250, 2)
    clock.set(SUMMER_END)
    bp.award_xp("ada", 999, source="t")
    with pytest.raises(errors.NoActiveSeason):
        bp.battle_pass.get("ada")
    assert progress_rows(bp) == [("spring", "ada", 100), ("summer", "ada", 250)]
    assert bp.profile("ada").xp == 100 + 100 + 250 + 999  # lifetime XP counts everything


def test_backdated_awards_count_for_the_season_they_name(bp: Gamification) -> None:
    bp.award_xp("ada", 70, source="t", at=SPRING_END - US)
    bp.award_xp("ada", 70, source="t", at=SPRING_START - US)
    bp.award_xp("ada", 30, source="t", at=SPRING_END)
    assert progress_rows(bp) == [("spring", "ada", 70), ("summer", "ada", 30)]


@pytest.mark.parametrize(
    ("xp", "tier", "into", "to_next"),
    [(0, 0, 0, 100), (99, 0, 99, 1), (100, 1, 0, 100), (101, 1, 1, 99), (999, 9, 99, 1),
     (1000, 10, 0, 0), (5000, 10, 0, 0)],
)  # fmt: skip
def test_tier_math_at_exact_boundaries(
    bp: Gamification, xp: int, tier: int, into: int, to_next: int
) -> None:
    if xp:
        bp.award_xp("ada", xp, source="t")
    view = bp.battle_pass.get("ada")
    assert (view.tier, view.xp_into_tier, view.xp_to_next_tier) == (tier, into, to_next)
    assert (view.season_xp, view.xp_per_tier, view.total_tiers) == (xp, 100, 10)


def test_multiplied_xp_counts_as_awarded(bp: Gamification, clock: FakeClock) -> None:
    bp.xp.add_boost("ada", 2.0, expires_at=clock() + timedelta(hours=1), source="weekend")
    bp.award_xp("ada", 75, source="t")
    assert bp.battle_pass.get("ada").season_xp == 150


def test_no_battle_pass_season_means_no_statement_on_the_hot_path(make_engine: Make) -> None:
    for config in (Config(), Config(seasons=[Season("plain", SPRING_START, SPRING_END)])):
        g = make_engine(config=config)
        assert "battle_pass" not in g._parts.bus.subscribers(XPAwarded)
        g.award_xp("ada", 500, source="t")
        assert progress_rows(g) == []
        with pytest.raises(errors.NoActiveSeason):
            g.battle_pass.get("ada")
        with unchanged(g), pytest.raises(errors.NoActiveSeason):
            g.battle_pass.claim("ada", 1, track="free")


def test_reading_never_writes(bp: Gamification) -> None:
    with unchanged(bp):
        view = bp.battle_pass.get("nobody")
    assert (view.tier, view.season_xp, view.premium, view.tier_boosts_used) == (0, 0, False, 0)
    assert (view.premium_price, view.premium_currency) == (30_000, "points")
    assert states(view) == [(1, "locked"), (2, "locked"), (5, "locked"), (10, "locked")]
    assert states(view, "premium") == [(1, "locked"), (3, "locked"), (10, "locked")]
    assert view.free_rewards[3].achievements == ("season_champion",)
    assert view.free_rewards[3].points == {"points": 5000}


# -- claims ---------------------------------------------------------------------------------------


def test_free_claims_pay_once_through_the_ledger(bp: Gamification) -> None:
    bp.award_xp("ada", 250, source="t")
    assert states(bp.battle_pass.get("ada")) == [
        (1, "claimable"), (2, "claimable"), (5, "locked"), (10, "locked"),
    ]  # fmt: skip
    claim = bp.battle_pass.claim("ada", 1, track="free")
    assert (claim.season, claim.track, claim.tier) == ("spring", "free", 1)
    assert claim.points == {"points": 100}
    assert claim.claimed_at == START and not claim.auto
    (txn,) = [t for t in bp.history("ada").transactions if t.id in claim.transaction_ids]
    assert (txn.type, txn.source, txn.amount) == ("bonus", "battle_pass", 100)
    assert (txn.reference_type, txn.reference_id) == ("battle_pass", "spring:free:1")
    items = bp.battle_pass.claim("ada", 2, track="free")
    assert items.items == {"protein_sample": 1} and items.transaction_ids == ()
    assert bp.users.inventory("ada").items == {"protein_sample": 1}
    view = bp.battle_pass.get("ada")
    assert states(view)[:2] == [(1, "claimed"), (2, "claimed")]
    assert view.free_rewards[0].claimed_at == START
    assert bp.balance("ada", "points") == 100
    assert not bp.verify_ledger()


def test_titles_and_achievements_are_granted(bp: Gamification) -> None:
    bp.award_xp("ada", 1000, source="t")
    assert bp.battle_pass.claim("ada", 5, track="free").titles == ("Spring Warrior",)
    assert "Spring Warrior" in bp.users.inventory("ada").titles
    claim = bp.battle_pass.claim("ada", 10, track="free")
    assert claim.achievements == ("season_champion",)
    assert bp.achievements.get("ada", "season_champion").unlocked
    # A user who already holds the badge gets the points, and no second unlock.
    bp.award_xp("bo", 1000, source="t")
    bp.track("bo", "crowned")
    assert bp.battle_pass.claim("bo", 10, track="free").achievements == ()
    assert bp.achievements.get("bo", "season_champion").times_unlocked == 1


def test_an_undefined_rewarded_achievement_refuses_the_claim(make_engine: Make) -> None:
    g = make_engine(config=CONFIG)  # season_champion is not defined
    g.award_xp("ada", 1000, source="t")
    with unchanged(g), pytest.raises(errors.NotFound) as info:
        g.battle_pass.claim("ada", 10, track="free")
    assert info.value.key == "season_champion"
    g.events.load(CHAMPION, name="champion")
    assert g.battle_pass.claim("ada", 10, track="free").achievements == ("season_champion",)


REFUSALS = [
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 3, track="free"),
        errors.NoTierReward,
        id="no-reward-at-tier",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 5, track="free"),
        errors.TierNotReached,
        id="not-reached",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 1, track="premium"),
        errors.PremiumRequired,
        id="premium-not-owned",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 1, track="free"),
        errors.RewardAlreadyClaimed,
        id="already-claimed",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 11, track="free"),
        errors.InvalidInput,
        id="above-total-tiers",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 1, track="free", season="winter"),
        errors.UnknownSeason,
        id="unknown-season",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 1, track="free", season="summer"),
        errors.SeasonNotStarted,
        id="season-not-started",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 1, track="free", at=SUMMER_END + timedelta(days=1)),
        errors.NoActiveSeason,
        id="no-season-then",
    ),
    pytest.param(
        lambda g: g.battle_pass.claim("ada", 2, track="free", season="spring", at=SPRING_END),
        errors.SeasonEnded,
        id="season-ended",
    ),
    pytest.param(
        lambda g: g.battle_pass.get("ada", season="winter"),
        errors.UnknownSeason,
        id="view-unknown-season",
    ),
    pytest.param(
        lambda g: g.battle_pass.use_tier_boost("ada"), errors.NotEnoughTierBoosts, id="no-boosts"
    ),
    pytest.param(
        lambda g: g.battle_pass.buy_premium("ada"),
        errors.InsufficientFunds,
        id="premium-insufficient-funds",
    ),
]


@pytest.mark.parametrize(("call", "error"), REFUSALS)
def test_refusals_are_typed_and_write_nothing(
    bp: Gamification, call: Callable[[Gamification], Any], error: type[Exception]
) -> None:
    bp.award_xp("ada", 250, source="t")
    bp.battle_pass.claim("ada", 1, track="free")
    with unchanged(bp), pytest.raises(error) as info:
        call(bp)
    if isinstance(info.value, errors.BattlePassRefused):
        assert str(info.value).startswith((type(info.value).__doc__ or "").strip())


def test_refusal_inside_a_batch_does_not_doom_it(bp: Gamification) -> None:
    bp.award_xp("ada", 150, source="t")
    with bp.batch():
        bp.award_points("ada", 5, currency="points", source="t")
        with pytest.raises(errors.TierNotReached):
            bp.battle_pass.claim("ada", 2, track="free")
        bp.battle_pass.claim("ada", 1, track="free")
    assert bp.balance("ada", "points") == 105


def test_season_pinned_by_the_client_at_a_boundary(bp: Gamification, clock: FakeClock) -> None:
    bp.award_xp("ada", 100, source="t")
    clock.set(SPRING_END)
    bp.award_xp("ada", 100, source="t")  # summer tier 1
    with unchanged(bp), pytest.raises(errors.SeasonEnded):
        bp.battle_pass.claim("ada", 1, track="free", season="spring")
    assert bp.battle_pass.claim("ada", 1, track="free").points == {"points": 7}


# -- the premium pass -----------------------------------------------------------------------------


def test_premium_is_bought_through_the_ledger_once(bp: Gamification) -> None:
    bp.award_xp("ada", 1000, source="t")
    assert states(bp.battle_pass.get("ada"), "premium") == [(1, "locked"), (3, "locked"),
                                                            (10, "locked")]  # fmt: skip
    bp.award_points("ada", 29_999, currency="points", source="t")
    with unchanged(bp), pytest.raises(errors.InsufficientFunds) as info:
        bp.battle_pass.buy_premium("ada")
    assert info.value.shortfall == 1
    bp.award_points("ada", 1, currency="points", source="t")
    bought = bp.battle_pass.buy_premium("ada")
    assert (bought.season, bought.currency, bought.price) == ("spring", "points", 30_000)
    assert bp.balance("ada", "points") == 0
    (txn,) = [t for t in bp.history("ada").transactions if t.id == bought.transaction_id]
    assert (txn.type, txn.source, txn.amount) == ("purchase", "battle_pass", -30_000)
    bp.award_points("ada", 30_000, currency="points", source="t")
    with unchanged(bp), pytest.raises(errors.PremiumAlreadyOwned):
        bp.battle_pass.buy_premium("ada")
    with unchanged(bp), pytest.raises(errors.NotRefundable):
        bp.refund(bought.transaction_id)
    view = bp.battle_pass.get("ada")
    assert view.premium
    assert states(view, "premium") == [(1, "claimable"), (3, "claimable"), (10, "claimable")]
    assert bp.battle_pass.claim("ada", 1, track="premium").points == {"points": 1000}
    assert bp.battle_pass.claim("ada", 3, track="premium").items == {"training_session": 1}
    assert bp.balance("ada", "points") == 31_000
    assert not bp.verify_ledger()


def test_premium_in_another_currency_before_any_xp(make_engine: Make) -> None:
    gems = attrs.evolve(SPRING, premium_currency="gems", premium_price=50)
    config = Config(currencies=[CurrencyConfig("points"), CurrencyConfig("gems")], seasons=[gems])
    g = make_engine(config=config)
    g.award_points("ada", 60, currency="gems", source="t")
    assert g.battle_pass.buy_premium("ada").currency == "gems"
    assert (g.balance("ada", "gems"), g.battle_pass.get("ada").premium) == (10, True)
    assert progress_rows(g) == [("spring", "ada", 0)]


# -- tier boosts ----------------------------------------------------------------------------------


def test_tier_boosts_from_the_shop_add_a_tier_each(bp: Gamification) -> None:
    bp.events.load(BOOSTS, name="boosts")
    bp.award_points("ada", 100, currency="points", source="t")
    order = bp.shop.purchase("ada", "boost", quantity=3)
    bp.award_xp("ada", 150, source="t")
    used = bp.battle_pass.use_tier_boost("ada", quantity=2)
    assert (used.quantity, used.xp, used.tier_before, used.tier_after, used.boosts_left) == (
        2,
        200,
        1,
        3,
        1,
    )
    view = bp.battle_pass.get("ada")
    assert (view.tier, view.xp_into_tier, view.season_xp, view.tier_boosts_used) == (3, 50, 350, 2)
    assert bp.profile("ada").xp == 150  # boosts fill the season only
    assert bp.users.inventory("ada").items == {"tier_boost": 1}
    with unchanged(bp), pytest.raises(errors.NotEnoughTierBoosts):
        bp.battle_pass.use_tier_boost("ada", quantity=2)
    with unchanged(bp), pytest.raises(errors.NotRefundable):
        bp.shop.refund(order.id)  # two of its boosts were used
    bp.award_xp("ada", 600, source="t")  # tier 9
    bp.battle_pass.use_tier_boost("ada")
    assert bp.battle_pass.get("ada").tier == 10
    bp.shop.purchase("ada", "boost")
    with unchanged(bp), pytest.raises(errors.MaxTierReached) as info:
        bp.battle_pass.use_tier_boost("ada")
    assert info.value.tier == 10


def test_a_boost_that_would_pass_the_last_tier_is_refused(bp: Gamification) -> None:
    bp.events.load(BOOSTS, name="boosts")
    bp.award_points("ada", 100, currency="points", source="t")
    bp.shop.purchase("ada", "boost", quantity=3)
    bp.award_xp("ada", 850, source="t")  # tier 8
    with unchanged(bp), pytest.raises(errors.MaxTierReached):
        bp.battle_pass.use_tier_boost("ada", quantity=3)
    assert bp.battle_pass.use_tier_boost("ada", quantity=2).tier_after == 10


# -- season end -----------------------------------------------------------------------------------


def test_season_end_archives_and_grants_unclaimed_reached_rewards(
    bp: Gamification, clock: FakeClock
) -> None:
    bp.award_xp("ada", 520, source="t")  # tier 5, premium
    bp.award_points("ada", 30_000, currency="points", source="t")
    bp.battle_pass.buy_premium("ada")
    bp.battle_pass.claim("ada", 1, track="free")
    bp.award_xp("bo", 250, source="t")  # tier 2, free only
    clock.set(SPRING_END - US)
    assert bp.jobs.run_due().periods().get("battle_pass_close") is not None
    assert not bp.battle_pass.get("ada").archived  # still running: nothing closed
    clock.set(SPRING_END)
    report = bp.jobs.run_due()
    (run,) = [r for r in report.ran if r.job == "battle_pass_close"]
    assert run.result == ["spring"]
    ada = bp.battle_pass.get("ada", season="spring")
    assert (ada.archived, ada.active, ada.tier) == (True, False, 5)
    assert [(r.tier, r.state, r.auto) for r in ada.free_rewards] == [
        (1, "claimed", False), (2, "claimed", True), (5, "claimed", True), (10, "locked", False),
    ]  # fmt: skip
    assert [(r.tier, r.state, r.auto) for r in ada.premium_rewards] == [
        (1, "claimed", True), (3, "claimed", True), (10, "locked", False),
    ]  # fmt: skip
    bo = bp.battle_pass.get("bo", season="spring")
    assert states(bo) == [(1, "claimed"), (2, "claimed"), (5, "locked"), (10, "locked")]
    assert states(bo, "premium") == [(1, "locked"), (3, "locked"), (10, "locked")]
    assert bp.balance("ada", "points") == 100 + 1000
    assert bp.balance("bo", "points") == 100
    assert bp.users.inventory("ada").items == {"protein_sample": 1, "training_session": 1}
    assert "Spring Warrior" in bp.users.inventory("ada").titles
    final = bp.db.execute(
        "SELECT user_id, final_tier FROM battle_pass_progress WHERE season = 'spring' "
        "ORDER BY user_id"
    ).fetchall()
    assert final == [("ada", 5), ("bo", 2)]
    # Closed for good: claims, purchases, boosts and backdated XP no longer reach it.
    with unchanged(bp):
        assert bp.battle_pass.close_seasons() == []
        with pytest.raises(errors.SeasonEnded):
            bp.battle_pass.claim("ada", 10, track="free", season="spring")
        for call in (
            lambda: bp.battle_pass.claim("ada", 2, track="free", at=SPRING_END - US),
            lambda: bp.battle_pass.buy_premium("bo", at=SPRING_END - US),
            lambda: bp.battle_pass.use_tier_boost("bo", at=SPRING_END - US),
        ):
            with pytest.raises(errors.SeasonEnded):
                call()
    bp.award_xp("ada", 500, source="late", at=SPRING_END - US)
    assert bp.battle_pass.get("ada", season="spring").season_xp == 520
    assert not bp.verify_ledger()


def test_close_result_and_batches(
    bp: Gamification, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(battlepass_module, "CLOSE_BATCH", 2)
    for i in range(5):
        bp.award_xp(f"u{i}", 100 * i + 10, source="t")
    clock.set(SPRING_END + timedelta(hours=1))
    (closed,) = bp.battle_pass.close_seasons()
    assert (closed.season, closed.users, closed.rewards_granted) == ("spring", 5, 1 + 2 + 2 + 2)
    assert closed.archived_at == clock()
    left = bp.db.execute(
        "SELECT count(*) FROM battle_pass_progress WHERE archived_at IS NULL"
    ).fetchone()
    assert left == (0,)
    assert bp.battle_pass.close_seasons() == []


def test_a_failing_close_runs_again_and_grants_once(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=CONFIG)  # season_champion is not defined yet
    g.award_xp("ada", 1000, source="t")
    clock.set(SPRING_END)
    report = g.jobs.run_due()
    (failed,) = report.failed
    assert failed.job == "battle_pass_close" and "season_champion" in (failed.error or "")
    assert g.balance("ada", "points") == 0  # its transaction rolled back
    g.events.load(CHAMPION, name="champion")
    clock.advance(minutes=15)
    assert g.jobs.run_due().periods()["battle_pass_close"]
    assert g.balance("ada", "points") == 100 + 5000
    assert g.achievements.get("ada", "season_champion").unlocked
    assert g.battle_pass.get("ada", season="spring").archived


def test_the_close_job_can_be_turned_off(make_engine: Make, clock: FakeClock) -> None:
    config = attrs.evolve(CONFIG, scheduler=SchedulerConfig(battle_pass_close_minutes=None))
    g = make_engine(config=config)
    assert "battle_pass_close" not in [job.name for job in g.jobs.list()]
    g.award_xp("ada", 100, source="t")
    clock.set(SPRING_END)
    g.jobs.run_due()
    assert not g.battle_pass.get("ada", season="spring").archived


# -- idempotent replays ---------------------------------------------------------------------------


def test_replays_return_the_original_even_after_the_season(
    bp: Gamification, clock: FakeClock
) -> None:
    bp.award_xp("ada", 100, source="t")
    first = bp.battle_pass.claim("ada", 1, track="free", idempotency_key="claim-1")
    clock.set(SPRING_END)
    bp.battle_pass.close_seasons()
    with unchanged(bp):
        assert bp.battle_pass.claim("ada", 1, track="free", idempotency_key="claim-1") == first
        with pytest.raises(errors.IdempotencyConflict):
            bp.battle_pass.claim("ada", 1, track="premium", idempotency_key="claim-1")


# -- a property: random XP, claims, purchases and boosts ------------------------------------------

SMALL = Season(
    "small", SPRING_START, SPRING_END, total_tiers=4, xp_per_tier=50, premium_price=300,
    free_rewards=[TierReward(1, points={"points": 10}), TierReward(2, items={"hat": 1}),
                  TierReward(4, points={"points": 40}, titles=["Top"])],
    premium_rewards=[TierReward(1, points={"points": 100}), TierReward(3, points={"points": 30})],
)  # fmt: skip
SMALL_SHOP = {"shop": [
    {"key": "boost", "name": "Tier boost", "kind": "tier_boost", "price": {"points": 20}},
]}  # fmt: skip
OPS = st.lists(
    st.tuples(
        st.sampled_from(["xp", "xp", "claim", "claim", "claim", "premium", "points", "boost",
                         "later"]),
        st.sampled_from(["ada", "bo"]),
        st.integers(min_value=1, max_value=120),
        st.sampled_from(["free", "premium"]),
    ),
    max_size=30,
)  # fmt: skip
REFUSED = (errors.BattlePassRefused, errors.InsufficientFunds, errors.InvalidInput,
           errors.PurchaseRefused)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, close=st.booleans())
def test_random_battle_pass_use_pays_each_reward_at_most_once(ops: list[Any], close: bool) -> None:
    clock = FakeClock(START)
    config = Config(seasons=[SMALL], rate_limits={"purchase": None})
    with Gamification.open(":memory:", config=config, clock=clock, load_entrypoints=False) as g:
        g.events.load(SMALL_SHOP, name="shop")
        for user in ("ada", "bo"):
            g.award_points(user, 400, currency="points", source="seed")
        tiers = {"ada": 0, "bo": 0}
        for op, user, n, track in ops:
            try:
                if op == "xp":
                    g.award_xp(user, n, source="t")
                elif op == "claim":
                    g.battle_pass.claim(user, n % 5 or 1, track=track)
                elif op == "premium":
                    g.battle_pass.buy_premium(user)
                elif op == "points":
                    g.award_points(user, 10 * n, currency="points", source="t")
                elif op == "boost":
                    g.shop.purchase(user, "boost", quantity=n % 2 + 1)
                    g.battle_pass.use_tier_boost(user, quantity=n % 3 + 1)
                else:
                    clock.advance(hours=n)
            except REFUSED:
                pass
            if clock() < SPRING_END:
                tier = g.battle_pass.get(user).tier
                assert tier >= tiers[user]
                tiers[user] = tier
        if close:
            clock.set(SPRING_END)
            g.battle_pass.close_seasons()
        assert not g.verify_ledger()
        paid = g.db.execute(
            "SELECT reference_id, user_id, count(*) FROM transactions "
            "WHERE reference_type = 'battle_pass' GROUP BY reference_id, user_id"
        ).fetchall()
        assert all(count == 1 for _, _, count in paid)
        for user in ("ada", "bo"):
            view = g.battle_pass.get(user, season="small")
            claimed = [r for r in view.free_rewards + view.premium_rewards if r.state == "claimed"]
            assert all(r.tier <= view.tier for r in claimed)
            assert all(view.premium for r in claimed if r.track == "premium")
            # The user's battle pass points are exactly the claimed rewards' points.
            got = sum(t.amount for t in g.history(user, limit=1000).transactions
                      if t.source == "battle_pass" and t.type == "bonus")  # fmt: skip
            assert got == sum(r.points.get("points", 0) for r in claimed)
            if close:
                assert view.archived
                reached = [
                    r
                    for r in view.free_rewards + view.premium_rewards
                    if r.tier <= view.tier and (r.track == "free" or view.premium)
                ]
                assert all(r.state == "claimed" for r in reached)
