"""SIGKILL a writer at random moments, again and again, on the same file.

The child (``worker.py crash``) makes keyed awards and spends and logs each key only after
its call returned. After every kill the next child carries on with the same file. Then:
the file passes ``PRAGMA integrity_check`` and ``verify_ledger()``, every call the child
saw return is in the ledger (and replays to the same transaction), no refused call left
anything behind, and at most the one call in flight at each kill is there unreported.

20 kills by default; 500 with ``GAMIFICATION_LONG=1`` (``./run test-long``).
"""

from __future__ import annotations

import random
import select
import signal
import sqlite3
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import unchanged

from gamification_sdk import Gamification

from . import worker
from .children import LONG, ROOT, WORKER_COMMAND, child_env
from .figures import FIGURES


def kill_repeatedly(db: Path, tmp_path: Path, runs: int, seed: int) -> tuple[Path, int]:
    """Start, kill, restart the crash worker ``runs`` times; returns (log, kills mid-write)."""
    rng = random.Random(seed)
    log = tmp_path / "returned.log"
    after_ready = 0
    for run in range(runs):
        err_path = tmp_path / f"stderr-{run}.txt"
        with err_path.open("wb") as err:
            proc = subprocess.Popen(
                [*WORKER_COMMAND, "crash", str(db), str(run), str(log), "10000000"],
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
                env=child_env(),
            )
        assert proc.stdout is not None
        try:
            # Mostly kill while it writes; now and then while it starts, opens or migrates.
            if rng.random() < 0.8:
                ready, _, _ = select.select([proc.stdout], [], [], 60)
                line = proc.stdout.readline() if ready else b""
                assert line == b"ready\n", f"run {run}: no ready: {err_path.read_text()}"
                after_ready += 1
                delay = rng.uniform(0.05, 0.3)
            else:
                delay = rng.uniform(0.0, 0.3)
            try:
                proc.wait(timeout=delay)  # the child should still be running after this
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
            returncode = proc.wait(timeout=60)
            assert returncode == -signal.SIGKILL, (
                f"run {run}: the child exited with {returncode} before it was killed:\n"
                f"{err_path.read_text()}"
            )
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    return log, after_ready


def read_log(log: Path) -> tuple[list[str], list[str]]:
    """Keys whose call returned: (succeeded, refused as insufficient). Ignores a torn line."""
    ok: list[str] = []
    refused: list[str] = []
    text = log.read_text() if log.exists() else ""
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        outcome, key = line.split()
        (ok if outcome == "ok" else refused).append(key)
    return ok, refused


def run_index(key: str) -> tuple[int, int]:
    run, i = key[1:].split("-")
    return int(run), int(i)


def check_after_crashes(
    engine: Gamification, db: Path, log: Path, runs: int, after_ready: int
) -> None:
    # The file itself, through a plain connection first.
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    report = engine.verify_ledger()
    assert report.ok, report.problems

    ok, refused = read_log(log)
    assert len(ok) == len(set(ok))
    # Most kills landed while the worker was writing: it got a good number of calls through.
    assert len(ok) >= after_ready, (len(ok), after_ready)

    stored = {
        key[len("call:") :]: tid
        for tid, key in engine.db.conn.execute(
            "SELECT id, idempotency_key FROM transactions WHERE idempotency_key LIKE 'call:r%'"
        )
    }
    missing = sorted(set(ok) - set(stored), key=run_index)
    FIGURES.add(operations=len(ok) + len(refused) + runs, faults=runs, lost=len(missing))
    assert missing == [], f"{len(missing)} returned calls were lost, e.g. {missing[:5]}"
    assert not set(refused) & set(stored), "a refused spend left a transaction behind"

    # Anything stored but never reported can only be the one call in flight at a kill:
    # the next key after the last one its run logged.
    logged_by_run: dict[int, int] = defaultdict(lambda: -1)
    for key in ok + refused:
        run, i = run_index(key)
        logged_by_run[run] = max(logged_by_run[run], i)
    unreported = sorted(set(stored) - set(ok), key=run_index)
    for key in unreported:
        run, i = run_index(key)
        assert i == logged_by_run[run] + 1, f"{key} was stored but never in flight"
    assert len(unreported) <= runs
    per_run = Counter(run_index(key)[0] for key in unreported)
    assert max(per_run.values(), default=0) <= 1

    # Each run logged its keys in order with no gap: a call returned means all before it did.
    for run, last in logged_by_run.items():
        logged = {run_index(k)[1] for k in ok + refused if run_index(k)[0] == run}
        assert logged == set(range(last + 1)), run

    # Balances are exactly what the stored calls add up to.
    expected: Counter[str] = Counter({user: 0 for user in worker.USERS})
    for key in stored:
        op = worker.crash_op(key)
        expected[op["user"]] += op["amount"] if op["op"] == "award" else -op["amount"]
    for user in worker.USERS:
        b = engine.points.balances(user)["points"]
        assert b.balance == expected[user] >= 0, user
        assert b.lifetime_earned - b.lifetime_spent == b.balance

    # A retry of a returned call (or of the one in flight) replays it and writes nothing.
    rng = random.Random(len(ok))
    sample = rng.sample(ok, min(40, len(ok))) + unreported
    with unchanged(engine):
        for key in sample:
            t = worker.crash_call(engine, key)
            assert (t.id, t.idempotency_key) == (stored[key], key)


def crash_campaign(
    make_engine: Callable[..., Gamification], db: Path, tmp_path: Path, runs: int, seed: int
) -> None:
    log, after_ready = kill_repeatedly(db, tmp_path, runs, seed)
    check_after_crashes(make_engine(db), db, log, runs, after_ready)


def test_sigkill_never_loses_a_returned_write(
    make_engine: Callable[..., Gamification], db_path: Path, tmp_path: Path
) -> None:
    crash_campaign(make_engine, db_path, tmp_path, runs=20, seed=20260302)


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="set GAMIFICATION_LONG=1 (./run test-long)")
def test_sigkill_never_loses_a_returned_write_long(
    make_engine: Callable[..., Gamification], db_path: Path, tmp_path: Path
) -> None:
    crash_campaign(make_engine, db_path, tmp_path, runs=500, seed=500)
