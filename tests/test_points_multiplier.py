"""Earned points multiplied by ``points_multiplier`` plugins and by the held status tier:
inside the award's transaction, after the vetoes, on direct earned awards only."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    StatusTier,
    StatusTiersConfig,
    errors,
    hookimpl,
)

Make = Callable[..., Gamification]
CURRENCIES = (CurrencyConfig("points", max_award=10_000), CurrencyConfig("gems"))


class Promo:
    """Doubles points earned from ``promo`` sources, and answers what it is asked to."""

    def __init__(self, factor: Any = 2) -> None:
        self.factor = factor
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def points_multiplier(
        self,
        engine: Gamification,
        user_id: str,
        currency: str,
        source: str,
        base_amount: int,
        at: Any,
        metadata: Any,
    ) -> Any:
        self.calls.append(
            {"user": user_id, "currency": currency, "base": base_amount, "meta": metadata}
        )
        assert engine.profile(user_id) is not None  # the engine is usable from the hook
        return self.factor if source.startswith("promo") else None


class Veto:
    def __init__(self) -> None:
        self.amounts: list[int] = []

    @hookimpl
    def validate_award(self, engine: Gamification, award: Any) -> str | None:
        self.amounts.append(award.amount)
        return None


def test_a_plugin_multiplies_an_earned_award(make_engine: Make) -> None:
    promo, veto = Promo(), Veto()
    g = make_engine(config=Config(currencies=CURRENCIES), plugins=(promo, veto))
    result = g.award_points(
        "ada", 105, currency="points", source="promo:launch", metadata={"campaign": 7}
    )
    assert result.amount == 210 and g.balance("ada", "points") == 210
    assert promo.calls == [
        {"user": "ada", "currency": "points", "base": 105, "meta": {"campaign": 7}}
    ]
    assert veto.amounts == [105]  # vetoes see what was asked for, as for XP
    assert g.award_points("ada", 5, currency="points", source="order").amount == 5
    assert g.verify_ledger().ok


def test_factors_multiply_together_and_round_half_up(make_engine: Make) -> None:
    g = make_engine(config=Config(currencies=CURRENCIES), plugins=(Promo(1.5), Promo(1.15)))
    assert g.award_points("ada", 100, currency="points", source="promo").amount == 173  # 172.5


def test_only_direct_earned_awards_are_multiplied(make_engine: Make) -> None:
    promo = Promo(3)
    g = make_engine(config=Config(currencies=CURRENCIES), plugins=(promo,))
    for kind in ("bonus", "referral_reward"):
        result = g.points.award("ada", 10, currency="points", source="promo", transaction_type=kind)
        assert result.amount == 10
    assert promo.calls == []
    assert g.points.award("ada", 10, currency="points", source="promo").amount == 30


def test_a_replay_returns_the_multiplied_result_without_asking_again(make_engine: Make) -> None:
    promo = Promo()
    g = make_engine(config=Config(currencies=CURRENCIES), plugins=(promo,))
    first = g.award_points("ada", 40, currency="points", source="promo", idempotency_key="k1")
    promo.factor = 5  # a replay does not multiply again
    again = g.award_points("ada", 40, currency="points", source="promo", idempotency_key="k1")
    assert (first.id, first.amount) == (again.id, again.amount) == (first.id, 80)
    assert len(promo.calls) == 1 and g.balance("ada", "points") == 80


@pytest.mark.parametrize("factor", [0, -1, float("nan"), "2"])
def test_a_bad_factor_is_refused_and_writes_nothing(make_engine: Make, factor: Any) -> None:
    g = make_engine(config=Config(currencies=CURRENCIES), plugins=(Promo(factor),))
    g.award_points("ada", 1, currency="points", source="order")
    with unchanged(g), pytest.raises(errors.InvalidInput) as caught:
        g.award_points("ada", 10, currency="points", source="promo", idempotency_key="k")
    assert caught.value.field == "points_multiplier"


def test_a_product_that_rounds_to_nothing_or_passes_max_award_is_refused(
    make_engine: Make,
) -> None:
    g = make_engine(config=Config(currencies=CURRENCIES), plugins=(Promo(0.1),))
    g.award_points("ada", 1, currency="points", source="order")
    with unchanged(g), pytest.raises(errors.InvalidInput, match="rounds to 0") as caught:
        g.award_points("ada", 4, currency="points", source="promo")
    assert caught.value.field == "amount"
    big = make_engine(config=Config(currencies=CURRENCIES), plugins=(Promo(3),))
    big.award_points("ada", 1, currency="points", source="order")
    with unchanged(big), pytest.raises(errors.InvalidInput, match="max_award 10000"):
        big.award_points("ada", 4_000, currency="points", source="promo")


TIERS = (
    StatusTier("silver", 100, points_multiplier={"points": 1.5}),
    StatusTier("gold", 1_000, points_multiplier={"points": 2, "gems": 1.25}),
)


def tier_config(**kwargs: Any) -> Config:
    return Config(
        currencies=CURRENCIES,
        tiers=StatusTiersConfig(measure="xp", tiers=kwargs.pop("tiers", TIERS)),
    )


def test_the_held_tier_multiplies_its_currencies(make_engine: Make) -> None:
    g = make_engine(config=tier_config())
    assert g.award_points("ada", 10, currency="points", source="order").amount == 10
    g.award_xp("ada", 100, source="quest")  # silver
    assert g.award_points("ada", 10, currency="points", source="order").amount == 15
    assert g.award_points("ada", 10, currency="gems", source="order").amount == 10
    g.award_xp("ada", 900, source="quest")  # gold
    assert g.award_points("ada", 10, currency="points", source="order").amount == 20
    assert g.award_points("ada", 10, currency="gems", source="order").amount == 13  # 12.5
    assert g.balance("ada", "points") == 45 and g.verify_ledger().ok


def test_a_plugin_and_the_tier_multiply_together(make_engine: Make) -> None:
    g = make_engine(config=tier_config(), plugins=(Promo(2),))
    g.award_xp("ada", 100, source="quest")
    assert g.award_points("ada", 10, currency="points", source="promo").amount == 30


@pytest.mark.parametrize(
    ("multiplier", "problem"),
    [
        ({"coins": 2}, "unknown currency 'coins'"),
        ({"points": 0}, "expected a number over 0, at most 100"),
        ({"points": 101}, "expected a number over 0, at most 100"),
    ],
)
def test_a_bad_tier_multiplier_names_its_field(
    make_engine: Make, multiplier: dict[str, Any], problem: str
) -> None:
    g = make_engine(config=Config(currencies=CURRENCIES))
    tiers = {"measure": "xp", "tiers": [{"name": "silver", "threshold": 100,
                                         "points_multiplier": multiplier}]}  # fmt: skip
    currencies = [{"name": "points", "max_award": 10_000}, {"name": "gems"}]
    with unchanged(g), pytest.raises(errors.ConfigError) as caught:
        g.settings.apply(Config.from_dict({"tiers": tiers, "currencies": currencies}))
    assert any(
        p.startswith("tiers.tiers[0].points_multiplier") and problem in p
        for p in caught.value.problems
    ), caught.value


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    awards=st.lists(
        st.tuples(st.integers(1, 500), st.booleans(), st.sampled_from(["points", "gems"])),
        max_size=25,
    ),
    factor=st.sampled_from([0.5, 1, 1.15, 2, 3.3]),
)
def test_balances_are_the_multiplied_awards(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    awards: Any,
    factor: float,
) -> None:
    """Whatever is multiplied, each balance is the sum of what was credited, the ledger
    balances, and all of it can be spent."""
    config = Config(currencies=CURRENCIES)
    with fresh_engine(config=config, clock=FakeClock(START), plugins=(Promo(factor),)) as g:
        expected = {"points": 0, "gems": 0}
        for amount, promo, currency in awards:
            try:
                result = g.award_points(
                    "ada", amount, currency=currency, source="promo" if promo else "order"
                )
            except errors.InvalidInput:
                assert promo and round(amount * factor) < 1
                continue
            want = int(amount * factor + 0.5 + 1e-9) if promo else amount
            assert abs(result.amount - want) <= 1 and result.amount >= 1
            expected[currency] += result.amount
        assert {c: g.balance("ada", c) for c in expected} == expected
        if expected["points"]:  # everything credited can be spent, to the last point
            g.spend_points("ada", expected["points"], currency="points", source="shop")
            assert g.balance("ada", "points") == 0
        assert g.verify_ledger().ok


def test_a_plugin_registered_after_open_multiplies_and_unregistered_stops(
    make_engine: Make,
) -> None:
    g = make_engine(config=Config(currencies=CURRENCIES))
    assert g.award_points("ada", 10, currency="points", source="promo").amount == 10
    promo = Promo(4)
    g.pm.register(promo)
    assert g.award_points("ada", 10, currency="points", source="promo").amount == 40
    g.pm.unregister(promo)
    assert g.award_points("ada", 10, currency="points", source="promo").amount == 10
