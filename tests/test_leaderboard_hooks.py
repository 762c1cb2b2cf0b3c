"""The leaderboard hooks, one small test each (so every hookspec has a test on this branch)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from gamification_sdk import Config, FakeClock, Gamification, hookimpl
from gamification_sdk.leaderboard_config import BoardConfig, LeaderboardsConfig
from gamification_sdk.models import PeriodClose

Make = Callable[..., Gamification]


def public(*boards: BoardConfig) -> Config:
    return Config(leaderboards=LeaderboardsConfig(
        boards=boards or (BoardConfig("xp"),), visibility="public", show_on_global=True,
    ))  # fmt: skip


def test_friends_of_supplies_the_host_graph(make_engine: Make) -> None:
    class Graph:
        @hookimpl
        def friends_of(self, user_id: str) -> Iterable[str] | None:
            return ["bo"] if user_id == "ada" else None

    g = make_engine(config=public(), plugins=(Graph(),))
    for user, xp in [("ada", 5), ("bo", 9), ("cy", 7)]:
        g.award_xp(user, xp, source="t")
    page = g.leaderboard("xp", scope="friends", viewer="ada")
    assert [e.user_id for e in page.entries] == ["bo", "ada"]


def test_register_scorers_feeds_a_custom_board(make_engine: Make) -> None:
    class Laps:
        @hookimpl
        def register_scorers(self, register: Callable[..., None]) -> None:
            register("laps", lambda e: 1 if e.event == "lap" else None)

    board = BoardConfig("laps", source="custom", scorer="laps", periods=("all_time",))
    g = make_engine(config=public(board), plugins=(Laps(),))
    g.track("ada", "lap")
    g.track("ada", "lap")
    g.track("ada", "rest")
    assert [(e.user_id, e.score) for e in g.leaderboard("laps").entries] == [("ada", 2)]


def test_on_leaderboard_closed_hears_each_archived_period(
    make_engine: Make, clock: FakeClock
) -> None:
    heard: list[PeriodClose] = []

    class Ears:
        @hookimpl
        def on_leaderboard_closed(self, close: PeriodClose) -> None:
            heard.append(close)

    g = make_engine(config=public(BoardConfig("xp", periods=("daily",))), plugins=(Ears(),))
    g.award_xp("ada", 10, source="t")
    clock.set(datetime(2026, 3, 3, 1, tzinfo=UTC))
    g.close_leaderboard_periods()
    assert [(c.board, c.period, c.period_key, c.ranked) for c in heard] == [
        ("xp", "daily", "2026-03-02", 1)
    ]
