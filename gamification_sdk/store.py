"""The SQLite connection: pragmas, one lock, write transactions that nest as savepoints."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from .errors import Busy

__all__ = ["Store", "Tx"]

Event = tuple[str, dict[str, Any]]


class Tx:
    """One outermost write transaction. Events queue here until it commits."""

    __slots__ = ("committed", "events")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.committed = False

    def emit(self, hook: str, **kwargs: Any) -> None:
        self.events.append((hook, kwargs))


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def busy_error(exc: sqlite3.OperationalError) -> Busy:
    return Busy(f"database is locked by another writer past busy_timeout ({exc}); retry")


class Store:
    """Owns the connection. Every write goes through ``write()``; reads through ``read()``.

    One ``RLock`` makes the engine safe to share between threads: sqlite3 connections
    are not safe for concurrent use, and SQLite allows one writer at a time anyway.
    """

    def __init__(
        self,
        path: str,
        *,
        durability: str = "normal",
        busy_timeout: float = 5.0,
        cache_size_mb: int = 64,
    ) -> None:
        self.path = path
        self.memory = path == ":memory:" or path == ""
        try:
            self.conn = sqlite3.connect(
                path,
                isolation_level=None,
                check_same_thread=False,
                timeout=busy_timeout,
                cached_statements=512,
            )
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise busy_error(exc) from exc
            raise
        self.lock = threading.RLock()
        self._closed = False
        self._tx: Tx | None = None
        self._depth = 0
        try:
            self._configure(durability, busy_timeout, cache_size_mb)
        except sqlite3.OperationalError as exc:
            self.conn.close()
            if _is_busy(exc):
                raise busy_error(exc) from exc
            raise
        self.db = sqlite_utils.Database(self.conn, execute_plugins=False)

    def _configure(self, durability: str, busy_timeout: float, cache_size_mb: int) -> None:
        execute = self.conn.execute
        execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        execute("PRAGMA foreign_keys = ON")
        if not self.memory:
            execute("PRAGMA journal_mode = WAL")
        execute(f"PRAGMA synchronous = {'FULL' if durability == 'full' else 'NORMAL'}")
        # A bigger page cache keeps random-key idempotency indexes in memory at scale.
        execute(f"PRAGMA cache_size = {-1024 * cache_size_mb}")

    @property
    def in_write(self) -> bool:
        return self._depth > 0

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction: ``BEGIN IMMEDIATE`` outermost, a savepoint when nested."""
        with self.lock:
            if self._depth:
                yield from self._savepoint()
                return
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise busy_error(exc) from exc
                raise
            tx = self._tx = Tx()
            self._depth = 1
            try:
                yield tx
                conn.execute("COMMIT")
                tx.committed = True
            except sqlite3.OperationalError as exc:
                self._rollback()
                if _is_busy(exc):
                    raise busy_error(exc) from exc
                raise
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0
                self._tx = None

    def _savepoint(self) -> Iterator[Tx]:
        assert self._tx is not None
        name = f"sp{self._depth}"
        conn = self.conn
        conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        mark = len(self._tx.events)
        try:
            yield self._tx
        except BaseException:
            # A constraint failure can end the whole transaction; only unwind what is left.
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            del self._tx.events[mark:]
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads of several statements."""
        with self.lock:
            if self._depth or self.conn.in_transaction:
                yield self.conn
                return
            try:
                self.conn.execute("BEGIN")
                try:
                    yield self.conn
                finally:
                    if self.conn.in_transaction:
                        self.conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise busy_error(exc) from exc
                raise

    def dump(self) -> str:
        """The whole database as SQL text: tests compare it before and after a rejected call."""
        with self.lock:
            return "\n".join(self.conn.iterdump())

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.close()
