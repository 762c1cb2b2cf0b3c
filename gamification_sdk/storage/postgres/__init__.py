"""The storage layer on PostgreSQL 15 or later (work in progress: see docs/postgresql.md).

What exists: ``open_backend()``, which checks the URL, the server and the role's rights,
creates and migrates the engine's schema (its own, ``gamification`` unless named), and gives
a ``Backend`` (storage/backend.py) to run statements on, which runs the storage modules'
statements in PostgreSQL's text where SQLite's differs (statements.py). The engine is not
wired to it yet, so ``Gamification.open()`` does not take a PostgreSQL URL. ``copy_sqlite()``
and ``check_copy()`` move an engine's SQLite file into the schema (``gamification migrate``).

psycopg is imported only here, when called: ``import gamification_sdk`` needs no driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import DatabaseUnreachable, DriverMissing, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from psycopg_pool import ConnectionPool

    from ...core.clock import Clock
    from .backend import PostgresBackend
    from .copy import CopyResult, Progress
    from .copy_check import CopyCheck
    from .schema import Migration

__all__ = ["check_copy", "copy_sqlite", "open_backend"]


def open_backend(
    source: str | ConnectionPool[Any],
    *,
    schema: str = "gamification",
    isolation: str = "READ COMMITTED",
    plugins: Sequence[tuple[str, Sequence[Migration]]] = (),
) -> PostgresBackend:
    """A PostgreSQL backend on ``source``, a ``postgresql://`` URL or a psycopg pool.

    The schema is created and migrated first (several processes may do this at once: one
    migrates while the others wait), with ``plugins``' own migrations (``(name,
    migrations)``, each recorded under its name). Refused before anything is written, as
    typed errors:
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
            migrate(raw, schema, plugins=plugins)
        finally:
            if not raw.broken:
                raw.autocommit = was  # the pool's other users get it back as it was
            source.putconn(raw)
        return PostgresBackend(source, schema, isolation=isolation)
    conn = connect(source)
    try:
        migrate(conn, schema, plugins=plugins)
        return PostgresBackend(conn, schema, isolation=isolation, reconnect=lambda: connect(source))
    except BaseException:
        conn.close()
        raise


def copy_sqlite(
    source: str | Path,
    url: str,
    *,
    schema: str = "gamification",
    progress: Progress | None = None,
    batch_size: int = 5000,
    clock: Clock | None = None,
    plugins: Sequence[tuple[str, Sequence[Migration]]] = (),
) -> CopyResult:
    """Copy the engine's SQLite file ``source`` into ``schema`` at ``url`` (created and
    migrated first), resumably: run again, a copy that stopped finishes with the same rows,
    and a finished one writes nothing (``.already_done``). ``progress(table, copied, total)``
    is called as each table starts and after each committed batch.

    ``plugins``: the plugins' own migrations, as for ``open_backend`` (an engine's plugin
    manager gives them: ``runtime.plugins.collect_postgres_migrations``). They make the
    plugins' tables first, so those the file holds (the webhooks plugin's) are copied and
    checked too; a plugin's table only in the file is ``SchemaMismatch``.

    Refused before anything is written, as typed errors: ``CopySourceInvalid`` (no such
    file, not an engine's SQLite database, not migrated to this version), ``SchemaTooNew``,
    ``SchemaMismatch`` (a table or column on one side only), ``CopyTargetInUse`` (the schema
    holds other data, or another copy runs), and ``open_backend``'s errors for the server.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise DriverMissing() from exc
    from ...core.clock import system_clock
    from .copy import copy_sqlite as run

    return run(
        source, url, schema=schema, progress=progress, batch_size=batch_size,
        clock=clock or system_clock, plugins=plugins,
    )  # fmt: skip


def check_copy(source: str | Path, url: str, *, schema: str = "gamification") -> CopyCheck:
    """Compare the SQLite file ``source`` with its copy in ``schema``: row counts per table
    (system accounts by the sum of their per-user rows), a digest of every user's rows and the
    ledger's invariants on both sides. Writes nothing; ``.ok`` when they agree, otherwise
    ``.problems`` says where they differ."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise DriverMissing() from exc
    from .copy_check import check_copy as run

    return run(source, url, schema=schema)
