"""Board order in memory, caught up from the change log: exact across engines and processes.

Each engine keeps its own in-memory order of a period and catches up from ``lb_log`` before
every read; these tests check it against a brute-force sort of what the file holds after
awards from several engines on one file, log pruning, rolled-back writes, other processes
writing at once, and a SIGKILL in the middle of an award.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification, LeaderboardsConfig
from gamification_sdk.social import boards as boards_module
from gamification_sdk.social.board_order import Order

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = Config(leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True))
Place = Callable[[str], dict[str, Any]]


def expected_board(
    source: Path | Gamification, period: str = "all_time"
) -> list[tuple[int, str, float]]:
    """A brute-force sort of the period's listed rows: (rank, user, score), best first. From
    a file, or through an engine (on PostgreSQL, whose live scores are all in lb_scores)."""
    views = [] if isinstance(source, Path) else source.db.view_names()
    live = "lb_live" if isinstance(source, Path) or "lb_live" in views else "lb_scores"
    sql = (
        f"SELECT s.user_id, s.score, s.reached FROM {live} s "
        "JOIN lb_periods p ON p.id = s.period_id "
        "WHERE p.board = 'xp' AND p.period = ? AND p.closed_at IS NULL AND s.listed = 1"
    )
    if isinstance(source, Path):
        conn = sqlite3.connect(source)
        try:
            rows = conn.execute(sql, (period,)).fetchall()
        finally:
            conn.close()
    else:
        rows = [tuple(row) for row in source.db.execute(sql, (period,)).fetchall()]
    rows.sort(key=lambda r: (-r[1], r[2], r[0]))
    out = []
    for i, (user, score, _) in enumerate(rows):
        rank = i + 1 if i == 0 or score != rows[i - 1][1] else out[-1][0]
        out.append((rank, user, score))
    return out


def check_engine(g: Gamification, expected: list[tuple[int, str, float]], period: str) -> None:
    page = g.boards.get("xp", period=period, limit=1000)
    assert [(e.rank, e.user_id, e.score) for e in page.entries] == expected
    assert page.total == len(expected)
    top = g.boards.get("xp", period=period, limit=3, offset=2)
    assert [(e.rank, e.user_id, e.score) for e in top.entries] == expected[2:5]
    for at, (rank, user, _) in enumerate(expected):
        entry = g.boards.rank(user, "xp", period=period)
        assert entry is not None and (entry.rank, entry.position) == (rank, at + 1)
        around = g.boards.around(user, "xp", period=period, n=2).entries
        assert [(e.rank, e.user_id, e.score) for e in around] == expected[max(0, at - 2) : at + 3]


ops = st.lists(
    st.tuples(
        st.integers(0, 2),  # which engine
        st.integers(0, 14),  # user
        st.sampled_from([1, 2, 3, 5, 5, 8, 40]),  # XP: many ties
        st.integers(0, 12),  # 0: flip privacy, 1: a read (builds or catches up), 2: same instant
    ),
    min_size=1,
    max_size=80,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=ops, prune=st.booleans())
def test_property_ranks_pages_and_around_from_several_engines_equal_a_brute_force_sort(
    ops: list[tuple[int, int, int, int]],
    prune: bool,
    place: Place,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Tiny chunks, so orders split and shrink constantly; with ``prune``, a log so short
    # that engines fall behind it and build their orders again.
    monkeypatch.setattr(boards_module, "BLOCK", 2)
    if prune:
        monkeypatch.setattr(boards_module, "LOG_WINDOW", 3)
        monkeypatch.setattr(boards_module, "PRUNE_EVERY", 2)
    where = place(uuid.uuid4().hex)  # a file, or a schema, of this example's own
    clock = FakeClock(START)
    engines = [
        Gamification.open(**where, config=PUBLIC, clock=clock, load_entrypoints=False)
        for _ in range(3)
    ]
    try:
        for engine_no, user_no, xp, action in ops:
            g = engines[engine_no]
            user = f"u{user_no:02d}"
            if action != 2:
                clock.advance(seconds=1)
            if action == 0:
                g.social.set_privacy(user, show_on_global=not g.social.privacy(user).show_on_global)
            elif action == 1:
                g.boards.rank(user, "xp")
                g.boards.get("xp", period="daily", limit=5)
            else:
                g.award_xp(user, xp, source="t")
        for period in ("all_time", "daily"):
            expected = expected_board(engines[0], period)
            for g in engines:
                check_engine(g, expected, period)
    finally:
        for g in engines:
            g.close()


def test_a_read_inside_a_rolled_back_write_leaves_no_trace_in_memory(place: Place) -> None:
    with Gamification.open(**place("board"), config=PUBLIC, load_entrypoints=False) as g:
        g.award_xp("ann", 10, source="t")
        g.award_xp("bob", 5, source="t")
        assert g.boards.rank("bob", "xp").rank == 2  # type: ignore[union-attr]
        with pytest.raises(RuntimeError), g.batch():
            g.award_xp("bob", 50, source="t")
            # Read inside the write: the order applies the write's own log rows ...
            assert g.boards.rank("bob", "xp").rank == 1  # type: ignore[union-attr]
            raise RuntimeError("roll it back")
        # ... and drops them with the rollback.
        check_engine(g, expected_board(g), "all_time")
        assert g.boards.rank("bob", "xp").rank == 2  # type: ignore[union-attr]


def test_closing_a_period_and_deleting_a_user_reset_the_orders_of_other_engines(
    place: Place,
) -> None:
    clock = FakeClock(START)
    a = Gamification.open(**place("board"), config=PUBLIC, clock=clock, load_entrypoints=False)
    b = Gamification.open(**place("board"), config=PUBLIC, clock=clock, load_entrypoints=False)
    db = a
    try:
        for i, user in enumerate(("ann", "bob", "cat")):
            a.award_xp(user, 10 * (i + 1), source="t")
        check_engine(b, expected_board(db), "all_time")
        check_engine(b, expected_board(db, "daily"), "daily")
        a.privacy.delete("bob")
        check_engine(b, expected_board(db), "all_time")
        assert b.boards.rank("bob", "xp") is None
        clock.advance(days=1)
        a.boards.close_periods()
        a.award_xp("ann", 1, source="t")
        check_engine(b, expected_board(db, "daily"), "daily")
        assert [e.user_id for e in b.boards.get("xp", period="daily").entries] == ["ann"]
    finally:
        a.close()
        b.close()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.sampled_from(["a", "b", "a-much-longer-user-id-than-sixteen-bytes", "é"]),
            st.one_of(st.integers(-5, 5), st.sampled_from([0.5, 2.0, -1.25, 2**70])),
            st.integers(0, 3),
        ),
        max_size=40,
    )
)
def test_property_order_keeps_board_order_with_any_score_and_user_id(
    changes: list[tuple[bool, str, float, int]],
) -> None:
    order = Order([], 2)
    model: dict[str, tuple[float, int]] = {}
    for remove, user, score, reached in changes:
        if user in model:
            order.remove(user, *model.pop(user))
        if not remove:
            order.add(user, score, reached)
            model[user] = (score, reached)
        ordered = sorted(
            ((u, s, r) for u, (s, r) in model.items()), key=lambda e: (-e[1], e[2], e[0])
        )
        assert order.entries(0, 100) == ordered
        assert len(order) == len(ordered)
        # Built in one go from the rows in any order, it holds the same.
        assert Order(reversed(ordered), 2).entries(0, 100) == ordered
        for i, (u, s, r) in enumerate(ordered):
            assert order.index(u, s, r) == i
            assert order.higher(s) == sum(1 for e in ordered if e[1] > s)
        for probe in (-1.5, 0.5, 2.0, 3, 2.5):  # a hidden user's score, real or not
            assert order.higher(probe) == sum(1 for e in ordered if e[1] > probe)


# -- other processes -------------------------------------------------------------------------

_WRITER = """
import sys
from datetime import UTC, datetime
from gamification_sdk import Config, Gamification, LeaderboardsConfig
config = Config(leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True))
db, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Gamification.open(db, config=config, load_entrypoints=False) as g:
    print("ready", flush=True)
    for i in range(count):
        g.award_xp(f"u{(i * 7 + len(name)) % 23:02d}", 1 + i % 5, source="t",
                   idempotency_key=f"{name}-{i}")
        if i % 10 == 0:
            g.boards.rank("u00", "xp")
        print(i, flush=True)
