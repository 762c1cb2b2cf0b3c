"""Points: transactions, history pages, holds, shop orders and listings, rate limits, the audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "ExpiringPoints",
    "ExpiryRun",
    "HistoryPage",
    "LedgerProblem",
    "LedgerReport",
    "Order",
    "RateLimitStatus",
    "Reservation",
    "ShopListing",
    "Totals",
    "Transaction",
]


@attrs.frozen
class Transaction:
    """A ledger transaction seen from ``user_id``'s side: ``amount`` is signed for that user.

    ``balance_before``/``balance_after`` are that user's balance around it.
    """

    id: int
    type: str
    user_id: str
    currency: str
    amount: int
    balance_before: int
    balance_after: int
    source: str
    created_at: datetime
    counterparty: str | None = None
    reference_type: str | None = None
    reference_id: str | None = None
    description: str | None = None
    metadata: Any = None
    refund_of: int | None = None
    idempotency_key: str | None = None


@attrs.frozen
class Totals:
    """Per-currency summary: ``net == earned - spent`` is the current balance."""

    earned: int
    spent: int
    net: int


@attrs.frozen
class HistoryPage:
    """A page of history, newest first; pass ``next_before`` as ``before`` for the next page.

    ``expiring``: per expiring currency the user holds, the next amounts to expire.
    """

    transactions: tuple[Transaction, ...]
    totals: dict[str, Totals]
    next_before: int | None
    expiring: dict[str, tuple[ExpiringPoints, ...]] = attrs.field(factory=dict)


@attrs.frozen
class ExpiringPoints:
    """``amount`` of a user's points in ``currency`` expire at ``expires_at`` (UTC)."""

    currency: str
    amount: int
    expires_at: datetime


@attrs.frozen
class ExpiryRun:
    """What ``g.points.expire_points()`` did: one ``expired`` transaction per lot that
    expired, and how many "points expiring soon" notices it sent."""

    expired: tuple[Transaction, ...]
    notices: int


@attrs.frozen
class Reservation:
    """Points held for a two-phase purchase. ``status``: active, committed, released, expired."""

    id: int
    user_id: str
    currency: str
    amount: int
    status: str
    source: str
    created_at: datetime
    expires_at: datetime
    reference_type: str | None = None
    reference_id: str | None = None
    transaction_id: int | None = None


@attrs.frozen
class Order:
    """One shop purchase. ``status``: pending (points held while ``fulfill_order`` runs),
    completed, failed (fulfilment raised or refused), expired (the hold ran out first) or
    refunded. ``price`` is the total charged per currency (unit price x quantity);
    ``items`` and ``title`` what was granted; ``transaction_ids`` the ``purchase``
    transactions and ``refund_transaction_ids`` their refunds.
    """

    id: int
    user_id: str
    item: str
    kind: str
    quantity: int
    price: dict[str, int]
    status: str
    created_at: datetime
    version: int = 1
    items: dict[str, int] = attrs.field(factory=dict)
    title: str | None = None
    external_reference: str | None = None
    failure: str | None = None
    reservation_ids: tuple[int, ...] = ()
    transaction_ids: tuple[int, ...] = ()
    refund_transaction_ids: tuple[int, ...] = ()
    completed_at: datetime | None = None
    closed_at: datetime | None = None
    idempotency_key: str | None = None


@attrs.frozen
class ShopListing:
    """One live shop item as a user sees it at a moment.

    ``price`` is per unit; ``stock`` the units left (None: unlimited) and ``sold`` those sold.
    With a user: ``bought`` counts their units (pending and completed orders) and
    ``remaining_for_user`` what the per-user limit still allows (None: no limit).
    ``available`` says whether one unit can be bought now, and if not, ``reason`` why.
    """

    key: str
    name: str
    kind: str
    price: dict[str, int]
    description: str
    category: str
    icon: str
    stock: int | None
    sold: int
    per_user_limit: int | None
    available_from: datetime | None
    available_until: datetime | None
    available: bool
    reason: str | None = None
    bought: int | None = None
    remaining_for_user: int | None = None
    units: int = 1
    metadata: dict[str, Any] = attrs.field(factory=dict)
    version: int = 1


@attrs.frozen
class RateLimitStatus:
    """One user's standing against one action's rate limit at a moment.

    ``used`` calls count in the current sliding window of ``window`` seconds and
    ``remaining`` more are allowed now. ``resets_at`` is the next moment ``remaining`` goes
    up (the oldest counted call leaves the window), or None when nothing is counted. With
    the action's limit turned off, ``limit``, ``window`` and ``remaining`` are None.
    """

    action: str
    user_id: str
    limit: int | None
    window: int | None
    used: int
    remaining: int | None
    resets_at: datetime | None


@attrs.frozen
class LedgerProblem:
    """One fault ``verify_ledger`` found; ``kind`` names the check that failed."""

    kind: str
    detail: str
    transaction_id: int | None = None
    account_id: int | None = None
    user_id: str | None = None


@attrs.frozen
class LedgerReport:
    """The audit result. Empty (falsy, ``ok``) on a healthy database."""

    problems: tuple[LedgerProblem, ...]
    checked_transactions: int
    checked_accounts: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def __len__(self) -> int:
        return len(self.problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def kinds(self) -> set[str]:
        return {problem.kind for problem in self.problems}
