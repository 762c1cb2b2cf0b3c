"""Round trips on PostgreSQL: a keyed hot-path write is two (the ``BEGIN``, the user's lock, the
key lookup and the write's first statements; then the rest with ``COMMIT``), and the shortcuts
that make it so (storage/postgres/session.py, ``Runtime.write``'s ``ahead``) change no result:
a replay writes nothing, a guessed day that was wrong is counted again on the right one, a
veto plugin sees the balance before the award, a refusal is the same typed error.

``Connection.round_trips`` counts the times the client waited for the server."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import FakeClock, Gamification, hookimpl
from gamification_sdk.errors import InvalidInput
from gamification_sdk.models import AwardRequest

pytestmark = pytest.mark.postgresql_only(reason="round trips to a server exist only on PostgreSQL")

AT = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)


def trips(g: Gamification, call: Callable[[], object]) -> int:
    conn: Any = g.db.conn
    before = conn.round_trips
    call()
    return int(conn.round_trips - before)


def warm(g: Gamification) -> None:
    """Ada exists, has points and a day of tracks: what every later call finds."""
    g.award_xp("ada", 10, source="warm", idempotency_key="w1", at=AT)
    g.award_points("ada", 50, currency="points", source="warm", idempotency_key="w2", at=AT)
    g.track("ada", "lesson_done", idempotency_key="w3", at=AT)


CALLS: dict[str, Callable[[Gamification, str | None], object]] = {
    "award_xp": lambda g, key: g.award_xp("ada", 5, source="s", idempotency_key=key, at=AT),
    "award_points": lambda g, key: g.award_points(
        "ada", 5, currency="points", source="s", idempotency_key=key, at=AT
    ),
    "spend_points": lambda g, key: g.spend_points(
        "ada", 5, currency="points", source="s", idempotency_key=key, at=AT
    ),
    "track": lambda g, key: g.track("ada", "lesson_done", idempotency_key=key, at=AT),
}


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_hot_path_write_takes_two_round_trips(
    make_engine: Callable[..., Gamification], operation: str
) -> None:
    g = make_engine()
    warm(g)
    call = CALLS[operation]
    assert trips(g, lambda: call(g, "k1")) == 2
    assert trips(g, lambda: call(g, None)) == 2
    # A replay: the lookup's round trip, the stored result read back (XP and points rebuild
    # it from their rows), then the end of the transaction; nothing written.
    with unchanged(g):
        assert trips(g, lambda: call(g, "k1")) <= 3
    assert not g.verify_ledger()


def test_a_track_whose_rule_pays_xp_takes_two_round_trips(
    make_engine: Callable[..., Gamification],
) -> None:
    """The track's first read is the award's too (TRACK_AWARD_PROFILE): queued ahead with the
    key lookup, so the award reads nothing more."""
    g = make_engine()
    g.events.load({"rules": [{"event": "lesson_done", "xp": 5}]}, name="rules")
    warm(g)
    call = CALLS["track"]
    assert trips(g, lambda: call(g, "x1")) == 2
    assert trips(g, lambda: call(g, None)) == 2
    assert g.profile("ada").xp == 25
    assert not g.verify_ledger()


def test_a_replay_returns_the_first_result(make_engine: Callable[..., Gamification]) -> None:
    g = make_engine()
    warm(g)
    for operation, call in sorted(CALLS.items()):
        first = call(g, f"again-{operation}")
        assert call(g, f"again-{operation}") == first
    assert g.balance("ada", "points") == 50
    assert g.profile("ada").xp == 15


def test_a_user_in_another_zone_is_counted_on_their_day(
    make_engine: Callable[..., Gamification],
) -> None:
    """The day a track counts on is guessed before the user's zone is read: the first track
    of a user in Auckland is guessed in UTC, found wrong, and run again; the next is right."""
    g = make_engine()
    g.users.set_timezone("kiri", "Pacific/Auckland")
    # 22:30 UTC on 28 March is 11:30 on 29 March in Auckland (NZDT, +13).
    first = trips(g, lambda: g.track("kiri", "lesson_done", idempotency_key="t1", at=AT))
    assert first > 2
    assert trips(g, lambda: g.track("kiri", "lesson_done", idempotency_key="t2", at=AT)) == 2
    days = g.db.execute(
        "SELECT day, count FROM metric_days WHERE user_id = ? AND metric = ?",
        ("kiri", "lesson_done"),
    ).fetchall()
    assert [tuple(row) for row in days] == [("2026-03-29", 2)]
    # A zone changed by another server is caught the same way.
    g.users.set_timezone("kiri", "UTC")
    g.track("kiri", "lesson_done", idempotency_key="t3", at=AT)
    days = g.db.execute(
        "SELECT day, count FROM metric_days WHERE user_id = ? AND metric = ? ORDER BY day",
        ("kiri", "lesson_done"),
    ).fetchall()
    assert [tuple(row) for row in days] == [("2026-03-28", 1), ("2026-03-29", 2)]


def test_a_veto_plugin_sees_the_balance_before_the_award(
    make_engine: Callable[..., Gamification],
) -> None:
    """With a plugin that vets awards, the user's leg is not queued ahead of it."""
    g = make_engine()
    warm(g)
    seen: list[int] = []

    class Watcher:
        @hookimpl
        def validate_award(self, engine: Gamification, award: AwardRequest) -> str | None:
            if award.kind == "points":
                seen.append(engine.balance(award.user_id, award.currency))
            return None

    g.pm.register(Watcher())
    g.award_points("ada", 7, currency="points", source="s", idempotency_key="v1", at=AT)
    assert seen == [50] and g.balance("ada", "points") == 57


