"""The shop's orders once written: reading them, closing a pending one unpaid (its
fulfilment failed, its hold expired) and refunding a completed one.

``Shop`` (shop.py) is built on ``ShopOrders``; the purchase itself, which writes the orders,
is there. Every change of an order starts by reading its row with ``ORDER_TO_CHANGE``, which
PostgreSQL reads ``FOR UPDATE``: two writes changing one order (a refund on one server and a
refund on another, a failed fulfilment and the expiry job) queue on the row, and the second
decides on what the first left, never on a status that changed under it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

import attrs

from ..errors import NotFound, NotRefundable, PurchasePending
from ..models import Order, Reservation
from ..runtime.idempotency import Codec
from ..runtime.ports import StreakFreezes
from ..storage.shop import (
    CLOSE_ORDER,
    HELD_ITEMS,
    ORDER,
    ORDER_TO_CHANGE,
    ORDERS,
    PUT_BACK_STOCK,
    REFUND_ORDER,
    REVOKE_ITEM,
    REVOKE_TITLE,
    UNEQUIP,
)
from ..storage.store import Tx
from .inventory import FREEZE
from .ledger import SHOP_ORDER, Ledger, Posting
from .ratelimits import PURCHASE, RateLimits
from .reservations import Reservations

__all__ = ["ShopOrders", "order_from_row"]


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def order_from_row(row: tuple[Any, ...]) -> Order:
    """An ``Order`` from a row of ``ORDER``'s columns."""
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


class ShopOrders:
    """Orders read, closed and refunded; ``Shop`` sets what these use as it is built."""

    _conn: sqlite3.Connection
    _ledger: Ledger
    _reservations: Reservations
    _streaks: StreakFreezes
    _limits: RateLimits
    codec: Codec[Order]

    def order(self, order_id: int) -> Order:
        row = self._conn.execute(ORDER, (order_id,)).fetchone()
        if row is None:
            raise NotFound("order_id", order_id)
        return order_from_row(row)

    def orders(self, user_id: str, limit: int, before: int | None) -> list[Order]:
        cursor = self._conn.execute(
            ORDERS, (user_id, before if before is not None else 2**63 - 1, limit)
        )
        return [order_from_row(row) for row in cursor]

    def _row_to_change(self, order_id: int) -> tuple[Any, ...] | None:
        """The order's row, locked until the write ends (PostgreSQL; see the docstring): read
        once to learn its user, then again by id and user, locked."""
        row = self._conn.execute(ORDER, (order_id,)).fetchone()
        if row is None:
            return None
        locked: tuple[Any, ...] | None = self._conn.execute(
            ORDER_TO_CHANGE, (order_id, row[1])
        ).fetchone()
        return locked

    def order_to_change(self, order_id: int) -> Order:
        """The order, its row locked until the write ends (``NotFound`` if there is none)."""
        row = self._row_to_change(order_id)
        if row is None:
            raise NotFound("order_id", order_id)
        return order_from_row(row)

    def close(self, order_id: int, status: str, failure: str, at_text: str) -> bool:
        """Close a pending order unpaid: release its holds, put its stock back, take back its
        rate-limit hit. False (and nothing done) if it is no longer pending."""
        conn = self._conn
        row = self._row_to_change(order_id)
        if row is None or row[6] != "pending":
            return False
        order = order_from_row(row)
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

    def refund(self, tx: Tx, order_id: int, moment: datetime, at_text: str) -> Order:
        """Give a completed order's points back, take its items back and return its stock.

        Refused (nothing written) unless the order completed and the user still holds every
        item it granted (a used streak freeze or tier boost cannot be refunded).
        """
        order = self.order_to_change(order_id)
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
        if done.rowcount != 1:
            # Unreachable while the row read above stays locked; a typed refusal, should it
            # ever be reached, rolls the refund back whole.
            raise NotRefundable(
                f"order {order_id} changed while it was being refunded; nothing was refunded",
                field="order_id",
            )
        return attrs.evolve(
            order,
            status="refunded",
            refund_transaction_ids=tuple(refunds),
            closed_at=datetime.fromisoformat(at_text),
        )
