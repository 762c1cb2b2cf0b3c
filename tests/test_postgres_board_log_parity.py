"""On PostgreSQL the statements that change ``lb_scores`` write their own ``lb_log`` rows
(storage/postgres/board_log.py), where p006's triggers did. They must write exactly the rows
the triggers wrote: here p006's trigger function itself, its text taken from p006.py, runs
beside them into a copy of the log, and a mix of the engine's statements (awards, listing
changes, relistings, backfills, slots moved out, quiet transactions, rollbacks) must leave
the same rows in both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("psycopg")

from gamification_sdk.storage import board_slots, boards
from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.postgres.backend import PostgresBackend
from gamification_sdk.storage.postgres.migrate import migrate
from gamification_sdk.storage.postgres.p006 import P006
from gamification_sdk.storage.postgres.placeholders import bind
from gamification_sdk.storage.postgres.schema import MIGRATIONS
from gamification_sdk.storage.postgres.statements import OVERRIDES

AT = "2026-03-01T10:00:00+00:00"
USERS = ("u1", "u2", "u3", "u4")  # public; private; the defaults decide; no profile
PERIODS = 3  # the last one closed
DEFAULTS = st.tuples(st.sampled_from(["public", "private"]), st.integers(0, 1))
_LOGGED = "period_id, user_id, old_score, old_reached, old_listed, score, reached, listed, tx"


def _shadow(sql: str, old: str, new: str, times: int) -> str:
    assert sql.count(old) == times, (old, sql)
    return sql.replace(old, new)


# p006 as it was applied, writing into lb_log_shadow instead: the reference.
SHADOW_TRIGGERS = _shadow(
    _shadow(
        _shadow(P006, "INSERT INTO lb_log (", "INSERT INTO lb_log_shadow (", 2),
        "lb_log_change()",
        "lb_log_shadow_change()",
        3,
    ),
    "TRIGGER lb_log_",
    "TRIGGER lb_log_shadow_",
    2,
)


class Rollback(Exception):
    pass


@pytest.fixture
def backend(postgres_url: str, pg_schema: str) -> Iterator[PostgresBackend]:
    import psycopg

    found = open_backend(postgres_url, schema=pg_schema)
    assert isinstance(found, PostgresBackend)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"SET search_path TO {pg_schema}")
        admin.execute("CREATE TABLE lb_log_shadow (LIKE lb_log INCLUDING ALL)")
        admin.execute(SHADOW_TRIGGERS)
    with found.write():
        conn = found.conn
        for user, visibility, on_global in (("u1", "public", 1), ("u2", "private", 0)):
            conn.execute(
                "INSERT INTO profiles (user_id, created_at, updated_at, visibility, "
                "show_on_global) VALUES (?, ?, ?, ?, ?)",
                (user, AT, AT, visibility, on_global),
            )
        conn.execute(
            "INSERT INTO profiles (user_id, created_at, updated_at) VALUES ('u3', ?, ?)", (AT, AT)
        )
        for day in range(PERIODS):
            conn.execute(boards.NEW_PERIOD, ("xp", "daily", f"2026-03-0{day + 1}", AT, None))
        conn.execute(
            "UPDATE lb_periods SET closed_at = ? WHERE period_key = ?", (AT, f"2026-03-0{PERIODS}")
        )
    yield found
    found.close()


def _ids(backend: PostgresBackend) -> list[int]:
    with backend.write():
        rows = backend.conn.execute("SELECT id FROM lb_periods ORDER BY period_key").fetchall()
    return [row[0] for row in rows]


def _logs(backend: PostgresBackend) -> tuple[dict[Any, list[Any]], dict[Any, list[Any]]]:
    """Each log's rows by (period, user), in the order written: rows of different keys that
    one statement writes may come in either order."""
    out = []
    with backend.write():
        for table in ("lb_log", "lb_log_shadow"):
            by_key: dict[Any, list[Any]] = {}
            for row in backend.conn.execute(f"SELECT {_LOGGED} FROM {table} ORDER BY seq"):
                by_key.setdefault((row[0], row[1]), []).append(tuple(row))
            out.append(by_key)
    return out[0], out[1]


def _run(backend: PostgresBackend, ids: list[int], op: tuple[Any, ...]) -> None:
    conn = backend.conn
    kind, *args = op
    if kind == "award":
        user, chosen, delta, reached, defaults = args
        periods = [ids[i] for i in sorted(chosen)]
        conn.execute(boards.upsert_sql(len(periods)), (user, delta, reached, *defaults, *periods))
    elif kind == "listed":
        user, listed = args
        conn.execute(boards.SET_LISTED, (listed, user))
    elif kind == "relist":
        period, defaults = args
        conn.execute(boards.RELIST_PERIOD, (*defaults, ids[period]))
    elif kind == "backfill":
        user, period, score, reached = args
        conn.execute(boards.BACKFILL_SCORES, (user, ids[period], score, reached))
    elif kind == "slot":
        user, slot, period, score, reached = args
        held = "xp" if slot == 0 else f"lb_s{slot}"
        conn.execute(
            f"UPDATE profiles SET lb_p{slot} = ?, {held} = ?, lb_r{slot} = ? WHERE user_id = ?",
            (ids[period], score, reached, user),
        )
    elif kind == "move_out":
        slot, defaults = args
        conn.execute(board_slots.move_out_sql(slot), defaults)
    else:
        assert kind == "quiet"
        conn.execute(boards.QUIET_LOG, (args[0],))


USER = st.sampled_from(USERS)
PERIOD = st.integers(0, PERIODS - 1)
SCORE = st.sampled_from([0, 1, 3, 10, -2, 2.5])
REACHED = st.integers(0, 50)
XP = st.integers(0, 20)  # a slot's score; slot 0's is profiles.xp, never below 0
OPS = st.one_of(
    st.tuples(st.just("award"), USER, st.sets(PERIOD, min_size=1), SCORE, REACHED, DEFAULTS),
    st.tuples(st.just("listed"), USER, st.integers(0, 1)),
    st.tuples(st.just("relist"), PERIOD, DEFAULTS),
    st.tuples(st.just("backfill"), USER, PERIOD, SCORE, REACHED),
    st.tuples(st.just("slot"), st.sampled_from(USERS[:3]), st.integers(0, 3), PERIOD, XP, REACHED),
    st.tuples(st.just("move_out"), st.integers(0, 3), DEFAULTS),
    st.tuples(st.just("quiet"), st.sampled_from(["on", "off"])),
)
# Transactions of a few statements each, some rolled back.
TRANSACTIONS = st.lists(st.tuples(st.lists(OPS, min_size=1, max_size=6), st.booleans()), max_size=6)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(transactions=TRANSACTIONS)
def test_the_statements_log_what_the_triggers_logged(
    backend: PostgresBackend, transactions: list[tuple[list[tuple[Any, ...]], bool]]
) -> None:
    ids = _ids(backend)
    with backend.write():
        backend.conn.execute("TRUNCATE lb_scores, lb_log, lb_log_shadow")
        for slot in range(board_slots.SLOTS + 1):
            backend.conn.execute(board_slots.clear_slot_sql(slot))
    for ops, commit in transactions:
        try:
            with backend.write():
                for op in ops:
                    _run(backend, ids, op)
                if not commit:
                    raise Rollback
        except Rollback:
            pass
    ours, triggers = _logs(backend)
    assert ours == triggers


def test_a_fixed_mix_logs_inserts_changes_and_unlistings_as_the_triggers_did(
    backend: PostgresBackend,
) -> None:
    """The comparison above sees rows of every kind: not two empty logs."""
    ids = _ids(backend)
    public = ("public", 1)
    with backend.write():
        for op in (
            (
                "award",
                "u1",
                {0, 1, 2},
                5,
                10,
                public,
            ),  # two new listed rows; the closed period none
            ("award", "u1", {0}, 2, 4, public),  # a change: old (5, 10), new (7, 10)
            ("award", "u2", {0}, 3, 1, public),  # unlisted (private): no row
            ("listed", "u1", 0),  # off the boards: old listed 1, new 0
            ("quiet", "on"),
            ("award", "u3", {1}, 1, 1, public),  # quiet: no row
            ("quiet", "off"),
            ("relist", 1, public),  # u1 back on; u3 listed still, and logged
        ):
            _run(backend, ids, op)
    ours, triggers = _logs(backend)
    assert ours == triggers
    rows = [row[:8] for key in sorted(ours) for row in ours[key]]
    assert rows == [
        (ids[0], "u1", None, None, None, 5, 10, 1),
        (ids[0], "u1", 5, 10, 1, 7, 10, 1),
        (ids[0], "u1", 7, 10, 1, 7, 10, 0),
        (ids[1], "u1", None, None, None, 5, 10, 1),
        (ids[1], "u1", 5, 10, 1, 5, 10, 0),
        (ids[1], "u1", 5, 10, 0, 5, 10, 1),
        (ids[1], "u3", 1, 1, 1, 1, 1, 1),  # listed since its quiet insert
    ]


def test_a_change_waits_for_a_concurrent_writer_and_logs_from_its_row(
    backend: PostgresBackend, postgres_url: str, pg_schema: str
) -> None:
    """Two sessions change one row at once, neither under the engine's user lock: the second
    waits on the row and logs the first's committed values as its old ones, as the trigger
    did. (A read of the statement's snapshot alone would log the row as it was before both.)"""
    import threading

    import psycopg

    ids = _ids(backend)
    with backend.write():
        _run(backend, ids, ("award", "u1", {0}, 1, 1, ("public", 1)))
    award = OVERRIDES[boards.upsert_sql(1)]

    def connect() -> psycopg.Connection[Any]:
        conn = psycopg.connect(postgres_url)
        conn.execute(f"SET search_path TO {pg_schema}")
        conn.commit()
        return conn

    first, second = connect(), connect()
    try:
        first.execute(*bind(award, ("u1", 5, 2, "public", 1, ids[0])))  # holds the row
        failed: list[BaseException] = []

        def run_second() -> None:
            try:
                second.execute(*bind(award, ("u1", 3, 3, "public", 1, ids[0])))
                second.commit()
            except BaseException as exc:
                failed.append(exc)

        thread = threading.Thread(target=run_second)
        thread.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'"
        )
        with psycopg.connect(postgres_url, autocommit=True) as watcher:
            for _ in range(100_000):  # until the second session waits on the row lock
                if watcher.execute(waiting, (second.info.backend_pid,)).fetchone() == (1,):
                    break
                thread.join(0.001)
            else:
                raise AssertionError("the second session never waited on the row")
        first.commit()
        thread.join(30)
        assert not thread.is_alive() and not failed, failed
    finally:
        first.close()
        second.close()
    ours, triggers = _logs(backend)
    assert ours == triggers
    assert [row[2:8] for row in ours[(ids[0], "u1")]] == [
        (None, None, None, 1, 1, 1),
        (1, 1, 1, 6, 2, 1),
        (6, 2, 1, 9, 3, 1),
    ]


