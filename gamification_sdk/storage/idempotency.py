"""The statements of ``runtime/idempotency.py``: the key lookup and the key record."""

from __future__ import annotations

__all__ = ["LOOKUP", "RECORD", "lookup"]

# (operation, fingerprint, result) of the key ``?1``.
LOOKUP = "SELECT operation, fingerprint, result FROM idempotency_keys WHERE key = ?1"
RECORD = (
    "INSERT INTO idempotency_keys (key, operation, fingerprint, result, created_at) "
    "VALUES (?, ?, ?, ?, ?)"
)


def lookup(homes: tuple[str, ...]) -> str:
    """One statement reading the key ``?1`` from ``idempotency_keys`` and from every home (a
    SELECT of the same three columns): a key is looked up with one statement wherever it is
    kept. Built once per engine, then executed as a constant (the statement cache hits)."""
    return " UNION ALL ".join((LOOKUP, *homes))
