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
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
import pluggy

from ..core.clock import to_text
from ..errors import (
    FulfillmentFailed,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    NotOnSale,
    NotRefundable,
    OutOfStock,
    PurchaseLimitReached,
    PurchasePending,
    PurchaseRefused,
)
from ..models import Order, Reservation, ShopListing
from ..runtime.idempotency import Codec, Idempotency, json_codec
from ..runtime.ports import StreakFreezes
from ..storage.shop import (
    ALL_STOCK,
    BOUGHT,
    BOUGHT_ALL,
    CLOSE_ORDER,
    COMPLETE_ORDER,
    HELD_ITEMS,
    ITEM,
    LIVE_ITEMS,
    NEW_ORDER,
    ORDER,
    ORDERS,
    OWNS_TITLE,
    PENDING_KEY,
    PUT_BACK_STOCK,
    REFUND_ORDER,
    REVOKE_ITEM,
    REVOKE_TITLE,
    SET_RESERVATIONS,
    STOCK,
    SYNC_STOCK,
    TAKE_STOCK,
    UNEQUIP,
    USER_TITLES,
)
from ..storage.store import Store, Tx
from .inventory import FREEZE, Items
from .ledger import SHOP_ORDER, Ledger, Posting
from .ratelimits import PURCHASE, RateLimits
from .reservations import Reservations
from .shop_items import ShopItem, structure_shop_item

__all__ = ["Shop"]

