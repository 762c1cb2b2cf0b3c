"""Two-phase purchases: reserve (hold), then commit (a purchase) or release/expire (no trace)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from conftest import START, unchanged

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    Reservation,
    errors,
)


@pytest.fixture
def rich(g: Gamification) -> Gamification:
    """alice has 100 points."""
    g.award_points("alice", 100, currency="points", source="quest")
    return g


def held(engine: Gamification, user: str = "alice") -> tuple[int, int, int]:
    b = engine.points.balances(user)["points"]
    assert b.available == b.balance - b.held
    return b.balance, b.held, b.available


def test_reserve_holds_funds(rich: Gamification) -> None:
    r = rich.reserve_points(
        "alice", 40, currency="points", ttl=timedelta(minutes=15), reference=("order", "9")
    )
    assert isinstance(r, Reservation)
    assert r.status == "active"
    assert (r.user_id, r.currency, r.amount, r.source) == ("alice", "points", 40, "purchase")
    assert (r.reference_type, r.reference_id) == ("order", "9")
    assert r.created_at == START
    assert r.expires_at == START + timedelta(minutes=15)
    assert r.transaction_id is None
    assert rich.points.reservation(r.id) == r
    assert held(rich) == (100, 40, 60)
    assert rich.balance("alice", "points") == 100
    # A hold is not a transaction: history is unchanged.
    assert len(rich.history("alice").transactions) == 1
    assert not rich.verify_ledger()


def test_ttl_in_seconds(rich: Gamification) -> None:
    r = rich.reserve_points("alice", 1, currency="points", ttl=90)
    assert r.expires_at == START + timedelta(seconds=90)
    r = rich.reserve_points("alice", 1, currency="points", ttl=0.5)
    assert r.expires_at == START + timedelta(milliseconds=500)


def test_held_funds_cannot_be_spent(rich: Gamification) -> None:
    rich.reserve_points("alice", 70, currency="points", ttl=60)
    with unchanged(rich), pytest.raises(errors.InsufficientFunds) as info:
        rich.spend_points("alice", 31, currency="points", source="shop")
    assert info.value.details() == {"required": 31, "current": 30, "shortfall": 1}
    with unchanged(rich), pytest.raises(errors.InsufficientFunds):
        rich.transfer_points("alice", "bob", 31, currency="points")
    with unchanged(rich), pytest.raises(errors.InsufficientFunds):
        rich.reserve_points("alice", 31, currency="points", ttl=60)
    assert rich.spend_points("alice", 30, currency="points", source="shop").balance_after == 70
    assert held(rich) == (70, 70, 0)


def test_reserve_more_than_available(rich: Gamification) -> None:
    with unchanged(rich), pytest.raises(errors.InsufficientFunds) as info:
        rich.reserve_points("alice", 101, currency="points", ttl=60)
    assert info.value.details() == {"required": 101, "current": 100, "shortfall": 1}
    with unchanged(rich), pytest.raises(errors.InsufficientFunds):
        rich.reserve_points("nobody", 1, currency="points", ttl=60)


def test_commit_turns_the_hold_into_a_purchase(rich: Gamification) -> None:
    r = rich.reserve_points("alice", 40, currency="points", ttl=60, reference=("order", "9"))
    t = rich.commit_reservation(r.id, description="Order #9")
    assert t.type == "purchase"
    assert t.amount == -40
    assert (t.balance_before, t.balance_after) == (100, 60)
    assert (t.reference_type, t.reference_id) == ("order", "9")
    assert t.description == "Order #9"
    assert t.source == "purchase"
    assert held(rich) == (60, 0, 60)
    closed = rich.points.reservation(r.id)
    assert closed.status == "committed"
    assert closed.transaction_id == t.id
    assert rich.history("alice").transactions[0] == t
    b = rich.points.balances("alice")["points"]
    assert b.lifetime_spent == 40
    assert not rich.verify_ledger()


def test_commit_without_a_reference_points_at_the_reservation(rich: Gamification) -> None:
    r = rich.reserve_points("alice", 10, currency="points", ttl=60, source="shop")
    t = rich.commit_reservation(r.id)
    assert (t.reference_type, t.reference_id) == ("reservation", str(r.id))
    assert t.source == "shop"


def test_release_leaves_the_balance_exactly_as_before(rich: Gamification) -> None:
    before = rich.points.balances("alice")
    r = rich.reserve_points("alice", 100, currency="points", ttl=60)
    assert held(rich) == (100, 100, 0)
    released = rich.release_reservation(r.id)
    assert released.status == "released"
    assert released.id == r.id
    assert rich.points.balances("alice") == before
    assert rich.points.reservation(r.id).status == "released"
    assert rich.spend_points("alice", 100, currency="points", source="shop").balance_after == 0


def test_commit_or_release_after_close_is_refused(rich: Gamification) -> None:
    released = rich.reserve_points("alice", 10, currency="points", ttl=60)
    rich.release_reservation(released.id)
    committed = rich.reserve_points("alice", 10, currency="points", ttl=60)
    rich.commit_reservation(committed.id)
    for rid, status in ((released.id, "released"), (committed.id, "committed")):
        with unchanged(rich), pytest.raises(errors.ReservationClosed) as info:
            rich.commit_reservation(rid)
        assert info.value.status == status
        assert info.value.reservation_id == rid
        assert isinstance(info.value, errors.InvalidInput)
        with unchanged(rich), pytest.raises(errors.ReservationClosed):
            rich.release_reservation(rid)
    assert held(rich) == (90, 0, 90)


def test_commit_after_expiry_is_refused(rich: Gamification, clock: FakeClock) -> None:
    r = rich.reserve_points("alice", 40, currency="points", ttl=60)
    clock.advance(seconds=59)
    ok = rich.reserve_points("alice", 10, currency="points", ttl=60)
    clock.advance(seconds=1)  # exactly expires_at: too late
    with unchanged(rich), pytest.raises(errors.ReservationExpired) as info:
        rich.commit_reservation(r.id)
    assert info.value.reservation_id == r.id
    assert isinstance(info.value, errors.InvalidInput)
    assert rich.points.reservation(r.id).status == "active"
    assert held(rich) == (100, 50, 50)
    # A hold that has not run out yet still commits.
    t = rich.commit_reservation(ok.id)
    assert t.balance_after == 90


def test_commit_with_an_explicit_late_time_is_refused(rich: Gamification) -> None:
    r = rich.reserve_points("alice", 40, currency="points", ttl=60)
    with unchanged(rich), pytest.raises(errors.ReservationExpired):
        rich.commit_reservation(r.id, at=START + timedelta(minutes=5))
    assert rich.commit_reservation(r.id, at=START + timedelta(seconds=30)).amount == -40


def test_expire_reservations_releases_every_expired_hold(
    rich: Gamification, clock: FakeClock
) -> None:
    rich.award_points("bob", 50, currency="points", source="quest")
    a = rich.reserve_points("alice", 10, currency="points", ttl=30)
    b = rich.reserve_points("bob", 20, currency="points", ttl=60)
    c = rich.reserve_points("alice", 30, currency="points", ttl=600)
    d = rich.reserve_points("alice", 5, currency="points", ttl=30)
    rich.release_reservation(d.id)
    assert held(rich) == (100, 40, 60)

    with unchanged(rich):
        assert rich.points.expire_reservations(START + timedelta(seconds=29)) == []
    expired = rich.points.expire_reservations(START + timedelta(seconds=60))
    assert sorted(r.id for r in expired) == [a.id, b.id]
    assert all(r.status == "expired" for r in expired)
    assert {r.id: r.amount for r in expired} == {a.id: 10, b.id: 20}
    assert rich.points.reservation(a.id).status == "expired"
    assert rich.points.reservation(b.id).status == "expired"
    assert rich.points.reservation(c.id).status == "active"
    assert rich.points.reservation(d.id).status == "released"
    assert held(rich) == (100, 30, 70)
    assert held(rich, "bob") == (50, 0, 50)

    with unchanged(rich):
        assert rich.points.expire_reservations(START + timedelta(seconds=60)) == []
    with pytest.raises(errors.ReservationClosed) as info:
        rich.commit_reservation(a.id)
    assert info.value.status == "expired"

    # Without an argument, the engine's clock decides.
    clock.advance(seconds=600)
    assert [r.id for r in rich.points.expire_reservations()] == [c.id]
    with unchanged(rich):
        assert rich.points.expire_reservations() == []
    assert held(rich) == (100, 0, 100)
    assert not rich.verify_ledger()


def test_expire_needs_an_aware_datetime(rich: Gamification) -> None:
    with pytest.raises(errors.InvalidInput):
        rich.points.expire_reservations(START.replace(tzinfo=None))
    with pytest.raises(errors.InvalidInput):
        rich.points.expire_reservations("2026-03-02")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ttl",
    [0, -1, timedelta(0), timedelta(seconds=-5), "60", None, float("nan"), float("inf"), True],
)
def test_bad_ttl_is_refused(rich: Gamification, ttl: object) -> None:
    with unchanged(rich), pytest.raises(errors.InvalidInput) as info:
        rich.reserve_points("alice", 10, currency="points", ttl=ttl)  # type: ignore[arg-type]
    assert info.value.field == "ttl"


@pytest.mark.parametrize("ttl", [1e20, timedelta.max], ids=["seconds", "timedelta"])
def test_huge_ttl_is_invalid_input(rich: Gamification, ttl: object) -> None:
    with unchanged(rich), pytest.raises(errors.InvalidInput):
        rich.reserve_points("alice", 10, currency="points", ttl=ttl)  # type: ignore[arg-type]


@pytest.mark.parametrize("rid", [0, -1, "1", 1.0, None, True])
def test_bad_reservation_ids(rich: Gamification, rid: object) -> None:
    for call in (rich.commit_reservation, rich.release_reservation, rich.points.reservation):
        with unchanged(rich), pytest.raises(errors.InvalidInput):
            call(rid)  # type: ignore[operator]


def test_unknown_reservation(rich: Gamification) -> None:
    for call in (rich.commit_reservation, rich.release_reservation, rich.points.reservation):
        with unchanged(rich), pytest.raises(errors.NotFound):
            call(999)  # type: ignore[operator]


def test_failed_external_step_leaves_no_trace(rich: Gamification, clock: FakeClock) -> None:
    """Reserve, the shop's order call fails, release: as if nothing had happened."""
    rich.spend_points("alice", 10, currency="points", source="shop")
    balances = rich.points.balances("alice")
    history = rich.history("alice")

    class ShopDown(Exception):
        pass

    def place_order(amount: int) -> None:
        raise ShopDown(f"order of {amount} failed")

    r = rich.reserve_points("alice", 50, currency="points", ttl=300, reference=("order", "77"))
    try:
        clock.advance(seconds=2)
        place_order(r.amount)
    except ShopDown:
        rich.release_reservation(r.id)
    else:  # pragma: no cover
        pytest.fail("the order was expected to fail")
    assert rich.points.balances("alice") == balances
    assert rich.history("alice") == history
    assert rich.points.reservation(r.id).status == "released"
    assert not rich.verify_ledger()


