"""The statements of ``economy/reservations.py``: holds of two-phase purchases."""

from __future__ import annotations

__all__ = ["CLOSE", "DUE", "GET", "HOLD", "NEW"]

# A reservation row: (id, user_id, currency, amount, status, source, created_at, expires_at,
# reference_type, reference_id, transaction_id, account_id).
_COLUMNS = (
    "id, user_id, currency, amount, status, source, created_at, expires_at, "
    "reference_type, reference_id, transaction_id, account_id"
)
GET = f"SELECT {_COLUMNS} FROM reservations WHERE id = ?"
NEW = (
    "INSERT INTO reservations (user_id, account_id, currency, amount, status, source, "
    "reference_type, reference_id, created_at, expires_at) "
    "VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)"
)
HOLD = "UPDATE accounts SET held = held + ? WHERE id = ?"
# rowcount 0 when the hold is no longer active: another server's call closed it after this
# one read it open.
CLOSE = (
    "UPDATE reservations SET status = ?, closed_at = ?, transaction_id = ? WHERE id = ? "
    "AND status = 'active'"
)
DUE = (
    f"SELECT {_COLUMNS} FROM reservations WHERE status = 'active' AND expires_at <= ? "
    "ORDER BY expires_at, id"
)
