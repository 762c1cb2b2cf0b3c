"""Rate limits: sliding windows per (action, user) in SQLite, exact retry_after, no writes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    FakeClock,
    Gamification,
    RateLimit,
    RateLimitStatus,
    errors,
)
from gamification_sdk.config import DEFAULT_RATE_LIMITS
from gamification_sdk.economy.ratelimits import PURCHASE, QUEST_COMPLETE, REFERRAL_TRACK
from gamification_sdk.storage.ratelimits import COUNTED, PRUNE_USER, WINDOW
from gamification_sdk.storage.schema import migrations

Make = Callable[..., Gamification]
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)
GIFTS = Config(rate_limits={"gift": RateLimit(max=3, seconds=60)})


def rows(g: Gamification) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in g.db.execute(
            "SELECT action, user_id, at, hits FROM rate_limit_hits ORDER BY action, user_id, at"
        )
    ]


def fund(g: Gamification, user: str = "ada", amount: int = 1_000) -> None:
    g.award_points(user, amount, currency="points", source="seed")


def purchase(g: Gamification, user: str = "ada", **kwargs: Any) -> Any:
    return g.spend_points(
        user, 1, currency="points", source="shop", transaction_type="purchase", **kwargs
    )


# -- defaults and the table ------------------------------------------------------------------


def test_seed_002_defaults() -> None:
    assert Config().rate_limits == {
        "quest_complete": RateLimit(max=10, seconds=86_400),
        "purchase": RateLimit(max=5, seconds=3_600),
        "referral_track": RateLimit(max=3, seconds=86_400),
    }
    assert {PURCHASE, QUEST_COMPLETE, REFERRAL_TRACK} == set(DEFAULT_RATE_LIMITS)
    assert RateLimit(5, 3600).window == HOUR


def test_migration_adds_the_table(g: Gamification, backend: str) -> None:
    if backend == "postgresql":  # the first migration there has every table of m020
        names = [row[0] for row in g.db.execute("SELECT name FROM schema_migrations")]
        assert "p001_tables_as_of_sqlite_m020" in names
    else:
        assert "m005_rate_limits" in [m.name for m in migrations.applied(g.db)]
    assert "rate_limit_hits" in g.db.table_names()


@pytest.mark.parametrize("sql", [WINDOW, COUNTED, PRUNE_USER])
def test_checks_use_the_primary_key_not_a_scan(g: Gamification, sql: str, backend: str) -> None:
    if backend == "postgresql":
        # The table is empty: with sequential scans priced out, a plan that still scans has
        # no index to use.
        with g.batch():
            g.db.execute("SELECT set_config('enable_seqscan', 'off', true)")
            plan = " ".join(row[0] for row in g.db.execute(f"EXPLAIN {sql}", ["a", "u", "t"]))
        assert "Index" in plan and "rate_limit_hits_pkey" in plan, plan
        assert "Seq Scan" not in plan, plan
        return
    plan = " ".join(
        str(row[-1]) for row in g.db.execute(f"EXPLAIN QUERY PLAN {sql}", ["a", "u", "t"])
    )
    assert "USING PRIMARY KEY (action=? AND user_id=? AND at" in plan, plan
    assert "SCAN" not in plan


# -- a host's own action ---------------------------------------------------------------------


def test_calls_count_until_the_limit_then_rate_limited_with_exact_retry(make_engine: Make) -> None:
    g = make_engine(config=GIFTS)
    statuses = [
        g.rate_limits.hit("ada", "gift", at=START + timedelta(seconds=s)) for s in (0, 10, 20)
    ]
    assert [(s.used, s.remaining) for s in statuses] == [(1, 2), (2, 1), (3, 0)]
    assert statuses[-1] == RateLimitStatus(
        action="gift", user_id="ada", limit=3, window=60, used=3, remaining=0,
        resets_at=START + timedelta(seconds=60),
    )  # fmt: skip
    at = START + timedelta(seconds=45)
    with unchanged(g), pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift", at=at)
    exc = info.value
    assert (exc.action, exc.user_id, exc.limit, exc.window) == ("gift", "ada", 3, 60)
    assert exc.retry_at == START + timedelta(seconds=60)  # the oldest call leaves the window
    assert exc.retry_after == timedelta(seconds=15)
    assert exc.retry_after_seconds == 15
    assert exc.retryable
    assert isinstance(exc, errors.GamificationError)
    assert str(exc).startswith("action: 'gift' allows 3 per 60s and 'ada' used them all")
    assert g.rate_limits.status("ada", "gift", at=at) == statuses[-1]


def test_retry_after_is_exact_to_the_microsecond(make_engine: Make) -> None:
    g = make_engine(config=GIFTS)
    first = START + timedelta(microseconds=123_457)
    for offset in (0, 1, 2):
        g.rate_limits.hit("ada", "gift", at=first + timedelta(seconds=offset))
    at = first + timedelta(seconds=59, microseconds=999_998)
    with pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift", at=at)
    assert info.value.retry_after == 2 * US
    assert info.value.retry_after_seconds == 1
    with unchanged(g), pytest.raises(errors.RateLimited) as again:
        g.rate_limits.hit("ada", "gift", at=at + US)
    assert again.value.retry_after == US
    status = g.rate_limits.hit("ada", "gift", at=at + info.value.retry_after)
    assert (status.used, status.remaining) == (3, 0)


def test_the_window_slides_with_the_clock(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=GIFTS)
    g.rate_limits.hit("ada", "gift")  # 12:00:00
    clock.advance(seconds=30)
    g.rate_limits.hit("ada", "gift")  # 12:00:30
    g.rate_limits.hit("ada", "gift")  # 12:00:30
    with pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift")
    assert info.value.retry_after == timedelta(seconds=30)
    clock.advance(seconds=30)  # the first call left; the two at :30 still count
    status = g.rate_limits.hit("ada", "gift")
    assert (status.used, status.remaining) == (3, 0)
    assert status.resets_at == START + timedelta(seconds=90)
    with pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift")
    # Both calls at :30 leave at :90 together, and free two places.
    assert info.value.retry_after == timedelta(seconds=30)
    clock.advance(seconds=30)
    status = g.rate_limits.status("ada", "gift")
    assert (status.used, status.remaining) == (1, 2)
    clock.advance(minutes=5)
    assert g.rate_limits.status("ada", "gift") == RateLimitStatus("gift", "ada", 3, 60, 0, 3, None)


def test_users_and_actions_are_independent(make_engine: Make) -> None:
    g = make_engine(config=Config(rate_limits={"gift": RateLimit(1, 60), "vote": RateLimit(1, 60)}))
    g.rate_limits.hit("ada", "gift")
    with pytest.raises(errors.RateLimited):
        g.rate_limits.hit("ada", "gift")
    assert g.rate_limits.hit("bob", "gift").remaining == 0
    assert g.rate_limits.hit("ada", "vote").remaining == 0
    assert g.rate_limits.status("cy", "gift").remaining == 1


def test_two_engines_on_one_file_share_the_limit(make_engine: Make, db_path: Path) -> None:
    first = make_engine(db_path, config=GIFTS)
    second = make_engine(db_path, config=GIFTS)
    first.rate_limits.hit("ada", "gift")
    second.rate_limits.hit("ada", "gift")
    first.rate_limits.hit("ada", "gift")
    with unchanged(second), pytest.raises(errors.RateLimited):
        second.rate_limits.hit("ada", "gift")
    assert first.rate_limits.status("ada", "gift").used == 3


def test_two_engines_share_the_purchase_limit(make_engine: Make, db_path: Path) -> None:
    first, second = make_engine(db_path), make_engine(db_path)
    fund(first)
    for engine in (first, second, first, second, first):
        purchase(engine)
    with unchanged(second), pytest.raises(errors.RateLimited):
        purchase(second)
    with unchanged(first), pytest.raises(errors.RateLimited):
        first.reserve_points("ada", 1, currency="points", ttl=60)


def test_a_lowered_limit_waits_until_enough_calls_left(make_engine: Make, db_path: Path) -> None:
    roomy = make_engine(db_path, config=Config(rate_limits={"gift": RateLimit(5, 60)}))
    for second in range(5):
        roomy.rate_limits.hit("ada", "gift", at=START + timedelta(seconds=second))
    tight = make_engine(db_path)
    tight.settings.apply(Config(rate_limits={"gift": RateLimit(2, 60)}))
    at = START + timedelta(seconds=10)
    assert tight.rate_limits.status("ada", "gift", at=at) == RateLimitStatus(
        "gift", "ada", 2, 60, 5, 0, START + timedelta(seconds=63)
    )
    with unchanged(tight), pytest.raises(errors.RateLimited) as info:
        tight.rate_limits.hit("ada", "gift", at=at)
    # Four of the five calls (at 0, 1, 2 and 3 s) must leave before one more fits.
    assert info.value.retry_after == timedelta(seconds=53)
    assert tight.rate_limits.hit("ada", "gift", at=info.value.retry_at).used == 2


def test_calls_in_the_same_microsecond_share_a_row(make_engine: Make) -> None:
    g = make_engine(config=GIFTS)
    for _ in range(3):
        g.rate_limits.hit("ada", "gift")
    assert rows(g) == [("gift", "ada", "2026-03-02T12:00:00.000000+00:00", 3)]
    with pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift")
    assert info.value.retry_after == timedelta(seconds=60)


def test_a_call_out_of_time_order_is_judged_against_later_calls(make_engine: Make) -> None:
    g = make_engine(config=Config(rate_limits={"gift": RateLimit(2, 60)}))
    g.rate_limits.hit("ada", "gift", at=START + timedelta(seconds=50))
    g.rate_limits.hit("ada", "gift", at=START + timedelta(seconds=70))
    # At 20 s, the call at 50 s shares a window with it, and so does the one at 70 s:
    # the window [20 s, 80 s) would hold three.
    with unchanged(g), pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift", at=START + timedelta(seconds=20))
    assert info.value.retry_at == START + timedelta(seconds=110)


def test_a_call_up_to_a_window_late_still_sees_older_calls(make_engine: Make) -> None:
    """Rows are kept two windows, so a late call is judged against calls it shares a window
    with even after a later call pruned what had left that later call's window."""
    g = make_engine(config=Config(rate_limits={"gift": RateLimit(3, 10)}))
    for at in (0.0, 0.5, 10.6):
        g.rate_limits.hit("ada", "gift", at=START + timedelta(seconds=at))
    with unchanged(g), pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift", at=START + timedelta(seconds=9))
    assert info.value.retry_at == START + timedelta(seconds=10)


