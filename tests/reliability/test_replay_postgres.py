"""Four app servers play the game on one PostgreSQL schema; one engine replaying them serially
on a fresh schema must end the same (the file's version is test_replay.py).

On the file one writer at a time makes the commit order a serial order. On PostgreSQL
writes about different users commit in parallel, so the replay follows what orders them.
The workload is the file test's whole mix (``worker.game_op``): awards, spends, tracked
events with their rules, achievements and quest progress, tier claims, premium passes, tier
boosts, verified quest completions, and the calls that span users: transfers, which change
the receiver's rows too, and purchases of the hat, whose limited stock every user's
purchases share.

What orders the calls is what they lock, and each call logs it in its own transaction
(``worker.keyed_call``), its outcome beside it, a refusal too:

- *Users.* A call runs in a batch of its user (a transfer: of its first user in id order),
  under that user's advisory lock; a transfer takes the other user's lock too (the engine
  does, ``Runtime.write(also=)``). The call reads from ``pg_locks`` which users' locks it
  holds and takes its place among each one's calls (``max(seq) + 1``, read under the lock,
  sees every earlier call of the user committed).
- *The hat's stock.* A purchase of the hat reads the stock row ``FOR UPDATE`` before it
  checks it, and holds it to the commit: it takes its place among the hat's purchases the
  same way, with the units it left.

Locks held to the commit make the calls conflict-serializable: any order that keeps every
logged sequence (a topological order of them: a transfer after the earlier calls of both
its users, a purchase of the hat after the purchases that took the stock before it) is a
serial order equivalent to what ran. The test checks the log against itself first (every
transfer held both users' locks and every other call its user's alone; along the stock's
sequence each purchase left what it found minus what it bought, and was refused
``OutOfStock`` exactly when it found too few), then replays one such order, its ties broken
at random, on a fresh schema: every call must have the same outcome (row ids aside: the
order numbers rows differently) and every user the same state, the stock the same.

An order that breaks the stock's sequence must be caught: a replay that moves a purchase
refused ``OutOfStock`` before a sale of the hat that found units enough for it must see it
come out otherwise.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from gamification_sdk import Gamification

from . import worker
from .children import run_workers
from .game import DEFINITIONS, USERS, open_game
from .test_replay import state

Place = Callable[[str], dict[str, Any]]
HATS = next(item["stock"] for item in DEFINITIONS["shop"] if item["key"] == "hat")


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


def serial_order(sequences: dict[str, list[str]], rng: random.Random) -> list[str]:
    """An order of the calls that keeps every sequence: each call after its predecessor in
    each sequence it is in; among the calls free to go next, one at random."""
    after: dict[str, list[str]] = defaultdict(list)
    waits: Counter[str] = Counter()
    calls = {op for ops in sequences.values() for op in ops}
    for ops in sequences.values():
        for first, then in pairwise(ops):
            after[first].append(then)
            waits[then] += 1
    free = sorted(op for op in calls if waits[op] == 0)
    order: list[str] = []
    while free:
        op = free.pop(rng.randrange(len(free)))
        order.append(op)
        for then in after[op]:
            waits[then] -= 1
            if waits[then] == 0:
                free.append(then)
    assert len(order) == len(calls), "the logged sequences contradict each other (a cycle)"
    return order


def check_stock(hats: list[str], calls: dict[str, dict[str, Any]], left: dict[str, int]) -> None:
    """Along the stock's sequence each purchase found what the one before it left, took what
    it bought, and was refused ``OutOfStock`` exactly when it found too few."""
    stock = HATS
    for op in hats:
        wanted, done = calls[op]["quantity"], calls[op]["outcome"]
        if done == "refused OutOfStock":
            assert stock < wanted, (op, stock)
        else:  # bought, or refused for something else (its funds) with units enough
            assert stock >= wanted, (op, done, stock)
            stock -= 0 if done.startswith("refused") else wanted
        assert left[op] == stock, (op, done, left[op], stock)


@pytest.mark.postgresql_only(reason="the file's version is test_replay.py")
def test_four_servers_end_where_a_serial_replay_ends(place: Place, tmp_path: Path) -> None:
    ops = 250
    played, again, wrong = place("played"), place("replay"), place("wrong")
    log_schema = f"gamification_test_ops_{uuid.uuid4().hex[:12]}"
    for where in (played, again, wrong):
        prepare(where)
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
                f"SELECT resource, seq, op, outcome, locks, stock FROM {log_schema}.op_log "
                "ORDER BY 1, 2"
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
    sequences: dict[str, list[str]] = defaultdict(list)
    left: dict[str, int] = {}
    for resource, seq, op, done, locks, stock in logged:
        assert seq == len(sequences[resource]) + 1
        sequences[resource].append(op)
        # Every call's transaction committed once, with the outcome its server returned,
        # holding the locks of the users it is about and no other.
        assert done == calls[op]["outcome"], (op, done)
        assert locks.split() == worker.call_users(calls[op]), (op, locks)
        if resource == "stock:hat":
            left[op] = stock
    users = {resource for resource in sequences if resource.startswith("user:")}
    assert users == {f"user:{user}" for user in USERS}
    # Each call is in the sequence of each of its users (and so logged once per user).
    assert sorted(op for resource in users for op in sequences[resource]) == sorted(
        op for op, call in calls.items() for _ in worker.call_users(call)
    )
    hats = sequences["stock:hat"]
    assert sorted(hats) == sorted(
        op for op, call in calls.items() if call["call"] == "purchase" and call["item"] == "hat"
    )
    check_stock(hats, calls, left)
    outcomes = Counter(call["outcome"] for call in calls.values())
    for kind in (
        "InsufficientFunds",
        "OutOfStock",
        "TierNotReached",
        "RewardAlreadyClaimed",
        "QuestAlreadyCompleted",
        "NotEnoughTierBoosts",
    ):
        assert outcomes[f"refused {kind}"] > 0, outcomes
    # Transfers moved points between users, and the hat went to more than one user.
    transfers = Counter(
        call["outcome"].startswith("refused")
        for call in calls.values()
        if call["call"] == "transfer_points"
    )
    assert transfers[False] > 0, transfers
    buyers = {calls[op]["user"] for op in hats if not calls[op]["outcome"].startswith("refused")}
    assert len(buyers) > 1, buyers
    # The servers really took turns on the same users.
    switches = sum(
        a.split("-")[0] != b.split("-")[0]
        for resource in users
        for a, b in pairwise(sequences[resource])
    )
    assert switches > 3 * len(USERS), switches

    order = serial_order(sequences, random.Random(7))
    with open_game(again["path"], schema=again["schema"], load=False) as replay:
        for op in order:
            assert worker.keyed_call(replay, calls[op]) == calls[op]["outcome"], calls[op]
        assert replay.verify_ledger().ok
        assert pg_state(replay) == played_state

    # The stock's sequence decides: the first purchase refused OutOfStock, moved before the
    # last sale ahead of it that found units enough for it, finds them and comes out
    # otherwise (bought, or refused for its funds).
    late = next(op for op in hats if calls[op]["outcome"] == "refused OutOfStock")
    wanted = calls[late]["quantity"]
    last = [
        op
        for op in hats[: hats.index(late)]
        if not calls[op]["outcome"].startswith("refused")
        and left[op] + calls[op]["quantity"] >= wanted
    ][-1]
    moved = [op for op in order if op != late]
    moved.insert(moved.index(last), late)
    with open_game(wrong["path"], schema=wrong["schema"], load=False) as replay:
        for op in moved[: moved.index(late)]:
            worker.keyed_call(replay, calls[op])
        assert worker.keyed_call(replay, calls[late]) != "refused OutOfStock"
