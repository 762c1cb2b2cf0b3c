"""A write lock held past ``busy_timeout``: every kind of write raises ``errors.Busy``.

Another connection (or another process, mid-``batch()``) holds ``BEGIN IMMEDIATE``. Each
kind of write must then raise ``Busy`` (typed, retryable), write nothing, leave reads
working (WAL), and succeed once the lock is released. A holder that is killed instead
leaves nothing of its uncommitted write behind, and the lock with it.
"""

from __future__ import annotations

import select
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from gamification_sdk import Gamification, errors

from .children import ROOT, WORKER_COMMAND, child_env
from .figures import FIGURES
from .game import CONFIG, SEASON, START, open_game

QUICK = attrs.evolve(CONFIG, busy_timeout=0.05)
LATER = START + timedelta(days=2)
Setup = Callable[[Gamification], Callable[[], Any]]


def _batch(g: Gamification) -> Callable[[], Any]:
    def run() -> None:
        with g.batch():
            g.award_xp("u3", 10, source="batch")
            g.award_points("u3", 10, currency="points", source="batch")

    return run


def _commit(g: Gamification) -> Callable[[], Any]:
    held = g.reserve_points("u0", 20, currency="points", ttl=600)
    return lambda: g.commit_reservation(held.id)


def _release(g: Gamification) -> Callable[[], Any]:
    held = g.reserve_points("u0", 20, currency="points", ttl=600)
    return lambda: g.release_reservation(held.id)


def _refund(g: Gamification) -> Callable[[], Any]:
    spent = g.spend_points("u0", 20, currency="points", source="shop")
    return lambda: g.refund(spent.id)


def _refund_purchase(g: Gamification) -> Callable[[], Any]:
    order = g.shop.purchase("u0", "freeze")
    return lambda: g.shop.refund(order.id)


def _use_tier_boost(g: Gamification) -> Callable[[], Any]:
    g.shop.purchase("u0", "boost")
    return lambda: g.battle_pass.use_tier_boost("u0")


def _convert_referral(g: Gamification) -> Callable[[], Any]:
    return lambda: g.referrals.convert("u6", kind="first_purchase", revenue=10)


def _set_referral_status(g: Gamification) -> Callable[[], Any]:
    g.referrals.convert("u6", kind="first_session")
    return lambda: g.referrals.set_status("u6", "paid_client")


# Each sets up what its write needs (before the lock is taken) and returns the write.
WRITES: dict[str, Setup] = {
    "award_xp": lambda g: lambda: g.award_xp("u0", 10, source="quest"),
    "xp.add_boost": lambda g: lambda: g.xp.add_boost(
        "u0", 1.5, expires_at=START + timedelta(days=1), source="event"),
    "award_points": lambda g: lambda: g.award_points("u0", 10, currency="points", source="q"),
    "spend_points": lambda g: lambda: g.spend_points("u0", 10, currency="points", source="s"),
    "transfer_points": lambda g: lambda: g.transfer_points("u0", "u1", 10, currency="points"),
    "points.adjust": lambda g: lambda: g.points.adjust("u0", -5, currency="points",
                                                       reason="support"),
    "refund": _refund,
    "reserve_points": lambda g: lambda: g.reserve_points("u0", 10, currency="points", ttl=60),
    "commit_reservation": _commit,
    "release_reservation": _release,
    "points.expire_reservations": lambda g: lambda: g.points.expire_reservations(LATER),
    "track": lambda g: lambda: g.track("u0", "workout"),
    "streaks.record_activity": lambda g: lambda: g.streaks.record_activity("u0"),
    "streaks.grant_freezes": lambda g: lambda: g.streaks.grant_freezes("u0", 1),
    "streaks.schedule_rest_day": lambda g: lambda: g.streaks.schedule_rest_day(
        "u0", (START + timedelta(days=3)).date()),
    "streaks.sweep": lambda g: lambda: g.streaks.sweep(LATER),
    "quests.complete": lambda g: lambda: g.quests.complete(
        "u1", "checkin", evidence={"ok": True}, idempotency_key="quest"),
    "quests.close_periods": lambda g: lambda: g.quests.close_periods(LATER),
    "purchase": lambda g: lambda: g.shop.purchase("u0", "hat"),
    "refund_purchase": _refund_purchase,
    "battle_pass.claim": lambda g: lambda: g.battle_pass.claim("u2", 1, track="free"),
    "battle_pass.buy_premium": lambda g: lambda: g.battle_pass.buy_premium("u0"),
    "battle_pass.use_tier_boost": _use_tier_boost,
    "battle_pass.close_seasons": lambda g: lambda: g.battle_pass.close_seasons(
        SEASON.ends_at),
    "close_leaderboard_periods": lambda g: lambda: g.boards.close_periods(LATER),
    "rate_limit": lambda g: lambda: g.rate_limits.hit("u0", "referral_track"),
    "referral_code": lambda g: lambda: g.referrals.code("u4"),
    "track_referral": lambda g: lambda: g.referrals.track(g.referrals.code("u5"), "u7"),
    "convert_referral": _convert_referral,
    "set_referral_status": _set_referral_status,
    "users.set_timezone": lambda g: lambda: g.users.set_timezone("u0", "Europe/Berlin"),
    "set_notification_preferences": lambda g: lambda: g.notifications.set_preferences(
        "u0", streak_at_risk=False),
    "mark_read": lambda g: lambda: g.notifications.mark_read("u2"),
    "join_group": lambda g: lambda: g.social.join_group("u0", "team", kind="gym"),
    "add_friend": lambda g: lambda: g.social.add_friend("u0", "u1"),
    "set_privacy": lambda g: lambda: g.social.set_privacy("u0", visibility="public"),
    "events.load": lambda g: lambda: g.events.load(
        {"rules": [{"event": "swim", "xp": 5}]}, name="more"),
    "events.reevaluate": lambda g: lambda: g.events.reevaluate(),
    "run_due_jobs": lambda g: lambda: g.jobs.run_due(LATER),
    "delete_user": lambda g: lambda: g.privacy.delete("u3"),
    "batch": _batch,
}  # fmt: skip


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("busy") / "template.db"
    with open_game(path) as g:
        g.award_points("u0", 1000, currency="points", source="seed")
        g.award_xp("u2", 150, source="seed")  # tier 1 of the season
        g.track("u2", "workout")  # an unread notification
        g.track("u1", "workout")
        g.award_xp("u3", 30, source="seed")
        g.streaks.record_activity("u3", at=START - timedelta(days=1))
        g.referrals.track(g.referrals.code("u5"), "u6")
    return path


