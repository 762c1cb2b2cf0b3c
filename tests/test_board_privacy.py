"""Privacy as boards are read: archived periods follow the users' settings now, like open
ones, and a user a board hides (global, group or friends) sees their own line as hidden."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    BoardConfig,
    Config,
    FakeClock,
    Gamification,
    LeaderboardsConfig,
)
from gamification_sdk.models import Leaderboard, LeaderboardEntry

Make = Callable[..., Gamification]
WEEK_47 = datetime(2026, 11, 17, 12, tzinfo=UTC)
AFTER_47 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # W47 has ended
CONFIG = Config(leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True))
W47 = {"period": "weekly", "period_key": "2026-W47"}


def lines(board: Leaderboard) -> list[tuple[int, int, str, float, bool]]:
    return [(e.rank, e.position, e.user_id, e.score, e.hidden) for e in board.entries]


def own(entry: LeaderboardEntry | None) -> tuple[int, int, str, float, bool] | None:
    return None if entry is None else (entry.rank, entry.position, entry.user_id, entry.score,
                                       entry.hidden)  # fmt: skip


def closed_week(make_engine: Make, clock: FakeClock, scores: dict[str, int]) -> Gamification:
    """W47 scored by ``scores`` (everyone public and in gym-1), then closed."""
    g = make_engine(config=CONFIG)
    clock.set(WEEK_47)
    for user, xp in scores.items():
        g.award_xp(user, xp, source="t")
        g.social.join_group(user, "gym-1", kind="gym")
        clock.advance(minutes=1)
    clock.set(AFTER_47)
    assert "2026-W47" in [c.period_key for c in g.boards.close_periods()]
    return g


# -- the case, and the ranks around it ----------------------------------------------


def test_archived_global_board_drops_a_user_who_went_private_after_the_close(
    make_engine: Make, clock: FakeClock
) -> None:
    g = closed_week(make_engine, clock, {"cat": 30})
    g.social.set_privacy("cat", visibility="private")
    for scope, group in (("global", None), ("group", "gym-1")):
        board = g.boards.get("xp", scope=scope, group=group, **W47)
        assert board.closed and board.entries == () and board.total == 0, scope


def test_archived_ranks_close_up_as_on_an_open_board_and_the_hidden_user_sees_their_own(
    make_engine: Make, clock: FakeClock
) -> None:
    g = closed_week(make_engine, clock, {"ann": 50, "bob": 40, "cat": 30, "dan": 20})
    g.social.set_privacy("bob", show_on_global=False)  # off global boards, still on group boards
    board = g.boards.get("xp", viewer="bob", **W47)
    assert lines(board) == [(1, 1, "ann", 50, False), (2, 2, "cat", 30, False),
                            (3, 3, "dan", 20, False)]  # fmt: skip
    assert board.total == 3 and own(board.viewer) == (2, 2, "bob", 40, True)
    # The archive keeps the standings the period closed with: movement is not re-judged.
    assert [e.movement for e in board.entries] == ["new", "new", "new"]
    assert own(g.boards.rank("bob", "xp", **W47)) == (2, 2, "bob", 40, True)
    assert own(g.boards.rank("cat", "xp", **W47)) == (2, 2, "cat", 30, False)
    around = g.boards.around("bob", "xp", n=1, **W47)
    assert lines(around) == [(1, 1, "ann", 50, False), (2, 2, "bob", 40, True),
                             (2, 2, "cat", 30, False)]  # fmt: skip
    group = g.boards.get("xp", scope="group", group="gym-1", **W47)
    assert [e.user_id for e in group.entries] == ["ann", "bob", "cat", "dan"]
    # Back on: the archived board lists bob again, in the place he closed in.
    g.social.set_privacy("bob", show_on_global=True)
    assert [(e.rank, e.user_id) for e in g.boards.get("xp", **W47).entries] == [
        (1, "ann"), (2, "bob"), (3, "cat"), (4, "dan")]  # fmt: skip


def test_a_user_unlisted_at_the_close_who_opts_in_later_is_on_the_archived_board(
    make_engine: Make, clock: FakeClock
) -> None:
    g = make_engine(config=CONFIG)
    clock.set(WEEK_47)
    g.award_xp("ann", 10, source="t")
    g.award_xp("bob", 20, source="t")
    g.social.set_privacy("bob", show_on_global=False)
    clock.set(AFTER_47)
    g.boards.close_periods()
    assert [e.user_id for e in g.boards.get("xp", **W47).entries] == ["ann"]
    g.social.set_privacy("bob", show_on_global=True)
    assert [(e.rank, e.user_id) for e in g.boards.get("xp", **W47).entries] == [
        (1, "bob"), (2, "ann")]  # fmt: skip


def test_archived_friends_board_follows_privacy_now(make_engine: Make, clock: FakeClock) -> None:
    g = closed_week(make_engine, clock, {"ann": 50, "bob": 40})
    g.social.add_friend("ann", "bob")
    g.social.set_privacy("bob", visibility="friends_only")
    friends = g.boards.get("xp", scope="friends", viewer="ann", **W47)
    assert [e.user_id for e in friends.entries] == ["ann", "bob"]
    g.social.set_privacy("bob", visibility="private")
    friends = g.boards.get("xp", scope="friends", viewer="ann", **W47)
    assert [e.user_id for e in friends.entries] == ["ann"]
    mine = g.boards.get("xp", scope="friends", viewer="bob", **W47)
    assert lines(mine) == [(1, 1, "ann", 50, False)]
    assert own(mine.viewer) == (2, 2, "bob", 40, True)


# -- a private user's own line: hidden on every scope, open or closed ----------------------


@pytest.mark.parametrize("scope", ["global", "group", "friends"])
@pytest.mark.parametrize("archived", [False, True], ids=["live", "archived"])
def test_a_private_users_own_line_is_hidden_and_moves_nobody(
    make_engine: Make, clock: FakeClock, scope: str, archived: bool
) -> None:
    g = closed_week(make_engine, clock, {"ann": 50, "bob": 40, "cat": 30})
    if not archived:  # the same scores again, in the open W48
        for user, xp in (("ann", 50), ("bob", 40), ("cat", 30)):
            g.award_xp(user, xp, source="t")
    for a, b in (("bob", "ann"), ("bob", "cat"), ("ann", "cat")):
        g.social.add_friend(a, b)
    g.social.set_privacy("bob", visibility="private")
    where: dict[str, Any] = {"scope": scope, "group": "gym-1" if scope == "group" else None,
                             "period": "weekly"}  # fmt: skip
    if archived:
        where["period_key"] = "2026-W47"
    board = g.boards.get("xp", viewer="bob", **where)
    assert board.closed == archived
    assert lines(board) == [(1, 1, "ann", 50, False), (2, 2, "cat", 30, False)]
    assert board.total == 2 and own(board.viewer) == (2, 2, "bob", 40, True)
    assert own(g.boards.rank("bob", "xp", **where)) == (2, 2, "bob", 40, True)
    around = g.boards.around("bob", "xp", n=1, **where)
    assert lines(around) == [(1, 1, "ann", 50, False), (2, 2, "bob", 40, True),
                             (2, 2, "cat", 30, False)]  # fmt: skip
    # What the others see of the same board: bob is nowhere, cat keeps rank 2.
    seen = g.boards.get("xp", viewer="ann", **where)
    assert lines(seen) == [(1, 1, "ann", 50, False), (2, 2, "cat", 30, False)]


def test_a_friends_only_user_stands_on_the_group_board_their_friends_see(
    make_engine: Make, clock: FakeClock
) -> None:
    g = closed_week(make_engine, clock, {"ann": 50, "bob": 40, "cat": 30})
    g.social.add_friend("bob", "cat")
    g.social.set_privacy("bob", visibility="friends_only")
    for archived in (False, True):
        where = W47 if archived else {"period": "all_time"}
        mine = g.boards.get("xp", scope="group", group="gym-1", viewer="bob", **where)
        friend = g.boards.get("xp", scope="group", group="gym-1", viewer="cat", **where)
        stranger = g.boards.get("xp", scope="group", group="gym-1", viewer="ann", **where)
        assert (
            lines(mine)
            == lines(friend)
            == [(1, 1, "ann", 50, False), (2, 2, "bob", 40, False), (3, 3, "cat", 30, False)]
        )
        assert own(mine.viewer) == (2, 2, "bob", 40, False)
        assert [e.user_id for e in stranger.entries] == ["ann", "cat"]


# -- the invariant: a closed period reads like an open one with the same scores ------------


USERS = ["u0", "u1", "u2", "u3", "u4", "u5"]
SETTINGS = st.sampled_from(
    [("public", True), ("public", False), ("friends_only", True), ("private", True)]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    xp=st.lists(st.integers(1, 4), min_size=len(USERS), max_size=len(USERS)),
    before=st.lists(SETTINGS, min_size=len(USERS), max_size=len(USERS)),
    after=st.lists(SETTINGS, min_size=len(USERS), max_size=len(USERS)),
    friends=st.sets(st.tuples(st.sampled_from(USERS), st.sampled_from(USERS))),
)
def test_property_an_archived_board_reads_like_the_open_board_with_its_scores(
    xp: list[int],
    before: list[tuple[str, bool]],
    after: list[tuple[str, bool]],
    friends: set[tuple[str, str]],
) -> None:
    # Everything is scored in W47, so the all-time board (never closed) holds the same
    # scores as the archived week; privacy changes on both sides of the close.
    board = BoardConfig("xp", periods=("all_time", "weekly"))
    config = Config(leaderboards=LeaderboardsConfig(boards=(board,)))
    clock = FakeClock(WEEK_47)
    with Gamification.open(":memory:", config=config, clock=clock, load_entrypoints=False) as g:
        for user, amount, (visibility, on_global) in zip(USERS, xp, before, strict=True):
            g.award_xp(user, amount, source="t")  # few values: many ties
            g.social.join_group(user, "gym-1", kind="gym")
            g.social.set_privacy(user, visibility=visibility, show_on_global=on_global)
            clock.advance(seconds=1)
        for a, b in friends:
            if a != b:
                g.social.add_friend(a, b)
        clock.set(AFTER_47)
        g.boards.close_periods()
        for user, (visibility, on_global) in zip(USERS, after, strict=True):
            g.social.set_privacy(user, visibility=visibility, show_on_global=on_global)
        live: dict[str, Any] = {"period": "all_time"}
        for scope, group in (("global", None), ("group", "gym-1"), ("friends", None)):
            where = {"scope": scope, "group": group}
            for viewer in [*USERS, None] if scope != "friends" else USERS:
                closed = g.boards.get("xp", viewer=viewer, **where, **W47)
                opened = g.boards.get("xp", viewer=viewer, **where, **live)
                assert lines(closed) == lines(opened), (scope, viewer)
                assert own(closed.viewer) == own(opened.viewer), (scope, viewer)
                assert closed.total == opened.total
            for user in USERS:
                assert own(g.boards.rank(user, "xp", **where, **W47)) == own(
                    g.boards.rank(user, "xp", **where, **live)
                )
                assert lines(g.boards.around(user, "xp", n=2, **where, **W47)) == lines(
                    g.boards.around(user, "xp", n=2, **where, **live)
                )
