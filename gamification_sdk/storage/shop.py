"""The statements of ``economy/shop.py``: stock, orders and what refunds take back."""

from __future__ import annotations

__all__ = [
    "ALL_STOCK",
    "BOUGHT",
    "BOUGHT_ALL",
    "CLOSE_ORDER",
    "COMPLETE_ORDER",
    "HELD_ITEMS",
    "ITEM",
    "LIVE_ITEMS",
    "NEW_ORDER",
    "ORDER",
    "ORDERS",
    "ORDER_TO_CHANGE",
    "OWNS_TITLE",
    "PENDING_KEY",
    "PUT_BACK_STOCK",
    "REFUND_ORDER",
    "REVOKE_ITEM",
    "REVOKE_TITLE",
    "SET_RESERVATIONS",
    "STOCK",
    "SYNC_STOCK",
    "TAKE_STOCK",
    "TAKING_STOCK",
    "UNEQUIP",
    "USER_TITLES",
]

# Shop items are definitions of kind 'shop' (their JSON body, version and retirement).
ITEM = "SELECT body, version, retired_at FROM definitions WHERE kind = 'shop' AND key = ?"
LIVE_ITEMS = "SELECT body, version FROM definitions WHERE kind = 'shop' AND retired_at IS NULL"
STOCK = "SELECT stock, sold FROM shop_stock WHERE item = ?"
ALL_STOCK = "SELECT item, stock, sold FROM shop_stock"
# The units left, read by a purchase before it checks and takes them: on PostgreSQL with FOR
# UPDATE (postgres/statements.py), so two servers' buyers of the last unit queue on the row
# and the second reads it gone (OutOfStock) instead of finding the take refused.
TAKING_STOCK = "SELECT stock FROM shop_stock WHERE item = ?"
# Units left are the units the item may ever sell minus those sold, never below 0.
SYNC_STOCK = (
    "INSERT INTO shop_stock (item, total, stock, sold) VALUES (?, ?, ?, 0) "
    "ON CONFLICT (item) DO UPDATE SET total = excluded.total, stock = CASE "
    "WHEN excluded.total IS NULL THEN NULL WHEN excluded.total > shop_stock.sold "
    "THEN excluded.total - shop_stock.sold ELSE 0 END"
)
# rowcount 0 when fewer units are left than asked for (NULL stock: unlimited).
TAKE_STOCK = (
    "UPDATE shop_stock SET stock = stock - ?, sold = sold + ? "
    "WHERE item = ? AND (stock IS NULL OR stock >= ?)"
)
# SET expressions see the old row: the new stock is total - (old sold - n).
PUT_BACK_STOCK = (
    "UPDATE shop_stock SET sold = sold - ?1, "
    "stock = CASE WHEN total IS NULL THEN NULL WHEN total - sold + ?2 > 0 THEN total - sold + ?2 "
    "ELSE 0 END WHERE item = ?3"
)
BOUGHT = (
    "SELECT coalesce(sum(quantity), 0) FROM shop_orders WHERE user_id = ? AND item = ? "
    "AND status IN ('pending', 'completed')"
)
BOUGHT_ALL = (
    "SELECT item, sum(quantity) FROM shop_orders WHERE user_id = ? "
    "AND status IN ('pending', 'completed') GROUP BY item"
)
OWNS_TITLE = "SELECT 1 FROM titles WHERE user_id = ? AND title = ?"
USER_TITLES = "SELECT title FROM titles WHERE user_id = ?"
NEW_ORDER = (
    "INSERT INTO shop_orders (user_id, item, version, kind, quantity, price, grants, status, "
    "reservations, idempotency_key, fingerprint, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', '[]', ?, ?, ?)"
)
SET_RESERVATIONS = "UPDATE shop_orders SET reservations = ? WHERE id = ?"
COMPLETE_ORDER = (
    "UPDATE shop_orders SET status = 'completed', transactions = ?, external_reference = ?, "
    "completed_at = ? WHERE id = ? AND status = 'pending'"
)
CLOSE_ORDER = (
    "UPDATE shop_orders SET status = ?, failure = ?, closed_at = ? WHERE id = ? "
    "AND status = 'pending'"
)
REFUND_ORDER = (
    "UPDATE shop_orders SET status = 'refunded', refunds = ?, closed_at = ? WHERE id = ? "
    "AND status = 'completed'"
)
PENDING_KEY = (
    "SELECT id, fingerprint FROM shop_orders WHERE idempotency_key = ? AND status = 'pending'"
)
# An order row, as ``economy/shop.py``'s ``_order`` reads it.
_COLUMNS = (
    "id, user_id, item, kind, quantity, price, status, created_at, version, grants, "
    "external_reference, failure, reservations, transactions, refunds, completed_at, "
    "closed_at, idempotency_key"
)
ORDER = f"SELECT {_COLUMNS} FROM shop_orders WHERE id = ?"
# The order a write is about to change (complete, close, refund), by its id and its user: on
# PostgreSQL with FOR UPDATE (postgres/statements.py), so two writes changing one order queue
# on its row and the second reads what the first made of it. The user makes it a read of one
# shard on Citus, which locks rows only there.
ORDER_TO_CHANGE = f"SELECT {_COLUMNS} FROM shop_orders WHERE id = ? AND user_id = ?"
ORDERS = f"SELECT {_COLUMNS} FROM shop_orders WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
HELD_ITEMS = "SELECT quantity FROM inventory WHERE user_id = ? AND item = ?"
REVOKE_ITEM = (
    "UPDATE inventory SET quantity = quantity - ?, updated_at = ? WHERE user_id = ? AND item = ?"
)
REVOKE_TITLE = "DELETE FROM titles WHERE user_id = ? AND title = ?"
UNEQUIP = "UPDATE profiles SET equipped_title = NULL WHERE user_id = ? AND equipped_title = ?"