def test_a_schema_migrated_by_an_older_version_loses_the_triggers(
    postgres_url: str, pg_schema: str
) -> None:
    """A schema at p009 (the triggers of p006 in place) migrates to p010: the triggers and
    their function go, so a change is logged once, by its statement."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        before = [m for m in MIGRATIONS if m[0] < 10]
        assert migrate(conn, pg_schema, tuple(before)) == [m[0] for m in before]
        conn.execute(f"SET search_path TO {pg_schema}")
        triggers = (
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'lb_scores'::regclass "
            "AND NOT tgisinternal"
        )
        assert sorted(r[0] for r in conn.execute(triggers)) == ["lb_log_insert", "lb_log_update"]
        backend = open_backend(postgres_url, schema=pg_schema)
        try:
            assert conn.execute(triggers).fetchall() == []
            assert conn.execute(
                "SELECT count(*) FROM pg_proc WHERE proname = 'lb_log_change'"
            ).fetchone() == (0,)
            with backend.write():
                backend.conn.execute(
                    "INSERT INTO profiles (user_id, created_at, updated_at) VALUES ('u1', ?, ?)",
                    (AT, AT),
                )
                backend.conn.execute(boards.NEW_PERIOD, ("xp", "all_time", "all", None, None))
                (period,) = backend.conn.execute(
                    boards.PERIOD_ID, ("xp", "all_time", "all")
                ).fetchone()
                backend.conn.execute(boards.upsert_sql(1), ("u1", 4, 1, "public", 1, period))
            assert conn.execute("SELECT user_id, score FROM lb_log").fetchall() == [("u1", 4)]
        finally:
            backend.close()
