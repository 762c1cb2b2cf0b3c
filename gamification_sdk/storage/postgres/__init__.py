"""The storage layer on PostgreSQL 15 or later (work in progress: see docs/postgresql.md).

What exists: ``open_backend()``, which checks the URL, the server and the role's rights,
creates and migrates the engine's schema (its own, ``gamification`` unless named), and gives
a ``Backend`` (storage/backend.py) to run statements on, which runs the storage modules'
statements in PostgreSQL's text where SQLite's differs (statements.py). The engine is not
wired to it yet, so ``Gamification.open()`` does not take a PostgreSQL URL.

psycopg is imported only here, when called: ``import gamification_sdk`` needs no driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import DatabaseUnreachable, DriverMissing, InvalidInput

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from .backend import PostgresBackend

__all__ = ["open_backend"]


def open_backend(
    source: str | ConnectionPool[Any],
    *,
    schema: str = "gamification",
    isolation: str = "READ COMMITTED",
) -> PostgresBackend:
    """A PostgreSQL backend on ``source``, a ``postgresql://`` URL or a psycopg pool.

    The schema is created and migrated first (several processes may do this at once: one
    migrates while the others wait). Refused before anything is written, as typed errors:
    ``DatabaseUrlInvalid``, ``DatabaseUnreachable``, ``ServerTooOld``, ``MissingPrivilege``,
    ``SchemaOccupied``; ``DriverMissing`` without psycopg. Given a URL, the backend owns its
    connection (``close()`` closes it); a pool stays its owner's to close.
    """
    try:
        # psycopg_pool imports psycopg: one import tells whether the driver is there.
        from psycopg_pool import ConnectionPool, PoolTimeout
    except ImportError as exc:
        raise DriverMissing() from exc

    from .backend import ISOLATION_LEVELS, PostgresBackend
    from .migrate import check_schema_name, connect, migrate

    check_schema_name(schema)
    if isolation not in ISOLATION_LEVELS:
        raise InvalidInput("isolation", f"{isolation!r} is not one of {ISOLATION_LEVELS}")
    if isinstance(source, ConnectionPool):
        try:
            raw = source.getconn()
        except PoolTimeout as exc:
            raise DatabaseUnreachable(
                f"server: the pool gave no connection within its timeout ({exc})"
            ) from None
        was = raw.autocommit
        try:
            raw.autocommit = True
            migrate(raw, schema)
        finally:
            if not raw.broken:
                raw.autocommit = was  # the pool's other users get it back as it was
            source.putconn(raw)
        return PostgresBackend(source, schema, isolation=isolation)
    conn = connect(source)
    try:
        migrate(conn, schema)
        return PostgresBackend(conn, schema, isolation=isolation, reconnect=lambda: connect(source))
    except BaseException:
        conn.close()
        raise
