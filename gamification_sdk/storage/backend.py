"""The backend interface the storage layer is written against, and the SQL dialect it speaks.

The statements of ``storage/`` are module constants, written in SQL that PostgreSQL accepts too
wherever SQLite allows it: upserts as ``INSERT ... ON CONFLICT (target) DO NOTHING / DO UPDATE``
(the existing row's columns named by table), ``RETURNING``, CTEs, window functions. The few
pieces that differ are named by a ``Dialect``; ``SQLITE`` is the one ``Store`` speaks. A second
backend implements ``Backend`` on its own connection and gives its own versions of just the
statements that use one of those pieces.

``Store`` (storage/store.py) implements ``Backend``; tests/test_storage_backend.py checks it,
with mypy and at run time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    # Only for annotations: store.py imports this module for its dialect.
    from .store import Tx

__all__ = ["SQLITE", "Backend", "Connection", "Cursor", "Dialect", "WriteLock", "one_cursor"]


@attrs.frozen
class Dialect:
    """The SQL of one database engine, where the statements of ``storage/`` cannot share it."""

    name: str
    """The engine: ``"sqlite"``."""
    paramstyle: str
    """How statements take parameters (PEP 249): ``"qmark"``, that is ``?`` in order, and
    ``?1``, ``?2`` where one parameter is read twice (the referral rules, the idempotency key
    lookup). PostgreSQL drivers take ``%s`` (psycopg) or ``$1`` (asyncpg)."""
    begin_write: str
    """How a write transaction takes the database's write lock as it starts: ``BEGIN
    IMMEDIATE``, so two writers queue at the start instead of one failing at its first write.
    PostgreSQL locks rows as they are written; one writer at a time would need an advisory
    lock."""
    without_rowid: str
    """The table option that stores a table in its primary key's order (``WITHOUT ROWID``):
    the schema's keyed tables use it; PostgreSQL has no equivalent (tables are heaps)."""
    integer: str
    """The type of integer columns: SQLite's ``INTEGER`` holds 64 bits (PostgreSQL:
    ``BIGINT``); ``INTEGER PRIMARY KEY`` is the rowid, numbered by the table (PostgreSQL:
    an identity column)."""
    blob: str
    """The type of byte strings (idempotency fingerprints): ``BLOB`` (PostgreSQL: ``BYTEA``)."""
    conflict_clauses: bool
    """Whether ``INSERT OR IGNORE`` and ``INSERT OR REPLACE`` exist. The statements use
    ``ON CONFLICT (target) DO NOTHING`` or ``DO UPDATE`` instead, which both engines accept."""
    returning: bool
    """Whether ``INSERT``/``UPDATE``/``DELETE ... RETURNING`` works (SQLite 3.35 and later):
    the ledger reads each new balance back from its ``UPDATE``."""
    json_functions: tuple[str, ...]
    """The JSON functions statements call (stored JSON is TEXT): ``json_array``,
    ``json_extract``, ``json_each``. PostgreSQL spells them ``json_build_array``, ``->>`` and
    ``json_array_elements`` (on ``jsonb``)."""
    greatest: str
    """The function giving the larger of several values: SQLite's many-argument ``max``
    (the shop's stock), PostgreSQL's ``GREATEST``."""
    temp_schema: str
    """The schema of temporary tables, as a qualifier (the ledger audit's work table):
    ``temp``; PostgreSQL's is ``pg_temp``."""


SQLITE = Dialect(
    name="sqlite",
    paramstyle=sqlite3.paramstyle,
    begin_write="BEGIN IMMEDIATE",
    without_rowid="WITHOUT ROWID",
    integer="INTEGER",
    blob="BLOB",
    conflict_clauses=True,
    returning=sqlite3.sqlite_version_info >= (3, 35),
    json_functions=("json_array", "json_extract", "json_each"),
    greatest="max",
    temp_schema="temp",
)


class Cursor(Protocol):
    """What the storage layer reads from an executed statement (a subset of PEP 249)."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the storage layer asks of a connection: statements, and whether one is open."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...
    @property
    def in_transaction(self) -> bool: ...


def one_cursor(conn: Connection) -> Callable[..., Cursor]:
    """``conn.execute`` for a hot path's statements, each read in full before the next runs
    (a row by key, or none): on SQLite through one cursor kept for them, as
    ``sqlite3.Connection.execute`` makes a cursor per statement (about 1,300 instructions,
    half a percent of a keyed award_xp). Never iterate over one statement's rows while
    running another through the same runner."""
    if isinstance(conn, sqlite3.Connection):
        return conn.cursor().execute
    return conn.execute


class WriteLock(Protocol):
    """The lock every write (and every read of several statements) holds: a reentrant lock, so
    a write nested in another takes it again."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """A database the storage layer runs on: one connection, shared by the threads of one
    engine under ``lock``.

    ``write()`` is a write transaction holding the lock from start to end. Opened inside another
    write it nests: ``write(savepoint=True)`` is a savepoint (its failure rolls back only its
    own writes, ``batch()``); a plain nested write is a light frame whose failure after it
    changed rows dooms the enclosing level, which then rolls back and raises
    ``BatchAborted``. The outermost write commits on success and rolls back on any error.
    Events emitted on its ``Tx`` are dispatched by the caller once ``Tx.committed``.

    ``read()`` is a consistent snapshot for reads of several statements (inside a write: the
    write's own view). Every statement goes to ``conn.execute`` with parameters in
    ``dialect.paramstyle``.
    """

    @property
    def dialect(self) -> Dialect:
        """The SQL this backend speaks where engines differ."""

    @property
    def conn(self) -> Connection:
        """The connection statements run on (inside ``write()`` or ``read()``)."""

    @property
    def lock(self) -> WriteLock:
        """Held by every write and read; hold it to make several calls one step."""

    @property
    def in_write(self) -> bool:
        """Whether a write transaction is open."""

    @property
    def nested(self) -> bool:
        """Inside ``write()``: whether this write runs inside another."""

    @property
    def current(self) -> Tx | None:
        """The open write transaction, if any."""

    def write(
        self, *, savepoint: bool = False, confirms: bool = False
    ) -> AbstractContextManager[Tx, None]:
        """A write transaction (nested: a savepoint or a light frame, see above);
        ``confirms``: its first read hands the configuration version to ``confirm``."""

    def confirm(self, version: int | None) -> None:
        """In a ``confirms`` write: the stored configuration version its first read saw;
        raises (and the write re-reads the configuration) if another process moved it."""

    def read(self) -> AbstractContextManager[Connection, bool | None]:
        """A consistent snapshot; gives the connection to read through."""

    def doom(self, error: BaseException) -> None:
        """Make the open transaction roll back: ``error`` left it half-written."""

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
