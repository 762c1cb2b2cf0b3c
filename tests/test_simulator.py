"""The economy simulator: reproducible, consistent with the engine it drives, and its command."""

from __future__ import annotations

import json
import math
import sys
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from gamification_sdk import Config, Gamification, LevelsConfig, errors
from gamification_sdk.simulator import (
    DEFAULT_CONFIG,
    DEFAULT_DEFINITIONS,
    PROFILES,
    SimulationReport,
    simulate,
)
from gamification_sdk.simulator.command import simulate as simulate_command
from gamification_sdk.simulator.plots import PLOT_FILES, PLOTS_HINT

USERS, DAYS = 40, 14
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationReport, Path]:
    """One mixed run whose database is kept, to check the report against the engine."""
    path = tmp_path_factory.mktemp("sim") / "sim.db"
    return simulate(users=USERS, days=DAYS, profile="mixed", seed=3, database=path), path


def _later(a: int | None, b: int | None) -> bool:
    """a is the same day as b or later, None being 'never'."""
    return a is None or (b is not None and a >= b)


def test_the_same_seed_gives_the_same_report() -> None:
    first = simulate(users=25, days=10, profile="mixed", seed=11, database=":memory:")
    again = simulate(users=25, days=10, profile="mixed", seed=11, database=":memory:")
    other = simulate(users=25, days=10, profile="mixed", seed=12, database=":memory:")
    assert first == again
    assert first.to_json() == again.to_json()
    assert first.to_markdown() == again.to_markdown()
    assert other != first


def test_the_report_matches_the_engine_it_drove(
    mixed: tuple[SimulationReport, Path],
) -> None:
    report, path = mixed
    with Gamification.open(path, load_entrypoints=False) as g:
        levels = dict(g.db.execute("SELECT level, COUNT(*) FROM profiles GROUP BY level"))
        spent, earned = g.db.execute(
            "SELECT SUM(lifetime_spent), SUM(lifetime_earned) FROM accounts "
            "WHERE user_id IS NOT NULL AND currency = 'points'"
        ).fetchone()
        unlocked = g.db.execute(
            "SELECT COUNT(DISTINCT user_id || ':' || key) FROM achievement_unlocks"
        ).fetchone()[0]
        assert not g.verify_ledger()
    never_seen = USERS - sum(levels.values())  # never active: no profile, level 1
    levels[1] = levels.get(1, 0) + never_seen
    assert {c.level: c.users for c in report.level_distribution} == levels
    assert sum(c.users for c in report.level_distribution) == USERS
    (points,) = report.currencies
    assert (points.spent, points.issued - points.spent) == (spent, earned - spent)
    assert points.supply == earned - spent
    assert sum(r.users for r in report.achievements.per_achievement) == unlocked
    assert report.achievements.average == round(unlocked / USERS, 2)
    assert report.ledger_ok


def test_sanity_invariants(mixed: tuple[SimulationReport, Path]) -> None:
    report, _ = mixed
    assert report.levels and report.levels[0].level == 2
    for lower, higher in zip(report.levels, report.levels[1:], strict=False):
        assert higher.level == lower.level + 1
        assert higher.users <= lower.users
        for p in ("p10", "p50", "p90"):
            assert _later(getattr(higher, p), getattr(lower, p)), (p, lower, higher)
    for timing in report.levels:
        by_day = timing.reached_by_day
        assert len(by_day) == DAYS and list(by_day) == sorted(by_day)
        assert by_day[-1] == timing.users
    (points,) = report.currencies
    held = 0
    for day in points.days:
        assert day.spent <= held + day.issued  # nobody spends what they never held
        held += day.issued - day.spent
        assert day.supply == held >= 0
    assert points.sink_ratio == round(points.spent / points.issued, 4)
    a = report.achievements
    assert 0 < a.share_with_any <= 1
    assert a.median_days_to_first is not None and 1 <= a.median_days_to_first <= DAYS
    assert all(r.users <= USERS and (r.median_day is None) == (r.users == 0)
               for r in a.per_achievement)  # fmt: skip
    for day in range(DAYS):
        shares = [curve.shares[day] for curve in report.streaks]
        assert shares == sorted(shares, reverse=True)  # longer streaks: fewer users
    assert 0 < max(report.daily_active) <= USERS
    assert sum(s.users for s in report.segments) == USERS


def test_whales_play_and_spend_more_than_casuals() -> None:
    casual = simulate(users=20, days=10, profile="casual", seed=5, database=":memory:")
    whale = simulate(users=20, days=10, profile="whale", seed=5, database=":memory:")
    (c,), (w,) = casual.segments, whale.segments
    assert (c.profile, w.profile) == ("casual", "whale")
    assert w.spent["points"] > c.spent["points"] * 3
    assert w.average_level > c.average_level
    assert sum(whale.daily_active) > sum(casual.daily_active)


