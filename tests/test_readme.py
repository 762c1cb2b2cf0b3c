"""Every ```python block in the README runs as written, so the documentation cannot rot."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gamification_sdk import Config, Gamification

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})


PACK_READMES = sorted(README.parent.glob("plugins/gamification-sdk-*/README.md"))


@pytest.mark.parametrize("path", PACK_READMES, ids=lambda p: p.parent.name)
def test_plugin_readme_python_blocks_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples open "app.db"
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text("utf-8"), re.S)):
        exec(compile(block, f"{path.parent.name}/README.md block {i}", "exec"), {})


def test_readme_toml_example_is_a_valid_config() -> None:
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", TEXT, flags=re.S) if "[levels]" in b]
    config = Config.from_dict(tomllib.loads(block))
    assert config.levels.curve == "exponential"
    assert config.durability == "full"


def test_readme_quick_start_commands_exist() -> None:
    assert "./run demo" in TEXT and "./run test" in TEXT
    script = (README.parent / "run").read_text()
    assert "demo)" in script and "test)" in script


def test_readme_quest_example_loads() -> None:
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", TEXT, flags=re.S) if "[[quests]]" in b]
    quests = tomllib.loads(block)["quests"]
    # The names it refers to, so the example loads as written.
    quests.append({"key": "warm_up_week", "name": "Warm-up week", "verification": True})
    achievement = {"key": "first_workout", "name": "First workout",
                   "criteria": {"type": "first_time", "event": "workout"}}  # fmt: skip
    with Gamification.open(":memory:", load_entrypoints=False) as g:
        report = g.load_definitions({"achievements": [achievement], "quests": quests}, name="r")
    assert "quest:morning_cardio" in report.added


def test_readme_shop_example_loads() -> None:
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", TEXT, flags=re.S) if "[[shop]]" in b]
    with Gamification.open(":memory:", load_entrypoints=False) as g:
        report = g.load_definitions(tomllib.loads(block), name="r")
        assert report.added == ("shop:streak_freeze", "shop:swan_tshirt")
        freeze, tshirt = g.shop()
    assert (freeze.per_user_limit, tshirt.stock, tshirt.metadata) == (3, 50, {"sku": "TS-SWAN-M"})