def test_a_refusal_in_the_first_round_trip_is_the_same_typed_error(
    make_engine: Callable[..., Gamification],
) -> None:
    """An award that would overflow the balance is refused by the statement queued ahead; the
    call then runs again plainly and says which field was wrong, and nothing is written."""
    g = make_engine()
    warm(g)
    # A balance near the column's limit cannot be reached by awards of at most 2**53 in a
    # test's time: set it, as a long-lived economy might have.
    g.db.execute(
        "UPDATE accounts SET balance = ?, lifetime_earned = ? "
        "WHERE user_id = 'ada' AND system_name IS NULL",
        (2**63 - 3, 2**63 - 3),
    )
    with unchanged(g), pytest.raises(InvalidInput) as info:
        g.award_points("ada", 5, currency="points", source="s", idempotency_key="b3", at=AT)
    assert info.value.field == "amount"


ZONES = ("UTC", "Europe/Berlin", "Pacific/Auckland", "America/Los_Angeles")
steps = st.lists(
    st.tuples(
        st.sampled_from(("ada", "bo")),
        st.sampled_from(("track", "zone", "award", "spend")),
        st.sampled_from(ZONES),
        st.integers(0, 96),  # half hours after the start: across both DST changes of March
    ),
    max_size=12,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps)
def test_shortcuts_change_no_result(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    plan: list[tuple[str, str, str, int]],
) -> None:
    """Whatever the zones and times, PostgreSQL (queued, guessed) and SQLite (one statement at
    a time) end with the same metrics, balances and XP."""
    start = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
    with (
        fresh_engine(clock=FakeClock(start)) as pg,
        Gamification.open(":memory:", clock=FakeClock(start), load_entrypoints=False) as lite,
    ):
        for index, (user, what, zone, half_hours) in enumerate(plan):
            at = start + timedelta(minutes=30 * half_hours)
            for g in (pg, lite):
                key = f"s{index}"
                if what == "track":
                    g.track(user, "lesson_done", idempotency_key=key, at=at)
                elif what == "zone":
                    g.users.set_timezone(user, zone)
                elif what == "award":
                    g.award_points(
                        user, 3, currency="points", source="s", idempotency_key=key, at=at
                    )
                elif g.balance(user, "points") >= 2:
                    g.spend_points(
                        user, 2, currency="points", source="s", idempotency_key=key, at=at
                    )
        for table in ("metric_days", "metrics"):
            query = f"SELECT user_id, metric, count FROM {table} ORDER BY 1, 2, 3"
            rows = [[tuple(r) for r in g.db.execute(query).fetchall()] for g in (pg, lite)]
            assert rows[0] == rows[1], table
        for user in ("ada", "bo"):
            assert pg.balance(user, "points") == lite.balance(user, "points")
        assert not pg.verify_ledger()