def test_timezones_are_compared_as_instants(make_engine: Make) -> None:
    g = make_engine(config=Config(rate_limits={"gift": RateLimit(1, 3600)}))
    g.rate_limits.hit("ada", "gift", at=START)
    berlin = timezone(timedelta(hours=1))
    with pytest.raises(errors.RateLimited) as info:
        g.rate_limits.hit("ada", "gift", at=(START + timedelta(minutes=59)).astimezone(berlin))
    assert info.value.retry_after == timedelta(minutes=1)
    assert g.rate_limits.hit("ada", "gift", at=(START + HOUR).astimezone(berlin)).used == 1


def test_a_rolled_back_call_is_not_counted(make_engine: Make) -> None:
    g = make_engine(config=GIFTS)
    with pytest.raises(RuntimeError), g.batch():
        g.rate_limits.hit("ada", "gift")
        raise RuntimeError("the host's own write failed")
    assert g.rate_limits.status("ada", "gift").used == 0
    assert rows(g) == []


def test_rate_limited_inside_a_batch_leaves_the_batch_going(make_engine: Make) -> None:
    g = make_engine(config=Config(rate_limits={"gift": RateLimit(1, 60)}))
    with g.batch():
        g.rate_limits.hit("ada", "gift")
        with pytest.raises(errors.RateLimited):
            g.rate_limits.hit("ada", "gift")
        g.award_xp("ada", 10, source="quest")
    assert g.profile("ada").xp == 10
    assert g.rate_limits.status("ada", "gift").used == 1


