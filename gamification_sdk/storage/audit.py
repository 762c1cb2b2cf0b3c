"""The statements of ``ops/audit.py``: the ledger audit's checks."""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = [
    "CHECKS", "COUNT_ACCOUNTS", "COUNT_TRANSACTIONS", "DROP_PER_TRANSACTION",
    "FILL_PER_TRANSACTION", "PER_TRANSACTION", "findings",
]  # fmt: skip

# Each check is one query returning (detail, transaction_id, account_id, user_id) rows.
CHECKS: tuple[tuple[str, str], ...] = (
    (
        "unbalanced_transaction",
        """SELECT 'entries sum to ' || total || ' instead of 0', id, NULL, NULL
           FROM per_transaction WHERE total <> 0""",
    ),
    (
        "too_few_entries",
        """SELECT 'has ' || COALESCE(p.n, 0) || ' entries; needs at least 2', t.id, NULL,
                  t.user_id
           FROM transactions t LEFT JOIN per_transaction p ON p.id = t.id
           WHERE COALESCE(p.n, 0) < 2""",
    ),
    (
        "currency_mismatch",
        """SELECT 'entry in ' || a.currency || ' on a ' || t.currency || ' transaction',
                  t.id, a.id, a.user_id
           FROM entries e JOIN accounts a ON a.id = e.account_id
           JOIN transactions t ON t.id = e.transaction_id WHERE a.currency <> t.currency""",
    ),
    (
        "balance_mismatch",
        """SELECT 'stored balance ' || a.balance || ' but entries sum to '
                  || COALESCE(SUM(e.amount), 0), NULL, a.id, a.user_id
           FROM accounts a LEFT JOIN entries e ON e.account_id = a.id
           GROUP BY a.id HAVING a.balance <> COALESCE(SUM(e.amount), 0)""",
    ),
    (
        "broken_chain",
        """SELECT 'balance_before ' || balance_before || ' but the previous entry left '
                  || previous, transaction_id, account_id, user_id
           FROM (SELECT e.*, COALESCE(LAG(e.balance_after) OVER (
                        PARTITION BY e.account_id ORDER BY e.transaction_id), 0) AS previous
                 FROM entries e) AS chained
           WHERE balance_before <> previous""",
    ),
    (
        "bad_entry_arithmetic",
        """SELECT 'balance_after ' || balance_after || ' <> balance_before + amount '
                  || (balance_before + amount), transaction_id, account_id, user_id
           FROM entries WHERE balance_after <> balance_before + amount""",
    ),
    (
        "negative_balance",
        """SELECT 'user balance is ' || balance, NULL, id, user_id FROM accounts
           WHERE user_id IS NOT NULL AND balance < 0
           UNION ALL
           SELECT 'user entry leaves ' || balance_after, transaction_id, account_id, user_id
           FROM entries WHERE user_id IS NOT NULL AND balance_after < 0""",
    ),
    (
        "held_mismatch",
        """SELECT 'held ' || a.held || ' but active reservations total '
                  || COALESCE(SUM(r.amount), 0), NULL, a.id, a.user_id
           FROM accounts a LEFT JOIN reservations r
                ON r.account_id = a.id AND r.status = 'active'
           WHERE a.user_id IS NOT NULL
           GROUP BY a.id HAVING a.held <> COALESCE(SUM(r.amount), 0) OR a.held > a.balance""",
    ),
    (
        "lot_mismatch",
        """SELECT 'balance ' || a.balance || ' held ' || a.held || ' but open lots hold '
                  || COALESCE(SUM(l.remaining), 0) || ' with ' || COALESCE(SUM(l.held), 0)
                  || ' held', NULL, a.id, a.user_id
           FROM accounts a LEFT JOIN point_lots l ON l.account_id = a.id
           WHERE a.user_id IS NOT NULL
                 AND a.currency IN (SELECT currency FROM lot_currencies)
           GROUP BY a.id HAVING a.balance <> COALESCE(SUM(l.remaining), 0)
                 OR a.held <> COALESCE(SUM(l.held), 0)""",
    ),
    (
        "lot_hold_mismatch",
        """SELECT 'lot holds ' || held || ' but active reservations hold ' || holding,
                  NULL, account_id, user_id
           FROM (SELECT l.*, COALESCE((SELECT SUM(h.amount) FROM lot_holds h
                         JOIN reservations r ON r.id = h.reservation_id
                         WHERE h.lot_id = l.id AND r.status = 'active'), 0) AS holding
                 FROM point_lots l WHERE l.held > 0 OR l.id IN (SELECT lot_id FROM lot_holds))
                AS holds
           WHERE held <> holding""",
    ),
    (
        "lifetime_mismatch",
        """SELECT 'lifetime earned ' || lifetime_earned || ' - spent ' || lifetime_spent
                  || ' <> balance ' || balance, NULL, id, user_id
           FROM accounts WHERE user_id IS NOT NULL
                AND lifetime_earned - lifetime_spent <> balance""",
    ),
    (
        "refund_mismatch",
        """SELECT 'refunded ' || t.refunded || ' but refunds total '
                  || COALESCE(SUM(r.amount), 0), t.id, NULL, t.user_id
           FROM transactions t LEFT JOIN transactions r ON r.refund_of = t.id
           GROUP BY t.id
           HAVING t.refunded <> COALESCE(SUM(r.amount), 0) OR t.refunded > t.amount""",
    ),
    (
        "xp_mismatch",
        """SELECT 'profile xp ' || p.xp || ' but XP history sums to '
                  || COALESCE((SELECT SUM(amount) FROM xp_awards x WHERE x.user_id = p.user_id), 0),
                  NULL, NULL, p.user_id
           FROM profiles p
           WHERE p.xp <> COALESCE((SELECT SUM(amount) FROM xp_awards x
                                   WHERE x.user_id = p.user_id), 0)""",
    ),
)


# Entries are clustered by account, so per-transaction sums are computed once, in one sorted
# pass, into a temporary table keyed by transaction id (an index on entries(transaction_id)
# would cost a page write on every posting just to make this audit fast).
PER_TRANSACTION = """
    CREATE TEMP TABLE per_transaction (id INTEGER PRIMARY KEY, n INTEGER, total INTEGER)
"""
FILL_PER_TRANSACTION = """
    INSERT INTO per_transaction (id, n, total)
    SELECT transaction_id, COUNT(*), SUM(amount) FROM entries GROUP BY transaction_id
"""
DROP_PER_TRANSACTION = "DROP TABLE IF EXISTS temp.per_transaction"
COUNT_TRANSACTIONS = "SELECT COUNT(*) FROM transactions"
COUNT_ACCOUNTS = "SELECT COUNT(*) FROM accounts"


def findings(conn: sqlite3.Connection, *, temp_table: bool = True) -> list[tuple[Any, ...]]:
    """Every check's rows, each as ``(kind, detail, transaction_id, account_id, user_id)``.

    ``temp_table=False``: the checks compute the per-transaction sums themselves (PostgreSQL's
    text of them, postgres/accounts.py), for a read-only snapshot."""
    found: list[tuple[Any, ...]] = []
    if not temp_table:
        for kind, sql in CHECKS:
            found.extend((kind, *row) for row in conn.execute(sql))
        return found
    conn.execute(DROP_PER_TRANSACTION)
    conn.execute(PER_TRANSACTION)
    try:
        conn.execute(FILL_PER_TRANSACTION)
        for kind, sql in CHECKS:
            found.extend((kind, *row) for row in conn.execute(sql))
    finally:
        conn.execute(DROP_PER_TRANSACTION)
    return found
