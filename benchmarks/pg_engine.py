"""The engine on PostgreSQL: keyed ``award_points`` and ``award_xp`` per second from 1, 2, 4 and
8 processes (each an app server with its own engine on one schema), beside raw psycopg doing
the same minimal writes in the same round trips, and the ratio between them.

The engine sends a keyed award in 2 round trips (storage/postgres/session.py): ``BEGIN``, the
user's advisory lock, the key lookup and the write's first statement (points: the user's
balance, which also draws the transaction's number; XP: the profile read), then the rest with
``COMMIT`` (points: the transaction row, the issuance row and both entries; XP: the XP log
row, the profile update and the board's score). The raw shapes send the same statements in
the same 2 round trips (psycopg's pipeline mode) with the fewest columns, no Python between
them beyond building the parameters: what the engine adds is
its own work (validation, plugins, events, levels, boards). Not run by CI.

    .venv/bin/python benchmarks/pg_engine.py [--url postgresql://...] [--seconds 4]

Without ``--url`` it starts a throwaway cluster (tests/pg_cluster.py: ``fsync=off``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pg_processes import rate, server  # noqa: E402

from gamification_sdk import Gamification  # noqa: E402

SCHEMA = "gamification_bench_engine"
NOW = "2026-12-04T12:00:00.000000+00:00"
PROCESSES = (1, 2, 4, 8)
USERS = 500

LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))"
LOOKUP = (
    "SELECT operation, fingerprint, result FROM idempotency_keys WHERE user_id IN (%s, '') "
    "AND key = %s UNION ALL SELECT operation, fingerprint, '' FROM transactions "
    "WHERE idempotency_key = %s AND user_id = %s"
)
CREDIT = (
    "UPDATE accounts SET balance = balance + %s, lifetime_earned = lifetime_earned + %s "
    "WHERE system_name IS NULL AND user_id = %s AND currency = 'points' "
    "RETURNING id, balance, nextval('transactions_id_seq')"
)
TRANSACTION = (
    "INSERT INTO transactions (id, user_id, type, currency, amount, source, idempotency_key, "
    "operation, fingerprint, created_at) VALUES (%s, %s, 'earned', 'points', %s, 'bench', %s, "
    "'award_points', %s, %s)"
)
ISSUE_AND_ENTRIES = (
    "WITH s AS (INSERT INTO accounts (user_id, system_name, currency, balance, created_at) "
    "VALUES (%(user)s, 'issuance', 'points', -%(amount)s, %(at)s) "
    "ON CONFLICT (user_id, system_name, currency) "
    "DO UPDATE SET balance = accounts.balance + excluded.balance RETURNING id, balance) "
    "INSERT INTO entries (user_id, transaction_id, account_id, amount, balance_before, "
    "balance_after) SELECT %(user)s, %(tx)s, id, -%(amount)s, balance + %(amount)s, balance "
    "FROM s UNION ALL VALUES (%(user)s, %(tx)s, %(account)s, %(amount)s, %(before)s, "
    "%(after)s)"
)
XP_LOOKUP = (
    "SELECT operation, fingerprint, result FROM idempotency_keys WHERE user_id IN (%s, '') "
    "AND key = %s UNION ALL SELECT 'award_xp', fingerprint, '' FROM xp_awards "
    "WHERE idempotency_key = %s AND user_id = %s"
)
PROFILE = "SELECT xp, level FROM profiles WHERE user_id = %s"
XP_ROW = (
    "INSERT INTO xp_awards (user_id, id, base_amount, multiplier, amount, total_xp, "
    "level_before, level_after, source, idempotency_key, created_at, fingerprint) VALUES (%s, "
    "(SELECT COALESCE(MAX(id), 0) + 1 FROM xp_awards WHERE user_id = %s), %s, 1.0, %s, %s, %s, "
    "%s, 'bench', %s, %s, %s)"
)
SET_XP = "UPDATE profiles SET xp = xp + %s, updated_at = %s WHERE user_id = %s"
BOARD = (
    "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) VALUES (%s, 1, %s, 0, 0) "
    "ON CONFLICT (user_id, period_id) DO UPDATE SET score = lb_scores.score + excluded.score"
)


def raw_points(conn: psycopg.Connection[Any], user: str, key: str, begin: str) -> None:
    fingerprint = hashlib.blake2b(key.encode(), digest_size=16).digest()
    with conn.pipeline():
        conn.execute(begin)
        conn.execute(LOCK, (SCHEMA, user))
        found = conn.execute(LOOKUP, (user, key, "call:" + key, user))
        credit = conn.cursor().execute(CREDIT, (5, 5, user))
    if found.fetchone() is not None:
        conn.execute("ROLLBACK")
        return
    account, balance, tx = credit.fetchone()  # type: ignore[misc]
    with conn.pipeline():
        conn.execute(TRANSACTION, (tx, user, 5, "call:" + key, fingerprint, NOW))
        conn.execute(
            ISSUE_AND_ENTRIES,
            {"user": user, "amount": 5, "at": NOW, "tx": tx, "account": account,
             "before": balance - 5, "after": balance},
        )  # fmt: skip
        conn.execute("COMMIT")


def raw_xp(conn: psycopg.Connection[Any], user: str, key: str, begin: str) -> None:
    fingerprint = hashlib.blake2b(key.encode(), digest_size=16).digest()
    with conn.pipeline():
        conn.execute(begin)
        conn.execute(LOCK, (SCHEMA, user))
        found = conn.execute(XP_LOOKUP, (user, key, key, user))
        profile = conn.cursor().execute(PROFILE, (user,))
    if found.fetchone() is not None:
        conn.execute("COMMIT")
        return
    xp, level = profile.fetchone()  # type: ignore[misc]
    with conn.pipeline():
        conn.execute(XP_ROW, (user, user, 5, 5, xp + 5, level, level, key, NOW, fingerprint))
        conn.execute(SET_XP, (5, NOW, user))
        conn.execute(BOARD, (user, 5))
        conn.execute("COMMIT")


def setup(url: str, users: int = USERS, groups: int = max(PROCESSES)) -> None:
    """A fresh schema where ``users`` users of each of ``groups`` workers (``u<worker>-<i>``)
    have a profile, an account and an issuance row, as after their first day."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    with Gamification.open(url, schema=SCHEMA, load_entrypoints=False) as g:
        for n in range(groups):
            for i in range(users):
                user = f"u{n}-{i}"
                g.award_points(user, 5, currency="points", source="seed")
                g.award_xp(user, 5, source="seed")


