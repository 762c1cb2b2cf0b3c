"""The storage layer's backend interface: ``Store`` implements ``Backend`` (mypy checks this file's
typed assignment; the run-time checks follow), and ``SQLITE`` names what this SQLite does."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import mypy.api
import pytest

from gamification_sdk.errors import BatchAborted
from gamification_sdk.storage.backend import SQLITE, Backend, one_cursor
from gamification_sdk.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = (
    "close", "confirm", "conn", "current", "dialect", "doom", "in_write", "lock", "nested", "read",
    "write",
)  # fmt: skip


def as_backend(store: Store) -> Backend:
    """Checked by mypy (``test_mypy_accepts_the_store_as_a_backend``): Store satisfies the
    protocol structurally, with no base class to inherit."""
    backend: Backend = store
    return backend


@pytest.fixture
def backend(tmp_path: Path) -> Backend:
    backend = as_backend(Store(str(tmp_path / "backend.db")))
    backend.conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    return backend


def test_the_interface_is_these_members() -> None:
    """A member added to Backend must be added here, and so thought about for Store."""
    assert sorted(name for name in vars(Backend) if not name.startswith("_")) == list(MEMBERS)


def test_the_store_has_every_member_at_run_time(backend: Backend) -> None:
    assert isinstance(backend, Backend)
    for name in MEMBERS:
        assert hasattr(backend, name), name
    assert backend.dialect is SQLITE
    assert isinstance(backend.lock, type(threading.RLock()))


def test_mypy_accepts_the_store_as_a_backend(tmp_path: Path) -> None:
    """mypy --strict passes this file, and fails a class that lacks one member (the control)."""
    control = tmp_path / "control.py"
    control.write_text(
        "from gamification_sdk.storage.backend import Backend\n"
        "from gamification_sdk.storage.store import Store\n\n\n"
        "class NoWrite(Store):\n"
        "    write = None  # type: ignore[assignment]\n\n\n"
        "def broken(store: NoWrite) -> Backend:\n"
        "    return store\n",
        encoding="utf-8",
    )
    out, err, status = mypy.api.run(
        [
            "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            __file__, str(control),
        ]
    )  # fmt: skip
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "control.py:10:" in errors[0], out + err
    assert re.search(r"note:\s+write\b", out), out + err
    assert status == 1


def test_a_write_commits_and_a_failed_savepoint_rolls_back_only_itself(backend: Backend) -> None:
    with backend.write() as tx:
        assert backend.in_write and backend.current is tx and not backend.nested
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        with pytest.raises(ValueError), backend.write(savepoint=True):
            assert backend.nested
            backend.conn.execute("INSERT INTO t VALUES ('b', 2)")
            raise ValueError("rolled back to the savepoint")
        with backend.write(savepoint=True):
            backend.conn.execute("INSERT INTO t VALUES ('c', 3)")
    assert tx.committed and not backend.in_write
    with backend.read() as conn:
        assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [("a",), ("c",)]


def test_a_doomed_write_rolls_back_whole(backend: Backend) -> None:
    with pytest.raises(BatchAborted), backend.write() as tx:
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        backend.doom(ValueError("half-written"))
    assert not tx.committed
    with backend.read() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_the_lock_is_held_by_a_write_and_taken_again_inside_it(backend: Backend) -> None:
    taken: list[bool] = []
    with backend.write():
        thread = threading.Thread(target=lambda: taken.append(backend.lock.acquire(timeout=0.05)))
        thread.start()
        thread.join()
        with backend.lock:  # reentrant: the writing thread may take it again
            pass
    assert taken == [False]


def test_the_sqlite_dialect_is_what_this_sqlite_does(backend: Backend) -> None:
    dialect = backend.dialect
    conn = backend.conn
    assert dialect.name == "sqlite" and dialect.paramstyle == "qmark"
    assert (
        dialect.conflict_clauses and dialect.returning and dialect.begin_write == "BEGIN IMMEDIATE"
    )
    with backend.write():
        # Both placeholder forms, and a numbered one read twice.
        conn.execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
        assert conn.execute("SELECT ?1 || ?1", ("x",)).fetchone() == ("xx",)
        # The conflict clause the statements no longer use, and the upsert they use instead.
        assert conn.execute("INSERT OR IGNORE INTO t VALUES ('a', 2)").rowcount == 0
        assert (
            conn.execute("INSERT INTO t VALUES ('a', 2) ON CONFLICT (k) DO NOTHING").rowcount == 0
        )
        conn.execute("INSERT INTO t VALUES ('a', 5) ON CONFLICT (k) DO UPDATE SET n = t.n + 1")
        assert conn.execute("UPDATE t SET n = n + 1 WHERE k = 'a' RETURNING n").fetchone() == (3,)
        table = f"CREATE TABLE w (k {dialect.integer} PRIMARY KEY, b {dialect.blob}) "
        conn.execute(table + dialect.without_rowid)
        assert conn.execute(f"SELECT {dialect.greatest}(0, -4, 2)").fetchone() == (2,)
        conn.execute(f"CREATE TEMP TABLE scratch (k {dialect.integer})")
        conn.execute(f"DROP TABLE {dialect.temp_schema}.scratch")
    calls = {
        "json_array": "SELECT json_array(1, 'a')",
        "json_extract": """SELECT json_extract('{"a": [1, 2]}', '$.a[1]')""",
        "json_each": "SELECT group_concat(value) FROM json_each('[1, 2]')",
    }
    assert sorted(calls) == sorted(dialect.json_functions)
    answers = [conn.execute(sql).fetchone()[0] for sql in calls.values()]
    assert answers == ['[1,"a"]', 2, "1,2"]


def test_sqlite3_is_the_connection_the_protocol_describes(backend: Backend) -> None:
    assert isinstance(backend.conn, sqlite3.Connection)


def test_one_cursor_runs_statements_through_one_sqlite_cursor() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    execute = one_cursor(conn)
    execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    first = execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
    assert execute("SELECT v FROM t WHERE k = ?", ("a",)) is first
    assert first.fetchone() == (1,)
    assert execute("SELECT v FROM t WHERE k = ?", ("b",)).fetchone() is None
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_one_cursor_of_another_connection_is_its_execute() -> None:
    class Other:
        def execute(self, sql: str, parameters: object = (), /) -> sqlite3.Cursor:
            raise AssertionError(sql)

        def executemany(self, sql: str, parameters: object, /) -> sqlite3.Cursor:
            raise AssertionError(sql)

        in_transaction = False

    other = Other()
    assert one_cursor(other) == other.execute
