"""Level curves: the built-in formulas, max level, plugin curves, and their invariants."""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import accumulate
from typing import Any

import pytest
from conftest import START
from hypothesis import given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification, LevelsConfig, errors, hookimpl
from gamification_sdk.progression.levels import BUILTIN_CURVES, LevelTable

Make = Callable[..., Gamification]


def levels_engine(make_engine: Make, **levels: Any) -> Gamification:
    return make_engine(config=Config(levels=LevelsConfig(**levels)))


def level_after(g: Gamification, user: str, xp: int) -> int:
    if xp:
        g.award_xp(user, xp, source="test")
    return g.profile(user).level


# -- quadratic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xp", "level"),
    [
        (0, 1),
        (1, 1),
        (99, 1),
        (100, 2),
        (399, 2),
        (400, 3),
        (899, 3),
        (900, 4),
        (9999, 10),
        (10000, 11),
    ],
)
def test_quadratic_default_curve(g: Gamification, xp: int, level: int) -> None:
    assert g.config.levels.curve == "quadratic"
    assert level_after(g, f"user-{xp}", xp) == level
    assert level == math.floor(math.sqrt(xp / 100)) + 1


def test_quadratic_thresholds(g: Gamification) -> None:
    assert [g.xp.level_table.threshold(level) for level in range(1, 6)] == [0, 100, 400, 900, 1600]


def test_quadratic_with_other_base(make_engine: Make) -> None:
    g = levels_engine(make_engine, curve="quadratic", base=10)
    assert level_after(g, "a", 39) == 2
    assert level_after(g, "b", 40) == 3


# -- exponential ---------------------------------------------------------------------------


def test_exponential_base_100_growth_1_5(make_engine: Make) -> None:
    g = levels_engine(make_engine, curve="exponential", base=100, growth=1.5)
    assert [g.xp.level_table.threshold(level) for level in (1, 2, 3, 4, 5)] == [
        0,
        100,
        250,
        475,
        812,
    ]
    for xp, level in [(99, 1), (100, 2), (249, 2), (250, 3), (474, 3), (475, 4)]:
        assert level_after(g, f"u{xp}", xp) == level


def test_exponential_large_levels_are_exact(make_engine: Make) -> None:
    g = levels_engine(make_engine, curve="exponential", base=100, growth=1.5, max_level=200)
    thresholds = g.xp.level_table.thresholds
    # Every step is floor(100 * 1.5**(n-1)) computed exactly, never a drifting float.
    for n in range(1, 200):
        step = thresholds[n] - thresholds[n - 1]
        assert step == (100 * 3 ** (n - 1)) // 2 ** (n - 1)


# -- linear and table ------------------------------------------------------------------------


@pytest.mark.parametrize(("xp", "level"), [(0, 1), (49, 1), (50, 2), (99, 2), (100, 3), (501, 11)])
def test_linear(make_engine: Make, xp: int, level: int) -> None:
    g = levels_engine(make_engine, curve="linear", base=50)
    assert level_after(g, "u", xp) == level


@pytest.mark.parametrize(
    ("xp", "level"), [(0, 1), (9, 1), (10, 2), (29, 2), (30, 3), (69, 3), (70, 4), (10**9, 4)]
)
def test_table(make_engine: Make, xp: int, level: int) -> None:
    g = levels_engine(make_engine, curve="table", table=(0, 10, 30, 70), max_level=4)
    assert level_after(g, "u", xp) == level


def test_table_profile_progress(make_engine: Make) -> None:
    g = levels_engine(make_engine, curve="table", table=(0, 10, 30, 70), max_level=4)
    g.award_xp("u", 25, source="test")
    p = g.profile("u")
    assert (p.level, p.xp_into_level, p.xp_for_next_level, p.xp_to_next_level) == (2, 15, 20, 5)
    assert p.progress == 75.0


# -- max level -------------------------------------------------------------------------------


