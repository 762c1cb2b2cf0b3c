"""Hour counts in the metric rows (m018): what track() keeps per local hour of the day, how a
file from before m018 keeps its hour counts, and a brute-force check of every metric row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification
from gamification_sdk.core.clock import to_text
from gamification_sdk.storage.schema import migrations

Make = Callable[..., Gamification]
HOURS = range(24)


def owl(key: str, start: str, end: str, target: int) -> dict[str, Any]:
    return {"key": key, "name": key, "criteria": {"type": "time_of_day", "event": "post",
            "start": start, "end": end, "target": target}}  # fmt: skip


def unlocked(g: Gamification) -> list[str]:
    return sorted(u.key for u in g.events.reevaluate().unlocked)


def hour_columns(g: Gamification, user: str, metric: str) -> list[tuple[int, int, Any]]:
    """(hour, count, sum) of the metric row's hour columns that are not zero."""
    names = ", ".join(f"h{h:02d}_count, h{h:02d}_sum" for h in HOURS)
    row = g.db.execute(
        f"SELECT {names} FROM metrics WHERE user_id = ? AND metric = ?", [user, metric]
    ).fetchone()
    return [(h, row[2 * h], row[2 * h + 1]) for h in HOURS if row[2 * h]]


def test_a_time_of_day_badge_added_later_counts_the_past_in_new_york(
    make_engine: Make, clock: FakeClock
) -> None:
    g = make_engine(config=Config(default_timezone="America/New_York"))
    clock.set(datetime(2026, 12, 1, tzinfo=UTC))
    for moment in [
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # 01:30 EST, the night clocks go forward
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 03:30 EDT (02:30 on a fixed -5)
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT, the night clocks go back
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 EST, the same hour again
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC),  # 02:30 EST
    ]:
        g.track("ada", "post", at=moment)
    assert hour_columns(g, "ada", "post") == [(1, 3, 3), (2, 1, 1), (3, 1, 1)]
    g.events.load(
        {"achievements": [owl("one", "01:00", "02:00", 3), owl("two", "02:00", "03:00", 2),
                          owl("three", "03:00", "04:00", 1), owl("night", "00:00", "04:00", 5)]},
        name="owls",
    )  # fmt: skip
    assert unlocked(g) == ["night", "one", "three"]
    assert g.achievements.get("ada", "two").current == 1
    # From now on the live count goes on from the past one.
    result = g.track("ada", "post", at=datetime(2026, 11, 30, 7, 15, tzinfo=UTC))  # 02:15 EST
    assert [u.key for u in result.unlocked] == ["two"]


def test_track_counts_the_hour_in_the_metric_row_and_the_view_shows_it(
    make_engine: Make,
) -> None:
    g = make_engine(config=Config(default_timezone="Europe/Paris"))
    statements: list[str] = []
    g.db.conn.set_trace_callback(statements.append)
    g.track("ada", "post", value=3, at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30 CEST
    g.db.conn.set_trace_callback(None)
    # The hour is counted by the metric's own upsert: no statement of its own.
    # (On PostgreSQL with the day's count, in one statement: metrics.COUNT_TODAY_AND_METRIC.)
    assert [s for s in statements if "h03_count" in s and "INSERT INTO metrics (" in s]
    assert not [s for s in statements if "metric_hours" in s]
    assert hour_columns(g, "ada", "post") == [(3, 1, 3)]
    view = "SELECT user_id, event, hour, count, sum FROM metric_hours"
    assert g.db.execute(view).fetchall() == [("ada", "post", 3, 1, 3)]


def test_a_file_from_before_m018_keeps_its_hour_counts(clock: FakeClock, db_path: Path) -> None:
    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m018_hours_in_metrics")
    when = to_text(clock())
    db.execute("INSERT INTO profiles (user_id, xp, level, timezone, created_at, updated_at) "
               "VALUES ('ada', 0, 1, 'Europe/Paris', ?, ?)", [when, when])  # fmt: skip
    old = {  # (user, event) -> the metric row's count and sum, and its hours as m016 kept them
        ("ada", "post"): (4, 9, [(1, 1, 2), (3, 2, 5), (23, 1, 2)]),
        ("ada", "login"): (1, 1, [(8, 1, 1)]),
        ("bob", "post"): (2, 2.5, [(3, 2, 2.5)]),
    }
    for (user, event), (count, total, hours) in old.items():
        db.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, 5, 1, ?, ?)",
                   [user, event, count, total, when, when])  # fmt: skip
        for hour, n, s in hours:
            db.execute("INSERT INTO metric_hours VALUES (?, ?, ?, ?, ?)", [user, event, hour, n, s])
    db.execute("INSERT INTO metrics VALUES ('ada', '~active', 0, 0, 0, 1, ?, ?)", [when, when])
    db.conn.commit()
    db.close()
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert migrations.pending(g.db) == []
        assert "metric_hours" in g.db.view_names()
        assert "metric_hours" not in g.db.table_names()
        view = "SELECT user_id, event, hour, count, sum FROM metric_hours ORDER BY 1, 2, 3"
        expected = sorted((u, e, h, n, s) for (u, e), (_, _, hs) in old.items() for h, n, s in hs)
        assert g.db.execute(view).fetchall() == expected
        for (user, event), (count, total, hours) in old.items():
            assert hour_columns(g, user, event) == hours
            row = g.db.execute("SELECT count, sum, max, days FROM metrics WHERE user_id = ? "
                               "AND metric = ?", [user, event]).fetchone()  # fmt: skip
            assert tuple(row) == (count, total, 5, 1)
        assert hour_columns(g, "ada", "~active") == []
        # A badge loaded now counts the migrated hours; tracking goes on in the same columns.
        g.events.load({"achievements": [owl("early", "03:00", "04:00", 3)]}, name="owls")
        assert g.achievements.get("ada", "early").current == 2
        assert g.achievements.get("bob", "early").current == 2
        assert [u.key for u in g.track("ada", "post", at=datetime(2026, 3, 3, 2, 10, tzinfo=UTC)
                                       ).unlocked] == ["early"]  # 03:10 in Paris  # fmt: skip
        assert hour_columns(g, "ada", "post") == [(1, 1, 2), (3, 3, 6), (23, 1, 2)]


