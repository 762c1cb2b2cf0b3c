"""Several processes writing to one SQLite file at once: no lost update, no double spend.

Each child (``worker.py mix``) opens its own engine (``busy_timeout=30``, no entry points),
waits until every child is ready, then runs its operations on the same few users. The
parent then checks the file against what the children say succeeded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from gamification_sdk import Gamification

from . import worker
from .children import LONG, run_workers
from .figures import FIGURES


def check(
    engine: Gamification, reports: list[dict[str, Any]], ops: int, interleaved: bool = True
) -> None:
    failures = [failure for report in reports for failure in report["failures"]]
    assert failures == [], "\n".join(failures[:5])
    assert [len(report["ops"]) for report in reports] == [ops] * len(reports)

    # Applied operations: every succeeded one, a shared key counted once.
    applied: dict[str, dict[str, Any]] = {}
    ids_by_key: dict[str, set[int]] = defaultdict(set)
    outcomes: Counter[str] = Counter()
    for report in reports:
        for op in report["ops"]:
            outcomes[op["outcome"]] += 1
            if op["outcome"] != "ok":
                continue
            assert op["balance_after"] >= 0, op
            ids_by_key[op["key"]].add(op["id"])
            applied[op["key"]] = op
    # Some spends must have run into an empty account, or the test proved little.
    assert outcomes["insufficient"] > 0, outcomes
    assert outcomes["ok"] > len(reports) * ops // 2, outcomes

    # A key shared by every worker was applied once: all of them got the same transaction.
    shared = {key: ids for key, ids in ids_by_key.items() if key.startswith("shared-")}
    tried = {op["key"] for r in reports for op in r["ops"] if op["key"].startswith("shared-")}
    assert tried and set(shared) == tried
    assert all(len(ids) == 1 for ids in shared.values()), shared
    # Distinct keys, distinct transactions.
    all_ids = [next(iter(ids)) for ids in ids_by_key.values()]
    assert len(set(all_ids)) == len(all_ids)

    expected: Counter[str] = Counter({user: 0 for user in worker.USERS})
    for op in applied.values():
        if op["op"] == "award":
            expected[op["user"]] += op["amount"]
        elif op["op"] == "spend":
            expected[op["user"]] -= op["amount"]
        else:
            expected[op["user"]] -= op["amount"]
            expected[op["to"]] += op["amount"]
    for user in worker.USERS:
        b = engine.points.balances(user)["points"]
        assert b.balance == expected[user], user
        assert b.balance >= 0 and b.held == 0
        assert b.lifetime_earned - b.lifetime_spent == b.balance

    # The file holds exactly the applied transactions, each under its caller's key.
    rows = engine.db.conn.execute(
        "SELECT id, idempotency_key FROM transactions ORDER BY id"
    ).fetchall()
    stored = {key for _, key in rows}
    FIGURES.add(
        operations=sum(outcomes.values()),
        lost=sum(f"call:{key}" not in stored for key in ids_by_key),
    )
    assert {key: tid for tid, key in rows} == {
        f"call:{key}": next(iter(ids)) for key, ids in ids_by_key.items()
    }
    # No entry ever left a user below zero: the spends were serialised, none doubled.
    (lowest,) = engine.db.conn.execute(
        "SELECT MIN(balance_after) FROM entries WHERE user_id IS NOT NULL"
    ).fetchone()
    assert lowest >= 0
    assert engine.verify_ledger().ok, engine.verify_ledger().problems
    if interleaved:
        # The workers really did write at the same time, not one after another.
        writers = [key.split(":")[1].split("-")[0] for _, key in rows]
        switches = sum(a != b for a, b in pairwise(writers))
        assert switches >= 5, switches
    (integrity,) = engine.db.conn.execute("PRAGMA integrity_check").fetchone()
    assert integrity == "ok"


def test_processes_write_concurrently(
    make_engine: Callable[..., Gamification], db_path: Path, tmp_path: Path
) -> None:
    make_engine(db_path).close()  # the schema exists before the workers race
    reports = run_workers(db_path, tmp_path, processes=4, ops=500)
    check(make_engine(db_path), reports, ops=500)


def test_processes_race_to_create_the_file(
    make_engine: Callable[..., Gamification], db_path: Path, tmp_path: Path
) -> None:
    """No parent set-up: the workers open (and migrate) a file that does not exist yet."""
    reports = run_workers(db_path, tmp_path, processes=4, ops=60)
    check(make_engine(db_path), reports, ops=60, interleaved=False)


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="set GAMIFICATION_LONG=1 (./run test-long)")
def test_processes_write_concurrently_long(
    make_engine: Callable[..., Gamification], db_path: Path, tmp_path: Path
) -> None:
    make_engine(db_path).close()
    reports = run_workers(db_path, tmp_path, processes=8, ops=3000)
    check(make_engine(db_path), reports, ops=3000)
