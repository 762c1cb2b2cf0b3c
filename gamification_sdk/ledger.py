"""The double-entry points ledger: accounts, postings, balances and history.

Every transaction moves one currency between at least two accounts and its entries sum to
zero. User accounts can never go below zero (a CHECK in the schema, not just Python).
System accounts per currency: ``issuance`` (where awards come from; it runs negative by
what is outstanding) and ``sink`` (where spending goes). Held points of two-phase
purchases stay in the user's account and are counted in ``held``: available is
``balance - held``, and the schema refuses ``held > balance``.

Methods here assume validated arguments and an open write transaction; the facade
checks input and owns the transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

import attrs

from .config import Config, CurrencyConfig
from .errors import (
    InsufficientFunds,
    InvalidInput,
    NotFound,
    NotRefundable,
    NotSpendable,
    UnknownCurrency,
)
from .models import HistoryPage, Totals, Transaction
from .profiles import Profiles
from .store import Tx

__all__ = ["CREDIT_TYPES", "ISSUANCE", "SINK", "SPEND_TYPES", "Leg", "Ledger"]

ISSUANCE = "issuance"
SINK = "sink"
CREDIT_TYPES = frozenset({"earned", "bonus", "referral_reward"})
SPEND_TYPES = frozenset({"spent", "purchase"})

_USER_ACCOUNT = "SELECT id, balance, held FROM accounts WHERE user_id = ? AND currency = ?"
_NEW_USER_ACCOUNT = "INSERT INTO accounts (user_id, currency, created_at) VALUES (?, ?, ?)"
_SYSTEM_ACCOUNT = "SELECT id FROM accounts WHERE system_name = ? AND currency = ?"
_NEW_SYSTEM_ACCOUNT = "INSERT INTO accounts (system_name, currency, created_at) VALUES (?, ?, ?)"
_MOVE = (
    "UPDATE accounts SET balance = balance + ?, held = held + ?, "
    "lifetime_earned = lifetime_earned + ?, lifetime_spent = lifetime_spent + ? "
    "WHERE id = ? RETURNING balance"
)
_NEW_TRANSACTION = (
    "INSERT INTO transactions (type, currency, amount, user_id, counterparty_id, source, "
    "reference_type, reference_id, description, metadata, refund_of, idempotency_key, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_NEW_ENTRY = (
    "INSERT INTO entries (transaction_id, account_id, user_id, amount, balance_before, "
    "balance_after) VALUES (?, ?, ?, ?, ?, ?)"
)
_TRANSACTION = (
    "SELECT id, type, currency, amount, user_id, counterparty_id, source, reference_type, "
    "reference_id, description, metadata, refund_of, refunded, idempotency_key, created_at "
    "FROM transactions WHERE id = ?"
)
_ADD_REFUNDED = "UPDATE transactions SET refunded = refunded + ? WHERE id = ?"
_HISTORY = (
    "SELECT t.id, t.type, t.currency, e.amount, e.balance_before, e.balance_after, t.source, "
    "t.created_at, t.user_id, t.counterparty_id, t.reference_type, t.reference_id, "
    "t.description, t.metadata, t.refund_of, t.idempotency_key "
    "FROM entries e JOIN transactions t ON t.id = e.transaction_id "
    "WHERE e.account_id IN ({accounts}) AND e.transaction_id < ? "
    "ORDER BY e.transaction_id DESC LIMIT ?"
)


def public_key(stored: str | None) -> str | None:
    """Caller keys are stored as ``call:<key>`` so no caller key can collide with a derived one."""
    if stored is not None and stored.startswith("call:"):
        return stored[5:]
    return stored


@attrs.frozen
class Leg:
    """One side of a posting: ``amount`` is signed; the lifetime deltas keep earned-spent=balance."""

    account_id: int
    user_id: str | None
    amount: int
    held: int = 0
    earned: int = 0
    spent: int = 0


@attrs.frozen
class Posted:
    id: int
    sides: dict[int, tuple[int, int]]  # account id -> (balance_before, balance_after)


class Ledger:
    def __init__(self, conn: sqlite3.Connection, config: Config, profiles: Profiles) -> None:
        self._conn = conn
        self._config = config
        self._profiles = profiles
        self._currencies = {c.name: c for c in config.currencies}
        self._system: dict[tuple[str, str], int] = {}

    # -- accounts -------------------------------------------------------------------------

    def setup(self, at_text: str) -> None:
        """Create the system accounts of every configured currency (inside a write)."""
        for currency in self._currencies:
            for name in (ISSUANCE, SINK):
                row = self._conn.execute(_SYSTEM_ACCOUNT, (name, currency)).fetchone()
                if row is None:
                    cursor = self._conn.execute(_NEW_SYSTEM_ACCOUNT, (name, currency, at_text))
                    self._system[(name, currency)] = int(cursor.lastrowid or 0)
                else:
                    self._system[(name, currency)] = row[0]

    def currency(self, name: object) -> CurrencyConfig:
        found = self._currencies.get(name) if isinstance(name, str) else None
        if found is None:
            raise UnknownCurrency(name, list(self._currencies))
        return found

    def spendable(self, name: object) -> CurrencyConfig:
        found = self.currency(name)
        if not found.spendable:
            raise NotSpendable(found.name)
        return found

    def system_account(self, name: str, currency: str) -> int:
        return self._system[(name, currency)]

    def user_account(self, user_id: str, currency: str) -> tuple[int, int, int] | None:
        """``(account id, balance, held)`` or None if the user never held this currency."""
        row = self._conn.execute(_USER_ACCOUNT, (user_id, currency)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def open_user_account(self, user_id: str, currency: str, at_text: str) -> int:
        row = self._conn.execute(_USER_ACCOUNT, (user_id, currency)).fetchone()
        if row is not None:
            return int(row[0])
        self._profiles.ensure(user_id, at_text)
        cursor = self._conn.execute(_NEW_USER_ACCOUNT, (user_id, currency, at_text))
        return int(cursor.lastrowid or 0)

    def require_available(self, user_id: str, currency: str, amount: int) -> tuple[int, int, int]:
        """The user's account, or ``InsufficientFunds`` if ``balance - held < amount``."""
        account = self.user_account(user_id, currency)
        available = 0 if account is None else account[1] - account[2]
        if account is None or available < amount:
            raise InsufficientFunds(currency, amount, available)
        return account

    # -- posting --------------------------------------------------------------------------

    def post(
        self,
        *,
        type: str,
        currency: str,
        amount: int,
        legs: Sequence[Leg],
        user_id: str | None,
        source: str,
        at_text: str,
        counterparty: str | None = None,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: str | None = None,
        refund_of: int | None = None,
        key: str | None = None,
    ) -> Posted:
        """Write one balanced transaction. The caller built ``legs`` to sum to zero."""
        if sum(leg.amount for leg in legs) != 0:
            raise AssertionError(f"unbalanced posting {legs!r}")
        conn = self._conn
        try:
            cursor = conn.execute(
                _NEW_TRANSACTION,
                (
                    type,
                    currency,
                    amount,
                    user_id,
                    counterparty,
                    source,
                    reference[0] if reference else None,
                    reference[1] if reference else None,
                    description,
                    metadata,
                    refund_of,
                    key,
                    at_text,
                ),
            )
            transaction_id = int(cursor.lastrowid or 0)
            sides = {}
            for leg in legs:
                (after,) = conn.execute(
                    _MOVE, (leg.amount, leg.held, leg.earned, leg.spent, leg.account_id)
                ).fetchone()
                before = after - leg.amount
                sides[leg.account_id] = (before, after)
                conn.execute(
                    _NEW_ENTRY,
                    (transaction_id, leg.account_id, leg.user_id, leg.amount, before, after),
                )
        except sqlite3.IntegrityError as exc:
            if "idempotency_key" in str(exc):
                raise
            # The schema is the last line of defence (overflow, negative balance, held > balance).
            raise InvalidInput("amount", f"refused by the ledger's constraints ({exc})") from None
        return Posted(transaction_id, sides)

    def view(
        self,
        posted: Posted,
        account_id: int,
        *,
        type: str,
        user_id: str,
        currency: str,
        source: str,
        at: datetime,
        counterparty: str | None = None,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: str | None = None,
        refund_of: int | None = None,
        key: str | None = None,
    ) -> Transaction:
        """The transaction as seen from one user account's side."""
        before, after = posted.sides[account_id]
        return Transaction(
            id=posted.id,
            type=type,
            user_id=user_id,
            currency=currency,
            amount=after - before,
            balance_before=before,
            balance_after=after,
            source=source,
            created_at=at,
            counterparty=counterparty,
            reference_type=reference[0] if reference else None,
            reference_id=reference[1] if reference else None,
            description=description,
            metadata=None if metadata is None else json.loads(metadata),
            refund_of=refund_of,
            idempotency_key=public_key(key),
        )

    def credit(
        self,
        tx: Tx,
        user_id: str,
        amount: int,
        *,
        currency: str,
        type: str,
        source: str,
        at: datetime,
        at_text: str,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: str | None = None,
        key: str | None = None,
    ) -> Transaction:
        """Issue new points to a user (awards, bonuses, level-up rewards)."""
        account = self.open_user_account(user_id, currency, at_text)
        legs = (
            Leg(account, user_id, amount, earned=amount),
            Leg(self._system[(ISSUANCE, currency)], None, -amount),
        )
        common = dict(
            type=type,
            currency=currency,
            source=source,
            reference=reference,
            description=description,
            metadata=metadata,
            key=key,
        )
        posted = self.post(amount=amount, legs=legs, user_id=user_id, at_text=at_text, **common)  # type: ignore[arg-type]
        result = self.view(posted, account, user_id=user_id, at=at, **common)  # type: ignore[arg-type]
        tx.emit("on_points_changed", transaction=result)
        return result

    def debit(
        self,
        tx: Tx,
        user_id: str,
        amount: int,
        *,
        currency: str,
        type: str,
        source: str,
        at: datetime,
        at_text: str,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: str | None = None,
        key: str | None = None,
        release_held: int = 0,
        account: tuple[int, int, int] | None = None,
    ) -> Transaction:
        """Move a user's points to the sink (spending, purchases, committed reservations)."""
        if account is None:
            account = self.require_available(user_id, currency, amount)
        legs = (
            Leg(account[0], user_id, -amount, held=-release_held, spent=amount),
            Leg(self._system[(SINK, currency)], None, amount),
        )
        common = dict(
            type=type,
            currency=currency,
            source=source,
            reference=reference,
            description=description,
            metadata=metadata,
            key=key,
        )
        posted = self.post(amount=amount, legs=legs, user_id=user_id, at_text=at_text, **common)  # type: ignore[arg-type]
        result = self.view(posted, account[0], user_id=user_id, at=at, **common)  # type: ignore[arg-type]
        tx.emit("on_points_changed", transaction=result)
        return result

    def transfer(
        self,
        tx: Tx,
        from_user: str,
        to_user: str,
        amount: int,
        *,
        currency: str,
        source: str,
        at: datetime,
        at_text: str,
        description: str | None = None,
        metadata: str | None = None,
        key: str | None = None,
    ) -> Transaction:
        sender = self.require_available(from_user, currency, amount)
        receiver = self.open_user_account(to_user, currency, at_text)
        legs = (
            Leg(sender[0], from_user, -amount, spent=amount),
            Leg(receiver, to_user, amount, earned=amount),
        )
        common = dict(
            type="transfer",
            currency=currency,
            source=source,
            description=description,
            metadata=metadata,
            key=key,
        )
        posted = self.post(
            amount=amount, legs=legs, user_id=from_user, counterparty=to_user, at_text=at_text, **common  # type: ignore[arg-type]
        )
        sent = self.view(posted, sender[0], user_id=from_user, counterparty=to_user, at=at, **common)  # type: ignore[arg-type]
        received = self.view(posted, receiver, user_id=to_user, counterparty=from_user, at=at, **common)  # type: ignore[arg-type]
        tx.emit("on_points_changed", transaction=sent)
        tx.emit("on_points_changed", transaction=received)
        return sent

    def adjust(
        self,
        tx: Tx,
        user_id: str,
        amount: int,
        *,
        currency: str,
        reason: str,
        at: datetime,
        at_text: str,
        metadata: str | None = None,
        key: str | None = None,
    ) -> Transaction:
        """An admin correction: positive adds to earned, negative takes it back from earned."""
        if amount < 0:
            account = self.require_available(user_id, currency, -amount)[0]
        else:
            account = self.open_user_account(user_id, currency, at_text)
        legs = (
            Leg(account, user_id, amount, earned=amount),
            Leg(self._system[(ISSUANCE, currency)], None, -amount),
        )
        common = dict(
            type="admin_adjustment",
            currency=currency,
            source="admin",
            description=reason,
            metadata=metadata,
            key=key,
        )
        posted = self.post(amount=abs(amount), legs=legs, user_id=user_id, at_text=at_text, **common)  # type: ignore[arg-type]
        result = self.view(posted, account, user_id=user_id, at=at, **common)  # type: ignore[arg-type]
        tx.emit("on_points_changed", transaction=result)
        return result

    def refund(
        self,
        tx: Tx,
        transaction_id: int,
        *,
        amount: int | None,
        user_id: str | None,
        description: str | None,
        at: datetime,
        at_text: str,
        key: str | None = None,
    ) -> Transaction:
        row = self._conn.execute(_TRANSACTION, (transaction_id,)).fetchone()
        if row is None:
            raise NotFound("transaction_id", transaction_id)
        (_, kind, currency, original, owner, _, _, _, _, _, _, _, refunded, _, _) = row
        if kind == "refund":
            raise NotRefundable(f"transaction {transaction_id} is itself a refund")
        if kind not in SPEND_TYPES:
            raise NotRefundable(
                f"transaction {transaction_id} is of type {kind!r}; only spent and purchase "
                "transactions can be refunded (correct awards with adjust_points)"
            )
        if user_id is not None and user_id != owner:
            raise NotRefundable(
                f"transaction {transaction_id} belongs to another user, not {user_id!r}",
                field="user_id",
            )
        remaining = original - refunded
        if remaining <= 0:
            raise NotRefundable(f"transaction {transaction_id} is already fully refunded")
        if amount is None:
            amount = remaining
        elif amount > remaining:
            raise NotRefundable(
                f"only {remaining} of {original} is left to refund, not {amount}", field="amount"
            )
        account = self.open_user_account(owner, currency, at_text)
        legs = (
            Leg(account, owner, amount, spent=-amount),
            Leg(self._system[(SINK, currency)], None, -amount),
        )
        common = dict(
            type="refund",
            currency=currency,
            source="refund",
            description=description,
            refund_of=transaction_id,
            key=key,
        )
        posted = self.post(amount=amount, legs=legs, user_id=owner, at_text=at_text, **common)  # type: ignore[arg-type]
        self._conn.execute(_ADD_REFUNDED, (amount, transaction_id))
        result = self.view(posted, account, user_id=owner, at=at, **common)  # type: ignore[arg-type]
        tx.emit("on_points_changed", transaction=result)
        return result

    # -- reading --------------------------------------------------------------------------

    def totals(self, user_id: str, currency: str | None) -> dict[str, Totals]:
        sql = "SELECT currency, lifetime_earned, lifetime_spent, balance FROM accounts WHERE user_id = ?"
        args: tuple[str, ...] = (user_id,)
        if currency is not None:
            sql += " AND currency = ?"
            args = (user_id, currency)
        return {
            name: Totals(earned, spent, balance)
            for name, earned, spent, balance in self._conn.execute(sql + " ORDER BY currency", args)
        }

    def history(
        self, user_id: str, *, currency: str | None, limit: int, before: int | None
    ) -> HistoryPage:
        sql = "SELECT id FROM accounts WHERE user_id = ?"
        args: tuple[str, ...] = (user_id,)
        if currency is not None:
            sql += " AND currency = ?"
            args = (user_id, currency)
        accounts = [row[0] for row in self._conn.execute(sql, args)]
        transactions: list[Transaction] = []
        if accounts:
            query = _HISTORY.format(accounts=",".join("?" * len(accounts)))
            cursor = self._conn.execute(
                query, (*accounts, before if before is not None else 2**63 - 1, limit + 1)
            )
            for row in cursor:
                (tid, kind, cur, amount, b_before, b_after, source, created, owner,
                 counterparty, ref_type, ref_id, description, metadata, refund_of, key) = row
                if kind == "transfer" and owner != user_id:
                    counterparty = owner
                transactions.append(
                    Transaction(
                        id=tid,
                        type=kind,
                        user_id=user_id,
                        currency=cur,
                        amount=amount,
                        balance_before=b_before,
                        balance_after=b_after,
                        source=source,
                        created_at=datetime.fromisoformat(created),
                        counterparty=counterparty,
                        reference_type=ref_type,
                        reference_id=ref_id,
                        description=description,
                        metadata=None if metadata is None else json.loads(metadata),
                        refund_of=refund_of,
                        idempotency_key=public_key(key),
                    )
                )
        more = len(transactions) > limit
        page = tuple(transactions[:limit])
        return HistoryPage(
            transactions=page,
            totals=self.totals(user_id, currency),
            next_before=page[-1].id if more and page else None,
        )
