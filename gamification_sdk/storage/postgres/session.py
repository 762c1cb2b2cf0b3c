"""The connection the statements run on over PostgreSQL, and how it saves round trips.

One loopback round trip costs about as much as the server's work for a hot-path statement
(docs/postgresql.md), so inside a write the connection sends nothing until it must: a
statement is queued, and the queue goes to the server in one round trip (psycopg's pipeline
mode) when code reads a result of any queued statement, or with the write's ``COMMIT``. The
write's ``BEGIN`` and its user's lock ride with the first of these. Statements still run in the
order they were given, so a read sees every write queued before it; what moves is only where
a refused statement's error is raised: at the next result read or at ``COMMIT``, which fails
the write whole as it would have anyway. A keyed ``award_xp`` is then two round trips: the
``BEGIN``, the lock, the key lookup and the profile read; then the writes and ``COMMIT``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psycopg
from psycopg import pq

from ..store import _ConfigMoved
from .identity import identity_insert
from .placeholders import bind, translate
from .statements import OVERRIDES

__all__ = ["NO_SESSION", "Connection", "Cursor"]

_WRITING = (b"INSERT", b"UPDATE", b"DELETE", b"MERGE", b"COPY")
_REFUSED = (psycopg.errors.IntegrityError, psycopg.errors.NumericValueOutOfRange)


def _refused(exc: BaseException) -> sqlite3.IntegrityError:
    # The storage layer speaks the DB-API of sqlite3 (backend.Connection): a broken
    # constraint is its IntegrityError, whichever engine refused the row (a BIGINT overflow
    # too, which the file refuses with a CHECK).
    return sqlite3.IntegrityError(str(exc).strip())


class Cursor(psycopg.Cursor[Any]):
    """psycopg's cursor with PEP 249's ``lastrowid``: an ``INSERT`` into a table numbered by
    an identity column runs with ``RETURNING`` of that column (``identity_insert``), which
    this reads back, as SQLite's cursor reports the rowid. A queued statement's cursor sends
    its connection's queue before anything of its result is read."""

    returns_id = False
    waiting: Connection | None = None

    def _wait(self) -> None:
        waiting = self.waiting
        if waiting is not None:
            waiting.send()

    @property
    def lastrowid(self) -> int | None:
        if not self.returns_id:
            return None
        row = self.fetchone()
        return None if row is None else int(row[0])

    @property
    def rowcount(self) -> int:
        self._wait()
        return self._rowcount

    @property
    def description(self) -> Any:
        self._wait()
        return super().description

    def fetchone(self) -> Any:
        self._wait()
        return super().fetchone()

    def fetchall(self) -> list[Any]:
        self._wait()
        return super().fetchall()

    def fetchmany(self, size: int = 0) -> list[Any]:
        self._wait()
        return super().fetchmany(size)

    def __next__(self) -> Any:
        self._wait()
        return super().__next__()


