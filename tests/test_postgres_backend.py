"""The PostgreSQL backend (storage/postgres/): opening creates and migrates the schema once,
however many start together, and writes nest as on SQLite. Needs a server: see conftest.py's
``postgres_url`` (skipped, with the reason, where there is none)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gamification_sdk.errors import (
    BatchAborted,
    Busy,
    DatabaseUnreachable,
    InvalidInput,
    WriteConflict,
)
from gamification_sdk.storage.backend import Backend
from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.postgres.backend import PostgresBackend
from gamification_sdk.storage.postgres.dialect import POSTGRES
from gamification_sdk.storage.postgres.schema import DISTRIBUTED, LOCAL, MIGRATIONS, REFERENCE

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = (
    "close", "confirm", "conn", "current", "dialect", "doom", "in_write", "lock", "nested",
    "read", "write",
)  # fmt: skip


@pytest.fixture
def backend(postgres_url: str, pg_schema: str) -> Iterator[Backend]:
    backend = open_backend(postgres_url, schema=pg_schema)
    with backend.write():
        backend.conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")
    yield backend
    backend.close()


def rows(backend: Backend) -> list[tuple[Any, ...]]:
    with backend.read() as conn:
        return [tuple(row) for row in conn.execute("SELECT k, n FROM t ORDER BY k")]


def test_it_is_a_backend_speaking_postgresql(backend: Backend) -> None:
    assert isinstance(backend, Backend)
    for name in MEMBERS:
        assert hasattr(backend, name), name
    assert backend.dialect is POSTGRES
    assert backend.dialect.paramstyle == "qmark"


def test_opening_makes_the_schema_once(postgres_url: str, pg_schema: str) -> None:
    first = open_backend(postgres_url, schema=pg_schema)
    first.close()
    second = open_backend(postgres_url, schema=pg_schema)
    with second.read() as conn:
        applied = [tuple(r) for r in conn.execute("SELECT version, name FROM schema_migrations")]
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = ?", (pg_schema,)
        ).fetchone()
    second.close()
    second.close()  # twice is harmless
    assert applied == [(number, name) for number, name, _ in MIGRATIONS]
    assert tables is not None and tables[0] == len(DISTRIBUTED) + len(REFERENCE) + len(LOCAL) + 1


def test_a_write_commits_and_a_failed_one_leaves_nothing(backend: Backend) -> None:
    with backend.write() as tx:
        backend.conn.execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
        tx.emit("done", k="a")
    assert tx.committed and tx.events == [("done", {"k": "a"})]
    with pytest.raises(RuntimeError), backend.write():
        backend.conn.execute("INSERT INTO t VALUES (?, ?)", ("b", 2))
        raise RuntimeError("boom")
    assert rows(backend) == [("a", 1)]
    assert not backend.in_write and backend.current is None


def test_a_failed_savepoint_keeps_the_rest(backend: Backend) -> None:
    with backend.write() as tx:
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        with pytest.raises(Exception, match="duplicate key"), backend.write(savepoint=True):
            assert backend.nested
            backend.conn.execute("INSERT INTO t VALUES ('b', 2)")
            tx.emit("lost")
            backend.conn.execute("INSERT INTO t VALUES ('a', 3)")  # fails: aborts the tx
        backend.conn.execute("INSERT INTO t VALUES ('c', 3)")  # the savepoint undid the abort
    assert tx.committed and tx.events == []
    assert rows(backend) == [("a", 1), ("c", 3)]


def test_a_light_frame_that_changed_rows_dooms_the_write(backend: Backend) -> None:
    with pytest.raises(BatchAborted), backend.write():
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        with pytest.raises(ValueError), backend.write():
            backend.conn.execute("UPDATE t SET n = 2")
            raise ValueError("half done")
    assert rows(backend) == []


def test_a_light_frame_that_changed_nothing_is_forgotten(backend: Backend) -> None:
    with backend.write() as tx:
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        with pytest.raises(ValueError), backend.write():
            tx.emit("dropped")
            raise ValueError("refused before writing")
        tx.emit("kept")
    assert [hook for hook, _ in tx.events] == ["kept"]
    assert rows(backend) == [("a", 1)]


def test_a_failed_statement_in_a_light_frame_dooms_the_write(backend: Backend) -> None:
    """PostgreSQL refuses everything after a failed statement, so nothing can go on."""
    with pytest.raises(BatchAborted), backend.write():
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        with pytest.raises(Exception, match="division by zero"), backend.write():
            backend.conn.execute("SELECT 1 / 0")
    assert rows(backend) == []


def test_doom_rolls_the_write_back(backend: Backend) -> None:
    with pytest.raises(BatchAborted), backend.write():
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        backend.doom(RuntimeError("half-written"))
    assert rows(backend) == []


def test_isolation_and_schema_are_checked(postgres_url: str) -> None:
    with pytest.raises(InvalidInput, match="isolation"):
        open_backend(postgres_url, isolation="CHAOS")
    for bad in ("Game", "pg_game", "a-b", "x" * 64, ""):
        with pytest.raises(InvalidInput, match="schema"):
            open_backend(postgres_url, schema=bad)


def test_a_pool_serves_threads_of_several_engines(postgres_url: str, pg_schema: str) -> None:
    from psycopg_pool import ConnectionPool

    with ConnectionPool(postgres_url, min_size=1, max_size=4, open=True) as pool:
        engines = [open_backend(pool, schema=pg_schema) for _ in range(3)]
        with engines[0].write():
            engines[0].conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")

        def work(backend: Backend, who: int) -> None:
            for i in range(20):
                with backend.write():
                    backend.conn.execute("INSERT INTO t VALUES (?, ?)", (f"{who}-{i}", i))

        threads = [threading.Thread(target=work, args=(engines[n % 3], n)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Between writes, a statement borrows a session for a read of its own.
        assert engines[1].conn.execute("SELECT count(*) FROM t").fetchone() == (120,)
        with pytest.raises(RuntimeError, match="only in write"):
            engines[1].conn.raw.info  # noqa: B018
        with engines[1].read() as conn:
            count = conn.execute("SELECT count(*) FROM t").fetchone()
        assert count is not None and count[0] == 120
        for backend in engines:
            backend.close()


def test_app_servers_starting_together_migrate_once(postgres_url: str, pg_schema: str) -> None:
    """Processes and threads open the same new schema at once: one migrates, all succeed,
    and every migration is recorded once."""
    script = (
        "import sys; from gamification_sdk.storage.postgres import open_backend; "
        "open_backend(sys.argv[1], schema=sys.argv[2]).close()"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, postgres_url, pg_schema],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_backend(postgres_url, schema=pg_schema).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    assert errors == []
    backend = open_backend(postgres_url, schema=pg_schema)
    with backend.read() as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    backend.close()
    assert versions == [number for number, _, _ in MIGRATIONS]


def test_a_read_inside_a_read_or_a_write_shares_its_view(backend: Backend) -> None:
    with backend.read() as outer, backend.read() as inner:
        assert inner is outer
        assert outer.in_transaction
    with backend.write():
        backend.conn.execute("INSERT INTO t VALUES ('a', 1)")
        with backend.read() as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    assert rows(backend) == [("a", 1)]


def terminate_mid_write(backend: Backend, url: str) -> None:
    """A write whose session the server ends between two statements (pg_terminate_backend)."""
    with pytest.raises(DatabaseUnreachable, match="ended the session") as caught, backend.write():
        backend.conn.execute("INSERT INTO t VALUES ('lost', 1)")
        (pid,) = backend.conn.execute("SELECT pg_backend_pid()").fetchone()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        backend.conn.execute("INSERT INTO t VALUES ('lost', 2)")
    assert caught.value.retryable and isinstance(caught.value.__cause__, psycopg.OperationalError)


def test_a_session_ended_mid_write_leaves_nothing_and_the_next_write_reconnects(
    backend: Backend, postgres_url: str
) -> None:
    terminate_mid_write(backend, postgres_url)
    assert not backend.in_write
    with backend.write():
        backend.conn.execute("INSERT INTO t VALUES ('after', 1)")
    assert rows(backend) == [("after", 1)]


def test_a_serialization_failure_is_a_typed_retryable_conflict(
    postgres_url: str, pg_schema: str
) -> None:
    """Two SERIALIZABLE writers update one row: the later one gets WriteConflict (a Busy),
    with nothing of it stored, and its retry succeeds."""
    first = open_backend(postgres_url, schema=pg_schema, isolation="SERIALIZABLE")
    second = open_backend(postgres_url, schema=pg_schema, isolation="SERIALIZABLE")
    with first.write():
        first.conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")
        first.conn.execute("INSERT INTO t VALUES ('a', 1)")
    with pytest.raises(WriteConflict) as caught, second.write():
        second.conn.execute("SELECT n FROM t WHERE k = 'a'").fetchone()  # snapshot starts here
        with first.write():
            first.conn.execute("UPDATE t SET n = n + 1 WHERE k = 'a'")
        second.conn.execute("INSERT INTO t VALUES ('b', 1)")
        second.conn.execute("UPDATE t SET n = n + 10 WHERE k = 'a'")
    assert isinstance(caught.value, Busy) and caught.value.retryable
    assert caught.value.__cause__ is not None
    assert rows(first) == [("a", 2)]
    with second.write():
        second.conn.execute("UPDATE t SET n = n + 10 WHERE k = 'a'")
    assert rows(first) == [("a", 12)]
    first.close()
    second.close()


class Moved(Exception):
    """What the test's stand-in for the settings' re-read raises (StaleConfig in the engine)."""


def _watched(backend: Backend) -> list[int]:
    """Watch ``backend`` as the settings do, with a re-read that counts itself and raises."""
    assert isinstance(backend, PostgresBackend)
    reread: list[int] = []

    def then() -> None:
        reread.append(1)
        raise Moved

    backend.watch = lambda: then
    return reread


def test_a_moved_configuration_rolls_the_write_back_and_rereads(backend: Backend) -> None:
    """As on Store: a write whose first read sees a newer stored configuration version
    writes nothing and runs the settings' re-read, which raises (StaleConfig there)."""
    reread = _watched(backend)
    assert isinstance(backend, PostgresBackend)
    with backend.write(confirms=True):
        backend.conn.execute("INSERT INTO t VALUES ('same', 1)")
        backend.confirm(None)  # version 0: what this process runs on
    with pytest.raises(Moved), backend.write(confirms=True):
        backend.conn.execute("INSERT INTO t VALUES ('stale', 1)")
        backend.confirm(3)
    assert reread == [1] and rows(backend) == [("same", 1)]
    # The re-read runs this process on the stored version 3 (every write checks it).
    with backend.write():
        backend.conn.execute(
            "INSERT INTO config_versions VALUES (3, 1, '{}', '2026-03-02T12:00:00Z', 'test')"
        )
    backend.config_version = 3
    with backend.write(confirms=True):
        backend.confirm(3)
        backend.conn.execute("INSERT INTO t VALUES ('after', 1)")
    assert rows(backend) == [("after", 1), ("same", 1)]