def test_a_steeper_curve_makes_levels_take_longer() -> None:
    base = Config.from_file(DEFAULT_CONFIG)
    steep = attrs.evolve(base, levels=attrs.evolve(base.levels, base=300))
    runs = [
        simulate(users=USERS, days=DAYS, seed=9, config=config, definitions=DEFAULT_DEFINITIONS,
                 database=":memory:")
        for config in (base, steep)
    ]  # fmt: skip
    normal, slow = runs
    for timing in slow.levels:
        other = normal.level_timing(timing.level)
        assert other is not None and timing.users <= other.users
        assert all(s <= n for s, n in zip(timing.reached_by_day, other.reached_by_day,
                                          strict=True))  # fmt: skip
    assert len(slow.levels) < len(normal.levels)
    assert slow.level_timing(2).p50 > normal.level_timing(2).p50  # type: ignore[union-attr, operator]


def test_an_explicit_event_mix_and_a_user_catalogue() -> None:
    catalogue = {
        "rules": [{"event": "lesson", "xp": 40}, {"event": "login", "xp": 5, "daily_limit": 1}],
        "achievements": [
            {"key": "first_lesson", "name": "First lesson",
             "criteria": {"type": "first_time", "event": "lesson"}},
            {"key": "first_quiz", "name": "First quiz",
             "criteria": {"type": "first_time", "event": "quiz"}},
        ],
    }  # fmt: skip
    report = simulate(users=20, days=7, profile="core", definitions=catalogue,
                      events={"lesson": 1.0}, config=Config(), database=":memory:")  # fmt: skip
    rates = {r.key: r for r in report.achievements.per_achievement}
    assert rates["first_lesson"].users > 0 and rates["first_quiz"].users == 0
    assert report.catalogue == "a mapping" and report.levels


def test_packs_and_two_currencies() -> None:
    sparkle = pytest.importorskip("gamification_sdk_sparkle")
    from gamification_sdk import CurrencyConfig

    config = Config(packs=["sparkle"], currencies=[CurrencyConfig("points"),
                                                   CurrencyConfig("sparkle")])  # fmt: skip
    report = simulate(users=20, days=7, profile="whale", config=config, plugins=[sparkle],
                      database=":memory:")  # fmt: skip
    assert [c.currency for c in report.currencies] == ["points", "sparkle"]
    assert report.catalogue == "packs sparkle"
    assert report.achievements.share_with_any > 0


def test_an_activity_model_can_be_replaced() -> None:
    gone = attrs.evolve(PROFILES["casual"], churn=1.0, active_chance=1.0)
    report = simulate(users=10, days=4, profile="casual", profiles={"casual": gone},
                      database=":memory:")  # fmt: skip
    assert report.daily_active == (10, 0, 0, 0)  # everyone came on day 1 and left on day 2
    assert report.segments[0].retained == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"users": 0}, "users"),
        ({"days": 3651}, "days"),
        ({"users": True}, "users"),
        ({"profile": "bots"}, "profile"),
        ({"seed": 1.5}, "seed"),
        ({"start": "2026-01-05"}, "start"),
        ({"config": Config(levels=LevelsConfig(max_level=1))}, "levels.max_level"),
        (
            {
                "definitions": {"rules": [{"event": "visit", "points": {"points": 5}}]},
                "config": Config(),
            },
            "definitions",
        ),
        ({"events": {"": 1.0}}, "events"),
        ({"events": {"post": 0}}, "events"),
        ({"events": {"~quests": 1}}, "events"),
        ({"profiles": {"bot": PROFILES["core"]}}, "profiles"),
        ({"profiles": {"core": {"churn": 0.1}}}, "profiles"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], field: str, tmp_path: Path) -> None:
    args: dict[str, Any] = {"users": 5, "days": 2, "database": tmp_path / "sim.db", **kwargs}
    with pytest.raises(errors.InvalidInput) as caught:
        simulate(**args)
    assert caught.value.field == field
    assert list(tmp_path.iterdir()) == []  # a database it made for a refused run is removed


def test_an_existing_database_is_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "game.db"
    path.write_bytes(b"precious")
    with pytest.raises(errors.InvalidInput, match="exists"):
        simulate(users=5, days=2, database=path)
    assert path.read_bytes() == b"precious"


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, to show what the command writes (and does not)."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def run(args: list[str]) -> Any:
    return CliRunner().invoke(simulate_command, args)


