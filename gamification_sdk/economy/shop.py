"""The points shop: items are definitions (a ``shop`` list), bought with two-phase purchases.

A purchase runs in up to three write transactions:

1. *Reserve.* Every refusal comes first (unknown item, availability window, rate limit,
   per-user limit, stock, funds), so a refused call writes nothing. Then the stock is taken
   with a conditional ``UPDATE`` (it can never go below zero), the order is written
   ``pending``, the price is held through the ledger's reservations (one per currency) and
   the purchase counts against the ``purchase`` rate limit.
2. *Fulfil.* For ``external`` goods the ``fulfill_order`` hook runs, outside any
   transaction, so a slow host step never holds SQLite's write lock.
3. *Commit* or *release.* The holds become ``purchase`` transactions, internal items are
   granted and the order completes (and its idempotency key is recorded); or, when the hook
   raised or refused, the holds are released, the stock is put back, the rate-limit hit is
   taken back and the order is marked ``failed``.

Internal items (cosmetics, titles, streak freezes, tier boosts) need no host step, so steps 1
and 3 share one transaction. A process that dies between 1 and 3 leaves a pending order
whose holds run out: ``expire_reservations`` (a built-in job) releases them and closes the
order ``expired`` with its stock put back. A retry of its idempotency key meanwhile raises
``PurchasePending``; once the order is closed the key may start a new order.

Each of these writes is about the buyer (``about``, ``Runtime.frame``): on PostgreSQL it runs
READ COMMITTED under the buyer's lock, as the user's other writes do, and one that conflicts
(a deadlock the server broke) runs again whole. What several buyers share, the stock row, is
read ``FOR UPDATE`` before it is checked (``TAKING_STOCK``), so the last unit goes to one
of them and the others are refused ``OutOfStock``. Orders once written are read, closed and
refunded by ``ShopOrders`` (shop_orders.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
import pluggy

from ..core.clock import to_text
from ..errors import (
    FulfillmentFailed,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    NotOnSale,
    OutOfStock,
    PurchaseLimitReached,
    PurchasePending,
    PurchaseRefused,
)
from ..models import Order, ShopListing
from ..runtime.idempotency import Codec, Idempotency, json_codec
from ..runtime.ports import StreakFreezes
from ..runtime.runtime import retrying
from ..storage.shop import (
    ALL_STOCK,
    BOUGHT,
    BOUGHT_ALL,
    COMPLETE_ORDER,
    ITEM,
    LIVE_ITEMS,
    NEW_ORDER,
    OWNS_TITLE,
    PENDING_KEY,
    SET_RESERVATIONS,
    SYNC_STOCK,
    TAKE_STOCK,
    TAKING_STOCK,
    USER_TITLES,
)
from ..storage.store import Store, Tx
from .inventory import FREEZE, Items
from .ledger import SHOP_ORDER, Ledger
from .ratelimits import PURCHASE, RateLimits
from .reservations import Reservations
from .shop_items import ShopItem, structure_shop_item
from .shop_orders import ShopOrders

__all__ = ["Shop"]

MAX_TOTAL = 2**53
_LIVE = ("pending", "completed")  # orders that count against stock and per-user limits
T = TypeVar("T")


def _short(item: ShopItem, stock: int, quantity: int) -> OutOfStock:
    return OutOfStock(
        item.key, "is sold out" if stock == 0 else f"has {stock} left, not {quantity}"
    )


def _answer(answer: object) -> tuple[str | None, str | None]:
    """``fulfill_order``'s answer as ``(external reference, failure)``."""
    if answer is True:
        return None, None
    if type(answer) is str and answer and len(answer) <= 255:
        return answer, None
    if answer is False:
        return None, "the fulfill_order plugin refused the order"
    if answer is None:
        return None, "no fulfill_order plugin took the order (every one returned None)"
    return None, f"fulfill_order returned {answer!r}; expected a reference (str), True or False"


