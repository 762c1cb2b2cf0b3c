"""The global options, and opening the database they name (only ``init`` creates one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import click
import sqlite_utils

from ..config import Config
from ..core.validation import check_id
from ..engine import Gamification
from ..storage.cli_state import USER_EXISTS
from ..storage.schema import migrations
from .output import CliError

__all__ = ["State", "pass_state"]


class State:
    """What the global options chose; commands get it with ``@pass_state``.

    A command from another module (``simulate``) can read ``config()``, ``as_json`` and
    ``plugins`` the same way, or ignore it.
    """

    def __init__(self, db: str, config_path: str | None, as_json: bool, plugins: bool) -> None:
        self.db = db
        self.config_path = config_path
        self.as_json = as_json
        self.plugins = plugins
        self._config: Config | None = None
        self._engine: Gamification | None = None
        self.pending: list[str] = []
        self.created = False

    def config(self) -> Config:
        """``--config`` loaded (TOML or JSON), or the defaults."""
        if self._config is None:
            if self.config_path is None:
                self._config = Config()
            else:
                self._config = Config.from_file(self.config_path)
        return self._config

    def engine(self, *, create: bool = False) -> Gamification:
        """The engine on ``--db``. Without ``create`` a missing file is an error and nothing
        is made; a file that is not a gamification database is refused either way."""
        if self._engine is not None:
            return self._engine
        path = Path(self.db)
        if path.is_dir():
            raise CliError(f"--db: {self.db} is a directory, not a database file")
        exists = path.exists()
        if not exists and not create:
            raise CliError(f"--db: no database at {self.db}; create one with `gamification init`")
        config = self.config()  # a bad --config fails before anything is made
        self.created = not exists or path.stat().st_size == 0
        if exists:
            self.pending = self._check_database(path, config, create)
        elif not path.parent.is_dir():
            raise CliError(f"--db: cannot create {self.db}: {path.parent} is not a directory")
        else:
            self.pending = _all_migrations()
        # No --config: run on the configuration the database stores, as every engine must.
        given = None if self.config_path is None else config
        self._engine = Gamification.open(path, config=given, load_entrypoints=self.plugins)
        return self._engine

    def _check_database(self, path: Path, config: Config, create: bool) -> list[str]:
        """The names of the migrations ``path`` still needs; raises unless it is ours."""
        if create and path.stat().st_size == 0:
            return _all_migrations()
        try:
            # mode=rw: never creates the file; reading sqlite_master writes nothing.
            conn = sqlite3.connect(
                f"file:{quote(str(path.resolve()))}?mode=rw",
                uri=True,
                timeout=config.busy_timeout,
            )
        except sqlite3.OperationalError as exc:
            raise CliError(f"--db: cannot open {self.db}: {exc}") from None
        try:
            db = sqlite_utils.Database(conn, execute_plugins=False)
            tables = set(db.table_names())
            if "_sqlite_migrations" not in tables or "profiles" not in tables:
                # Not ours: init must not migrate someone else's file into one.
                raise CliError(f"--db: {self.db} is not a gamification database")
            return [m.name for m in migrations.pending(db)]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise CliError(f"--db: {self.db} is not a SQLite database") from None
        finally:
            conn.close()

    def user_exists(self, user_id: str, field: str = "user_id") -> bool:
        check_id(user_id, field)
        return self.engine().db.execute(USER_EXISTS, [user_id]).fetchone() is not None

    def require_user(self, user_id: str, field: str = "user_id") -> str:
        """Refuse a user with no profile: reads must not answer (or create) a stranger."""
        if not self.user_exists(user_id, field):
            raise CliError(f"{field}: no profile for {user_id!r} in {self.db}")
        return user_id

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def _all_migrations() -> list[str]:
    return [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]


pass_state = click.make_pass_decorator(State)
