"""The PostgreSQL backend: ``Backend`` (storage/backend.py) on a psycopg 3 connection.

Like ``Store``, one engine's threads share it under one reentrant lock, and writes nest:
``write(savepoint=True)`` is a ``SAVEPOINT``, a plain nested write a light frame. Two things
differ from SQLite and shape the frames:

- A failed statement aborts the whole PostgreSQL transaction (every later statement is refused
  until a rollback), where SQLite fails only the statement. So a light frame whose statement
  failed dooms its enclosing level even if it changed nothing: the level can only roll back.
- There is no ``total_changes``: the connection counts the rows that writing statements
  reported (``changes``), which is what a light frame compares.

Given a URL, the backend owns one connection, its ``search_path`` set to the engine's schema
once. Given a ``psycopg_pool.ConnectionPool``, the outermost write or read takes a connection
from the pool for its duration and sets the path for that transaction only (in the same round
trip as ``BEGIN``), so engines and other code can share the pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import pq, sql
from psycopg_pool import ConnectionPool

from ...errors import (
    BatchAborted,
    DatabaseUnreachable,
    InvalidInput,
    StorageFull,
    WriteConflict,
)
from ..backend import Backend, Dialect
from ..store import Tx, _ConfigMoved
from .dialect import POSTGRES
from .placeholders import bind, translate
from .statements import OVERRIDES

__all__ = ["ISOLATION_LEVELS", "Connection", "PostgresBackend"]

ISOLATION_LEVELS = ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")

_WRITING = (b"INSERT", b"UPDATE", b"DELETE", b"MERGE", b"COPY")


class Cursor(psycopg.Cursor[Any]):
    """psycopg's cursor with PEP 249's ``lastrowid``, which PostgreSQL has no use for: rows
    say their ids with ``RETURNING``."""

    @property
    def lastrowid(self) -> int | None:
        return None


class Connection:
    """The ``backend.Connection`` the statements run on: psycopg's connection, the transaction
    state SQLite's connection reports, and a count of the rows writing statements changed."""

    __slots__ = ("changes", "raw", "was_autocommit")

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.changes = 0
        self.was_autocommit = raw.autocommit

    def execute(self, query: str, parameters: Any = None, /) -> Cursor:
        """Run a statement written with SQLite's placeholders (see placeholders.py); one
        SQLite cannot share with PostgreSQL runs as its PostgreSQL text (statements.py)."""
        cursor = Cursor(self.raw)
        cursor.execute(*bind(OVERRIDES.get(query, query), parameters))
        self._count(cursor)
        return cursor

    def executemany(self, query: str, parameters: Iterable[Any], /) -> Cursor:
        cursor = Cursor(self.raw)
        rows = list(parameters)
        if not rows:
            return cursor
        named = isinstance(rows[0], Mapping)
        translated = translate(OVERRIDES.get(query, query), named)
        order = translated.order
        if order is not None:
            rows = [[row[index] for index in order] for row in rows]
        cursor.executemany(translated.sql, rows)
        self._count(cursor)
        return cursor

    def _count(self, cursor: Cursor) -> None:
        result = cursor.pgresult
        status = result.command_status if result is not None else None
        if status and status.startswith(_WRITING) and cursor.rowcount > 0:
            self.changes += cursor.rowcount

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def failed(self) -> bool:
        """A statement failed: the transaction refuses everything but a rollback."""
        return self.raw.info.transaction_status == pq.TransactionStatus.INERROR


