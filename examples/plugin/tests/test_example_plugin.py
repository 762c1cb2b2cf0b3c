"""The example plugin: found through its entry point, loaded by engines that load entry points,
its criterion unlocks an achievement defined with it, and its notifier hears the unlock."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import gamification_example_plugin as example
import pytest

from gamification_sdk import FakeClock, Gamification

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
README = Path(__file__).resolve().parent.parent / "README.md"


def saver(target: int = 1000, currency: str = "points") -> dict[str, Any]:
    return {
        "rules": [{"event": "workout", "points": {"points": 400}}],
        "achievements": [{
            "key": "saver", "name": "Saver", "description": "Hold 1,000 points at once",
            "criteria": {"type": "custom", "name": example.BALANCE, "target": target,
                         "events": ["workout"], "params": {"currency": currency}},
        }],
    }  # fmt: skip


@pytest.fixture
def g() -> Iterator[Gamification]:
    # Through the entry point, as an installed plugin is loaded in an application.
    with Gamification.open(":memory:", clock=FakeClock(START), load_entrypoints=True) as engine:
        yield engine


def test_found_through_its_entry_point() -> None:
    found = [ep for ep in entry_points(group="gamification_sdk") if ep.name == "example_plugin"]
    assert [ep.value for ep in found] == ["gamification_example_plugin"]
    assert found[0].load() is example


def test_loaded_when_an_engine_opens_with_entry_points(g: Gamification) -> None:
    assert dict(g.pm.list_name_plugin())["example_plugin"] is example
    with Gamification.open(":memory:", load_entrypoints=False) as without:
        assert "example_plugin" not in dict(without.pm.list_name_plugin())


def test_its_criterion_unlocks_an_achievement_defined_with_it(g: Gamification) -> None:
    g.events.load(saver(), name="savings")
    assert [g.track("ada", "workout").unlocked for _ in range(2)] == [(), ()]
    third = g.track("ada", "workout")  # the evaluator sees this event's 400 points: 1,200
    assert [(u.key, u.name) for u in third.unlocked] == [("saver", "Saver")]
    status = g.achievements.get("ada", "saver")
    assert (status.unlocked, status.current, status.target) == (True, 1200, 1000)


def test_its_criterion_counts_points_held_not_points_earned(g: Gamification) -> None:
    g.events.load(saver(), name="savings")
    g.track("ada", "workout")
    g.track("ada", "workout")
    g.spend_points("ada", 500, currency="points", source="shop")
    assert g.track("ada", "workout").unlocked == ()  # earned 1,200, holds 700
    assert g.achievements.get("ada", "saver").current == 700


def test_an_unknown_currency_counts_zero_instead_of_failing_the_event(g: Gamification) -> None:
    g.events.load(saver(target=1, currency="gems"), name="savings")
    result = g.track("ada", "workout")
    assert result.unlocked == () and g.balance("ada", "points") == 400


def test_its_notifier_logs_the_unlock_and_prints_nothing(
    g: Gamification, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    g.events.load(saver(target=400), name="savings")
    with caplog.at_level(logging.INFO, logger=example.log.name):
        g.track("ada", "workout")
    records = [r for r in caplog.records if r.name == example.log.name]
    assert [r.getMessage() for r in records] == [
        "notify ada achievement_unlocked: Achievement unlocked: Saver"
    ]
    notification = records[0].notification  # type: ignore[attr-defined]
    assert (notification.kind, notification.data["key"]) == ("achievement_unlocked", "saver")
    assert capsys.readouterr() == ("", "")


def test_readme_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example configures logging for a script; a test must not reconfigure the process.
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)
    assert len(blocks) == 2
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile("from gamification_sdk import hookimpl\n" + block, str(README), "exec"),
             namespace)  # fmt: skip
    assert namespace["register_criteria"] is not None
