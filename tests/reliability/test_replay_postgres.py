"""Four app servers play the game on one PostgreSQL schema; one engine replaying them serially
on a fresh schema must end the same (the file's version is test_replay.py).

On the file one writer at a time makes the commit order a serial order. On PostgreSQL
writes about different users commit in parallel, so the replay follows what orders them:
every call of the workload is about one user (``worker.keyed_game_op``: the file test's mix
of awards, spends, tracked events with their rules, achievements and quest progress,
purchases, tier claims, premium passes, tier boosts and verified quest completions, with a
transfer made a spend and the hat, whose limited stock every user's purchases share, made a
freeze), and runs in a ``batch(user_id=)``, under that user's lock. The calls of one user
therefore run one after another, and each logs its place among them (``max(seq) + 1``,
read under the lock, sees every earlier call of the user committed) and its outcome, a
refusal too, in its transaction. Calls of different users touch different rows, so any
interleaving of the users' sequences is a serial order equivalent to what ran; the replay
takes one and must give every call the same outcome (row ids aside: the interleaving
numbers rows differently) and every user the same state.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from gamification_sdk import Gamification

from . import worker
from .children import run_workers
from .game import USERS, open_game
from .test_replay import state

Place = Callable[[str], dict[str, Any]]


def prepare(where: dict[str, Any]) -> None:
    """The schema the servers start from (the file test's): the game loaded, points to spend."""
    with open_game(where["path"], schema=where["schema"]) as g:
        for i, user in enumerate(USERS):
            g.award_points(user, 100 + 50 * i, currency="points", source="seed")
            g.award_xp(user, 40 * i + 20, source="seed")


def pg_state(g: Gamification) -> dict[str, Any]:
    """``state`` with the claims' transaction ids left out (their order is the interleaving's)
    and each user's ledger as a multiset of what was booked."""
    out = state(g)
    out["claims"] = g.db.execute(
        "SELECT season, user_id, track, tier, rewards, auto, claimed_at FROM battle_pass_claims "
        "ORDER BY 1, 2, 3, 4"
    ).fetchall()
    out["ledger"] = sorted(
        g.db.execute("SELECT user_id, type, currency, amount, source FROM transactions").fetchall()
    )
    out["xp_awards"] = sorted(
        g.db.execute("SELECT user_id, amount, source FROM xp_awards").fetchall()
    )
    return out


@pytest.mark.postgresql_only(reason="the file's version is test_replay.py")
def test_four_servers_end_where_a_serial_replay_ends(place: Place, tmp_path: Path) -> None:
    ops = 250
    played, again = place("played"), place("replay")
    log_schema = f"gamification_test_ops_{uuid.uuid4().hex[:12]}"
    prepare(played)
    prepare(again)
    with open_game(played["path"], schema=played["schema"], load=False) as g:
        g.db.execute(f"CREATE SCHEMA {log_schema}")
        g.db.execute(worker.op_log_sql(log_schema))
    try:
        reports = run_workers(
            played["path"],
            tmp_path,
            processes=4,
            ops=ops,
            mode="pggame",
            extra=(played["schema"], log_schema),
        )
        with open_game(played["path"], schema=played["schema"], load=False) as g:
            logged = g.db.execute(
                f"SELECT user_id, seq, op, outcome FROM {log_schema}.op_log ORDER BY 1, 2"
            ).fetchall()
            played_state = pg_state(g)
            assert g.verify_ledger().ok
    finally:
        import psycopg

        with psycopg.connect(played["path"], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {log_schema} CASCADE")

    failures = [failure for report in reports for failure in report["failures"]]
    assert failures == [], "\n".join(failures[:3])
    calls = {op["id"]: op for report in reports for op in report["ops"]}
    assert len(calls) == 4 * ops
    # Every call's transaction committed once, with the outcome its server returned.
    assert sorted(op for _, _, op, _ in logged) == sorted(calls)
    assert all(calls[op]["outcome"] == done for _, _, op, done in logged)
    refusals = Counter(op["outcome"] for op in calls.values() if op["outcome"].startswith("ref"))
    for kind in (
        "InsufficientFunds",
        "TierNotReached",
        "RewardAlreadyClaimed",
        "QuestAlreadyCompleted",
        "NotEnoughTierBoosts",
    ):
        assert refusals[f"refused {kind}"] > 0, refusals
    # The servers really took turns on the same users.
    sequences: dict[str, list[str]] = {}
    for user, seq, op, _ in logged:
        assert seq == len(sequences.setdefault(user, [])) + 1
        sequences[user].append(op)
    switches = sum(
        a.split("-")[0] != b.split("-")[0]
        for ops_of in sequences.values()
        for a, b in pairwise(ops_of)
    )
    assert switches > 3 * len(USERS), switches

    # One serial order: the users' sequences interleaved at random.
    rng = random.Random(7)
    queues = {user: list(reversed(ops_of)) for user, ops_of in sequences.items()}
    with open_game(again["path"], schema=again["schema"], load=False) as replay:
        while queues:
            user = rng.choice(sorted(queues))
            op = calls[queues[user].pop()]
            if not queues[user]:
                del queues[user]
            assert worker.keyed_call(replay, op, None) == op["outcome"], op
        assert replay.verify_ledger().ok
        assert pg_state(replay) == played_state
