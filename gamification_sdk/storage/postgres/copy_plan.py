"""What ``gamification migrate`` copies from a SQLite file, and how each table's rows are read
there: the source checked (an engine's file, migrated exactly as far as this package knows),
the two schemas compared, and one plan per table.

The row mapping is the contract the engine on PostgreSQL reads (docs/postgresql.md, "Moving
off SQLite"): same tables, columns and ids; a system account's legs booked per user (made
by copy.py once the entries are in); every ledger line owned by its transaction's user; the
key registry's keys under the reserved user ``''``.

A plugin's tables (the webhooks plugin's) are copied like the engine's when both sides have
them: the plugin keeps them in the file and, on PostgreSQL, makes them through its
``register_postgres_migrations`` hook, which the copy runs first. A plugin's table only on
PostgreSQL (the plugin installed, the file never had it) is left empty; one only in the file
(the plugin not installed where the copy runs) is refused, naming what the file says of it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import psycopg
import sqlite_utils
from psycopg import sql

from ...errors import CopySourceInvalid, SchemaMismatch, SchemaTooNew
from ..schema import migrations

__all__ = [
    "NOT_COPIED",
    "POSTGRES_OWN",
    "SYSTEM",
    "TablePlan",
    "open_source",
    "plans",
    "postgres_columns",
    "source_identity",
]

NOT_COPIED: dict[str, str] = {
    "lb_log": "the boards' change log: each app server's board catches up from lb_scores",
    "leases": "the scheduler's lease names a process of the stopped SQLite app",
}
"""Tables both sides have that the copy leaves empty, and why (the docs list them too)."""

# Tables of one side only that are no engine data.
_SQLITE_OWN = ("_sqlite_migrations",)  # sqlite-utils' record of the file's migrations
POSTGRES_OWN = ("schema_migrations", "plugin_migrations", "copy_progress")
"""PostgreSQL's own bookkeeping tables: no engine data, neither compared nor copied."""

SYSTEM = "user_id IS NULL AND system_name NOT LIKE 'deleted:%'"
"""A system account of the file (issuance, sink, breakage): not an erased user's account,
whose ``system_name`` is ``deleted:<pseudonym>``."""

# PostgreSQL columns filled from an expression of the file's row: the owner of a row the file
# keeps without one (or with another). An erased user's account keeps its pseudonym as owner.
_OWNER_OF_ACCOUNT = "CASE WHEN user_id IS NULL THEN substr(system_name, 9) ELSE user_id END"
_OWNER_OF_LOT = "(SELECT l.user_id FROM point_lots AS l WHERE l.id = {}.lot_id)"
_DERIVED: dict[str, dict[str, str]] = {
    "accounts": {"user_id": _OWNER_OF_ACCOUNT},
    "entries": {
        "user_id": "(SELECT t.user_id FROM transactions AS t WHERE t.id = entries.transaction_id)"
    },
    "idempotency_keys": {"user_id": "''"},
    "lot_uses": {"user_id": _OWNER_OF_LOT.format("lot_uses")},
    "lot_holds": {"user_id": _OWNER_OF_LOT.format("lot_holds")},
}
# Rows of the file not copied as they are: the system accounts are split per user (copy.py).
_FILTERS = {"accounts": f"NOT ({SYSTEM})"}
# Read in transaction order: a system account's per-user rows chain in that order.
_ORDER = {"entries": ("transaction_id", "account_id")}

_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
    "ESCAPE '\\' ORDER BY name"
)
_APPLIED = "SELECT name, applied_at FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id"
_OTHER_SETS = (
    "SELECT DISTINCT migration_set FROM _sqlite_migrations WHERE migration_set <> ? "
    "ORDER BY migration_set"
)
# Tables only: the schema's readable views are no data of their own.
_PG_COLUMNS = (
    "SELECT c.table_name, c.column_name FROM information_schema.columns AS c "
    "JOIN information_schema.tables AS t ON t.table_schema = c.table_schema "
    "AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
    "WHERE c.table_schema = %s ORDER BY c.table_name, c.ordinal_position"
)
_PG_KEYS = (
    "SELECT DISTINCT a.relname, b.relname FROM pg_constraint AS c "
    "JOIN pg_class AS a ON a.oid = c.conrelid JOIN pg_class AS b ON b.oid = c.confrelid "
    "JOIN pg_namespace AS n ON n.oid = a.relnamespace WHERE c.contype = 'f' AND n.nspname = %s"
)


