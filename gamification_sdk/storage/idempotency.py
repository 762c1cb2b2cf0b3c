"""The statements of ``runtime/idempotency.py``: the key lookup, the key record and the
expiry of old keys."""

from __future__ import annotations

__all__ = [
    "EXPIRING", "EXPIRING_PER_USER", "FORGET", "FORGET_PER_USER", "LOOKUP", "LOOKUP_PER_USER",
    "RECORD", "RECORD_PER_USER", "lookup",
]  # fmt: skip

# (operation, fingerprint, result) of the key ``?1``.
LOOKUP = "SELECT operation, fingerprint, result FROM idempotency_keys WHERE key = ?1"
RECORD = (
    "INSERT INTO idempotency_keys (key, operation, fingerprint, result, created_at) "
    "VALUES (?, ?, ?, ?, ?)"
)

# Keys unique per user (PostgreSQL): the key ?1 of the user ?2, or of no user ("").
LOOKUP_PER_USER = (
    "SELECT operation, fingerprint, result FROM idempotency_keys "
    "WHERE user_id IN (?2, '') AND key = ?1"
)
RECORD_PER_USER = (
    "INSERT INTO idempotency_keys (user_id, key, operation, fingerprint, result, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)

# Expiry (Idempotency.expire): up to ?4 keys written before ?1, oldest first, after the
# (created_at, key) ?2, ?3 where the last chunk stopped; idempotency_keys_by_time (m023) serves
# the order. Each as (created_at, user, key, operation, result).
EXPIRING = (
    "SELECT created_at, '', key, operation, result FROM idempotency_keys "
    "WHERE created_at < ?1 AND (created_at, key) > (?2, ?3) ORDER BY created_at, key LIMIT ?4"
)
# The key ?1, unless a ledger transaction holds it too (``call:<key>``, a call that keeps its
# key in the registry and also names it in its transaction, whose column is unique): forgetting
# it there would leave a reuse to fail on that column, so it stays, with its row.
FORGET = (
    "DELETE FROM idempotency_keys WHERE key = ?1 "
    "AND NOT EXISTS (SELECT 1 FROM transactions WHERE idempotency_key = 'call:' || ?1)"
)
# Per user (PostgreSQL, p009's index): after (created_at, user_id, key) ?2, ?3, ?4, up to ?5.
EXPIRING_PER_USER = (
    "SELECT created_at, user_id, key, operation, result FROM idempotency_keys "
    "WHERE created_at < ?1 AND (created_at, user_id, key) > (?2, ?3, ?4) "
    "ORDER BY created_at, user_id, key LIMIT ?5"
)
# The key ?2 of the user ?1; a key of no user ('') may name any user's transaction.
FORGET_PER_USER = (
    "DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 "
    "AND NOT EXISTS (SELECT 1 FROM transactions "
    "WHERE user_id = ?1 AND idempotency_key = 'call:' || ?2) "
    "AND (?1 <> '' OR NOT EXISTS (SELECT 1 FROM transactions "
    "WHERE idempotency_key = 'call:' || ?2))"
)


def lookup(homes: tuple[str, ...], *, per_user: bool = False) -> str:
    """One statement reading the key ``?1`` from ``idempotency_keys`` and from every home (a
    SELECT of the same three columns): a key is looked up with one statement wherever it is
    kept. Built once per engine, then executed as a constant (the statement cache hits).

    ``per_user``: the key of the user ``?2`` (each home ends in its WHERE clause, which
    gains the user's condition)."""
    if per_user:
        return " UNION ALL ".join(
            (LOOKUP_PER_USER, *(f"{home} AND user_id IN (?2, '')" for home in homes))
        )
    return " UNION ALL ".join((LOOKUP, *homes))