def test_refund_of_a_committed_purchase(rich: Gamification) -> None:
    r = rich.reserve_points("alice", 60, currency="points", ttl=60)
    purchase = rich.commit_reservation(r.id)
    part = rich.refund(purchase.id, amount=25, user_id="alice")
    assert part.refund_of == purchase.id
    assert part.balance_after == 65
    rest = rich.refund(purchase.id)
    assert rest.amount == 35
    assert rich.balance("alice", "points") == 100
    with unchanged(rich), pytest.raises(errors.NotRefundable):
        rich.refund(purchase.id, amount=1)
    b = rich.points.balances("alice")["points"]
    assert (b.balance, b.held, b.lifetime_earned, b.lifetime_spent) == (100, 0, 100, 0)
    assert not rich.verify_ledger()


def test_reservations_per_currency(make_engine: Callable[..., Gamification]) -> None:
    e = make_engine(
        config=Config(currencies=(CurrencyConfig("coins"), CurrencyConfig("gems", spendable=False)))
    )
    e.award_points("alice", 50, currency="coins", source="quest")
    e.award_points("alice", 50, currency="gems", source="quest")
    with unchanged(e), pytest.raises(errors.NotSpendable):
        e.reserve_points("alice", 10, currency="gems", ttl=60)
    r = e.reserve_points("alice", 50, currency="coins", ttl=60)
    assert e.points.balances("alice")["coins"].available == 0
    assert e.points.balances("alice")["gems"].available == 50
    e.commit_reservation(r.id)
    assert e.balance("alice", "coins") == 0


