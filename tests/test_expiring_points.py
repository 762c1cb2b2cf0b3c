"""Expiring points (m021): lots, first-expiring-first debits, the expiry job, notices."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, CurrencyConfig, FakeClock, Gamification
from gamification_sdk.economy.lots import expiry_of
from gamification_sdk.errors import (
    ConfigError,
    GamificationError,
    IdempotencyConflict,
    InvalidInput,
)

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EXPIRING = Config(
    currencies=(
        CurrencyConfig("points", expire_after_days=30, expiry_notice_days=7),
        CurrencyConfig("gems"),
    )
)


def lots(g: Gamification, user: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in g.db.execute(
            "SELECT remaining, expires_at, expired FROM point_lots WHERE user_id = ? ORDER BY id",
            (user,),
        ).fetchall()
    ]


def test_spends_take_the_first_expiring_lots_and_refunds_give_them_back(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 100, currency="points", source="quest")
    clock.advance(timedelta(days=10))
    g.award_points("ada", 50, currency="points", source="quest")
    spent = g.spend_points("ada", 120, currency="points", source="shop")
    balance = g.points.balances("ada")["points"]
    assert [(e.amount, e.expires_at) for e in balance.expiring] == [
        (30, START + timedelta(days=40))
    ]
    g.refund(spent.id, amount=30)
    page = g.points.history("ada")
    assert [(e.amount, e.expires_at) for e in page.expiring["points"]] == [
        (10, START + timedelta(days=30)),
        (50, START + timedelta(days=40)),
    ]
    assert not g.verify_ledger()


def test_expiry_runs_once_to_breakage_and_never_early(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 100, currency="points", source="quest")
    g.award_points("ada", 7, currency="gems", source="quest")
    clock.advance(timedelta(days=30) - timedelta(microseconds=1))
    assert g.points.expire_points().expired == ()
    clock.advance(timedelta(microseconds=1))
    run = g.points.expire_points()
    assert [(t.type, t.amount) for t in run.expired] == [("expired", -100)]
    assert g.points.expire_points().expired == ()
    assert g.balance("ada", "points") == 0
    assert g.balance("ada", "gems") == 7
    (breakage,) = g.db.execute(
        "SELECT balance FROM accounts WHERE system_name = 'breakage' AND currency = 'points'"
    ).fetchone()
    assert breakage == 100
    assert not g.verify_ledger()


def test_notices_go_out_once_per_lot(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 100, currency="points", source="quest")
    clock.advance(timedelta(days=22))
    assert g.points.expire_points().notices == 0
    clock.advance(timedelta(days=1, seconds=1))
    assert g.points.expire_points().notices == 1
    assert g.points.expire_points().notices == 0
    (note,) = g.notifications.list("ada")
    assert note.kind == "points_expiring" and note.data["amount"] == 100


def test_a_held_lot_waits_for_its_reservation(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 100, currency="points", source="quest")
    hold = g.points.reserve("ada", 40, currency="points", ttl=timedelta(days=60))
    clock.advance(timedelta(days=31))
    assert g.points.expire_points().expired == ()
    g.points.commit(hold.id)
    assert [t.amount for t in g.points.expire_points().expired] == [-60]
    assert g.balance("ada", "points") == 0
    assert not g.verify_ledger()


def test_two_engines_on_one_file_expire_each_lot_once(
    make_engine: Callable[..., Gamification], clock: FakeClock, db_path: Path
) -> None:
    first = make_engine(db_path, config=EXPIRING)
    second = make_engine(db_path)
    for user in ("ada", "bob"):
        first.award_points(user, 10, currency="points", source="quest")
    clock.advance(timedelta(days=31))
    runs = [first.points.expire_points(), second.points.expire_points()]
    runs.append(first.points.expire_points())
    assert sum(len(run.expired) for run in runs) == 2
    count = "SELECT COUNT(*) FROM transactions WHERE type = 'expired'"
    assert first.db.execute(count).fetchone() == (2,)
    assert not second.verify_ledger()


def test_the_expire_points_job_is_registered_and_reruns_harmlessly(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 10, currency="points", source="quest")
    clock.advance(timedelta(days=31))
    report = g.jobs.run_due(clock())
    assert "expire_points" in report.periods()
    assert g.balance("ada", "points") == 0
    clock.advance(timedelta(hours=2))
    g.jobs.run_due(clock())
    count = "SELECT COUNT(*) FROM transactions WHERE type = 'expired'"
    assert g.db.execute(count).fetchone() == (1,)


def test_no_job_and_no_lots_without_expiring_currencies(g: Gamification) -> None:
    g.award_points("ada", 10, currency="points", source="quest")
    g.spend_points("ada", 5, currency="points", source="shop")
    assert g.db.execute("SELECT COUNT(*) FROM point_lots").fetchone() == (0,)
    assert "expire_points" not in {job.name for job in g.jobs.list()}


def test_a_currency_that_starts_to_expire_keeps_its_balance_as_one_lot(
    make_engine: Callable[..., Gamification], clock: FakeClock, db_path: Path
) -> None:
    g = make_engine(db_path)
    g.award_points("ada", 10, currency="points", source="quest")
    g.points.reserve("ada", 4, currency="points", ttl=300)
    g.settings.apply(Config(currencies=(CurrencyConfig("points", expire_after_days=1),)))
    assert lots(g, "ada") == [(10, None, 0)]
    clock.advance(timedelta(days=5))
    assert g.points.expire_points().expired == ()
    assert not g.verify_ledger()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"expire_after_days": 0}, "expire_after_days"),
        ({"expire_after_days": -3}, "expire_after_days"),
        ({"expire_on": "02-30"}, "expire_on"),
        ({"expire_on": "02-29"}, "expire_on"),
        ({"expire_on": "12-31", "expire_after_days": 5}, "expire_on"),
        ({"expire_on": "12-31", "expire_timezone": "Mars/Base"}, "expire_timezone"),
        ({"expire_after_days": 5, "expiry_notice_days": 0}, "expiry_notice_days"),
        ({"expiry_notice_days": 3}, "expiry_notice_days"),
    ],
)
def test_bad_expiry_settings_name_the_field_and_write_nothing(
    make_engine: Callable[..., Gamification], db_path: Path, fields: dict[str, Any], field: str
) -> None:
    g = make_engine(db_path)
    before = g.settings.history()
    with pytest.raises(ConfigError, match=field):
        g.settings.apply(Config(currencies=(CurrencyConfig("points", **fields),)))
    assert g.settings.history() == before


def test_fixed_day_expiry_follows_local_midnight_across_dst() -> None:
    paris = CurrencyConfig("points", expire_on="03-29", expire_timezone="Europe/Paris")
    # 2026-03-29 is the spring-forward day in Paris: its end is 22:00 UTC (UTC+2).
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert expiry_of(paris, at, "UTC") == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    winter = CurrencyConfig("points", expire_on="12-31", expire_timezone="America/New_York")
    assert expiry_of(winter, at, "UTC") == datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
    # Credited on the day itself (local), it expires that night; after it, a year later.
    late = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)  # 22:00 on 12-31 in New York
    assert expiry_of(winter, late, "UTC") == datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
    after = datetime(2027, 1, 1, 6, 0, tzinfo=UTC)
    assert expiry_of(winter, after, "UTC") == datetime(2028, 1, 1, 5, 0, tzinfo=UTC)


def expiring(g: Gamification, user: str) -> list[tuple[int, datetime]]:
    return [(e.amount, e.expires_at) for e in g.points.balances(user)["points"].expiring]


def test_an_award_can_expire_sooner_or_later_than_its_currency_rule(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    week, rule, season = (START + timedelta(days=n) for n in (7, 30, 90))
    g.award_points("ada", 50, currency="points", source="promo", expires_at=week)
    g.award_points("ada", 40, currency="points", source="quest")
    g.points.award("ada", 30, currency="points", source="season", expires_at=season)
    assert expiring(g, "ada") == [(50, week), (40, rule), (30, season)]
    # First-expiring first: the promotional lot pays before the currency rule's.
    g.spend_points("ada", 20, currency="points", source="shop")
    assert expiring(g, "ada") == [(30, week), (40, rule), (30, season)]
    # Its notice comes expiry_notice_days (7) before its own moment: right away.
    run = g.points.expire_points()
    assert (run.expired, run.notices) == ((), 1)
    (note,) = g.notifications.list("ada")
    assert note.data["expires_at"] == week.isoformat(timespec="microseconds")
    clock.advance(days=7)
    assert [t.amount for t in g.points.expire_points().expired] == [-30]
    clock.advance(days=23)
    assert [t.amount for t in g.points.expire_points().expired] == [-40]
    clock.advance(days=60)
    assert [t.amount for t in g.points.expire_points().expired] == [-30]
    assert g.balance("ada", "points") == 0
    assert not g.verify_ledger()


def test_an_awards_own_expiry_follows_its_points_through_transfers_and_refunds(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    soon = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    # Any zone: the instant is what counts, stored in UTC.
    g.award_points(
        "ada", 50, currency="points", source="promo",
        expires_at=soon.astimezone(ZoneInfo("Asia/Tokyo")),
    )  # fmt: skip
    g.transfer_points("ada", "bob", 10, currency="points")
    spent = g.spend_points("ada", 30, currency="points", source="shop")
    g.refund(spent.id, amount=25)
    assert expiring(g, "ada") == [(35, soon)]
    assert [(e.amount, e.expires_at) for e in g.points.history("bob").expiring["points"]] == [
        (10, soon)
    ]
    clock.advance(days=3)
    assert sorted(t.amount for t in g.points.expire_points().expired) == [-25, -10, -10]
    assert g.balance("ada", "points") == g.balance("bob", "points") == 0
    assert not g.verify_ledger()


def test_an_awards_own_expiry_is_part_of_its_key(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    week = START + timedelta(days=7)

    def award(**kwargs: Any) -> Any:
        return g.award_points(
            "ada", 50, currency="points", source="promo", idempotency_key="promo-1", **kwargs
        )

    first = award(expires_at=week)
    assert award(expires_at=week.astimezone(ZoneInfo("America/New_York"))) == first
    with unchanged(g):
        for other in ({"expires_at": week + timedelta(seconds=1)}, {}):
            with pytest.raises(IdempotencyConflict):
                award(**other)
    # A retry after the moment passed still returns the award it repeats.
    clock.advance(days=8)
    assert award(expires_at=week) == first
    assert lots(g, "ada") == [(50, week.isoformat(timespec="microseconds"), 0)]


@pytest.mark.parametrize(
    ("expires_at", "currency", "problem"),
    [
        (START - timedelta(days=1), "points", "not after"),
        (START, "points", "not after"),
        (datetime(2026, 4, 1), "points", "timezone-aware"),
        ("2026-04-01T00:00:00+00:00", "points", "expected a datetime"),
        (START + timedelta(days=1), "gems", "does not expire"),
    ],
)
def test_a_bad_expires_at_is_refused_and_nothing_is_written(
    make_engine: Callable[..., Gamification], expires_at: Any, currency: str, problem: str
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 10, currency="points", source="quest")
    with unchanged(g), pytest.raises(InvalidInput, match=problem) as refused:
        g.award_points("ada", 5, currency=currency, source="promo", expires_at=expires_at)
    assert refused.value.field == "expires_at"


def test_expires_at_is_checked_against_the_awards_own_moment(
    make_engine: Callable[..., Gamification],
) -> None:
    g = make_engine(config=EXPIRING)
    later = START + timedelta(days=10)
    with unchanged(g), pytest.raises(InvalidInput, match="not after"):
        g.award_points(
            "ada", 5, currency="points", source="promo", at=later, expires_at=later - timedelta(1)
        )
    # Backdated: it may already lie before now (the next run expires it).
    g.award_points(
        "ada", 5, currency="points", source="promo", at=START - timedelta(days=3),
        expires_at=START - timedelta(days=1),
    )  # fmt: skip
    assert [t.amount for t in g.points.expire_points().expired] == [-5]


def test_a_batch_goes_on_after_a_refused_expires_at(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    with g.batch():
        g.award_points("ada", 5, currency="points", source="promo", expires_at=START + timedelta(1))
        with pytest.raises(InvalidInput):
            g.award_points("ada", 5, currency="points", source="promo", expires_at=START)
        g.award_points("ada", 7, currency="points", source="quest")
    assert expiring(g, "ada") == [(5, START + timedelta(1)), (7, START + timedelta(30))]
    assert not g.verify_ledger()


_step = st.one_of(
    st.tuples(st.just("award"), st.sampled_from("ab"), st.integers(1, 50)),
    # An award with its own expiry: n half-days ahead (sooner or later than the 10-day rule;
    # zero or less is refused).
    st.tuples(st.just("promo"), st.sampled_from("ab"), st.integers(-2, 50)),
    st.tuples(st.just("spend"), st.sampled_from("ab"), st.integers(1, 60)),
    st.tuples(st.just("transfer"), st.sampled_from("ab"), st.integers(1, 60)),
    st.tuples(st.just("reserve"), st.sampled_from("ab"), st.integers(1, 40)),
    st.tuples(st.just("commit"), st.sampled_from("ab"), st.integers(0, 5)),
    st.tuples(st.just("release"), st.sampled_from("ab"), st.integers(0, 5)),
    st.tuples(st.just("refund"), st.sampled_from("ab"), st.integers(0, 5)),
    st.tuples(st.just("jump"), st.sampled_from("ab"), st.integers(1, 20)),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(_step, max_size=30))
def test_lots_always_sum_to_the_balance_and_expire_once_never_early(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    steps: list[tuple[str, str, int]],
) -> None:
    clock = FakeClock(START)
    config = Config(currencies=(CurrencyConfig("points", expire_after_days=10),))
    opened = ExitStack()
    g = opened.enter_context(fresh_engine(config=config, clock=clock))
    spends: list[int] = []
    holds: list[int] = []
    # transaction id -> the expiry its lot must carry
    credits: dict[int, datetime] = {}
    try:
        for op, user, n in steps:
            other = "b" if user == "a" else "a"
            try:
                if op == "award":
                    credit = g.award_points(user, n, currency="points", source="s")
                    credits[credit.id] = clock() + timedelta(days=10)
                elif op == "promo":
                    when = clock() + timedelta(days=n / 2)
                    before = g.dump()
                    try:
                        credit = g.award_points(
                            user, 5, currency="points", source="s", expires_at=when
                        )
                    except InvalidInput:
                        assert n <= 0 and g.dump() == before
                        continue
                    credits[credit.id] = when
                elif op == "spend":
                    spends.append(g.spend_points(user, n, currency="points", source="s").id)
                elif op == "transfer":
                    g.transfer_points(user, other, n, currency="points")
                elif op == "reserve":
                    holds.append(g.points.reserve(user, n, currency="points", ttl=86_400).id)
                elif op in ("commit", "release") and holds:
                    rid = holds[n % len(holds)]
                    if op == "commit":
                        spends.append(g.points.commit(rid).id)
                    else:
                        g.points.release(rid)
                elif op == "refund" and spends:
                    g.refund(spends[n % len(spends)], amount=1)
                elif op == "jump":
                    clock.advance(timedelta(days=n / 4))
                    g.points.expire_points()
            except GamificationError:
                pass
            assert not g.verify_ledger()
        early = g.db.execute(
            "SELECT COUNT(*) FROM point_lots l JOIN transactions t ON t.id = l.expired_by "
            "WHERE t.created_at < l.expires_at"
        ).fetchone()
        assert early == (0,)
        twice = g.db.execute(
            "SELECT COUNT(*) FROM (SELECT reference_id FROM transactions WHERE type = 'expired' "
            "GROUP BY reference_id HAVING COUNT(*) > 1) AS repeated"
        ).fetchone()
        assert twice == (0,)
        for transaction_id, when in credits.items():
            found = g.db.execute(
                "SELECT expires_at FROM point_lots WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
            assert found == (when.isoformat(timespec="microseconds"),)
    finally:
        opened.close()


def test_the_simulator_reports_the_breakage_rate() -> None:
    from gamification_sdk.simulator import simulate

    config = Config(currencies=[CurrencyConfig("points", expire_after_days=3)])
    report = simulate(users=30, days=10, profile="casual", config=config, database=":memory:")
    (points,) = report.currencies
    assert points.expired > 0
    assert points.breakage_rate == round(points.expired / points.issued, 4)
    assert points.supply == points.issued - points.spent - points.expired
    assert sum(day.expired for day in points.days) == points.expired
    assert "breakage" in report.to_markdown()


def test_deleting_a_user_forfeits_their_lots_and_the_ledger_still_agrees(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 100, currency="points", source="quest")
    g.transfer_points("ada", "bob", 30, currency="points")
    g.points.reserve("ada", 20, currency="points", ttl=300)
    g.privacy.delete("ada")
    assert g.db.execute("SELECT COUNT(*) FROM point_lots WHERE user_id = 'ada'").fetchone() == (0,)
    clock.advance(timedelta(days=31))
    assert [t.user_id for t in g.points.expire_points().expired] == ["bob"]
    assert not g.verify_ledger()


def test_a_file_from_before_m021_migrates_and_its_balances_become_lots_without_expiry(
    clock: FakeClock, db_path: Path
) -> None:
    import sqlite_utils

    from gamification_sdk.storage.schema import migrations

    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m021_point_lots")
    db.close()
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert g.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        g.award_points("ada", 100, currency="points", source="quest")
        spent = g.spend_points("ada", 40, currency="points", source="shop")
        config = Config(currencies=(CurrencyConfig("points", expire_after_days=5),))
        g.settings.apply(config)
        assert lots(g, "ada") == [(60, None, 0)]
        g.award_points("ada", 10, currency="points", source="quest")
        g.refund(spent.id)  # spent before the currency expired: comes back without expiry
        clock.advance(days=6)
        assert [t.amount for t in g.points.expire_points().expired] == [-10]
        assert g.balance("ada", "points") == 100
        assert not g.verify_ledger()


def test_a_shop_refund_restores_the_lots_its_purchase_used(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 100, currency="points", source="quest")
    hold = g.points.reserve("ada", 30, currency="points", ttl=300)
    purchase = g.points.commit(hold.id)
    clock.advance(days=31)
    assert [t.amount for t in g.points.expire_points().expired] == [-70]
    g.refund(purchase.id)
    # The refunded points expired with their lot's moment already past: the next run.
    assert [t.amount for t in g.points.expire_points().expired] == [-30]
    assert g.balance("ada", "points") == 0
    assert not g.verify_ledger()


def test_a_bad_now_is_refused_and_nothing_expires(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=EXPIRING)
    g.award_points("ada", 10, currency="points", source="quest")
    with pytest.raises(InvalidInput) as refused:
        g.points.expire_points(datetime(2027, 1, 1))  # naive: no time zone
    assert refused.value.field == "now"
    assert g.balance("ada", "points") == 10
    assert g.db.execute("SELECT COUNT(*) FROM transactions").fetchone() == (1,)
