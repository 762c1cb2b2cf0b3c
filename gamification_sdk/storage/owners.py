"""Who owns a row that a call names by id: where idempotency keys are unique per user
(PostgreSQL), a keyed call by id looks its key up under the row's owner."""

from __future__ import annotations

__all__ = ["OWNER_OF"]

OWNER_OF: dict[str, str] = {
    "transaction": "SELECT user_id FROM transactions WHERE id = ?",
    "reservation": "SELECT user_id FROM reservations WHERE id = ?",
    "referral": "SELECT referred_id FROM referrals WHERE id = ?",
    "shop_order": "SELECT user_id FROM shop_orders WHERE id = ?",
}
"""The kind of row -> the statement reading its owner by id."""
