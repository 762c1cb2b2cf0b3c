"""The boards' change log read in commit order on PostgreSQL (storage/postgres/changelog.py),
against a real server: writers on several sessions commit out of ``seq`` order, roll back,
and hold one user's score row while others write; readers must see each committed row once,
a user's rows in the order they were written, and their own commits at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")

from gamification_sdk.storage.postgres import open_backend  # noqa: E402
from gamification_sdk.storage.postgres.changelog import (  # noqa: E402
    ChangeLogReader,
    LogBehind,
    LogRow,
    prune,
)
from gamification_sdk.storage.postgres.session import Connection  # noqa: E402

USERS = ("ada", "bo", "cy")
WRITERS = 3


class Log:
    """A schema with the engine's tables plus a score row per user, and sessions on it."""

    def __init__(self, url: str, schema: str) -> None:
        open_backend(url, schema=schema).close()
        self.url, self.schema = url, schema
        self.admin = self.session(autocommit=True)
        self.admin.execute("CREATE TABLE scores (user_id TEXT PRIMARY KEY, score BIGINT)")
        self.writers = [self.session() for _ in range(WRITERS)]
        self.reset()

    def session(self, autocommit: bool = False) -> Any:
        conn = psycopg.connect(self.url, autocommit=autocommit)
        conn.execute(f"SET search_path TO {self.schema}")
        if not autocommit:
            conn.commit()
        return conn

    def reset(self) -> None:
        for writer in self.writers:
            writer.rollback()
        self.admin.execute("TRUNCATE lb_log")
        self.admin.execute("DELETE FROM lb_settings")
        self.admin.execute("DELETE FROM scores")
        for user in USERS:
            self.admin.execute("INSERT INTO scores VALUES (%s, 0)", (user,))

    def award(self, writer: Any, user: str, points: int) -> None:
        """What a board's writer does: move the user's score (its row lock held until
        commit) and log the old and new values."""
        old, new = writer.execute(
            "UPDATE scores SET score = score + %s WHERE user_id = %s RETURNING score - %s, score",
            (points, user, points),
        ).fetchone()
        writer.execute(
            "INSERT INTO lb_log (period_id, user_id, old_score, score, listed) "
            "VALUES (1, %s, %s, %s, 1)",
            (user, old, new),
        )

    def read(self, reader: ChangeLogReader) -> list[LogRow]:
        with self.session() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return reader.read(Connection(conn))

    def scores(self) -> dict[str, int]:
        return dict(self.admin.execute("SELECT user_id, score FROM scores").fetchall())

    def close(self) -> None:
        for conn in (*self.writers, self.admin):
            conn.close()


@pytest.fixture
def log(postgres_url: str, pg_schema: str) -> Iterator[Log]:
    log = Log(postgres_url, pg_schema)
    yield log
    log.close()


def started(log: Log) -> ChangeLogReader:
    reader = ChangeLogReader()
    with log.session() as conn:
        reader.start(Connection(conn))
    return reader


def test_a_row_committed_after_a_later_seq_is_still_read(log: Log) -> None:
    """The case a ``seq > last`` reader gets wrong: seq 1 commits after seq 2 was read."""
    reader = started(log)
    slow, fast = log.writers[0], log.writers[1]
    log.award(slow, "ada", 5)  # takes the first seq, commits last
    log.award(fast, "bo", 7)
    fast.commit()
    first = log.read(reader)
    assert [(row.user_id, row.score) for row in first] == [("bo", 7)]
    last_seq = first[-1].seq
    slow.commit()
    second = log.read(reader)
    assert [(row.user_id, row.score) for row in second] == [("ada", 5)]
    assert second[0].seq < last_seq  # a reader by seq alone would have skipped it
    assert log.read(reader) == []


def test_an_open_transaction_does_not_delay_what_committed_after_it(log: Log) -> None:
    """A long transaction holds the horizon back; rows committed meanwhile are read at once,
    and once, and its own rows after it commits."""
    reader = started(log)
    long = log.writers[0]
    long.execute("SELECT pg_current_xact_id()")  # it has an id, so it holds xmin back
    for points in (1, 2, 3):
        log.award(log.writers[1], "bo", points)
        log.writers[1].commit()
        assert [row.score for row in log.read(reader)] == [sum(range(1, points + 1))]
    log.award(long, "ada", 9)
    assert log.read(reader) == []
    long.commit()
    assert [(row.user_id, row.score) for row in log.read(reader)] == [("ada", 9)]
    assert log.read(reader) == []


