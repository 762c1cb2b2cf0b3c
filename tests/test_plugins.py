"""Plugins: one test per hook with a real plugin, the hook error policy, and the manager."""

from __future__ import annotations

import ast
import inspect
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import pluggy
import pytest
from click.testing import CliRunner
from conftest import START, unchanged

import gamification_sdk
from gamification_sdk import (
    Config,
    FakeClock,
    Gamification,
    LevelsConfig,
    Transaction,
    XPAward,
    errors,
    hookimpl,
)
from gamification_sdk.models import AwardRequest
from gamification_sdk.runtime.plugins import get_plugin_manager

Make = Callable[..., Gamification]
ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
HOOKSPECS = ROOT / "gamification_sdk" / "hookspecs.py"
DEFAULTS = {
    "gamification_sdk.default_plugins.jobs",
    "gamification_sdk.default_plugins.curves",
    "gamification_sdk.default_plugins.boosts",
    "gamification_sdk.default_plugins.tiers",
}


# -- level_curve -----------------------------------------------------------------------------


class Cubic:
    def total_xp_for(self, level: int) -> int:
        return (level - 1) ** 3


class CubicCurvePlugin:
    @hookimpl
    def level_curve(self, levels: LevelsConfig) -> Cubic | None:
        return Cubic() if levels.custom == "cubic" else None


def test_level_curve_hook(make_engine: Make) -> None:
    config = Config(levels=LevelsConfig(curve="custom", custom="cubic", max_level=6))
    g = make_engine(config=config, plugins=(CubicCurvePlugin(),))
    assert g.xp.level_table.thresholds == (0, 1, 8, 27, 64, 125)
    assert g.award_xp("alice", 27, source="quest").new_level == 4
    with pytest.raises(errors.ConfigError):
        make_engine(config=config)  # nobody answers for "cubic" without the plugin


# -- xp_multiplier ---------------------------------------------------------------------------


class Factor:
    def __init__(self, factor: float | None, only_source: str | None = None) -> None:
        self.factor = factor
        self.only_source = only_source
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    def xp_multiplier(
        self,
        engine: Gamification,
        user_id: str,
        source: str,
        base_amount: int,
        at: Any,
        metadata: Any,
    ) -> float | None:
        self.calls.append(
            {
                "engine": engine,
                "user_id": user_id,
                "source": source,
                "base_amount": base_amount,
                "at": at,
                "metadata": metadata,
            }
        )
        if self.only_source is not None and source != self.only_source:
            return None
        return self.factor


def test_xp_multiplier_hook_factors_multiply_and_none_is_ignored(make_engine: Make) -> None:
    double, one_and_half, nothing = Factor(2.0), Factor(1.5), Factor(None)
    g = make_engine(plugins=(double, one_and_half, nothing))
    award = g.award_xp("alice", 100, source="quest", metadata={"k": "v"})
    assert (award.multiplier, award.amount) == (3.0, 300)
    assert g.xp.history("alice")[0].multiplier == 3.0
    assert nothing.calls == [
        {
            "engine": g,
            "user_id": "alice",
            "source": "quest",
            "base_amount": 100,
            "at": START,
            "metadata": {"k": "v"},
        }
    ]


def test_xp_multiplier_hook_multiplies_with_boosts_and_is_capped(make_engine: Make) -> None:
    g = make_engine(config=Config(max_xp_multiplier=4.0), plugins=(Factor(2.0),))
    g.xp.add_boost("alice", 1.25, expires_at=START + timedelta(hours=1), source="event")
    assert g.award_xp("alice", 10, source="quest").amount == 25
    g.xp.add_boost("alice", 3.0, expires_at=START + timedelta(hours=1), source="event")
    award = g.award_xp("alice", 10, source="quest")
    assert (award.multiplier, award.amount) == (4.0, 40)


def test_xp_multiplier_hook_may_look_at_the_source(make_engine: Make) -> None:
    g = make_engine(plugins=(Factor(2.0, only_source="raid"),))
    assert g.award_xp("alice", 10, source="quest").amount == 10
    assert g.award_xp("alice", 10, source="raid").amount == 20


