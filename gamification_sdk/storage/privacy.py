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
    "RENAME_KEY",
    "TOMBSTONE",
    "USER_KEYS",
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