class Shop(ShopOrders):
    """Catalogue reads, purchases, refunds and order expiry; see the module docstring."""

    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        reservations: Reservations,
        items: Items,
        streaks: StreakFreezes,
        limits: RateLimits,
        idempotency: Idempotency,
        pm: pluggy.PluginManager,
        facade: Any,
        dispatch: Callable[[Tx, object], None],
        now: Callable[[], datetime],
        about: Callable[[str], AbstractContextManager[Tx]],
    ) -> None:
        self._store = store
        # A write about a user: ``Runtime.frame(user_id=)``.
        self._about = about
        self._conn: sqlite3.Connection = store.conn
        self._ledger = ledger
        self._reservations = reservations
        self._items = items
        self._streaks = streaks
        self._limits = limits
        self._idempotency = idempotency
        self._pm = pm
        # Only handed to hooks as their ``engine=`` argument: opaque here.
        self._facade = facade
        self._dispatch = dispatch
        self._now = now
        self._parsed: dict[str, ShopItem] = {}
        self.codec: Codec[Order] = json_codec(Order)

    # -- the catalogue ---------------------------------------------------------------------

    def _parse(self, body: str) -> ShopItem:
        item = self._parsed.get(body)
        if item is None:
            if len(self._parsed) >= 4096:
                self._parsed.clear()
            item = self._parsed[body] = structure_shop_item(json.loads(body))
        return item

    def item(self, key: str) -> tuple[ShopItem, int]:
        """The live item ``key`` and its definition version; ``NotFound`` if unknown or retired."""
        row = self._conn.execute(ITEM, (key,)).fetchone()
        if row is None or row[2] is not None:
            raise NotFound("item_key", key)
        return self._parse(row[0]), row[1]

    def sync_stock(self) -> None:
        """Bring ``shop_stock`` in line with the loaded items (inside the load's write).

        An item's ``stock`` is the number of units it may ever sell: units left are that
        minus the units sold (and never below 0), so a reload with a new number restocks.
        """
        for body, _ in self._conn.execute(LIVE_ITEMS).fetchall():
            item = self._parse(body)
            self._conn.execute(SYNC_STOCK, (item.key, item.stock, item.stock))

    def _written(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, a write: run again whole after a ``WriteConflict`` unless it is
        inside another write (a batch, which its caller runs again instead)."""
        return attempt() if self._store.in_write else retrying(attempt)

    @staticmethod
    def _refusal(
        item: ShopItem,
        moment: datetime,
        stock: int | None,
        bought: int | None,
        owns_title: bool,
        quantity: int,
    ) -> PurchaseRefused | None:
        """Why ``quantity`` units cannot be bought now, or None. ``bought`` None: no user."""
        if item.available_from is not None and moment < item.available_from:
            return NotOnSale(item.key, f"is not on sale until {item.available_from.isoformat()}")
        if item.available_until is not None and moment >= item.available_until:
            ended = item.available_until.isoformat()
            return NotOnSale(item.key, f"is no longer on sale (its sale ended {ended})")
        if bought is not None:
            if owns_title:
                return PurchaseLimitReached(
                    item.key, f"grants the title {item.grants_title!r}, which the user owns"
                )
            limit = 1 if item.kind == "title" else item.per_user_limit
            if limit is not None and bought + quantity > limit:
                return PurchaseLimitReached(
                    item.key, f"is limited to {limit} per user; the user has bought {bought}"
                )
        if stock is not None and stock < quantity:
            return _short(item, stock, quantity)
        return None

    def listing(self, user_id: str | None, moment: datetime) -> list[ShopListing]:
        """Every live item, in ``order`` then key order, with its availability at ``moment``."""
        conn = self._conn
        items = sorted(
            ((self._parse(body), version) for body, version in conn.execute(LIVE_ITEMS)),
            key=lambda pair: (pair[0].order, pair[0].key),
        )
        stocks = {item: (stock, sold) for item, stock, sold in conn.execute(ALL_STOCK)}
        bought: dict[str, int] = {}
        titles: set[str] = set()
        if user_id is not None:
            bought = dict(conn.execute(BOUGHT_ALL, (user_id,)).fetchall())
            titles = {t for (t,) in conn.execute(USER_TITLES, (user_id,))}
        deliverable = bool(self._pm.hook.fulfill_order.get_hookimpls())
        found = []
        for item, version in items:
            stock, sold = stocks.get(item.key, (item.stock, 0))
            mine = None if user_id is None else bought.get(item.key, 0)
            owns = item.grants_title is not None and item.grants_title in titles
            refusal = self._refusal(item, moment, stock, mine, owns, 1)
            reason = None if refusal is None else refusal.reason
            if reason is None and item.kind == "external" and not deliverable:
                reason = "cannot be delivered: no plugin implements fulfill_order"
            limit = 1 if item.kind == "title" else item.per_user_limit
            remaining = None
            if mine is not None and limit is not None:
                remaining = 0 if owns else max(0, limit - mine)
            found.append(
                ShopListing(
                    key=item.key,
                    name=item.name,
                    kind=item.kind,
                    price=dict(item.price),
                    description=item.description,
                    category=item.category,
                    icon=item.icon,
                    stock=stock,
                    sold=sold,
                    per_user_limit=limit,
                    available_from=item.available_from,
                    available_until=item.available_until,
                    available=reason is None,
                    reason=reason,
                    bought=mine,
                    remaining_for_user=remaining,
                    units=item.units,
                    metadata=dict(item.metadata),
                    version=version,
                )
            )
        return found

    # -- purchasing ------------------------------------------------------------------------

    def purchase(
        self,
        user_id: str,
        item_key: str,
        quantity: int,
        key: str | None,
        digest: bytes | None,
        moment: datetime,
        at_text: str,
        explicit: bool,
    ) -> Order:
        """Buy ``quantity`` of ``item_key``; see the module docstring for the phases."""
        hook = self._pm.hook.fulfill_order

        def reserve() -> tuple[Order, ShopItem | None, Tx]:
            # Returns the item None for a replay of the key's earlier call.
            with self._about(user_id) as tx:
                if key is not None:
                    assert digest is not None
                    prior = self._idempotency.replay(key, "purchase", digest, self.codec, user_id)
                    if prior is not None:
                        return prior, None, tx
                    pending = self._conn.execute(PENDING_KEY, (key,)).fetchone()
                    if pending is not None:
                        if pending[1] != digest:
                            raise IdempotencyConflict(key, "purchase", "purchase")
                        raise PurchasePending(pending[0])
                item, version = self.item(item_key)
                external = item.kind == "external"
                if external and self._store.nested:
                    raise InvalidInput(
                        "item_key",
                        f"{item_key!r} is external: its fulfilment runs outside any "
                        "transaction, so it cannot be bought inside batch()",
                    )
                if external and not hook.get_hookimpls():
                    raise FulfillmentFailed(None, item_key, "no plugin implements fulfill_order")
                order = self._reserve(
                    user_id, item, version, quantity, key, digest, moment, at_text
                )
                if not external:
                    order = self._complete(tx, order, item, None, moment, at_text, at_text)
                    if key is not None:
                        assert digest is not None
                        self._idempotency.record(
                            key, "purchase", digest, order, self.codec, at_text, user_id
                        )
            return order, item, tx

        order, bought, tx = self._written(reserve)
        if bought is None:
            return order
        if tx.committed:
            self._dispatch(tx, order)
        if bought.kind != "external":
            return order
        return self._fulfil(order, bought, key, digest, moment, at_text, explicit)

    def _reserve(
        self,
        user_id: str,
        item: ShopItem,
        version: int,
        quantity: int,
        key: str | None,
        digest: bytes | None,
        moment: datetime,
        at_text: str,
    ) -> Order:
        """Refuse (writing nothing), or take the stock, write the order and hold the price."""
        conn = self._conn
        # Read locked on PostgreSQL (TAKING_STOCK): what is checked here is what is taken.
        row = conn.execute(TAKING_STOCK, (item.key,)).fetchone()
        stock = item.stock if row is None else row[0]
        bought = conn.execute(BOUGHT, (user_id, item.key)).fetchone()[0]
        title = item.grants_title
        owns = title is not None and conn.execute(OWNS_TITLE, (user_id, title)).fetchone()
        refusal = self._refusal(item, moment, stock, bought, bool(owns), quantity)
        if refusal is not None:
            raise refusal
        self._limits.check(PURCHASE, user_id, moment)
        price = {currency: unit * quantity for currency, unit in sorted(item.price.items())}
        for currency, total in price.items():
            if total > MAX_TOTAL:
                raise InvalidInput("quantity", f"the total price is above 2**53 {currency}")
            self._ledger.spendable(currency)
            self._ledger.require_available(user_id, currency, total)
        # Nothing can refuse any more: write.
        if row is None:
            conn.execute(SYNC_STOCK, (item.key, item.stock, item.stock))
        taken = conn.execute(TAKE_STOCK, (quantity, quantity, item.key, quantity))
        if taken.rowcount != 1:
            # Only where the item had no stock row yet, so none was locked: another server's
            # buyer made it and took the units meanwhile. The purchase rolls back whole.
            (left,) = conn.execute(TAKING_STOCK, (item.key,)).fetchone()
            raise _short(item, left, quantity)
        granted = item.grants_item
        items = {} if granted is None else {granted: item.units * quantity}
        cursor = conn.execute(
            NEW_ORDER,
            (
                user_id, item.key, version, item.kind, quantity, json.dumps(price),
                json.dumps({"items": items, "title": title}), key,
                None if key is None else digest, at_text,
            ),
        )  # fmt: skip
        order_id = int(cursor.lastrowid or 0)
        hold_until = max(moment, self._now()) + timedelta(seconds=item.hold_seconds)
        held = [
            self._reservations.reserve(
                user_id,
                total,
                currency=currency,
                source="shop",
                expires_at=hold_until,
                reference=(SHOP_ORDER, str(order_id)),
                at=moment,
                at_text=at_text,
            ).id
            for currency, total in price.items()
        ]
        conn.execute(SET_RESERVATIONS, (json.dumps(held), order_id))
        self._limits.record(PURCHASE, user_id, moment, at_text)
        return Order(
            id=order_id,
            user_id=user_id,
            item=item.key,
            kind=item.kind,
            quantity=quantity,
            price=price,
            status="pending",
            created_at=datetime.fromisoformat(at_text),
            version=version,
            items=items,
            title=title,
            reservation_ids=tuple(held),
            idempotency_key=key,
        )

    def _complete(
        self,
        tx: Tx,
        order: Order,
        item: ShopItem,
        reference: str | None,
        moment: datetime,
        at_text: str,
        done_text: str,
    ) -> Order:
        """Commit the holds into ``purchase`` transactions and grant what the order buys."""
        description = f"{item.name} x{order.quantity}" if order.quantity > 1 else item.name
        transactions = []
        for rid, currency in zip(order.reservation_ids, order.price, strict=True):
            transactions.append(
                self._reservations.commit(
                    tx, rid, description=description, at=moment, at_text=at_text,
                    key=f"shop-order:{order.id}:{currency}", shop=True,
                ).id
            )  # fmt: skip
        user_id = order.user_id
        for name, count in order.items.items():
            if name == FREEZE:
                # Days already over are settled with the freezes held then, not with these.
                self._streaks.settle_user(tx, user_id, moment, at_text)
            self._items.grant_item(user_id, name, count, at_text)
        if order.title is not None:
            self._items.grant_title(user_id, order.title, "shop", at_text)
        done = self._conn.execute(
            COMPLETE_ORDER, (json.dumps(transactions), reference, done_text, order.id)
        )
        if done.rowcount != 1:
            # Unreachable while the order's row is locked (written in this transaction, or
            # read with ORDER_TO_CHANGE); typed all the same, the write rolls back whole.
            raise FulfillmentFailed(
                order.id, order.item, "the order was closed while it completed; nothing was charged"
            )
        return attrs.evolve(
            order,
            status="completed",
            transaction_ids=tuple(transactions),
            external_reference=reference,
            completed_at=datetime.fromisoformat(done_text),
        )

    def _fulfil(
        self,
        order: Order,
        item: ShopItem,
        key: str | None,
        digest: bytes | None,
        moment: datetime,
        at_text: str,
        explicit: bool,
    ) -> Order:
        """Phases 2 and 3 of an external purchase: the hook, then commit or release."""
        try:
            answer = self._pm.hook.fulfill_order(engine=self._facade, order=order, item=item)
        except BaseException as exc:
            raised = f"fulfill_order raised {type(exc).__name__}: {exc}"
            self._close_failed(order, raised)
            if not isinstance(exc, Exception):
                raise
            raise FulfillmentFailed(order.id, order.item, raised) from exc
        reference, refused = _answer(answer)
        if refused is not None:
            self._close_failed(order, refused)
            raise FulfillmentFailed(order.id, order.item, refused)

        def complete() -> tuple[Order, Tx]:
            with self._about(order.user_id) as tx:
                # Locked on PostgreSQL: the expiry job closing it at once waits, or is waited for.
                current = self.order_to_change(order.id)
                if current.status != "pending":
                    # The expiry job closed it while the hook ran: nothing was charged.
                    raise FulfillmentFailed(
                        order.id,
                        order.item,
                        f"the order was {current.status} before fulfilment finished (its hold "
                        f"of {item.hold_seconds}s ran out); nothing was charged, undo the "
                        "external step",
                    )
                done_text = at_text if explicit else to_text(max(moment, self._now()))
                done = self._complete(tx, order, item, reference, moment, at_text, done_text)
                if key is not None:
                    assert digest is not None
                    try:
                        prior = self._idempotency.replay(
                            key, "purchase", digest, self.codec, done.user_id
                        )
                        taken = prior is not None
                    except IdempotencyConflict:
                        taken = True  # meanwhile used by another call: the order row keeps it
                    if not taken:
                        self._idempotency.record(
                            key, "purchase", digest, done, self.codec, at_text, done.user_id
                        )
            return done, tx

        completed, tx = self._written(complete)
        if tx.committed:
            self._dispatch(tx, completed)
        return completed

    def _close_failed(self, order: Order, failure: str) -> None:
        now_text = to_text(self._now())

        def close() -> None:
            with self._about(order.user_id):
                self.close(order.id, "failed", failure, now_text)

        self._written(close)
