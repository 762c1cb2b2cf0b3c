"""track(): metrics, day buckets in the user's time zone, rules with daily limits, bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, CurrencyConfig, FakeClock, Gamification, errors
from gamification_sdk.progression.events import _in_window
from gamification_sdk.progression.metrics import whole_hours

Make = Callable[..., Gamification]
FIXTURE = HealthCheck.function_scoped_fixture

RULES = {
    "rules": [
        {"event": "post_created", "xp": 10, "points": {"points": 5}, "daily_limit": 2},
        {"event": "comment_created", "xp": 5},
    ]
}


def metric(g: Gamification, user: str, name: str) -> tuple[Any, ...]:
    row = g.db.execute(
        "SELECT count, sum, max, days FROM metrics WHERE user_id = ? AND metric = ?", (user, name)
    ).fetchone()
    return tuple(row) if row else (0, 0, 0, 0)


def days(g: Gamification, user: str, name: str) -> list[tuple[str, int]]:
    return [
        (day, count)
        for day, count in g.db.execute(
            "SELECT day, count FROM metric_days WHERE user_id = ? AND metric = ? ORDER BY day",
            (user, name),
        )
    ]


def test_track_keeps_count_sum_max_and_active_days(g: Gamification, clock: FakeClock) -> None:
    g.track("ada", "workout", value=30)
    g.track("ada", "workout", value=45.5)
    clock.advance(days=1)
    g.track("ada", "workout", value=10)
    g.track("ada", "meal")
    assert metric(g, "ada", "workout") == (3, 85.5, 45.5, 2)
    assert metric(g, "ada", "meal") == (1, 1, 1, 1)
    assert metric(g, "ada", "~active")[3] == 2  # two distinct local days
    assert days(g, "ada", "workout") == [("2026-03-02", 2), ("2026-03-03", 1)]


def test_rules_pay_from_data_and_stop_at_the_daily_limit(g: Gamification, clock: FakeClock) -> None:
    g.events.load(RULES, name="rules")
    paid = [g.track("ada", "post_created") for _ in range(3)]
    assert [r.rewarded for r in paid] == [True, True, False]
    assert paid[0].xp is not None and paid[0].xp.amount == 10
    assert paid[0].points[0].amount == 5 and paid[0].points[0].type == "earned"
    assert paid[2].xp is None and paid[2].points == ()
    assert g.profile("ada").xp == 20 and g.balance("ada", "points") == 10
    clock.advance(days=1)  # a new local day resets the limit
    assert g.track("ada", "post_created").rewarded
    assert g.track("ada", "comment_created").xp.amount == 5  # type: ignore[union-attr]
    assert g.track("ada", "unknown_event").xp is None  # no rule: counted, not paid
    assert not g.verify_ledger()


def test_day_buckets_follow_the_users_time_zone(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=Config(default_timezone="America/New_York"))
    clock.set(datetime(2026, 3, 3, 3, 30, tzinfo=UTC))  # 22:30 on March 2nd in New York
    g.track("ada", "post")
    clock.set(datetime(2026, 3, 3, 5, 30, tzinfo=UTC))  # 00:30 on March 3rd
    g.track("ada", "post")
    assert days(g, "ada", "post") == [("2026-03-02", 1), ("2026-03-03", 1)]


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-03-08", 23), ("2026-11-01", 25)],  # New York's spring-forward and fall-back days
)
def test_dst_days_are_one_local_day(make_engine: Make, day: str, hours: int) -> None:
    g = make_engine(config=Config(default_timezone="America/New_York"))
    start = datetime.fromisoformat(f"{day}T00:00:00").replace(
        tzinfo=__import__("zoneinfo").ZoneInfo("America/New_York")
    )
    # One event at every UTC half hour of the local day: all land in the same bucket.
    moments = [start.astimezone(UTC) + timedelta(minutes=30 * i) for i in range(hours * 2)]
    for moment in moments:
        g.track("ada", "tick", at=moment)
    assert days(g, "ada", "tick") == [(day, hours * 2)]
    g.track("ada", "tick", at=moments[-1] + timedelta(minutes=30))
    assert days(g, "ada", "tick")[-1][1] == 1  # local midnight started the next day


@pytest.mark.parametrize(
    ("day", "hours", "twice"),
    [("2026-03-08", 23, []), ("2026-11-01", 25, [1])],  # 02:00 is skipped, 01:00 repeated
)
def test_every_event_counts_in_its_local_hour_of_the_day(
    make_engine: Make, day: str, hours: int, twice: list[int]
) -> None:
    g = make_engine(config=Config(default_timezone="America/New_York"))
    start = datetime.fromisoformat(f"{day}T00:00:00").replace(
        tzinfo=__import__("zoneinfo").ZoneInfo("America/New_York")
    )
    for i in range(hours * 2):
        g.track("ada", "tick", value=2, at=start.astimezone(UTC) + timedelta(minutes=30 * i))
    found = g.db.execute(
        "SELECT hour, count, sum FROM metric_hours WHERE user_id = 'ada' AND event = 'tick' "
        "ORDER BY hour"
    ).fetchall()
    expected = [(h, 2 * (1 + (h in twice)), 4 * (1 + (h in twice)))
                for h in range(24) if not (hours == 23 and h == 2)]  # fmt: skip
    assert found == expected


@given(st.integers(0, 1439), st.integers(0, 1439))
def test_whole_hours_are_the_hours_a_window_holds_entirely(lo: int, hi: int) -> None:
    start, end = f"{lo // 60:02d}:{lo % 60:02d}", f"{hi // 60:02d}:{hi % 60:02d}"
    held = [h for h in range(24) if all(_in_window(h * 60 + m, start, end) for m in range(60))]
    assert whole_hours(start, end) == (held if lo != hi else [])


def test_backdated_events_count_in_their_own_day(g: Gamification, clock: FakeClock) -> None:
    g.track("ada", "post")
    g.track("ada", "post", at=clock() - timedelta(days=3))
    assert days(g, "ada", "post") == [("2026-02-27", 1), ("2026-03-02", 1)]
    assert metric(g, "ada", "~active")[3] == 2


def test_metadata_goes_with_the_rules_xp(g: Gamification) -> None:
    g.events.load(RULES, name="rules")
    g.track("ada", "comment_created", metadata={"post": 42})
    assert g.xp.history("ada")[0].metadata == {"post": 42}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event": ""}, "event"),
        ({"event": "x" * 101}, "event"),
        ({"event": "bad\nname"}, "event"),
        ({"event": "~active"}, "event"),
        ({"event": "a@b"}, "event"),
        ({"event": 5}, "event"),
        ({"value": -1}, "value"),
        ({"value": float("nan")}, "value"),
        ({"value": float("inf")}, "value"),
        ({"value": True}, "value"),
        ({"value": "3"}, "value"),
        ({"value": 2**53 + 1}, "value"),
        ({"user_id": ""}, "user_id"),
        ({"at": datetime(2026, 1, 1)}, "at"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"metadata": {1, 2}}, "metadata"),
    ],
)
def test_bad_track_input_is_refused_and_writes_nothing(
    g: Gamification, kwargs: dict[str, Any], field: str
) -> None:
    g.events.load(RULES, name="rules")
    g.track("ada", "post_created")
    call: dict[str, Any] = {"user_id": "ada", "event": "post_created", **kwargs}
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.track(call.pop("user_id"), call.pop("event"), **call)
    assert info.value.field == field


def test_a_known_event_name_is_still_checked_as_given(g: Gamification) -> None:
    # Names that passed the check are remembered: a str subclass spelling one is not it,
    # and a refused name is refused again.
    class Name(str):
        pass

    g.track("ada", "post_created")
    for bad in (Name("post_created"), "a@b", "a@b"):
        with unchanged(g), pytest.raises(errors.InvalidInput) as info:
            g.track("ada", bad)
        assert info.value.field == "event"


def test_a_vetoed_rule_reward_writes_nothing(make_engine: Make) -> None:
    from gamification_sdk import hookimpl

    class NoXP:
        @hookimpl
        def validate_award(self, award: Any) -> str | None:
            return "frozen account" if award.user_id == "bob" else None

    g = make_engine(plugins=(NoXP(),))
    g.events.load(RULES, name="rules")
    g.track("ada", "post_created")
    with unchanged(g), pytest.raises(errors.Rejected):
        g.track("bob", "post_created")


def test_track_replay_with_key_returns_the_first_result(g: Gamification, clock: FakeClock) -> None:
    g.events.load(RULES, name="rules")
    first = g.track("ada", "post_created", idempotency_key="evt-1")
    clock.advance(minutes=1)
    with unchanged(g):
        again = g.track("ada", "post_created", idempotency_key="evt-1")
    assert again == first
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.track("ada", "comment_created", idempotency_key="evt-1")


@settings(max_examples=40, deadline=None, suppress_health_check=[FIXTURE])
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["ada", "bob"]),
            st.sampled_from(["post_created", "comment_created", "other"]),
            st.integers(0, 100),
            st.integers(0, 72),
        ),
        max_size=30,
    )
)
def test_metrics_and_rewards_match_a_replay(
    events: list[tuple[str, str, int, int]],
) -> None:
    """Counts, sums and paid XP equal what a plain Python replay of the events says."""
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    with Gamification.open(
        ":memory:", clock=clock, load_entrypoints=False,
        config=Config(currencies=(CurrencyConfig("points"),)),
    ) as g:  # fmt: skip
        g.events.load(RULES, name="rules")
        expected: dict[tuple[str, str], list[int]] = {}
        paid_today: dict[tuple[str, str, str], int] = {}
        xp: dict[str, int] = {}
        for user, event, value, hours in events:
            at = clock() + timedelta(hours=hours)
            g.track(user, event, value=value, at=at)
            count_sum = expected.setdefault((user, event), [0, 0])
            count_sum[0] += 1
            count_sum[1] += value
            day = at.date().isoformat()
            n = paid_today[(user, event, day)] = paid_today.get((user, event, day), 0) + 1
            if event == "post_created" and n <= 2:
                xp[user] = xp.get(user, 0) + 10
            elif event == "comment_created":
                xp[user] = xp.get(user, 0) + 5
        for (user, event), (count, total) in expected.items():
            assert metric(g, user, event)[:2] == (count, total)
        for user in ("ada", "bob"):
            if user in xp or any(e[0] == user for e in events):
                assert g.profile(user).xp == xp.get(user, 0)
        assert not g.verify_ledger()


def test_a_replay_rebuilds_unlocks_progress_xp_and_points(
    g: Gamification, clock: FakeClock
) -> None:
    g.events.load(
        {**RULES, "achievements": [
            {"key": "w", "name": "W", "criteria": {"type": "count", "event": "post_created"},
             "tiers": [{"name": "t1", "target": 1, "rewards": {"xp": 3, "points": {"points": 1}}},
                       {"name": "t2", "target": 4}]},
            {"key": "hidden", "name": "H", "hidden": True,
             "criteria": {"type": "first_time", "event": "post_created"}}]},
        name="replay",
    )  # fmt: skip
    first = g.track("ada", "post_created", idempotency_key="p1", metadata={"n": 1})
    assert first.unlocked and first.progress and first.xp and first.points
    clock.advance(hours=1)
    with unchanged(g):
        assert g.track("ada", "post_created", idempotency_key="p1", metadata={"n": 1}) == first
