"""The configuration that shapes stored data, kept in the database so every process agrees.

Which board an award feeds, what a level costs, which currencies exist: two processes that
disagree on these write data that contradicts itself (an XP board that misses the awards of
the process that did not know it). So these parts of ``Config`` live in ``config_versions``,
one row per version, and every engine on the file runs on the newest row:

- the first engine to open a new file stores its configuration (the defaults if it has none);
- an engine opened with no configuration adopts what the file holds;
- an engine opened with a configuration that differs gets ``ConfigMismatch``;
- ``apply()`` is the one way to change it, in one transaction.

Process-local settings (``LOCAL_FIELDS``) stay per process: they change how this process
talks to the file, never what the file means.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..config import Config
from ..core.clock import to_text
from ..errors import (
    ConfigError,
    ConfigMismatch,
    InvalidInput,
    StaleConfig,
    StoredConfigInvalid,
)
from ..storage.store import Store
from ..storage.stored_config import HISTORY, LATEST, NEW_VERSION, NEWEST_VERSION

__all__ = [
    "FORMAT",
    "LOCAL_FIELDS",
    "STORED_FIELDS",
    "ConfigChange",
    "ConfigVersion",
    "Settings",
    "StoredConfig",
    "differences",
    "local_part",
    "mismatch",
    "stored_part",
]

# Bumped when the stored body changes shape in a way an older version cannot read.
FORMAT = 1

STORED_FIELDS = (
    "achievements",
    "auto_create_profiles",
    "currencies",
    "day_start_hour",
    "default_timezone",
    "idempotency",
    "leaderboards",
    "levels",
    "max_xp_multiplier",
    "packs",
    "prestige_boost",
    "rate_limits",
    "referrals",
    "seasons",
    "streaks",
    "tiers",
)
LOCAL_FIELDS = (
    "busy_timeout",
    "cache_size_mb",
    "checkpoint",
    "durability",
    "hook_errors",
    "scheduler",
)


def _plain(data: object) -> Any:
    """``data`` as JSON gives it back: tuples become lists, keys strings."""
    return json.loads(json.dumps(data, sort_keys=True))


def stored_part(config: Config) -> dict[str, Any]:
    data = config.to_dict()
    part: dict[str, Any] = _plain({name: data[name] for name in STORED_FIELDS})
    return part


def local_part(config: Config) -> dict[str, Any]:
    data = config.to_dict()
    return {name: data[name] for name in LOCAL_FIELDS}


def _short(value: object, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def differences(stored: object, given: object, path: str = "") -> list[tuple[str, str]]:
    """Every leaf path where two plain JSON values differ, with what each side holds."""
    if isinstance(stored, dict) and isinstance(given, dict):
        found: list[tuple[str, str]] = []
        for key in sorted(set(stored) | set(given)):
            where = f"{path}.{key}" if path else str(key)
            if key not in stored:
                found.append((where, f"not stored, given {_short(given[key])}"))
            elif key not in given:
                found.append((where, f"stored {_short(stored[key])}, not given"))
            else:
                found.extend(differences(stored[key], given[key], where))
        return found
    if isinstance(stored, list) and isinstance(given, list) and len(stored) == len(given):
        found = []
        for i, (left, right) in enumerate(zip(stored, given, strict=True)):
            found.extend(differences(left, right, f"{path}[{i}]"))
        return found
    if stored == given and (type(stored) is type(given) or _numbers(stored, given)):
        return []
    return [(path or "(top level)", f"stored {_short(stored)}, given {_short(given)}")]


def _numbers(*values: object) -> bool:
    # 2 and 2.0 are one setting (a float field given an int literal); True is not 1.
    return all(type(value) in (int, float) for value in values)


@attrs.frozen
class ConfigVersion:
    """One stored version of the configuration."""

    version: int
    applied_at: str
    applied_by: str
    config: Config


class StoredConfig:
    """Reads and writes ``config_versions`` on one connection (inside the caller's writes)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def version(self) -> int:
        """The newest stored version, 0 when none is stored yet."""
        row = self._conn.execute(NEWEST_VERSION).fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def latest(self, local: Config | None = None) -> ConfigVersion | None:
        """The newest version as a ``Config`` (process-local fields from ``local``)."""
        row = self._conn.execute(LATEST).fetchone()
        if row is None:
            return None
        return self._load(row, local)

    def history(self) -> list[ConfigVersion]:
        rows = self._conn.execute(HISTORY).fetchall()
        return [self._load(row, None) for row in rows]

    @staticmethod
    def _load(row: Sequence[Any], local: Config | None) -> ConfigVersion:
        version, form, body, applied_at, applied_by = row
        where = f"config_versions row {version}"
        if type(form) is not int or form < 1:
            raise StoredConfigInvalid(where, f"format: expected a positive int, got {form!r}")
        if form > FORMAT:
            raise StoredConfigInvalid(
                where,
                f"format {form} was written by a newer gamification-sdk (this one reads "
                f"format {FORMAT}); upgrade the package",
            )
        try:
            data = json.loads(body) if isinstance(body, str) else None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise StoredConfigInvalid(where, f"body: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise StoredConfigInvalid(where, "body: expected a JSON object")
        unknown = sorted(set(data) - set(STORED_FIELDS))
        if unknown:
            raise StoredConfigInvalid(where, f"body: unknown field(s): {', '.join(unknown)}")
        merged = {**data, **local_part(local if local is not None else Config())}
        try:
            config = Config.from_dict(merged, source=where)
        except ConfigError as exc:
            raise StoredConfigInvalid(where, "; ".join(exc.problems)) from None
        return ConfigVersion(version, str(applied_at), str(applied_by), config)

    def store(self, config: Config, at_text: str, by: str) -> int:
        """Write ``config``'s stored part as the next version; returns its number."""
        version = self.version() + 1
        body = json.dumps(stored_part(config), sort_keys=True)
        self._conn.execute(NEW_VERSION, (version, FORMAT, body, at_text, by))
        return version

    def resolve(
        self, given: Config | None, at_text: str, fresh: bool, adopt: bool = False
    ) -> tuple[Config, int]:
        """The configuration an engine opening now runs on, and its stored version.

        ``fresh``: the file was created by this open, so its first configuration is stored
        even when none was given. A file from before stored configuration keeps running on
        the defaults until an engine opens it with a configuration of its own. ``adopt``:
        take only the process-local fields of ``given`` when a configuration is stored.
        """
        found = self.latest(given)
        if found is not None and adopt:
            return found.config, found.version
        if found is None:
            if given is None and not fresh:
                return Config(), 0
            config = given if given is not None else Config()
            return config, self.store(config, at_text, "open")
        if given is not None:
            mismatch(found, given)
        return found.config, found.version


def mismatch(found: ConfigVersion, given: Config) -> None:
    """Raise ``ConfigMismatch`` naming every stored field ``given`` differs in."""
    changed = differences(stored_part(found.config), stored_part(given))
    if changed:
        raise ConfigMismatch(changed, found.version)


@attrs.frozen
class ConfigChange:
    """What ``g.settings.apply()`` did: the version now stored, and the fields it changed
    (empty when the configuration given was already the stored one)."""

    version: int
    changed: tuple[str, ...]


# How the facade switches to a configuration: it rebuilds its parts, running the callable (if
# any) in the same transaction as their setup, and changes nothing if any of it fails.
Reconfigure = Callable[[Config, Callable[[], None] | None], None]


class Settings:
    """``g.settings``: the stored configuration, its history, and the one way to change it.

    It also keeps this engine in step with the file: ``watch`` runs inside each write once
    another connection has committed, and re-reads a configuration another process applied.
    """

    def __init__(
        self,
        store: Store,
        stored: StoredConfig,
        current: Callable[[], Config],
        reconfigure: Reconfigure,
        now: Callable[[], datetime],
        version: int,
    ) -> None:
        self._store = store
        self._stored = stored
        self._current = current
        self._reconfigure = reconfigure
        self._now = now
        self._run_on(version)

    def _run_on(self, version: int) -> None:
        self._version = version
        # For writes that confirm the version with their first read (Store.confirm).
        self._store.config_version = version

    @property
    def version(self) -> int:
        """The stored version this engine runs on (0: none stored yet, a file from before)."""
        return self._version

    def history(self) -> list[ConfigVersion]:
        """Every stored version, oldest first."""
        with self._store.read():
            return self._stored.history()

    def diff(self, config: Config) -> list[tuple[str, str]]:
        """Each stored field where ``config`` differs from the stored configuration, with
        what each side holds; empty when they agree."""
        if not isinstance(config, Config):
            raise InvalidInput("config", f"expected a Config, got {type(config).__name__}")
        with self._store.read():
            found = self._stored.latest(config)
        if found is None:
            return differences(stored_part(Config()), stored_part(config))
        return differences(stored_part(found.config), stored_part(config))

    def apply(self, config: Config) -> ConfigChange:
        """Make ``config``'s stored parts the file's configuration, in one transaction.

        Boards it adds start from the logs (every open period); boards it drops stop
        counting and keep their rows. This engine runs on it at once; engines of other
        processes re-read it at their next write, which raises ``StaleConfig`` once.
        Process-local fields of ``config`` are ignored: this engine keeps its own.
        """
        if not isinstance(config, Config):
            raise InvalidInput("config", f"expected a Config, got {type(config).__name__}")
        local = self._current()
        merged = Config.from_dict({**stored_part(config), **local_part(local)})
        with self._store.read():
            current = self._stored.latest(local)
        expected = 0 if current is None else current.version
        before = local if current is None else current.config
        changes = tuple(path for path, _ in differences(stored_part(before), stored_part(merged)))
        if not changes and current is not None:
            return ConfigChange(current.version, ())
        at_text = to_text(self._now())
        written: list[int] = []

        def store_version() -> None:
            if self._stored.version() != expected:  # another process applied one meanwhile
                raise StaleConfig(self._stored.version())
            written.append(self._stored.store(merged, at_text, "apply"))

        self._reconfigure(merged, store_version)
        self._run_on(written[0])
        return ConfigChange(written[0], changes)

    def watch(self) -> Callable[[], None] | None:
        """Inside a write, after another connection committed: has the stored configuration
        moved on? If so, the store rolls back and calls what this returns."""
        if self._stored.version() == self._version:
            return None
        found = self._stored.latest(self._current())
        assert found is not None

        def reread() -> None:
            self._reconfigure(found.config, None)
            self._run_on(found.version)
            raise StaleConfig(found.version)

        return reread
