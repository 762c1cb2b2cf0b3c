"""The SQLite connection: pragmas, one lock, write transactions that nest as savepoints."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from ..errors import BatchAborted, Busy, StorageFull
from .backend import SQLITE, Dialect, one_cursor
from .checkpoints import SAFETY_NET_PAGES, Checkpointer

__all__ = ["Store", "Tx"]

Event = tuple[str, dict[str, Any]]


class Tx:
    """One outermost write transaction. Events queue here until it commits."""

    __slots__ = ("ahead", "committed", "events", "unconfirmed")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.committed = False
        # Statements a write queued before its key lookup was read (Runtime.write's
        # ``ahead``, PostgreSQL): (statement, parameters) -> its cursor, for the write's body.
        self.ahead: dict[tuple[str, tuple[Any, ...]], Any] | None = None
        # A write begun with confirms=True whose configuration version no statement has
        # confirmed yet (see Store.confirm): checked with PRAGMA data_version before COMMIT.
        self.unconfirmed = False

    def emit(self, hook: str, **kwargs: Any) -> None:
        self.events.append((hook, kwargs))

    def queue_ahead(self, conn: Any, sql: str, params: tuple[Any, ...]) -> None:
        """Run (queue) ``sql`` for the write's body to ``take`` (Runtime.write's ``ahead``)."""
        if self.ahead is None:
            self.ahead = {}
        self.ahead[(sql, params)] = conn.execute(sql, params)

    def take(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The cursor of ``sql`` with ``params`` queued ahead, or None (run it yourself)."""
        ahead = self.ahead
        return None if ahead is None else ahead.pop((sql, params), None)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def busy_error(exc: sqlite3.OperationalError) -> Busy:
    return Busy(f"database is locked by another writer past busy_timeout ({exc}); retry")


def _is_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower()


def full_error(exc: sqlite3.OperationalError) -> StorageFull:
    return StorageFull(
        f"storage: the database file cannot grow ({exc}); the write was rolled back and "
        f"nothing of it stored. Free disk space (or raise max_page_count), then retry"
    )


def _typed(error: BaseException | None) -> BaseException | None:
    """The typed error for a raw SQLite failure inside a write; anything else unchanged."""
    if isinstance(error, sqlite3.OperationalError):
        if _is_full(error):
            return full_error(error)
        if _is_busy(error):
            return busy_error(error)
    return error


class _ConfigMoved(Exception):
    """Another process stored a newer configuration: the write rolls back, then re-reads it."""


class _Write:
    """The context manager ``Store.write()`` returns (a class: it is on every write's path)."""

    __slots__ = ("_confirms", "_savepoint", "_store")

    def __init__(self, store: Store, savepoint: bool, confirms: bool) -> None:
        self._store = store
        self._savepoint = savepoint
        self._confirms = confirms

    def __enter__(self) -> Tx:
        return self._store._begin(self._savepoint, self._confirms)

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self._store._end(exc if kind is not None else None)


