"""``gamification migrate``: copy an engine's SQLite file into its PostgreSQL schema,
resumably and idempotently.

Each table is read from the file in key order, in one read transaction (one snapshot of the
whole file), and written with ``COPY`` in batches. Each batch commits with its table's last
key in ``copy_progress`` (migration p005), so a copy that stops anywhere resumes after the
last committed batch and ends with the same rows; a finished copy run again writes nothing.

The ledger's system accounts are split per user in the last transaction: their legs come in
on the file's account ids, then each (user, system account) gets a row of its own with an id
above the file's, its legs move to it and their balances are chained again in transaction
order (docs/postgresql.md, "System accounts are booked per user"). The identity columns'
sequences (the plugins' tables' too) are moved past the copied ids in that transaction too.

Plugins' tables: the schema is migrated with the plugins' own migrations (``plugins``, as an
engine's open collects them from its plugin manager), then a plugin's table on both sides is
copied and checked like the engine's (copy_plan.py says what happens to one on one side).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import psycopg
from psycopg import sql

from ...core.clock import Clock, system_clock, to_text
from ...errors import CopySourceInvalid, CopyTargetInUse, DatabaseUnreachable
from .copy_plan import POSTGRES_OWN, SYSTEM, TablePlan, open_source, plans, source_identity
from .migrate import check_schema_name, connect, migrate
from .schema import Migration

__all__ = ["LOCK_WAIT_MS", "CopyResult", "Progress", "copy_sqlite"]

LOCK_WAIT_MS = 5000
"""How long a copy waits for another copy into the same schema before refusing."""

Progress = Callable[[str, int, int], None]
"""Called with ``(table, rows copied, rows in the file)`` as a table starts and after each
committed batch. What it raises stops the copy; what was committed stays and is resumed."""

_SOURCE = "SELECT source, path, started_at, finished_at FROM copy_progress WHERE tbl = ''"
_STATE = "SELECT tbl, last_key, copied, finished_at FROM copy_progress WHERE tbl <> ''"
_CLAIM = (
    "INSERT INTO copy_progress (tbl, source, path, started_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (tbl) DO NOTHING"
)
_ADVANCE = (
    "UPDATE copy_progress SET last_key = %s, copied = copied + %s WHERE tbl = %s AND source = %s"
)
# The boards' change log is not copied (each server's board starts from lb_scores). COPY
# appends none; the copy's transactions still say quiet, which the engine's statements and
# any trigger a deployment keeps on lb_scores (as schemas before p010 had) honour.
_QUIET_LOG = "SELECT set_config('gamification.quiet_log', 'on', true)"
_TABLE_DONE = "UPDATE copy_progress SET finished_at = %s WHERE tbl = %s"
# Every table holding data (the plugins' too), not the bookkeeping: migrate() has just
# recorded the plugins' migrations in plugin_migrations.
_ENGINE_TABLES = (
    "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind = 'r' "
    "AND NOT (c.relname = ANY(%s)) ORDER BY c.relname"
)
_IDENTITIES = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = %s AND is_identity = 'YES' ORDER BY table_name"
)
_FILE_SYSTEM_ACCOUNTS = f"SELECT id, system_name, currency FROM accounts WHERE {SYSTEM}"
_FILE_MAX_ACCOUNT = "SELECT coalesce(max(id), 0) FROM accounts"
_SYSTEM_MAP = (
    "unnest(%(ids)s::bigint[], %(names)s::text[], %(currencies)s::text[]) "
    "AS s(id, system_name, currency)"
)
# One row per (user, system account) with legs there, numbered above the file's ids in the
# order of their first leg, created when that first transaction was.
_SPLIT = (
    "INSERT INTO accounts (user_id, id, system_name, currency, balance, held, "
    "lifetime_earned, lifetime_spent, created_at) "
    "SELECT g.user_id, %(base)s + row_number() OVER (ORDER BY g.first, g.account_id), "
    "s.system_name, s.currency, g.balance, 0, 0, 0, t.created_at "
    "FROM (SELECT user_id, account_id, min(transaction_id) AS first, sum(amount) AS balance "
    "FROM entries WHERE account_id = ANY(%(ids)s) GROUP BY user_id, account_id) AS g "
    f"JOIN {_SYSTEM_MAP} ON s.id = g.account_id "
    "JOIN transactions AS t ON t.user_id = g.user_id AND t.id = g.first"
)
_REPOINT = (
    f"UPDATE entries AS e SET account_id = a.id FROM {_SYSTEM_MAP}, accounts AS a "
    "WHERE e.account_id = s.id AND a.user_id = e.user_id AND a.system_name = s.system_name "
    "AND a.currency = s.currency AND a.id > %(base)s"
)
_CHAIN = (
    "UPDATE entries AS e SET balance_before = r.running - e.amount, balance_after = r.running "
    "FROM (SELECT user_id, account_id, transaction_id, sum(amount) OVER "
    "(PARTITION BY account_id ORDER BY transaction_id) AS running "
    "FROM entries WHERE account_id > %(base)s) AS r "
    "WHERE e.user_id = r.user_id AND e.account_id = r.account_id "
    "AND e.transaction_id = r.transaction_id"
)


@attrs.frozen
class CopyResult:
    """What a copy did: ``copied`` rows per table in this run, ``totals`` the file's rows per
    table (as copied: the system accounts are not rows of their own); ``resumed`` when an
    earlier run had started it, ``already_done`` when it had finished it (nothing written)."""

    schema: str
    copied: dict[str, int]
    totals: dict[str, int]
    resumed: bool
    already_done: bool


def copy_sqlite(
    source: str | Path,
    url: str,
    *,
    schema: str = "gamification",
    progress: Progress | None = None,
    batch_size: int = 5000,
    clock: Clock = system_clock,
    plugins: Sequence[tuple[str, Sequence[Migration]]] = (),
) -> CopyResult:
    """Copy the engine's SQLite file ``source`` into ``schema`` on the server at ``url``
    (created and migrated first), or finish a copy of it that stopped.

    ``plugins``: the plugins' own PostgreSQL migrations, ``(name, migrations)``, as
    ``register_postgres_migrations`` gives them (``runtime.plugins.collect_postgres_migrations``
    of a plugin manager; the command line loads the installed plugins'). Their tables are
    made first, so a plugin's tables the file holds are copied too."""
    check_schema_name(schema)
    if batch_size < 1:
        raise CopySourceInvalid(f"batch_size must be at least 1, not {batch_size}")
    file = open_source(source)
    try:
        conn = connect(url)
        try:
            return _copy(
                file, conn, str(source), schema, progress, batch_size, clock, tuple(plugins)
            )
        except psycopg.OperationalError as exc:
            raise DatabaseUnreachable(
                f"server: the connection failed during the copy ({_first_line(exc)}); the "
                "batches committed stay: run the copy again to resume"
            ) from None
        finally:
            conn.close()
    finally:
        file.close()


def _copy(
    file: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    path: str,
    schema: str,
    progress: Progress | None,
    batch_size: int,
    clock: Clock,
    plugins: tuple[tuple[str, Sequence[Migration]], ...],
) -> CopyResult:
    identity = source_identity(file)
    key = _lock(conn, schema)
    try:
        return _copy_locked(
            file, conn, path, schema, progress, batch_size, clock, identity, plugins
        )
    finally:
        if not conn.closed and not conn.broken:
            # Now, not when the server notices the closed connection: a rerun right after an
            # interruption must not find the lock still held.
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _copy_locked(
    file: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    path: str,
    schema: str,
    progress: Progress | None,
    batch_size: int,
    clock: Clock,
    identity: str,
    plugins: tuple[tuple[str, Sequence[Migration]], ...],
) -> CopyResult:
    # A search path may name a schema that does not exist yet: migrate() creates it.
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    # One transaction: a refusal (other data, a schema that differs) leaves nothing behind,
    # not even a schema created or migrated for the copy. migrate() comes first: it refuses
    # another application's schema by name, as open_backend() does.
    with conn.transaction():
        migrate(conn, schema, plugins=plugins)
        resumed = _refuse_other_data(conn, schema, identity)
        table_plans = plans(file, conn, schema)
    file.isolation_level = None
    file.execute("BEGIN")  # one snapshot of the file for every table read below
    try:
        totals = {plan.name: file.execute(plan.count()).fetchone()[0] for plan in table_plans}
        row = conn.execute(_SOURCE).fetchone()
        if row is not None and row[3] is not None:
            return CopyResult(schema, {}, totals, resumed=True, already_done=True)
        at = to_text(clock())
        with conn.transaction():
            for table in ("", *(plan.name for plan in table_plans)):
                conn.execute(_CLAIM, (table, identity, path, at))
        state = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(_STATE)}
        copied: dict[str, int] = {}
        for plan in table_plans:
            last_key, done, finished_at = state[plan.name]
            if finished_at is None:
                copied[plan.name] = _copy_table(
                    file, conn, plan, identity, last_key, done, totals[plan.name],
                    progress, batch_size, clock,
                )  # fmt: skip
            elif progress is not None:
                progress(plan.name, done, totals[plan.name])
        _finish(file, conn, schema, clock)
    finally:
        file.execute("COMMIT")
    return CopyResult(schema, copied, totals, resumed=resumed, already_done=False)


