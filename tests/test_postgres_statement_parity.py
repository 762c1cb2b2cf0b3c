"""The ported statements mean the same on both engines: representative rewritten statements
(written once for both) and overrides (storage/postgres/statements.py) run on a migrated
SQLite file and on a migrated PostgreSQL schema, against the same rows, and give the same
results. On PostgreSQL they go through the backend's connection, which applies OVERRIDES.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("psycopg")

from gamification_sdk.storage import (
    achievements,
    battlepass,
    board_slots,
    boards,
    groups,
    idempotency,
    jobs,
    leaderboards,
    metrics,
    shop,
    streaks,
    xp,
)
from gamification_sdk.storage.backend import Backend
from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.postgres.statements import (
    OVERRIDES,
    PERIODS_PER_AWARD,
    RUN_METRICS,
)
from gamification_sdk.storage.schema import migrations
from gamification_sdk.storage.store import Store

AT = "2026-03-01T10:00:00.000000+00:00"


def _plain(value: Any) -> Any:
    """A value as both engines can be compared on: PostgreSQL's NUMERIC and booleans as
    SQLite gives them (an integer, or else a float)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(_plain(v) for v in row) for row in rows]


class Both:
    """The same statements on a SQLite file and a PostgreSQL schema."""

    def __init__(self, sqlite: Store, postgres: Backend) -> None:
        self.backends: tuple[Backend, Backend] = (sqlite, postgres)

    def run(self, sql: str, params: Any = ()) -> tuple[list[Any], list[Any]]:
        """Each engine's rows (or rowcount, for a statement that returns none)."""
        out = []
        for backend in self.backends:
            with backend.write():
                cursor: Any = backend.conn.execute(sql, params)
                # An insert that reports its row's id (lastrowid) is a rowcount, as on SQLite.
                if cursor.description is None or getattr(cursor, "returns_id", False):
                    out.append([("rowcount", cursor.rowcount)])
                else:
                    out.append(_rows(cursor.fetchall()))
        return out[0], out[1]

    def same(self, sql: str, params: Any = (), *, ordered: bool = True) -> list[Any]:
        sqlite, postgres = self.run(sql, params)
        if not ordered:
            sqlite, postgres = sorted(sqlite, key=repr), sorted(postgres, key=repr)
        assert sqlite == postgres, sql
        return sqlite

    def each(self, call: Any) -> list[Any]:
        """``call(conn)`` on each engine, inside a write."""
        out = []
        for backend in self.backends:
            with backend.write():
                out.append(call(backend.conn))
        return out


@pytest.fixture
def both(tmp_path: Path, postgres_url: str, pg_schema: str) -> Iterator[Both]:
    store = Store(str(tmp_path / "parity.db"))
    with store.write():
        migrations.apply(store.db)
    backend = open_backend(postgres_url, schema=pg_schema)
    pair = Both(store, backend)
    users = [
        ("u1", "public", 1, None, 3, "2026-02-27"),
        ("u2", "private", None, "Europe/Paris", 2, "2026-02-27"),
        ("u3", None, None, None, 0, None),
    ]
    for user, visibility, on_global, zone, streak, settled in users:
        pair.same(
            "INSERT INTO profiles (user_id, created_at, updated_at, visibility, show_on_global, "
            "timezone, streak_current, streak_longest, streak_settled_day) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (user, AT, AT, visibility, on_global, zone, streak, streak, settled),
        )
    yield pair
    store.close()
    backend.close()


def test_the_statements_compared_here_are_ported(both: Both) -> None:
    """Both kinds are covered: overrides, and statements SQLite and PostgreSQL share."""
    assert xp.KEY_HOME in OVERRIDES and streaks.DUE_USERS in OVERRIDES
    assert shop.SYNC_STOCK not in OVERRIDES and metrics.COUNT_METRIC not in OVERRIDES