def worker(url: str, kind: str, who: int, seconds: float, done: Any) -> None:
    count = 0
    if kind.startswith("engine"):
        with Gamification.open(url, schema=SCHEMA, load_entrypoints=False) as g:
            award: Any = (
                (
                    lambda u, k: g.award_points(
                        u, 5, currency="points", source="b", idempotency_key=k
                    )
                )
                if kind == "engine points"
                else (lambda u, k: g.award_xp(u, 5, source="b", idempotency_key=k))
            )
            g._store.conn.raw.execute("SET synchronous_commit TO off")  # type: ignore[attr-defined]
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                award(f"u{who}-{count % USERS}", f"{kind}-{who}-{count}")
                count += 1
    else:
        shape = raw_points if kind == "raw points" else raw_xp
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {SCHEMA}")
            conn.execute("SET synchronous_commit TO off")
            begin = "BEGIN ISOLATION LEVEL READ COMMITTED"
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                shape(conn, f"u{who}-{count % USERS}", f"{kind}-{who}-{count}", begin)
                count += 1
    done.put(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("GAMIFICATION_BENCH_POSTGRES_URL"))
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    with server(args.url) as url:
        setup(url)
        heads = " | ".join(f"{n} process{'es' if n > 1 else ''}" for n in PROCESSES)
        print(f"| keyed award | {heads} |")
        print("| --- |" + " ---: |" * len(PROCESSES))
        rates: dict[str, list[float]] = {}
        for kind in ("raw points", "engine points", "raw xp", "engine xp"):
            rates[kind] = [rate(worker, url, kind, n, args.seconds) for n in PROCESSES]
            shown = " | ".join(f"{per:,.0f}/s" for per in rates[kind])
            print(f"| {kind} | {shown} |", flush=True)
        for what in ("points", "xp"):
            ratios = [
                e / r for e, r in zip(rates[f"engine {what}"], rates[f"raw {what}"], strict=True)
            ]
            print(f"| ratio {what} | " + " | ".join(f"{ratio:.2f}" for ratio in ratios) + " |")
        with Gamification.open(url, schema=SCHEMA, load_entrypoints=False) as g:
            report = g.verify_ledger()
            assert report.ok, report.problems[:3]


if __name__ == "__main__":
    main()
