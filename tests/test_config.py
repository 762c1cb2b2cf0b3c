"""Config: TOML/JSON loading with strict types, every fault reported at once, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gamification_sdk import (
    AchievementsConfig,
    Config,
    CurrencyConfig,
    Gamification,
    LevelReward,
    LevelsConfig,
    errors,
)
from gamification_sdk.errors import ConfigError

FULL_TOML = """\
default_timezone = "Europe/Berlin"
durability = "full"
auto_create_profiles = false
max_xp_multiplier = 4.5
prestige_boost = 0.25
busy_timeout = 2.5
hook_errors = "raise"
cache_size_mb = 16

[levels]
curve = "table"
max_level = 4
base = 50
growth = 2.0
table = [0, 100, 300, 700]
level_up_bonus = { points = 10 }

[[levels.rewards]]
level = 3
points = { points = 50, gems = 2 }
titles = ["Rookie", "Climber"]

[[levels.rewards]]
level = 4
titles = ["Veteran"]

[[currencies]]
name = "points"
description = "The main currency"

[[currencies]]
name = "gems"
spendable = false
max_award = 100
"""

FULL_CONFIG = Config(
    levels=LevelsConfig(
        curve="table",
        max_level=4,
        base=50,
        growth=2.0,
        table=(0, 100, 300, 700),
        level_up_bonus={"points": 10},
        rewards=(
            LevelReward(level=3, points={"points": 50, "gems": 2}, titles=("Rookie", "Climber")),
            LevelReward(level=4, titles=("Veteran",)),
        ),
    ),
    currencies=(
        CurrencyConfig("points", description="The main currency"),
        CurrencyConfig("gems", spendable=False, max_award=100),
    ),
    default_timezone="Europe/Berlin",
    durability="full",
    auto_create_profiles=False,
    max_xp_multiplier=4.5,
    prestige_boost=0.25,
    busy_timeout=2.5,
    hook_errors="raise",
    cache_size_mb=16,
)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load_error(path: Path) -> errors.ConfigError:
    with pytest.raises(errors.ConfigError) as info:
        Config.from_file(path)
    return info.value


def problem_paths(exc: errors.ConfigError) -> list[str]:
    return [problem.split(":", 1)[0] for problem in exc.problems]


# -- loading valid files -------------------------------------------------------------------


def test_full_toml_file_loads_every_field(tmp_path: Path) -> None:
    path = tmp_path / "game.toml"
    path.write_text(FULL_TOML, encoding="utf-8")
    assert Config.from_file(path) == FULL_CONFIG


def test_full_json_file_loads_every_field(tmp_path: Path) -> None:
    data = {
        "default_timezone": "Europe/Berlin",
        "durability": "full",
        "auto_create_profiles": False,
        "max_xp_multiplier": 4.5,
        "prestige_boost": 0.25,
        "busy_timeout": 2.5,
        "hook_errors": "raise",
        "cache_size_mb": 16,
        "levels": {
            "curve": "table",
            "max_level": 4,
            "base": 50,
            "growth": 2.0,
            "table": [0, 100, 300, 700],
            "level_up_bonus": {"points": 10},
            "rewards": [
                {"level": 3, "points": {"points": 50, "gems": 2}, "titles": ["Rookie", "Climber"]},
                {"level": 4, "titles": ["Veteran"]},
            ],
        },
        "currencies": [
            {"name": "points", "description": "The main currency"},
            {"name": "gems", "spendable": False, "max_award": 100},
        ],
    }
    assert Config.from_file(write_json(tmp_path / "game.json", data)) == FULL_CONFIG


def test_uppercase_suffix_and_partial_file_use_defaults(tmp_path: Path) -> None:
    path = tmp_path / "GAME.TOML"
    path.write_text('[levels]\ncurve = "linear"\nbase = 25\n', encoding="utf-8")
    config = Config.from_file(path)
    assert config.levels == LevelsConfig(curve="linear", base=25)
    assert config.currency_names == ("points",)
    assert config.durability == "normal"


def test_int_is_accepted_where_a_float_is_expected(tmp_path: Path) -> None:
    config = Config.from_file(write_json(tmp_path / "c.json", {"max_xp_multiplier": 3}))
    assert config.max_xp_multiplier == 3.0
    assert type(config.max_xp_multiplier) is float


def test_valid_full_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "game.toml"
    path.write_text(FULL_TOML, encoding="utf-8")
    loaded = Config.from_file(path)
    as_dict = loaded.to_dict()
    assert as_dict["levels"]["rewards"][0]["points"] == {"points": 50, "gems": 2}
    assert as_dict["currencies"][1]["max_award"] == 100
    # dict -> JSON file -> Config gives back an equal Config, and the same dict again.
    again = Config.from_file(write_json(tmp_path / "again.json", as_dict))
    assert again == loaded == FULL_CONFIG
    assert again.to_dict() == as_dict
    assert Config.from_dict(as_dict) == loaded


def test_loaded_config_opens_an_engine(tmp_path: Path) -> None:
    path = tmp_path / "game.toml"
    path.write_text(FULL_TOML, encoding="utf-8")
    with Gamification.open(":memory:", config=Config.from_file(path), load_entrypoints=False) as g:
        assert g.xp.level_table.thresholds == (0, 100, 300, 700)
        with pytest.raises(errors.UnknownUser):
            g.profile("nobody")
        assert g.config.currency_names == ("points", "gems")


# -- strict types ----------------------------------------------------------------------------


STRICT_CASES = [
    pytest.param({"levels": {"max_level": "5"}}, "levels.max_level", "expected int", id="str-int"),
    pytest.param({"levels": {"max_level": 5.7}}, "levels.max_level", "expected int", id="5.7-int"),
    pytest.param({"levels": {"max_level": 5.0}}, "levels.max_level", "expected int", id="5.0-int"),
    pytest.param({"levels": {"base": True}}, "levels.base", "expected int", id="bool-int"),
    pytest.param({"auto_create_profiles": 1}, "auto_create_profiles", "expected bool", id="1-bool"),
    pytest.param(
        {"auto_create_profiles": "true"}, "auto_create_profiles", "expected bool", id="str-bool"
    ),
    pytest.param({"busy_timeout": "5"}, "busy_timeout", "expected a finite number", id="str-float"),
    pytest.param(
        {"max_xp_multiplier": True},
        "max_xp_multiplier",
        "expected a finite number",
        id="bool-float",
    ),
    pytest.param({"default_timezone": 5}, "default_timezone", "expected str", id="int-str"),
    pytest.param(
        {"currencies": [{"name": "points", "max_award": "10"}]},
        "currencies[0].max_award",
        "",
        id="str-optional-int",
    ),
    pytest.param(
        {"levels": {"curve": "cubic"}},
        "levels.curve",
        "expected one of quadratic, exponential, linear, table, custom",
        id="bad-literal",
    ),
    pytest.param(
        {"durability": "fast"}, "durability", "expected one of normal, full", id="bad-durability"
    ),
    pytest.param(
        {"checkpoint": "never"},
        "checkpoint",
        "expected one of background, inline",
        id="bad-checkpoint",
    ),
    pytest.param(
        {"levels": {"rewards": [{"level": "3"}]}},
        "levels.rewards[0].level",
        "expected int",
        id="nested-list",
    ),
    pytest.param(
        {"levels": {"rewards": [{"level": 3, "points": {"points": 1.5}}]}},
        "levels.rewards[0].points['points']",
        "expected int",
        id="dict-value",
    ),
]


@pytest.mark.parametrize(("data", "path", "message"), STRICT_CASES)
@pytest.mark.parametrize("suffix", ["json", "toml"])
def test_strict_types_name_the_bad_path(
    tmp_path: Path, data: dict[str, Any], path: str, message: str, suffix: str
) -> None:
    if suffix == "json":
        file = write_json(tmp_path / "c.json", data)
    else:
        file = tmp_path / "c.toml"
        file.write_text(_to_toml(data), encoding="utf-8")
    exc = load_error(file)
    assert isinstance(exc, errors.InvalidInput)
    assert isinstance(exc, ValueError)
    assert problem_paths(exc) == [path], exc.problems
    assert message in exc.problems[0]
    assert exc.source == str(file)
    assert str(file) in str(exc)


def _to_toml(data: dict[str, Any]) -> str:
    """Just enough TOML writing for the cases above (inline tables throughout)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    return "".join(f"{key} = {value(v)}\n" for key, v in data.items())