def test_insert_once_statements_report_a_new_row_once(both: Both) -> None:
    for sql, params in (
        (groups.NEW_GROUP, ("g", "team", AT)),
        (groups.JOIN_GROUP, ("g", "u1", AT)),
        (groups.ADD_FRIEND, ("u1", "u2", AT)),
        (xp.GRANT_TITLE, ("u1", "Champion", "level", AT)),
        (battlepass.CLOSE_SEASON, ("s1", AT)),
        (
            achievements.NEW_UNLOCK,
            ("u1", "first", 0, 1, 1, "common", 10, AT, "{}", 0),
        ),
    ):
        assert both.same(sql, params) == [("rowcount", 1)]
        assert both.same(sql, params) == [("rowcount", 0)]
    both.same(groups.SAVE_SALT, ("first",))
    both.same(groups.SAVE_SALT, ("second",))
    assert both.same(groups.READ_SALT) == [("first",)]


def test_upserts_add_to_the_existing_row(both: Both) -> None:
    for _ in range(3):
        both.same(jobs.CLAIM_RUN, ("daily", "2026-03-01", "me", AT))
        both.same(battlepass.ADD_XP, ("s2", "u1", 40, AT))
        both.same(battlepass.ADD_BOOSTS, ("s2", "u2", 5, 1, AT))
    assert both.same("SELECT attempts FROM job_runs") == [(3,)]
    assert both.same(battlepass.USER_PROGRESS, ("s2", "u1")) == [(120, 0, None)]
    assert both.same(battlepass.USER_PROGRESS, ("s2", "u2")) == [(15, 3, None)]


def test_stock_never_goes_below_zero(both: Both) -> None:
    both.same(shop.SYNC_STOCK, ("hat", 5, 5))
    assert both.same(shop.TAKE_STOCK, (4, 4, "hat", 4)) == [("rowcount", 1)]
    both.same(shop.SYNC_STOCK, ("hat", 2, 2))  # fewer than sold: none left
    assert both.same(shop.STOCK, ("hat",)) == [(0, 4)]
    both.same(shop.PUT_BACK_STOCK, (3, 3, "hat"))
    assert both.same(shop.STOCK, ("hat",)) == [(1, 1)]
    both.same(shop.SYNC_STOCK, ("hat", None, None))
    assert both.same(shop.STOCK, ("hat",)) == [(None, 1)]


def test_keys_kept_in_rows_read_back_the_same(both: Both) -> None:
    both.same(
        xp.NEW_AWARD,
        ("u1", 7, 10, 1.0, 10, 10, 1, 1, "test", None, "key-1", AT, b"\x01\x02"),
    )
    sqlite, postgres = both.run(xp.KEY_HOME, ("key-1",))
    assert sqlite[0][:2] == postgres[0][:2] == ("award_xp", b"\x01\x02")
    assert json.loads(sqlite[0][2]) == json.loads(postgres[0][2]) == ["u1", 7]
    lookup = idempotency.lookup((xp.KEY_HOME,))
    sqlite, postgres = both.run(lookup, ("key-1",))
    assert json.loads(sqlite[0][2]) == json.loads(postgres[0][2])


def test_a_streak_zone_of_none_matches_profiles_without_one(both: Both) -> None:
    for zone in (None, "Europe/Paris", "Asia/Tokyo"):
        both.same(streaks.DUE_USERS, (zone, "2026-02-28", "", 10))
        both.same(streaks.AT_RISK, (zone, "2026-02-27", "2026-02-28", "2026-02-28"))
    assert both.same(streaks.DUE_USERS, (None, "2026-02-28", "", 10)) == [("u1",)]