def test_max_level_caps_level_while_xp_accumulates(make_engine: Make) -> None:
    g = levels_engine(make_engine, max_level=5)
    first = g.award_xp("u", 1600, source="test")
    assert (first.new_level, first.leveled_up) == (5, True)
    second = g.award_xp("u", 10**6, source="test")
    assert (second.old_level, second.new_level, second.leveled_up) == (5, 5, False)
    assert second.total_xp == 1600 + 10**6
    p = g.profile("u")
    assert p.level == p.max_level == 5
    assert p.xp == 1600 + 10**6
    assert p.xp_into_level == 10**6
    assert (p.xp_for_next_level, p.xp_to_next_level, p.progress) == (0, 0, 100.0)


def test_one_level_curve(make_engine: Make) -> None:
    g = levels_engine(make_engine, max_level=1)
    award = g.award_xp("u", 500, source="test")
    assert (award.new_level, award.leveled_up) == (1, False)
    assert g.profile("u").progress == 100.0


# -- custom curves from plugins --------------------------------------------------------------


class Triangular:
    """Level L needs 10 * L * (L-1) / 2 total XP."""

    def total_xp_for(self, level: int) -> int:
        return 5 * level * (level - 1)


class TriangularPlugin:
    @hookimpl
    def level_curve(self, levels: LevelsConfig) -> Triangular | None:
        if levels.curve == "custom" and levels.custom == "triangular":
            return Triangular()
        return None


def test_custom_curve_from_plugin(make_engine: Make) -> None:
    g = make_engine(
        config=Config(levels=LevelsConfig(curve="custom", custom="triangular", max_level=10)),
        plugins=(TriangularPlugin(),),
    )
    assert g.xp.level_table.thresholds[:5] == (0, 10, 30, 60, 100)
    assert level_after(g, "a", 29) == 2
    assert level_after(g, "b", 30) == 3
    assert level_after(g, "c", 100) == 5


def test_plugin_not_answering_for_other_curves_keeps_builtin(make_engine: Make) -> None:
    config = Config(levels=LevelsConfig(curve="linear"))
    g = make_engine(config=config, plugins=(TriangularPlugin(),))
    assert g.xp.level_table.thresholds[:4] == (0, 100, 200, 300)


def test_custom_curve_without_plugin_is_config_error(make_engine: Make) -> None:
    config = Config(levels=LevelsConfig(curve="custom", custom="triangular"))
    with pytest.raises(errors.ConfigError) as info:
        make_engine(config=config)
    assert info.value.field == "levels.curve"
    assert "'triangular'" in str(info.value)


def test_custom_curve_with_other_name_is_config_error(make_engine: Make) -> None:
    config = Config(levels=LevelsConfig(curve="custom", custom="fibonacci"))
    with pytest.raises(errors.ConfigError, match="fibonacci"):
        make_engine(config=config, plugins=(TriangularPlugin(),))


class _CurvePlugin:
    def __init__(self, curve: object) -> None:
        self.curve = curve

    @hookimpl
    def level_curve(self, levels: LevelsConfig) -> object:
        return self.curve


class _Flat:
    def total_xp_for(self, level: int) -> int:
        return 0 if level == 1 else 100


class _StartsHigh:
    def total_xp_for(self, level: int) -> int:
        return 100 * level


class _FloatCurve:
    def total_xp_for(self, level: int) -> float:
        return 100.0 * (level - 1)


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        (object(), "no total_xp_for"),
        (_Flat(), "must need more XP"),
        (_StartsHigh(), "level 1 must need 0 XP"),
        (_FloatCurve(), "not int"),
    ],
)
def test_broken_plugin_curve_is_config_error(
    make_engine: Make, curve: object, message: str
) -> None:
    config = Config(levels=LevelsConfig(curve="custom", custom="broken", max_level=5))
    with pytest.raises(errors.ConfigError, match=message):
        make_engine(config=config, plugins=(_CurvePlugin(curve),))


def test_plugin_may_override_a_builtin_curve(make_engine: Make) -> None:
    config = Config(levels=LevelsConfig(max_level=4))
    g = make_engine(config=config, plugins=(_CurvePlugin(Triangular()),))
    assert g.xp.level_table.thresholds == (0, 10, 30, 60)


