"""The statements of ops/privacy.py: exporting a user's rows, anonymising and deleting them."""

from __future__ import annotations

__all__ = [
    "ANONYMISE",
    "BALANCES",
    "DEFER_FOREIGN_KEYS",
    "ENTRIES",
    "FORGET_CALL_KEYS",
    "FORGET_KEYS",
    "FORGET_ROW_KEYS",
    "HOLDS",
    "KEYS_ABOUT",
    "MOVED",
    "MOVED_COLUMNS",
    "MOVE_LEDGER",
    "RENAME_KEY",
    "TOMBSTONE",
    "USER_KEYS",
    "USER_LEGS",
    "delete_rows_sql",
    "rows_sql",
]


def _where(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} = :user" for column in columns)


def rows_sql(table: str, columns: tuple[str, ...]) -> str:
    """Every row of ``table`` whose ``columns`` (one or more) name ``:user``."""
    return f"SELECT * FROM {table} WHERE {_where(columns)}"


def delete_rows_sql(table: str, columns: tuple[str, ...]) -> str:
    """Delete every row of ``table`` whose ``columns`` (one or more) name ``:user``."""
    return f"DELETE FROM {table} WHERE {_where(columns)}"


# Every stored result that names the user does so as a JSON string; instr() on the quoted id
# cannot match a longer id or an escaped quote inside other text.
KEYS_ABOUT = "SELECT * FROM idempotency_keys WHERE instr(result, :quoted) > 0"
FORGET_KEYS = "DELETE FROM idempotency_keys WHERE instr(result, :quoted) > 0"
HOLDS = "SELECT id FROM reservations WHERE user_id = ? AND status = 'active' ORDER BY id"
BALANCES = "SELECT currency, balance FROM accounts WHERE user_id = ? AND balance > 0"
ANONYMISE = (
    # Both parties' columns are rewritten; text and metadata may name either of them.
    "UPDATE transactions SET "
    "user_id = CASE WHEN user_id = :user THEN :pseudonym ELSE user_id END, "
    "counterparty_id = CASE WHEN counterparty_id = :user THEN :pseudonym "
    "ELSE counterparty_id END, description = NULL, metadata = NULL "
    "WHERE user_id = :user OR counterparty_id = :user",
    "UPDATE accounts SET user_id = NULL, system_name = 'deleted:' || :pseudonym "
    "WHERE user_id = :user",
    # The lots of expiring currencies, emptied by the forfeit, stay as the history of what
    # each credit became (lot_uses and the expiry transactions refer to them).
    "UPDATE point_lots SET user_id = :pseudonym WHERE user_id = :user",
    # The referred person's contact details go with them; the referrer's count stays.
    "UPDATE referrals SET ip = NULL, device_fingerprint = NULL, email = NULL, utm = NULL "
    "WHERE referred_id = :user",
    "UPDATE referrals SET "
    "referrer_id = CASE WHEN referrer_id = :user THEN :pseudonym ELSE referrer_id END, "
    "referred_id = CASE WHEN referred_id = :user THEN :pseudonym ELSE referred_id END "
    "WHERE referrer_id = :user OR referred_id = :user",
    # Other users' notifications may name the user in their JSON data (a referral sign-up).
    "UPDATE notifications SET data = replace(data, :quoted, :pseudonym_quoted) "
    "WHERE user_id <> :user AND instr(data, :quoted) > 0",
)
ENTRIES = "UPDATE entries SET user_id = NULL WHERE user_id = :user"
TOMBSTONE = "INSERT INTO deleted_users (pseudonym, deleted_at) VALUES (?, ?)"
# A call's own idempotency key, stored on its ledger transaction as ``call:<key>``.
FORGET_CALL_KEYS = (
    "UPDATE transactions SET idempotency_key = NULL WHERE idempotency_key IN "
    "(SELECT 'call:' || key FROM idempotency_keys WHERE instr(result, :quoted) > 0)"
)
# Keys kept in the user's own transaction rows (a keyed award, spend, transfer...: m017): the
# same calls whose registry results name the user, forgotten the same way.
FORGET_ROW_KEYS = (
    "UPDATE transactions SET idempotency_key = NULL, operation = NULL, fingerprint = NULL "
    "WHERE user_id = :user AND fingerprint IS NOT NULL"
)
USER_KEYS = (
    "SELECT id, idempotency_key FROM transactions "
    "WHERE user_id = :user AND idempotency_key IS NOT NULL "
    "AND idempotency_key NOT LIKE 'call:%'"
)
RENAME_KEY = "UPDATE transactions SET idempotency_key = ? WHERE id = ?"
# SQLite's switch for checking foreign keys once, at commit.
DEFER_FOREIGN_KEYS = "PRAGMA defer_foreign_keys = ON"