@pytest.fixture
def path(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "game.db"
    shutil.copy(template, copy)
    return copy


@pytest.fixture
def engine(path: Path) -> Iterator[Gamification]:
    with open_game(path, config=QUICK, load=False) as g:
        yield g


def check_file(g: Gamification) -> None:
    assert g.db.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    report = g.verify_ledger()
    assert report.ok, report.problems


def refused_while_locked(g: Gamification, write: Callable[[], Any]) -> None:
    before = g.dump()
    with pytest.raises(errors.Busy) as info:
        write()
    FIGURES.add(operations=1, faults=1)
    assert info.value.retryable is True and not isinstance(info.value, sqlite3.Error)
    assert g.dump() == before, "a write refused as Busy left rows behind"
    g.profile("u0")  # reads go on under WAL


@pytest.mark.parametrize("name", sorted(WRITES))
def test_every_write_raises_busy_past_the_timeout_then_succeeds(
    engine: Gamification, path: Path, name: str
) -> None:
    write = WRITES[name](engine)
    before = engine.dump()
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        refused_while_locked(engine, write)
        other.execute("ROLLBACK")
    write()
    FIGURES.add(operations=1)
    if name not in ("events.reevaluate", "run_due_jobs", "points.expire_reservations", "mark_read"):
        assert engine.dump() != before, f"{name} should have written something"
    check_file(engine)


def start_holder(path: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    err = (tmp_path / "holder-stderr.txt").open("wb")
    proc = subprocess.Popen(
        [*WORKER_COMMAND, "hold", str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=err, cwd=ROOT, env=child_env(),
    )  # fmt: skip
    err.close()
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else b""
    assert line == b"ready\n", (tmp_path / "holder-stderr.txt").read_text()
    return proc


@pytest.mark.parametrize("end", ["commit", "rollback", "sigkill"])
def test_another_process_holding_the_lock(path: Path, tmp_path: Path, end: str) -> None:
    with open_game(path, config=QUICK, load=False) as g:
        # A few writes, each set up while nobody holds the lock.
        names = [
            "award_points",
            "track",
            "purchase",
            "battle_pass.claim",
            "quests.complete",
            "batch",
            "delete_user",
        ]
        writes = {name: WRITES[name](g) for name in names}
        holder = start_holder(path, tmp_path)
        try:
            for write in writes.values():
                refused_while_locked(g, write)
            assert g.balance("holder", "points") == 0  # its write is not committed
            if end == "sigkill":
                holder.send_signal(signal.SIGKILL)
                FIGURES.add(faults=1)
            else:
                assert holder.stdin is not None
                holder.stdin.write(f"{end}\n".encode())
                holder.stdin.close()
            holder.wait(timeout=60)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
            if holder.stdout is not None:
                holder.stdout.close()
        assert g.balance("holder", "points") == (77 if end == "commit" else 0)
        for write in writes.values():
            write()
        FIGURES.add(operations=len(writes) + 1)
        check_file(g)
