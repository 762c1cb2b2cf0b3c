"""The double-entry points ledger: accounts, postings, balances and history.

Every transaction moves one currency between at least two accounts and its entries sum to
zero. User accounts can never go below zero (a CHECK in the schema, not just Python).
System accounts per currency: ``issuance`` (where awards come from; it runs negative by
what is outstanding), ``sink`` (where spending goes) and, for expiring currencies,
``breakage`` (where expired points go; economy/lots.py keeps their lots). Held points of two-phase
purchases stay in the user's account and are counted in ``held``: available is
``balance - held``, and the schema refuses ``held > balance``.

Methods here assume validated arguments and an open write transaction; the facade
checks input and owns the transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime

from ..config import Config, CurrencyConfig
from ..errors import (
    InsufficientFunds,
    InvalidInput,
    NotFound,
    NotRefundable,
    NotSpendable,
    UnknownCurrency,
)
from ..models import AwardRequest, HistoryPage, Totals, Transaction
from ..runtime.bus import PointsIssued
from ..runtime.idempotency import Codec
from ..runtime.users import UserRows
from ..storage import ledger as statements
from ..storage.ledger import (
    ADD_REFUNDED,
    DELETED,
    KEY_HOME,
    MOVE,
    MOVE_SYSTEM,
    MOVE_USER,
    MOVE_USER_NUMBERED,
    NEW_NUMBERED_TRANSACTION,
    NEW_SYSTEM_ACCOUNT,
    NEW_TRANSACTION,
    NEW_USER_ACCOUNT,
    POST_SYSTEM_LEG,
    SIDE,
    SYSTEM_ACCOUNT,
    TRANSACTION,
    USER_ACCOUNT,
)
from ..storage.store import Tx
from .lots import Lots
from .postings import (
    BATTLE_PASS,
    BREAKAGE,
    CREDIT_TYPES,
    ISSUANCE,
    POINT_LOT,
    SHOP_ORDER,
    SINK,
    SPEND_TYPES,
    Leg,
    Posting,
    in_row,
    public_key,
    side,
)

# KEY_HOME (the statement that finds a key in a transaction row) is exported here too: the
# engine hands it to Idempotency with the ledger.
__all__ = [
    "BATTLE_PASS", "BREAKAGE", "CREDIT_TYPES", "ISSUANCE", "KEY_HOME", "POINT_LOT", "SHOP_ORDER",
    "SINK", "SPEND_TYPES", "Ledger", "Leg", "Posting",
]  # fmt: skip


class Ledger:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        users: UserRows,
        *,
        system_per_user: bool = False,
    ) -> None:
        self._conn = conn
        self._users = users
        self._currencies = {c.name: c for c in config.currencies}
        self._system: dict[tuple[str, str], int] = {}
        # PostgreSQL books each system account (issuance, sink, breakage) as one row per
        # user, so a posting stays on its owner's shard and no row takes every award
        # (docs/postgresql.md). The SQLite file keeps one row per system account.
        self._per_user = system_per_user
        # PostgreSQL: the user's leg draws its transaction's number (MOVE_USER_NUMBERED).
        self._move_user = MOVE_USER_NUMBERED if system_per_user else MOVE_USER
        self.lots = Lots(conn, config)
        # Only these currencies keep lots: a membership test is all others pay.
        self._expiring = self.lots.expiring
        self.codec: Codec[Transaction] = Codec(self._encode, self._decode)
        # For writes whose posting carries the call's operation and fingerprint: the key is
        # in the transaction row, so no idempotency_keys row is written.
        self.keyed_codec: Codec[Transaction] = Codec(self._encode, self._decode, in_row)
        # Points boards count what is issued to users (awards, bonuses and rewards): they
        # subscribe to PointsIssued when the parts are wired.
        self.publish_issued: Callable[[PointsIssued], None] | None = None
        # Set by the engine: runs the validate_award plugins on every credit (plugins.run_vetoes),
        # so no path that issues points (rules, rewards, bonuses) can pass round them.
        self.vet: Callable[[Callable[[], AwardRequest]], None] | None = None
        # Set by the engine (economy/multipliers.py): the amount a direct earned award
        # credits once points_multiplier plugins and the user's tier have multiplied it.
        self.multiply: Callable[[Posting], int] | None = None
        # Set by the engine: no plugin vets or multiplies a credit now, so its user's leg
        # may be queued before anything is asked (``move_ahead``).
        self.plain: Callable[[], bool] = lambda: False
        # Set by the engine (Store.confirm): the user's leg returns the stored configuration
        # version (SQLite's MOVE_USER), which a ``confirms`` write checks there.
        self.confirm: Callable[[int | None], None] = lambda version: None

    def _encode(self, result: Transaction) -> str:
        # A transaction is rebuilt from its rows on a replay; store only which side it was.
        return f"[{json.dumps(result.user_id)},{result.id}]"

    def _decode(self, text: str) -> Transaction:
        user_id, transaction_id = json.loads(text)
        row = self._conn.execute(SIDE, (user_id, transaction_id)).fetchone()
        return side(row, user_id)

    # -- accounts -------------------------------------------------------------------------

    def setup(self, at_text: str) -> None:
        """Create the system accounts of every configured currency (inside a write); per
        user, they are created by their first leg."""
        for currency in self._currencies if not self._per_user else ():
            names = (ISSUANCE, SINK, BREAKAGE) if currency in self._expiring else (ISSUANCE, SINK)
            for name in names:
                row = self._conn.execute(SYSTEM_ACCOUNT, (name, currency)).fetchone()
                if row is None:
                    cursor = self._conn.execute(NEW_SYSTEM_ACCOUNT, (name, currency, at_text))
                    self._system[(name, currency)] = int(cursor.lastrowid or 0)
                else:
                    self._system[(name, currency)] = row[0]
        self.lots.setup(at_text)

    def _system_leg(self, name: str, currency: str, amount: int) -> Leg:
        if self._per_user:
            return Leg(0, None, amount, system=name)
        return Leg(self._system[(name, currency)], None, amount)

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

    def user_account(self, user_id: str, currency: str) -> tuple[int, int, int] | None:
        """``(account id, balance, held)`` or None if the user never held this currency."""
        row = self._conn.execute(USER_ACCOUNT, (user_id, currency)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def open_user_account(self, user_id: str, currency: str, at_text: str) -> int:
        account = self.user_account(user_id, currency)
        if account is not None:
            return account[0]
        self._users.ensure(user_id, at_text)
        cursor = self._conn.execute(NEW_USER_ACCOUNT, (user_id, currency, at_text))
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
            row = (queued or self._conn.execute(self._move_user, params)).fetchone()
        except sqlite3.IntegrityError as exc:
            raise InvalidInput("amount", f"refused by the ledger's constraints ({exc})") from None
        if row is None:
            return None
        if self._per_user:
            return tuple(row)
        self.confirm(row[2])
        return (row[0], row[1])

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
            result = Transaction(
                id=transaction_id,
                type=posting.type,
                user_id=user_id,
                currency=posting.currency,
                amount=after - before,
                balance_before=before,
                balance_after=after,
                source=posting.source,
                created_at=posting.at,
                counterparty=counterparty,
                reference_type=posting.reference[0] if posting.reference else None,
                reference_id=posting.reference[1] if posting.reference else None,
                description=posting.description,
                metadata=None if posting.metadata is None else json.loads(posting.metadata),
                refund_of=posting.refund_of,
                idempotency_key=public_key(posting.key),
            )
            tx.emit("on_points_changed", transaction=result)
            results.append(result)
        return results[0]

    def credit(self, tx: Tx, posting: Posting, *, origin: str) -> Transaction:
        """Issue new points to ``posting.user_id`` (awards, bonuses, level-up rewards).

        ``origin`` is what pays them (``AwardRequest.origin``). A veto raises ``Rejected``
        before anything is written.
        """
        user, amount = posting.user_id, posting.amount
        vet = self.vet
        if vet is not None:
            vet(
                lambda: AwardRequest(
                    "points", user, amount, posting.source, posting.currency,
                    None if posting.metadata is None else json.loads(posting.metadata),
                    posting.at, origin=origin, transaction_type=posting.type,
                    reference=posting.reference,
                )
            )  # fmt: skip
        # As XP: vetoes see the amount asked for, the multipliers then apply to it.
        if origin == "direct" and posting.type == "earned" and self.multiply is not None:
            multiplied = self.multiply(posting)
            if multiplied != amount:
                amount = multiplied
                posting = posting._replace(amount=amount)
        # The user's account is moved first, found by owner and currency: an account that
        # exists (every award but a user's first in the currency) costs no SELECT.
        moved = self.move_user(posting, amount, amount, 0, 0, tx)
        if moved is None:
            self.open_user_account(user, posting.currency, posting.at_text)
            moved = self.move_user(posting, amount, amount, 0, 0)
            assert moved is not None
        account = moved[0]
        legs = (
            Leg(account, user, amount, earned=amount),
            self._system_leg(ISSUANCE, posting.currency, -amount),
        )
        result = self._post_and_view(tx, posting, legs, (account, user, None), user_leg=moved)
        if posting.currency in self._expiring:
            self._open_lot(account, posting, result.id, amount)
        if self.publish_issued is not None:
            self.publish_issued(PointsIssued(user, posting.currency, amount, posting.at))
        return result

    def _open_lot(self, account: int, posting: Posting, transaction_id: int, amount: int) -> None:
        expires_at = posting.expires_at or self.lots.expires_at(posting.currency, posting.at)
        self.lots.open(
            account, posting.user_id, posting.currency, transaction_id, amount, expires_at,
            posting.at_text,
        )  # fmt: skip

    def debit(
        self,
        tx: Tx,
        posting: Posting,
        *,
        release_held: int = 0,
        account: tuple[int, int, int] | None = None,
    ) -> Transaction:
        """Move a user's points to the sink (spending, purchases, committed reservations).

        A debit that releases held points takes the lots its reservation held: the caller
        hands them over (``Lots.commit``)."""
        user, amount = posting.user_id, posting.amount
        sink = self._system_leg(SINK, posting.currency, amount)
        assert account is not None or not release_held, "held points belong to a known account"
        if account is not None:
            legs = (Leg(account[0], user, -amount, held=-release_held, spent=amount), sink)
            result = self._post_and_view(tx, posting, legs, (account[0], user, None))
            if posting.currency in self._expiring and not release_held:
                self.lots.consume(account[0], result.id, amount)
            return result
        # The balance check is the UPDATE's own condition: no SELECT of the account first.
        moved = self.move_user(posting, -amount, 0, amount, amount, tx)
        if moved is None:
            self.require_available(user, posting.currency, amount)
            raise AssertionError("move_user refused an account with enough available")
        legs = (Leg(moved[0], user, -amount, spent=amount), sink)
        result = self._post_and_view(tx, posting, legs, (moved[0], user, None), user_leg=moved)
        if posting.currency in self._expiring:
            self.lots.consume(moved[0], result.id, amount)
        return result

    def transfer(self, tx: Tx, posting: Posting) -> Transaction:
        """Move points from ``posting.user_id`` to ``posting.counterparty``."""
        sender, receiver, amount = posting.user_id, posting.counterparty, posting.amount
        assert receiver is not None
        sent_from = self.require_available(sender, posting.currency, amount)[0]
        sent_to = self.open_user_account(receiver, posting.currency, posting.at_text)
        legs = (
            Leg(sent_from, sender, -amount, spent=amount),
            Leg(sent_to, receiver, amount, earned=amount),
        )
        result = self._post_and_view(
            tx, posting, legs, (sent_from, sender, receiver), (sent_to, receiver, sender)
        )
        if posting.currency in self._expiring:
            # The receiver's points expire when the sender's would have: a gift extends
            # no expiry.
            for taken, expires_at in self.lots.consume(sent_from, result.id, amount):
                self.lots.open(
                    sent_to, receiver, posting.currency, result.id, taken, expires_at,
                    posting.at_text,
                )  # fmt: skip
        return result

    def adjust(self, tx: Tx, posting: Posting, signed_amount: int) -> Transaction:
        """An admin correction: positive adds to earned, negative takes it back from earned."""
        user, currency = posting.user_id, posting.currency
        if signed_amount < 0:
            account = self.require_available(user, currency, -signed_amount)[0]
        else:
            account = self.open_user_account(user, currency, posting.at_text)
        legs = (
            Leg(account, user, signed_amount, earned=signed_amount),
            self._system_leg(ISSUANCE, currency, -signed_amount),
        )
        result = self._post_and_view(tx, posting, legs, (account, user, None))
        if currency in self._expiring:
            if signed_amount < 0:
                self.lots.consume(account, result.id, -signed_amount)
            else:
                self._open_lot(account, posting, result.id, signed_amount)
        return result

    def refundable(
        self, transaction_id: int, amount: int | None, user_id: str | None, *, shop: bool = False
    ) -> tuple[str, str, int]:
        """``(owner, currency, amount to refund)``, or the reason the refund is refused.

        A shop purchase is refunded whole, by the shop (``shop=True``), which also takes the
        items back.
        """
        row = self._conn.execute(TRANSACTION, (transaction_id,)).fetchone()
        if row is None:
            raise NotFound("transaction_id", transaction_id)
        kind, currency, original, owner, refunded = row[1], row[2], row[3], row[4], row[12]
        if row[7] == SHOP_ORDER and not shop:
            raise NotRefundable(
                f"transaction {transaction_id} pays for shop order {row[8]}: refund it with "
                "shop.refund(order_id), which also takes the items back"
            )
        if row[7] == BATTLE_PASS:
            raise NotRefundable(
                f"transaction {transaction_id} pays for a battle pass premium pass, which is "
                "not refundable"
            )
        if kind == "refund":
            raise NotRefundable(f"transaction {transaction_id} is itself a refund")
        if kind not in SPEND_TYPES:
            raise NotRefundable(
                f"transaction {transaction_id} is of type {kind!r}; only spent and purchase "
                "transactions can be refunded (correct awards with points.adjust)"
            )
        if user_id is not None and user_id != owner:
            raise NotRefundable(
                f"transaction {transaction_id} belongs to another user, not {user_id!r}",
                field="user_id",
            )
        if self._conn.execute(DELETED, (owner,)).fetchone() is not None:
            raise NotRefundable(f"transaction {transaction_id} belongs to a deleted user")
        remaining = original - refunded
        if remaining <= 0:
            raise NotRefundable(f"transaction {transaction_id} is already fully refunded")
        if amount is not None and amount > remaining:
            raise NotRefundable(
                f"only {remaining} of {original} is left to refund, not {amount}", field="amount"
            )
        return owner, currency, remaining if amount is None else amount

    def refund(self, tx: Tx, posting: Posting) -> Transaction:
        """Give ``posting.amount`` of transaction ``posting.refund_of`` back from the sink."""
        user, amount = posting.user_id, posting.amount
        account = self.open_user_account(user, posting.currency, posting.at_text)
        legs = (
            Leg(account, user, amount, spent=-amount),
            self._system_leg(SINK, posting.currency, -amount),
        )
        result = self._post_and_view(tx, posting, legs, (account, user, None))
        if self._conn.execute(ADD_REFUNDED, (amount, posting.refund_of)).rowcount != 1:
            # Refunded meanwhile by another server's call, which ran without this one's lock
            # (a refund by the transaction's id outside a batch is SERIALIZABLE, unlocked):
            # refused as if it had been read so, and the refund rolls back whole.
            raise NotRefundable(
                f"transaction {posting.refund_of} was refunded meanwhile: less than {amount} "
                "is left to refund",
                field="transaction_id",
            )
        if posting.currency in self._expiring:
            assert posting.refund_of is not None
            self.lots.refund(
                posting.refund_of, result.id, account, user, posting.currency, amount,
                posting.at_text,
            )  # fmt: skip
        return result

    def expire(self, tx: Tx, at: datetime, at_text: str) -> list[Transaction]:
        """Debit what is left of every lot due by ``at`` to its currency's breakage account,
        as one ``expired`` transaction per lot. A lot expires once: it is left with nothing
        (``Lots.expired``), and its derived key is unique in the ledger."""
        expired = []
        for lot_id, account, user, currency, remaining in self.lots.due(at_text):
            if currency not in self._expiring:
                continue
            posting = Posting(
                "expired", currency, remaining, user, "expiry", at, at_text,
                reference=(POINT_LOT, str(lot_id)), key=f"expiry:lot:{lot_id}",
            )  # fmt: skip
            legs = (
                Leg(account, user, -remaining, spent=remaining),
                self._system_leg(BREAKAGE, currency, remaining),
            )
            result = self._post_and_view(tx, posting, legs, (account, user, None))
            self.lots.expired(lot_id, result.id, remaining)
            expired.append(result)
        return expired

    # -- reading --------------------------------------------------------------------------

    def totals(self, user_id: str, currency: str | None) -> dict[str, Totals]:
        return {
            name: Totals(earned, spent, balance)
            for name, earned, spent, balance in statements.totals(self._conn, user_id, currency)
        }

    def history(
        self, user_id: str, *, currency: str | None, limit: int, before: int | None
    ) -> HistoryPage:
        accounts = statements.account_ids(self._conn, user_id, currency)
        transactions: list[Transaction] = []
        if accounts:
            rows = statements.history(
                self._conn, accounts, before if before is not None else 2**63 - 1, limit + 1
            )
            transactions = [side(row, user_id) for row in rows]
        more = len(transactions) > limit
        page = tuple(transactions[:limit])
        return HistoryPage(
            transactions=page,
            totals=self.totals(user_id, currency),
            next_before=page[-1].id if more and page else None,
        )