def test_curve_error_message_is_exact(tmp_path: Path) -> None:
    exc = load_error(write_json(tmp_path / "c.json", {"levels": {"curve": "cubic"}}))
    assert exc.problems == [
        "levels.curve: expected one of quadratic, exponential, linear, table, custom"
    ]
    assert exc.field == "levels.curve"


def test_every_bad_path_is_reported_at_once(tmp_path: Path) -> None:
    data = {
        "levels": {"curve": "cubic", "max_level": "5", "base": 5.7},
        "auto_create_profiles": 1,
        "currencies": [{"name": "points", "spendable": "yes"}],
        "busy_timeout": "soon",
    }
    exc = load_error(write_json(tmp_path / "c.json", data))
    assert sorted(problem_paths(exc)) == sorted(
        [
            "levels.curve",
            "levels.max_level",
            "levels.base",
            "auto_create_profiles",
            "currencies[0].spendable",
            "busy_timeout",
        ]
    )
    assert f"{len(exc.problems)} problem(s)" in str(exc)
    for problem in exc.problems:
        assert problem in str(exc)


# -- unknown keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "name"),
    [
        ({"max_levels": 5}, "(top level)", "max_levels"),
        ({"levels": {"curve": "linear", "maxlevel": 5}}, "levels", "maxlevel"),
        ({"currencies": [{"name": "points", "colour": "gold"}]}, "currencies[0]", "colour"),
        ({"levels": {"rewards": [{"level": 2, "title": "typo"}]}}, "levels.rewards[0]", "title"),
    ],
)
def test_unknown_keys_are_rejected(
    tmp_path: Path, data: dict[str, Any], path: str, name: str
) -> None:
    exc = load_error(write_json(tmp_path / "c.json", data))
    assert problem_paths(exc) == [path]
    assert f"unknown field(s): {name}" in exc.problems[0]


