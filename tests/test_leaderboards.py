"""Leaderboards: ranks, ties, periods, scopes, privacy, archives, rewards, and exactness."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    BoardConfig,
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LeaderboardsConfig,
    RankReward,
    Season,
    errors,
    hookimpl,
)
from gamification_sdk.models import PeriodClose, ScoredEvent
from gamification_sdk.social import boards as boards_module

Make = Callable[..., Gamification]
PUBLIC = LeaderboardsConfig(visibility="public", show_on_global=True)


def public(**changes: Any) -> Config:
    return Config(leaderboards=attrs.evolve(PUBLIC, **changes))


def board_of(g: Gamification, board: str = "xp", **kwargs: Any) -> list[tuple[int, str, float]]:
    page = g.boards.get(board, **kwargs)
    return [(e.rank, e.user_id, e.score) for e in page.entries]


# -- ranks and ties ---------------------------------------------------------------------------


def test_competition_ranking_with_ties_in_the_order_scores_were_reached(
    make_engine: Make, clock: FakeClock
) -> None:
    g = make_engine(config=public())
    for user, xp in [("ann", 50), ("bob", 30), ("cat", 30), ("dan", 10)]:
        g.award_xp(user, xp, source="t")
        clock.advance(minutes=1)
    g.award_xp("eve", 30, source="t")  # reaches 30 last
    assert board_of(g) == [(1, "ann", 50), (2, "bob", 30), (2, "cat", 30), (2, "eve", 30),
                           (5, "dan", 10)]  # fmt: skip
    page = g.boards.get("xp")
    assert [e.position for e in page.entries] == [1, 2, 3, 4, 5] and page.total == 5
    assert g.boards.rank("eve", "xp").rank == 2  # type: ignore[union-attr]
    assert g.boards.rank("eve", "xp").position == 4  # type: ignore[union-attr]
    clock.advance(minutes=1)
    g.award_xp("bob", 20, source="t")  # bob ties ann now, but reached 50 later
    assert board_of(g)[:3] == [(1, "ann", 50), (1, "bob", 50), (3, "cat", 30)]


def test_rank_of_unknown_user_is_none_and_limit_offset_page(make_engine: Make) -> None:
    g = make_engine(config=public())
    for i in range(12):
        g.award_xp(f"u{i:02d}", 100 - i, source="t")
    assert g.boards.rank("nobody", "xp") is None
    assert [e.user_id for e in g.boards.get("xp", limit=3, offset=4).entries] == [
        "u04", "u05", "u06"]  # fmt: skip
    assert g.boards.get("xp", offset=50).entries == ()


def test_around_me_returns_neighbours_with_ranks(make_engine: Make) -> None:
    g = make_engine(config=public())
    for i in range(20):
        g.award_xp(f"u{i:02d}", 200 - 5 * i, source="t")
    around = g.boards.around("u10", "xp", n=2)
    assert [(e.rank, e.user_id) for e in around.entries] == [
        (9, "u08"), (10, "u09"), (11, "u10"), (12, "u11"), (13, "u12")]  # fmt: skip
    assert around.viewer is not None and around.viewer.user_id == "u10"
    assert [e.user_id for e in g.boards.around("u00", "xp", n=2).entries] == ["u00", "u01", "u02"]


# -- exactness against a brute-force sort ----------------------------------------------------


def _brute(scores: dict[str, tuple[float, int, int]]) -> list[tuple[int, str, float]]:
    """(rank, user, score) of listed users, best first: the definition, written plainly."""
    listed = [(u, s, seq) for u, (s, seq, on) in scores.items() if on]
    listed.sort(key=lambda r: (-r[1], r[2], r[0]))
    return [(1 + sum(1 for _, t, _ in listed if t > s), u, s) for u, s, _ in listed]


ops = st.lists(
    st.tuples(
        st.integers(0, 24),  # user
        st.sampled_from([0, 1, 1, 2, 3, 5, 8, 40, 1000]),  # XP: many ties and crossings
        st.integers(0, 9),  # 0: flip the user's privacy instead
    ),
    min_size=1,
    max_size=120,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=ops)
def test_property_ranks_pages_and_around_agree_with_a_brute_force_sort(
    ops: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny blocks, so a few dozen users split, re-split and cross blocks all the time.
    monkeypatch.setattr(boards_module, "BLOCK", 4)
    clock = FakeClock(START)
    with Gamification.open(":memory:", config=public(), clock=clock, load_entrypoints=False) as g:
        model: dict[str, tuple[float, int, int]] = {}
        seq = 0
        for user_no, xp, action in ops:
            user = f"u{user_no:02d}"
            clock.advance(seconds=1)
            seq += 1
            if action == 0:
                score, reached, on = model.get(user, (0, 0, 1))
                g.social.set_privacy(user, show_on_global=not on)
                if user in model:
                    model[user] = (score, reached, 0 if on else 1)
                continue
            if xp == 0:
                continue
            on = model.get(user, (0, 0, 1))[2]
            if user not in model:
                on = int(g.social.privacy(user).show_on_global)
            model[user] = (model.get(user, (0, 0, on))[0] + xp, seq, on)
            g.award_xp(user, xp, source="t")
        expected = _brute(model)
        assert board_of(g, limit=1000) == expected
        for offset in (0, 3, 7):
            assert board_of(g, limit=5, offset=offset) == expected[offset : offset + 5]
        for user, (score, _, on) in model.items():
            entry = g.boards.rank(user, "xp")
            assert entry is not None
            assert entry.rank == 1 + sum(1 for _, (s, _, o) in model.items() if o and s > score)
            assert entry.hidden == (not on)
            around = [
                (e.rank, e.user_id, e.score) for e in g.boards.around(user, "xp", n=3).entries
            ]
            if on:
                at = next(i for i, row in enumerate(expected) if row[1] == user)
                assert around == expected[max(0, at - 3) : at + 4]
            else:
                assert (entry.rank, user, score) in around


# -- periods ----------------------------------------------------------------------------------


def test_daily_weekly_monthly_boards_follow_the_board_time_zone(
    make_engine: Make, clock: FakeClock
) -> None:
    g = make_engine(config=public(timezone="America/Los_Angeles", week_start="sunday"))
    clock.set(datetime(2026, 11, 22, 7, 30, tzinfo=UTC))  # Sat 21 Nov, 23:30 in LA
    g.award_xp("ann", 10, source="t")
    clock.set(datetime(2026, 11, 22, 8, 30, tzinfo=UTC))  # Sun 22 Nov, 00:30 in LA
    g.award_xp("ann", 5, source="t")
    g.award_xp("bob", 7, source="t")
    assert board_of(g, period="daily") == [(1, "bob", 7), (2, "ann", 5)]
    assert board_of(g, period="daily", period_key="2026-11-21") == [(1, "ann", 10)]
    # Weeks start on Sunday: Sat 21 is in the week named for Mon 16 (W47), Sun 22 in W48.
    assert board_of(g, period="weekly", period_key="2026-W47") == [(1, "ann", 10)]
    assert g.boards.get("xp", period="weekly").period_key == "2026-W48"
    assert board_of(g, period="monthly") == [(1, "ann", 15), (2, "bob", 7)]
    assert board_of(g, period="all_time") == [(1, "ann", 15), (2, "bob", 7)]


def test_dst_day_is_one_period_of_23_hours(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=public(timezone="Europe/Berlin"))
    clock.set(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))  # 00:00 on the 29th, Berlin
    g.award_xp("ann", 1, source="t")
    clock.set(datetime(2026, 3, 29, 21, 59, tzinfo=UTC))  # 23:59 CEST, still the 29th
    g.award_xp("ann", 1, source="t")
    clock.set(datetime(2026, 3, 29, 22, 0, tzinfo=UTC))  # the 30th
    g.award_xp("ann", 1, source="t")
    assert board_of(g, period="daily", period_key="2026-03-29") == [(1, "ann", 2)]
    assert board_of(g, period="daily") == [(1, "ann", 1)]


def test_backdated_award_counts_in_its_own_period(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=public())
    g.award_xp("ann", 10, source="t", at=START - timedelta(days=1))
    g.award_xp("ann", 3, source="t")
    assert board_of(g, period="daily", period_key="2026-03-01") == [(1, "ann", 10)]
    assert board_of(g, period="daily") == [(1, "ann", 3)]


# -- sources ----------------------------------------------------------------------------------


def test_points_achievements_and_metric_boards(make_engine: Make) -> None:
    boards = (
        BoardConfig("coins", source="points", currency="coins", periods=("all_time", "weekly")),
        BoardConfig("badges", source="achievements", periods=("all_time",)),
        BoardConfig("badge_points", source="achievement_points", periods=("all_time",)),
        BoardConfig("km", source="metric", metric="run", aggregate="sum", periods=("all_time",)),
        BoardConfig("runs", source="metric", metric="run", aggregate="count",
                    periods=("all_time",)),
    )  # fmt: skip
    config = Config(
        currencies=(CurrencyConfig("coins"), CurrencyConfig("gems")),
        leaderboards=attrs.evolve(PUBLIC, boards=boards),
    )
    g = make_engine(config=config)
    g.events.load(
        {"achievements": [{"key": "first_run", "name": "First run", "rarity": "rare",
                           "criteria": {"type": "first_time", "event": "run"}}]},
        name="a",
    )  # fmt: skip
    g.award_points("ann", 100, currency="coins", source="t")
    g.award_points("ann", 50, currency="gems", source="t")
    g.spend_points("ann", 60, currency="coins", source="t")  # spending does not lower "earned"
    g.award_points("bob", 70, currency="coins", source="t")
    g.track("bob", "run", value=5.5)
    g.track("bob", "run", value=2)
    assert board_of(g, "coins") == [(1, "ann", 100), (2, "bob", 70)]
    assert board_of(g, "coins", period="weekly") == [(1, "ann", 100), (2, "bob", 70)]
    assert board_of(g, "badges") == [(1, "bob", 1)]
    points = g.config.achievements.rarity_points["rare"]
    assert board_of(g, "badge_points") == [(1, "bob", points)]
    assert board_of(g, "km") == [(1, "bob", 7.5)]
    assert board_of(g, "runs") == [(1, "bob", 2)]


class Steps:
    """A custom scorer: 1 point per 1,000 steps, only for 'walk' events."""

    @hookimpl
    def register_scorers(self, register: Callable[..., None]) -> None:
        register("steps", lambda e: e.value // 1000 if e.event == "walk" else None)


def test_register_scorers_hook_feeds_custom_boards(make_engine: Make) -> None:
    boards = (BoardConfig("walkers", source="custom", scorer="steps", periods=("all_time",)),)
    g = make_engine(config=public(boards=boards), plugins=(Steps(),))
    g.track("ann", "walk", value=4200)
    g.track("ann", "swim", value=4200)
    g.track("bob", "walk", value=9000)
    assert board_of(g, "walkers") == [(1, "bob", 9), (2, "ann", 4)]


def test_a_custom_board_without_its_scorer_is_a_config_error(make_engine: Make) -> None:
    boards = (BoardConfig("walkers", source="custom", scorer="steps"),)
    with pytest.raises(errors.ConfigError, match="scorer 'steps'"):
        make_engine(config=public(boards=boards))


def test_a_scorer_returning_garbage_rolls_the_event_back(make_engine: Make) -> None:
    class Bad:
        @hookimpl
        def register_scorers(self, register: Callable[..., None]) -> None:
            register("bad", lambda e: float("nan"))

    boards = (BoardConfig("bad", source="custom", scorer="bad"),)
    g = make_engine(config=public(boards=boards), plugins=(Bad(),))
    with unchanged(g), pytest.raises(errors.InvalidInput, match="scorer"):
        g.track("ann", "walk")


def test_a_board_added_later_starts_from_the_logs(
    make_engine: Make, db_path: Any, clock: FakeClock
) -> None:
    g = make_engine(db_path, config=Config(leaderboards=LeaderboardsConfig(boards=())))
    g.award_xp("ann", 40, source="t")
    g.award_points("bob", 25, currency="points", source="t")
    clock.advance(timedelta(days=1))
    g.award_xp("cy", 3, source="t")
    boards = (BoardConfig("xp"), BoardConfig("pts", source="points", currency="points"))
    g.settings.apply(public(boards=boards))
    assert board_of(g) == [(1, "ann", 40), (2, "cy", 3)]
    assert board_of(g, "pts") == [(1, "bob", 25)]
    assert board_of(g, period="daily") == [(1, "cy", 3)]  # today's awards only


def test_a_rolled_back_write_does_not_poison_the_period_cache(make_engine: Make) -> None:
    g = make_engine(config=public())
    with pytest.raises(RuntimeError), g.batch():
        g.award_xp("ann", 5, source="t")  # creates today's period rows, then rolls back
        raise RuntimeError
    g.award_xp("bob", 5, source="t")
    assert board_of(g, period="daily") == [(1, "bob", 5)]


# -- privacy and scopes -----------------------------------------------------------------------


def _social(g: Gamification) -> None:
    for user, xp in [("ann", 90), ("bob", 80), ("cat", 70), ("dan", 60), ("eve", 50)]:
        g.award_xp(user, xp, source="t")
    g.social.set_privacy("ann", visibility="public", show_on_global=True, username="Annie")
    g.social.set_privacy("bob", visibility="friends_only", show_on_global=True)
    g.social.set_privacy("cat", visibility="private")
    g.social.set_privacy(
        "dan", visibility="public", show_on_global=False, display_name_type="anonymous"
    )
    g.social.set_privacy("eve", visibility="public", show_on_global=True, real_name="Eve Adams",
                  display_name_type="real_name")  # fmt: skip
    g.social.add_friend("eve", "bob")
    for user in ("ann", "bob", "cat", "dan", "eve"):
        g.social.join_group(user, "gym-1", kind="gym")


def test_defaults_follow_seed_002_nobody_is_on_global_boards(g: Gamification) -> None:
    g.award_xp("ann", 10, source="t")
    assert g.social.privacy("ann").visibility == "friends_only"
    assert g.social.privacy("ann").show_on_global is False
    assert g.boards.get("xp").entries == ()
    mine = g.boards.rank("ann", "xp")
    assert mine is not None and mine.rank == 1 and mine.hidden


def test_global_board_shows_only_public_opted_in_users_and_hidden_users_see_themselves(
    g: Gamification,
) -> None:
    _social(g)
    assert [(e.rank, e.display_name) for e in g.boards.get("xp").entries] == [
        (1, "Annie"), (2, "Eve Adams")]  # fmt: skip
    for viewer, rank in [("bob", 2), ("cat", 2), ("dan", 2)]:  # would-be ranks
        page = g.boards.get("xp", viewer=viewer)
        assert [e.user_id for e in page.entries] == ["ann", "eve"]
        assert page.viewer is not None and page.viewer.hidden and page.viewer.rank == rank
    seen = g.boards.get("xp", viewer="eve").viewer
    assert seen is not None and not seen.hidden and seen.rank == 2
    around = g.boards.around("dan", "xp", n=2)
    assert [(e.user_id, e.rank, e.hidden) for e in around.entries] == [
        ("ann", 1, False), ("dan", 2, True), ("eve", 2, False)]  # fmt: skip
    assert around.entries[1].display_name.startswith("Anonymous #")


def test_friends_board_from_each_viewer(g: Gamification) -> None:
    _social(g)
    g.social.add_friend("eve", "cat")
    # eve sees herself, friends_only bob (a friend), not private cat.
    assert [e.user_id for e in g.boards.get("xp", scope="friends", viewer="eve").entries] == [
        "bob", "eve"]  # fmt: skip
    # cat is private: off every board, cat's own included; cat's line is hidden, with the
    # rank cat would have, and eve keeps the rank everyone else sees.
    cat = g.boards.get("xp", scope="friends", viewer="cat")
    assert [(e.user_id, e.rank) for e in cat.entries] == [("eve", 1)]
    assert cat.viewer is not None and (cat.viewer.rank, cat.viewer.hidden) == (1, True)
    # ann has no friends: only herself.
    assert [e.user_id for e in g.boards.get("xp", scope="friends", viewer="ann").entries] == [
        "ann"]  # fmt: skip


def test_group_board_from_self_friend_and_stranger(g: Gamification) -> None:
    _social(g)
    stranger = [e.user_id for e in g.boards.get("xp", scope="group", group="gym-1").entries]
    assert stranger == ["ann", "dan", "eve"]  # public members only
    friend = g.boards.get("xp", scope="group", group="gym-1", viewer="eve")
    assert [(e.user_id, e.rank) for e in friend.entries] == [
        ("ann", 1), ("bob", 2), ("dan", 3), ("eve", 4)]  # fmt: skip
    me = g.boards.get("xp", scope="group", group="gym-1", viewer="cat")  # private cat
    assert [(e.user_id, e.rank) for e in me.entries] == [("ann", 1), ("dan", 2), ("eve", 3)]
    assert me.viewer is not None and (me.viewer.rank, me.viewer.hidden) == (2, True)
    g.social.leave_group("ann", "gym-1")
    left = g.boards.get("xp", scope="group", group="gym-1").entries
    assert "ann" not in [e.user_id for e in left]
    assert g.social.groups("bob") == {"gym-1": "gym"}


def test_anonymous_names_are_stable_and_not_the_user_id(make_engine: Make, db_path: Any) -> None:
    g = make_engine(db_path)
    g.social.set_privacy("dan", display_name_type="anonymous")
    name = g._parts.social.anonymous_name("dan")
    assert name.startswith("Anonymous #") and len(name) == len("Anonymous #1234")
    g.close()
    again = make_engine(db_path)
    assert again._parts.social.anonymous_name("dan") == name


class HostGraph:
    @hookimpl
    def friends_of(self, user_id: str) -> Iterable[str] | None:
        return ["bob"] if user_id == "eve" else None


def test_friends_of_hook_answers_for_the_host(make_engine: Make) -> None:
    g = make_engine(config=public(), plugins=(HostGraph(),))
    g.award_xp("eve", 5, source="t")
    g.award_xp("bob", 9, source="t")
    g.award_xp("ann", 7, source="t")
    g.social.add_friend("eve", "ann")  # the host's answer wins for eve
    assert g.social.friends("eve") == ["bob"]
    assert [e.user_id for e in g.boards.get("xp", scope="friends", viewer="eve").entries] == [
        "bob", "eve"]  # fmt: skip
    assert g.social.friends("ann") == ["eve"]  # no answer for ann: stored edges


# -- closing periods --------------------------------------------------------------------------


REWARDS = (
    RankReward(ranks=(1, 3), points={"points": 500}),
    RankReward(top_percent=10, title="Top 10%"),
)


class Closed:
    def __init__(self) -> None:
        self.closes: list[PeriodClose] = []

    @hookimpl
    def on_leaderboard_closed(self, close: PeriodClose) -> None:
        self.closes.append(close)


def test_close_archives_with_movement_and_pays_rewards_once(
    make_engine: Make, clock: FakeClock
) -> None:
    seen = Closed()
    boards = (BoardConfig("xp", periods=("all_time", "weekly"), rewards=REWARDS),)
    g = make_engine(config=public(boards=boards), plugins=(seen,))
    clock.set(datetime(2026, 11, 17, 12, tzinfo=UTC))  # week 47
    for i in range(12):
        g.award_xp(f"u{i:02d}", 100 - i, source="t")
    clock.set(datetime(2026, 11, 24, 12, tzinfo=UTC))  # week 48
    for i, xp in [(5, 500), (0, 400), (1, 50)]:
        g.award_xp(f"u{i:02d}", xp, source="t")
    g.award_xp("new", 60, source="t")
    closed = g.boards.close_periods(datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC))
    assert [(c.period, c.period_key, c.ranked) for c in closed] == [("weekly", "2026-W47", 12)]
    assert seen.closes == closed
    assert g.boards.close_periods(datetime(2026, 11, 23, 1, tzinfo=UTC)) == []
    w47 = g.boards.get("xp", period="weekly", period_key="2026-W47")
    assert w47.closed and w47.total == 12
    assert [(e.rank, e.user_id, e.movement) for e in w47.entries[:2]] == [
        (1, "u00", "new"), (2, "u01", "new")]  # fmt: skip
    # Top 3 got 500 points once; the top 10% (2 of 12) a title; nobody else anything.
    assert [g.balance(f"u{i:02d}", "points") for i in range(4)] == [500, 500, 500, 0]
    assert "Top 10%" in g.profile("u01").titles and "Top 10%" not in g.profile("u02").titles
    clock.set(datetime(2026, 12, 1, 12, tzinfo=UTC))
    g.jobs.run_due()  # the leaderboard_close job closes W48 (and pays it) only once
    g.jobs.run_due(clock() + timedelta(hours=1))
    w48 = g.boards.get("xp", period="weekly", period_key="2026-W48")
    assert [(e.rank, e.user_id, e.previous_rank, e.movement) for e in w48.entries] == [
        (1, "u05", 6, "up"),
        (2, "u00", 1, "down"),
        (3, "new", None, "new"),
        (4, "u01", 2, "down"),
    ]
    assert g.balance("u05", "points") == 500 and g.balance("u00", "points") == 1000
    assert g.boards.rank("u01", "xp", period="weekly", period_key="2026-W48").rank == 4  # type: ignore[union-attr]
    around = g.boards.around("u00", "xp", period="weekly", period_key="2026-W48", n=1)
    assert [e.user_id for e in around.entries] == ["u05", "u00", "new"]
    assert g.verify_ledger().ok


def test_late_award_into_a_closed_period_is_not_counted(make_engine: Make) -> None:
    g = make_engine(config=public())
    g.award_xp("ann", 5, source="t")
    g.boards.close_periods(START + timedelta(days=1))
    g.award_xp("ann", 7, source="t", at=START)  # backdated into the closed day
    assert board_of(g, period="daily", period_key="2026-03-02") == [(1, "ann", 5)]
    assert board_of(g) == [(1, "ann", 12)]  # all-time never closes


def test_season_board(make_engine: Make, clock: FakeClock) -> None:
    seasons = (
        Season("s1", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        Season("s2", datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)),
    )
    boards = (BoardConfig("xp", periods=("all_time", "season")),)
    g = make_engine(config=public(boards=boards, seasons=seasons))
    g.award_xp("ann", 5, source="t")
    clock.set(datetime(2026, 4, 2, tzinfo=UTC))
    g.award_xp("ann", 1, source="t")
    g.award_xp("bob", 3, source="t")
    assert board_of(g, period="season", period_key="s1") == [(1, "ann", 5)]
    assert board_of(g, period="season") == [(1, "bob", 3), (2, "ann", 1)]
    g.boards.close_periods(datetime(2026, 7, 1, tzinfo=UTC))
    s2 = g.boards.get("xp", period="season", period_key="s2")
    assert [(e.user_id, e.movement) for e in s2.entries] == [("bob", "new"), ("ann", "down")]
    clock.set(datetime(2026, 8, 1, tzinfo=UTC))
    with pytest.raises(errors.InvalidInput, match="no season is active"):
        g.boards.get("xp", period="season")


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda g: g.boards.get("nope"), "board"),
        (lambda g: g.boards.get("xp", period="yearly"), "period"),
        (lambda g: g.boards.get("xp", period="daily", period_key="2026-13"), "period_key"),
        (lambda g: g.boards.get("xp", scope="world"), "scope"),
        (lambda g: g.boards.get("xp", scope="group", group="nope"), "group"),
        (lambda g: g.boards.get("xp", scope="group"), "group"),
        (lambda g: g.boards.get("xp", scope="friends"), "viewer"),
        (lambda g: g.boards.get("xp", limit=0), "limit"),
        (lambda g: g.boards.get("xp", limit=1001), "limit"),
        (lambda g: g.boards.get("xp", offset=-1), "offset"),
        (lambda g: g.boards.rank("ann", "nope"), "board"),
        (lambda g: g.boards.around("ann", "xp", n=0), "n"),
        (lambda g: g.social.add_friend("ann", "ann"), "friend_id"),
        (lambda g: g.social.remove_friend("ann", "ann"), "friend_id"),
        (lambda g: g.social.join_group("ann", "gym-1", kind="school"), "kind"),
        (lambda g: g.social.join_group("ann", "", kind="gym"), "group"),
        (lambda g: g.social.leave_group("ann", "nope"), "group"),
        (lambda g: g.social.set_privacy("ann", visibility="everyone"), "visibility"),
        (lambda g: g.social.set_privacy("ann", show_on_global=1), "show_on_global"),
        (lambda g: g.social.set_privacy("ann", display_name_type="nick"), "display_name_type"),
        (lambda g: g.social.set_privacy("ann", username="x" * 101), "username"),
    ],
)
def test_bad_input_is_refused_with_nothing_written(
    g: Gamification, call: Callable[[Gamification], object], field: str
) -> None:
    g.social.join_group("bob", "gym-1", kind="gym")
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        call(g)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("leaderboards", "path"),
    [
        ({"boards": [{"key": "xp", "source": "karma"}]}, "leaderboards.boards[0].source"),
        ({"boards": [{"key": "c", "source": "points"}]}, "leaderboards.boards[0].currency"),
        ({"boards": [{"key": "m", "source": "metric"}]}, "leaderboards.boards[0].metric"),
        ({"boards": [{"key": "x", "periods": ["yearly"]}]}, "leaderboards.boards[0].periods"),
        ({"boards": [{"key": "x"}, {"key": "x"}]}, "leaderboards.boards[1].key"),
        ({"boards": [{"key": "x", "periods": ["season"]}]}, "leaderboards.boards[0].periods"),
        (
            {"boards": [{"key": "x", "rewards": [{"ranks": [3, 1], "title": "t"}]}]},
            "leaderboards.boards[0].rewards[0].ranks",
        ),
        (
            {"boards": [{"key": "x", "rewards": [{"top_percent": 10}]}]},
            "leaderboards.boards[0].rewards[0]",
        ),
        ({"timezone": "Mars/Base"}, "leaderboards.timezone"),
        ({"week_start": "someday"}, "leaderboards.week_start"),
        (
            {
                "seasons": [
                    {
                        "key": "a",
                        "starts_at": "2026-02-01T00:00:00+00:00",
                        "ends_at": "2026-01-01T00:00:00+00:00",
                    }
                ]
            },
            "leaderboards.seasons[0].ends_at",
        ),
    ],
)
def test_config_problems_name_the_field(leaderboards: dict[str, Any], path: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config.from_dict({"leaderboards": leaderboards})
    assert path in [p.split(":")[0] for p in info.value.problems], info.value.problems


def test_config_loads_from_toml_shaped_dict() -> None:
    config = Config.from_dict({"leaderboards": {
        "timezone": "Europe/Berlin", "show_on_global": True,
        "boards": [{"key": "xp", "rewards": [{"ranks": [1, 3], "points": {"points": 500}}]}],
    }})  # fmt: skip
    board = config.leaderboards.board("xp")
    assert board is not None and board.rewards[0].ranks == (1, 3)
    assert Config.from_dict(config.to_dict()) == config


def test_scored_event_is_what_scorers_receive() -> None:
    event = ScoredEvent("ann", "walk", 1.0, None, START)
    assert event.user_id == "ann"


def test_documented_leaderboards_toml_is_a_valid_config() -> None:
    import tomllib

    from docs_text import block_containing

    config = Config.from_dict(tomllib.loads(block_containing("toml", "[leaderboards]")))
    assert [b.key for b in config.leaderboards.boards] == ["xp", "runners"]
    assert config.leaderboards.seasons[0].key == "s1"