def test_the_command_writes_the_summary_the_json_and_the_plots(cwd: Path) -> None:
    out = cwd / "out"
    result = run(["--users", "20", "--days", "7", "--seed", "4", "--out", "out"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Economy simulation: 20 mixed users over 7 days")
    expected = {"summary.md", "report.json", *PLOT_FILES}
    assert {p.name for p in out.iterdir()} == expected
    for name in PLOT_FILES:
        assert (out / name).read_bytes().startswith(PNG)
    assert (out / "summary.md").read_text() == result.stdout
    data = json.loads((out / "report.json").read_text())
    assert (data["users"], data["days"], data["seed"]) == (20, 7, 4)
    assert "simulated 20 users x 7 days" in result.stderr


def test_the_json_output(cwd: Path) -> None:
    result = run(["--users", "15", "--days", "5", "--profile", "core", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {
        "users", "days", "profile", "seed", "start", "timezone", "catalogue", "ledger_ok",
        "daily_active", "segments", "levels", "level_distribution", "achievements",
        "currencies", "streaks",
    }  # fmt: skip
    assert (data["profile"], data["start"], len(data["daily_active"])) == ("core", "2026-01-05", 5)
    assert set(data["levels"][0]) == {"level", "users", "share", "p10", "p50", "p90",
                                      "reached_by_day"}  # fmt: skip
    assert set(data["achievements"]) == {"share_with_any", "average", "median_days_to_first",
                                         "per_achievement"}  # fmt: skip
    points = data["currencies"][0]
    assert points["currency"] == "points" and len(points["days"]) == 5
    assert set(points["days"][0]) == {"day", "issued", "spent", "supply", "expired"}
    assert [s["threshold"] for s in data["streaks"]] == [3, 7, 14, 30]
    assert list(cwd.iterdir()) == []  # no --out: nothing written


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["--config", "missing.toml"], "cannot read"),
        ({"bad.toml": "levels = ["}, ["--config", "bad.toml"], "not valid toml"),
        ({"bad.json": "{"}, ["--definitions", "bad.json"], "not valid json"),
        ({"c.toml": "[levels]\ncurve = 'cubic'"}, ["--config", "c.toml"], "levels.curve"),
        (
            {"d.json": '{"rules": [{"event": "x", "points": {"points": 1}}]}', "c.json": "{}"},
            ["--definitions", "d.json", "--config", "c.json"],
            "no level above 1 is reachable",
        ),
        ({}, ["--users", "0"], "users: expected an int from 1"),
        ({}, ["--days", "-3"], "days: expected an int from 1"),
        ({}, ["--event", "post_created"], "--event: expected NAME=WEIGHT"),
        ({}, ["--event", "post_created=-1"], "--event: expected NAME=WEIGHT"),
        ({"taken": "a file"}, ["--out", "taken"], "--out: taken exists and is not a directory"),
    ],
)
def test_user_errors_exit_1_with_one_line_and_write_nothing(
    files: dict[str, str], args: list[str], message: str, cwd: Path
) -> None:
    for name, text in files.items():
        (cwd / name).write_text(text)
    # Later options win, so ``args`` override these.
    result = run(["--users", "5", "--days", "2", "--out", "out", *args])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in cwd.iterdir()) == sorted(files)


def test_usage_errors_exit_2(cwd: Path) -> None:
    for args in (["--profile", "bots"], ["--users", "many"], ["--start", "05/01/2026"]):
        assert run(args).exit_code == 2
    assert list(cwd.iterdir()) == []


def test_without_matplotlib_the_summary_is_written_and_one_line_says_how(
    cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    out = cwd / "out"
    result = run(["--users", "10", "--days", "3", "--out", "out"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"summary.md", "report.json"}
    assert result.stderr.splitlines().count(PLOTS_HINT) == 1
    assert "pip install 'gamification-sdk[plots]'" in PLOTS_HINT


def test_start_date_and_report_rendering() -> None:
    report = simulate(users=10, days=8, seed=2, start=date(2026, 6, 1), database=":memory:")
    text = report.to_markdown()
    assert "day 1 is 2026-06-01 (UTC)" in text
    assert "| 1-7 |" in text and "| 8-8 |" in text  # weekly rows of points issued vs spent
    assert math.isclose(sum(c.share for c in report.level_distribution), 1, abs_tol=0.01)


def test_whales_buy_the_premium_pass_claim_tiers_and_use_boosts(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from gamification_sdk import Season, TierReward

    season = Season(
        "s1", datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC),
        total_tiers=20, xp_per_tier=100, premium_price=300,
        free_rewards=[TierReward(1, points={"points": 50})],
        premium_rewards=[TierReward(2, points={"points": 100})],
    )  # fmt: skip
    catalogue = {
        "rules": [{"event": "workout", "xp": 60, "points": {"points": 40}}],
        "shop": [{"key": "boost", "name": "Tier boost", "kind": "tier_boost",
                  "price": {"points": 200}}],
    }  # fmt: skip
    path = tmp_path / "sim.db"
    report = simulate(users=10, days=5, profile="whale", config=Config(seasons=[season]),
                      definitions=catalogue, database=path)  # fmt: skip
    with Gamification.open(path, config=Config(seasons=[season]), load_entrypoints=False) as g:
        claims = dict(g.db.execute(
            "SELECT track, COUNT(*) FROM battle_pass_claims GROUP BY track"
        ).fetchall())  # fmt: skip
        premium, boosts = g.db.execute(
            "SELECT COUNT(premium_at), SUM(boosts) FROM battle_pass_progress"
        ).fetchone()
        assert claims.get("free", 0) > 0 and claims.get("premium", 0) > 0
        assert premium > 0 and boosts > 0
    assert report.ledger_ok and report.currencies[0].spent > 0