class Store:
    """Owns the connection. Every write goes through ``write()``; reads through ``read()``.

    One ``RLock`` makes the engine safe to share between threads: sqlite3 connections
    are not safe for concurrent use, and SQLite allows one writer at a time anyway.

    It implements ``backend.Backend``, the interface the storage layer is written against.
    """

    dialect: Dialect = SQLITE

    def __init__(
        self,
        path: str,
        *,
        durability: str = "normal",
        busy_timeout: float = 5.0,
        cache_size_mb: int = 64,
        checkpoint: str = "background",
    ) -> None:
        self.path = path
        self.memory = path == ":memory:" or path == ""
        # WAL checkpoints off the commit path (see checkpoints.py); a memory database has none.
        self.checkpointer: Checkpointer | None = None
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
        # Nested writes of the open transaction: (is a savepoint, events mark, total_changes).
        self._frames: list[tuple[bool, int, int]] = []
        # Per savepoint level (the transaction itself first): the error that doomed it.
        self._doomed: list[BaseException | None] = [None]
        # Called after any rollback: caches of rows the rolled-back writes made must go.
        self.rollback_listeners: list[Callable[[], None]] = []
        # Writes buffered inside the open transaction (see bulk.py): made before anything
        # else reads or writes through this store.
        self.pending: Callable[[], None] | None = None
        # Called as a write begins inside the open transaction (see bulk.py).
        self.before_write: Callable[[], None] | None = None
        # Called inside BEGIN IMMEDIATE when another connection committed since this one
        # last looked: it may return a call to make after rolling back (the engine re-reads
        # a stored configuration another process changed, then raises).
        self.watch: Callable[[], Callable[[], None] | None] | None = None
        self._data_version = -1
        # The stored configuration version this engine runs on (set by the engine's
        # settings), for Store.confirm; what a confirmed write rolled back to re-read.
        self.config_version = 0
        self._reread: Callable[[], None] | None = None
        try:
            self._configure(durability, busy_timeout, cache_size_mb, checkpoint)
        except sqlite3.OperationalError as exc:
            self.conn.close()
            if _is_busy(exc):
                raise busy_error(exc) from exc
            if _is_full(exc):
                raise full_error(exc) from exc
            raise
        self.db = sqlite_utils.Database(self.conn, execute_plugins=False)
        # BEGIN IMMEDIATE and COMMIT of every write, without a new cursor each.
        self._execute = one_cursor(self.conn)

    def _configure(
        self, durability: str, busy_timeout: float, cache_size_mb: int, checkpoint: str
    ) -> None:
        execute = self.conn.execute
        execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        execute("PRAGMA foreign_keys = ON")
        if not self.memory:
            execute("PRAGMA journal_mode = WAL")
            if checkpoint == "background":
                execute(f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES}")
                # Absolute now: the thread connects later, perhaps after the host's chdir().
                checkpointer = self.checkpointer = Checkpointer(
                    os.path.abspath(self.path), busy_timeout=busy_timeout
                )
                # An engine dropped without close() must not leave its thread behind.
                weakref.finalize(self, checkpointer.close)
            else:
                execute("PRAGMA wal_autocheckpoint = 1000")
        execute(f"PRAGMA synchronous = {'FULL' if durability == 'full' else 'NORMAL'}")
        # A bigger page cache keeps random-key idempotency indexes in memory at scale.
        execute(f"PRAGMA cache_size = {-1024 * cache_size_mb}")

    @property
    def in_write(self) -> bool:
        return self._tx is not None

    @property
    def current(self) -> Tx | None:
        """The open write transaction, if any."""
        return self._tx

    @property
    def doomed(self) -> bool:
        """Whether the open transaction (or savepoint) must roll back: writes are refused."""
        return self._doomed[-1] is not None

    def doom(self, error: BaseException) -> None:
        """Make the open transaction roll back: ``error`` left it half-written."""
        if self._doomed[-1] is None:
            self._doomed[-1] = error

    def _flush(self) -> None:
        pending = self.pending
        if pending is not None:
            pending()

    @property
    def nested(self) -> bool:
        """Inside ``write()``: whether this write runs inside another (``batch()``)."""
        return bool(self._frames)

    def write(self, *, savepoint: bool = False, confirms: bool = False) -> _Write:
        """A write transaction: ``BEGIN IMMEDIATE`` outermost; nested, see below.

        A nested write is a savepoint when asked for (``batch()``). Otherwise it is a light
        frame: SQLite savepoints cost about a sixth of a batched award, and most failures
        happen before anything is written. A light frame that fails having changed nothing
        just drops its events; one that fails after changing rows dooms the enclosing
        savepoint or transaction, which then rolls back and raises ``BatchAborted``.

        ``confirms``: the write's first read returns the stored configuration version and
        hands it to ``confirm`` before anything is written, in place of the ``PRAGMA
        data_version`` statement every other write begins with (a sixth of a keyed award's
        Python cost). Nested writes ignore it: their transaction was checked as it began.
        """
        return _Write(self, savepoint, confirms)

    def _begin(self, savepoint: bool, confirms: bool = False) -> Tx:
        self.lock.acquire()
        try:
            tx = self._tx
            if tx is None:
                return self._begin_outermost(confirms)
            if self.before_write is not None:
                self.before_write()
            if self._doomed[-1] is not None:
                raise BatchAborted(self._doomed[-1])
            self._frames.append((savepoint, len(tx.events), self.conn.total_changes))
            if savepoint:
                try:
                    self.conn.execute(f"SAVEPOINT sp{len(self._frames)}")
                except BaseException:
                    self._frames.pop()
                    raise
                self._doomed.append(None)
            return tx
        except BaseException:
            self.lock.release()
            raise

    def _begin_outermost(self, confirms: bool) -> Tx:
        try:
            self._execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise busy_error(exc) from exc
            raise
        tx = self._tx = Tx()
        if self.watch is not None:
            if confirms:
                tx.unconfirmed = True
            else:
                try:
                    self._check_others()
                except BaseException:
                    self._tx = None
                    raise
        self._doomed = [None]
        return tx

    def confirm(self, version: int | None) -> None:
        """The stored configuration version (``MAX(version)``, None for none), as read by a
        ``confirms`` write's first statement, under the write lock: if another process
        stored a newer one, the write raises here, rolls back and re-reads it
        (``StaleConfig``). A no-op in any other write.

        BEGIN IMMEDIATE holds the write lock, so the version cannot move during the
        transaction: checked by the first read, it holds for every write after it.
        """
        tx = self._tx
        if tx is None or not tx.unconfirmed:
            return
        tx.unconfirmed = False
        if (version or 0) == self.config_version:
            return
        assert self.watch is not None
        then = self.watch()
        if then is not None:
            self._reread = then
            raise _ConfigMoved()

    def _check_others(self) -> None:
        assert self.watch is not None
        try:
            (version,) = self.conn.execute("PRAGMA data_version").fetchone()
            if version == self._data_version:
                return
            then = self.watch()
            # Only once the check passed: a failed check is made again by the next write.
            self._data_version = version
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        if then is not None:
            self.conn.execute("ROLLBACK")
            then()

    def _check_late(self) -> None:
        """``_check_others`` at the end of a ``confirms`` write that confirmed nothing."""
        assert self.watch is not None
        (version,) = self.conn.execute("PRAGMA data_version").fetchone()
        if version == self._data_version:
            return
        then = self.watch()
        self._data_version = version
        if then is not None:
            self._reread = then

    def _end(self, error: BaseException | None) -> None:
        """Commit, release or roll back; always drops the lock taken by ``_begin``.

        A raw SQLite failure of the write (disk full, locked) is raised as its typed error.
        """
        typed = error if error is None else _typed(error)
        try:
            if self._frames:
                self._end_nested(typed)
            else:
                self._end_outermost(typed)
        finally:
            self.lock.release()
        if typed is not error:
            assert typed is not None
            raise typed from error

    def _end_nested(self, error: BaseException | None) -> None:
        tx = self._tx
        assert tx is not None
        conn = self.conn
        savepoint, mark, changes = self._frames[-1]
        name = f"sp{len(self._frames)}"
        self._frames.pop()
        if error is not None and not conn.in_transaction:
            # SQLite itself rolled the whole transaction back (disk full, I/O error): every
            # enclosing level lost its writes, so none may go on, let alone commit.
            self._doomed = [self._doomed[0] or error] * len(self._doomed)
        if not savepoint:
            if error is not None:
                del tx.events[mark:]
                if conn.total_changes != changes and self._doomed[-1] is None:
                    self._doomed[-1] = error
            return
        doom = self._doomed.pop()
        if error is None and doom is None:
            conn.execute(f"RELEASE {name}")
            return
        # A constraint failure can end the whole transaction; only unwind what is left.
        if conn.in_transaction:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
        self._rolled_back()
        del tx.events[mark:]
        if error is None:
            assert doom is not None
            raise BatchAborted(doom)

    def _end_outermost(self, error: BaseException | None) -> None:
        tx = self._tx
        assert tx is not None
        doom = self._doomed[0]
        try:
            if tx.unconfirmed and self.conn.in_transaction:
                # No statement confirmed the version (a replay, a first award): check now.
                # Also when the write failed: a stale configuration may be why it did.
                tx.unconfirmed = False
                try:
                    self._check_late()
                except BaseException:
                    self._rollback()
                    raise
            reread = self._reread
            if reread is not None:
                self._reread = None
                self._rollback()
                reread()
            if error is not None or doom is not None:
                self._rollback()
                if error is None:
                    assert doom is not None
                    raise BatchAborted(doom)
                return
            try:
                self._execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                typed = _typed(exc)
                if typed is not exc:
                    assert typed is not None
                    raise typed from exc
                raise
            tx.committed = True
            if self.checkpointer is not None:
                self.checkpointer.committed(self.conn.total_changes)
        finally:
            self._tx = None
            self._doomed = [None]

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self._rolled_back()

    def _rolled_back(self) -> None:
        for listener in self.rollback_listeners:
            listener()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads of several statements."""
        with self.lock:
            if self._tx is not None or self.conn.in_transaction:
                self._flush()
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
            self._flush()
            return "\n".join(self.conn.iterdump())

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            # Before the connection: the last one to close checkpoints and removes the WAL.
            if self.checkpointer is not None:
                self.checkpointer.close()
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.close()