def test_an_idempotent_call_counts_once(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=GIFTS)
    first = g.rate_limits.hit("ada", "gift", idempotency_key="req-1")
    clock.advance(seconds=5)
    with unchanged(g):
        assert g.rate_limits.hit("ada", "gift", idempotency_key="req-1") == first
    assert g.rate_limits.status("ada", "gift").used == 1
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.rate_limits.hit("ada", "gift", idempotency_key="req-1", at=START)


def test_a_refused_call_does_not_burn_its_key(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=Config(rate_limits={"gift": RateLimit(1, 60)}))
    g.rate_limits.hit("ada", "gift")
    with unchanged(g), pytest.raises(errors.RateLimited):
        g.rate_limits.hit("ada", "gift", idempotency_key="req-2")
    clock.advance(minutes=1)
    assert g.rate_limits.hit("ada", "gift", idempotency_key="req-2").used == 1


# -- turning limits off and adding actions ---------------------------------------------------


def test_a_limit_turned_off_counts_nothing(make_engine: Make) -> None:
    g = make_engine(config=Config(rate_limits={"purchase": None}))
    fund(g)
    for _ in range(10):
        purchase(g)
        g.reserve_points("ada", 1, currency="points", ttl=60)
    off = RateLimitStatus("purchase", "ada", None, None, 0, None, None)
    assert g.rate_limits.status("ada", "purchase") == off
    with unchanged(g):
        assert g.rate_limits.hit("ada", "purchase") == off
    assert rows(g) == []
    assert g.config.rate_limits["quest_complete"] == RateLimit(10, 86_400)  # the others stay


