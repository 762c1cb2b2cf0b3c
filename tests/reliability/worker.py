"""Child processes for the reliability tests; run as ``python worker.py <mode> ...``.

``mix``   one of several concurrent writers: awards, spends and transfers on a few shared
          users, plus awards under keys every worker shares. Says ``ready`` once the engine
          is open and starts on a line from stdin. Writes a JSON report of every operation's
          outcome; anything but ``InsufficientFunds`` is reported as a failure.
``crash`` keyed awards and spends until killed. Says ``ready`` on stdout once the engine is
          open, then appends ``ok <key>`` (or ``insufficient <key>``) to a log file only
          after the call has returned.

``game``  one of several concurrent players of the game (``game.py``): awards, spends,
          transfers, tracked events, purchases, tier claims, premium passes, boosts and quest
          completions on shared users. Each call runs in its own ``batch()`` together with a
          row in the table ``op_log``, so the table's order is the commit order. Says
          ``ready``, starts on a line from stdin, writes a JSON report of every call: what
          it was, and its result (``repr``) or the refusal's type.
``pggame`` ``game`` on a PostgreSQL schema (``url ... schema log_schema``), transfers and
          purchases of the limited hat included, each call in a ``batch(user_id=)``,
          logged with its place in the sequence of every user whose lock it held and, for
          the hat, in the sequence of the hat's stock row, and its outcome, a refusal too
          (``keyed_call``).
``hold``  opens the game (``game.py``), starts a ``batch()`` and writes in it, says ``ready``,
          then holds the write lock until a line on stdin: ``commit`` ends the batch,
          anything else raises out of it (a rollback). The parent may kill it instead.

``mix`` and ``crash`` use the real clock and load no entry points. Their operations are a
pure function of their key (:func:`crash_op`), so the parent can replay any of them exactly.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import traceback
from pathlib import Path
from typing import Any

from gamification_sdk import Config, Gamification, errors

from . import game

USERS = ("u0", "u1", "u2")
CONFIG = Config(busy_timeout=30)
SHARED_KEYS = 25


def open_engine(path: str, config: Config = CONFIG) -> Gamification:
    return Gamification.open(path, config=config, load_entrypoints=False)


# -- mix ------------------------------------------------------------------------------------


def mix_op(worker: int, index: int, rng: random.Random) -> dict[str, Any]:
    """One operation of a ``mix`` worker, as plain data."""
    key = f"w{worker}-{index}"
    if index % 20 == 0 and index // 20 < SHARED_KEYS:
        # Every worker makes this exact call: only one of them may apply it.
        j = index // 20
        return {"key": f"shared-{j}", "op": "award", "user": USERS[j % 3], "amount": 3 + j}
    roll = rng.random()
    user = rng.choice(USERS)
    if roll < 0.5:
        return {"key": key, "op": "award", "user": user, "amount": rng.randint(1, 20)}
    if roll < 0.9:
        return {"key": key, "op": "spend", "user": user, "amount": rng.randint(1, 30)}
    other = rng.choice([u for u in USERS if u != user])
    return {"key": key, "op": "transfer", "user": user, "to": other, "amount": rng.randint(1, 25)}


def apply(engine: Gamification, op: dict[str, Any]) -> Any:
    if op["op"] == "award":
        return engine.award_points(
            op["user"], op["amount"], currency="points", source="mix", idempotency_key=op["key"]
        )
    if op["op"] == "spend":
        return engine.spend_points(
            op["user"], op["amount"], currency="points", source="mix", idempotency_key=op["key"]
        )
    return engine.transfer_points(
        op["user"], op["to"], op["amount"], currency="points", idempotency_key=op["key"]
    )


def run_mix(path: str, worker: int, count: int, seed: int, report: str) -> int:
    rng = random.Random(seed)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    try:
        engine = open_engine(path)
    except BaseException:
        failures.append("open: " + traceback.format_exc())
        engine = None
    # Open first, then wait for the parent's "go", so every worker starts writing at once.
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    if engine is not None:
        with engine:
            for index in range(count):
                op = mix_op(worker, index, rng)
                try:
                    t = apply(engine, op)
                except errors.InsufficientFunds as exc:
                    op.update(outcome="insufficient", available=exc.available)
                except errors.GamificationError as exc:
                    op.update(outcome="error")
                    failures.append(f"{op}: gamification error {exc!r}")
                except Exception as exc:  # a raw sqlite3 error or any other escape
                    op.update(outcome="error")
                    failures.append(
                        f"{op}: non-gamification {type(exc).__module__}."
                        f"{type(exc).__qualname__}: {exc}\n{traceback.format_exc()}"
                    )
                else:
                    op.update(
                        outcome="ok", id=t.id, balance_after=t.balance_after, amount_signed=t.amount
                    )
                results.append(op)
    Path(report).write_text(json.dumps({"worker": worker, "ops": results, "failures": failures}))
    return 0


# -- crash ----------------------------------------------------------------------------------


def crash_op(key: str) -> dict[str, Any]:
    """The call a ``crash`` worker makes for ``key`` (``r<run>-<i>``)."""
    i = int(key.rsplit("-", 1)[1])
    user = USERS[i % 3]
    if i % 5 == 4:
        return {"op": "spend", "user": user, "amount": 1 + i % 4}
    return {"op": "award", "user": user, "amount": 1 + i % 9}


def crash_call(engine: Gamification, key: str) -> Any:
    op = crash_op(key)
    if op["op"] == "spend":
        return engine.spend_points(
            op["user"], op["amount"], currency="points", source="crash", idempotency_key=key
        )
    return engine.award_points(
        op["user"], op["amount"], currency="points", source="crash", idempotency_key=key
    )


def run_crash(path: str, run: int, log: str, limit: int) -> int:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    # Odd runs commit with fsync (durability "full"), even runs with the default "normal".
    engine = open_engine(path, Config(busy_timeout=30, durability="full" if run % 2 else "normal"))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for i in range(limit):
        key = f"r{run}-{i}"
        try:
            crash_call(engine, key)
        except errors.InsufficientFunds:
            os.write(fd, f"insufficient {key}\n".encode())
        else:
            os.write(fd, f"ok {key}\n".encode())
    engine.close()
    return 0


# -- game ---------------------------------------------------------------------------------

OP_LOG = "CREATE TABLE op_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL UNIQUE)"


def game_op(worker: int, index: int, rng: random.Random) -> dict[str, Any]:
    """One call of a ``game`` worker, as plain data; ``id`` is unique, ``key`` its key."""
    op: dict[str, Any] = {"id": f"w{worker}-{index}", "key": f"w{worker}-{index}"}
    user = rng.choice(game.USERS)
    if index % 15 == 0:
        # Every worker makes this exact call: one applies it, the others get its replay.
        j = index // 15
        return {
            **op,
            "key": f"shared-{j}",
            "call": "award_points",
            "user": game.USERS[j % len(game.USERS)],
            "amount": 10 + j,
        }
    roll = rng.random()
    if roll < 0.14:
        return {**op, "call": "award_points", "user": user, "amount": rng.randint(5, 60)}
    if roll < 0.24:
        return {**op, "call": "award_xp", "user": user, "amount": rng.randint(10, 90)}
    if roll < 0.38:
        return {**op, "call": "spend_points", "user": user, "amount": rng.randint(5, 80)}
    if roll < 0.43:
        other = rng.choice([u for u in game.USERS if u != user])
        return {
            **op,
            "call": "transfer_points",
            "user": user,
            "to": other,
            "amount": rng.randint(5, 40),
        }
    if roll < 0.60:
        return {**op, "call": "track", "user": user, "event": rng.choice(["workout", "post"])}
    if roll < 0.72:
        return {
            **op,
            "call": "purchase",
            "user": user,
            "item": rng.choice(["hat", "hat", "freeze", "boost"]),
            "quantity": rng.choice([1, 1, 2]),
        }
    if roll < 0.84:
        return {
            **op,
            "call": "claim_tier_reward",
            "user": user,
            "tier": rng.randint(1, 4),
            "track": rng.choice(["free", "free", "premium"]),
        }
    if roll < 0.86:
        return {**op, "call": "buy_premium_pass", "user": user}
    if roll < 0.89:
        return {**op, "call": "use_tier_boost", "user": user}
    return {**op, "call": "complete_quest", "user": user, "evidence": {"ok": rng.random() < 0.8}}


def game_call(engine: Gamification, op: dict[str, Any]) -> Any:
    user, key = op["user"], op["key"]
    call = op["call"]
    if call == "award_points":
        return engine.award_points(
            user, op["amount"], currency="points", source="game", idempotency_key=key
        )
    if call == "award_xp":
        return engine.award_xp(user, op["amount"], source="game", idempotency_key=key)
    if call == "spend_points":
        return engine.spend_points(
            user, op["amount"], currency="points", source="game", idempotency_key=key
        )
    if call == "transfer_points":
        return engine.transfer_points(
            user, op["to"], op["amount"], currency="points", idempotency_key=key
        )
    if call == "track":
        return engine.track(user, op["event"], idempotency_key=key)
    if call == "purchase":
        return engine.shop.purchase(user, op["item"], quantity=op["quantity"], idempotency_key=key)
    if call == "claim_tier_reward":
        return engine.battle_pass.claim(user, op["tier"], track=op["track"], idempotency_key=key)
    if call == "buy_premium_pass":
        return engine.battle_pass.buy_premium(user, idempotency_key=key)
    if call == "use_tier_boost":
        return engine.battle_pass.use_tier_boost(user, idempotency_key=key)
    assert call == "complete_quest", call
    return engine.quests.complete(user, "checkin", evidence=op["evidence"], idempotency_key=key)


def logged_call(engine: Gamification, op: dict[str, Any]) -> Any:
    """The call and its ``op_log`` row in one transaction: the row commits iff the call does.

    A refused call raises before it writes, which leaves the batch free to commit nothing.
    """
    with engine.batch():
        result = game_call(engine, op)
        engine.db.conn.execute("INSERT INTO op_log (op) VALUES (?)", (op["id"],))
    return result


def run_game(path: str, worker: int, count: int, seed: int, report: str) -> int:
    rng = random.Random(seed)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    engine = game.open_game(path, load=False)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    with engine:
        for index in range(count):
            op = game_op(worker, index, rng)
            try:
                result = logged_call(engine, op)
            except errors.GamificationError as exc:
                op["refused"] = type(exc).__name__
                if isinstance(exc, errors.Busy | errors.BatchAborted):
                    failures.append(f"{op}: {exc!r}")
            except Exception as exc:  # a raw sqlite3 error or any other escape
                op["refused"] = type(exc).__name__
                failures.append(f"{op}: {traceback.format_exc()}")
            else:
                op["result"] = repr(result)
            results.append(op)
            # A client reads between its writes, as a web page would; it also lets the other
            # workers take the write lock instead of this one taking it straight back.
            engine.points.balances(op["user"])
    Path(report).write_text(json.dumps({"worker": worker, "ops": results, "failures": failures}))
    return 0


# -- game on PostgreSQL -----------------------------------------------------------------------


def op_log_sql(log_schema: str) -> str:
    """The PostgreSQL ``op_log``, in a schema of its own beside the engine's: a call's place
    (``seq``) in the sequence of each thing it held locked (``resource``: ``user:<id>`` for a
    user's advisory lock, ``stock:hat`` for the hat's stock row), taken in the call's
    transaction under that lock; the users whose locks it held (``locks``) and, on the stock
    row, the units it left (``stock``)."""
    return (
        f"CREATE TABLE {log_schema}.op_log (resource TEXT NOT NULL, seq INTEGER NOT NULL, "
        "op TEXT NOT NULL, outcome TEXT NOT NULL, locks TEXT NOT NULL, stock INTEGER, "
        "PRIMARY KEY (resource, seq), UNIQUE (op, resource))"
    )


def outcome(result: Any) -> str:
    """A call's result as the replay compares it: ``repr`` without row ids, which follow the
    order rows of all users were inserted in (interleaved differently by the replay)."""
    text = re.sub(r"(id=|\bid': |_id': )\d+", r"\1#", repr(result))
    return re.sub(r"(_ids=\()[\d, ]+", r"\1#", text)


# The game's users whose advisory locks (PostgresBackend: the two-number form, the schema's
# hash and the user's) this session holds, read from pg_locks (hashtext's int4 as the oid
# pg_locks shows).
_OID = "(hashtext({})::bigint & 4294967295)::text::oid"
_HELD = (
    "SELECT u FROM (VALUES {}) AS users (u) WHERE EXISTS (SELECT 1 FROM pg_locks AS l "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.pid = pg_backend_pid() "
    f"AND l.objsubid = 2 AND l.classid = {_OID.format('?1')} AND l.objid = {_OID.format('u')}) "
    "ORDER BY u"
).format(", ".join(f"('{user}')" for user in game.USERS))


def _log(engine: Gamification, op: dict[str, Any], done: str, where: tuple[str, str]) -> None:
    """Log the call in its transaction: its place among the calls of each user whose lock it
    holds, and for the hat among the purchases that read its stock row (FOR UPDATE, held
    until the commit, so the places follow the order the purchases took the stock in)."""
    schema, log_schema = where
    conn = engine.db.conn
    held = [user for (user,) in conn.execute(_HELD, (schema,))]
    resources = [f"user:{user}" for user in held]
    stock = None
    if op["call"] == "purchase" and op["item"] == "hat":
        resources.append("stock:hat")
        (stock,) = conn.execute("SELECT stock FROM shop_stock WHERE item = 'hat'").fetchone()
    for resource in resources:
        conn.execute(
            f"INSERT INTO {log_schema}.op_log (resource, seq, op, outcome, locks, stock) "
            "SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, CAST(?5 AS integer) "
            f"FROM {log_schema}.op_log WHERE resource = ?1",
            (resource, op["id"], done, " ".join(held), stock),
        )


def call_users(op: dict[str, Any]) -> list[str]:
    """The users a call is about, in id order: a transfer's two, else its user."""
    return sorted({op["user"], op.get("to", op["user"])})


