"""After-commit hooks are ordinary pluggy calls: wrappers and tracing see them, and one
failing plugin still lets every other one run, under each ``hook_errors`` setting."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pluggy
import pytest
from conftest import START

from gamification_sdk import (
    Config,
    Gamification,
    StatusTier,
    StatusTiersConfig,
    XPAward,
    errors,
    hookimpl,
)
from gamification_sdk.config.leaderboards import LeaderboardsConfig

Make = Callable[..., Gamification]
ROOT = Path(__file__).resolve().parent.parent
AFTER_COMMIT = (
    "on_xp_awarded", "on_level_up", "on_points_changed", "on_achievement_unlocked", "notify",
    "on_quest_completed", "on_leaderboard_closed", "on_ledger_audit", "on_user_deleted",
    "on_tier_changed",
)  # fmt: skip
DEFINITIONS: dict[str, Any] = {
    "achievements": [
        {"key": "first_like", "name": "First like",
         "criteria": {"type": "first_time", "event": "like"}},
    ],
    "quests": [
        {"key": "greeter", "name": "Greeter", "recurrence": "one_time", "rewards": {"xp": 4},
         "objectives": [{"event": "wave", "target": 1}]},
    ],
}  # fmt: skip
PUBLIC = Config(
    leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True),
    # Reached only by exercise()'s last award, so the other call orders stay as they are.
    tiers=StatusTiersConfig(measure="xp", window_months=12, tiers=(StatusTier("legend", 10**9),)),
)


def _wrap(hook: str) -> Any:
    @hookimpl(wrapper=True, specname=hook)
    def wrap(self: Wrapper, engine: Gamification) -> Generator[None, Any, Any]:
        assert isinstance(engine, Gamification)
        self.entered.append(hook)
        result = yield
        self.results.append((hook, result))
        if hook in self.fail_in:
            raise RuntimeError(f"wrapper failed in {hook}")
        return result

    return wrap


def _answer(hook: str) -> Any:
    @hookimpl(specname=hook)
    def answer(self: Plain, engine: Gamification) -> str:
        self.calls.append(hook)
        return f"{self.name}:{hook}"

    return answer


def _raise(hook: str) -> Any:
    @hookimpl(specname=hook)
    def fail(self: Boom) -> None:
        raise RuntimeError(f"boom in {hook}")

    return fail


class Wrapper:
    """A new-style wrapper (``wrapper=True``) of every after-commit hook."""

    def __init__(self, fail_in: Sequence[str] = ()) -> None:
        self.fail_in = set(fail_in)
        self.entered: list[str] = []
        self.results: list[tuple[str, Any]] = []


class Plain:
    def __init__(self, name: str = "plain") -> None:
        self.name = name
        self.calls: list[str] = []


class Boom:
    pass


for _hook in AFTER_COMMIT:
    setattr(Wrapper, f"wrap_{_hook}", _wrap(_hook))
    setattr(Plain, f"answer_{_hook}", _answer(_hook))
    setattr(Boom, f"fail_{_hook}", _raise(_hook))


def exercise(g: Gamification) -> None:
    """One committed call at least for each after-commit hook."""
    g.events.load(DEFINITIONS, name="d")
    g.award_xp("ada", 150, source="quiz")  # on_xp_awarded, on_level_up, notify
    g.award_points("ada", 10, currency="points", source="quiz")  # on_points_changed
    g.track("ada", "like")  # on_achievement_unlocked
    g.track("ada", "wave")  # on_quest_completed
    g.boards.close_periods(START + timedelta(days=1))  # on_leaderboard_closed
    g.jobs.run_due()  # on_ledger_audit
    g.award_xp("bob", 5, source="quiz")
    g.privacy.delete("bob")  # on_user_deleted
    g.award_xp("ada", 10**9, source="quiz")  # on_tier_changed


def test_every_after_commit_hook_is_emitted_by_the_engine() -> None:
    """AFTER_COMMIT is complete: the tests below then cover every after-commit hook."""
    source = "\n".join(p.read_text() for p in (ROOT / "gamification_sdk").rglob("*.py"))
    assert set(re.findall(r"\.emit\(\s*\"(\w+)\"", source)) == set(AFTER_COMMIT)


def test_a_wrapper_sees_each_after_commit_call_and_its_result(make_engine: Make) -> None:
    wrapper, plain = Wrapper(), Plain()
    g = make_engine(config=PUBLIC, plugins=(plain, wrapper))
    exercise(g)
    assert set(plain.calls) == set(AFTER_COMMIT)
    # One wrapped call per plain call, around it, with the plain plugin's result.
    assert wrapper.entered == plain.calls
    assert wrapper.results == [(hook, [f"plain:{hook}"]) for hook in plain.calls]


def test_tracing_and_hookcall_monitoring_see_after_commit_calls(make_engine: Make) -> None:
    plain = Plain()
    g = make_engine(plugins=(plain,))
    monitored: list[tuple[str, Mapping[str, object], object]] = []
    started: list[str] = []

    def before(name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, object]) -> None:
        started.append(name)

    def after(
        outcome: pluggy.Result[object],
        name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, object],
    ) -> None:
        monitored.append((name, kwargs, outcome.get_result()))

    undo = g.pm.add_hookcall_monitoring(before, after)
    award = g.award_xp("ada", 150, source="quiz")
    undo()
    assert started == [name for name, _, _ in monitored] == ["on_xp_awarded", "notify",
                                                              "on_level_up"]  # fmt: skip
    _, kwargs, result = monitored[0]
    assert kwargs["award"] == award and kwargs["engine"] is g
    assert result == ["plain:on_xp_awarded"]
    lines: list[str] = []
    g.pm.trace.root.setwriter(lines.append)
    undo = g.pm.enable_tracing()
    g.award_points("ada", 5, currency="points", source="quiz")
    undo()
    assert any("on_points_changed" in line for line in lines)
    assert any("finish on_points_changed" in line for line in lines)


@pytest.mark.parametrize("order", ["boom-first", "boom-last"])
def test_a_failing_plugin_is_logged_and_the_others_run(
    make_engine: Make, caplog: pytest.LogCaptureFixture, order: str
) -> None:
    wrapper, plain = Wrapper(), Plain()
    plugins = (Boom(), plain, wrapper) if order == "boom-first" else (wrapper, plain, Boom())
    g = make_engine(config=Config(hook_errors="log"), plugins=plugins)
    with caplog.at_level(logging.ERROR, logger="gamification_sdk"):
        award = g.award_xp("ada", 150, source="quiz")
    assert g.profile("ada").xp == award.total_xp == 150  # committed
    assert plain.calls == ["on_xp_awarded", "notify", "on_level_up"]
    # The wrapper saw the call end normally, with what the plugins that worked answered.
    assert wrapper.results == [(hook, [f"plain:{hook}"]) for hook in plain.calls]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [str(r.exc_info[1]) for r in failures if r.exc_info] == [
        f"boom in {hook}" for hook in plain.calls
    ]


def test_failing_plugins_raise_together_after_all_ran(make_engine: Make) -> None:
    wrapper, plain = Wrapper(), Plain()
    g = make_engine(config=Config(hook_errors="raise"), plugins=(Boom(), plain, wrapper, Boom()))
    with pytest.raises(errors.HookError) as info:
        g.award_xp("ada", 150, source="quiz", idempotency_key="k")
    award = info.value.result
    assert isinstance(award, XPAward) and g.profile("ada").xp == award.total_xp == 150
    assert plain.calls == ["on_xp_awarded", "notify", "on_level_up"]
    assert wrapper.results == [(hook, [f"plain:{hook}"]) for hook in plain.calls]
    assert [(name.rsplit(".", 1)[1], str(exc)) for name, exc in info.value.errors] == [
        (hook, f"boom in {hook}") for hook in plain.calls for _ in range(2)
    ]
    assert g.award_xp("ada", 150, source="quiz", idempotency_key="k") == award  # a replay


@pytest.mark.parametrize("mode", ["log", "raise"])
def test_a_failing_wrapper_is_reported_and_the_plugins_ran(
    make_engine: Make, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    wrapper, plain, other = Wrapper(fail_in=["on_xp_awarded"]), Plain(), Plain("other")
    g = make_engine(config=Config(hook_errors=mode), plugins=(plain, wrapper, other))
    name = f"{g.pm.get_name(wrapper)}.on_xp_awarded"
    with caplog.at_level(logging.ERROR, logger="gamification_sdk"):
        if mode == "raise":
            with pytest.raises(errors.HookError) as info:
                g.award_xp("ada", 150, source="quiz")
            assert [(n, str(e)) for n, e in info.value.errors] == [
                (name, "wrapper failed in on_xp_awarded")
            ]
        else:
            g.award_xp("ada", 150, source="quiz")
    assert g.profile("ada").xp == 150
    assert plain.calls == other.calls == ["on_xp_awarded", "notify", "on_level_up"]
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and "on_xp_awarded" in logged[0].getMessage()


def test_plugins_run_in_pluggy_order(make_engine: Make) -> None:
    calls: list[str] = []

    class First:
        @hookimpl(tryfirst=True)
        def on_points_changed(self) -> None:
            calls.append("first")

    class Last:
        @hookimpl(trylast=True)
        def on_points_changed(self) -> None:
            calls.append("last")

    class Early:
        @hookimpl
        def on_points_changed(self) -> None:
            calls.append("early")

    class Late:
        @hookimpl
        def on_points_changed(self) -> None:
            calls.append("late")

    g = make_engine(plugins=(Last(), First(), Early(), Late()))
    g.award_points("ada", 5, currency="points", source="quiz")
    assert calls == ["first", "late", "early", "last"]  # later registered, called earlier


def test_a_plugin_registered_after_open_hears_later_writes_until_unregistered(
    make_engine: Make,
) -> None:
    """Each hook's implementations are looked up again when the plugins change."""
    heard: list[int] = []

    class Listener:
        @hookimpl
        def on_xp_awarded(self, award: Any) -> None:
            heard.append(award.total_xp)

    g = make_engine()
    g.award_xp("ada", 1, source="quiz")
    listener = Listener()
    g.pm.register(listener)
    g.award_xp("ada", 2, source="quiz")
    g.pm.unregister(listener)
    g.award_xp("ada", 4, source="quiz")
    assert heard == [3]
