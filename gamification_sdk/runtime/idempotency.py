"""The one idempotency mechanism every write uses.

A key is recorded in the same transaction as the write it guards, together with the
operation, a fingerprint of the arguments and the result. A repeat with the same
fingerprint returns the stored result; a different fingerprint is a conflict (the
Stripe/TigerBeetle rule). The lookup runs after ``BEGIN IMMEDIATE``, so two processes
racing with one key serialise and the second sees the first's row.

Results are stored through a codec: JSON by default, or, for results the engine can
rebuild from its own rows (XP awards, ledger transactions), a short reference, which
keeps the hottest writes small.

A write may keep its keys in its own rows instead (``homes``): keyed ``award_xp`` does, in
the XP log, and keyed ledger calls (award, spend, transfer, adjust, refund) in their
transaction row, which saves the hottest keyed writes a row each. The lookup reads every home
in one statement, so a key names one call whichever table holds it.

Keys in ``idempotency_keys`` may expire (``Config.idempotency.keep_days``; ``expire``, run by
the ``expire_keys`` job): after that a reuse runs as a new call. Keys kept in their own rows
stay with those rows, and so do registry keys whose call also named the key in a ledger row
whose column is unique, where a new call with that key could not be written.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..config.convert import converter
from ..errors import IdempotencyConflict
from ..storage.backend import one_cursor
from ..storage.idempotency import (
    EXPIRING,
    EXPIRING_PER_USER,
    FORGET,
    FORGET_PER_USER,
    RECORD,
    RECORD_PER_USER,
    lookup,
)

__all__ = ["Codec", "Idempotency", "Mark", "fingerprint", "json_codec"]

T = TypeVar("T")

Mark = tuple[str, str, str]
"""Where a chunk of ``Idempotency.expire`` stopped: the last key's (created_at, user, key)."""

START: Mark = ("", "", "")


def fingerprint(*parts: object) -> bytes:
    """A digest of already-validated primitive arguments; ``repr`` keeps None and 'None' apart."""
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).digest()


class Codec(Generic[T]):
    """How one operation's result is stored with its key and rebuilt on a replay.

    ``in_row`` says of a result whether the write kept its key in its own row (a home),
    so that no ``idempotency_keys`` row is needed.
    """

    def __init__(
        self,
        encode: Callable[[T], str],
        decode: Callable[[str], T],
        in_row: Callable[[T], bool] | None = None,
    ) -> None:
        self.encode = encode
        self.decode = decode
        self.in_row = in_row


_JSON_CODECS: dict[type[Any], Codec[Any]] = {}


def json_codec(result_type: type[T]) -> Codec[T]:
    codec = _JSON_CODECS.get(result_type)
    if codec is None:

        def encode(result: T) -> str:
            return json.dumps(converter.unstructure(result), separators=(",", ":"))

        def decode(text: str) -> T:
            return converter.structure(json.loads(text), result_type)

        codec = _JSON_CODECS[result_type] = Codec(encode, decode)
    return codec


class Idempotency:
    """``homes``: SELECTs of (operation, fingerprint, result) for the key ``?1`` from the
    tables that keep keys in their own rows; each must be served by a unique index.

    ``per_user``: keys are unique per user (PostgreSQL, where every key row lives on its
    user's shard, docs/postgresql.md); a key is looked up under the call's user and under
    ``""``, the user of calls that have none (and of keys copied from a SQLite file). The
    SQLite file keeps one namespace for all users and ignores ``user_id``."""

    def __init__(
        self, conn: sqlite3.Connection, homes: tuple[str, ...] = (), *, per_user: bool = False
    ) -> None:
        self._conn = conn
        self.per_user = self._per_user = per_user
        self._lookup = lookup(homes, per_user=per_user)
        self._execute = one_cursor(conn)
        # By operation, for calls that may also leave a key derived from theirs in a unique
        # ledger column (a keyed track() that paid points: ``track:<user>:<key>:<currency>``):
        # whether the stored result says this call did. Set by the parts that know the result.
        self.kept_with_rows: dict[str, Callable[[str], bool]] = {}

    def replay(
        self,
        key: str,
        operation: str,
        digest: bytes,
        codec: Codec[T],
        user_id: str = "",
        ahead: Callable[[], object] | None = None,
    ) -> T | None:
        """The stored result of an earlier identical call, or None if the key is new.
        ``ahead`` runs after the lookup is sent, before it is read (``Runtime.write``)."""
        params = (key, user_id) if self._per_user else (key,)
        cursor = self._execute(self._lookup, params)
        if ahead is not None:
            ahead()
        row = cursor.fetchone()
        if row is None:
            return None
        if row[0] != operation or row[1] != digest:
            raise IdempotencyConflict(key, operation, row[0])
        return codec.decode(row[2])

    def record(
        self,
        key: str,
        operation: str,
        digest: bytes,
        result: T,
        codec: Codec[T],
        at_text: str,
        user_id: str = "",
    ) -> None:
        if codec.in_row is not None and codec.in_row(result):
            return
        encoded = codec.encode(result)
        # A bytearray: the sqlite3 module binds it directly, where bytes go through its
        # adapter lookup first (about 0.5 µs); the stored blob is the same.
        blob = bytearray(digest)
        if self._per_user:
            self._conn.execute(RECORD_PER_USER, (user_id, key, operation, blob, encoded, at_text))
        else:
            self._conn.execute(RECORD, (key, operation, blob, encoded, at_text))

    def expire(self, before: str, after: Mark, limit: int) -> tuple[int, Mark | None]:
        """Forget up to ``limit`` registry keys recorded before ``before`` (a stored time),
        oldest first, from after ``after`` (``START``: the oldest). Returns how many were
        forgotten and where the next chunk starts (None: none left). Run inside a write.

        A key stays if a ledger row also holds it or a key derived from it: those are
        unique, so a reuse could not write a new call; such keys live as long as their rows,
        like the keys kept in their own rows (``homes``), which this never touches.
        """
        if self._per_user:
            rows = self._conn.execute(EXPIRING_PER_USER, (before, *after, limit)).fetchall()
        else:
            rows = self._conn.execute(EXPIRING, (before, after[0], after[2], limit)).fetchall()
        forgotten = 0
        for _, user_id, key, operation, result in rows:
            kept = self.kept_with_rows.get(operation)
            if kept is not None and kept(result):
                continue
            if self._per_user:
                forgotten += self._conn.execute(FORGET_PER_USER, (user_id, key)).rowcount
            else:
                forgotten += self._conn.execute(FORGET, (key,)).rowcount
        if len(rows) < limit:
            return forgotten, None
        created_at, user_id, key = rows[-1][:3]
        return forgotten, (created_at, user_id, key)