def test_a_write_on_a_replaced_configuration_writes_nothing(backend: Backend) -> None:
    """Every write's first round trip checks the stored version (``_UNMOVED``): a version
    stored by another process rolls back what the write queued, and the re-read runs."""
    reread = _watched(backend)
    with backend.write():
        backend.conn.execute(
            "INSERT INTO config_versions VALUES (1, 1, '{}', '2026-03-02T12:00:00Z', 'other')"
        )
    with pytest.raises(Moved), backend.write():
        backend.conn.execute("INSERT INTO t VALUES ('stale', 1)")  # sent with the COMMIT
    assert reread == [1] and rows(backend) == []


def test_a_pooled_session_ended_mid_write_leaves_nothing(postgres_url: str, pg_schema: str) -> None:
    from psycopg_pool import ConnectionPool

    with ConnectionPool(postgres_url, min_size=1, max_size=2, open=True) as pool:
        backend = open_backend(pool, schema=pg_schema)
        with backend.write():
            backend.conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")
        terminate_mid_write(backend, postgres_url)
        with backend.write():
            backend.conn.execute("INSERT INTO t VALUES ('after', 1)")
        assert rows(backend) == [("after", 1)]
        backend.close()


def test_a_pool_gets_its_connections_back_as_they_were(postgres_url: str, pg_schema: str) -> None:
    from psycopg_pool import ConnectionPool

    with ConnectionPool(postgres_url, min_size=1, max_size=1, open=True) as pool:
        backend = open_backend(pool, schema=pg_schema)
        with backend.write():
            backend.conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)")
        with pool.connection() as conn:
            assert not conn.autocommit
            path = conn.execute("SHOW search_path").fetchone()
        assert path is not None and pg_schema not in path[0]  # SET LOCAL: that write only
        backend.close()


