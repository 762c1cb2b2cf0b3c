"""Streaks: local days, freezes, rest days, the sweep, and reads that settle missed days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification
from gamification_sdk.config import StreaksConfig
from gamification_sdk.errors import ConfigError, InvalidInput
from gamification_sdk.progression.metrics import day_bounds, local_day

Make = Callable[..., Gamification]
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")


def at_local(day: date, hour: int, zone: ZoneInfo, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def kinds(g: Gamification, user: str) -> list[str]:
    return [n.kind for n in reversed(g.notifications.list(user, unread_only=False, limit=100))]


def test_consecutive_days_count_and_a_gap_breaks_on_read(g: Gamification) -> None:
    day = date(2026, 3, 2)
    for i in range(3):
        status = g.streaks.record_activity("ada", at=at_local(day + timedelta(days=i), 9, UTC))
    assert (status.current, status.longest, status.extended_today) == (3, 3, True)
    assert status.last_active_day == date(2026, 3, 4)
    # The next day, not yet active: alive but at risk.
    tomorrow = g.streaks.get("ada", at=at_local(date(2026, 3, 5), 12, UTC))
    assert (tomorrow.current, tomorrow.at_risk, tomorrow.extended_today) == (3, True, False)
    # A whole day missed: broken on read, before any sweep ran.
    later = g.profile("ada", at=at_local(date(2026, 3, 6), 12, UTC)).streak
    assert later is not None and (later.current, later.longest) == (0, 3)
    # Coming back starts a new streak of 1.
    again = g.streaks.record_activity("ada", at=at_local(date(2026, 3, 6), 13, UTC))
    assert (again.current, again.longest) == (1, 3)
    assert kinds(g, "ada") == ["streak_broken"]


def test_the_sweep_writes_down_what_reads_already_showed(g: Gamification) -> None:
    for i in range(4):
        g.streaks.record_activity("ada", at=at_local(date(2026, 3, 2) + timedelta(days=i), 9, UTC))
    g.streaks.grant_freezes("bob", 1, at=at_local(date(2026, 3, 2), 8, UTC))
    for i in range(2):
        g.streaks.record_activity("bob", at=at_local(date(2026, 3, 2) + timedelta(days=i), 9, UTC))
    now = at_local(date(2026, 3, 8), 1, UTC)
    before = {u: g.streaks.get(u, at=now) for u in ("ada", "bob")}
    report = g.streaks.sweep(now)
    assert (report.users, report.broken, report.freezes_used) == (2, 2, 1)
    assert {u: g.streaks.get(u, at=now) for u in ("ada", "bob")} == before
    assert kinds(g, "ada") == ["streak_broken"]
    assert kinds(g, "bob") == ["streak_freeze_used", "streak_broken"]
    with unchanged(g):
        again = g.streaks.sweep(now)
        g.streaks.sweep(now + timedelta(minutes=30))
    assert (again.users, again.broken, again.freezes_used) == (0, 0, 0)


def test_a_freeze_bridges_a_missed_day_without_adding_to_the_count(g: Gamification) -> None:
    g.streaks.grant_freezes("ada", 1, at=at_local(date(2026, 3, 1), 8, UTC))
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 2), 9, UTC))
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 3), 9, UTC))
    # March 4 missed: the freeze covers it.
    on_5th = g.streaks.get("ada", at=at_local(date(2026, 3, 5), 9, UTC))
    assert (on_5th.current, on_5th.freezes) == (2, 0)
    status = g.streaks.record_activity("ada", at=at_local(date(2026, 3, 5), 10, UTC))
    assert (status.current, status.longest, status.freezes) == (3, 3, 0)
    assert g.users.inventory("ada").items == {}
    rows = g.db.execute("SELECT day, kind FROM streak_log WHERE user_id = 'ada'").fetchall()
    assert rows == [("2026-03-04", "freeze_used")]
    # Two missed days with no freeze left: broken on the first of them.
    g.streaks.sweep(at_local(date(2026, 3, 8), 0, UTC, minute=5))
    assert g.streaks.get("ada", at=at_local(date(2026, 3, 8), 9, UTC)).current == 0
    broken = g.db.execute("SELECT day FROM streak_log WHERE kind = 'broken'").fetchall()
    assert broken == [("2026-03-06",)]


def test_freezes_granted_later_do_not_save_days_already_over(g: Gamification) -> None:
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 2), 9, UTC))
    # March 3 is missed; the freeze arrives on March 4, too late for it.
    status = g.streaks.grant_freezes("ada", 1, at=at_local(date(2026, 3, 4), 9, UTC))
    assert (status.current, status.freezes) == (0, 1)


def test_rest_days_neither_break_nor_extend(g: Gamification, clock: FakeClock) -> None:
    clock.set(at_local(date(2026, 3, 2), 8, UTC))  # a Monday
    g.streaks.record_activity("ada")
    g.streaks.schedule_rest_day("ada", date(2026, 3, 3))
    status = g.streaks.schedule_rest_day("ada", date(2026, 3, 5))
    assert status.rest_days == (date(2026, 3, 3), date(2026, 3, 5))
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 4), 9, UTC))
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 6), 9, UTC))
    assert g.streaks.get("ada", at=at_local(date(2026, 3, 6), 10, UTC)).current == 3
    # Resting on a rest day is not "at risk".
    assert not g.streaks.get("ada", at=at_local(date(2026, 3, 5), 20, UTC)).at_risk


def test_rest_day_rules_refuse_and_write_nothing(g: Gamification, clock: FakeClock) -> None:
    clock.set(at_local(date(2026, 3, 4), 8, UTC))  # a Wednesday
    g.streaks.schedule_rest_day("ada", date(2026, 3, 5))
    g.streaks.schedule_rest_day("ada", date(2026, 3, 8))
    with unchanged(g):
        with pytest.raises(InvalidInput, match=r"day: .*past"):
            g.streaks.schedule_rest_day("ada", date(2026, 3, 3))
        with pytest.raises(InvalidInput, match="day: the week of 2026-03-02 already has 2"):
            g.streaks.schedule_rest_day("ada", date(2026, 3, 6))
        with pytest.raises(InvalidInput, match=r"day: expected a datetime.date"):
            g.streaks.schedule_rest_day("ada", datetime(2026, 3, 9, tzinfo=UTC))  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match=r"day: .*year ahead"):
            g.streaks.schedule_rest_day("ada", date(2027, 6, 1))
        with pytest.raises(InvalidInput, match=r"day: .*past"):
            g.streaks.cancel_rest_day("ada", date(2026, 3, 3))
        g.streaks.schedule_rest_day("ada", date(2026, 3, 5))  # again: a no-op
    g.streaks.cancel_rest_day("ada", date(2026, 3, 5))
    assert g.streaks.schedule_rest_day("ada", date(2026, 3, 6)).rest_days == (
        date(2026, 3, 6), date(2026, 3, 8),
    )  # fmt: skip


def test_invalid_time_zone_is_refused(g: Gamification) -> None:
    g.streaks.record_activity("ada")
    with unchanged(g):
        for bad in ("Mars/Olympus", "", "UTC+3", "../etc/passwd"):
            with pytest.raises(InvalidInput, match="timezone"):
                g.users.set_timezone("ada", bad)
    with pytest.raises(ConfigError, match="default_timezone"):
        Config(default_timezone="Nowhere/City")


def test_far_apart_zones_have_different_days_at_one_instant(g: Gamification) -> None:
    g.users.set_timezone("kiri", "Pacific/Kiritimati")  # UTC+14
    g.users.set_timezone("pago", "Pacific/Pago_Pago")  # UTC-11
    moment = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    kiri = g.streaks.record_activity("kiri", at=moment)
    pago = g.streaks.record_activity("pago", at=moment)
    assert kiri.today == date(2026, 3, 3)
    assert pago.today == date(2026, 3, 1)
    assert g.profile("kiri").timezone == "Pacific/Kiritimati"
    # A day later both are on their next local day.
    later = moment + timedelta(hours=24)
    assert g.streaks.record_activity("kiri", at=later).current == 2
    assert g.streaks.record_activity("pago", at=later).current == 2


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25)),
        ("America/Los_Angeles", date(2026, 3, 8), date(2026, 11, 1)),
    ],
)
def test_dst_days_of_23_and_25_hours(
    g: Gamification, zone: str, spring: date, autumn: date
) -> None:
    place = ZoneInfo(zone)
    for day, hours in ((spring, 23), (autumn, 25)):
        start, end = day_bounds(day, zone)
        assert end - start == timedelta(hours=hours)
        user = f"{zone}-{day}"
        g.users.set_timezone(user, zone)
        # Late at night the day before, then the first and last minutes of the short or long
        # day, then early the day after: three local days, one streak.
        g.streaks.record_activity(user, at=at_local(day - timedelta(days=1), 23, place, 59))
        assert g.streaks.record_activity(user, at=start).current == 2
        assert g.streaks.record_activity(user, at=end - timedelta(minutes=1)).extended_today
        status = g.streaks.record_activity(user, at=end)
        assert (status.current, status.today) == (3, day + timedelta(days=1))


def test_day_start_hour_keeps_late_nights_in_the_day(make_engine: Make) -> None:
    g = make_engine(config=Config(day_start_hour=4, default_timezone="Europe/Berlin"))
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 2), 20, BERLIN))
    # 02:30 on the 3rd still belongs to the 2nd; 04:30 starts the 3rd.
    assert (
        g.streaks.record_activity("ada", at=at_local(date(2026, 3, 3), 2, BERLIN, 30)).current == 1
    )
    assert (
        g.streaks.record_activity("ada", at=at_local(date(2026, 3, 3), 4, BERLIN, 30)).current == 2
    )
    three_am = at_local(date(2026, 3, 3), 3, BERLIN)
    assert local_day(three_am, "Europe/Berlin", 4)[0] == date(2026, 3, 2)


def test_bonus_xp_and_earned_freezes_follow_config(make_engine: Make) -> None:
    config = Config(
        streaks=StreaksConfig(bonus_xp_per_day=5, bonus_xp_cap=100, freeze_every=7,
                              max_earned_freezes=2),
    )  # fmt: skip
    g = make_engine(config=config)
    day = date(2026, 3, 2)
    for i in range(30):
        g.streaks.record_activity("ada", at=at_local(day + timedelta(days=i), 9, UTC))
    xp = [e.amount for e in reversed(g.xp.history("ada", limit=100)) if e.source == "streak"]
    assert xp == [min(n * 5, 100) for n in range(2, 31)]  # seed 000: min(streak x 5, 100)
    # Days 7 and 14 earned one each; at two held, days 21 and 28 earn nothing.
    assert g.streaks.get("ada").freezes == 2
    earned = g.db.execute("SELECT day FROM streak_log WHERE kind = 'freeze_earned'").fetchall()
    assert [d for (d,) in earned] == ["2026-03-08", "2026-03-15"]


def test_tracked_events_keep_the_streak_and_feed_streak_achievements(make_engine: Make) -> None:
    g = make_engine(config=Config(streaks=StreaksConfig(activity_events=("workout",))))
    g.events.load(
        {"achievements": [
            {"key": "three", "name": "Three", "criteria": {"type": "streak", "target": 3}},
        ]},
        name="streaks",
    )  # fmt: skip
    g.streaks.grant_freezes("ada", 1, at=at_local(date(2026, 3, 1), 9, UTC))
    g.track("ada", "workout", at=at_local(date(2026, 3, 2), 9, UTC))
    g.track("ada", "login", at=at_local(date(2026, 3, 3), 9, UTC))  # not activity: frozen
    g.track("ada", "workout", at=at_local(date(2026, 3, 4), 9, UTC))
    assert g.streaks.get("ada", at=at_local(date(2026, 3, 4), 10, UTC)).current == 2
    result = g.track("ada", "workout", at=at_local(date(2026, 3, 5), 9, UTC))
    assert [u.key for u in result.unlocked] == ["three"]


def test_at_risk_warning_once_per_day_in_the_users_evening(make_engine: Make) -> None:
    g = make_engine(config=Config(streaks=StreaksConfig(at_risk_hours=3)))
    g.users.set_timezone("ada", "America/Los_Angeles")
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 2), 9, LA))
    assert g.streaks.sweep(at_local(date(2026, 3, 3), 20, LA)).warned == 0  # 4 hours left
    assert g.streaks.sweep(at_local(date(2026, 3, 3), 21, LA, 30)).warned == 1
    assert g.streaks.sweep(at_local(date(2026, 3, 3), 22, LA, 30)).warned == 0
    assert kinds(g, "ada") == ["streak_at_risk"]
    g.streaks.record_activity("ada", at=at_local(date(2026, 3, 4), 9, LA))
    assert g.streaks.sweep(at_local(date(2026, 3, 4), 22, LA)).warned == 0  # active today


def test_streak_config_is_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        Config(streaks=StreaksConfig(rest_days_per_week=8, at_risk_hours=-1), day_start_hour=24)
    assert "streaks.rest_days_per_week: expected an int from 0 to 7, got 8" in str(caught.value)
    assert "streaks.at_risk_hours" in str(caught.value)
    assert "day_start_hour" in str(caught.value)


# -- the model: a day-by-day simulation the engine must agree with --------------------------

DAY_KINDS = st.sampled_from(["active", "active", "active", "miss", "rest"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.lists(st.tuples(DAY_KINDS, st.integers(0, 2), st.sampled_from([None, 0, 10, 29])),
                  min_size=1, max_size=30),
)  # fmt: skip
def test_engine_agrees_with_a_day_by_day_model(
    make_engine: Make, days: list[tuple[str, int, int | None]]
) -> None:
    g = make_engine(config=Config(default_timezone="Europe/Berlin",
                                  streaks=StreaksConfig(rest_days_per_week=7)))  # fmt: skip
    start = date(2026, 3, 23)  # the week before Berlin's spring change, into April
    current = longest = freezes = 0
    for i, (kind, grant, sweep_minute) in enumerate(days):
        day = start + timedelta(days=i)
        morning = at_local(day, 0, BERLIN, 30)
        if grant:
            g.streaks.grant_freezes("ada", grant, at=morning)
            freezes += grant
        if kind == "rest":
            g.streaks.schedule_rest_day("ada", day, at=morning)
        if kind == "active":
            g.streaks.record_activity("ada", at=at_local(day, 12, BERLIN))
            current += 1
            longest = max(longest, current)
        elif kind == "miss" and current:
            if freezes:
                freezes -= 1
            else:
                current = 0
        if sweep_minute is not None:  # after the day ended, before the next day's actions
            g.streaks.sweep(at_local(day + timedelta(days=1), 0, BERLIN, sweep_minute))
        status = g.streaks.get("ada", at=at_local(day + timedelta(days=1), 1, BERLIN))
        assert (status.current, status.longest, status.freezes) == (current, longest, freezes)
        assert 0 <= status.current <= status.longest and status.freezes >= 0
