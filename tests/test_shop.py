"""The points shop: the catalogue as data, two-phase purchases, fulfilment, refunds, stock."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    Order,
    RateLimit,
    errors,
    hookimpl,
)
from gamification_sdk.progression.definitions import ShopItem
from gamification_sdk.storage.schema import migrations

Make = Callable[..., Gamification]

ITEMS: list[dict[str, Any]] = [
    {"key": "freeze", "name": "Streak Freeze", "kind": "streak_freeze",
     "price": {"points": 100}, "per_user_limit": 3},
    {"key": "hat", "name": "Golden Hat", "kind": "cosmetic", "price": {"points": 50},
     "stock": 3, "item": "golden_hat"},
    {"key": "legend", "name": "Legend title", "kind": "title", "title": "Legend",
     "price": {"points": 300}},
    {"key": "boost", "name": "Tier boost", "kind": "tier_boost", "price": {"points": 80},
     "units": 2},
    {"key": "shirt", "name": "Swan T-shirt", "kind": "external", "price": {"points": 200},
     "stock": 2, "metadata": {"sku": "TS-42"}},
]  # fmt: skip
NO_LIMIT = Config(rate_limits={"purchase": None})


class Merch:
    """A host's order service: records each order, answers with ``answer`` or raises."""

    def __init__(self, answer: object = "ext", error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.orders: list[tuple[Order, ShopItem]] = []

    @hookimpl
    def fulfill_order(self, engine: Gamification, order: Order, item: ShopItem) -> object:
        self.orders.append((order, item))
        if self.error is not None:
            raise self.error
        return f"{self.answer}-{order.id}" if self.answer == "ext" else self.answer


def shop_engine(make_engine: Make, *plugins: object, path: str | Path = ":memory:",
                config: Config = NO_LIMIT, points: int = 1000) -> Gamification:  # fmt: skip
    g = make_engine(path, config=config, plugins=plugins)
    g.events.load({"shop": ITEMS}, name="shop")
    if points:
        g.award_points("ada", points, currency="points", source="seed")
    return g


def stock_of(g: Gamification, key: str) -> tuple[int | None, int]:
    (listing,) = [item for item in g.shop.list() if item.key == key]
    return listing.stock, listing.sold


# -- the catalogue -----------------------------------------------------------------------------

TOML = """
[[shop]]
key = "freeze"
name = "Streak Freeze"
kind = "streak_freeze"
price = { points = 100 }
per_user_limit = 3

[[shop]]
key = "winter_hat"
name = "Winter Hat"
kind = "cosmetic"
price = { points = 40, gems = 2 }
stock = 10
available_from = 2026-03-01T00:00:00Z
available_until = 2026-04-01T00:00:00Z
"""


def test_catalogue_loads_from_toml_and_lists(make_engine: Make, tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(TOML)
    g = make_engine(config=Config(currencies=[CurrencyConfig("points"), CurrencyConfig("gems")]))
    report = g.events.load(path)
    assert report.added == ("shop:freeze", "shop:winter_hat")
    freeze, hat = g.shop.list()
    assert (freeze.key, freeze.kind, freeze.price, freeze.stock, freeze.per_user_limit) == (
        "freeze",
        "streak_freeze",
        {"points": 100},
        None,
        3,
    )
    assert (hat.price, hat.stock, hat.sold, hat.available, hat.bought) == (
        {"points": 40, "gems": 2},
        10,
        0,
        True,
        None,
    )
    assert g.events.load(path).unchanged == ("shop:freeze", "shop:winter_hat")
    # Achievements and quests of the same file mechanism are untouched by shop items.
    assert g.achievements.list("ada") == [] and g.quests.list("ada").daily == ()


def test_bad_items_are_named_by_path_and_nothing_loads(make_engine: Make) -> None:
    currencies = [CurrencyConfig("points"), CurrencyConfig("xp_gems", spendable=False)]
    g = make_engine(config=Config(currencies=currencies))
    bad = {"shop": [
        {"key": "a", "name": "A", "kind": "cosmetic", "price": {"coins": 5}, "stock": -1},
        {"key": "a", "name": "B", "kind": "title", "price": {"xp_gems": 1}, "units": 2,
         "per_user_limit": 3},
        {"key": "c", "name": "C", "kind": "external", "price": {},
         "available_from": "2026-04-01T00:00:00+00:00",
         "available_until": "2026-03-01T00:00:00+00:00", "item": "x", "hold_seconds": 0},
    ]}  # fmt: skip
    with unchanged(g), pytest.raises(errors.ConfigError) as info:
        g.events.load(bad, name="bad")
    assert info.value.problems == [
        "bad: shop[0].price['coins']: unknown currency; configure it in currencies",
        "bad: shop[0].stock: expected an int from 0 to 2**53, got -1",
        "bad: shop[1].key: duplicate key 'a'",
        "bad: shop[1].price['xp_gems']: 'xp_gems' is not spendable",
        "bad: shop[1].units: a title is owned once: units must be 1",
        "bad: shop[1].per_user_limit: a title is owned once: 1 or none",
        "bad: shop[2].price: expected at least one currency, e.g. { points = 500 }",
        "bad: shop[2].available_until: must be after available_from",
        "bad: shop[2].hold_seconds: expected 1 to 86400 seconds, got 0",
        "bad: shop[2].item: only a cosmetic names an item (this is external)",
    ]
    with pytest.raises(errors.ConfigError) as info:
        g.events.load({"shop": [{"key": "k", "name": "K", "kind": "mount",
                                 "price": {"points": "5"}}]}, name="types")  # fmt: skip
    assert info.value.problems[0].startswith("types: shop[0].kind: ")
    assert "types: shop[0].price['points']: expected int, got str '5'" in info.value.problems


def test_an_item_key_belongs_to_one_set_and_retired_items_leave_the_shop(
    make_engine: Make,
) -> None:
    g = shop_engine(make_engine)
    with pytest.raises(errors.ConfigError) as info:
        g.events.load({"shop": [ITEMS[1]]}, name="other")
    assert info.value.problems == [
        "other: shop[0].key: 'hat' is already defined by another definition set"
    ]
    report = g.events.load({"shop": ITEMS[:1]}, name="shop")
    assert set(report.retired) == {"shop:hat", "shop:legend", "shop:boost", "shop:shirt"}
    assert [item.key for item in g.shop.list()] == ["freeze"]
    with unchanged(g), pytest.raises(errors.NotFound) as found:
        g.shop.purchase("ada", "hat")
    assert found.value.what == "item_key"


def test_the_shop_migration_keeps_existing_definitions(clock: FakeClock, db_path: Path) -> None:
    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m009_shop")
    with Gamification.open(":memory:", load_entrypoints=False) as scratch:
        scratch.events.load({"achievements": [
            {"key": "first", "name": "First", "criteria": {"type": "first_time", "event": "x"}}]},
            name="old")  # fmt: skip
        row = scratch.db.execute("SELECT * FROM definitions WHERE kind = 'achievement'").fetchone()
    db.execute("INSERT INTO definitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(row))
    db.conn.commit()
    db.close()
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert migrations.pending(g.db) == []
        assert [a.key for a in g.achievements.list("ada")] == ["first"]
        assert g.events.load({"shop": ITEMS}, name="shop").added
        with pytest.raises(sqlite3.IntegrityError):  # the kinds CHECK is still there
            g.db.execute("INSERT INTO definitions VALUES ('mystery', 'k', 's', 1, 'd', '{}', "
                         "'2026-01-01', NULL)")  # fmt: skip


# -- purchases of internal items ---------------------------------------------------------------


def test_internal_items_are_granted_in_the_commit(make_engine: Make) -> None:
    g = shop_engine(make_engine)
    freeze = g.shop.purchase("ada", "freeze", quantity=2)
    assert (freeze.status, freeze.price, freeze.items) == ("completed", {"points": 200},
                                                           {"streak_freeze": 2})  # fmt: skip
    assert g.streaks.get("ada").freezes == 2
    hat = g.shop.purchase("ada", "hat")
    boost = g.shop.purchase("ada", "boost", quantity=3)
    title = g.shop.purchase("ada", "legend")
    assert (boost.items, title.title) == ({"tier_boost": 6}, "Legend")
    inventory = g.users.inventory("ada")
    assert inventory.items == {"golden_hat": 1, "streak_freeze": 2, "tier_boost": 6}
    assert inventory.titles == ("Legend",)
    assert g.balance("ada", "points") == 1000 - 200 - 50 - 240 - 300
    (spend,) = [t for t in g.history("ada").transactions if t.id == hat.transaction_ids[0]]
    assert (spend.type, spend.amount, spend.reference_type, spend.reference_id) == (
        "purchase",
        -50,
        "shop_order",
        str(hat.id),
    )
    assert g.points.reservation(hat.reservation_ids[0]).status == "committed"
    assert g.shop.orders("ada") == [g.shop.order(o.id) for o in (title, boost, hat, freeze)]
    assert [o.id for o in g.shop.orders("ada", limit=2, before=boost.id)] == [hat.id, freeze.id]
    assert not g.verify_ledger()


def test_refusals_are_typed_and_write_nothing(make_engine: Make, clock: FakeClock) -> None:
    g = shop_engine(make_engine, points=500)
    g.shop.purchase("ada", "freeze", quantity=2)
    g.shop.purchase("ada", "hat", quantity=3)
    g.award_points("bo", 10, currency="points", source="seed")
    cases: list[tuple[Callable[[], object], type[Exception]]] = [
        (lambda: g.shop.purchase("ada", "nope"), errors.NotFound),
        (lambda: g.shop.purchase("ada", "freeze", quantity=2), errors.PurchaseLimitReached),
        (lambda: g.shop.purchase("ada", "hat"), errors.OutOfStock),
        (lambda: g.shop.purchase("ada", "legend", quantity=2), errors.PurchaseLimitReached),
        (lambda: g.shop.purchase("bo", "freeze"), errors.InsufficientFunds),
        (lambda: g.shop.purchase("nobody", "freeze"), errors.InsufficientFunds),
        (lambda: g.shop.purchase("ada", "freeze", quantity=0), errors.InvalidInput),
    ]
    for call, error in cases:
        with unchanged(g), pytest.raises(error):
            call()
    with pytest.raises(errors.OutOfStock) as out:
        g.shop.purchase("ada", "hat")
    assert str(out.value) == "item_key: 'hat' is sold out"
    assert out.value.reason == "is sold out"
    assert g.shop.purchase("ada", "freeze").quantity == 1  # the third of three
    assert not g.verify_ledger()


def test_per_user_limits_count_live_orders_only(make_engine: Make) -> None:
    g = shop_engine(make_engine)
    g.award_points("bo", 1000, currency="points", source="seed")
    first = g.shop.purchase("ada", "freeze", quantity=3)
    with unchanged(g), pytest.raises(errors.PurchaseLimitReached) as info:
        g.shop.purchase("ada", "freeze")
    assert info.value.reason == "is limited to 3 per user; the user has bought 3"
    assert g.shop.purchase("bo", "freeze", quantity=3).status == "completed"  # per user
    (listing,) = [i for i in g.shop.list("ada") if i.key == "freeze"]
    assert (listing.bought, listing.remaining_for_user, listing.available) == (3, 0, False)
    g.shop.refund(first.id)
    (listing,) = [i for i in g.shop.list("ada") if i.key == "freeze"]
    assert (listing.bought, listing.remaining_for_user, listing.available) == (0, 3, True)
    assert g.shop.purchase("ada", "freeze").status == "completed"


def test_a_title_is_bought_once_and_not_when_owned(make_engine: Make) -> None:
    g = shop_engine(make_engine)
    g.events.load({"achievements": [
        {"key": "vet", "name": "Vet", "criteria": {"type": "level", "target": 2},
                "rewards": {"title": "Legend"}}]}, name="ach")  # fmt: skip
    g.award_points("bo", 1000, currency="points", source="seed")
    g.award_xp("bo", 150, source="quiz")  # earns the title Legend
    with unchanged(g), pytest.raises(errors.PurchaseLimitReached):
        g.shop.purchase("bo", "legend")
    g.shop.purchase("ada", "legend")
    with unchanged(g), pytest.raises(errors.PurchaseLimitReached):
        g.shop.purchase("ada", "legend")


def test_availability_windows_follow_the_clock(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=NO_LIMIT)
    egg = {"key": "egg", "name": "Easter Egg", "kind": "cosmetic", "price": {"points": 10},
           "available_from": (START + timedelta(days=1)).isoformat(),
           "available_until": (START + timedelta(days=2)).isoformat()}  # fmt: skip
    g.events.load({"shop": [egg]}, name="seasonal")
    g.award_points("ada", 100, currency="points", source="seed")
    (listing,) = g.shop.list("ada")
    assert not listing.available
    assert listing.reason == "is not on sale until 2026-03-03T12:00:00+00:00"
    with unchanged(g), pytest.raises(errors.NotOnSale):
        g.shop.purchase("ada", "egg")
    clock.advance(days=1)  # exactly the start: on sale
    assert g.shop.list()[0].available
    assert g.shop.purchase("ada", "egg").status == "completed"
    clock.advance(days=1)  # exactly the end: over
    with unchanged(g), pytest.raises(errors.NotOnSale) as info:
        g.shop.purchase("ada", "egg")
    assert info.value.reason == "is no longer on sale (its sale ended 2026-03-04T12:00:00+00:00)"
    # A backdated purchase is judged at its own time.
    assert (
        g.shop.purchase("ada", "egg", at=START + timedelta(days=1, hours=5)).status == "completed"
    )
    assert g.shop.list(at=START + timedelta(days=1, hours=1))[0].available


def test_a_price_in_two_currencies_charges_both(make_engine: Make) -> None:
    config = Config(currencies=[CurrencyConfig("points"), CurrencyConfig("gems")],
                    rate_limits={"purchase": None})  # fmt: skip
    g = make_engine(config=config)
    g.events.load({"shop": [{"key": "crown", "name": "Crown", "kind": "cosmetic",
                             "price": {"points": 100, "gems": 5}}]}, name="s")  # fmt: skip
    g.award_points("ada", 300, currency="points", source="seed")
    g.award_points("ada", 7, currency="gems", source="seed")
    with unchanged(g), pytest.raises(errors.InsufficientFunds) as info:
        g.shop.purchase("ada", "crown", quantity=2)
    assert (info.value.currency, info.value.shortfall) == ("gems", 3)
    order = g.shop.purchase("ada", "crown")
    assert order.price == {"gems": 5, "points": 100} and len(order.transaction_ids) == 2
    assert (g.balance("ada", "points"), g.balance("ada", "gems")) == (200, 2)
    refunded = g.shop.refund(order.id)
    assert len(refunded.refund_transaction_ids) == 2
    assert (g.balance("ada", "points"), g.balance("ada", "gems")) == (300, 7)
    assert not g.verify_ledger()


def test_stock_is_returned_and_restocked(make_engine: Make) -> None:
    g = shop_engine(make_engine)
    order = g.shop.purchase("ada", "hat", quantity=3)
    assert stock_of(g, "hat") == (0, 3)
    g.shop.refund(order.id)
    assert stock_of(g, "hat") == (3, 0)
    g.shop.purchase("ada", "hat", quantity=2)
    # A reload with a new stock number: units left are the new total minus units sold.
    items = [dict(ITEMS[1], stock=10), *ITEMS[:1], *ITEMS[2:]]
    g.events.load({"shop": items}, name="shop")
    assert stock_of(g, "hat") == (8, 2)
    items[0]["stock"] = 1  # below what sold: none left
    g.events.load({"shop": items}, name="shop")
    assert stock_of(g, "hat") == (0, 2)


def test_the_purchase_rate_limit_counts_purchases(make_engine: Make, clock: FakeClock) -> None:
    # Seed 002: 5 purchases an hour; a fulfilment failure does not count.
    merch = Merch(error=RuntimeError("warehouse down"))
    g = shop_engine(make_engine, merch, config=Config())
    with pytest.raises(errors.FulfillmentFailed):
        g.shop.purchase("ada", "shirt")
    for _ in range(5):
        g.shop.purchase("ada", "boost")
    with unchanged(g), pytest.raises(errors.RateLimited) as info:
        g.shop.purchase("ada", "boost")
    assert info.value.action == "purchase"
    assert g.rate_limits.status("ada", "purchase").used == 5
    clock.advance(hours=1)
    assert g.shop.purchase("ada", "boost").status == "completed"


# -- external goods: the fulfill_order hook ----------------------------------------------------


def test_fulfill_order_plugin_delivers_external_goods(make_engine: Make, db_path: Path) -> None:
    seen: list[tuple[int, int, int]] = []

    class Shopify:
        """Creates the order in the host's store while the points are held."""

        @hookimpl
        def fulfill_order(self, engine: Gamification, order: Order, item: ShopItem) -> Any:
            if item.kind != "external" or "sku" not in item.metadata:
                return None
            balance = engine.points.balances(order.user_id)["points"]
            seen.append((balance.balance, balance.held, balance.available))
            # No write transaction is open: another connection can write at once.
            with Gamification.open(db_path, config=Config(busy_timeout=0.2), adopt=True,
                                   load_entrypoints=False) as other:  # fmt: skip
                other.award_xp("someone", 5, source="meanwhile")
            return f"shopify:{item.metadata['sku']}:{order.id}"

    class NotMine:
        @hookimpl
        def fulfill_order(self, order: Order) -> None:
            return None

    g = shop_engine(make_engine, NotMine(), Shopify(), path=db_path)
    order = g.shop.purchase("ada", "shirt", idempotency_key="buy-shirt")
    assert seen == [(1000, 200, 800)]  # held, not yet charged
    assert (order.status, order.external_reference) == ("completed", f"shopify:TS-42:{order.id}")
    assert g.points.balances("ada")["points"].available == 800
    assert g.shop.order(order.id) == order
    assert g.profile("someone").xp == 5
    assert g.shop.purchase("ada", "shirt", idempotency_key="buy-shirt") == order  # a replay
    assert seen == [(1000, 200, 800)]
    assert not g.verify_ledger()


@pytest.mark.parametrize(
    ("merch", "reason"),
    [
        pytest.param(Merch(error=RuntimeError("warehouse down")),
                     "fulfill_order raised RuntimeError: warehouse down", id="raises"),
        pytest.param(Merch(answer=False), "the fulfill_order plugin refused the order",
                     id="refuses"),
        pytest.param(Merch(answer=None),
                     "no fulfill_order plugin took the order (every one returned None)",
                     id="nobody"),
        pytest.param(Merch(answer=42), "fulfill_order returned 42; expected a reference (str), "
                     "True or False", id="nonsense"),
    ],
)  # fmt: skip
def test_a_fulfilment_failure_leaves_balance_and_stock(
    make_engine: Make, merch: Merch, reason: str
) -> None:
    g = shop_engine(make_engine, merch)
    before = (
        g.points.balances("ada"),
        stock_of(g, "shirt"),
        g.rate_limits.status("ada", "purchase"),
    )
    with pytest.raises(errors.FulfillmentFailed) as info:
        g.shop.purchase("ada", "shirt", idempotency_key="k")
    assert info.value.reason == reason
    assert (
        g.points.balances("ada"),
        stock_of(g, "shirt"),
        g.rate_limits.status("ada", "purchase"),
    ) == (before)
    failed = g.shop.order(info.value.order_id or 0)
    assert (failed.status, failed.failure, failed.transaction_ids) == ("failed", reason, ())
    assert g.points.reservation(failed.reservation_ids[0]).status == "released"
    with unchanged(g), pytest.raises(errors.NotRefundable):
        g.shop.refund(failed.id)
    # The key was not used up: the same call may try again.
    merch.error, merch.answer = None, "ext"
    again = g.shop.purchase("ada", "shirt", idempotency_key="k")
    assert again.status == "completed" and again.id != failed.id
    assert not g.verify_ledger()


def test_external_goods_need_a_plugin_and_no_batch(make_engine: Make) -> None:
    g = shop_engine(make_engine)
    with unchanged(g), pytest.raises(errors.FulfillmentFailed) as info:
        g.shop.purchase("ada", "shirt")
    assert info.value.order_id is None
    (shirt,) = [item for item in g.shop.list() if item.key == "shirt"]
    assert (shirt.available, shirt.reason) == (
        False,
        "cannot be delivered: no plugin implements fulfill_order",
    )
    g = shop_engine(make_engine, Merch())
    with unchanged(g), g.batch(), pytest.raises(errors.InvalidInput) as bad:
        g.shop.purchase("ada", "shirt")
    assert bad.value.field == "item_key"
    with g.batch():  # internal items may be bought in a batch
        g.shop.purchase("ada", "hat")
        with pytest.raises(errors.OutOfStock):
            g.shop.purchase("ada", "hat", quantity=3)  # refused before writing: the batch goes on
        g.shop.purchase("ada", "freeze")
    assert g.users.inventory("ada").items == {"golden_hat": 1, "streak_freeze": 1}


def test_shop_holds_belong_to_the_shop(make_engine: Make) -> None:
    tried: list[BaseException] = []

    class Meddler:
        @hookimpl
        def fulfill_order(self, engine: Gamification, order: Order) -> str:
            held = order.reservation_ids[0]
            calls = (
                lambda: engine.commit_reservation(held),
                lambda: engine.release_reservation(held),
                lambda: engine.shop.purchase("ada", "shirt", idempotency_key="same"),
            )
            for call in calls:
                try:
                    call()
                except errors.GamificationError as exc:
                    tried.append(exc)
            return "ok"

    g = shop_engine(make_engine, Meddler())
    order = g.shop.purchase("ada", "shirt", idempotency_key="same")
    assert [type(e) for e in tried] == [
        errors.InvalidInput,
        errors.InvalidInput,
        errors.PurchasePending,
    ]
    assert g.points.reservation(order.reservation_ids[0]).status == "committed"
    with pytest.raises(errors.NotRefundable):
        g.refund(order.transaction_ids[0])
    with pytest.raises(errors.InvalidInput) as info:
        g.reserve_points("ada", 5, currency="points", ttl=60, reference=("shop_order", "1"))
    assert info.value.field == "reference"


def test_a_hold_that_expires_during_fulfilment_charges_nothing(make_engine: Make) -> None:
    class Slow:
        @hookimpl
        def fulfill_order(self, engine: Gamification, order: Order) -> str:
            # The expiry job (in another process, say) runs while the host is still busy.
            expires = engine.points.reservation(order.reservation_ids[0]).expires_at
            assert expires == START + timedelta(seconds=60)  # seed 002: a 60-second hold
            engine.points.expire_reservations(expires)
            return "too-late"

    g = shop_engine(make_engine, Slow())
    with pytest.raises(errors.FulfillmentFailed) as info:
        g.shop.purchase("ada", "shirt")
    assert "expired before fulfilment finished" in info.value.reason
    order = g.shop.order(info.value.order_id or 0)
    assert (order.status, order.failure) == (
        "expired",
        "the hold expired before fulfilment finished",
    )
    assert g.points.balances("ada")["points"].available == 1000
    assert stock_of(g, "shirt") == (2, 0)
    assert not g.verify_ledger()


def crash_while_fulfilling(path: str) -> None:
    """A child process that dies inside fulfill_order, between the reserve and the commit."""

    class Crash:
        @hookimpl
        def fulfill_order(self) -> None:
            os._exit(3)

    g = Gamification.open(path, plugins=[Crash()], clock=FakeClock(START), load_entrypoints=False)
    g.shop.purchase("ada", "shirt", idempotency_key="crashy")


def test_a_crash_between_reserve_and_commit_is_cleaned_up_by_expiry(
    make_engine: Make, db_path: Path, clock: FakeClock
) -> None:
    merch = Merch()
    g = shop_engine(make_engine, merch, path=db_path)
    child = multiprocessing.get_context("spawn").Process(
        target=crash_while_fulfilling, args=(str(db_path),)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 3
    (pending,) = g.shop.orders("ada")
    assert pending.status == "pending"
    assert g.points.balances("ada")["points"].held == 200 and stock_of(g, "shirt") == (1, 1)
    with unchanged(g), pytest.raises(errors.PurchasePending):
        g.shop.purchase("ada", "shirt", idempotency_key="crashy")
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.shop.purchase("ada", "shirt", quantity=2, idempotency_key="crashy")
    clock.advance(minutes=5)
    report = g.jobs.run_due()  # the built-in expire_reservations job
    assert "expire_reservations" in report.periods()
    assert g.shop.order(pending.id).status == "expired"
    assert g.points.balances("ada")["points"].held == 0 and stock_of(g, "shirt") == (2, 0)
    retried = g.shop.purchase("ada", "shirt", idempotency_key="crashy")
    assert retried.status == "completed" and merch.orders[0][0].idempotency_key == "crashy"
    assert not g.verify_ledger()


# -- refunds -----------------------------------------------------------------------------------


def test_refund_returns_points_revokes_items_and_is_idempotent(make_engine: Make) -> None:
    g = shop_engine(make_engine)
    boost = g.shop.purchase("ada", "boost", quantity=2)
    title = g.shop.purchase("ada", "legend")
    g.users.equip_title("ada", "Legend")
    assert g.balance("ada", "points") == 1000 - 160 - 300
    refunded = g.shop.refund(title.id, idempotency_key="refund-1")
    assert (refunded.status, len(refunded.refund_transaction_ids)) == ("refunded", 1)
    inventory = g.users.inventory("ada")
    assert (inventory.titles, inventory.equipped_title) == ((), None)
    with unchanged(g):
        assert g.shop.refund(title.id, idempotency_key="refund-1") == refunded
        with pytest.raises(errors.NotRefundable) as again:
            g.shop.refund(title.id)
    assert again.value.field == "order_id"
    g.shop.refund(boost.id)
    assert g.users.inventory("ada").items == {}
    assert g.balance("ada", "points") == 1000
    (refund, *_) = g.history("ada").transactions
    assert (refund.type, refund.refund_of, refund.reference_id) == (
        "refund",
        boost.transaction_ids[0],
        str(boost.id),
    )
    assert not g.verify_ledger()


def test_used_items_cannot_be_refunded(make_engine: Make, clock: FakeClock) -> None:
    g = shop_engine(make_engine)
    order = g.shop.purchase("ada", "freeze")
    g.streaks.record_activity("ada")
    clock.advance(days=2)  # yesterday was missed: the freeze covers it
    assert g.streaks.get("ada").freezes == 0
    with unchanged(g), pytest.raises(errors.NotRefundable) as info:
        g.shop.refund(order.id)
    assert "holds 0" in info.value.problem
    # Freezes are fungible: holding another one again makes the order refundable.
    g.streaks.grant_freezes("ada", 1)
    assert g.shop.refund(order.id).status == "refunded"
    assert g.streaks.get("ada").freezes == 0


# -- concurrency -------------------------------------------------------------------------------


class SlowMerch:
    """Fulfilment that takes a while, so the other buyers act while it runs."""

    @hookimpl
    def fulfill_order(self, order: Order) -> str:
        time.sleep(0.05)
        return f"slow-{order.id}"


def buy_the_last_one(path: str, user: str, start: Any, results: Any) -> None:
    with Gamification.open(path, plugins=[SlowMerch()], load_entrypoints=False) as g:
        start.wait(timeout=30)
        try:
            order = g.shop.purchase(user, "last", idempotency_key=f"{user}-last")
        except errors.GamificationError as exc:
            results.put((user, type(exc).__name__))
        else:
            results.put((user, order.status))


def test_four_processes_buy_the_last_unit_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    users = ["u0", "u1", "u2", "u3"]
    with Gamification.open(path, load_entrypoints=False) as g:
        g.events.load({"shop": [{"key": "last", "name": "Last one", "kind": "external",
                                 "price": {"points": 70}, "stock": 1}]}, name="s")  # fmt: skip
        for user in users:
            g.award_points(user, 100, currency="points", source="seed")
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    children = [
        context.Process(target=buy_the_last_one, args=(str(path), user, start, results))
        for user in users
    ]
    for child in children:
        child.start()
    outcomes = dict(results.get(timeout=60) for _ in users)
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    winners = [user for user, outcome in outcomes.items() if outcome == "completed"]
    assert len(winners) == 1, outcomes
    assert sorted(outcomes.values()) == ["OutOfStock"] * 3 + ["completed"]
    with Gamification.open(path, load_entrypoints=False) as g:
        for user in users:
            assert g.balance(user, "points") == (30 if user in winners else 100)
            assert g.points.balances(user)["points"].held == 0
        (last,) = g.shop.list()
        assert (last.stock, last.sold, last.available) == (0, 1, False)
        assert not g.verify_ledger()


# -- a property: random purchases, failures, expiries and refunds ------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "buy", "buy", "refund", "expire"]),
        st.sampled_from(["ada", "bo"]),
        st.sampled_from(["hat", "shirt", "freeze", "boost"]),
        st.integers(min_value=1, max_value=3),
        st.booleans(),  # the fulfilment fails
    ),
    max_size=25,
)


LIVE = ("pending", "completed")


class Flaky:
    def __init__(self) -> None:
        self.fail = False

    @hookimpl
    def fulfill_order(self) -> bool:
        return not self.fail


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
def test_random_purchases_keep_the_ledger_and_stock_sound(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]], ops: list[Any]
) -> None:
    flaky = Flaky()
    clock = FakeClock(START)
    with fresh_engine(config=NO_LIMIT, clock=clock, plugins=[flaky]) as g:
        g.events.load({"shop": ITEMS}, name="shop")
        for user in ("ada", "bo"):
            g.award_points(user, 600, currency="points", source="seed")
        totals = {item["key"]: item.get("stock") for item in ITEMS}
        for op, user, key, quantity, fail in ops:
            flaky.fail = fail
            try:
                if op == "buy":
                    g.shop.purchase(user, key, quantity=quantity)
                elif op == "refund":
                    done = [o for o in g.shop.orders(user) if o.status == "completed"]
                    if done:
                        g.shop.refund(done[quantity % len(done)].id)
                else:
                    clock.advance(seconds=61)
                    g.points.expire_reservations()
            except (errors.PurchaseRefused, errors.InsufficientFunds,
                    errors.FulfillmentFailed, errors.NotRefundable):  # fmt: skip
                pass
            assert not g.verify_ledger()
            for listing in g.shop.list():
                assert listing.stock is None or listing.stock >= 0
                if totals[listing.key] is not None:
                    assert listing.stock is not None
                    assert listing.stock + listing.sold == totals[listing.key]
                live = sum(o.quantity for u in ("ada", "bo") for o in g.shop.orders(u)
                           if o.item == listing.key and o.status in LIVE)  # fmt: skip
                assert listing.sold == live
            for user in ("ada", "bo"):
                balance = g.points.balances(user)["points"]
                charged = sum(
                    o.price["points"] for o in g.shop.orders(user) if o.status == "completed"
                )
                assert balance.balance == 600 - charged and balance.held == 0


def test_a_rate_limit_on_purchases_can_be_changed(make_engine: Make) -> None:
    g = shop_engine(make_engine, config=Config(rate_limits={"purchase": RateLimit(1, 60)}))
    g.shop.purchase("ada", "hat")
    with unchanged(g), pytest.raises(errors.RateLimited):
        g.shop.purchase("ada", "hat")