def test_reserve_and_commit_are_idempotent_with_keys(rich: Gamification, clock: FakeClock) -> None:
    r = rich.reserve_points("alice", 30, currency="points", ttl=60, idempotency_key="res-1")
    with unchanged(rich):
        again = rich.reserve_points("alice", 30, currency="points", ttl=60, idempotency_key="res-1")
    assert again == r
    assert held(rich) == (100, 30, 70)
    t = rich.commit_reservation(r.id, idempotency_key="commit-1")
    clock.advance(seconds=3600)  # a retry after the hold would have expired still replays
    with unchanged(rich):
        assert rich.commit_reservation(r.id, idempotency_key="commit-1") == t
    assert held(rich) == (70, 0, 70)
    with unchanged(rich), pytest.raises(errors.IdempotencyConflict):
        rich.reserve_points("alice", 31, currency="points", ttl=60, idempotency_key="res-1")


def test_release_is_idempotent_with_a_key(rich: Gamification) -> None:
    r = rich.reserve_points("alice", 30, currency="points", ttl=60)
    first = rich.release_reservation(r.id, idempotency_key="rel")
    with unchanged(rich):
        assert rich.release_reservation(r.id, idempotency_key="rel") == first
    with unchanged(rich), pytest.raises(errors.ReservationClosed):
        rich.release_reservation(r.id)


def test_commit_inside_a_failed_batch_keeps_the_hold(rich: Gamification) -> None:
    r = rich.reserve_points("alice", 30, currency="points", ttl=60)
    with pytest.raises(RuntimeError), rich.batch():
        rich.commit_reservation(r.id)
        raise RuntimeError("host failure after commit")
    assert rich.points.reservation(r.id).status == "active"
    assert held(rich) == (100, 30, 70)
    rich.commit_reservation(r.id)
    assert held(rich) == (70, 0, 70)
