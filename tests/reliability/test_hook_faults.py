"""A plugin that raises, in every hook in turn, under both ``hook_errors`` settings.

The hooks are discovered from the plugin manager, so a new hookspec gets a case here (and
fails until it is given a trigger and a contract). What each kind of hook promises when
its plugin raises (``hookspecs.py``, README "Hooks"):

- ``register_commands``, collected by the command line: it fails with the plugin's error
  before it opens any file;
- at open (``level_curve``, the other ``register_*``): the open fails with the plugin's error, the
  connection is closed (no lock left behind) and the file is exactly as it was;
- ``register_postgres_migrations``, asked at open on PostgreSQL only: a file opens and works
  as if the plugin were not there (the server's case: tests/test_plugin_tables.py);
- inside the transaction: the plugin's error propagates and the whole write is rolled back;
- on a read (``friends_of``): the read fails and nothing is written;
- after commit: the write is kept, the same as with no failing plugin; the error is logged
  (``"log"``) or raised as ``HookError`` carrying the result (``"raise"``);
- ``on_ledger_audit``: after the job, like after commit; under ``"raise"`` the job is
  recorded failed and runs again on the next call;
- ``fulfill_order``: ``FulfillmentFailed``, the hold released and nothing charged.

Every case then checks ``integrity_check`` and ``verify_ledger()``, and that the engine
works again once the plugin is gone.
"""

from __future__ import annotations

import inspect
import logging
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from gamification_sdk import Gamification, errors, hookimpl, hookspecs
from gamification_sdk.cli import plugin_commands
from gamification_sdk.runtime.plugins import get_plugin_manager

from .figures import FIGURES
from .game import CONFIG, START, open_game

HOOKS = sorted(
    name for name in vars(get_plugin_manager(load_entrypoints=False).hook)
    if not name.startswith("_")
)  # fmt: skip

WHEN = {
    "level_curve": "open",
    "register_criteria": "open",
    "register_definitions": "open",
    "register_jobs": "open",
    "register_scorers": "open",
    "register_commands": "cli",
    "register_postgres_migrations": "server",
    "xp_multiplier": "inside",
    "points_multiplier": "inside",
    "validate_award": "inside",
    "verify_quest": "inside",
    "check_referral": "inside",
    "friends_of": "read",
    "on_xp_awarded": "after",
    "on_level_up": "after",
    "on_points_changed": "after",
    "on_achievement_unlocked": "after",
    "notify": "after",
    "notification_stored": "inside",
    "on_quest_completed": "after",
    "on_leaderboard_closed": "after",
    "on_user_deleted": "after",
    "on_tier_changed": "after",
    "on_ledger_audit": "audit",
    "fulfill_order": "fulfil",
}

LATER = START + timedelta(days=2)  # the seeded day's board period has ended
MERCH = {"shop": [{"key": "tee", "name": "Tee", "kind": "external", "price": {"points": 50}}]}

# One call that makes the hook run (the open hooks run on every open).
TRIGGERS: dict[str, Callable[[Gamification], Any]] = {
    "xp_multiplier": lambda g: g.award_xp("u0", 500, source="lesson"),
    "on_xp_awarded": lambda g: g.award_xp("u0", 500, source="lesson"),
    "on_tier_changed": lambda g: g.award_xp("u0", 10**12, source="lesson"),
    "on_level_up": lambda g: g.award_xp("u0", 500, source="lesson"),
    "validate_award": lambda g: g.award_points("u0", 5, currency="points", source="lesson"),
    "points_multiplier": lambda g: g.award_points("u0", 5, currency="points", source="lesson"),
    "on_points_changed": lambda g: g.award_points("u0", 5, currency="points", source="lesson"),
    "on_achievement_unlocked": lambda g: g.track("u2", "workout"),
    "notify": lambda g: g.track("u2", "workout"),
    "notification_stored": lambda g: g.track("u2", "workout"),
    "verify_quest": lambda g: g.quests.complete(
        "u1", "checkin", evidence={"ok": True}, idempotency_key="quest-u1"),
    "on_quest_completed": lambda g: g.quests.complete(
        "u1", "checkin", evidence={"ok": True}, idempotency_key="quest-u1"),
    "check_referral": lambda g: g.referrals.track(g.referrals.code("u5"), "newcomer"),
    "friends_of": lambda g: g.boards.get("xp", scope="friends", viewer="u3"),
    "on_leaderboard_closed": lambda g: g.boards.close_periods(LATER),
    "on_user_deleted": lambda g: g.privacy.delete("u3"),
    "on_ledger_audit": lambda g: g.jobs.run_due(LATER),
    "fulfill_order": lambda g: g.shop.purchase("u0", "tee"),
}  # fmt: skip