def _typed(error: BaseException, conn: Connection) -> BaseException:
    """The engine's typed error for a psycopg failure that ended a write; else ``error``."""
    if isinstance(error, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return WriteConflict(
            f"another transaction wrote the same rows at the same time ({error.sqlstate}: "
            f"{str(error).strip()}); the write was rolled back and nothing of it stored; retry"
        )
    if isinstance(error, psycopg.errors.DiskFull):
        return StorageFull(
            f"storage: the database server is out of disk space ({str(error).strip()}); the "
            f"write was rolled back and nothing of it stored. Free space, then retry"
        )
    if isinstance(error, psycopg.OperationalError) and (conn.raw.broken or conn.raw.closed):
        return DatabaseUnreachable(
            f"the server ended the session during the write ({str(error).strip()}); nothing "
            f"of it was stored, and the next write opens a new session; retry"
        )
    return error


class _Write:
    __slots__ = ("_backend", "_savepoint")

    def __init__(self, backend: PostgresBackend, savepoint: bool) -> None:
        self._backend = backend
        self._savepoint = savepoint

    def __enter__(self) -> Tx:
        return self._backend._begin(self._savepoint)

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self._backend._end(exc if kind is not None else None)


class PostgresBackend:
    """One engine's way into a PostgreSQL schema (see the module's docstring)."""

    dialect: Dialect = POSTGRES

    def __init__(
        self,
        source: psycopg.Connection[Any] | ConnectionPool[Any],
        schema: str,
        *,
        isolation: str = "READ COMMITTED",
        reconnect: Callable[[], psycopg.Connection[Any]] | None = None,
    ) -> None:
        if isolation not in ISOLATION_LEVELS:
            raise InvalidInput("isolation", f"{isolation!r} is not one of {ISOLATION_LEVELS}")
        self.schema = schema
        self.isolation = isolation
        self.lock = threading.RLock()
        self._pool: ConnectionPool[Any] | None = None
        self._own: Connection | None = None
        path = ""
        if isinstance(source, ConnectionPool):
            self._pool = source
            # One round trip for both (no parameters: psycopg sends them as one query).
            local = sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema))
            path = "; " + local.as_string(None)
        self._begin_sql = f"BEGIN ISOLATION LEVEL {isolation}{path}"
        self._read_sql = f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY{path}"
        self._reconnect = reconnect
        if self._pool is None:
            assert isinstance(source, psycopg.Connection)
            self._own = self._adopt(source)
        self._current: Connection | None = None
        self._closed = False
        self._tx: Tx | None = None
        # Nested writes of the open transaction: (is a savepoint, events mark, changes).
        self._frames: list[tuple[bool, int, int]] = []
        # Per savepoint level (the transaction itself first): the error that doomed it.
        self._doomed: list[BaseException | None] = [None]
        self.rollback_listeners: list[Callable[[], None]] = []
        # As on Store: the stored configuration version this process runs on, and the
        # settings' check that re-reads a newer one (None until settings are attached).
        self.config_version = 0
        self.watch: Callable[[], Callable[[], None] | None] | None = None
        self._reread: Callable[[], None] | None = None

    @property
    def conn(self) -> Connection:
        """The connection of the open write or read; with a pool, outside both: an error."""
        if self._current is not None:
            return self._current
        if self._own is not None:
            return self._own
        raise RuntimeError("a pooled PostgreSQL backend has a connection only in write()/read()")

    @property
    def in_write(self) -> bool:
        return self._tx is not None

    @property
    def current(self) -> Tx | None:
        return self._tx

    @property
    def nested(self) -> bool:
        return bool(self._frames)

    def doom(self, error: BaseException) -> None:
        if self._doomed[-1] is None:
            self._doomed[-1] = error

    def write(self, *, savepoint: bool = False, confirms: bool = False) -> _Write:
        # ``confirms`` changes nothing here: no statement is saved by it on this backend,
        # and ``confirm`` checks whatever version a write's first read hands it.
        return _Write(self, savepoint)

    def confirm(self, version: int | None) -> None:
        """The stored configuration version a write read: if another process stored a
        newer one, the write raises here, rolls back and re-reads it (as on Store)."""
        if self._tx is None or (version or 0) == self.config_version or self.watch is None:
            return
        then = self.watch()
        if then is not None:
            self._reread = then
            raise _ConfigMoved()

    def _adopt(self, raw: psycopg.Connection[Any]) -> Connection:
        raw.autocommit = True
        raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return Connection(raw)

    def _checkout(self) -> Connection:
        if self._closed:
            raise RuntimeError("the PostgreSQL backend is closed")
        if self._own is not None:
            if self._own.raw.broken and self._reconnect is not None:
                # The server ended the session (restart, pg_terminate_backend): the write
                # that saw it failed and wrote nothing; the next one gets a new session.
                self._own.raw.close()
                self._own = self._adopt(self._reconnect())
            self._current = self._own
        else:
            assert self._pool is not None
            raw = self._pool.getconn()
            self._current = Connection(raw)
            raw.autocommit = True
        return self._current

    def _checkin(self) -> None:
        conn, self._current = self._current, None
        if conn is not None and self._pool is not None:
            if not conn.raw.broken:
                # The pool's other users get it back as it was.
                conn.raw.autocommit = conn.was_autocommit
            self._pool.putconn(conn.raw)

    def _begin(self, savepoint: bool) -> Tx:
        self.lock.acquire()
        try:
            tx = self._tx
            if tx is None:
                conn = self._checkout()
                try:
                    conn.execute(self._begin_sql)
                except BaseException as exc:
                    self._checkin()
                    typed = _typed(exc, conn)
                    if typed is not exc:
                        raise typed from exc
                    raise
                tx = self._tx = Tx()
                self._doomed = [None]
                return tx
            if self._doomed[-1] is not None:
                raise BatchAborted(self._doomed[-1])
            conn = self.conn
            self._frames.append((savepoint, len(tx.events), conn.changes))
            if savepoint:
                try:
                    conn.execute(f"SAVEPOINT sp{len(self._frames)}")
                except BaseException:
                    self._frames.pop()
                    raise
                self._doomed.append(None)
            return tx
        except BaseException:
            self.lock.release()
            raise

    def _end(self, error: BaseException | None) -> None:
        try:
            if self._frames:
                self._end_nested(error)
            else:
                self._end_outermost(error)
        finally:
            self.lock.release()

    def _end_nested(self, error: BaseException | None) -> None:
        tx = self._tx
        assert tx is not None
        conn = self.conn
        savepoint, mark, changes = self._frames[-1]
        name = f"sp{len(self._frames)}"
        self._frames.pop()
        if not savepoint:
            if error is not None:
                del tx.events[mark:]
                if (conn.changes != changes or conn.failed) and self._doomed[-1] is None:
                    self._doomed[-1] = error
            return
        doom = self._doomed.pop()
        if error is None and doom is None:
            conn.execute(f"RELEASE {name}")
            return
        # ROLLBACK TO also clears a failed statement's abort of the transaction.
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
                typed = _typed(error, self.conn)
                if typed is not error:
                    raise typed from error
                return
            try:
                self.conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                typed = _typed(exc, self.conn)
                if typed is not exc:
                    raise typed from exc
                raise
            tx.committed = True
        finally:
            self._tx = None
            self._doomed = [None]
            self._checkin()

    def _rollback(self) -> None:
        conn = self.conn
        if conn.in_transaction and not conn.raw.closed:
            conn.execute("ROLLBACK")
        self._rolled_back()

    def _rolled_back(self) -> None:
        for listener in self.rollback_listeners:
            listener()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot (``REPEATABLE READ``) for reads of several statements; inside
        a write or another read, that one's view."""
        with self.lock:
            if self._current is not None:
                yield self._current
                return
            conn = self._checkout()
            try:
                conn.execute(self._read_sql)
                try:
                    yield conn
                finally:
                    if conn.in_transaction and not conn.raw.closed:
                        conn.execute("COMMIT")
            finally:
                self._checkin()

    def close(self) -> None:
        """Close the owned connection (a pool stays open: it is its owner's); twice is fine."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            if self._own is not None:
                self._own.raw.close()


if TYPE_CHECKING:
    _backend: type[Backend] = PostgresBackend