def _lock(conn: psycopg.Connection[Any], schema: str) -> int:
    """One copy into a schema at a time (a session lock: it goes with the connection). A copy
    killed a moment ago may hold it until the server notices: wait a little for it."""
    digest = hashlib.blake2b(f"gamification_sdk:copy:{schema}".encode(), digest_size=8)
    key = int.from_bytes(digest.digest(), "big", signed=True)
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{LOCK_WAIT_MS}ms")))
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    except psycopg.errors.LockNotAvailable:
        raise CopyTargetInUse(
            schema, "is being copied into by another `gamification migrate`"
        ) from None
    finally:
        conn.execute("RESET lock_timeout")
    return key


def _refuse_other_data(conn: psycopg.Connection[Any], schema: str, identity: str) -> bool:
    """Refuse a schema holding data not from this file. True when a copy of this file was
    started there before."""
    row = conn.execute(_SOURCE).fetchone()
    if row is not None:
        if row[0] != identity:
            raise CopyTargetInUse(
                schema, f"holds a copy of another SQLite file ({row[1]}, started {row[2]})"
            )
        return True
    holding = []
    for (table,) in conn.execute(_ENGINE_TABLES, (schema, list(POSTGRES_OWN))).fetchall():
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
        if conn.execute(query).fetchone() == (True,):
            holding.append(table)
    if holding:
        shown = ", ".join(holding[:5]) + (", ..." if len(holding) > 5 else "")
        raise CopyTargetInUse(schema, f"already holds engine data (rows in {shown})")
    return False