def test_a_rolled_back_row_is_never_read(log: Log) -> None:
    reader = started(log)
    log.award(log.writers[0], "ada", 4)
    log.writers[0].rollback()
    log.award(log.writers[0], "ada", 6)
    log.writers[0].commit()
    assert [(row.old_score, row.score) for row in log.read(reader)] == [(0, 6)]


def test_a_reader_started_with_the_build_skips_what_the_build_holds(log: Log) -> None:
    log.award(log.writers[0], "ada", 3)
    log.writers[0].commit()
    log.writers[1].execute("SELECT pg_current_xact_id()")  # keeps xmin below ada's row
    reader = started(log)
    assert log.read(reader) == []
    log.writers[1].rollback()
    log.award(log.writers[0], "ada", 2)
    log.writers[0].commit()
    assert [(row.old_score, row.score) for row in log.read(reader)] == [(3, 5)]


def test_pruning_sends_a_reader_that_fell_behind_to_rebuild(log: Log) -> None:
    behind, current = started(log), started(log)
    for points in (1, 2, 3):
        log.award(log.writers[0], "ada", points)
        log.writers[0].commit()
    assert len(log.read(current)) == 3
    log.award(log.writers[0], "bo", 1)
    log.writers[0].commit()
    watermark = prune(Connection(log.admin), keep=1)
    assert watermark is not None
    assert [row[0] for row in log.admin.execute("SELECT user_id FROM lb_log")] == ["bo"]
    with pytest.raises(LogBehind, match="pruned"):
        log.read(behind)
    assert [(row.user_id, row.score) for row in log.read(current)] == [("bo", 1)]
    assert prune(Connection(log.admin), keep=1) is None  # nothing more to delete
    with pytest.raises(ValueError, match="keep"):
        prune(Connection(log.admin), keep=-1)
    with pytest.raises(LogBehind, match="not started"):
        log.read(ChangeLogReader())


Step = tuple[str, int, str, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["award", "award", "award", "commit", "rollback", "read", "prune"]),
        st.integers(0, WRITERS - 1),
        st.sampled_from(USERS),
        st.integers(1, 50),
    ),
    max_size=40,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=steps)
def test_readers_see_every_commit_once_and_each_user_in_order(
    log: Log, program: list[Step]
) -> None:
    """Random interleavings of writers, rollbacks, reads and pruning: a board kept from the
    reads (checking each row's old score against what it holds) ends equal to the scores,
    and every committed row was read exactly once."""
    log.reset()
    reader = started(log)
    held: dict[str, int] = dict.fromkeys(USERS, 0)
    read_seqs: list[int] = []
    rebuilt = False
    locks: dict[str, int] = {}  # user -> the writer holding their score row

    def apply(rows: list[LogRow]) -> None:
        for row in rows:
            assert row.user_id is not None
            assert held[row.user_id] == row.old_score, "a user's rows out of order"
            held[row.user_id] = row.score
            read_seqs.append(row.seq)

    def end(writer: int, commit: bool) -> None:
        conn = log.writers[writer]
        conn.commit() if commit else conn.rollback()
        for user in [u for u, w in locks.items() if w == writer]:
            del locks[user]

    for action, writer, user, points in program:
        if action == "award":
            if locks.get(user, writer) != writer:
                continue  # the real writer would wait for the row lock
            log.award(log.writers[writer], user, points)
            locks[user] = writer
        elif action in ("commit", "rollback"):
            end(writer, action == "commit")
        elif action == "read":
            apply(log.read(reader))
        elif prune(Connection(log.admin), keep=points % 3) is not None:
            try:
                apply(log.read(reader))
            except LogBehind:
                # A rebuild: the order comes from the score rows, the reader starts again.
                rebuilt = True
                with log.session() as conn:
                    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    reader.start(Connection(conn))
                    held = dict(conn.execute("SELECT user_id, score FROM scores").fetchall())
    for writer in range(WRITERS):
        end(writer, commit=True)
    apply(log.read(reader))
    assert held == log.scores()
    assert len(read_seqs) == len(set(read_seqs))
    if not rebuilt:  # else the build holds some rows instead of the reads
        kept = {row[0] for row in log.admin.execute("SELECT seq FROM lb_log")}
        assert kept <= set(read_seqs)
