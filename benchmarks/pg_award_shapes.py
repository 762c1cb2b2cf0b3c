"""A keyed double-entry award on PostgreSQL in two shapes, to choose how the ledger is ported.

- ``interactive``: the statements one by one, as the SQLite ledger runs them: ``BEGIN``, the
  key lookup, the user's account row, the user's and the issuance account's balances, the
  transaction row, two entry lines, ``COMMIT`` (9 round trips).
- ``cte``: the same writes as one statement of data-modifying CTEs in autocommit (1 round
  trip); the transaction row's unique key makes a repeat write nothing.
- ``function``: the interactive statements inside a PL/pgSQL function, called in autocommit
  (1 round trip); the key lookup and the order of the writes are the interactive shape's.

Both book the issuance side on one of 64 stripe rows (a row every award would update is a
queue: docs/postgresql.md), on the schema's own tables (storage/postgres/schema.py). Awards per
second from 1, 2, 4 and 8 processes, each process its own users. Not run by CI.

    .venv/bin/python benchmarks/pg_award_shapes.py [--url postgresql://...] [--seconds 5]

Without ``--url`` it starts a throwaway cluster (tests/pg_cluster.py: ``fsync=off`` and
``synchronous_commit=off``, so commits do not wait for the disk).
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

from gamification_sdk.storage.postgres import open_backend  # noqa: E402

SCHEMA = "gamification_bench"
STRIPES = 64
NOW = "2026-12-04T12:00:00+00:00"

LOOKUP = "SELECT id FROM transactions WHERE user_id = %s AND idempotency_key = %s"
ACCOUNT = (
    "INSERT INTO accounts (user_id, currency, created_at) VALUES (%s, 'coins', %s) "
    "ON CONFLICT (user_id, system_name, currency) DO UPDATE SET currency = EXCLUDED.currency "
    "RETURNING id"
)
CREDIT = (
    "UPDATE accounts SET balance = balance + %s, lifetime_earned = lifetime_earned + %s "
    "WHERE user_id = %s AND id = %s RETURNING balance"
)
ISSUE = (
    "UPDATE accounts SET balance = balance - %s WHERE user_id = %s "
    "AND system_name = 'issuance' AND currency = 'coins' RETURNING id, balance"
)
TRANSACTION = (
    "INSERT INTO transactions (user_id, type, currency, amount, source, idempotency_key, "
    "operation, fingerprint, created_at) VALUES (%s, 'earned', 'coins', %s, 'bench', %s, "
    "'award_points', %s, %s) RETURNING id"
)
ENTRY = (
    "INSERT INTO entries (user_id, transaction_id, account_id, amount, balance_before, "
    "balance_after) VALUES (%s, %s, %s, %s, %s, %s)"
)
ONE_STATEMENT = """
WITH tx AS (
    INSERT INTO transactions (user_id, type, currency, amount, source, idempotency_key,
        operation, fingerprint, created_at)
    VALUES (%(user)s, 'earned', 'coins', %(amount)s, 'bench', %(key)s, 'award_points',
        %(fingerprint)s, %(now)s)
    ON CONFLICT (user_id, idempotency_key) DO NOTHING
    RETURNING id
), account AS (
    INSERT INTO accounts AS a (user_id, currency, balance, lifetime_earned, created_at)
    SELECT %(user)s, 'coins', %(amount)s, %(amount)s, %(now)s FROM tx
    ON CONFLICT (user_id, system_name, currency) DO UPDATE
    SET balance = a.balance + EXCLUDED.balance,
        lifetime_earned = a.lifetime_earned + EXCLUDED.lifetime_earned
    RETURNING id, balance
), issuance AS (
    UPDATE accounts SET balance = balance - %(amount)s
    WHERE user_id = %(stripe)s AND system_name = 'issuance' AND currency = 'coins'
      AND EXISTS (SELECT 1 FROM tx)
    RETURNING id, balance
), lines AS (
    INSERT INTO entries (user_id, transaction_id, account_id, amount, balance_before,
        balance_after)
    SELECT %(user)s, tx.id, account.id, %(amount)s, account.balance - %(amount)s,
        account.balance FROM tx, account
    UNION ALL
    SELECT %(user)s, tx.id, issuance.id, -%(amount)s, issuance.balance + %(amount)s,
        issuance.balance FROM tx, issuance
)
SELECT (SELECT id FROM tx), (SELECT balance FROM account)
"""


FUNCTION = """
CREATE FUNCTION award(p_user TEXT, p_amount BIGINT, p_key TEXT, p_fingerprint BYTEA,
    p_now TEXT, p_stripe TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    v_account BIGINT; v_balance BIGINT; v_system BIGINT; v_system_balance BIGINT; v_tx BIGINT;
BEGIN
    SELECT id INTO v_tx FROM transactions WHERE user_id = p_user AND idempotency_key = p_key;
    IF FOUND THEN RETURN v_tx; END IF;
    INSERT INTO accounts (user_id, currency, created_at) VALUES (p_user, 'coins', p_now)
    ON CONFLICT (user_id, system_name, currency) DO UPDATE SET currency = EXCLUDED.currency
    RETURNING id INTO v_account;
    UPDATE accounts SET balance = balance + p_amount,
        lifetime_earned = lifetime_earned + p_amount
    WHERE user_id = p_user AND id = v_account RETURNING balance INTO v_balance;
    UPDATE accounts SET balance = balance - p_amount WHERE user_id = p_stripe
        AND system_name = 'issuance' AND currency = 'coins'
    RETURNING id, balance INTO v_system, v_system_balance;
    INSERT INTO transactions (user_id, type, currency, amount, source, idempotency_key,
        operation, fingerprint, created_at)
    VALUES (p_user, 'earned', 'coins', p_amount, 'bench', p_key, 'award_points',
        p_fingerprint, p_now) RETURNING id INTO v_tx;
    INSERT INTO entries (user_id, transaction_id, account_id, amount, balance_before,
        balance_after)
    VALUES (p_user, v_tx, v_account, p_amount, v_balance - p_amount, v_balance),
        (p_user, v_tx, v_system, -p_amount, v_system_balance + p_amount, v_system_balance);
    RETURN v_tx;
END $$
"""
SHAPES = (("interactive", 9), ("cte", 1), ("function", 1))
PROCESSES = (1, 2, 4, 8)


def stripe(user: str) -> str:
    digest = hashlib.blake2b(user.encode(), digest_size=2).digest()
    return f"$issuance:{int.from_bytes(digest) % STRIPES}"


def setup(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    open_backend(url, schema=SCHEMA).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {SCHEMA}")
        for n in range(STRIPES):
            conn.execute(
                "INSERT INTO accounts (user_id, system_name, currency, created_at) "
                "VALUES (%s, 'issuance', 'coins', %s)",
                (f"$issuance:{n}", NOW),
            )
            # Each stripe's entries name a transaction of that stripe's own (see schema.py).
        conn.execute(FUNCTION)


def interactive(conn: psycopg.Connection[Any], user: str, key: str) -> None:
    fingerprint = hashlib.blake2b(key.encode(), digest_size=16).digest()
    conn.execute("BEGIN")
    if conn.execute(LOOKUP, (user, key)).fetchone() is not None:
        conn.execute("COMMIT")
        return
    (account,) = conn.execute(ACCOUNT, (user, NOW)).fetchone()  # type: ignore[misc]
    (balance,) = conn.execute(CREDIT, (5, 5, user, account)).fetchone()  # type: ignore[misc]
    system, system_balance = conn.execute(ISSUE, (5, stripe(user))).fetchone()  # type: ignore[misc]
    (tx,) = conn.execute(TRANSACTION, (user, 5, key, fingerprint, NOW)).fetchone()  # type: ignore[misc]
    conn.execute(ENTRY, (user, tx, account, 5, balance - 5, balance))
    conn.execute(ENTRY, (user, tx, system, -5, system_balance + 5, system_balance))
    conn.execute("COMMIT")


def one_statement(conn: psycopg.Connection[Any], user: str, key: str) -> None:
    fingerprint = hashlib.blake2b(key.encode(), digest_size=16).digest()
    conn.execute(
        ONE_STATEMENT,
        {
            "user": user,
            "amount": 5,
            "key": key,
            "fingerprint": fingerprint,
            "now": NOW,
            "stripe": stripe(user),
        },
    ).fetchone()


def function(conn: psycopg.Connection[Any], user: str, key: str) -> None:
    fingerprint = hashlib.blake2b(key.encode(), digest_size=16).digest()
    conn.execute(
        "SELECT award(%s, %s, %s, %s, %s, %s)", (user, 5, key, fingerprint, NOW, stripe(user))
    ).fetchone()


def worker(url: str, shape: str, who: int, seconds: float, done: Any) -> None:
    award = {"interactive": interactive, "cte": one_statement, "function": function}[shape]
    count = 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {SCHEMA}")
        conn.execute("SET synchronous_commit TO off")
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            user = f"u{who}-{count % 1000}"
            award(conn, user, f"{shape}-{who}-{count}")
            count += 1
    done.put(count)


def check(url: str) -> None:
    """Both shapes wrote balanced ledgers: every transaction's lines sum to zero."""
    with psycopg.connect(url) as conn:
        conn.execute(f"SET search_path TO {SCHEMA}")
        row = conn.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM entries "
            "GROUP BY user_id, transaction_id HAVING sum(amount) <> 0 OR count(*) <> 2) AS bad"
        ).fetchone()
        assert row == (0,), row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("GAMIFICATION_BENCH_POSTGRES_URL"))
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with server(args.url) as url:
        setup(url)
        heads = " | ".join(f"{n} process{'es' if n > 1 else ''}" for n in PROCESSES)
        print(f"| shape | round trips | {heads} |")
        print("| --- | ---: |" + " ---: |" * len(PROCESSES))
        for shape, trips in SHAPES:
            rates = [rate(worker, url, shape, n, args.seconds) for n in PROCESSES]
            shown = " | ".join(f"{per:,.0f}/s" for per in rates)
            print(f"| {shape} | {trips} | {shown} |", flush=True)
        check(url)


if __name__ == "__main__":
    main()