MAX_TOTAL = 2**53
_LIVE = ("pending", "completed")  # orders that count against stock and per-user limits


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _order(row: tuple[Any, ...]) -> Order:
    grants = json.loads(row[9])
    return Order(
        id=row[0],
        user_id=row[1],
        item=row[2],
        kind=row[3],
        quantity=row[4],
        price=json.loads(row[5]),
        status=row[6],
        created_at=datetime.fromisoformat(row[7]),
        version=row[8],
        items=grants["items"],
        title=grants["title"],
        external_reference=row[10],
        failure=row[11],
        reservation_ids=tuple(json.loads(row[12])),
        transaction_ids=tuple(json.loads(row[13])),
        refund_transaction_ids=tuple(json.loads(row[14])),
        completed_at=_time(row[15]),
        closed_at=_time(row[16]),
        idempotency_key=row[17],
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


class Shop:
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
    ) -> None:
        self._store = store
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

    def _stock(self, item: ShopItem) -> tuple[int | None, int]:
        row = self._conn.execute(STOCK, (item.key,)).fetchone()
        return (item.stock, 0) if row is None else (row[0], row[1])

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
            left = "is sold out" if stock == 0 else f"has {stock} left, not {quantity}"
            return OutOfStock(item.key, left)
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

    # -- orders ----------------------------------------------------------------------------

    def order(self, order_id: int) -> Order:
        row = self._conn.execute(ORDER, (order_id,)).fetchone()
        if row is None:
            raise NotFound("order_id", order_id)
        return _order(row)

    def orders(self, user_id: str, limit: int, before: int | None) -> list[Order]:
        cursor = self._conn.execute(
            ORDERS, (user_id, before if before is not None else 2**63 - 1, limit)
        )
        return [_order(row) for row in cursor]

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
        with self._store.write() as tx:
            if key is not None:
                assert digest is not None
                prior = self._idempotency.replay(key, "purchase", digest, self.codec, user_id)
                if prior is not None:
                    return prior
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
                    f"{item_key!r} is external: its fulfilment runs outside any transaction, "
                    "so it cannot be bought inside batch()",
                )
            if external and not hook.get_hookimpls():
                raise FulfillmentFailed(None, item_key, "no plugin implements fulfill_order")
            order = self._reserve(user_id, item, version, quantity, key, digest, moment, at_text)
            if not external:
                order = self._complete(tx, order, item, None, moment, at_text, at_text)
                if key is not None:
                    assert digest is not None
                    self._idempotency.record(
                        key, "purchase", digest, order, self.codec, at_text, user_id
                    )
        if tx.committed:
            self._dispatch(tx, order)
        if not external:
            return order
        return self._fulfil(order, item, key, digest, moment, at_text, explicit)

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
        stock, _ = self._stock(item)
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
        if conn.execute(STOCK, (item.key,)).fetchone() is None:
            conn.execute(SYNC_STOCK, (item.key, item.stock, item.stock))
        taken = conn.execute(TAKE_STOCK, (quantity, quantity, item.key, quantity))
        assert taken.rowcount == 1, "stock was checked inside this transaction"
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
        assert done.rowcount == 1
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
            self._close_failed(order.id, "failed", raised)
            if not isinstance(exc, Exception):
                raise
            raise FulfillmentFailed(order.id, order.item, raised) from exc
        reference, refused = _answer(answer)
        if refused is not None:
            self._close_failed(order.id, "failed", refused)
            raise FulfillmentFailed(order.id, order.item, refused)
        with self._store.write() as tx:
            current = self.order(order.id)
            if current.status != "pending":
                # The expiry job closed it while the hook ran: nothing was charged.
                raise FulfillmentFailed(
                    order.id,
                    order.item,
                    f"the order was {current.status} before fulfilment finished (its hold of "
                    f"{item.hold_seconds}s ran out); nothing was charged, undo the external step",
                )
            done_text = at_text if explicit else to_text(max(moment, self._now()))
            order = self._complete(tx, order, item, reference, moment, at_text, done_text)
            if key is not None:
                assert digest is not None
                try:
                    prior = self._idempotency.replay(
                        key, "purchase", digest, self.codec, order.user_id
                    )
                    taken = prior is not None
                except IdempotencyConflict:
                    taken = True  # meanwhile used by another call: the order row keeps it
                if not taken:
                    self._idempotency.record(
                        key, "purchase", digest, order, self.codec, at_text, order.user_id
                    )
        if tx.committed:
            self._dispatch(tx, order)
        return order

    def _close_failed(self, order_id: int, status: str, failure: str) -> None:
        now_text = to_text(self._now())
        with self._store.write():
            self.close(order_id, status, failure, now_text)

    def close(self, order_id: int, status: str, failure: str, at_text: str) -> bool:
        """Close a pending order unpaid: release its holds, put its stock back, take back its
        rate-limit hit. False (and nothing done) if it is no longer pending."""
        conn = self._conn
        row = conn.execute(ORDER, (order_id,)).fetchone()
        if row is None or row[6] != "pending":
            return False
        order = _order(row)
        for rid in order.reservation_ids:
            if self._reservations.get(rid).status == "active":
                self._reservations.release(rid, status="released", at_text=at_text, shop=True)
        conn.execute(PUT_BACK_STOCK, (order.quantity, order.quantity, order.item))
        self._limits.forget(PURCHASE, order.user_id, row[7])
        conn.execute(CLOSE_ORDER, (status, failure, at_text, order_id))
        return True

    def expired(self, released: list[Reservation], at_text: str) -> None:
        """Close the pending orders whose holds ``expire_reservations`` just released."""
        orders = {
            int(r.reference_id)
            for r in released
            if r.reference_type == SHOP_ORDER and r.reference_id is not None
        }
        for order_id in sorted(orders):
            self.close(order_id, "expired", "the hold expired before fulfilment finished", at_text)

    # -- refunds ---------------------------------------------------------------------------

    def refund(self, tx: Tx, order_id: int, moment: datetime, at_text: str) -> Order:
        """Give a completed order's points back, take its items back and return its stock.

        Refused (nothing written) unless the order completed and the user still holds every
        item it granted (a used streak freeze or tier boost cannot be refunded).
        """
        order = self.order(order_id)
        if order.status == "pending":
            raise PurchasePending(order_id)
        if order.status == "refunded":
            raise NotRefundable(f"order {order_id} is already refunded", field="order_id")
        if order.status != "completed":
            raise NotRefundable(
                f"order {order_id} is {order.status}: nothing was charged", field="order_id"
            )
        user_id = order.user_id
        for name, count in order.items.items():
            if name == FREEZE:
                held = self._streaks.status(user_id, moment).freezes  # missed days settled
            else:
                row = self._conn.execute(HELD_ITEMS, (user_id, name)).fetchone()
                held = 0 if row is None else row[0]
            if held < count:
                raise NotRefundable(
                    f"order {order_id} granted {count} {name} and the user holds {held}: "
                    "used items cannot be refunded",
                    field="order_id",
                )
        sizes = [
            self._ledger.refundable(tid, None, user_id, shop=True) for tid in order.transaction_ids
        ]
        # Nothing can refuse any more: write.
        for name, count in order.items.items():
            if name == FREEZE:
                self._streaks.settle_user(tx, user_id, moment, at_text)
            self._conn.execute(REVOKE_ITEM, (count, at_text, user_id, name))
        if order.title is not None:
            self._conn.execute(REVOKE_TITLE, (user_id, order.title))
            self._conn.execute(UNEQUIP, (user_id, order.title))
        refunds = []
        for tid, (owner, currency, size) in zip(order.transaction_ids, sizes, strict=True):
            posting = Posting(
                "refund", currency, size, owner, "refund", moment, at_text,
                reference=(SHOP_ORDER, str(order_id)),
                description=f"Refund of shop order {order_id}", refund_of=tid,
                key=f"shop-refund:{order_id}:{currency}",
            )  # fmt: skip
            refunds.append(self._ledger.refund(tx, posting).id)
        self._conn.execute(PUT_BACK_STOCK, (order.quantity, order.quantity, order.item))
        done = self._conn.execute(REFUND_ORDER, (json.dumps(refunds), at_text, order_id))
        assert done.rowcount == 1
        return attrs.evolve(
            order,
            status="refunded",
            refund_transaction_ids=tuple(refunds),
            closed_at=datetime.fromisoformat(at_text),
        )
