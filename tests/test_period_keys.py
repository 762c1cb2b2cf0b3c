"""Period keys: a key that names no possible period is refused, typed, naming the problem;
every period's own key is accepted and names that period again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    BoardConfig,
    Config,
    FakeClock,
    Gamification,
    LeaderboardsConfig,
    Season,
    errors,
)
from gamification_sdk.config.leaderboards import WEEKDAYS
from gamification_sdk.core.validation import EARLIEST, LATEST
from gamification_sdk.social.periods import Calendar, day_in, key_problem

Make = Callable[..., Gamification]
KINDS = ("daily", "weekly", "monthly")
SEASONS = (Season("s1", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),)
BOARD = BoardConfig("xp", periods=("all_time", "daily", "weekly", "monthly", "season"))
CONFIG = Config(
    leaderboards=LeaderboardsConfig(
        boards=(BOARD,), seasons=SEASONS, visibility="public", show_on_global=True
    )
)

BAD_KEYS = [
    ("monthly", "2026-13", "month 13 is not in 1 to 12"),
    ("monthly", "2026-00", "month 0 is not in 1 to 12"),
    ("monthly", "0000-05", "year 0 is out of range"),
    ("monthly", "2026-1", "a monthly key reads YYYY-MM"),
    ("weekly", "2026-W99", "2026 has ISO weeks 1 to 53, not 99"),
    ("weekly", "2026-W00", "2026 has ISO weeks 1 to 53, not 0"),
    ("weekly", "2027-W53", "2027 has ISO weeks 1 to 52, not 53"),
    ("weekly", "2021-W53", "2021 has ISO weeks 1 to 52, not 53"),
    ("weekly", "2026-47", "a weekly key reads YYYY-Www"),
    ("daily", "2026-02-30", "is not a date: day is out of range for month"),
    ("daily", "2027-02-29", "is not a date: day is out of range for month"),
    ("daily", "2026-13-01", "month 13 is not in 1 to 12"),
    ("daily", "2026-11-21\n", "a daily key reads YYYY-MM-DD"),
    ("daily", "\uff12\uff10\uff12\uff16-11-21", "a daily key reads YYYY-MM-DD"),  # wide digits
    ("daily", "20261121", "a daily key reads YYYY-MM-DD"),
    ("all_time", "2026", "the all_time key is 'all'"),
    ("season", "s9", "no season 's9' is configured (seasons: 's1')"),
    ("season", 7, "expected a season key (a string), got 7"),
]
READS: dict[str, Callable[..., object]] = {
    "leaderboard": lambda g, **kw: g.boards.get("xp", **kw),
    "leaderboard-group": lambda g, **kw: g.boards.get("xp", scope="group", group="gym", **kw),
    "rank": lambda g, **kw: g.boards.rank("ann", "xp", **kw),
    "around": lambda g, **kw: g.boards.around("ann", "xp", **kw),
}


@pytest.fixture
def game(make_engine: Make) -> Gamification:
    g = make_engine(config=CONFIG)
    g.award_xp("ann", 10, source="t")
    g.social.join_group("ann", "gym", kind="gym")
    return g


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize(("period", "key", "problem"), BAD_KEYS)
def test_an_impossible_period_key_is_refused_naming_the_problem(
    game: Gamification, read: str, period: str, key: object, problem: str
) -> None:
    with unchanged(game), pytest.raises(errors.InvalidInput) as info:
        READS[read](game, period=period, period_key=key)
    assert info.value.field == "period_key"
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("period", "key"),
    [("weekly", "2026-W53"), ("weekly", "2020-W53"), ("weekly", "2027-W52"),
     ("daily", "2028-02-29"), ("daily", "0001-01-01"), ("daily", "9999-12-31"),
     ("monthly", "2026-12"), ("all_time", "all"), ("season", "s1")],
)  # fmt: skip
def test_a_possible_period_key_reads_its_board(game: Gamification, period: str, key: str) -> None:
    board = game.boards.get("xp", period=period, period_key=key)
    assert board.period_key == key


def test_the_current_keys_read_the_current_board(game: Gamification) -> None:
    for period in ("daily", "weekly", "monthly", "season"):
        key = game.boards.get("xp", period=period).period_key
        board = game.boards.get("xp", period=period, period_key=key)
        assert [e.user_id for e in board.entries] == ["ann"]
        assert game.boards.rank("ann", "xp", period=period, period_key=key) is not None


# -- properties -----------------------------------------------------------------------------


@settings(max_examples=300)
@given(
    # The engine's range of times (validation.EARLIEST to LATEST): a week of year 1 starting
    # on a Tuesday would begin before the first date Python can hold.
    day=st.dates(min_value=EARLIEST.date(), max_value=LATEST.date()),
    week_start=st.sampled_from(WEEKDAYS),
)
def test_property_every_days_keys_round_trip(day: date, week_start: str) -> None:
    calendar = Calendar("UTC", week_start, ())
    periods = calendar.at(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
    for kind in KINDS:
        period = periods[kind]
        assert key_problem(kind, period.key) is None, period.key
        # The key names a day inside its period: the period holding that day has that key.
        named = day_in(kind, period.key)
        assert period.starts_at is not None and period.ends_at is not None
        assert period.starts_at.date() <= named < period.ends_at.date()
        again = calendar.at(datetime(named.year, named.month, named.day, tzinfo=UTC))[kind]
        assert again.key == period.key


def _names_a_period(kind: str, key: str) -> bool:
    """Whether ``key`` is the key of some period, by the standard library's own parsing."""
    try:
        if kind == "daily":
            return date.fromisoformat(key).isoformat() == key
        if kind == "weekly":
            year, week, _ = date.fromisoformat(f"{key}-1").isocalendar()
            return f"{year:04d}-W{week:02d}" == key
        first = date.fromisoformat(f"{key}-01")
        return f"{first.year:04d}-{first.month:02d}" == key
    except ValueError:
        return False


near_keys = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{4}-W[0-9]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}", fullmatch=True),
    st.from_regex(r"\d{4}-W?\d{1,2}(-\d{1,2})?\s?", fullmatch=True),
)


@settings(max_examples=500)
@given(kind=st.sampled_from(KINDS), key=near_keys)
def test_property_a_key_is_accepted_exactly_when_it_names_a_period(kind: str, key: str) -> None:
    problem = key_problem(kind, key)
    assert (problem is None) == _names_a_period(kind, key), (kind, key, problem)
    if problem is not None:
        with pytest.raises(ValueError) as info:
            day_in(kind, key)
        assert str(info.value) == problem


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(KINDS), key=near_keys)
def test_property_the_engine_refuses_what_names_no_period(
    game: Gamification, kind: str, key: str
) -> None:
    if _names_a_period(kind, key):
        assert game.boards.get("xp", period=kind, period_key=key).period_key == key
        return
    with pytest.raises(errors.InvalidInput) as info:
        game.boards.rank("ann", "xp", period=kind, period_key=key)
    assert info.value.field == "period_key"


def test_a_closed_periods_key_still_reads_its_archive(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=CONFIG)
    clock.set(datetime(2026, 12, 28, 12, tzinfo=UTC))  # Monday of 2026-W53
    g.award_xp("ann", 5, source="t")
    g.boards.close_periods(clock() + timedelta(days=7))
    where: dict[str, Any] = {"period": "weekly", "period_key": "2026-W53", "viewer": "ann"}
    board = g.boards.get("xp", **where)
    assert board.closed and board.viewer is not None and board.viewer.score == 5
