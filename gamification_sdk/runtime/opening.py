"""Opening a database file for an engine: the store, its schema migrated, and the
configuration to run on, resolved against the one the file keeps (``stored_config.py``)."""

from __future__ import annotations

from typing import Any, cast

import pluggy
import sqlite_utils

from ..config import Config
from ..core.clock import Clock, to_text
from ..core.validation import check_at
from ..errors import InvalidInput, SchemaTooNew
from ..storage.schema import migrations
from ..storage.store import Store
from .plugins import PluginMigrations, collect_postgres_migrations
from .runtime import retrying
from .stored_config import StoredConfig

__all__ = ["is_postgres", "migrate", "open_store"]


def migrate(store: Store) -> None:
    """Bring the file's schema up to date, inside the caller's write; ``SchemaTooNew`` if a
    newer version of the package migrated it further than this one knows. (A PostgreSQL
    schema is migrated as its backend opens, under an advisory lock: nothing to do here.)"""
    if store.dialect.name != "sqlite":
        return
    unknown = [m.name for m in migrations.applied(store.db) if m.name not in _known()]
    if unknown:
        raise SchemaTooNew(f"the file {store.path!r}", unknown)
    migrations.apply(store.db)


def _known() -> frozenset[str]:
    # Every registered migration is pending on an empty database (not cached: a host or a
    # test may register one after import).
    return frozenset(m.name for m in migrations.pending(sqlite_utils.Database(memory=True)))


def is_postgres(source: object) -> bool:
    """Whether ``open()`` was given a PostgreSQL URL or a psycopg pool (not imported here:
    SQLite users need no driver)."""
    if isinstance(source, str):
        return source.startswith(_POSTGRES_SCHEMES)
    return type(source).__module__.startswith("psycopg_pool")


_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def open_store(
    path: Any,
    config: Config | None,
    clock: Clock,
    adopt: bool,
    schema: str | None = None,
    pm: pluggy.PluginManager | None = None,
) -> tuple[Store, Config, int]:
    """The open store, the configuration resolved for it and its stored version.

    ``path``: a file, ``":memory:"``, or a PostgreSQL URL or pool (then ``schema`` names
    the engine's schema there, where the plugins of ``pm`` get their own tables migrated
    too: ``register_postgres_migrations``). Nothing is left open when this raises (a
    ``ConfigMismatch`` writes nothing).
    """
    if is_postgres(path):
        plugins = () if pm is None else collect_postgres_migrations(pm)
        return _open_postgres(path, config, clock, adopt, schema or "gamification", plugins)
    if schema is not None:
        raise InvalidInput("schema", "names a PostgreSQL schema; a SQLite file has none")
    local = config if config is not None else Config()
    store = Store(
        str(path),
        durability=local.durability,
        busy_timeout=local.busy_timeout,
        cache_size_mb=local.cache_size_mb,
        checkpoint=local.checkpoint,
    )
    try:
        with store.write():
            fresh = "profiles" not in store.db.table_names()
            migrate(store)
            at_text = to_text(check_at(clock(), "clock()"))
            resolved, version = StoredConfig(store.conn).resolve(config, at_text, fresh, adopt)
    except BaseException:
        store.close()
        raise
    return store, resolved, version


def _open_postgres(
    source: Any,
    config: Config | None,
    clock: Clock,
    adopt: bool,
    schema: str,
    plugins: tuple[PluginMigrations, ...],
) -> tuple[Store, Config, int]:
    from ..storage.postgres import open_backend

    # SERIALIZABLE: every read-then-write step of the services (a profile's XP, a streak,
    # a quest's progress, a key looked up before it is written) is checked by the server,
    # and a conflict is retried whole (Runtime.write), where SQLite's one writer at a time
    # gave the same guarantee.
    backend = open_backend(source, schema=schema, isolation="SERIALIZABLE", plugins=plugins)
    # The services are typed against Store; the backend gives them the same surface
    # (storage/backend.py's Backend, the batch's hooks), which tests check on both.
    store = cast(Store, backend)

    def resolve() -> tuple[Config, int]:
        with store.write():
            at_text = to_text(check_at(clock(), "clock()"))
            # A schema has no "file from before stored configuration": always fresh.
            return StoredConfig(store.conn).resolve(config, at_text, True, adopt)

    try:
        resolved, version = retrying(resolve)
    except BaseException:
        store.close()
        raise
    return store, resolved, version
