"""What a ledger write is made of: postings and their legs, the system accounts' names, the
reference types the ledger knows, and how a stored transaction row reads as one user's side.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from ..core.validation import check_text
from ..errors import InvalidInput
from ..models import Transaction

__all__ = [
    "BATTLE_PASS", "BREAKAGE", "CREDIT_TYPES", "ISSUANCE", "POINT_LOT", "SHOP_ORDER", "SINK",
    "SPEND_TYPES", "Leg", "Posting", "check_reference", "in_row", "public_key", "side", "view",
]  # fmt: skip

ISSUANCE = "issuance"
SINK = "sink"
BREAKAGE = "breakage"
# The reference type of expiry transactions: the lot they expired.
POINT_LOT = "point_lot"
CREDIT_TYPES = frozenset({"earned", "bonus", "referral_reward"})
SPEND_TYPES = frozenset({"spent", "purchase"})
# The reference type of shop purchases: their holds and refunds belong to the shop.
SHOP_ORDER = "shop_order"
# The reference type of battle pass rewards and premium passes (a premium pass is final).
BATTLE_PASS = "battle_pass"


def side(row: tuple[Any, ...], viewer: str) -> Transaction:
    """One user's side of a transaction, from a row of ``SIDE``'s columns."""
    tid, kind, currency, amount, before, after, source, created, owner = row[:9]
    counterparty = owner if kind == "transfer" and owner != viewer else row[9]
    return Transaction(
        id=tid,
        type=kind,
        user_id=viewer,
        currency=currency,
        amount=amount,
        balance_before=before,
        balance_after=after,
        source=source,
        created_at=datetime.fromisoformat(created),
        counterparty=counterparty,
        reference_type=row[10],
        reference_id=row[11],
        description=row[12],
        metadata=None if row[13] is None else json.loads(row[13]),
        refund_of=row[14],
        idempotency_key=public_key(row[15]),
    )


def public_key(stored: str | None) -> str | None:
    """Caller keys are stored as ``call:<key>`` so no caller key can collide with a derived one."""
    if stored is not None and stored.startswith("call:"):
        return stored[5:]
    return stored


def view(
    posting: Posting,
    transaction_id: int,
    user_id: str,
    before: int,
    after: int,
    counterparty: str | None,
) -> Transaction:
    """``user_id``'s side of ``posting`` as just written: their balance went from ``before``
    to ``after``."""
    ref, key = posting.reference, posting.key
    # Positional, in the fields' order: a quarter faster than by keyword, on every award;
    # the key as public_key gives it, without its call.
    return Transaction(
        transaction_id, posting.type, user_id, posting.currency, after - before, before, after,
        posting.source, posting.at, counterparty, ref[0] if ref else None,
        ref[1] if ref else None, posting.description,
        None if posting.metadata is None else json.loads(posting.metadata), posting.refund_of,
        key[5:] if key is not None and key.startswith("call:") else key,
    )  # fmt: skip


def in_row(result: Transaction) -> bool:
    return True


# Leg and Posting are named tuples, not frozen attrs classes: just as immutable, and built in
# a fraction of the time (a frozen attrs instance sets each field through
# object.__setattr__), which every award and spend pays once per posting and leg.
class Leg(NamedTuple):
    """One side of a posting (signed ``amount``); lifetime deltas keep earned - spent = balance."""

    account_id: int
    user_id: str | None
    amount: int
    held: int = 0
    earned: int = 0
    spent: int = 0
    # Where system accounts are booked per user (PostgreSQL): the system account's name,
    # whose row for the posting's owner the leg moves (created by its first leg).
    system: str | None = None


class Posting(NamedTuple):
    """What a transaction row records; ``amount`` is its (positive) size."""

    type: str
    currency: str
    amount: int
    user_id: str
    source: str
    at: datetime
    at_text: str
    counterparty: str | None = None
    reference: tuple[str, str] | None = None
    description: str | None = None
    metadata: str | None = None
    refund_of: int | None = None
    key: str | None = None
    # A keyed call that keeps its key in this row (see KEY_HOME): its operation and the
    # fingerprint of its arguments. None when the registry holds the key, or there is none.
    operation: str | None = None
    fingerprint: bytes | None = None
    # A credit's own expiry (``award(expires_at=)``), replacing its currency's rule.
    expires_at: str | None = None


def check_reference(reference: object) -> tuple[str, str] | None:
    """A caller's ``reference``: a (type, id) pair of str, not one the engine reserves."""
    if reference is None:
        return None
    if (
        not isinstance(reference, tuple | list)
        or len(reference) != 2
        or not all(isinstance(part, str) for part in reference)
    ):
        raise InvalidInput("reference", "expected a (type, id) pair of str, e.g. ('order', '42')")
    if reference[0] == SHOP_ORDER:
        raise InvalidInput("reference", f"{SHOP_ORDER!r} is reserved for shop.purchase()")
    if reference[0] == BATTLE_PASS:
        raise InvalidInput("reference", f"{BATTLE_PASS!r} is reserved for the battle pass")
    check_text(reference[0], "reference[0]", max_length=100)
    check_text(reference[1], "reference[1]")
    return (reference[0], reference[1])