class _NoSession:
    """A pooled backend's session between writes and reads: a statement runs in a read of
    its own (``Connection.lend``); anything else says why it cannot be."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("a pooled PostgreSQL backend has a session only in write()/read()")


NO_SESSION: Any = _NoSession()


class Connection:
    """The ``backend.Connection`` the statements run on: psycopg's connection, the transaction
    state SQLite's connection reports, and a count of the rows writing statements changed.

    ``queue()`` starts queueing (a write's ``BEGIN`` and lock first); ``finish`` sends what is
    queued with the statement that ends the write, ``discard`` drops it (see the module)."""

    __slots__ = (
        "_changes",
        "_failure",
        "_guarded",
        "_head",
        "_mark",
        "_queue",
        "lend",
        "moved",
        "queueing",
        "raw",
        "round_trips",
        "trace",
        "was_autocommit",
    )

    def __init__(self, raw: psycopg.Connection[Any] | None) -> None:
        # ``raw`` changes under the same object: the services keep this connection from
        # their construction on, while a pool or a reconnect hands out new sessions.
        self.raw: psycopg.Connection[Any] = raw  # type: ignore[assignment]
        self._changes = self._mark = 0
        self.was_autocommit = raw.autocommit if raw is not None else True
        # A pooled backend between writes and reads: runs one statement in a read of its own.
        self.lend: Callable[[str, Any], Any] | None = None
        self.trace: Callable[[str], object] | None = None
        self.queueing = False
        # Statements not sent yet: the write's opening ones (no cursor), then the queue.
        self._head: list[tuple[str, Any]] = []
        self._queue: list[tuple[Cursor, str, Any]] = []
        # A queued statement's refusal met where nobody could raise it (``_settle``).
        self._failure: BaseException | None = None
        # Times the client waited for the server: what the tests count per hot-path write.
        self.round_trips = 0
        # The opening holds the backend's check of the stored configuration version, which
        # failed: another process stored a newer one (PostgresBackend._check_moved).
        self._guarded = False
        self.moved = False

    def set_trace_callback(self, callback: Callable[[str], object] | None, /) -> None:
        """As sqlite3's: ``callback`` gets each statement's text as sent to the server."""
        self.trace = callback

    def queue(self, opening: list[tuple[str, Any]], *, guarded: bool = False) -> None:
        """Queue from now on, ``opening`` first (the write's ``BEGIN`` and lock; ``guarded``:
        and last the check that the configuration did not move, which fails by dividing by
        zero)."""
        self._head = opening
        self._guarded = guarded
        self.queueing = True
        self._mark = self._changes

    def rolled_back(self) -> None:
        """The transaction rolled back: its rows no longer count as changed."""
        self._changes = self._mark

    def execute(self, query: str, parameters: Any = None, /) -> Cursor:
        """Run a statement written with SQLite's placeholders (see placeholders.py); one
        SQLite cannot share with PostgreSQL runs as its PostgreSQL text (statements.py)."""
        if self.raw is NO_SESSION and self.lend is not None:
            return self.lend(query, parameters)  # type: ignore[no-any-return]
        cursor = Cursor(self.raw)
        text = OVERRIDES.get(query, query)
        numbered = identity_insert(text)
        if numbered is not None:
            text = numbered
            cursor.returns_id = True
        bound = bind(text, parameters)
        if self.queueing:
            cursor.waiting = self
            self._queue.append((cursor, bound[0], bound[1]))
            return cursor
        if self.trace is not None:
            self.trace(bound[0])
        self.round_trips += 1
        try:
            cursor.execute(*bound)
        except _REFUSED as exc:
            raise _refused(exc) from exc
        self._count(cursor)
        return cursor

    def executemany(self, query: str, parameters: Iterable[Any], /) -> Cursor:
        if self._queue or self._head:
            self.send()
        cursor = Cursor(self.raw)
        rows = list(parameters)
        if not rows:
            return cursor
        named = isinstance(rows[0], Mapping)
        translated = translate(OVERRIDES.get(query, query), named)
        order = translated.order
        if order is not None:
            rows = [[row[index] for index in order] for row in rows]
        if self.trace is not None:
            self.trace(translated.sql)
        self.round_trips += 1
        try:
            cursor.executemany(translated.sql, rows)
        except _REFUSED as exc:
            raise _refused(exc) from exc
        self._count(cursor)
        return cursor

    def send(self, last: str | None = None) -> None:
        """Send what is queued (and ``last``, e.g. ``COMMIT``) in one round trip; a refused
        statement raises here, and those after it did not run."""
        head, queue = self._head, self._queue
        self._head, self._queue = [], []
        for cursor, _text, _params in queue:
            cursor.waiting = None
        raw = self.raw
        self.round_trips += 1
        trace = self.trace
        if trace is not None:
            for text, _params in head:
                trace(text)
            for _cursor, text, _params in queue:
                trace(text)
            if last is not None:
                trace(last)
        try:
            if len(head) + len(queue) + (last is not None) == 1:
                if queue:
                    cursor, text, params = queue[0]
                    cursor.execute(text, params)
                else:
                    raw.execute(*(head[0] if head else (last, None)))
            else:
                self._pipeline(raw, head, queue, last)
        except _REFUSED as exc:
            raise _refused(exc) from exc
        except psycopg.errors.DivisionByZero as exc:
            if not (head and self._guarded):
                raise
            self.moved = True
            raise _ConfigMoved() from exc
        for cursor, _text, _params in queue:
            self._count(cursor)

    @staticmethod
    def _pipeline(
        raw: psycopg.Connection[Any],
        head: list[tuple[str, Any]],
        queue: list[tuple[Cursor, str, Any]],
        last: str | None,
    ) -> None:
        """The statements in one round trip; the first refusal is raised, those after it did
        not run (psycopg may meet it while still sending: it is kept for after the sync)."""
        failure: psycopg.Error | None = None
        try:
            with raw.pipeline():
                try:
                    for text, params in head:
                        raw.execute(text, params)
                    for cursor, text, params in queue:
                        cursor.execute(text, params)
                    if last is not None:
                        raw.execute(last)
                except psycopg.Error as exc:
                    failure = exc
        except psycopg.Error as exc:
            if failure is None:
                failure = exc
        if failure is not None:
            # psycopg can keep naming as prepared a statement whose PREPARE the failure
            # skipped (seen after a deadlock broken on the write's lock): the retry then
            # fails with "prepared statement does not exist". Forget them all, on both sides
            # (psycopg sends DEALLOCATE ALL after the next statement, the ROLLBACK).
            raw._prepared.clear()
            if raw.pgconn.pipeline_status != pq.PipelineStatus.OFF:
                # The session broke mid-way and psycopg could not leave pipeline mode: no
                # statement can follow on it, so it is closed (the next write reconnects).
                raw.close()
            raise failure

    def finish(self, last: str) -> None:
        """End the write with ``last`` (``COMMIT``), sending the queue with it; a write that
        sent nothing ends without a round trip."""
        self.queueing = False
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        if self._head and not self._queue:
            self._head = []
            return
        self.send(last)

    def discard(self) -> None:
        """Forget what is queued (the write rolls back; what was sent is rolled back too)."""
        self.queueing = False
        self._head, self._queue, self._failure = [], [], None

    def _count(self, cursor: Cursor) -> None:
        result = cursor.pgresult
        status = result.command_status if result is not None else None
        if status and status.startswith(_WRITING) and cursor._rowcount > 0:
            self._changes += cursor._rowcount

    def _settle(self) -> None:
        """Send the queue where a question about the transaction needs its answer; a refused
        statement then leaves the transaction failed, which the question reports."""
        if self._queue:
            try:
                self.send()
            except (psycopg.Error, sqlite3.Error) as exc:
                # The write fails at its end (finish), whatever happens before it.
                self._failure = exc

    @property
    def opening(self) -> bool:
        """The write's opening statements are not sent yet."""
        return bool(self._head)

    @property
    def pending(self) -> bool:
        """Statements are queued, not sent yet."""
        return bool(self._queue)

    @property
    def changes(self) -> int:
        self._settle()
        return self._changes

    @property
    def in_transaction(self) -> bool:
        """A transaction is open, on the server or still queued to begin."""
        return bool(self._head) or self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def failed(self) -> bool:
        """A statement failed: the transaction refuses everything but a rollback."""
        self._settle()
        return self.raw.info.transaction_status == pq.TransactionStatus.INERROR

    @property
    def total_changes(self) -> int:
        """As sqlite3's: the rows writing statements changed since the engine opened, but
        only of transactions that did not roll back (a write may queue statements it then
        rolls back unseen: ``Runtime.write``'s ``ahead``)."""
        return self.changes
