"""The checks after ``gamification migrate``: do the SQLite file and its copy agree?

- **Row counts** per copied table. The file's system accounts are not rows on PostgreSQL:
  each is compared with the sum of its per-user rows (balance, held, lifetime earned and
  spent).
- **A digest per user and table**: every row, as the copy maps it, hashed (BLAKE2b) and
  summed per owner (modulo 2**128), on both sides. A sum does not depend on the order rows
  come in, so the two servers' collations cannot make equal data differ. Numbers are compared
  as values (``NUMERIC`` 3 equals SQLite's 3.0). A system account's leg is compared by
  account name and amount: its id and balances are the per-user row's.
- **The ledger's invariants**, on both sides, in SQL: each transaction's entries sum to zero,
  each account's balance is the sum of its entries, and each entry's ``balance_before`` is
  the previous entry's ``balance_after`` on that account (0 for the first).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import psycopg
from psycopg import sql

from ...errors import CopyTargetInUse
from .copy_plan import SYSTEM, TablePlan, open_source, plans, source_identity
from .migrate import check_schema_name, connect
from .schema import DISTRIBUTED

__all__ = ["CopyCheck", "check_copy"]

_SHOWN = 5  # differences shown per check
_MODULUS = 2**128

_COPY_STATE = "SELECT source, path, finished_at FROM copy_progress WHERE tbl = ''"
_PROGRESS_EXISTS = "SELECT to_regclass(%s) IS NOT NULL"
_PG_SYSTEM = "system_name IS NOT NULL AND system_name NOT LIKE 'deleted:%'"
_FILE_SYSTEM_SUMS = (
    "SELECT system_name, currency, balance, held, lifetime_earned, lifetime_spent "
    f"FROM accounts WHERE {SYSTEM}"
)
_PG_SYSTEM_SUMS = (
    "SELECT system_name, currency, sum(balance), sum(held), sum(lifetime_earned), "
    f"sum(lifetime_spent) FROM accounts WHERE {_PG_SYSTEM} GROUP BY system_name, currency"
)
_PG_ACCOUNTS = f"SELECT count(*) FROM accounts WHERE NOT ({_PG_SYSTEM})"
_FILE_LEG = "a.user_id IS NULL AND a.system_name NOT LIKE 'deleted:%'"
_PG_LEG = "a.system_name IS NOT NULL AND a.system_name NOT LIKE 'deleted:%'"
# A leg as both sides can tell it: on a system account, by name and amount.
_LEGS = (
    "SELECT {owner}, e.transaction_id, CASE WHEN {leg} THEN NULL ELSE e.account_id END, "
    "CASE WHEN {leg} THEN a.system_name END, a.currency, e.amount, "
    "CASE WHEN {leg} THEN NULL ELSE e.balance_before END, "
    "CASE WHEN {leg} THEN NULL ELSE e.balance_after END "
    "FROM entries AS e JOIN accounts AS a ON a.id = e.account_id "
)
_FILE_LEGS = _LEGS.format(owner="t.user_id", leg=_FILE_LEG) + (
    "JOIN transactions AS t ON t.id = e.transaction_id"
)
_PG_LEGS = _LEGS.format(owner="e.user_id", leg=_PG_LEG)
# The ledger's invariants, the same SQL on both sides: rows breaking them, a few.
_UNBALANCED = (
    "SELECT transaction_id FROM entries GROUP BY transaction_id HAVING sum(amount) <> 0 "
    f"ORDER BY transaction_id LIMIT {_SHOWN}"
)
_BALANCES = (
    "SELECT a.id FROM accounts AS a LEFT JOIN (SELECT account_id, sum(amount) AS total "
    "FROM entries GROUP BY account_id) AS e ON e.account_id = a.id "
    f"WHERE a.balance <> coalesce(e.total, 0) ORDER BY a.id LIMIT {_SHOWN}"
)
_CHAINS = (
    "SELECT account_id, transaction_id FROM (SELECT account_id, transaction_id, "
    "balance_before, lag(balance_after, 1, 0) OVER "
    "(PARTITION BY account_id ORDER BY transaction_id) AS previous FROM entries) AS c "
    f"WHERE balance_before <> previous ORDER BY account_id, transaction_id LIMIT {_SHOWN}"
)


@attrs.frozen
class CopyCheck:
    """What the check found: ``counts`` per table as ``(rows in the file, rows on
    PostgreSQL)``, the number of ``users`` whose digests were compared, and ``problems``, one
    line each (none when both sides agree)."""

    schema: str
    counts: dict[str, tuple[int, int]]
    users: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_copy(source: str | Path, url: str, *, schema: str = "gamification") -> CopyCheck:
    """Compare the SQLite file ``source`` with its copy in ``schema`` at ``url``; writes
    nothing to either."""
    check_schema_name(schema)
    file = open_source(source)
    try:
        conn = connect(url)
        try:
            return _check(file, conn, schema)
        finally:
            conn.close()
    finally:
        file.close()


def _check(file: sqlite3.Connection, conn: psycopg.Connection[Any], schema: str) -> CopyCheck:
    problems: list[str] = []
    exists = conn.execute(_PROGRESS_EXISTS, (f"{schema}.copy_progress",)).fetchone()
    state = None
    if exists == (True,):
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        state = conn.execute(_COPY_STATE).fetchone()
    if state is None:
        return CopyCheck(schema, {}, 0, [f"schema {schema!r} holds no copy of this file"])
    if state[0] != source_identity(file):
        raise CopyTargetInUse(schema, f"holds a copy of another SQLite file ({state[1]})")
    if state[2] is None:
        problems.append("the copy has not finished: run `gamification migrate` again")
    table_plans = plans(file, conn, schema)
    file.isolation_level = None
    file.execute("BEGIN")
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            counts = _counts(file, conn, table_plans, problems)
            _system_sums(file, conn, problems)
            users = _digests(file, conn, table_plans, problems)
            for side, run in (("file", file.execute), ("postgresql", conn.execute)):
                _invariants(side, run, problems)
    finally:
        file.execute("COMMIT")
    return CopyCheck(schema, counts, users, problems)


def _counts(
    file: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    table_plans: list[TablePlan],
    problems: list[str],
) -> dict[str, tuple[int, int]]:
    counts = {}
    for plan in table_plans:
        ours = file.execute(plan.count()).fetchone()[0]
        if plan.name == "accounts":
            query: Any = _PG_ACCOUNTS
        else:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(plan.name))
        row = conn.execute(query).fetchone()
        theirs = 0 if row is None else int(row[0])
        counts[plan.name] = (ours, theirs)
        if ours != theirs:
            problems.append(f"{plan.name}: {ours} rows in the file, {theirs} on PostgreSQL")
    return counts


def _system_sums(
    file: sqlite3.Connection, conn: psycopg.Connection[Any], problems: list[str]
) -> None:
    """Each system account of the file against the sum of its per-user rows."""
    theirs = {(r[0], r[1]): tuple(_value(v) for v in r[2:]) for r in conn.execute(_PG_SYSTEM_SUMS)}
    for name, currency, *sums in file.execute(_FILE_SYSTEM_SUMS):
        split = theirs.pop((name, currency), (0, 0, 0, 0))
        if tuple(sums) != split:
            problems.append(
                f"system account {name} ({currency}): balance, held, earned, spent "
                f"{tuple(sums)} in the file, {split} summed over its per-user rows"
            )
    for name, currency in theirs:
        problems.append(f"system account {name} ({currency}) is only on PostgreSQL")


def _digests(
    file: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    table_plans: list[TablePlan],
    problems: list[str],
) -> int:
    """Compare each table's rows per owner; the number of owners seen."""
    owners: set[str] = set()
    for plan in table_plans:
        if plan.name == "entries":
            ours = _sums(plan.name, file.execute(_FILE_LEGS))
            theirs = _sums(plan.name, _stream(conn, sql.SQL(_PG_LEGS)))
        else:
            owner = DISTRIBUTED.get(plan.name)
            index = plan.columns.index(owner) if owner else None
            file_owner = "''" if index is None else plan.exprs[index]
            query = (
                f'SELECT {file_owner}, {", ".join(plan.exprs)} FROM "{plan.name}" '
                f"WHERE {plan.where}"
            )
            ours = _sums(plan.name, file.execute(query))
            columns = sql.SQL(", ").join(map(sql.Identifier, plan.columns))
            pg_owner = sql.Literal("") if owner is None else sql.Identifier(owner)
            pg_query = sql.SQL("SELECT {}, {} FROM {}").format(
                pg_owner, columns, sql.Identifier(plan.name)
            )
            if plan.name == "accounts":
                pg_query += sql.SQL(" WHERE NOT ({})").format(sql.SQL(_PG_SYSTEM))
            theirs = _sums(plan.name, _stream(conn, pg_query))
        owners |= ours.keys() | theirs.keys()
        differ = sorted(u for u in ours.keys() | theirs.keys() if ours.get(u) != theirs.get(u))
        if differ:
            shown = ", ".join(repr(u) for u in differ[:_SHOWN])
            more = f" and {len(differ) - _SHOWN} more" if len(differ) > _SHOWN else ""
            problems.append(f"{plan.name}: the rows of {shown}{more} differ")
    owners.discard("")  # rows without an owner (definitions, configuration) are no user's
    return len(owners)


def _stream(conn: psycopg.Connection[Any], query: sql.Composed | sql.SQL) -> Iterable[Any]:
    with conn.cursor(name="copy_check") as cursor:
        cursor.itersize = 5000
        cursor.execute(query)
        yield from cursor


def _sums(table: str, rows: Iterable[Any]) -> dict[str, int]:
    """Per owner (each row's first value), the sum of its rows' hashes."""
    sums: dict[str, int] = {}
    for row in rows:
        text = repr((table, *(_value(v) for v in row[1:]))).encode()
        digest = int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "big")
        owner = row[0]
        sums[owner] = (sums.get(owner, 0) + digest) % _MODULUS
    return sums


def _value(value: Any) -> Any:
    """A value as both sides can hold it: numbers by value, bytes as bytes."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _invariants(side: str, run: Any, problems: list[str]) -> None:
    for query, what in (
        (_UNBALANCED, "transactions whose entries do not sum to zero"),
        (_BALANCES, "accounts whose balance is not the sum of their entries"),
        (_CHAINS, "entries whose balance_before is not the previous balance_after"),
    ):
        found = [tuple(row) for row in run(query).fetchall()]
        if found:
            problems.append(f"{side}: {what}: {', '.join(map(str, found))}")