# -- PostgreSQL: the shared history moves to the pseudonym -----------------------------------
# There a user's ledger rows are keyed by ``user_id`` (Citus shards by it and cannot update it
# in place, docs/postgresql.md "Erasure moves the rows"), so the erasure copies them under the
# pseudonym with the same ids, then deletes the originals once nothing points at them.

MOVED_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "user_id", "id", "system_name", "currency", "balance", "held", "lifetime_earned",
        "lifetime_spent", "created_at",
    ),
    "transactions": (
        "user_id", "id", "type", "currency", "amount", "counterparty_id", "source",
        "reference_type", "reference_id", "description", "metadata", "refund_of", "refunded",
        "idempotency_key", "created_at", "operation", "fingerprint",
    ),
    "entries": (
        "user_id", "transaction_id", "account_id", "amount", "balance_before", "balance_after",
    ),
    "point_lots": (
        "user_id", "id", "account_id", "currency", "transaction_id", "amount", "remaining",
        "held", "expires_at", "notified_at", "expired", "expired_by", "created_at",
    ),
    "lot_uses": ("user_id", "transaction_id", "lot_id", "amount", "refunded"),
    "referrals": (
        "referred_id", "id", "code", "referrer_id", "status", "flagged", "reason", "currency",
        "referrer_points", "referred_points", "ip", "device_fingerprint", "email", "utm",
        "conversion_kind", "revenue", "created_at", "signed_up_at", "converted_at",
        "updated_at",
    ),
}  # fmt: skip
"""Every column of each table whose rows move (the first names the owner); a test compares
them with the PostgreSQL schema, so a new column cannot be dropped by the move."""


def _other(column: str) -> str:
    return f"CASE WHEN {column} = :user THEN :pseudonym ELSE {column} END"


# What changes on the way (as ANONYMISE does on SQLite); the owner column becomes the pseudonym.
_CHANGED: dict[str, dict[str, str]] = {
    # The user's own accounts become closed system accounts; their shares of the system
    # accounts (issuance, sink) keep their names, so the system totals do not change.
    "accounts": {"system_name": "COALESCE(system_name, 'deleted:' || :pseudonym)"},
    "transactions": {
        "counterparty_id": _other("counterparty_id"), "description": "NULL", "metadata": "NULL",
    },
    "referrals": {
        "referrer_id": _other("referrer_id"),
        "ip": "NULL", "device_fingerprint": "NULL", "email": "NULL", "utm": "NULL",
    },
}  # fmt: skip


def _copy(table: str) -> str:
    columns = MOVED_COLUMNS[table]
    changed = {columns[0]: ":pseudonym", **_CHANGED.get(table, {})}
    values = ", ".join(changed.get(column, column) for column in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {values} FROM {table} WHERE {columns[0]} = :user"
    )


# Parents before children, so each copy's keys find their rows.
MOVED = ("accounts", "transactions", "entries", "point_lots", "lot_uses", "referrals")
MOVE_LEDGER = (
    *(_copy(table) for table in MOVED),
    # Other users' rows keep their owner and name the pseudonym instead.
    "UPDATE transactions SET counterparty_id = :pseudonym, description = NULL, metadata = NULL "
    "WHERE counterparty_id = :user AND user_id <> :user",
    "UPDATE referrals SET referrer_id = :pseudonym "
    "WHERE referrer_id = :user AND referred_id <> :user",
    ANONYMISE[5],
    # The records of the user's own keyed calls (keys are per user there).
    "DELETE FROM idempotency_keys WHERE user_id = :user",
    # A closed reservation's holds, if any were left, would keep the reservation's row.
    "DELETE FROM lot_holds WHERE user_id = :user",
)
# The entries on the user's own accounts: their transactions' owners' rows there.
USER_LEGS = (
    "SELECT COUNT(*) FROM entries WHERE account_id IN "
    "(SELECT id FROM accounts WHERE user_id = :user AND system_name IS NULL)"
)
