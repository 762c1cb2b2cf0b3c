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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.adapt import Loader
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
from .session import NO_SESSION, Connection

__all__ = ["ISOLATION_LEVELS", "Connection", "PostgresBackend"]

ISOLATION_LEVELS = ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")

_USER_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))"
"""Sent after ``BEGIN``: ``user``'s advisory lock, keyed by the schema and the user (the
two-number form), so engines in other schemas and the host app's own advisory locks do not
queue behind it."""


_UNMOVED = (
    "SELECT 1 / CASE WHEN COALESCE(MAX(version), 0) = %s THEN 1 ELSE 0 END FROM config_versions"
)
"""Sent with a write's ``BEGIN``: fails (a division by zero, computed from the table, so the
planner cannot fold it away) if the stored configuration version is not the one this engine
runs on, so no write commits on a configuration another process replaced (SQLite checks
``PRAGMA data_version`` as a write begins)."""


class _NumberLoader(Loader):
    """``NUMERIC`` (metric sums, board scores) as SQLite gives them: an ``int`` when whole,
    else a ``float``, not a ``Decimal``."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data)
        if b"." in text or b"e" in text or b"N" in text:
            number = float(text)
            return int(number) if number.is_integer() and b"N" not in text else number
        return int(text)


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
    __slots__ = ("_also", "_backend", "_savepoint", "_user", "_users")

    def __init__(
        self, backend: PostgresBackend, savepoint: bool, user: str, users: bool, also: str
    ) -> None:
        self._backend = backend
        self._savepoint = savepoint
        self._user = user
        self._users = users
        self._also = also

    def __enter__(self) -> Tx:
        backend = self._backend
        tx = backend._begin(self._savepoint, self._user, self._users, self._also)
        if self._savepoint and not backend._frames and backend.conn.opening:
            # A batch: its BEGIN and the check of the configuration go now, so a stale one
            # is found before any of its calls runs (as SQLite checks at BEGIN).
            try:
                backend.conn.send()
            except BaseException as exc:
                backend._end(exc)
                raise
        return tx

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
        # What opens a write or a read, sent with its first statements (session.py).
        path: list[tuple[str, Any]] = []
        if isinstance(source, ConnectionPool):
            self._pool = source
            local = sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema))
            path = [(local.as_string(None), None)]
        self._begin_sql = [(f"BEGIN ISOLATION LEVEL {isolation}", None), *path]
        # A write about one user (write(user=)): READ COMMITTED under that user's lock.
        self._begin_user_sql = [("BEGIN ISOLATION LEVEL READ COMMITTED", None), *path]
        self._read_sql = [("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", None), *path]
        self._reconnect = reconnect
        # One connection object for the engine's life (see Connection): its session is the
        # owned one, or the pool's for the duration of each write or read.
        self._proxy = Connection(None)
        self._proxy.raw = NO_SESSION
        self._proxy.lend = self._lend
        if self._pool is None:
            assert isinstance(source, psycopg.Connection)
            self._own = self._adopt(source)
        self._current: Connection | None = None
        self._closed = False
        # The users the open transaction holds the lock of; None where it takes no lock.
        self._locked: set[str] | None = None
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
        # As on Store: batched XP awards not yet written (progression/bulk.py), flushed
        # before a read or another write sees the rows.
        self.pending: Callable[[], None] | None = None
        self.before_write: Callable[[], None] | None = None
        self.memory = False
        self.path = f"PostgreSQL schema {schema!r}"

    @property
    def conn(self) -> Connection:
        """The engine's connection; with a pool, it has a session only in write()/read()."""
        return self._proxy

    @property
    def in_write(self) -> bool:
        return self._tx is not None

    @property
    def current(self) -> Tx | None:
        return self._tx

    @property
    def nested(self) -> bool:
        return bool(self._frames)

    @property
    def doomed(self) -> bool:
        return self._doomed[-1] is not None

    def _flush(self) -> None:
        pending = self.pending
        if pending is not None:
            pending()

    def doom(self, error: BaseException) -> None:
        if self._doomed[-1] is None:
            self._doomed[-1] = error

    def write(
        self,
        *,
        savepoint: bool = False,
        confirms: bool = False,
        user: str = "",
        users: bool = False,
        also: str = "",
    ) -> _Write:
        """A write transaction (see Store.write). ``confirms`` changes nothing here: no
        statement is saved by it on this backend, and ``confirm`` checks whatever version a
        write's first read hands it.

        ``user``: the user the write is about. An outermost write then runs READ COMMITTED
        and takes a transaction advisory lock on that user in the same round trip as its
        ``BEGIN``: one user's writes queue, as every write does on SQLite, and each of its
        statements reads what the writes before it committed (a key looked up after the lock
        sees a concurrent call's row; a profile's XP is read after the last award to it).
        Other users' writes go on in parallel; what they share is changed by single
        statements (a balance by ``balance + ?``). Writes about no one user (jobs, calls by
        a row's id) run at the backend's isolation, SERIALIZABLE for the engine, whose
        conflicts the engine retries whole. (Under REPEATABLE READ or SERIALIZABLE the
        snapshot would be taken before the lock was granted, and miss what it waited for.)

        ``users`` (a batch): an outermost write runs READ COMMITTED like a user's, ``user``'s
        lock first if given, and takes each user's lock as its nested writes about them come
        (``_lock_also``), so each of its calls queues with that user's writes on every
        server.

        ``also``: a second user the write is about (a transfer's receiver), locked with
        ``user``. An outermost write takes the two locks in the order of the users' ids, as
        every write does, so two transfers between the same users in opposite directions
        queue instead of deadlocking; a nested one takes whichever its transaction lacks."""
        return _Write(self, savepoint, user, users, also)

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
        raw.adapters.register_loader("numeric", _NumberLoader)
        raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        self._proxy.raw = raw
        return self._proxy

    def _checkout(self) -> Connection:
        if self._closed:
            raise RuntimeError("the PostgreSQL backend is closed")
        if self._own is not None:
            if (self._own.raw.broken or self._own.raw.closed) and self._reconnect is not None:
                # The server ended the session (restart, pg_terminate_backend): the write
                # that saw it failed and wrote nothing; the next one gets a new session.
                self._own.raw.close()
                self._own = self._adopt(self._reconnect())
            self._current = self._own
        else:
            assert self._pool is not None
            raw = self._pool.getconn()
            raw.adapters.register_loader("numeric", _NumberLoader)
            proxy = self._current = self._proxy
            proxy.raw, proxy.was_autocommit = raw, raw.autocommit
            raw.autocommit = True
        return self._current

    def _checkin(self) -> None:
        conn, self._current = self._current, None
        if conn is not None and self._pool is not None:
            raw = conn.raw
            conn.raw = NO_SESSION
            if not raw.broken:
                # The pool's other users get it back as it was.
                raw.autocommit = conn.was_autocommit
            self._pool.putconn(raw)

    def _begin(self, savepoint: bool, user: str = "", users: bool = False, also: str = "") -> Tx:
        self.lock.acquire()
        try:
            tx = self._tx
            # The users in id order, as every write takes them (a transfer's two).
            locked = (user,) if not also or also == user else tuple(sorted((user, also)))
            if tx is None:
                conn = self._checkout()
                # Nothing is sent yet: the BEGIN and the lock go with the first statements.
                if user:
                    opening = [
                        *self._begin_user_sql,
                        *((_USER_LOCK, (self.schema, each)) for each in locked),
                    ]
                else:
                    opening = (self._begin_user_sql if users else self._begin_sql).copy()
                if self.watch is not None:
                    opening.append((_UNMOVED, (self.config_version,)))
                conn.queue(opening, guarded=self.watch is not None)
                tx = self._tx = Tx()
                self._doomed = [None]
                self._locked = set(locked) if user else set() if users else None
                return tx
            if self.before_write is not None:
                self.before_write()
            if self._doomed[-1] is not None:
                raise BatchAborted(self._doomed[-1])
            conn = self.conn
            if user and self._locked is not None:
                for each in locked:
                    if each not in self._locked:
                        self._lock_also(conn, each)
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

    def hold(self, user: str) -> None:
        """Inside a write that takes users' locks (a batch), ``user``'s lock, if it does not
        hold it yet: for what reads a user's rows outside a nested write about them (a
        batch's buffered XP award, progression/bulk.py). Elsewhere nothing."""
        if self._locked is not None and user not in self._locked:
            self._lock_also(self.conn, user)

    def _lock_also(self, conn: Connection, user: str) -> None:
        """In a transaction that takes users' locks (a batch), a write about a user it does not
        hold yet takes that user's lock. Two batches locking the same users in opposite
        orders deadlock: the server breaks it, and the batch it picks fails whole with a
        ``WriteConflict`` (it dooms the batch, which the caller runs again)."""
        try:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(?), hashtext(?))", (self.schema, user)
            ).fetchone()  # sent now: a deadlock is this write's, not a later one's
        except BaseException as exc:
            typed = _typed(exc, conn)
            self.doom(typed)
            if typed is not exc:
                raise typed from exc
            raise
        assert self._locked is not None
        self._locked.add(user)

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
        refused = None
        if error is None and conn.pending:
            # A nested write's statements stand or fail within it: its caller (a call in
            # a batch) sees its own refusal, not a later call.
            try:
                conn.send()
            except BaseException as exc:
                error = refused = exc
        if not savepoint:
            if error is not None:
                del tx.events[mark:]
                if (conn.changes != changes or conn.failed) and self._doomed[-1] is None:
                    self._doomed[-1] = error
            if refused is not None:
                raise refused
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
        if refused is not None:
            raise refused
        if error is None:
            assert doom is not None
            raise BatchAborted(doom)

    def _end_outermost(self, error: BaseException | None) -> None:
        tx = self._tx
        assert tx is not None
        doom = self._doomed[0]
        try:
            self._check_moved()
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
                self.conn.finish("COMMIT")
            except BaseException as exc:
                self._rollback()
                self._check_moved()
                typed = _typed(exc, self.conn)
                if typed is not exc:
                    raise typed from exc
                raise
            tx.committed = True
        finally:
            self._tx = None
            self._doomed = [None]
            self.conn.discard()
            self._checkin()

    def _check_moved(self) -> None:
        """The write found another process's configuration version (``_UNMOVED``): roll back,
        re-read it, and raise ``StaleConfig`` (what the settings' ``watch`` gives)."""
        conn = self.conn
        if not conn.moved:
            return
        conn.moved = False
        self._rollback()
        then = None if self.watch is None else self.watch()
        if then is not None:
            then()

    def _rollback(self) -> None:
        conn = self.conn
        conn.discard()
        if conn.in_transaction and not conn.raw.closed:
            conn.execute("ROLLBACK")
        conn.rolled_back()
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
                self._flush()
                yield self._current
                return
            conn = self._checkout()
            try:
                conn.queue(self._read_sql.copy())
                try:
                    yield conn
                except BaseException:
                    conn.discard()
                    if conn.in_transaction and not conn.raw.closed:
                        conn.execute("ROLLBACK")
                    raise
                conn.finish("COMMIT")
            finally:
                conn.discard()
                self._checkin()

    def _lend(self, query: str, parameters: Any) -> Rows:
        with self.read() as conn:
            cursor = conn.execute(query, parameters)
            return Rows(
                cursor.fetchall() if cursor.description is not None else [], cursor.rowcount
            )

    @property
    def db(self) -> Database:
        """What ``Gamification.db`` is on this backend (a sqlite-utils ``Database`` on SQLite)."""
        return Database(self)

    def dump(self) -> str:
        """Every row of the schema's tables as text, tables by name and rows in order: equal
        dumps mean unchanged data (what ``Store.dump`` gives the tests on SQLite)."""
        with self.read() as conn:
            self._flush()
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
            lines: list[str] = []
            for (table,) in tables:
                name = sql.Identifier(table).as_string(None)
                rows = conn.execute(f"SELECT * FROM {name}").fetchall()
                lines.extend(f"{table} {row!r}" for row in sorted(rows, key=repr))
            return "\n".join(lines)

    def close(self) -> None:
        """Close the owned connection (a pool stays open: it is its owner's); twice is fine."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            if self._own is not None:
                self._own.raw.close()


class Rows:
    """A statement's rows, read whole (the transaction that ran it has ended)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Database:
    """``Gamification.db`` on PostgreSQL, for introspection as on SQLite: ``execute`` (with
    SQLite's placeholders, in a transaction of its own or the open write's), ``conn``,
    ``table_names()`` and ``view_names()``."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend

    @property
    def conn(self) -> Connection:
        return self._backend.conn

    def execute(self, query: str, parameters: Any = None) -> Rows:
        with self._backend.write():
            cursor = self._backend.conn.execute(query, parameters)
            rows = cursor.fetchall() if cursor.description is not None else []
            return Rows(rows, cursor.rowcount)

    def _names(self, kind: str) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = ? ORDER BY table_name",
            (kind,),
        )
        return [name for (name,) in rows]

    def table_names(self) -> list[str]:
        return self._names("BASE TABLE")

    def view_names(self) -> list[str]:
        return self._names("VIEW")


if TYPE_CHECKING:
    _backend: type[Backend] = PostgresBackend