def test_host_actions_are_added_to_the_defaults() -> None:
    config = Config(rate_limits={"gift": RateLimit(3, 60), "purchase": RateLimit(2, 60)})
    assert config.rate_limits == {
        "quest_complete": RateLimit(10, 86_400),
        "purchase": RateLimit(2, 60),
        "referral_track": RateLimit(3, 86_400),
        "gift": RateLimit(3, 60),
    }


# -- purchases ---------------------------------------------------------------------------------


def test_purchases_are_limited_to_five_per_hour(g: Gamification, clock: FakeClock) -> None:
    fund(g)
    for minute in range(5):
        purchase(g)
        clock.advance(minutes=10 if minute == 0 else 1)
    # 12:14; purchases at 12:00, 12:10, 12:11, 12:12 and 12:13.
    with unchanged(g), pytest.raises(errors.RateLimited) as info:
        purchase(g)
    assert (info.value.action, info.value.limit, info.value.window) == ("purchase", 5, 3600)
    assert info.value.retry_after == timedelta(minutes=46)
    # Plain spending and other users are not purchases of ada's.
    g.spend_points("ada", 1, currency="points", source="shop")
    fund(g, "bob")
    purchase(g, "bob")
    clock.advance(minutes=46)
    assert purchase(g).balance_after == 1_000 - 7