def test_xp_multiplier_registered_after_open_multiplies_and_unregistered_stops(
    make_engine: Make,
) -> None:
    g = make_engine()
    assert g.award_xp("alice", 10, source="quest").amount == 10
    double = Factor(2.0)
    g.pm.register(double)
    assert g.award_xp("alice", 10, source="quest").amount == 20
    g.pm.unregister(double)
    assert g.award_xp("alice", 10, source="quest").amount == 10
    assert len(double.calls) == 1


@pytest.mark.parametrize("factor", [0, -1.0, float("nan"), "2"])
def test_xp_multiplier_hook_bad_factor_writes_nothing(make_engine: Make, factor: Any) -> None:
    g = make_engine(plugins=(Factor(factor),))
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.award_xp("alice", 10, source="quest")
    assert info.value.field == "xp_multiplier"


# -- validate_award --------------------------------------------------------------------------


class Veto:
    def __init__(self) -> None:
        self.requests: list[AwardRequest] = []

    @hookimpl
    def validate_award(self, engine: Gamification, award: AwardRequest) -> str | None:
        self.requests.append(award)
        if award.source == "cheat":
            return "source 'cheat' is not allowed"
        if award.amount > 1000:
            return ""  # falsy: not a veto
        return None


def test_validate_award_hook_rejects_xp_and_points_and_writes_nothing(make_engine: Make) -> None:
    veto = Veto()
    g = make_engine(plugins=(veto,))
    g.award_xp("alice", 10, source="quest")
    g.award_points("alice", 10, currency="points", source="quest")
    with unchanged(g):
        with pytest.raises(errors.Rejected) as info:
            g.award_xp("alice", 10, source="cheat", idempotency_key="x1")
        assert "source 'cheat' is not allowed" in str(info.value)
        assert info.value.reason == "source 'cheat' is not allowed"
        with pytest.raises(errors.Rejected):
            g.award_xp("newcomer", 10, source="cheat")  # no profile is left behind
        with pytest.raises(errors.Rejected):
            g.award_points("alice", 10, currency="points", source="cheat", idempotency_key="p1")
        with pytest.raises(errors.Rejected):
            g.award_points("newcomer", 10, currency="points", source="cheat")
    # A rejected call does not burn its key.
    assert g.award_xp("alice", 5, source="quest", idempotency_key="x1").amount == 5
    assert g.award_xp("alice", 5000, source="quest").amount == 5000
    kinds = [(r.kind, r.user_id, r.amount, r.source, r.currency) for r in veto.requests[:2]]
    assert kinds == [("xp", "alice", 10, "quest", None), ("points", "alice", 10, "quest", "points")]
    assert veto.requests[0].at == START


# -- after-commit hooks ----------------------------------------------------------------------


class Watcher:
    """Records each after-commit call and what another engine on the file sees at that moment.

    The observer has its own connection, so it only ever sees committed rows.
    """

    def __init__(self, observer: Gamification) -> None:
        self.observer = observer
        self.awarded: list[tuple[XPAward, int | None, int]] = []
        self.level_ups: list[tuple[str, int, int, XPAward, int | None, int]] = []

    def _committed(self, award: XPAward) -> tuple[int | None, int]:
        entries = self.observer.xp.history(award.user_id, limit=1000)
        total = next((e.total_xp for e in entries if e.id == award.id), None)
        return total, self.observer.profile(award.user_id).xp

    @hookimpl
    def on_xp_awarded(self, engine: Gamification, award: XPAward) -> None:
        assert engine.xp.history(award.user_id, limit=1)[0].id == award.id
        self.awarded.append((award, *self._committed(award)))

    @hookimpl
    def on_level_up(
        self, engine: Gamification, user_id: str, old_level: int, new_level: int, award: XPAward
    ) -> None:
        self.level_ups.append((user_id, old_level, new_level, award, *self._committed(award)))


def test_on_xp_awarded_and_on_level_up_run_after_commit(make_engine: Make, db_path: Path) -> None:
    watcher = Watcher(make_engine(db_path))
    g = make_engine(db_path, plugins=(watcher,))
    first = g.award_xp("alice", 50, source="quest")
    second = g.award_xp("alice", 400, source="quest")  # level 1 -> 3
    assert watcher.awarded == [(first, 50, 50), (second, 450, 450)]
    assert watcher.level_ups == [("alice", 1, 3, second, 450, 450)]


