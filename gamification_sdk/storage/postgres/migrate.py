"""Opening a PostgreSQL schema: the URL, the connection, the server's version, the rights the
role needs and the versioned migrations, each refused as a typed error before anything is
written.

Migrations run in one transaction that first takes an advisory lock named after the schema,
so app servers starting together queue: the first creates and migrates, the others then find
nothing to do. A refusal inside it (missing right, occupied schema) rolls back whatever the
transaction made: no partial schema is left.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ...errors import (
    DatabaseUnreachable,
    DatabaseUrlInvalid,
    InvalidInput,
    MissingPrivilege,
    SchemaOccupied,
    SchemaTooNew,
    ServerTooOld,
)
from .schema import MIGRATIONS, Migration

__all__ = [
    "MIN_SERVER_VERSION",
    "check_server_version",
    "check_url",
    "connect",
    "lock_key",
    "migrate",
]

MIN_SERVER_VERSION = 150000
"""PostgreSQL 15: ``UNIQUE NULLS NOT DISTINCT`` (the accounts' key) and ``MERGE`` are 15's."""

_MARK = "gamification_sdk schema migrations"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_url(url: str) -> dict[str, Any]:
    """The URL's parts; ``DatabaseUrlInvalid`` names what is wrong with it."""
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseUrlInvalid(f"{_shown(url)} is not a postgresql:// or postgres:// URL")
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise DatabaseUrlInvalid(f"{_shown(url)} cannot be parsed: {_first_line(exc)}") from None
    for port in str(parts.get("port", "5432")).split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise DatabaseUrlInvalid(f"port {port!r} is not a number from 1 to 65535")
    return parts


def check_schema_name(schema: str) -> None:
    """A plain lower-case name: it is written into every statement's search path."""
    if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
        raise InvalidInput(
            "schema",
            f"{schema!r} is not a lower-case name of letters, digits and _ (at most 63)",
        )
    if schema.startswith("pg_"):
        raise InvalidInput("schema", f"{schema!r}: names starting pg_ are PostgreSQL's")


def check_server_version(version_num: int) -> None:
    """``server_version_num`` (``150004`` for 15.4): older than 15 is ``ServerTooOld``."""
    if version_num < MIN_SERVER_VERSION:
        major, rest = divmod(version_num, 10000)
        # Before 10 the minor had two digits of its own: 90624 is 9.6.24.
        found = f"{major}.{rest // 100}.{rest % 100}" if major < 10 else f"{major}.{rest}"
        raise ServerTooOld(found, f"{MIN_SERVER_VERSION // 10000}")


def connect(url: str) -> psycopg.Connection[Any]:
    """A connection in autocommit mode (the backend writes its own ``BEGIN``)."""
    parts = check_url(url)
    try:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=parts.get("connect_timeout", 10)
        )
    except psycopg.OperationalError as exc:
        where = f"{parts.get('host', 'the local socket')}:{parts.get('port', 5432)}"
        raise DatabaseUnreachable(
            f"server: cannot connect to {where} (database {parts.get('dbname', 'default')!r}): "
            f"{_first_line(exc)}"
        ) from None


def lock_key(schema: str) -> int:
    """The advisory lock that serialises migrations of one schema (a signed 64-bit key)."""
    digest = hashlib.blake2b(f"gamification_sdk:migrate:{schema}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def server_facts(conn: psycopg.Connection[Any]) -> tuple[int, str, str]:
    """``server_version_num``, the role and the database, in one round trip."""
    row = conn.execute(
        "SELECT current_setting('server_version_num')::int, current_user, current_database()"
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1]), str(row[2])


def migrate(
    conn: psycopg.Connection[Any],
    schema: str,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    *,
    plugins: Sequence[tuple[str, Sequence[Migration]]] = (),
) -> list[int]:
    """Create the schema if needed and apply the migrations it lacks; the versions applied.

    ``plugins``: each plugin's own migrations, ``(name, migrations)``, applied after the
    engine's in the same transaction and recorded in ``plugin_migrations`` under the name
    (not in ``schema_migrations``: a server opening without the plugin must not find the
    schema newer than it knows). A plugin's version this one does not know is
    ``SchemaTooNew``, as the engine's are."""
    check_schema_name(schema)
    version, role, database = server_facts(conn)
    check_server_version(version)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
        ours = _prepare(conn, schema, role, database)
        applied = {
            row[0]
            for row in conn.execute(
                sql.SQL("SELECT version FROM {}.schema_migrations").format(sql.Identifier(schema))
            )
        }
        unknown = sorted(applied - {number for number, _, _ in migrations})
        if unknown:
            raise SchemaTooNew(f"the schema {schema!r}", [f"p{n:03d}" for n in unknown])
        pending = [m for m in migrations if m[0] not in applied]
        if pending and not ours:
            _require(conn, role, "CREATE", "SCHEMA", schema, "to create the engine's tables")
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        for number, name, statements in pending:
            conn.execute(statements)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, now())",
                (number, name),
            )
        if plugins:
            _migrate_plugins(conn, schema, role, plugins)
    return [number for number, _, _ in pending]