def test_reservations_count_when_they_start_not_when_committed(
    g: Gamification, clock: FakeClock
) -> None:
    fund(g)
    holds = [g.reserve_points("ada", 10, currency="points", ttl=3600) for _ in range(3)]
    purchase(g)
    purchase(g)
    for hold in holds:
        g.commit_reservation(hold.id)
    assert g.rate_limits.status("ada", "purchase").used == 5
    with unchanged(g), pytest.raises(errors.RateLimited):
        g.reserve_points("ada", 10, currency="points", ttl=3600)
    g.release_reservation(g.reserve_points("ada", 10, currency="points", ttl=60,
                                           at=START + HOUR).id)  # fmt: skip
    assert g.rate_limits.status("ada", "purchase", at=START + HOUR).used == 1


@pytest.mark.parametrize("method", ["spend_points", "reserve_points"])
def test_a_replayed_purchase_is_not_counted_again(
    g: Gamification, clock: FakeClock, method: str
) -> None:
    fund(g)

    def call() -> Any:
        if method == "spend_points":
            return purchase(g, idempotency_key="order-1")
        return g.reserve_points("ada", 1, currency="points", ttl=600, idempotency_key="order-1")

    first = call()
    assert g.rate_limits.status("ada", "purchase").used == 1
    clock.advance(minutes=1)
    with unchanged(g):
        for _ in range(10):
            assert call() == first
    assert g.rate_limits.status("ada", "purchase").used == 1


def test_a_replay_works_even_when_the_limit_is_used_up(g: Gamification) -> None:
    fund(g)
    first = purchase(g, idempotency_key="order-1")
    for _ in range(4):
        purchase(g)
    with unchanged(g):
        assert purchase(g, idempotency_key="order-1") == first
        with pytest.raises(errors.RateLimited):
            purchase(g, idempotency_key="order-2")


def test_a_refused_purchase_is_not_counted(g: Gamification) -> None:
    with unchanged(g), pytest.raises(errors.InsufficientFunds):
        purchase(g)
    with unchanged(g), pytest.raises(errors.InsufficientFunds):
        g.reserve_points("ada", 5, currency="points", ttl=60)
    fund(g, amount=3)
    with unchanged(g), pytest.raises(errors.InsufficientFunds):
        g.spend_points("ada", 5, currency="points", source="s", transaction_type="purchase")
    assert g.rate_limits.status("ada", "purchase").used == 0


def test_a_refused_purchase_inside_a_batch_leaves_no_hit_and_the_batch_going(
    g: Gamification,
) -> None:
    fund(g, amount=1)
    with g.batch():
        purchase(g)
        with pytest.raises(errors.InsufficientFunds):
            purchase(g)
        for _ in range(4):
            g.award_points("ada", 1, currency="points", source="s")
            purchase(g)
        with pytest.raises(errors.RateLimited):
            purchase(g)
        g.award_xp("ada", 5, source="quest")
    assert g.rate_limits.status("ada", "purchase").used == 5
    assert g.profile("ada").xp == 5
    assert not g.verify_ledger()


# -- pruning -----------------------------------------------------------------------------------


def test_a_users_old_calls_are_pruned_as_they_call(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=GIFTS)
    for _ in range(5):
        g.rate_limits.hit("ada", "gift")
        clock.advance(seconds=50)
    # Calls at 0, 50, 100, 150 and 200 s. A row is kept two windows (120 s) after its time:
    # the call at 150 s pruned the one at 0 s, and the call at 200 s the one at 50 s.
    assert [r[2] for r in rows(g)] == [
        "2026-03-02T12:01:40.000000+00:00",
        "2026-03-02T12:02:30.000000+00:00",
        "2026-03-02T12:03:20.000000+00:00",
    ]


