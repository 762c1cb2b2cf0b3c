"""Opening a database file for an engine: the store, its schema migrated, and the
configuration to run on, resolved against the one the file keeps (``stored_config.py``)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from ..config import Config
from ..core.clock import Clock, to_text
from ..core.validation import check_at
from ..errors import SchemaTooNew
from ..storage.schema import migrations
from ..storage.store import Store
from .stored_config import StoredConfig

__all__ = ["migrate", "open_store"]


def migrate(store: Store) -> None:
    """Bring the file's schema up to date, inside the caller's write; ``SchemaTooNew`` if a
    newer version of the package migrated it further than this one knows."""
    unknown = [m.name for m in migrations.applied(store.db) if m.name not in _known()]
    if unknown:
        raise SchemaTooNew(f"the file {store.path!r}", unknown)
    migrations.apply(store.db)


def _known() -> frozenset[str]:
    # Every registered migration is pending on an empty database (not cached: a host or a
    # test may register one after import).
    return frozenset(m.name for m in migrations.pending(sqlite_utils.Database(memory=True)))


def open_store(
    path: str | Path, config: Config | None, clock: Clock, adopt: bool
) -> tuple[Store, Config, int]:
    """The open store, the configuration resolved for it and its stored version.

    Nothing is left open when this raises (a ``ConfigMismatch`` writes nothing).
    """
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