def keyed_call(
    engine: Gamification, op: dict[str, Any], where: tuple[str, str] | None = None
) -> str:
    """The call in a batch of its first user in id order (for a transfer the batch takes the
    first user's lock and the transfer the other's: the order the engine takes a transfer's
    two locks in, so opposite transfers queue rather than deadlock), and its outcome, a result
    or a refusal, logged in the same transaction (``_log``; ``where`` is the engine's schema
    and the log's). ``where`` None (the replay) logs nothing."""
    with engine.batch(user_id=call_users(op)[0]):
        try:
            done = outcome(game_call(engine, op))
        except errors.GamificationError as exc:
            if isinstance(exc, errors.Busy | errors.BatchAborted):
                raise
            done = f"refused {type(exc).__name__}"
        if where is not None:
            _log(engine, op, done, where)
    return done


def run_pg_game(
    url: str, worker: int, count: int, seed: int, report: str, schema: str, log_schema: str
) -> int:
    rng = random.Random(seed)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    engine = game.open_game(url, load=False, schema=schema)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    with engine:
        for index in range(count):
            op = game_op(worker, index, rng)
            try:
                op["outcome"] = keyed_call(engine, op, (schema, log_schema))
            except Exception:  # a conflict, a doomed batch, a raw driver error: all failures
                failures.append(f"{op}: {traceback.format_exc()}")
            results.append(op)
            engine.points.balances(op["user"])
    Path(report).write_text(json.dumps({"worker": worker, "ops": results, "failures": failures}))
    return 0


# -- hold -------------------------------------------------------------------------------------


class Abandon(Exception):
    """Raised in the holder's batch to roll it back."""


def run_hold(path: str) -> int:
    with game.open_game(path, load=False) as engine:
        try:
            with engine.batch():
                engine.award_points(
                    "holder", 77, currency="points", source="hold", idempotency_key="held"
                )
                sys.stdout.write("ready\n")
                sys.stdout.flush()
                if sys.stdin.readline().strip() != "commit":
                    raise Abandon
        except Abandon:
            pass
    return 0


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "hold":
        return run_hold(argv[1])
    if mode == "game":
        path, worker, count, seed, report = argv[1:6]
        return run_game(path, int(worker), int(count), int(seed), report)
    if mode == "pggame":
        url, worker, count, seed, report, schema, log_schema = argv[1:8]
        return run_pg_game(url, int(worker), int(count), int(seed), report, schema, log_schema)
    if mode == "mix":
        path, worker, count, seed, report = argv[1:6]
        return run_mix(path, int(worker), int(count), int(seed), report)
    if mode == "crash":
        path, run, log, limit = argv[1:5]
        return run_crash(path, int(run), log, int(limit))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