def test_prune_rate_limits_clears_idle_users(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=GIFTS)
    fund(g)
    for user in ("ada", "bob", "cy"):
        g.rate_limits.hit(user, "gift")
    purchase(g)
    clock.advance(seconds=119)
    with unchanged(g):
        assert g.rate_limits.prune() == 0
    clock.advance(seconds=1)
    assert g.rate_limits.prune() == 3  # the gifts are two windows old; the purchase is not
    assert [r[0] for r in rows(g)] == ["purchase"]
    assert g.rate_limits.prune(START + 2 * HOUR) == 1
    assert rows(g) == []
    with pytest.raises(errors.InvalidInput) as info:
        g.rate_limits.prune(datetime(2026, 1, 1))
    assert info.value.field == "now"


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "nope"}, "action"),
        ({"action": 5}, "action"),
        ({"action": None}, "action"),
        ({"user_id": ""}, "user_id"),
        ({"user_id": 7}, "user_id"),
        ({"at": datetime(2026, 3, 2)}, "at"),
        ({"at": "2026-03-02"}, "at"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(
    make_engine: Make, kwargs: dict[str, Any], field: str
) -> None:
    g = make_engine(config=GIFTS)
    args = {"user_id": "ada", "action": "gift", **kwargs}
    user_id, action = args.pop("user_id"), args.pop("action")
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.rate_limits.hit(user_id, action, **args)
    assert info.value.field == field
    with pytest.raises(errors.InvalidInput) as info:
        g.rate_limits.status(user_id, action, **args)
    assert info.value.field == field


def test_an_unknown_action_lists_the_configured_ones(make_engine: Make) -> None:
    g = make_engine(config=GIFTS)
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.rate_limits.hit("ada", "gifts")
    assert str(info.value) == (
        "action: no rate limit is configured for 'gifts'; "
        "configured: gift, purchase, quest_complete, referral_track"
    )
    with unchanged(g), pytest.raises(errors.InvalidInput) as key_info:
        g.rate_limits.hit("ada", "gift", idempotency_key="")
    assert key_info.value.field == "idempotency_key"


# -- configuration -----------------------------------------------------------------------------


def test_rate_limits_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "game.toml"
    path.write_text(
        "[rate_limits]\n"
        "purchase = { max = 3, seconds = 600 }\n"
        "referral_track = false\n"
        "gift = { max = 20, seconds = 86400 }\n",
        encoding="utf-8",
    )
    config = Config.from_file(path)
    assert config.rate_limits == {
        "quest_complete": RateLimit(10, 86_400),
        "purchase": RateLimit(3, 600),
        "referral_track": None,
        "gift": RateLimit(20, 86_400),
    }
    # to_dict -> JSON -> Config gives the same config back (None is JSON null).
    again = tmp_path / "again.json"
    again.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    assert Config.from_file(again) == config
    assert config.to_dict()["rate_limits"]["referral_track"] is None


@pytest.mark.parametrize(
    ("limits", "problems"),
    [
        ({"gift": {"max": 0, "seconds": 60}},
         ["rate_limits['gift'].max: expected an int from 1 to 100000, got 0"]),
        ({"gift": {"max": 3, "seconds": 0}},
         ["rate_limits['gift'].seconds: expected an int from 1 to 31622400 (366 days), got 0"]),
        ({"gift": {"max": 3, "seconds": 366 * 86_400 + 1}},
         ["rate_limits['gift'].seconds: expected an int from 1"]),
        ({"Gift-Card": {"max": 3, "seconds": 60}},
         ["rate_limits['Gift-Card']: expected an action name that is a lowercase identifier"]),
        ({"gift": {"max": "3", "seconds": 60}},
         ["rate_limits['gift'].max: expected int, got str '3'"]),
        ({"gift": {"max": 3, "seconds": 1.5}},
         ["rate_limits['gift'].seconds: expected int, got float 1.5"]),
        ({"gift": {"max": 3}}, ["rate_limits['gift'].seconds: required field missing"]),
        ({"gift": {"max": 3, "seconds": 60, "burst": 2}},
         ["rate_limits['gift']: unknown field(s): burst"]),
        ({"gift": True}, ["rate_limits['gift']: expected a table like {max = 5, seconds = 3600}"]),
        ({"gift": 5}, ["rate_limits['gift']: expected a table like"]),
        ({"a": {"max": -1, "seconds": 60}, "b": {"max": 1, "seconds": -5}},
         ["rate_limits['a'].max:", "rate_limits['b'].seconds:"]),
    ],
)  # fmt: skip
def test_bad_rate_limits_name_the_path(limits: dict[str, Any], problems: list[str]) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config.from_dict({"rate_limits": limits})
    found = info.value.problems
    assert len(found) == len(problems), found
    for problem, expected in zip(found, problems, strict=True):
        assert problem.startswith(expected), found


@pytest.mark.parametrize(
    ("limits", "path"),
    [
        ({"gift": RateLimit(0, 60)}, "rate_limits['gift'].max"),
        ({"gift": RateLimit(True, 60)}, "rate_limits['gift'].max"),
        ({"gift": RateLimit(5, 60.0)}, "rate_limits['gift'].seconds"),  # type: ignore[arg-type]
        ({"gift": (5, 60)}, "rate_limits['gift']"),
        ({"": RateLimit(5, 60)}, "rate_limits['']"),
        ({"purchase": RateLimit(5, -1)}, "rate_limits['purchase'].seconds"),
    ],
)
def test_bad_python_rate_limits_name_the_path(limits: dict[str, Any], path: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(rate_limits=limits)
    assert [p.split(":", 1)[0] for p in info.value.problems] == [path]


# -- the property ------------------------------------------------------------------------------


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    limit=st.integers(1, 4),
    seconds=st.integers(1, 30),
    steps=st.lists(
        st.one_of(
            st.sampled_from([0.0, 0.5, 1.0, 2.0, -0.5, -1.0]), st.floats(-1, 2.5, allow_nan=False)
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_no_window_ever_holds_more_than_max(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    limit: int,
    seconds: int,
    steps: list[float],
) -> None:
    """Accepted calls never exceed ``max`` in any window, even out of order by up to a window;
    every refusal's ``retry_after`` is exactly when a call becomes possible again."""
    window = timedelta(seconds=seconds)
    clock = FakeClock(START)
    config = Config(rate_limits={"act": RateLimit(limit, seconds)})
    accepted: list[datetime] = []
    latest = START
    with fresh_engine(config=config, clock=clock) as g:
        for step in steps:
            # A step is in windows: negative ones go back in time, never past one window
            # before the latest call so far; 0 repeats the same microsecond.
            at = latest + timedelta(microseconds=round(step * seconds * 1_000_000))
            at = max(at, latest - window)
            latest = max(latest, at)
            counted = sorted(h for h in accepted if h > at - window)
            try:
                status = g.rate_limits.hit("ada", "act", at=at)
            except errors.RateLimited as exc:
                assert len(counted) >= limit
                assert exc.retry_at == counted[len(counted) - limit] + window
                assert exc.retry_after == exc.retry_at - at > timedelta(0)
            else:
                assert len(counted) < limit
                accepted.append(at)
                assert status.used == len(counted) + 1
                assert status.remaining == limit - len(counted) - 1
        for start in accepted:
            inside = [h for h in accepted if start <= h < start + window]
            assert len(inside) <= limit, (start, sorted(accepted))
        assert g.rate_limits.status("ada", "act", at=latest + 3 * window).used == 0


def test_the_schema_refuses_a_row_without_hits(g: Gamification) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        g.db.execute(
            "INSERT INTO rate_limit_hits VALUES ('gift', 'ada', ?, 0)", [START.isoformat()]
        )


def test_status_is_in_utc(make_engine: Make) -> None:
    g = make_engine(config=GIFTS)
    status = g.rate_limits.hit("ada", "gift")
    assert status.resets_at is not None
    assert status.resets_at.tzinfo is not None
    assert status.resets_at.utcoffset() == timedelta(0)
    assert status.resets_at == datetime(2026, 3, 2, 12, 1, tzinfo=UTC)
