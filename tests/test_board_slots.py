"""The XP board kept in the profile row (m020_xp_board_slots, social/board_slots.py).

An award writes the board's current periods in the profile row; a period the row moves past
keeps its standing in lb_scores until it closes; an award dated in an older period goes to
lb_scores; a file from before m020 moves its rows into the profile as they stood.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import START

from gamification_sdk import BoardConfig, Config, FakeClock, Gamification, LeaderboardsConfig

PUBLIC = Config(leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True))
NO_SLOTS = "the profile-row slots of the XP board are the SQLite file's layout (m020)"
Place = Callable[[str], dict[str, Any]]


def lines(g: Gamification, period: str, **kw: object) -> list[tuple[int, str, float]]:
    page = g.boards.get("xp", period=period, limit=100, **kw)  # type: ignore[arg-type]
    return [(e.rank, e.user_id, e.score) for e in page.entries]


def rows(g: Gamification, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in g.db.execute(sql).fetchall()]


def test_an_award_writes_no_score_row_for_the_xp_board(place: Place, backend: str) -> None:
    clock = FakeClock(START)
    with Gamification.open(**place("g"), config=PUBLIC, clock=clock, load_entrypoints=False) as g:
        g.award_xp("ann", 10, source="t")
        clock.advance(seconds=1)
        g.award_xp("bob", 10, source="t")
        for period in ("all_time", "daily", "weekly", "monthly"):
            assert lines(g, period) == [(1, "ann", 10), (1, "bob", 10)]
        if backend == "sqlite":
            assert rows(g, "SELECT COUNT(*) FROM lb_scores") == [(0,)]
            assert rows(g, "SELECT COUNT(*) FROM lb_live") == [(8,)]
        else:  # no profile slots there: one score row per user and period
            assert rows(g, "SELECT COUNT(*) FROM lb_scores") == [(8,)]


def test_a_new_day_leaves_the_old_one_in_lb_scores_and_late_awards_join_it(
    place: Place, backend: str
) -> None:
    clock = FakeClock(START)
    with Gamification.open(**place("g"), config=PUBLIC, clock=clock, load_entrypoints=False) as g:
        g.award_xp("ann", 10, source="t")
        g.award_xp("bob", 4, source="t")
        yesterday = g.boards.get("xp", period="daily").period_key
        clock.advance(days=1)
        g.award_xp("ann", 3, source="t")  # the slot moves on; yesterday's 10 is kept
        g.award_xp("bob", 20, source="t", at=START + timedelta(minutes=1))  # dated yesterday
        assert lines(g, "daily", period_key=yesterday) == [(1, "bob", 24), (2, "ann", 10)]
        assert lines(g, "daily") == [(1, "ann", 3)]
        assert lines(g, "all_time") == [(1, "bob", 24), (2, "ann", 13)]
        closed = g.boards.close_periods(START + timedelta(days=1))
        assert ("daily", yesterday, 2) in [(c.period, c.period_key, c.ranked) for c in closed]
        archived = g.boards.get("xp", period="daily", period_key=yesterday)
        assert archived.closed and [(e.user_id, e.score) for e in archived.entries] == [
            ("bob", 24), ("ann", 10)]  # fmt: skip
        clock.advance(days=1)
        g.award_xp("bob", 1, source="t")  # bob's slot leaves the closed day: nothing kept
        assert lines(g, "daily") == [(1, "bob", 1)]
        closed_rows = (
            "SELECT COUNT(*) FROM lb_scores s JOIN lb_periods p ON p.id = s.period_id "
            f"WHERE p.period = 'daily' AND p.period_key = '{yesterday}'"
        )
        assert rows(g, closed_rows) == [(0,)]  # went with the close
        if backend == "sqlite":
            assert rows(g, "SELECT COUNT(*) FROM lb_scores") == [(0,)]


def test_a_second_xp_board_and_a_board_with_four_periods_keep_lb_scores(
    place: Place, backend: str
) -> None:
    boards = (
        BoardConfig("xp", periods=("all_time", "daily", "weekly")),
        BoardConfig("xp2", source="xp", periods=("all_time", "daily")),
    )
    config = Config(
        leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True, boards=boards)
    )
    clock = FakeClock(START)
    with Gamification.open(**place("g"), config=config, clock=clock, load_entrypoints=False) as g:
        with g.batch():
            for i in range(5):
                g.award_xp(f"u{i}", 10 - i, source="t")
                clock.advance(seconds=1)
        g.award_xp("u4", 30, source="t")
        for board in ("xp", "xp2"):
            page = g.boards.get(board, period="daily")
            assert [(e.user_id, e.score) for e in page.entries] == [
                ("u4", 36), ("u0", 10), ("u1", 9), ("u2", 8), ("u3", 7)]  # fmt: skip
        scored = "SELECT DISTINCT p.board FROM lb_scores s JOIN lb_periods p ON p.id = s.period_id"
        expected = [("xp2",)] if backend == "sqlite" else [("xp",), ("xp2",)]
        assert sorted(rows(g, scored)) == expected


@pytest.mark.sqlite_only(reason=NO_SLOTS)
def test_a_file_from_before_m020_moves_its_rows_into_the_profile_as_they_stood(
    tmp_path: Path,
) -> None:
    db = tmp_path / "g.db"
    clock = FakeClock(START)
    with Gamification.open(db, config=PUBLIC, clock=clock, load_entrypoints=False) as g:
        for user in ("ann", "bob", "cat"):
            g.award_xp(user, 10, source="t")
            clock.advance(seconds=1)
    # The file as m019 left it: the board's rows in lb_scores, the profile columns empty.
    # bob reached 10 first there (not what his profile's updated_at says): a backfill from
    # the logs would put ann first, the move keeps bob first.
    conn = sqlite3.connect(db)
    with conn:
        for i in range(4):
            score = "xp" if i == 0 else f"lb_s{i}"
            conn.execute(
                f"INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
                f"SELECT user_id, lb_p{i}, {score}, lb_r{i}, 1 FROM profiles "
                f"WHERE lb_p{i} IS NOT NULL"
            )
            conn.execute(f"UPDATE profiles SET lb_p{i} = NULL, lb_r{i} = NULL")
        conn.execute("UPDATE lb_scores SET reached = reached - 10000000 WHERE user_id = 'bob'")
        conn.execute(
            "UPDATE lb_boards SET fingerprint = "
            '\'["xp",["all_time","daily","monthly","weekly"]]\' WHERE key = \'xp\''
        )
        conn.execute("DELETE FROM lb_settings WHERE name = 'slots'")
    conn.close()
    with Gamification.open(db, config=PUBLIC, clock=clock, load_entrypoints=False) as g:
        for period in ("all_time", "daily", "weekly", "monthly"):
            page = g.boards.get("xp", period=period)
            assert [e.user_id for e in page.entries] == ["bob", "ann", "cat"]
        g.award_xp("cat", 1, source="t", at=datetime(2026, 3, 2, 13, tzinfo=UTC))
        assert lines(g, "daily")[0] == (1, "cat", 11)
        assert rows(g, "SELECT COUNT(*) FROM lb_scores") == [(0,)]


def test_a_private_user_is_logged_nowhere_and_going_public_lists_every_slot(
    place: Place,
) -> None:
    clock = FakeClock(START)
    with Gamification.open(**place("g"), clock=clock, load_entrypoints=False) as g:  # private
        g.award_xp("ann", 10, source="t")
        assert rows(g, "SELECT COUNT(*) FROM lb_log WHERE user_id IS NOT NULL") == [(0,)]
        assert g.boards.get("xp").total == 0
        g.social.set_privacy("ann", visibility="public", show_on_global=True)
        g.award_xp("ann", 5, source="t")
        for period in ("all_time", "daily", "weekly", "monthly"):
            assert lines(g, period) == [(1, "ann", 15)]
        g.social.set_privacy("ann", visibility="private")
        assert g.boards.get("xp", period="weekly").total == 0
        entry = g.boards.rank("ann", "xp", period="weekly")
        assert entry is not None and entry.hidden and entry.score == 15


def test_another_board_taking_the_slots_leaves_the_xp_board_as_it_stood(
    place: Place, backend: str
) -> None:
    clock = FakeClock(START)
    periods = ("all_time", "daily", "weekly", "monthly")
    default = LeaderboardsConfig(visibility="public", show_on_global=True)
    first = BoardConfig("first", source="xp", periods=("all_time", "daily"))
    with Gamification.open(**place("g"), config=Config(leaderboards=default), clock=clock,
                           load_entrypoints=False) as g:  # fmt: skip
        for i, xp in enumerate([5, 9, 5, 9, 1]):
            g.award_xp(f"u{i}", xp, source="t")
            clock.advance(seconds=1)
        before = {period: lines(g, period) for period in periods}
        positions = [e.user_id for e in g.boards.get("xp", period="weekly").entries]
        assert positions == ["u1", "u3", "u0", "u2", "u4"]
        # A new XP board listed first takes the profile slots: xp's rows go to lb_scores.
        boards = (first, *default.boards)
        g.settings.apply(Config(leaderboards=attrs.evolve(default, boards=boards)))
        assert {period: lines(g, period) for period in periods} == before
        assert [e.user_id for e in g.boards.get("xp", period="weekly").entries] == positions
        assert [e.user_id for e in g.boards.get("first").entries] == positions
        # 5 users in 4 periods of xp (out of the profile on SQLite), 2 of first (in it).
        live = 20 if backend == "sqlite" else 30
        assert rows(g, "SELECT COUNT(*) FROM lb_scores") == [(live,)]
        g.award_xp("u4", 10, source="t")
        # And back: xp's current rows move into the profile row again.
        g.settings.apply(Config(leaderboards=default))
        assert lines(g, "daily")[0] == (1, "u4", 11)
        assert [e.user_id for e in g.boards.get("xp", period="monthly").entries] == [
            "u4", "u1", "u3", "u0", "u2"]  # fmt: skip
        # The removed board's rows stay as they stood (in lb_scores now); on SQLite none of
        # xp's (back in the profile), on PostgreSQL xp's 4 periods beside them.
        scored = (
            "SELECT p.board, COUNT(*) FROM lb_scores s JOIN lb_periods p ON p.id = s.period_id "
            "GROUP BY p.board ORDER BY p.board"
        )
        xp = [] if backend == "sqlite" else [("xp", 20)]
        assert rows(g, scored) == [("first", 10), *xp]


def test_a_batch_across_midnight_leaves_what_the_awards_one_by_one_leave(place: Place) -> None:
    moments = [START + timedelta(hours=h) for h in (-30, 1, 11, 13)]  # yesterday, today
    plan = [(f"u{i % 3}", 1 + i % 4, moments[i % 4]) for i in range(12)]
    plan.append(("u0", 7, moments[0]))  # dated in yesterday after u0's slot moved on
    boards = {}
    for batched in (False, True):
        clock = FakeClock(START + timedelta(hours=12))
        where = place(str(batched))
        with Gamification.open(**where, config=PUBLIC, clock=clock, load_entrypoints=False) as g:
            for user in ("u0", "u1", "u2"):
                g.award_xp(user, 1, source="t", at=moments[0])
            if batched:
                with g.batch():
                    for user, xp, at in plan:
                        g.award_xp(user, xp, source="t", at=at)
            else:
                for user, xp, at in plan:
                    g.award_xp(user, xp, source="t", at=at)
            days = [START - timedelta(days=1), START]
            boards[batched] = [
                [(e.user_id, e.score) for e in g.boards.get("xp", period=p, at=at).entries]
                for p in ("all_time", "daily", "weekly", "monthly")
                for at in days
            ]
    assert boards[True] == boards[False]
    assert boards[False][2] != boards[False][3]  # yesterday and today differ


def test_awards_across_midnight_a_dst_change_and_backdating_match_cold_caches(
    place: Place,
) -> None:
    # award_xp keeps the last periods' ids and slot plans (Boards.write_xp, Slots.write):
    # every award below, made in one session, must leave what the same awards leave with
    # every cache cold (the file reopened before each), and a change of boards between them.
    zone = LeaderboardsConfig(visibility="public", show_on_global=True, timezone="Europe/Berlin")
    other = attrs.evolve(zone, boards=(BoardConfig("xp", periods=("all_time", "daily")),))
    switch = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # Berlin moves to summer time at 01:00
    moments = [
        datetime(2026, 3, 28, 22, 59, tzinfo=UTC),  # 23:59 in Berlin
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # midnight in Berlin: a new day and week
        switch,
        switch + timedelta(hours=1),  # after the change: the same local day
        datetime(2026, 3, 27, 9, 0, tzinfo=UTC),  # backdated into an older day and week
        datetime(2026, 3, 29, 21, 59, tzinfo=UTC),  # 23:59 in Berlin, summer time
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # midnight: a new day (and month soon)
        datetime(2026, 3, 31, 22, 0, tzinfo=UTC),  # 1 April in Berlin: a new month
        datetime(2026, 3, 31, 21, 0, tzinfo=UTC),  # back into March
    ]
    plan = [(f"u{i % 3}", 1 + i % 5, at) for i, at in enumerate(moments * 2)]
    configs = [zone] * len(moments) + [other] * 3 + [zone] * (len(moments) - 3)

    def boards(g: Gamification) -> list[list[tuple[str, float]]]:
        return [
            [(e.user_id, e.score) for e in g.boards.get("xp", period=p, at=at).entries]
            for p in ("all_time", "daily", "weekly", "monthly")
            for at in moments
        ]

    clock = FakeClock(datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    with Gamification.open(**place("warm"), config=Config(leaderboards=zone), clock=clock,
                           load_entrypoints=False) as g:  # fmt: skip
        for (user, xp, at), config in zip(plan, configs, strict=True):
            g.settings.apply(Config(leaderboards=config))
            g.award_xp(user, xp, source="t", at=at, idempotency_key=f"{user}{at}{xp}")
        g.settings.apply(Config(leaderboards=zone))
        warmed = boards(g)
    cold = place("cold")
    stored = zone
    for (user, xp, at), config in zip(plan, configs, strict=True):
        with Gamification.open(**cold, config=Config(leaderboards=stored), clock=clock,
                               load_entrypoints=False) as g:  # fmt: skip
            g.settings.apply(Config(leaderboards=config))
            stored = config
            g.award_xp(user, xp, source="t", at=at, idempotency_key=f"{user}{at}{xp}")
    with Gamification.open(**cold, config=Config(leaderboards=stored), clock=clock,
                           load_entrypoints=False) as g:  # fmt: skip
        g.settings.apply(Config(leaderboards=zone))
        assert boards(g) == warmed
        daily = warmed[len(moments) : 2 * len(moments)]
        assert daily[0] != daily[1]  # 23:59 and midnight in Berlin are different days