def test_a_server_starting_while_another_migrates_waits_for_it(
    postgres_url: str, pg_schema: str
) -> None:
    """Another app server holds the migration lock: opening waits on it (seen in pg_locks)
    and creates nothing until it is released, then finds its way."""
    from gamification_sdk.storage.postgres.migrate import lock_key

    waiting = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND ((classid::bigint << 32) | objid::bigint) = (%s::bigint & x'ffffffffffffffff'::bigint)"
    )
    opened: list[Backend] = []
    with psycopg.connect(postgres_url, autocommit=True) as other:
        with other.transaction():
            other.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(pg_schema),))
            thread = threading.Thread(
                target=lambda: opened.append(open_backend(postgres_url, schema=pg_schema))
            )
            thread.start()
            for _ in range(400):  # until the opener is seen waiting (at most ~20 s)
                if other.execute(waiting, (lock_key(pg_schema),)).fetchone() == (1,):
                    break
                thread.join(0.05)
            else:
                pytest.fail("the opener never waited on the migration lock")
            assert thread.is_alive() and opened == []
            gone = other.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (pg_schema,)
            ).fetchone()
            assert gone == (0,)
        thread.join(60)
    assert not thread.is_alive() and len(opened) == 1
    opened[0].close()


def test_executemany_raises_a_broken_key_as_sqlite3_does_and_writes_nothing(
    backend: Backend,
) -> None:
    traced: list[str] = []
    backend.conn.set_trace_callback(traced.append)  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.IntegrityError, match="duplicate key"), backend.write():
        backend.conn.executemany("INSERT INTO t VALUES (?, ?)", [("a", 1), ("a", 2)])
    backend.conn.set_trace_callback(None)  # type: ignore[attr-defined]
    with backend.write():
        backend.conn.execute("INSERT INTO t VALUES (?, ?)", ("b", 1))
    assert rows(backend) == [("b", 1)]
    # The statements as sent to the server while a callback was set, the write's own too.
    assert traced == [
        "BEGIN ISOLATION LEVEL READ COMMITTED",
        "INSERT INTO t VALUES (%s, %s)",
        "ROLLBACK",
    ]