def test_after_commit_hooks_not_called_for_failed_writes(make_engine: Make, db_path: Path) -> None:
    watcher = Watcher(make_engine(db_path))
    g = make_engine(db_path, plugins=(watcher, Veto()))
    with pytest.raises(errors.Rejected):
        g.award_xp("alice", 500, source="cheat")
    with pytest.raises(errors.InvalidInput):
        g.award_xp("alice", 0, source="quest")
    assert watcher.awarded == watcher.level_ups == []


class PointsWatcher:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, str, str, int]] = []

    @hookimpl
    def on_points_changed(self, engine: Gamification, transaction: Transaction) -> None:
        self.seen.append(
            (
                transaction.user_id,
                transaction.amount,
                transaction.type,
                transaction.source,
                engine.balance(transaction.user_id, transaction.currency),
            )
        )


def test_on_points_changed_hook(make_engine: Make) -> None:
    watcher = PointsWatcher()
    config = Config(levels=LevelsConfig(level_up_bonus={"points": 7}))
    g = make_engine(config=config, plugins=(watcher,))
    g.award_points("alice", 100, currency="points", source="quest")
    spent = g.spend_points("alice", 30, currency="points", source="shop")
    g.transfer_points("alice", "bob", 20, currency="points", source="gift")
    g.award_xp("carol", 400, source="quest")  # levels 2 and 3: two reward credits
    g.refund(spent.id, amount=10)
    g.points.adjust("bob", -5, currency="points", reason="correction")
    held = g.reserve_points("alice", 15, currency="points", ttl=60)
    g.commit_reservation(held.id)
    assert watcher.seen == [
        ("alice", 100, "earned", "quest", 100),
        ("alice", -30, "spent", "shop", 70),
        ("alice", -20, "transfer", "gift", 50),
        ("bob", 20, "transfer", "gift", 20),
        ("carol", 7, "bonus", "level_up", 14),  # hooks run after commit: both credits done
        ("carol", 7, "bonus", "level_up", 14),
        ("alice", 10, "refund", "refund", 60),
        ("bob", -5, "admin_adjustment", "admin", 15),
        ("alice", -15, "purchase", "purchase", 45),
    ]


def test_no_points_hook_for_awards_without_rewards(make_engine: Make) -> None:
    watcher = PointsWatcher()
    g = make_engine(plugins=(watcher,))
    g.award_xp("alice", 500, source="quest")
    assert watcher.seen == []


# -- register_commands -----------------------------------------------------------------------


@click.command("hello")
@click.argument("name")
def hello(name: str) -> None:
    """Greet NAME."""
    click.echo(f"hello {name}")


class HelloCommandPlugin:
    def __init__(self, command: click.Command = hello) -> None:
        self.command = command

    @hookimpl
    def register_commands(self, register: Callable[[click.Command], None]) -> None:
        register(self.command)


def test_register_commands_hook_adds_commands_to_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gamification_sdk import cli as cli_module

    pm = get_plugin_manager([HelloCommandPlugin()], load_entrypoints=False)
    monkeypatch.setattr(cli_module, "get_plugin_manager", lambda: pm)
    monkeypatch.setattr(cli_module.cli, "_from_plugins", None)
    runner = CliRunner()
    assert runner.invoke(cli_module.cli, ["hello", "ada"]).stdout == "hello ada\n"
    assert "hello" in runner.invoke(cli_module.cli, ["--help"]).stdout
    assert runner.invoke(cli_module.cli, ["--no-plugins", "hello", "ada"]).exit_code == 2
    # A name a command already has, or a thing that is not a command, is refused.
    for bad in (click.Command("profile"), "hello"):
        clash = get_plugin_manager([HelloCommandPlugin(bad)], load_entrypoints=False)  # type: ignore[arg-type]
        with pytest.raises(errors.ConfigError, match="register_commands"):
            cli_module.plugin_commands(clash, set(cli_module.cli.commands))