ZONES = ("Europe/Paris", "America/New_York", "UTC")
START = datetime(2026, 3, 6, tzinfo=UTC)  # three weeks over both spring DST changes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zones=st.tuples(*(st.sampled_from(ZONES) for _ in range(2))),
    calls=st.lists(
        st.tuples(
            st.sampled_from(["ada", "bob"]),
            st.sampled_from(["post", "run"]),
            st.integers(0, 50),
            st.integers(0, 24 * 24 * 4 - 1),  # a quarter hour within 24 days
        ),
        max_size=30,
    ),
)
def test_every_metric_row_is_a_count_of_the_events_tracked(
    zones: tuple[str, str], calls: list[tuple[str, str, int, int]]
) -> None:
    """After random track() calls every metric row, day bucket and hour count equals a brute
    force count and sum over the events, in each user's zone (local days and wall-clock hours
    across the DST changes)."""
    clock = FakeClock(START + timedelta(days=30))
    zone = dict(zip(("ada", "bob"), zones, strict=True))
    with Gamification.open(":memory:", clock=clock, load_entrypoints=False) as g:
        for user, tz in zone.items():
            g.users.set_timezone(user, tz)
        tracked = []
        for user, event, value, quarter in calls:
            at = START + timedelta(minutes=15 * quarter)
            g.track(user, event, value=value, at=at)
            local = at.astimezone(ZoneInfo(zone[user]))
            tracked.append((user, event, value, at, local.date().isoformat(), local.hour))
        for user in zone:
            for event in ("post", "run"):
                mine = [t for t in tracked if t[0] == user and t[1] == event]
                row = g.db.execute(
                    "SELECT count, sum, max, days, first_at, last_at FROM metrics "
                    "WHERE user_id = ? AND metric = ?", [user, event],
                ).fetchone()  # fmt: skip
                if not mine:
                    assert row is None
                    continue
                values = [t[2] for t in mine]
                assert tuple(row) == (
                    len(mine), sum(values), max(values), len({t[4] for t in mine}),
                    to_text(min(t[3] for t in mine)), to_text(max(t[3] for t in mine)),
                )  # fmt: skip
                by_day: dict[str, tuple[int, int]] = {}
                by_hour: dict[int, tuple[int, int]] = {}
                for _, _, value, _, day, hour in mine:
                    n, s = by_day.get(day, (0, 0))
                    by_day[day] = (n + 1, s + value)
                    n, s = by_hour.get(hour, (0, 0))
                    by_hour[hour] = (n + 1, s + value)
                found = g.db.execute(
                    "SELECT day, count, sum FROM metric_days WHERE user_id = ? AND metric = ? "
                    "ORDER BY day", [user, event],
                ).fetchall()  # fmt: skip
                assert found == [(d, n, s) for d, (n, s) in sorted(by_day.items())]
                assert hour_columns(g, user, event) == [
                    (h, n, s) for h, (n, s) in sorted(by_hour.items())
                ]
            active = g.db.execute(
                "SELECT days FROM metrics WHERE user_id = ? AND metric = '~active'", [user]
            ).fetchone()
            local_days = {t[4] for t in tracked if t[0] == user}
            assert (active[0] if active else 0) == len(local_days)