@attrs.frozen
class TablePlan:
    """How one table is read from the file: ``select(after)`` gives its rows in key order
    (the key's values first, then the PostgreSQL columns' values), from after the key
    ``after`` when resuming."""

    name: str
    columns: tuple[str, ...]
    exprs: tuple[str, ...]
    keys: tuple[str, ...]
    where: str

    def select(self, resume: bool) -> str:
        keys = ", ".join(self.keys)
        after = f" AND ({keys}) > ({', '.join('?' * len(self.keys))})" if resume else ""
        return (
            f"SELECT {keys}, {', '.join(self.exprs)} FROM {_q(self.name)} "
            f"WHERE ({self.where}){after} ORDER BY {keys}"
        )

    def count(self) -> str:
        return f"SELECT count(*) FROM {_q(self.name)} WHERE {self.where}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def open_source(path: str | Path) -> sqlite3.Connection:
    """The file, opened read-only, once it is known to be an engine's database migrated exactly
    as far as this package knows; ``CopySourceInvalid`` or ``SchemaTooNew`` otherwise."""
    file = Path(path)
    if not file.is_file():
        why = "is a directory" if file.is_dir() else "does not exist"
        raise CopySourceInvalid(f"{str(path)!r} {why}; give the engine's SQLite file")
    try:
        conn = sqlite3.connect(f"file:{quote(str(file.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CopySourceInvalid(f"cannot open {str(path)!r}: {exc}") from None
    try:
        tables = {row[0] for row in conn.execute(_TABLES)}
        if "_sqlite_migrations" not in tables or "profiles" not in tables:
            raise CopySourceInvalid(f"{str(path)!r} is not a gamification database")
        applied = [row[0] for row in conn.execute(_APPLIED, (migrations.name,))]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise CopySourceInvalid(f"{str(path)!r} is not a SQLite database ({exc})") from None
    except BaseException:
        conn.close()
        raise
    known = [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]
    unknown = [name for name in applied if name not in known]
    missing = [name for name in known if name not in applied]
    if unknown or missing:
        conn.close()
        if unknown:
            raise SchemaTooNew(f"the file {str(path)!r}", unknown)
        raise CopySourceInvalid(
            f"{str(path)!r} lacks this version's migrations ({', '.join(missing)}): open it "
            "once with this version (any gamification command does), then copy it"
        )
    return conn


def source_identity(conn: sqlite3.Connection) -> str:
    """Which file this is, wherever it was moved: its first migration, when it was created."""
    first = conn.execute(_APPLIED, (migrations.name,)).fetchone()
    return hashlib.blake2b(repr(tuple(first)).encode(), digest_size=16).hexdigest()


def postgres_columns(conn: psycopg.Connection[Any], schema: str) -> dict[str, list[str]]:
    """Each table of the schema and its columns, in order."""
    columns: dict[str, list[str]] = {}
    for table, column in conn.execute(_PG_COLUMNS, (schema,)):
        columns.setdefault(table, []).append(column)
    return columns


def _sqlite_columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    return {
        table: [row[1] for row in conn.execute(f"PRAGMA table_info({_q(table)})")]
        for (table,) in conn.execute(_TABLES).fetchall()
        if table not in _SQLITE_OWN
    }


def _keys(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    if table in _ORDER:
        return tuple(_q(c) for c in _ORDER[table])
    try:
        conn.execute(f"SELECT rowid FROM {_q(table)} LIMIT 0")
        return ("rowid",)  # a rowid table: its rowid is its order on disk
    except sqlite3.OperationalError:
        info = sorted((row[5], row[1]) for row in conn.execute(f"PRAGMA table_info({_q(table)})"))
        return tuple(_q(name) for pk, name in info if pk > 0)


def plans(
    source: sqlite3.Connection, target: psycopg.Connection[Any], schema: str
) -> list[TablePlan]:
    """One plan per copied table, in an order that inserts what a foreign key names first;
    ``SchemaMismatch`` names every table or column found on one side only (a plugin's table
    only on PostgreSQL excepted: the file never had the plugin, the table stays empty)."""
    file = _sqlite_columns(source)
    server = {t: c for t, c in postgres_columns(target, schema).items() if t not in POSTGRES_OWN}
    engine = _engine_tables()
    differences = [
        _only_in_file(source, t) if t not in engine else f"table {t} is only in the file"
        for t in sorted(set(file) - set(server))
    ]
    # Not the engine's, where plugins' migrations ran: a plugin's the file never had.
    plugins = _plugins_migrated(target, schema)
    differences += [
        f"table {t} is only in PostgreSQL"
        for t in sorted(set(server) - set(file))
        if t in engine or not plugins
    ]
    found = []
    for table in sorted(set(file) & set(server) - set(NOT_COPIED)):
        derived = _DERIVED.get(table, {})
        only_file = [c for c in file[table] if c not in server[table]]
        only_server = [c for c in server[table] if c not in file[table] and c not in derived]
        differences += [f"column {table}.{c} is only in the file" for c in only_file]
        differences += [f"column {table}.{c} is only in PostgreSQL" for c in only_server]
        exprs = tuple(derived.get(c, _q(c)) for c in server[table])
        found.append(
            TablePlan(
                table, tuple(server[table]), exprs, _keys(source, table),
                _FILTERS.get(table, "1 = 1"),
            )
        )  # fmt: skip
    if differences:
        raise SchemaMismatch(differences)
    return _in_key_order(found, target, schema)


def _engine_tables() -> frozenset[str]:
    """The tables this version's engine makes (on a file; PostgreSQL has the same ones): any
    other table is a plugin's, or a hand-made one. Not cached: a host or a test may register
    a migration after import."""
    db = sqlite_utils.Database(memory=True)
    try:
        migrations.apply(db)
        return frozenset(db.table_names())
    finally:
        db.close()


def _plugins_migrated(target: psycopg.Connection[Any], schema: str) -> bool:
    """Whether a plugin's migrations ran in the schema (``plugin_migrations`` has a row)."""
    found = target.execute("SELECT to_regclass(%s)", (f"{schema}.plugin_migrations",))
    if found.fetchone() in (None, (None,)):
        return False
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.plugin_migrations)")
    return target.execute(query.format(sql.Identifier(schema))).fetchone() == (True,)


def _only_in_file(source: sqlite3.Connection, table: str) -> str:
    """A table of the file that is not the engine's: a plugin's, whose migrations are not on
    PostgreSQL because the plugin is not installed (or not loaded) where the copy runs. The
    file records which plugins migrated it (their sqlite-utils migration sets), not which
    table is whose: all of them are named."""
    sets = [row[0] for row in source.execute(_OTHER_SETS, (migrations.name,))]
    if not sets:
        return f"table {table} is only in the file"
    return (
        f"table {table} is only in the file, made by a plugin (the file records the "
        f"migrations of {', '.join(sets)}): install and load the plugin that owns it where "
        "`gamification migrate` runs, then run it again"
    )


def _in_key_order(
    found: list[TablePlan], target: psycopg.Connection[Any], schema: str
) -> list[TablePlan]:
    """The plans ordered so that a table comes after every table its foreign keys name."""
    after: dict[str, set[str]] = {plan.name: set() for plan in found}
    for table, referenced in target.execute(_PG_KEYS, (schema,)):
        if table in after and referenced in after and table != referenced:
            after[table].add(referenced)
    by_name = {plan.name: plan for plan in found}
    ordered: list[TablePlan] = []
    placed: set[str] = set()
    while len(ordered) < len(found):
        ready = sorted(t for t in after if t not in placed and after[t] <= placed)
        ordered.append(by_name[ready[0]])
        placed.add(ready[0])
    return ordered