_PLUGIN_MIGRATIONS = (
    "CREATE TABLE plugin_migrations (plugin TEXT NOT NULL, version BIGINT NOT NULL, "
    "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (plugin, version))"
)


def _migrate_plugins(
    conn: psycopg.Connection[Any],
    schema: str,
    role: str,
    plugins: Sequence[tuple[str, Sequence[Migration]]],
) -> None:
    """The plugins' migrations, inside ``migrate``'s transaction (its lock held, its
    ``search_path`` set): each set's record read, its unknown versions refused, the rest
    applied."""
    found = conn.execute("SELECT to_regclass('plugin_migrations')").fetchone()
    exists = found is not None and found[0] is not None
    applied: dict[str, set[int]] = {}
    if exists:
        for plugin, version in conn.execute("SELECT plugin, version FROM plugin_migrations"):
            applied.setdefault(plugin, set()).add(version)
    pending: list[tuple[str, Migration]] = []
    for plugin, steps in plugins:
        done = applied.get(plugin, set())
        unknown = sorted(done - {number for number, _, _ in steps})
        if unknown:
            raise SchemaTooNew(
                f"the schema {schema!r} (plugin {plugin!r})", [f"{plugin} {n}" for n in unknown]
            )
        pending.extend((plugin, step) for step in steps if step[0] not in done)
    if not pending:
        return
    _require(conn, role, "CREATE", "SCHEMA", schema, "to create the plugins' tables")
    if not exists:
        conn.execute(_PLUGIN_MIGRATIONS)
    for plugin, (number, name, statements) in pending:
        conn.execute(statements)
        conn.execute(
            "INSERT INTO plugin_migrations (plugin, version, name, applied_at) "
            "VALUES (%s, %s, %s, now())",
            (plugin, number, name),
        )


def _prepare(conn: psycopg.Connection[Any], schema: str, role: str, database: str) -> bool:
    """Make sure the schema and its migration table exist and are the engine's. True when
    this call made them: the rights to create tables there were checked on the way."""
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    name = sql.Identifier(schema)
    if exists is None:
        _require(conn, role, "CREATE", "DATABASE", database, f"to create the schema {schema!r}")
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
    else:
        _require(conn, role, "USAGE", "SCHEMA", schema, f"to use the schema {schema!r}")
        mark = conn.execute(
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'schema_migrations'",
            (schema,),
        ).fetchone()
        if mark is not None and mark[0] == _MARK:
            return False
        others = [
            row[0]
            for row in conn.execute(
                "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname",
                (schema,),
            )
        ]
        if others:
            raise SchemaOccupied(schema, others)
        _require(conn, role, "CREATE", "SCHEMA", schema, "to create the engine's tables")
    conn.execute(
        sql.SQL(
            "CREATE TABLE {}.schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        ).format(name)
    )
    conn.execute(
        sql.SQL("COMMENT ON TABLE {}.schema_migrations IS {}").format(name, sql.Literal(_MARK))
    )
    return True


def _require(
    conn: psycopg.Connection[Any], role: str, privilege: str, kind: str, name: str, why: str
) -> None:
    check = "has_database_privilege" if kind == "DATABASE" else "has_schema_privilege"
    row = conn.execute(f"SELECT {check}(%s, %s)", (name, privilege)).fetchone()
    if row is None or not row[0]:
        # A schema's name is a checked plain name; a database's may need quotes.
        target = name if kind == "SCHEMA" else sql.Identifier(name).as_string(conn)
        raise MissingPrivilege(role, privilege, f"{kind} {target}", why)


def _shown(url: object) -> str:
    """The URL without its password, for messages."""
    return (
        re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url)) if isinstance(url, str) else repr(url)
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