def _plan(both: Both, sql: str, params: Sequence[Any], *, generic: bool) -> str:
    """PostgreSQL's plan for ``sql``'s PostgreSQL text with ``params``, sequential scans
    priced out so that an index that can serve the statement is the one chosen; ``generic``:
    the plan a prepared statement settles on, which knows no parameter's value."""
    backend = both.backends[1]
    text = OVERRIDES[sql]
    for n in range(len(params), 0, -1):
        text = text.replace(f"?{n}", f"${n}")
    with backend.write():
        conn: Any = backend.conn
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute(
            f"SET LOCAL plan_cache_mode = {'force_generic' if generic else 'force_custom'}_plan"
        )
        types = ", ".join(
            ["text"] * (len(params) - 1) + ["bigint" if isinstance(params[-1], int) else "text"]
        )
        conn.execute(f"PREPARE plan_check ({types}) AS {text}")
        try:
            values = ", ".join("NULL" if v is None else repr(v) for v in params)
            rows = conn.execute(f"EXPLAIN EXECUTE plan_check ({values})").fetchall()
        finally:
            conn.execute("DEALLOCATE plan_check")
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("generic", [False, True])
@pytest.mark.parametrize("zone", [None, "Europe/Paris"])
def test_the_streak_sweep_finds_a_zone_through_its_partial_index(
    both: Both, zone: str | None, generic: bool
) -> None:
    """``timezone IS ?`` as PostgreSQL's ``IS NOT DISTINCT FROM`` can use no index; the
    override's equality-or-NULL reads profiles_live_streaks by zone, NULL (the default
    zone) included, whether the plan knows the zone or not."""
    for sql, params in (
        (streaks.DUE_USERS, (zone, "2026-02-28", "", 10)),
        (streaks.AT_RISK, (zone, "2026-02-27", "2026-02-28", "2026-02-28")),
    ):
        plan = _plan(both, sql, params, generic=generic)
        assert "profiles_live_streaks" in plan, plan
        assert "Index Cond" in plan and "timezone" in plan.split("Index Cond", 1)[1], plan
        assert "Seq Scan on profiles" not in plan, plan


def test_statements_past_the_registered_sizes_are_derived_and_mean_the_same(
    both: Both,
) -> None:
    """An award into more open periods than PERIODS_PER_AWARD, a run over more metrics than
    RUN_METRICS: their PostgreSQL text is derived on first use (then kept) and gives what
    SQLite gives."""
    periods = PERIODS_PER_AWARD + 7
    upsert = boards.upsert_sql(periods)
    assert dict.get(OVERRIDES, upsert) is None or upsert in OVERRIDES
    both.same(boards.SAVE_DEFAULTS, (json.dumps(["public", 1]),))
    ids = [_period(both, f"2027-01-{day:02}") for day in range(1, 4)]
    for i, backend in enumerate(both.backends):
        mine = [ids[0][i], ids[1][i], ids[2][i]]
        padded = mine + [-n for n in range(1, periods - len(mine) + 1)]
        with backend.write():
            backend.conn.execute(upsert, ("u1", 4, 50, "private", 0, *padded))
    assert upsert in OVERRIDES and OVERRIDES[upsert] != upsert
    rows = both.same(
        "SELECT period_id IS NOT NULL, score, reached, listed FROM lb_scores "
        "WHERE user_id = 'u1' AND score = 4",
    )
    assert len(rows) == 3
    count = RUN_METRICS + 9
    run = metrics.longest_run_sql(count)
    start = date(2026, 1, 1)
    for offset in (0, 1, 2, 4):
        day = (start + timedelta(days=offset)).isoformat()
        both.same(metrics.COUNT_DAY, ("u1", f"m{offset}", day, 1))
    chosen = [f"m{n}" for n in range(count)]
    found = both.each(lambda conn: metrics.longest_run(conn, "u1", chosen))
    assert found == [3, 3]
    assert run in OVERRIDES and OVERRIDES[run] != run


def _period(both: Both, key: str) -> list[int]:
    both.same(boards.NEW_PERIOD, ("xp", "daily", key, f"{key}T00:00:00+00:00", None))
    return [rows[0][0] for rows in both.run(boards.PERIOD_ID, ("xp", "daily", key))]


