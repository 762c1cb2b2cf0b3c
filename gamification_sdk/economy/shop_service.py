"""``g.shop``: the shop's listing, purchases (hold, fulfil, charge and grant), refunds of
whole orders, and the orders themselves."""

from __future__ import annotations

import builtins
from datetime import datetime

from ..core.checks import check_before, check_limit
from ..core.validation import check_at, check_id, check_key, check_row_id, check_text
from ..errors import InvalidInput
from ..models import Order, ShopListing
from ..runtime.idempotency import fingerprint
from ..runtime.runtime import Runtime
from .shop import Shop

__all__ = ["ShopService"]


class ShopService:
    """The shop, as ``g.shop``."""

    def __init__(self, rt: Runtime, shop: Shop) -> None:
        self._rt = rt
        self._shop = shop

    def list(self, user_id: str | None = None, *, at: datetime | None = None) -> list[ShopListing]:
        """The live shop items with price, stock and whether one can be bought at ``at``; with
        ``user_id``, also what they bought and what the per-user limit still allows."""
        if user_id is not None:
            check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._rt.store.read():
            return self._shop.listing(user_id, moment)

    def purchase(
        self,
        user_id: str,
        item_key: str,
        *,
        quantity: int = 1,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Order:
        """Buy ``quantity`` of a shop item: hold the price, fulfil, then charge and grant.

        Refused, writing nothing: ``NotFound`` (unknown item), ``NotOnSale``, ``OutOfStock``,
        ``PurchaseLimitReached``, ``RateLimited``, ``InsufficientFunds``. An ``external``
        item is fulfilled by the ``fulfill_order`` hook outside any transaction; if it
        raises or refuses, the hold is released and ``FulfillmentFailed`` raised.
        """
        check_id(user_id)
        check_text(item_key, "item_key", max_length=100)
        if type(quantity) is not int or not 1 <= quantity <= 1000:
            raise InvalidInput("quantity", f"expected an int from 1 to 1000, got {quantity!r}")
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        digest = None if key is None else fingerprint(user_id, item_key, quantity, explicit)
        return self._shop.purchase(
            user_id, item_key, quantity, key, digest, moment, at_text, explicit is not None
        )

    def refund(
        self, order_id: int, *, idempotency_key: str | None = None, at: datetime | None = None
    ) -> Order:
        """Refund a completed order whole: points back through the ledger, granted items
        and titles taken back, stock returned. ``NotRefundable`` if it is not completed or
        its items were used (a spent streak freeze)."""
        oid = self._check_order_id(order_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "refund_purchase",
            key,
            lambda: fingerprint(oid, explicit),
            self._shop.codec,
            at_text,
            lambda tx: self._shop.refund(tx, oid, moment, at_text),
            user_id=self._rt.owner_of("shop_order", oid),
        )

    # ``builtins.list``: inside this class, a bare ``list`` in an annotation names the method.
    def orders(
        self, user_id: str, *, limit: int = 50, before: int | None = None
    ) -> builtins.list[Order]:
        """The user's shop orders, newest first; pass the last ``id`` as ``before`` for more."""
        check_id(user_id)
        check_limit(limit)
        check_before(before)
        with self._rt.store.read():
            return self._shop.orders(user_id, limit, before)

    def order(self, order_id: int) -> Order:
        """One shop order (``NotFound`` if there is none)."""
        oid = self._check_order_id(order_id)
        with self._rt.store.read():
            return self._shop.order(oid)

    @staticmethod
    def _check_order_id(order_id: object) -> int:
        return check_row_id(order_id, "order_id")
