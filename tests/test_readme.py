"""Every ```python block in the README and the docs runs as written, so the documentation
cannot rot; the TOML examples load as the configuration or definitions they claim to be."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from docs_text import README, ROOT, block_containing, blocks, documentation

from gamification_sdk import Config, Gamification

PYTHON = [
    (path, i, block) for path in documentation() for i, block in enumerate(blocks(path, "python"))
]


def test_readme_and_docs_have_python_examples() -> None:
    assert len(blocks(README, "python")) >= 2
    assert len(PYTHON) >= 20


@pytest.mark.parametrize(
    ("path", "index", "block"), PYTHON, ids=[f"{p.relative_to(ROOT)}#{i}" for p, i, _ in PYTHON]
)
def test_python_block_runs(
    path: Path,
    index: int,
    block: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.chdir(tmp_path)  # an example that opens a file writes it here
    if "GAMIFICATION_POSTGRES_URL" in block:
        # A PostgreSQL example runs against the test server (skipped, with the reason,
        # where there is none).
        monkeypatch.setenv("GAMIFICATION_POSTGRES_URL", request.getfixturevalue("postgres_url"))
    exec(compile(block, f"{path.relative_to(ROOT)} block {index}", "exec"), {})


PACK_READMES = sorted(ROOT.glob("plugins/gamification-sdk-*/README.md"))


@pytest.mark.parametrize("path", PACK_READMES, ids=lambda p: p.parent.name)
def test_plugin_readme_python_blocks_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples open "app.db"
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text("utf-8"), re.S)):
        exec(compile(block, f"{path.parent.name}/README.md block {i}", "exec"), {})


def test_configuration_toml_example_is_a_valid_config() -> None:
    config = Config.from_dict(tomllib.loads(block_containing("toml", "[levels]")))
    assert config.levels.curve == "exponential"
    assert config.durability == "full"


def test_readme_quick_start_commands_exist() -> None:
    text = README.read_text(encoding="utf-8")
    assert "./run demo" in text and "./run test" in text
    script = (ROOT / "run").read_text()
    assert "demo)" in script and "test)" in script and "docs)" in script


def test_quest_toml_example_loads() -> None:
    quests = tomllib.loads(block_containing("toml", "[[quests]]"))["quests"]
    # The names it refers to, so the example loads as written.
    quests.append({"key": "warm_up_week", "name": "Warm-up week", "verification": True})
    achievement = {"key": "first_workout", "name": "First workout",
                   "criteria": {"type": "first_time", "event": "workout"}}  # fmt: skip
    with Gamification.open(":memory:", load_entrypoints=False) as g:
        report = g.events.load({"achievements": [achievement], "quests": quests}, name="r")
    assert "quest:morning_cardio" in report.added


def test_shop_toml_example_loads() -> None:
    with Gamification.open(":memory:", load_entrypoints=False) as g:
        report = g.events.load(tomllib.loads(block_containing("toml", "[[shop]]")), name="r")
        assert report.added == ("shop:streak_freeze", "shop:swan_tshirt")
        freeze, tshirt = g.shop.list()
    assert (freeze.per_user_limit, tshirt.stock, tshirt.metadata) == (3, 50, {"sku": "TS-SWAN-M"})


def test_battle_pass_toml_example_is_a_valid_config() -> None:
    config = Config.from_dict(tomllib.loads(block_containing("toml", "[[seasons]]")))
    (season,) = config.battle_pass_seasons
    assert (season.key, season.total_tiers, season.premium_price) == ("summer-2026", 50, 30_000)
    assert [r.tier for r in season.free_rewards] == [1, 5]
    assert season.premium_rewards[0].titles == ("Summer Warrior",)