def test_board_scores_and_listing(both: Both) -> None:
    """The award's upsert, the relisting, and lb_live (the live scores wherever kept)."""
    both.same(boards.SAVE_DEFAULTS, (json.dumps(["public", 1]),))
    first, second = _period(both, "2026-03-01"), _period(both, "2026-03-02")
    for user, delta, reached in (("u1", 5, 100), ("u2", 7, 90), ("u1", 2, 80), ("u3", 1, 70)):
        for i, backend in enumerate(both.backends):
            with backend.write():
                backend.conn.execute(
                    boards.upsert_sql(2), (user, delta, reached, "private", 0, first[i], second[i])
                )
    rows = both.same("SELECT user_id, score, reached, listed FROM lb_scores", ordered=False)
    assert ("u1", 7, 100, 1, ) in rows  # fmt: skip
    # u3 has no settings: the defaults given (now public and listed) decide.
    for i, backend in enumerate(both.backends):
        with backend.write():
            backend.conn.execute(boards.RELIST_PERIOD, ("public", 1, first[i]))
    assert both.same(
        "SELECT user_id, listed FROM lb_scores WHERE period_id IN "
        "(SELECT id FROM lb_periods WHERE period_key = '2026-03-01') ORDER BY user_id"
    ) == [("u1", 1), ("u2", 0), ("u3", 1)]
    # A profile slot holds u2's score of the second period: lb_live lists it with the rest.
    for i, backend in enumerate(both.backends):
        with backend.write():
            backend.conn.execute(
                "UPDATE profiles SET lb_p1 = ?, lb_s1 = 30, lb_r1 = 60 WHERE user_id = 'u2'",
                (second[i],),
            )
            backend.conn.execute(
                "DELETE FROM lb_scores WHERE user_id = 'u2' AND period_id = ?", (second[i],)
            )
    scores = both.each(
        lambda conn: sorted(
            _rows(conn.execute(leaderboards.PERIOD_SCORES, (second[0],)).fetchall())
        )
    )
    assert scores[0] == scores[1] and ("u2", 30, 60, 0) in scores[0]
    live = both.each(
        lambda conn: sorted(
            _rows(
                conn.execute(leaderboards.scores_sql(False, 2), (second[0], "u2", "u3")).fetchall()
            )
        )
    )
    assert live[0] == live[1] == [("u2", 30, 60, None, None), ("u3", 1, 70, None, None)]
    periods = both.each(
        lambda conn: sorted(row[0] for row in conn.execute(boards.PERIODS_OF_USER, ("u2",)))
    )
    assert periods == [[first[0], second[0]], [first[1], second[1]]]


_values = st.one_of(st.integers(-50, 50), st.sampled_from([0.5, 2.25, -1.5]))
_moments = st.integers(0, 100).map(lambda d: (date(2026, 1, 1) + timedelta(days=d)).isoformat())
_users = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    occurrences=st.lists(st.tuples(_values, st.integers(0, 1), _moments, st.integers(0, 23)),
                         min_size=1, max_size=8),
)  # fmt: skip
def test_metric_totals_agree(both: Both, occurrences: list[tuple[Any, int, str, int]]) -> None:
    """The tracked totals' upsert (count, sum, max, days, first and last moment), with and
    without the hour columns, and the day buckets."""
    user = f"m{next(_users)}"
    for value, first_of_day, moment, hour in occurrences:
        for sql in (metrics.COUNT_METRIC, metrics.COUNT_METRIC_IN_HOUR[hour]):
            both.same(sql, (user, "evt" if sql == metrics.COUNT_METRIC else "hourly", value,
                            first_of_day, moment))  # fmt: skip
        both.same(metrics.COUNT_DAY, (user, "evt", moment[:10], value))
    both.same(
        "SELECT metric, count, sum, max, days, first_at, last_at, h07_count, h07_sum "
        "FROM metrics WHERE user_id = ? ORDER BY metric",
        (user,),
    )
    both.same(metrics.metric_from_hours([6, 7, 8]), ("morning", AT, "hourly"))
    both.same("SELECT user_id, count, sum FROM metrics WHERE metric = 'morning' ORDER BY user_id")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 5), st.sampled_from(["a", "b"])),
                  min_size=1, max_size=20),
    window=st.integers(1, 10),
)  # fmt: skip
def test_best_windows_and_runs_agree(
    both: Both, days: list[tuple[int, int, str]], window: int
) -> None:
    """The day arithmetic spelled for each engine: rolling windows, ISO weeks (from Monday,
    across a DST change and a year's end), months, and runs of consecutive days."""
    user = f"d{next(_users)}"
    start = date(2025, 12, 20)
    for offset, count, metric in days:
        day = (start + timedelta(days=offset)).isoformat()
        both.same(metrics.COUNT_DAY, (user, metric, day, count))
    for stat in metrics.STATS:
        found = both.each(
            lambda conn, stat=stat: _plain(metrics.best_window(conn, user, "a", window, None, stat))
        )
        assert found[0] == found[1]
        for period in metrics.PERIODS:
            found = both.each(
                lambda conn, stat=stat, period=period: _plain(
                    metrics.best_window(conn, user, "a", None, period, stat)
                )
            )
            assert found[0] == found[1]
    for chosen in (["a"], ["b"], ["a", "b"]):
        found = both.each(lambda conn, chosen=chosen: metrics.longest_run(conn, user, chosen))
        assert found[0] == found[1]


