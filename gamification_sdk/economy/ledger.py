"""The double-entry points ledger: accounts, postings, balances and history.

Every transaction moves one currency between at least two accounts and its entries sum to
zero. User accounts can never go below zero (a CHECK in the schema, not just Python).
System accounts per currency: ``issuance`` (where awards come from; it runs negative by
what is outstanding), ``sink`` (where spending goes) and, for expiring currencies,
``breakage`` (where expired points go; economy/lots.py keeps their lots). Held points of two-phase
purchases stay in the user's account and are counted in ``held``: available is
``balance - held``, and the schema refuses ``held > balance``.

Methods here assume validated arguments and an open write transaction; the facade
checks input and owns the transaction. How a posting is written (its legs and entries) is
``Booking``'s (economy/booking.py), which ``Ledger`` extends.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ..config import Config, CurrencyConfig
from ..errors import (
    InsufficientFunds,
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
    NEW_SYSTEM_ACCOUNT,
    NEW_USER_ACCOUNT,
    SIDE,
    SYSTEM_ACCOUNT,
    TRANSACTION,
    USER_ACCOUNT,
)
from ..storage.store import Tx
from .booking import Booking
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
    side,
)

if TYPE_CHECKING:
    from .multipliers import PointsMultipliers

# KEY_HOME (the statement that finds a key in a transaction row) is exported here too: the
# engine hands it to Idempotency with the ledger.
__all__ = [
    "BATTLE_PASS", "BREAKAGE", "CREDIT_TYPES", "ISSUANCE", "KEY_HOME", "POINT_LOT", "SHOP_ORDER",
    "SINK", "SPEND_TYPES", "Ledger", "Leg", "Posting",
]  # fmt: skip


class Ledger(Booking):
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        users: UserRows,
        *,
        system_per_user: bool = False,
    ) -> None:
        super().__init__(conn, system_per_user=system_per_user)
        self._users = users
        self._currencies = {c.name: c for c in config.currencies}
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
        # credits once points_multiplier plugins and the user's tier have multiplied it, and
        # whether any plugin vets or multiplies a credit now (``vetoes``, ``idle``).
        self.multiply: PointsMultipliers | None = None
        # Set by the engine: no plugin vets or multiplies a credit now, so its user's leg
        # may be queued before anything is asked (``move_ahead``).
        self.plain: Callable[[], bool] = lambda: False

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

    def credit(self, tx: Tx, posting: Posting, *, origin: str) -> Transaction:
        """Issue new points to ``posting.user_id`` (awards, bonuses, level-up rewards).

        ``origin`` is what pays them (``AwardRequest.origin``). A veto raises ``Rejected``
        before anything is written.
        """
        user, amount = posting.user_id, posting.amount
        vet, plugins = self.vet, self.multiply
        # What to ask of the plugins, decided again only when registrations moved: read
        # inline (PointsMultipliers.refresh), as most awards find nothing to ask.
        if plugins is not None and (
            plugins.seen is None or plugins.seen != getattr(plugins.pm, "generation", None)
        ):
            plugins.refresh()
        if vet is not None and (plugins is None or plugins.vetoes):
            self._vet(vet, posting, origin)
            if plugins is not None:
                # A vetting plugin may (un)register plugins: the multipliers see them.
                plugins.refresh()
        # As XP: vetoes see the amount asked for, the multipliers then apply to it (idle:
        # they would give it back unchanged).
        if (
            origin == "direct"
            and posting.type == "earned"
            and plugins is not None
            and not plugins.idle
        ):
            multiplied = plugins(posting)
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
        if self._per_user:
            legs = (
                Leg(account, user, amount, earned=amount),
                self._system_leg(ISSUANCE, posting.currency, -amount),
            )
            result = self._post_and_view(tx, posting, legs, (account, user, None), user_leg=moved)
        else:
            result = self._post_pair(tx, posting, account, moved[1], amount, ISSUANCE)
        if posting.currency in self._expiring:
            self._open_lot(account, posting, result.id, amount)
        if self.publish_issued is not None:
            self.publish_issued(PointsIssued(user, posting.currency, amount, posting.at))
        return result

    @staticmethod
    def _vet(
        vet: Callable[[Callable[[], AwardRequest]], None], posting: Posting, origin: str
    ) -> None:
        # Apart from credit(): the request's closure would cost every credit its cells.
        vet(
            lambda: AwardRequest(
                "points", posting.user_id, posting.amount, posting.source, posting.currency,
                None if posting.metadata is None else json.loads(posting.metadata),
                posting.at, origin=origin, transaction_type=posting.type,
                reference=posting.reference,
            )
        )  # fmt: skip

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
        assert account is not None or not release_held, "held points belong to a known account"
        if account is not None:
            sink = self._system_leg(SINK, posting.currency, amount)
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
        if self._per_user:
            legs = (
                Leg(moved[0], user, -amount, spent=amount),
                self._system_leg(SINK, posting.currency, amount),
            )
            result = self._post_and_view(tx, posting, legs, (moved[0], user, None), user_leg=moved)
        else:
            result = self._post_pair(tx, posting, moved[0], moved[1], -amount, SINK)
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
