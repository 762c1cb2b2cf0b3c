"""The statements of ``economy/lots.py``: the lots of expiring currencies (m021)."""

from __future__ import annotations

__all__ = [
    "ADD_HOLD", "ADD_USE", "BASE_HOLDS", "BASE_LOTS", "CLOSE_HOLD", "CONSUME", "CURRENCIES",
    "DROP_CURRENCY", "DROP_LOTS", "DUE", "EXPIRED", "FORGET_HOLDS", "HOLD", "HOLDS", "NEW_LOT",
    "NOTICE_DUE", "NOTIFIED", "OPEN_LOTS", "REFUNDABLE_USES", "UNHOLD", "UPCOMING",
    "USE_REFUNDED", "WATCH_CURRENCY",
]  # fmt: skip

CURRENCIES = "SELECT currency FROM lot_currencies"
WATCH_CURRENCY = "INSERT OR IGNORE INTO lot_currencies (currency) VALUES (?)"
DROP_CURRENCY = "DELETE FROM lot_currencies WHERE currency = ?"
# Lots of a currency that stopped expiring are stale once it expires again: dropped, and
# its balances start over as one lot each.
DROP_LOTS = (
    "DELETE FROM lot_uses WHERE lot_id IN (SELECT id FROM point_lots WHERE currency = ?1)",
    "DELETE FROM lot_holds WHERE lot_id IN (SELECT id FROM point_lots WHERE currency = ?1)",
    "DELETE FROM point_lots WHERE currency = ?1",
)
BASE_LOTS = (
    "INSERT INTO point_lots (account_id, user_id, currency, amount, remaining, held, "
    "created_at) SELECT id, user_id, currency, balance, balance, held, ? FROM accounts "
    "WHERE currency = ? AND user_id IS NOT NULL AND balance > 0"
)
BASE_HOLDS = (
    "INSERT INTO lot_holds (reservation_id, lot_id, amount) SELECT r.id, l.id, r.amount "
    "FROM reservations r JOIN point_lots l ON l.account_id = r.account_id "
    "WHERE r.status = 'active' AND l.currency = ?"
)
NEW_LOT = (
    "INSERT INTO point_lots (account_id, user_id, currency, transaction_id, amount, remaining, "
    "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# First-expiring first; lots that never expire last (NULL sorts first in SQLite: hence the
# ``IS NULL`` key).
OPEN_LOTS = (
    "SELECT id, remaining - held, expires_at FROM point_lots "
    "WHERE account_id = ? AND remaining > 0 AND remaining > held "
    "ORDER BY expires_at IS NULL, expires_at, id"
)
CONSUME = "UPDATE point_lots SET remaining = remaining - ? WHERE id = ?"
ADD_USE = "INSERT INTO lot_uses (transaction_id, lot_id, amount) VALUES (?, ?, ?)"
HOLD = "UPDATE point_lots SET held = held + ? WHERE id = ?"
ADD_HOLD = "INSERT INTO lot_holds (reservation_id, lot_id, amount) VALUES (?, ?, ?)"
HOLDS = "SELECT lot_id, amount FROM lot_holds WHERE reservation_id = ?"
CLOSE_HOLD = "UPDATE point_lots SET remaining = remaining - ?1, held = held - ?1 WHERE id = ?2"
UNHOLD = "UPDATE point_lots SET held = held - ? WHERE id = ?"
FORGET_HOLDS = "DELETE FROM lot_holds WHERE reservation_id = ?"
# What a refund gives back: the uses of the refunded debit not refunded yet, the
# latest-expiring first (the user gets the longest-lived points back first).
REFUNDABLE_USES = (
    "SELECT u.lot_id, u.amount - u.refunded, l.expires_at FROM lot_uses u "
    "JOIN point_lots l ON l.id = u.lot_id WHERE u.transaction_id = ? AND u.amount > u.refunded "
    "ORDER BY l.expires_at IS NULL DESC, l.expires_at DESC, l.id DESC"
)
USE_REFUNDED = "UPDATE lot_uses SET refunded = refunded + ? WHERE transaction_id = ? AND lot_id = ?"
# Lots due to expire: held lots wait until their reservation is committed or released.
DUE = (
    "SELECT id, account_id, user_id, currency, remaining, expires_at FROM point_lots "
    "WHERE expires_at <= ? AND remaining > 0 AND held = 0 AND expired_by IS NULL "
    "ORDER BY expires_at, id"
)
EXPIRED = (
    "UPDATE point_lots SET expired = remaining, remaining = 0, expired_by = ? "
    "WHERE id = ? AND expired_by IS NULL AND remaining = ?"
)
NOTICE_DUE = (
    "SELECT id, user_id, remaining, expires_at FROM point_lots "
    "WHERE currency = ? AND expires_at > ? AND expires_at <= ? AND remaining > 0 "
    "AND notified_at IS NULL ORDER BY expires_at, id"
)
NOTIFIED = "UPDATE point_lots SET notified_at = ? WHERE id = ?"
# A user's next expiries in one currency, summed per moment.
UPCOMING = (
    "SELECT expires_at, SUM(remaining) FROM point_lots WHERE account_id = "
    "(SELECT id FROM accounts WHERE user_id = ? AND currency = ?) AND remaining > 0 "
    "AND expires_at IS NOT NULL GROUP BY expires_at ORDER BY expires_at LIMIT ?"
)