def test_executemany_sends_the_postgresql_text_too(both: Both) -> None:
    """The batch path (a board's bulk upsert, ...) applies OVERRIDES as execute does."""
    assert xp.GRANT_LEVEL in OVERRIDES
    rows = [("u1", 0, level, 1, AT) for level in (2, 3, 2)]
    for backend in both.backends:
        with backend.write():
            backend.conn.executemany(xp.GRANT_LEVEL, rows)
    assert both.same("SELECT user_id, level FROM level_rewards_granted ORDER BY level") == [
        ("u1", 2),
        ("u1", 3),
    ]


def test_the_xp_boards_profile_slots_move_on_only_to_newer_periods(both: Both) -> None:
    """board_slots.py's award update: its julianday() on zoned period starts, as
    timestamptz on PostgreSQL, across a DST change (a later start with a larger offset)."""
    starts = {
        "old": "2026-03-28T00:00:00+01:00",
        "held": "2026-03-29T00:00:00+01:00",
        "new": "2026-03-30T00:00:00+02:00",
    }
    ids: dict[str, list[int]] = {}
    for key, start in starts.items():
        both.same(boards.NEW_PERIOD, ("xp", "daily", key, start, None))
        ids[key] = [rows[0][0] for rows in both.run(boards.PERIOD_ID, ("xp", "daily", key))]
    names = [{ids[key][i]: key for key in ids} for i in range(2)]
    held = ("UPDATE profiles SET lb_p1 = ?, lb_s1 = 5, lb_r1 = 100 WHERE user_id = 'u1'",)
    present = [(0, False), (1, True), (2, False), (3, False)]
    for key, expected in (("held", ("held", 8, 100)), ("new", ("new", 3, 90)),
                          ("old", ("held", 5, 100))):  # fmt: skip
        found = []
        for i, backend in enumerate(both.backends):
            with backend.write():
                backend.conn.execute(held[0], (ids["held"][i],))
                returned = backend.conn.execute(
                    board_slots.slot_sql(present),
                    ("u1", 3, 90, None, None, ids[key][i], starts[key]),
                ).fetchall()
                row = backend.conn.execute(
                    "SELECT lb_p1, lb_s1, lb_r1 FROM profiles WHERE user_id = 'u1'"
                ).fetchone()
            found.append((names[i][row[0]], *_rows([row[1:]])[0], names[i][returned[0][0]]))
        assert found[0] == found[1] == (*expected, expected[0])
    # The award's own update once the slot's period is known: add, keep the later moment.
    for backend in both.backends:
        with backend.write():
            backend.conn.execute(board_slots.write_sql((0, 1, 0, 0), profile=False), ("u1", 2, 50))
    assert both.same("SELECT lb_s1, lb_r1 FROM profiles WHERE user_id = 'u1'") == [(7, 100)]