# -- properties of every built-in curve ------------------------------------------------------


@st.composite
def level_configs(draw: st.DrawFn) -> LevelsConfig:
    curve = draw(st.sampled_from(["quadratic", "exponential", "linear", "table"]))
    max_level = draw(st.integers(1, 150))
    if curve == "table":
        size = max_level - 1
        steps = draw(st.lists(st.integers(1, 10**6), min_size=size, max_size=size))
        table = (0, *accumulate(steps))
        return LevelsConfig(curve="table", max_level=max_level, table=table)
    return LevelsConfig(
        curve=curve,
        max_level=max_level,
        base=draw(st.integers(1, 10_000)),
        growth=draw(st.floats(1.0, 3.0, allow_nan=False)),
    )


def table_for(levels: LevelsConfig) -> LevelTable:
    Config(levels=levels)  # the config itself must be valid
    return LevelTable(BUILTIN_CURVES[levels.curve](levels), levels.max_level)


@settings(max_examples=150, deadline=None)
@given(levels=level_configs())
def test_thresholds_strictly_increase(levels: LevelsConfig) -> None:
    table = table_for(levels)
    curve = BUILTIN_CURVES[levels.curve](levels)
    assert curve.total_xp_for(1) == 0
    for level in range(1, levels.max_level):
        assert curve.total_xp_for(level + 1) > curve.total_xp_for(level)
        assert table.threshold(level + 1) > table.threshold(level)
        # The level flips exactly at each threshold.
        assert table.level_for(table.threshold(level + 1)) == level + 1
        assert table.level_for(table.threshold(level + 1) - 1) == level


@settings(max_examples=150, deadline=None)
@given(levels=level_configs(), xps=st.lists(st.integers(0, 2**62), min_size=1, max_size=30))
def test_level_non_decreasing_and_progress_consistent(levels: LevelsConfig, xps: list[int]) -> None:
    table = table_for(levels)
    top = table.threshold(levels.max_level)
    # Include values around the thresholds, where off-by-one errors live.
    xps = sorted({*xps, *(t + d for t in table.thresholds for d in (-1, 0, 1) if t + d >= 0)})
    previous = 1
    for xp in xps:
        p = table.progress(xp)
        assert p.level == table.level_for(xp)
        assert previous <= p.level <= levels.max_level
        previous = p.level
        assert 0.0 <= p.percent <= 100.0
        assert table.threshold(p.level) <= xp
        assert p.xp_into_level == xp - table.threshold(p.level)
        if p.level < levels.max_level:
            assert xp < table.threshold(p.level + 1)
            assert p.xp_into_level + p.xp_to_next_level == p.xp_for_next_level
            assert p.xp_for_next_level == table.threshold(p.level + 1) - table.threshold(p.level)
            assert p.xp_to_next_level > 0
        else:
            assert xp >= top
            assert p.percent == 100.0


@settings(max_examples=100, deadline=None)
@given(xp=st.integers(0, 100 * 9999**2))
def test_quadratic_formula_property(xp: int) -> None:
    table = table_for(LevelsConfig(max_level=10_000))
    assert table.level_for(xp) == math.isqrt(xp // 100) + 1


@settings(max_examples=25, deadline=None)
@given(levels=level_configs(), amounts=st.lists(st.integers(1, 10**7), min_size=1, max_size=8))
def test_profile_matches_level_table(levels: LevelsConfig, amounts: list[int]) -> None:
    with Gamification.open(
        ":memory:", config=Config(levels=levels), clock=FakeClock(START), load_entrypoints=False
    ) as g:
        previous = 1
        for amount in amounts:
            award = g.award_xp("u", amount, source="prop")
            p = g.profile("u")
            assert p.level == award.new_level == g.xp.level_table.level_for(p.xp)
            assert award.old_level == previous <= award.new_level
            assert award.leveled_up == (award.new_level > previous)
            assert 0.0 <= p.progress <= 100.0
            if p.level < p.max_level:
                assert p.xp_into_level + p.xp_to_next_level == p.xp_for_next_level
            previous = p.level
