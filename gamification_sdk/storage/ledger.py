"""The statements of ``economy/ledger.py``: accounts, postings, balances and history."""

from __future__ import annotations

import sqlite3
from functools import cache
from typing import Any

__all__ = [
    "ADD_REFUNDED", "DELETED", "KEY_HOME", "MOVE", "MOVE_SYSTEM", "MOVE_USER",
    "MOVE_USER_NUMBERED", "NEW_KEYED_TRANSACTION", "NEW_NUMBERED_TRANSACTION",
    "NEW_PLAIN_TRANSACTION", "NEW_SYSTEM_ACCOUNT", "NEW_TRANSACTION", "NEW_USER_ACCOUNT",
    "PAIR_ENTRIES", "POST_SYSTEM_LEG", "SIDE", "SYSTEM_ACCOUNT", "TRANSACTION", "USER_ACCOUNT",
    "account_ids", "history", "new_entries", "totals",
]  # fmt: skip

USER_ACCOUNT = "SELECT id, balance, held FROM accounts WHERE user_id = ? AND currency = ?"
NEW_USER_ACCOUNT = "INSERT INTO accounts (user_id, currency, created_at) VALUES (?, ?, ?)"
DELETED = "SELECT 1 FROM deleted_users WHERE pseudonym = ?"
SYSTEM_ACCOUNT = "SELECT id FROM accounts WHERE system_name = ? AND currency = ?"
NEW_SYSTEM_ACCOUNT = "INSERT INTO accounts (system_name, currency, created_at) VALUES (?, ?, ?)"
# One leg of a posting: the new balance comes back with the UPDATE (RETURNING), so a leg costs
# one statement, not an UPDATE and a SELECT.
MOVE = (
    "UPDATE accounts SET balance = balance + ?, held = held + ?, "
    "lifetime_earned = lifetime_earned + ?, lifetime_spent = lifetime_spent + ? "
    "WHERE id = ? RETURNING balance"
)
# A system account's leg where each user has their own row of it (PostgreSQL, see
# economy/ledger.py): the row of the posting's owner (?1), created by its first leg. System
# legs move only the balance.
MOVE_SYSTEM = (
    "INSERT INTO accounts (user_id, system_name, currency, balance, created_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, system_name, currency) "
    "DO UPDATE SET balance = accounts.balance + excluded.balance RETURNING id, balance"
)
# The user's leg of a credit or debit, found by owner and currency rather than by id, so the
# account needs no SELECT first: no row comes back if the account does not exist yet or holds
# less than ?6 available (a debit's amount, 0 for a credit), and then nothing was written. Last,
# the stored configuration version, for Store.confirm: award and spend confirm it here instead
# of running PRAGMA data_version as they begin (one statement fewer; see Ledger.move_user).
MOVE_USER = (
    "UPDATE accounts SET balance = balance + ?1, lifetime_earned = lifetime_earned + ?2, "
    "lifetime_spent = lifetime_spent + ?3 "
    "WHERE user_id = ?4 AND currency = ?5 AND balance - held >= ?6 "
    "RETURNING id, balance, (SELECT MAX(version) FROM config_versions)"
)
# PostgreSQL only (system accounts per user: economy/ledger.py ``_per_user``): MOVE_USER that
# also draws the number of the transaction the move belongs to, so the rest of the posting
# is written without reading anything back (NEW_NUMBERED_TRANSACTION, POST_SYSTEM_LEG), and
# rides with the COMMIT in one round trip (storage/postgres/session.py).
MOVE_USER_NUMBERED = (
    "UPDATE accounts SET balance = balance + ?1, lifetime_earned = lifetime_earned + ?2, "
    "lifetime_spent = lifetime_spent + ?3 WHERE system_name IS NULL AND user_id = ?4 "
    "AND currency = ?5 AND balance - held >= ?6 "
    "RETURNING id, balance, nextval('transactions_id_seq')"
)
# The system leg (MOVE_SYSTEM's row of the owner ?1) and both legs' entries, in one statement:
# ?6 the transaction, ?7 the user's account, ?8 its amount, ?9 and ?10 its balances.
POST_SYSTEM_LEG = (
    "WITH s AS (INSERT INTO accounts (user_id, system_name, currency, balance, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, system_name, currency) "
    "DO UPDATE SET balance = accounts.balance + excluded.balance RETURNING id, balance) "
    "INSERT INTO entries (transaction_id, account_id, user_id, amount, balance_before, "
    "balance_after) SELECT CAST(?6 AS BIGINT), id, ?1, CAST(?4 AS BIGINT), balance - ?4, "
    "balance FROM s UNION ALL VALUES (CAST(?6 AS BIGINT), CAST(?7 AS BIGINT), ?1, "
    "CAST(?8 AS BIGINT), CAST(?9 AS BIGINT), CAST(?10 AS BIGINT))"
)
# ``operation`` and ``fingerprint`` are set when the row keeps its call's key (KEY_HOME).
NEW_TRANSACTION = (
    "INSERT INTO transactions (type, currency, amount, user_id, counterparty_id, source, "
    "reference_type, reference_id, description, metadata, refund_of, idempotency_key, "
    "created_at, operation, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# NEW_TRANSACTION of a posting with no counterparty, reference, description, metadata or
# refund (most awards and spends), keyed or not: Python's sqlite3 binds a None (and a bytes)
# parameter only after looking for an adapter, which raises and formats an AttributeError
# inside (some 3,300 instructions a parameter, 4,000 a bytes); the columns a posting leaves
# NULL are not bound at all, and the fingerprint is bound as a bytearray (the same BLOB).
NEW_KEYED_TRANSACTION = (
    "INSERT INTO transactions (type, currency, amount, user_id, source, idempotency_key, "
    "created_at, operation, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
NEW_PLAIN_TRANSACTION = (
    "INSERT INTO transactions (type, currency, amount, user_id, source, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
NEW_NUMBERED_TRANSACTION = (
    "INSERT INTO transactions (id, type, currency, amount, user_id, counterparty_id, source, "
    "reference_type, reference_id, description, metadata, refund_of, idempotency_key, "
    "created_at, operation, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Where a keyed ledger write keeps its key: its own transaction row (see Idempotency's homes),
# found through the UNIQUE index on idempotency_key. Rows without a fingerprint name a key
# the registry holds (older files, derived keys, writes that store a fuller result).
KEY_HOME = (
    "SELECT operation, fingerprint, json_array(user_id, id) FROM transactions "
    "WHERE idempotency_key = 'call:' || ?1 AND fingerprint IS NOT NULL"
)
_NEW_ENTRIES = (
    "INSERT INTO entries (transaction_id, account_id, user_id, amount, balance_before, "
    "balance_after) VALUES "
)
_ENTRY_VALUES = "(?, ?, ?, ?, ?, ?)"
# A user's leg and a system account's (SQLite: a system account has no owner): the system
# leg's NULL written out, not bound (see NEW_KEYED_TRANSACTION).
PAIR_ENTRIES = _NEW_ENTRIES + "(?, ?, ?, ?, ?, ?), (?, ?, NULL, ?, ?, ?)"
TRANSACTION = (
    "SELECT id, type, currency, amount, user_id, counterparty_id, source, reference_type, "
    "reference_id, description, metadata, refund_of, refunded, idempotency_key, created_at "
    "FROM transactions WHERE id = ?"
)
# rowcount 0 when the transaction has less left to refund than that (another server's refund
# of it committed after this one read it).
ADD_REFUNDED = (
    "UPDATE transactions SET refunded = refunded + ?1 WHERE id = ?2 AND refunded + ?1 <= amount"
)
# One user's side of a transaction: (id, type, currency, amount, balance_before,
# balance_after, source, created_at, user_id, counterparty_id, reference_type, reference_id,
# description, metadata, refund_of, idempotency_key).
_SIDE_COLUMNS = (
    "SELECT t.id, t.type, t.currency, e.amount, e.balance_before, e.balance_after, t.source, "
    "t.created_at, t.user_id, t.counterparty_id, t.reference_type, t.reference_id, "
    "t.description, t.metadata, t.refund_of, t.idempotency_key "
    "FROM entries e JOIN transactions t ON t.id = e.transaction_id "
)
_HISTORY = (
    _SIDE_COLUMNS + "WHERE e.account_id IN ({accounts}) AND e.transaction_id < ? "
    "ORDER BY e.transaction_id DESC LIMIT ?"
)
SIDE = (
    _SIDE_COLUMNS + "WHERE e.account_id IN (SELECT id FROM accounts WHERE user_id = ?) "
    "AND e.transaction_id = ?"
)
_TOTALS = (
    "SELECT currency, lifetime_earned, lifetime_spent, balance FROM accounts WHERE user_id = ?"
)
_ACCOUNT_IDS = "SELECT id FROM accounts WHERE user_id = ?"
_OF_CURRENCY = " AND currency = ?"
_ALL_TOTALS = _TOTALS + " ORDER BY currency"
_CURRENCY_TOTALS = _TOTALS + _OF_CURRENCY + " ORDER BY currency"
_CURRENCY_ACCOUNT_IDS = _ACCOUNT_IDS + _OF_CURRENCY


@cache
def new_entries(count: int) -> str:
    """One INSERT of ``count`` entries (a posting's legs): one statement, not one per leg."""
    return _NEW_ENTRIES + ", ".join([_ENTRY_VALUES] * count)


def totals(conn: sqlite3.Connection, user_id: str, currency: str | None) -> list[Any]:
    """``(currency, lifetime_earned, lifetime_spent, balance)`` of the user's accounts (of
    one currency, or all), by currency."""
    if currency is None:
        return conn.execute(_ALL_TOTALS, (user_id,)).fetchall()
    return conn.execute(_CURRENCY_TOTALS, (user_id, currency)).fetchall()


def account_ids(conn: sqlite3.Connection, user_id: str, currency: str | None) -> list[int]:
    """The ids of the user's accounts (of one currency, or all)."""
    if currency is None:
        cursor = conn.execute(_ACCOUNT_IDS, (user_id,))
    else:
        cursor = conn.execute(_CURRENCY_ACCOUNT_IDS, (user_id, currency))
    return [row[0] for row in cursor]


def history(conn: sqlite3.Connection, accounts: list[int], before: int, limit: int) -> list[Any]:
    """The sides (``SIDE``'s columns) on ``accounts`` of transactions older than ``before``,
    newest first, at most ``limit``."""
    query = _HISTORY.format(accounts=",".join("?" * len(accounts)))
    return conn.execute(query, (*accounts, before, limit)).fetchall()