# -- hook error policy -----------------------------------------------------------------------


class Boom:
    def __init__(self, message: str = "boom") -> None:
        self.message = message

    @hookimpl
    def on_xp_awarded(self, award: XPAward) -> None:
        raise RuntimeError(self.message)


class Counter:
    def __init__(self) -> None:
        self.awards: list[XPAward] = []
        self.level_ups: list[int] = []

    @hookimpl
    def on_xp_awarded(self, award: XPAward) -> None:
        self.awards.append(award)

    @hookimpl
    def on_level_up(self, new_level: int) -> None:
        self.level_ups.append(new_level)


@pytest.mark.parametrize("order", ["boom-first", "boom-last"])
def test_hook_errors_log(make_engine: Make, caplog: pytest.LogCaptureFixture, order: str) -> None:
    counter = Counter()
    plugins = (Boom(), counter) if order == "boom-first" else (counter, Boom())
    g = make_engine(config=Config(hook_errors="log"), plugins=plugins)
    with caplog.at_level(logging.ERROR, logger="gamification_sdk"):
        award = g.award_xp("alice", 150, source="quest")
    assert award.total_xp == 150
    assert g.profile("alice").xp == 150  # committed
    assert counter.awards == [award]  # the other plugin still ran
    assert counter.level_ups == [2]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert "on_xp_awarded" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert str(failures[0].exc_info[1]) == "boom"


def test_hook_errors_raise_after_all_plugins_ran(make_engine: Make) -> None:
    counter = Counter()
    g = make_engine(
        config=Config(hook_errors="raise"), plugins=(Boom("first"), counter, Boom("second"))
    )
    with pytest.raises(errors.HookError) as info:
        g.award_xp("alice", 150, source="quest", idempotency_key="k1")
    exc = info.value
    award = exc.result
    assert isinstance(award, XPAward)
    assert (award.user_id, award.total_xp, award.new_level) == ("alice", 150, 2)
    assert sorted(str(e) for _, e in exc.errors) == ["first", "second"]
    assert all(name.endswith(".on_xp_awarded") for name, _ in exc.errors)
    assert counter.awards == [award]
    assert counter.level_ups == [2]  # hooks of the other event ran too
    # The write was committed: a retry is a replay that returns the award.
    with unchanged(g):
        assert g.award_xp("alice", 150, source="quest", idempotency_key="k1") == award
    assert g.profile("alice").xp == 150
    assert len(g.xp.history("alice")) == 1


def test_hook_errors_raise_for_points(make_engine: Make) -> None:
    class PointsBoom:
        @hookimpl
        def on_points_changed(self, transaction: Transaction) -> None:
            raise ValueError("nope")

    g = make_engine(config=Config(hook_errors="raise"), plugins=(PointsBoom(),))
    with pytest.raises(errors.HookError) as info:
        g.award_points("alice", 10, currency="points", source="quest")
    assert isinstance(info.value.result, Transaction)
    assert g.balance("alice", "points") == 10


# -- the plugin manager ----------------------------------------------------------------------


def test_misspelt_hook_name_fails_open(make_engine: Make) -> None:
    class Typo:
        @hookimpl
        def on_xp_awardd(self, award: XPAward) -> None:
            pass

    with pytest.raises(pluggy.PluginValidationError, match="on_xp_awardd"):
        make_engine(plugins=(Typo(),))


def test_unknown_hook_argument_fails_open(make_engine: Make) -> None:
    class WrongArgs:
        @hookimpl
        def on_xp_awarded(self, xp_award: XPAward) -> None:
            pass

    with pytest.raises(pluggy.PluginValidationError, match="xp_award"):
        make_engine(plugins=(WrongArgs(),))


def test_load_entrypoints_false_gives_only_default_plugins(g: Gamification) -> None:
    assert dict(g.pm.list_name_plugin()).keys() == DEFAULTS


def test_host_plugins_are_registered_after_defaults(make_engine: Make) -> None:
    counter = Counter()
    g = make_engine(plugins=(counter,))
    registered = dict(g.pm.list_name_plugin())
    assert registered.keys() > DEFAULTS
    assert counter in registered.values()