def _copy_table(
    file: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    plan: TablePlan,
    identity: str,
    last_key: str | None,
    done: int,
    total: int,
    progress: Progress | None,
    batch_size: int,
    clock: Clock,
) -> int:
    """Copy one table's rows after ``last_key`` in batches; the rows this call copied."""
    if progress is not None:
        progress(plan.name, done, total)
    after = () if last_key is None else tuple(json.loads(last_key))
    cursor = file.execute(plan.select(bool(after)), after)
    width = len(plan.keys)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(plan.name), sql.SQL(", ").join(map(sql.Identifier, plan.columns))
    )
    copied = 0
    while batch := cursor.fetchmany(batch_size):
        key = json.dumps(list(batch[-1][:width]))
        try:
            with conn.transaction():
                conn.execute(_QUIET_LOG)
                with conn.cursor().copy(statement) as copy:
                    for row in batch:
                        copy.write_row(row[width:])
                conn.execute(_ADVANCE, (key, len(batch), plan.name, identity))
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            raise CopySourceInvalid(
                f"table {plan.name}: PostgreSQL refuses a row after key {last_key}: "
                f"{_first_line(exc)}"
            ) from None
        last_key = key
        copied += len(batch)
        done += len(batch)
        if progress is not None:
            progress(plan.name, done, total)
    with conn.transaction():
        conn.execute(_TABLE_DONE, (to_text(clock()), plan.name))
    return copied


def _finish(
    file: sqlite3.Connection, conn: psycopg.Connection[Any], schema: str, clock: Clock
) -> None:
    """Split the system accounts per user and move the sequences past the copied ids, in one
    transaction that marks the copy finished."""
    system = file.execute(_FILE_SYSTEM_ACCOUNTS).fetchall()
    base = file.execute(_FILE_MAX_ACCOUNT).fetchone()[0]
    params = {
        "base": base,
        "ids": [row[0] for row in system],
        "names": [row[1] for row in system],
        "currencies": [row[2] for row in system],
    }
    with conn.transaction():
        conn.execute(_SPLIT, params)
        conn.execute(_REPOINT, params)
        conn.execute(_CHAIN, params)
        for table, column in conn.execute(_IDENTITIES, (schema,)).fetchall():
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({}, {}), coalesce(max({}), 0) + 1, "
                    "false) FROM {}"
                ).format(
                    sql.Literal(f"{schema}.{table}"), sql.Literal(column),
                    sql.Identifier(column), sql.Identifier(table),
                )
            )  # fmt: skip
        conn.execute(_TABLE_DONE, (to_text(clock()), ""))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
