"""How the ledger writes a posting: its legs, the user's leg moved by owner and currency,
and the entries; ``Booking`` is the base of ``Ledger`` (economy/ledger.py), which decides what
each call posts.

Methods here assume validated arguments and an open write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from ..errors import InvalidInput
from ..models import Transaction
from ..storage import ledger as statements
from ..storage.backend import one_cursor
from ..storage.ledger import (
    MOVE,
    MOVE_SYSTEM,
    MOVE_USER,
    MOVE_USER_NUMBERED,
    NEW_KEYED_TRANSACTION,
    NEW_NUMBERED_TRANSACTION,
    NEW_PLAIN_TRANSACTION,
    NEW_TRANSACTION,
    PAIR_ENTRIES,
    POST_SYSTEM_LEG,
)
from ..storage.store import Tx
from .postings import Leg, Posting, view

__all__ = ["Booking"]


class Booking:
    def __init__(self, conn: sqlite3.Connection, *, system_per_user: bool) -> None:
        self._conn = conn
        # A credit's and a debit's statements, each read before the next runs: one cursor.
        self._execute = one_cursor(conn)
        self._system: dict[tuple[str, str], int] = {}
        # PostgreSQL books each system account (issuance, sink, breakage) as one row per
        # user, so a posting stays on its owner's shard and no row takes every award
        # (docs/postgresql.md). The SQLite file keeps one row per system account.
        self._per_user = system_per_user
        # PostgreSQL: the user's leg draws its transaction's number (MOVE_USER_NUMBERED).
        self._move_user = MOVE_USER_NUMBERED if system_per_user else MOVE_USER
        # Set by the engine (Store.confirm): the user's leg returns the stored configuration
        # version (SQLite's MOVE_USER), which a ``confirms`` write checks there.
        self.confirm: Callable[[int | None], None] = lambda version: None

    def _system_leg(self, name: str, currency: str, amount: int) -> Leg:
        if self._per_user:
            return Leg(0, None, amount, system=name)
        return Leg(self._system[(name, currency)], None, amount)

    def post(
        self, posting: Posting, legs: Sequence[Leg], user_leg: tuple[int, ...] | None = None
    ) -> dict[int, tuple[int, int, int]]:
        """Write one balanced transaction; returns account id -> (id, before, after).

        ``user_leg``: ``(account id, balance after)`` of a first leg the caller already
        moved (``move_user``), which this then only records.
        """
        if sum(leg.amount for leg in legs) != 0:
            raise AssertionError(f"unbalanced posting {legs!r}")
        if user_leg is not None and len(user_leg) == 3 and len(legs) == 2:
            return self._post_numbered(posting, legs, user_leg)
        conn = self._conn
        ref = posting.reference
        try:
            cursor = conn.execute(
                NEW_TRANSACTION,
                (
                    posting.type,
                    posting.currency,
                    posting.amount,
                    posting.user_id,
                    posting.counterparty,
                    posting.source,
                    ref[0] if ref else None,
                    ref[1] if ref else None,
                    posting.description,
                    posting.metadata,
                    posting.refund_of,
                    posting.key,
                    posting.at_text,
                    posting.operation,
                    posting.fingerprint,
                ),
            )
            transaction_id = int(cursor.lastrowid or 0)
            sides = {}
            values: list[object] = []
            for leg in legs:
                account_id, owner = leg.account_id, leg.user_id
                if leg.system is not None:
                    account_id, after = conn.execute(
                        MOVE_SYSTEM,
                        (posting.user_id, leg.system, posting.currency, leg.amount,
                         posting.at_text),
                    ).fetchone()  # fmt: skip
                elif user_leg is not None and account_id == user_leg[0]:
                    after = user_leg[1]
                else:
                    (after,) = conn.execute(
                        MOVE, (leg.amount, leg.held, leg.earned, leg.spent, account_id)
                    ).fetchone()
                if self._per_user:
                    # Every entry of a transaction lives on its owner's shard.
                    owner = posting.user_id
                before = after - leg.amount
                sides[account_id] = (transaction_id, before, after)
                values += (transaction_id, account_id, owner, leg.amount, before, after)
            # Every leg's entry in one statement: a statement costs about what its seek does.
            conn.execute(statements.new_entries(len(legs)), values)
        except sqlite3.IntegrityError as exc:
            # The schema is the last line of defence (overflow, negative balance, held > balance).
            raise InvalidInput("amount", f"refused by the ledger's constraints ({exc})") from None
        return sides

    def _post_numbered(
        self, posting: Posting, legs: Sequence[Leg], user_leg: tuple[int, ...]
    ) -> dict[int, tuple[int, int, int]]:
        """``post`` of a user's leg moved by MOVE_USER_NUMBERED and one system leg: two
        statements whose results nobody reads, so they wait for the COMMIT (PostgreSQL)."""
        account, after, number = user_leg
        user, system = legs
        assert user.account_id == account and system.system is not None
        ref = posting.reference
        conn = self._conn
        conn.execute(
            NEW_NUMBERED_TRANSACTION,
            (
                number, posting.type, posting.currency, posting.amount, posting.user_id,
                posting.counterparty, posting.source, ref[0] if ref else None,
                ref[1] if ref else None, posting.description, posting.metadata,
                posting.refund_of, posting.key, posting.at_text, posting.operation,
                posting.fingerprint,
            ),
        )  # fmt: skip
        before = after - user.amount
        conn.execute(
            POST_SYSTEM_LEG,
            (
                posting.user_id, system.system, posting.currency, system.amount,
                posting.at_text, number, account, user.amount, before, after,
            ),
        )  # fmt: skip
        return {account: (number, before, after)}

    def move_user(
        self,
        posting: Posting,
        amount: int,
        earned: int,
        spent: int,
        available: int,
        tx: Tx | None = None,
    ) -> tuple[int, ...] | None:
        """Move the user's leg of a credit or debit by owner and currency, without reading the
        account first: ``(account id, balance after)`` (and on PostgreSQL the number of its
        transaction), or None (nothing written) if the user has no account in this currency
        or less than ``available`` available. ``tx``: the write, whose ``ahead`` may hold this
        very move, queued before the key lookup was read (``move_ahead``).

        On SQLite the move is the first statement of an award or spend that writes: the
        configuration version it returns is confirmed here (``Store.confirm``), so a moved
        configuration rolls the whole write back (``StaleConfig``) before anything commits."""
        params = (amount, earned, spent, posting.user_id, posting.currency, available)
        queued = tx.take(self._move_user, params) if tx is not None and tx.ahead else None
        try:
            row = (queued or self._execute(self._move_user, params)).fetchone()
        except sqlite3.IntegrityError as exc:
            raise InvalidInput("amount", f"refused by the ledger's constraints ({exc})") from None
        if row is None:
            return None
        if self._per_user:
            return tuple(row)
        self.confirm(row[2])
        return (row[0], row[1])

    def _post_pair(
        self, tx: Tx, posting: Posting, account: int, after: int, delta: int, system: str
    ) -> Transaction:
        """``_post_and_view`` of a credit or debit on SQLite, without building its legs: the
        user's ``account`` moved by ``delta`` already (``move_user``: balance ``after``), and
        ``system``'s account by ``-delta``. The same rows, by as many statements in the same
        order."""
        execute = self._execute
        (
            kind, currency, amount, user, source, _, at_text, counterparty, ref, description,
            metadata, refund_of, key, operation, fingerprint, _,
        ) = posting  # fmt: skip
        system_id = self._system[(system, currency)]
        # No None bound where the row's column may stay NULL (see NEW_KEYED_TRANSACTION).
        bare = (
            counterparty is None and ref is None and description is None and metadata is None
            and refund_of is None
        )  # fmt: skip
        params: tuple[object, ...]
        if bare and key is not None and operation is not None and fingerprint is not None:
            sql = NEW_KEYED_TRANSACTION
            params = (
                kind, currency, amount, user, source, key, at_text, operation,
                bytearray(fingerprint),
            )  # fmt: skip
        elif bare and key is None and operation is None and fingerprint is None:
            sql, params = NEW_PLAIN_TRANSACTION, (kind, currency, amount, user, source, at_text)
        else:
            sql = NEW_TRANSACTION
            params = (
                kind, currency, amount, user, counterparty, source, ref[0] if ref else None,
                ref[1] if ref else None, description, metadata, refund_of, key, at_text,
                operation, fingerprint,
            )  # fmt: skip
        try:
            transaction_id = int(execute(sql, params).lastrowid or 0)
            (system_after,) = execute(MOVE, (-delta, 0, 0, 0, system_id)).fetchone()
            before = after - delta
            execute(
                PAIR_ENTRIES,
                (
                    transaction_id, account, user, delta, before, after,
                    transaction_id, system_id, -delta, system_after + delta, system_after,
                ),
            )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            # The schema is the last line of defence (overflow, negative balance, held > balance).
            raise InvalidInput("amount", f"refused by the ledger's constraints ({exc})") from None
        result = view(posting, transaction_id, user, before, after, None)
        # Tx.emit's own append, without its call.
        tx.events.append(("on_points_changed", {"transaction": result}))
        return result

    def move_ahead(
        self, tx: Tx, posting: Posting, amount: int, earned: int, spent: int, available: int
    ) -> bool:
        """Queue ``move_user`` before the key lookup is read (Runtime.write's ``ahead``)."""
        params = (amount, earned, spent, posting.user_id, posting.currency, available)
        tx.queue_ahead(self._conn, self._move_user, params)
        return True

    def _post_and_view(
        self,
        tx: Tx,
        posting: Posting,
        legs: Sequence[Leg],
        *views: tuple[int, str, str | None],
        user_leg: tuple[int, ...] | None = None,
    ) -> Transaction:
        """Post, then build and announce each user's side; returns the first side."""
        sides = self.post(posting, legs, user_leg)
        results = []
        for account_id, user_id, counterparty in views:
            transaction_id, before, after = sides[account_id]
            result = view(posting, transaction_id, user_id, before, after, counterparty)
            tx.emit("on_points_changed", transaction=result)
            results.append(result)
        return results[0]
