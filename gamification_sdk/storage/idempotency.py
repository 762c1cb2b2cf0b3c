"""The statements of ``runtime/idempotency.py``: the key lookup and the key record."""

from __future__ import annotations

__all__ = ["LOOKUP", "LOOKUP_PER_USER", "RECORD", "RECORD_PER_USER", "lookup"]

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