# The same kind of call once the plugin is gone, where repeating the trigger cannot work.
AGAIN: dict[str, Callable[[Gamification], Any]] = {
    "on_user_deleted": lambda g: g.privacy.delete("u4"),
}


class Boom(Exception):
    """What the faulty plugin raises."""


def raising(hook: str) -> object:
    """A plugin whose only impl of ``hook`` raises ``Boom``."""

    def impl(self: object) -> None:
        raise Boom(hook)

    impl.__name__ = hook
    return type(f"Raises_{hook}", (), {hook: hookimpl(impl)})()


class Merch:
    """Fulfils external orders, so ``fulfill_order`` has a working answer after the fault."""

    @hookimpl(trylast=True)
    def fulfill_order(self) -> str:
        return "REF-1"


def seed(path: Path) -> None:
    """The file every case starts from: each trigger's preconditions, made with no fault."""
    with open_game(path, plugins=(Merch(),)) as g:
        g.events.load(MERCH, name="merch")
        g.award_points("u0", 500, currency="points", source="seed")
        g.award_xp("u3", 30, source="seed")
        g.social.add_friend("u3", "u4")
        g.track("u1", "workout")
        g.referrals.track(g.referrals.code("u5"), "u6")


def dump_file(path: Path) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return "\n".join(conn.iterdump())


def check_file(g: Gamification) -> None:
    assert g.db.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    report = g.verify_ledger()
    assert report.ok, report.problems


def hook_doc(hook: str) -> str:
    return inspect.getdoc(getattr(hookspecs, hook)) or ""


def test_every_hook_has_a_fault_case() -> None:
    assert set(WHEN) == set(HOOKS)
    untriggered = ("open", "cli", "server")
    assert set(TRIGGERS) == {hook for hook, when in WHEN.items() if when not in untriggered}
    # The table says what the hookspec's own contract says.
    for hook, when in WHEN.items():
        if when == "inside":
            assert "inside the transaction" in hook_doc(hook), hook
        if when == "after":
            assert "after commit" in hook_doc(hook), hook


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hooks") / "seeded.db"
    seed(path)
    return path


@pytest.mark.parametrize("mode", ["log", "raise"])
@pytest.mark.parametrize("hook", HOOKS)
def test_a_plugin_raising_in_a_hook_keeps_the_hook_contract(
    seeded: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, hook: str, mode: str
) -> None:
    assert hook in WHEN, f"no fault case for the hook {hook!r}: add it to WHEN and TRIGGERS"
    when = WHEN[hook]
    config = attrs.evolve(CONFIG, hook_errors=mode)
    path = tmp_path / "game.db"
    shutil.copy(seeded, path)
    faulty = raising(hook)
    FIGURES.add(operations=1, faults=1)

    if when == "cli":
        # Collected by the command line, never by an engine: the command line fails before
        # it opens the file, and the file is untouched.
        before = dump_file(path)
        with pytest.raises(Boom):
            plugin_commands(get_plugin_manager([faulty], load_entrypoints=False), set())
        assert dump_file(path) == before
        return

    if when == "server":
        # Never asked on a file: the open and a write go as with no such plugin.
        with open_game(path, config=config, plugins=(Merch(), faulty), load=False) as g:
            g.award_xp("u0", 5, source="after")
            check_file(g)
        return

    if when == "open":
        before = dump_file(path)
        with pytest.raises(Boom):
            open_game(path, config=config, plugins=(Merch(), faulty), load=False)
        assert dump_file(path) == before
        # The failed open let go of the file: another engine writes at once.
        quick = attrs.evolve(config, busy_timeout=0.05)
        with open_game(path, config=quick, plugins=(Merch(),), load=False) as g:
            g.award_xp("u0", 5, source="after")
            check_file(g)
        return

    # What the same call does on the same file with no failing plugin.
    control_path = tmp_path / "control.db"
    shutil.copy(seeded, control_path)
    with open_game(control_path, config=config, plugins=(Merch(),), load=False) as control:
        expected = TRIGGERS[hook](control)
        expected_dump = control.dump()

    with open_game(path, config=config, plugins=(Merch(), faulty), load=False) as g:
        before = g.dump()
        with caplog.at_level(logging.ERROR, logger="gamification_sdk"):
            outcome = call(g, hook)
        if when in ("inside", "read"):
            assert isinstance(outcome, Boom), outcome
            assert g.dump() == before, f"{hook} raised but the write was not rolled back"
        elif when == "after":
            if mode == "raise":
                assert isinstance(outcome, errors.HookError), outcome
                assert [name.split(".")[-1] for name, _ in outcome.errors] == [hook] * len(
                    outcome.errors
                )
                assert all(isinstance(exc, Boom) for _, exc in outcome.errors)
                outcome = outcome.result
            else:
                assert any(hook in r.getMessage() for r in caplog.records), caplog.text
            if hook == "on_user_deleted":  # the pseudonym is random, the rest must agree
                expected_dump = expected_dump.replace(expected.pseudonym, outcome.pseudonym)
                expected = attrs.evolve(expected, pseudonym=outcome.pseudonym)
            assert outcome == expected
            assert g.dump() == expected_dump, f"a failing {hook} changed what was committed"
        elif when == "audit":
            assert isinstance(outcome, type(expected)) and not isinstance(outcome, Exception)
            failed = [run.job for run in outcome.failed]
            assert failed == (["ledger_audit"] if mode == "raise" else []), outcome
        else:
            assert when == "fulfil"
            assert isinstance(outcome, errors.FulfillmentFailed), outcome
            assert outcome.order_id is not None
            assert g.shop.order(outcome.order_id).status == "failed"
            balance = g.points.balances("u0")["points"]
            assert (balance.balance, balance.held) == (500, 0)
        check_file(g)

        # The plugin gone, the same call works (a failed audit runs again).
        g.pm.unregister(faulty)
        again = AGAIN.get(hook, TRIGGERS[hook])(g)
        if when == "audit":
            assert "ledger_audit" in [run.job for run in again.ran] or mode == "log"
        check_file(g)