def test_get_plugin_manager_returns_a_new_manager_each_call() -> None:
    first = get_plugin_manager(load_entrypoints=False)
    second = get_plugin_manager(load_entrypoints=False)
    assert first is not second
    first.register(Factor(2.0))
    assert len(first.get_plugins()) == len(second.get_plugins()) + 1
    assert get_plugin_manager().project_name == "gamification_sdk"


def test_engines_do_not_share_plugins(make_engine: Make) -> None:
    boosted = make_engine(plugins=(Factor(2.0),))
    plain = make_engine()
    assert boosted.award_xp("alice", 10, source="quest").amount == 20
    assert plain.award_xp("alice", 10, source="quest").amount == 10


def test_entry_point_plugins_load_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: FakeClock
) -> None:
    (tmp_path / "gsdk_triple_plugin.py").write_text(
        "from gamification_sdk import hookimpl\n\n"
        "@hookimpl\n"
        "def xp_multiplier(source):\n"
        "    return 3.0\n",
        encoding="utf-8",
    )
    dist = tmp_path / "gsdk_triple_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gsdk-triple-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[gamification_sdk]\ntriple = gsdk_triple_plugin\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with Gamification.open(":memory:", clock=clock, load_entrypoints=True) as g:
        assert "triple" in dict(g.pm.list_name_plugin())
        assert g.award_xp("alice", 10, source="quest").amount == 30
    with Gamification.open(":memory:", clock=clock, load_entrypoints=False) as g:
        assert "triple" not in dict(g.pm.list_name_plugin())
        assert g.award_xp("alice", 10, source="quest").amount == 10


def test_hookimpl_is_exported() -> None:
    assert gamification_sdk.hookimpl.project_name == "gamification_sdk"


# -- meta-tests: every hook is documented and tested -----------------------------------------


def hookspec_names() -> dict[str, str | None]:
    """Every function decorated with ``@hookspec`` in hookspecs.py, with its docstring."""
    tree = ast.parse(HOOKSPECS.read_text(encoding="utf-8"))
    found: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Name) and target.id == "hookspec":
                    found[node.name] = ast.get_docstring(node)
    return found


def test_hookspecs_are_found() -> None:
    names = hookspec_names()
    assert len(names) >= 6
    # The parse agrees with what pluggy registers.
    pm = get_plugin_manager(load_entrypoints=False)
    assert set(names) == {name for name in vars(pm.hook) if not name.startswith("_")}


def test_every_hookspec_has_a_docstring() -> None:
    missing = [name for name, doc in hookspec_names().items() if not (doc and doc.strip())]
    assert missing == []


def hooks_table() -> dict[str, list[str]]:
    """The hand-written hooks table of the plugins guide: hook name -> its row's cells.

    The generated hook reference does not count: it documents a hook by existing.
    """
    text = (ROOT / "docs" / "guides" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("\n## Hooks\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        found = re.match(r"\| `(\w+)\(", line)
        if found:
            assert found.group(1) not in rows, f"{found.group(1)} has two rows"
            rows[found.group(1)] = [cell.strip() for cell in line.strip("|").split(" | ")]
    return rows


def test_every_hookspec_has_an_entry_in_the_plugins_guide() -> None:
    rows = hooks_table()
    assert sorted(rows) == sorted(hookspec_names())  # every hook, and no row for a gone one
    # Each entry says when the hook runs and what it is for.
    assert [name for name, cells in rows.items() if len(cells) != 3 or not all(cells)] == []


def test_every_hookspec_has_a_test() -> None:
    meta = {
        inspect.getsource(fn)
        for fn in (
            hookspec_names,
            test_hookspecs_are_found,
            test_every_hookspec_has_a_docstring,
            hooks_table,
            test_every_hookspec_has_an_entry_in_the_plugins_guide,
            test_every_hookspec_has_a_test,
        )
    }
    texts = []
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for source in meta:
            text = text.replace(source, "")
        texts.append(text)
    corpus = "\n".join(texts)
    # A test implements the hook: ``def <hook>(`` in some test plugin.
    untested = [name for name in hookspec_names() if not re.search(rf"\bdef {name}\(", corpus)]
    assert untested == []
