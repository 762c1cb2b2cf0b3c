"""The one idempotency mechanism every write uses.

A key is recorded in the same transaction as the write it guards, together with the
operation, a fingerprint of the arguments and the result. A repeat with the same
fingerprint returns the stored result; a different fingerprint is a conflict (the
Stripe/TigerBeetle rule). The lookup runs after ``BEGIN IMMEDIATE``, so two processes
racing with one key serialise and the second sees the first's row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any, TypeVar

from .convert import converter
from .errors import IdempotencyConflict

__all__ = ["Idempotency", "fingerprint"]

T = TypeVar("T")

_LOOKUP = "SELECT operation, fingerprint, result FROM idempotency_keys WHERE key = ?"
_RECORD = (
    "INSERT INTO idempotency_keys (key, operation, fingerprint, result, created_at) "
    "VALUES (?, ?, ?, ?, ?)"
)


def fingerprint(*parts: object) -> bytes:
    """A digest of already-validated primitive arguments; ``repr`` keeps None and 'None' apart."""
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).digest()


class Idempotency:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def replay(self, key: str, operation: str, digest: bytes, result_type: type[T]) -> T | None:
        """The stored result of an earlier identical call, or None if the key is new."""
        row = self._conn.execute(_LOOKUP, (key,)).fetchone()
        if row is None:
            return None
        if row[0] != operation or row[1] != digest:
            raise IdempotencyConflict(key, operation, row[0])
        return converter.structure(json.loads(row[2]), result_type)

    def record(self, key: str, operation: str, digest: bytes, result: Any, at_text: str) -> None:
        payload = json.dumps(converter.unstructure(result), separators=(",", ":"))
        self._conn.execute(_RECORD, (key, operation, digest, payload, at_text))