def call(g: Gamification, hook: str) -> Any:
    """The trigger's result, or the exception it raised."""
    try:
        return TRIGGERS[hook](g)
    except Exception as exc:
        return exc


# Calls that commit several transactions finish all of them; under "raise" the hook errors
# of all of them come together at the end, with the call's whole result.
SEVERAL: dict[str, tuple[str, Callable[[Gamification], Any]]] = {
    "close_leaderboard_periods": (
        "on_leaderboard_closed", lambda g: g.boards.close_periods(START + timedelta(days=40))),
    "battle_pass.close_seasons": (
        "on_points_changed", lambda g: g.battle_pass.close_seasons(START + timedelta(days=90))),
    "streaks.sweep": ("notify", lambda g: g.streaks.sweep(START + timedelta(days=3))),
    "events.reevaluate": ("on_achievement_unlocked", lambda g: g.events.reevaluate(chunk=1)),
}  # fmt: skip


def prepare_several(g: Gamification) -> None:
    """Work for each call above that spans more than one transaction."""
    for user in ("u1", "u2", "u3"):
        g.award_xp(user, 250, source="seed")  # tier 2 of the season, unclaimed
        g.streaks.record_activity(user, at=START - timedelta(days=1))
        g.streaks.record_activity(user)
    g.events.load(
        {"achievements": [{"key": "xp_200", "name": "200 XP",
                           "criteria": {"type": "total_xp", "target": 200}}]},
        name="late",
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(SEVERAL))
def test_a_failing_hook_does_not_cut_a_call_of_several_transactions_short(
    tmp_path: Path, name: str
) -> None:
    hook, run = SEVERAL[name]
    config = attrs.evolve(CONFIG, hook_errors="raise")
    with open_game(tmp_path / "game.db", config=config) as g:
        prepare_several(g)
    shutil.copy(tmp_path / "game.db", tmp_path / "control.db")
    with open_game(tmp_path / "control.db", config=config, load=False) as control:
        expected = run(control)
        expected_dump = control.dump()
    faulty = raising(hook)
    with open_game(tmp_path / "game.db", config=config, plugins=(faulty,), load=False) as g:
        with pytest.raises(errors.HookError) as info:
            run(g)
        FIGURES.add(operations=1, faults=len(info.value.errors))
        assert info.value.result == expected
        assert len(info.value.errors) > 1, "the case should span several transactions"
        assert g.dump() == expected_dump
        check_file(g)