"""


def _writer(db: Path, name: str, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db), name, str(count)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )


def test_four_processes_writing_at_once_leave_every_engine_exact(tmp_path: Path) -> None:
    db = tmp_path / "board.db"
    reader = Gamification.open(db, config=PUBLIC, load_entrypoints=False)
    try:
        reader.award_xp("u00", 1, source="t")
        assert reader.boards.rank("u00", "xp") is not None  # built before the writers start
        writers = [_writer(db, f"w{i}", 150) for i in range(4)]
        for _ in range(20):  # reads while they write
            reader.boards.get("xp", limit=10)
        for proc in writers:
            proc.communicate(timeout=120)
            assert proc.returncode == 0
        check_engine(reader, expected_board(db), "all_time")
        conn = sqlite3.connect(db)
        totals = dict(conn.execute("SELECT user_id, xp FROM profiles").fetchall())
        conn.close()
        assert {user: score for _, user, score in expected_board(db)} == totals
    finally:
        reader.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_sigkill_during_awards_leaves_the_board_equal_to_the_xp_log(
    tmp_path: Path, seed: int
) -> None:
    db = tmp_path / "board.db"
    rng = random.Random(seed)
    with Gamification.open(db, config=PUBLIC, load_entrypoints=False) as g:
        g.award_xp("u00", 1, source="t")
        g.boards.rank("u00", "xp")
    for run in range(3):
        proc = _writer(db, f"run{run}", 10_000_000)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        # Killed once it has made a random number of awards: mid-way through a later one.
        for _ in range(rng.randrange(1, 300)):
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with Gamification.open(db, config=PUBLIC, load_entrypoints=False) as g:
        conn = sqlite3.connect(db)
        logged = dict(
            conn.execute("SELECT user_id, SUM(amount) FROM xp_awards GROUP BY user_id").fetchall()
        )
        conn.close()
        expected = expected_board(db)
        assert {user: score for _, user, score in expected} == logged
        check_engine(g, expected, "all_time")


@pytest.mark.postgresql_only(
    reason="one writer at a time on the SQLite file: log order is commit order"
)
def test_a_change_committed_after_a_later_one_still_reaches_every_engine(
    place: Place, backend: str, request: pytest.FixtureRequest
) -> None:
    """On PostgreSQL writers append to the log at once: a transaction that logged first may
    commit last. Its row must still reach an engine that already read past the later one,
    and a rolled-back row never."""
    import psycopg

    from gamification_sdk.storage.boards import upsert_sql
    from gamification_sdk.storage.postgres.placeholders import bind
    from gamification_sdk.storage.postgres.statements import OVERRIDES

    where = place("board")
    clock = FakeClock(START)
    a = Gamification.open(**where, config=PUBLIC, clock=clock, load_entrypoints=False)
    b = Gamification.open(**where, config=PUBLIC, clock=clock, load_entrypoints=False)
    try:
        for user, xp in (("ann", 30), ("bob", 20), ("cat", 10)):
            b.award_xp(user, xp, source="t")
        check_engine(a, expected_board(a), "all_time")
        late = psycopg.connect(request.getfixturevalue("postgres_url"))
        late.execute(f"SET search_path TO {where['schema']}")
        # Another server's write, open while the others commit: its log row comes first.
        # The engine's award upsert, which writes its own log row (storage/postgres/board_log.py).
        (period_id,) = late.execute(
            "SELECT id FROM lb_periods WHERE board = 'xp' AND period = 'all_time'"
        ).fetchone()

        def raise_cat(delta: int) -> None:
            late.execute(*bind(OVERRIDES[upsert_sql(1)], ("cat", delta, 0, "public", 1, period_id)))

        raise_cat(100)
        b.award_xp("bob", 15, source="t")
        check_engine(a, expected_board(a), "all_time")
        late.commit()
        check_engine(a, expected_board(a), "all_time")
        assert a.boards.rank("cat", "xp").rank == 1  # type: ignore[union-attr]
        raise_cat(1000)
        b.award_xp("ann", 1, source="t")
        late.rollback()
        late.close()
        check_engine(a, expected_board(a), "all_time")
        assert [e.user_id for e in a.boards.get("xp").entries] == ["cat", "bob", "ann"]
    finally:
        a.close()
        b.close()


@pytest.mark.postgresql_only(reason="SQLite's order catches up from the file, no round trip")
def test_one_read_catches_the_order_up_once_and_still_sees_every_change(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rank or around-me read uses the period's order several times (rank, position,
    count, pages): on PostgreSQL each catch-up from the log is a round trip, and within one
    read's snapshot a second finds nothing new, so each read catches up once. The next read
    still sees what was committed in between, another engine's award included."""
    from gamification_sdk.storage.postgres.changelog import ChangeLogReader

    where = place("board")
    reader = Gamification.open(**where, config=PUBLIC, load_entrypoints=False)
    other = Gamification.open(**where, config=PUBLIC, load_entrypoints=False)
    try:
        for i in range(12):
            other.award_xp(f"u{i:02d}", 10 + i, source="t")
        reader.boards.get("xp")  # builds the order
        reads: list[object] = []
        catch_up = ChangeLogReader.read

        def counted(self: ChangeLogReader, conn: Any) -> Any:
            reads.append(self)
            return catch_up(self, conn)

        monkeypatch.setattr(ChangeLogReader, "read", counted)
        for read in (
            lambda: reader.boards.get("xp"),
            lambda: reader.boards.rank("u05", "xp"),
            lambda: reader.boards.around("u05", "xp", n=3),
            lambda: reader.boards.get("xp", viewer="u03"),
        ):
            reads.clear()
            read()
            assert len(reads) == 1, read
        other.award_xp("u00", 100, source="t")  # from last to first, on another engine
        entry = reader.boards.rank("u00", "xp")
        assert entry is not None and entry.rank == 1 and entry.score == 110
        near = reader.boards.around("u00", "xp", n=1).entries
        assert [e.user_id for e in near] == ["u00", "u11"]
        check_engine(reader, expected_board(reader), "all_time")
    finally:
        reader.close()
        other.close()
