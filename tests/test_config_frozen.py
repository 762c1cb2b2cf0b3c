"""A validated Config cannot change: every table in it is read-only and every list a tuple,
however deep, while equality, repr, loading, dumping, pickling and copying keep working."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, LevelReward, LevelsConfig, errors
from gamification_sdk.config import RARITY_XP

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12).map(
    lambda text: f"t{text}"
)
PERIODS = ("daily", "weekly", "monthly")


def _amounts(currencies: list[str], min_size: int = 0) -> st.SearchStrategy[dict[str, int]]:
    return st.dictionaries(st.sampled_from(currencies), st.integers(1, 10**6), min_size=min_size)


def _rank_reward(currencies: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "ranks": st.integers(1, 5).map(lambda last: [1, last]),
            "points": _amounts(currencies),
            "items": st.dictionaries(TEXT, st.integers(1, 100), min_size=1, max_size=3),
            "periods": st.lists(st.sampled_from(PERIODS), unique=True, max_size=3),
        },
        optional={"title": TEXT},
    )


def _tier_reward(currencies: list[str], tier: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "tier": st.just(tier),
            "points": _amounts(currencies),
            "items": st.dictionaries(TEXT, st.integers(1, 100), max_size=2),
            "titles": st.lists(TEXT, min_size=1, max_size=2),
            "achievements": st.lists(TEXT, max_size=2),
        }
    )


@st.composite
def config_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid configuration, shaped like a TOML file, with something in every table and list."""
    currencies = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    amounts = _amounts(currencies)
    max_level = draw(st.integers(5, 40))
    levels = {
        "max_level": max_level,
        "level_up_bonus": draw(amounts),
        "rewards": [
            {"level": level, "points": draw(amounts), "titles": draw(st.lists(TEXT, max_size=2))}
            for level in draw(st.lists(st.integers(2, max_level), unique=True, max_size=3))
        ],
    }
    rarities = st.sampled_from(sorted(RARITY_XP))
    achievements = {
        "rarity_xp_multipliers": draw(st.dictionaries(rarities, st.floats(0.5, 20))),
        "rarity_points": draw(st.dictionaries(rarities, st.integers(1, 10_000))),
    }
    limit = st.none() | st.fixed_dictionaries(
        {"max": st.integers(1, 1000), "seconds": st.integers(1, 86_400)}
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    seasons = []
    for i in range(draw(st.integers(0, 2))):
        tiers = draw(st.lists(st.integers(1, 50), unique=True, max_size=2))
        seasons.append(
            {
                "key": f"s{i}",
                "starts_at": (start + timedelta(days=30 * i)).isoformat(),
                "ends_at": (start + timedelta(days=30 * i + 29)).isoformat(),
                "free_rewards": [draw(_tier_reward(currencies, tier)) for tier in tiers],
                "premium_rewards": [draw(_tier_reward(currencies, 1))],
            }
        )
    board_periods = st.lists(st.sampled_from(PERIODS), min_size=1, unique=True)
    return {
        "currencies": [{"name": name} for name in currencies],
        "levels": levels,
        "achievements": achievements,
        "streaks": {"activity_events": draw(st.none() | st.lists(TEXT, max_size=3))},
        "packs": draw(st.lists(TEXT, max_size=3)),
        "rate_limits": draw(st.dictionaries(NAMES, limit, max_size=3)),
        "leaderboards": {
            "boards": [
                {"key": "xp", "rewards": draw(st.lists(_rank_reward(currencies), max_size=2))},
                {
                    "key": "coins",
                    "source": "points",
                    "currency": currencies[0],
                    "periods": draw(board_periods),
                },
            ],
        },
        "seasons": seasons,
        "referrals": {
            "milestones": [{"tier": "first", "name": "First", "referrals": 1, "points": 10}],
        },
    }


def containers(value: object, path: str = "config") -> Iterator[tuple[str, object]]:
    """Every table and list in ``value``, however deep, with its path."""
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from containers(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, Mapping | list | tuple | set | dict):
        yield path, value
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            yield from containers(item, f"{path}[{key!r}]")


def _writes(container: Any) -> Iterator[tuple[str, Any]]:
    """Each way to write to a table or list, as (name, call)."""
    key = next(iter(container), 0) if isinstance(container, Mapping) else 0
    yield "item assignment", lambda: container.__setitem__(key, 1)
    yield "item deletion", lambda: container.__delitem__(key)
    methods: list[tuple[str, tuple[Any, ...]]] = [
        ("update", ({key: 1},)),
        ("clear", ()),
        ("pop", (key,)),
        ("popitem", ()),
        ("setdefault", (key, 1)),
        ("append", (1,)),
        ("extend", ([1],)),
        ("insert", (0, 1)),
        ("remove", (key,)),
        ("sort", ()),
        ("add", (1,)),
    ]
    for name, args in methods:
        yield name, lambda name=name, args=args: getattr(container, name)(*args)


def assert_read_only(config: Config) -> None:
    found = list(containers(config))
    for path, container in found:
        assert not isinstance(container, dict | list | set), f"{path} is a writable {container!r}"
        for name, write in _writes(container):
            with pytest.raises((TypeError, AttributeError)):
                write()
                pytest.fail(f"{path}: {name} changed it")


@settings(max_examples=60, deadline=None)
@given(data=config_data())
def test_no_table_or_list_in_a_config_can_be_changed(data: dict[str, Any]) -> None:
    config = Config.from_dict(data)
    before = config.to_dict()
    assert_read_only(config)
    assert config == Config.from_dict(data)
    assert config.to_dict() == before
    # The dump is plain JSON and loads back into an equal Config.
    assert Config.from_dict(json.loads(json.dumps(before))) == config


def test_the_reported_write_raises_and_changes_nothing() -> None:
    config = Config(levels=LevelsConfig(level_up_bonus={"points": 5}))
    with pytest.raises(TypeError):
        config.levels.level_up_bonus["points"] = 10**9  # type: ignore[index]
    with pytest.raises(TypeError):
        config.rate_limits["purchase"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        config.achievements.rarity_points["mythic"] = 10**9  # type: ignore[index]
    assert config.levels.level_up_bonus == {"points": 5}
    assert config == Config(levels=LevelsConfig(level_up_bonus={"points": 5}))


def test_a_config_keeps_a_copy_of_the_tables_it_was_given() -> None:
    bonus, points = {"points": 5}, {"points": 50}
    config = Config(
        levels=LevelsConfig(level_up_bonus=bonus, rewards=[LevelReward(3, points=points)])
    )
    bonus["points"] = points["points"] = 10**9
    assert config.levels.level_up_bonus == {"points": 5}
    assert config.levels.rewards[0].points == {"points": 50}


def test_the_repr_shows_tables_as_dicts() -> None:
    levels = LevelsConfig(level_up_bonus={"points": 5})
    assert "level_up_bonus={'points': 5}" in repr(levels)
    assert "mappingproxy" not in repr(Config(levels=levels))


def _pickled(config: Config) -> Config:
    again: Config = pickle.loads(pickle.dumps(config))
    return again


@settings(max_examples=10, deadline=None)
@given(data=config_data(), clone=st.sampled_from([copy.deepcopy, copy.copy, _pickled]))
def test_a_config_can_still_be_copied_and_pickled(data: dict[str, Any], clone: Any) -> None:
    config = Config.from_dict(data)
    again = clone(config)
    assert again == config
    assert_read_only(again)


def test_a_bad_table_is_still_a_config_error() -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(levels=LevelsConfig(level_up_bonus={"gems": 5}))
    assert info.value.problems == [
        "levels.level_up_bonus['gems']: unknown currency; configure it in currencies"
    ]