def test_unknown_key_and_type_error_reported_together(tmp_path: Path) -> None:
    exc = load_error(write_json(tmp_path / "c.json", {"extra": 1, "cache_size_mb": "64"}))
    assert sorted(problem_paths(exc)) == ["(top level)", "cache_size_mb"]


# -- files that cannot be read ---------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    exc = load_error(tmp_path / "nope.toml")
    assert exc.problems[0].startswith("(file): cannot read")


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "game.yaml"
    path.write_text("levels: {}\n", encoding="utf-8")
    assert load_error(path).problems == ["(file): expected a .toml or .json file"]


@pytest.mark.parametrize(("name", "text"), [("c.toml", "levels = [oops"), ("c.json", "{oops")])
def test_syntax_errors(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert load_error(path).problems[0].startswith("(file): not valid")


def test_json_top_level_must_be_an_object(tmp_path: Path) -> None:
    exc = load_error(write_json(tmp_path / "c.json", [1, 2]))
    assert exc.problems == ["(top level): expected a table/object"]


# -- semantic checks -------------------------------------------------------------------------

SEMANTIC_DATA = {
    "default_timezone": "Mars/Olympus_Mons",
    "levels": {
        "curve": "table",
        "max_level": 3,
        "table": [0, 100, 50],
        "rewards": [{"level": 2, "points": {"gems": 5}}],
    },
    "currencies": [{"name": "points"}, {"name": "points"}],
}
SEMANTIC_PROBLEMS = {
    "default_timezone": "'Mars/Olympus_Mons' is not an IANA time zone",
    "levels.table": "thresholds must strictly increase",
    "levels.rewards[0].points['gems']": "unknown currency",
    "currencies[1].name": "'points' is configured twice",
}


def test_semantic_checks_each_named_in_python() -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(
            default_timezone="Mars/Olympus_Mons",
            levels=LevelsConfig(
                curve="table",
                max_level=3,
                table=(0, 100, 50),
                rewards=(LevelReward(level=2, points={"gems": 5}),),
            ),
            currencies=(CurrencyConfig("points"), CurrencyConfig("points")),
        )
    exc = info.value
    assert sorted(problem_paths(exc)) == sorted(SEMANTIC_PROBLEMS)
    for problem in exc.problems:
        path, _, message = problem.partition(": ")
        assert SEMANTIC_PROBLEMS[path] in message


def test_semantic_checks_each_named_from_file(tmp_path: Path) -> None:
    exc = load_error(write_json(tmp_path / "c.json", SEMANTIC_DATA))
    text = str(exc)
    for path, message in SEMANTIC_PROBLEMS.items():
        assert f"{path}: {message}" in text


def test_semantic_checks_from_file_are_listed_one_per_path(tmp_path: Path) -> None:
    exc = load_error(write_json(tmp_path / "c.json", SEMANTIC_DATA))
    assert sorted(problem_paths(exc)) == sorted(SEMANTIC_PROBLEMS)
    assert exc.field in SEMANTIC_PROBLEMS


@pytest.mark.parametrize(
    ("levels", "path", "message"),
    [
        ({"curve": "table", "max_level": 3, "table": [5, 10, 20]}, "levels.table", "start with 0"),
        (
            {"curve": "table", "max_level": 4, "table": [0, 10, 20]},
            "levels.table",
            "has 3 thresholds but max_level is 4",
        ),
        ({"curve": "custom"}, "levels.custom", "name the plugin curve"),
        ({"max_level": 0}, "levels.max_level", "from 1 to 10000"),
        ({"growth": 0.5}, "levels.growth", ">= 1"),
        ({"base": 0}, "levels.base", "positive"),
        ({"max_level": 5, "rewards": [{"level": 6}]}, "levels.rewards[0].level", "above max_level"),
        ({"rewards": [{"level": 1}]}, "levels.rewards[0].level", ">= 2"),
        ({"rewards": [{"level": 2}, {"level": 2}]}, "levels.rewards[1].level", "two rewards"),
        ({"rewards": [{"level": 2, "titles": [""]}]}, "levels.rewards[0].titles[0]", "1-100"),
        ({"level_up_bonus": {"points": 0}}, "levels.level_up_bonus['points']", "from 1 to 2**53"),
    ],
)
def test_level_semantic_checks(levels: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config.from_dict({"levels": levels})
    assert path in str(info.value)
    assert message in str(info.value)


# -- Config built in Python ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"max_xp_multiplier": 0.5}, "max_xp_multiplier"),
        ({"max_xp_multiplier": float("nan")}, "max_xp_multiplier"),
        ({"prestige_boost": -0.1}, "prestige_boost"),
        ({"busy_timeout": "5"}, "busy_timeout"),
        ({"cache_size_mb": 0}, "cache_size_mb"),
        ({"durability": "fast"}, "durability"),
        ({"checkpoint": "never"}, "checkpoint"),
        ({"hook_errors": "print"}, "hook_errors"),
        ({"auto_create_profiles": 1}, "auto_create_profiles"),
        ({"default_timezone": "Not/AZone"}, "default_timezone"),
        ({"currencies": ()}, "currencies"),
        ({"currencies": (CurrencyConfig("Points"),)}, "currencies[0].name"),
        ({"currencies": (CurrencyConfig("points", max_award=True),)}, "currencies[0].max_award"),
        ({"currencies": (CurrencyConfig("points", spendable=1),)}, "currencies[0].spendable"),  # type: ignore[arg-type]
        ({"levels": LevelsConfig(max_level="5")}, "levels.max_level"),  # type: ignore[arg-type]
        ({"levels": LevelsConfig(base=5.7)}, "levels.base"),  # type: ignore[arg-type]
        ({"levels": LevelsConfig(growth=True)}, "levels.growth"),
        ({"levels": LevelsConfig(level_up_bonus={"gems": 5})}, "levels.level_up_bonus['gems']"),
        ({"levels": {"curve": "linear"}}, "levels"),
    ],
)
def test_bad_python_config_raises_config_error(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(**kwargs)
    assert path in problem_paths(info.value)


def test_python_config_reports_all_problems_at_once() -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(max_xp_multiplier=0, durability="fast", cache_size_mb=-1)  # type: ignore[arg-type]
    assert sorted(problem_paths(info.value)) == ["cache_size_mb", "durability", "max_xp_multiplier"]


def test_bad_curve_name_in_python_raises_config_error() -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(levels=LevelsConfig(curve="cubic"))  # type: ignore[arg-type]
    assert "levels.curve" in problem_paths(info.value)


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.durability = "full"  # type: ignore[misc]


def test_an_achievement_rarity_may_pay_no_points() -> None:
    # rarity_points takes ints >= 0: a rarity worth nothing on the board is a valid choice.
    config = Config(achievements=AchievementsConfig(rarity_points={"common": 0}))
    assert config.achievements.rarity_points["common"] == 0
    with pytest.raises(ConfigError, match=r"rarity_points\['common'\]: expected an int >= 0"):
        Config(achievements=AchievementsConfig(rarity_points={"common": -1}))
