"""``g.points``: the points ledger's calls (award, spend, transfer, adjust, refund), balances
and history, two-phase purchases (reserve, commit, release) and the ledger's audit.

Each call checks its arguments, then runs in one write through the runtime (replaying a keyed
call); the ledger, reservations and rate limits do the work inside the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..core.checks import call_key, check_before, check_limit, check_ttl, optional_text
from ..core.clock import to_text
from ..core.validation import (
    check_amount,
    check_at,
    check_id,
    check_key,
    check_metadata,
    check_row_id,
    check_signed_amount,
    check_text,
)
from ..errors import InvalidInput
from ..models import (
    Balance,
    ExpiringPoints,
    ExpiryRun,
    HistoryPage,
    LedgerReport,
    Reservation,
    Transaction,
)
from ..runtime.bus import PointsAwarded
from ..runtime.idempotency import fingerprint, json_codec
from ..runtime.outbox import Notifications
from ..runtime.runtime import Runtime
from ..storage.store import Tx
from .ledger import CREDIT_TYPES, SPEND_TYPES, Ledger, Posting
from .lots import check_after, check_expires_at
from .postings import check_reference
from .ratelimits import PURCHASE, RateLimits
from .reservations import Reservations
from .shop import Shop

__all__ = ["PointsService", "check_reference"]

# How many of a user's next expiries balances() and history() show per currency.
_UPCOMING = 5


class PointsService:
    """The points ledger, as ``g.points``."""

    def __init__(
        self,
        rt: Runtime,
        ledger: Ledger,
        reservations: Reservations,
        limits: RateLimits,
        balances: Callable[[str], dict[str, Balance]],
        shop: Shop,
        verify: Callable[..., LedgerReport],
        notifications: Notifications,
    ) -> None:
        self._rt = rt
        self._ledger = ledger
        self._reservations = reservations
        self._limits = limits
        # A user's balances are read with their profile (progression/profiles.py), and the
        # audit lives in ops/, above economy: assembly hands both in.
        self._balances = balances
        self._shop = shop
        self._verify = verify
        self._notifications = notifications
        # The badges watching lifetime points follow a direct award: achievements subscribe.
        self.publish_awarded: Callable[[PointsAwarded], None] | None = None
        # Whether a direct award in this currency concerns any subscriber now: if not, no
        # PointsAwarded is built (set by assembly.py, which knows who subscribes).
        self.awarded_followed: Callable[[str], bool] = lambda currency: True

    def award(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        source: str,
        idempotency_key: str | None = None,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
        transaction_type: str = "earned",
        expires_at: datetime | None = None,
    ) -> Transaction:
        """Issue points to a user; returns the transaction with the new balance.

        ``expires_at``: when these points expire, instead of the currency's rule (later or
        sooner); only for a currency that expires, and after the award's moment."""
        cur = self._ledger.currency(currency)
        if type(amount) is int and cur.max_award is not None and amount > cur.max_award:
            raise InvalidInput(
                "amount", f"{amount} is above {currency}'s max_award {cur.max_award}"
            )
        expiring = self._ledger.lots.expiring
        expiry = None if expires_at is None else check_expires_at(expires_at, currency, expiring)
        posting, key, digest = self._points_call(
            "award_points", CREDIT_TYPES, transaction_type, user_id, amount, currency, source,
            idempotency_key, reference, description, metadata, at,
            None if expiry is None else to_text(expiry),
        )  # fmt: skip

        def body(tx: Tx) -> Transaction:
            if expiry is not None:
                # Here, past the replay: a keyed retry after the moment returns its result.
                check_after(expiry, posting.at)
            # credit() asks the validate_award plugins first.
            result = self._ledger.credit(tx, posting, origin="direct")
            publish = self.publish_awarded
            if publish is not None and self.awarded_followed(result.currency):
                publish(PointsAwarded(tx, result, posting.at, posting.at_text))
            return result

        ledger = self._ledger
        return self._rt.write(
            "award_points", key, digest, ledger.keyed_codec, posting.at_text, body,
            confirms=True, user_id=posting.user_id,
            ahead=(
                (lambda tx: ledger.move_ahead(tx, posting, amount, amount, 0, 0))
                if self._rt.queues and expiry is None and ledger.plain()
                else None
            ),
        )  # fmt: skip

    def _points_call(
        self,
        operation: str,
        allowed_types: frozenset[str],
        transaction_type: str,
        user_id: str,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str | None,
        reference: tuple[str, str] | None,
        description: str | None,
        metadata: Any,
        at: datetime | None,
        expires_at: str | None = None,
    ) -> tuple[Posting, str | None, Callable[[], bytes | None]]:
        """Check a one-user points call; returns its posting, key and fingerprint.

        A keyed call's posting carries ``operation`` and the fingerprint: the transaction row
        keeps the key (``Ledger.keyed_codec``). ``expires_at`` (a credit's own expiry) joins
        the fingerprint only when given, so keys recorded before it existed still match."""
        check_id(user_id)
        check_amount(amount)
        check_text(source, "source", max_length=100)
        if transaction_type not in allowed_types:
            raise InvalidInput(
                "transaction_type", f"expected one of {', '.join(sorted(allowed_types))}"
            )
        key = check_key(idempotency_key)
        # What most calls leave out is checked only when given: a call each saved.
        ref = None if reference is None else check_reference(reference)
        text = None if description is None else optional_text(description, "description")
        meta = None if metadata is None else check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        parts = (user_id, amount, currency, source, ref, text, meta, explicit, transaction_type)
        extra = () if expires_at is None else (expires_at,)
        digest = None if key is None else fingerprint(*parts, *extra)
        # Positional, in Posting's order (counterparty and refund_of None): half the time of
        # naming them, on every award and spend.
        posting = Posting(
            transaction_type, currency, amount, user_id, source, moment, at_text, None, ref,
            text, meta, None, call_key(key), None if key is None else operation, digest,
            expires_at,
        )  # fmt: skip
        return posting, key, lambda: digest

    def spend(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        source: str,
        idempotency_key: str | None = None,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
        transaction_type: str = "spent",
    ) -> Transaction:
        """Spend available points; ``InsufficientFunds`` (and no write) if there are too few."""
        self._ledger.spendable(currency)
        posting, key, digest = self._points_call(
            "spend_points", SPEND_TYPES, transaction_type, user_id, amount, currency, source,
            idempotency_key, reference, description, metadata, at,
        )  # fmt: skip
        if transaction_type != "purchase":
            ledger = self._ledger
            return self._rt.write(
                "spend_points", key, digest, ledger.keyed_codec, posting.at_text,
                lambda tx: ledger.debit(tx, posting), confirms=True, user_id=posting.user_id,
                ahead=(
                    (lambda tx: ledger.move_ahead(tx, posting, -amount, 0, amount, amount))
                    if self._rt.queues
                    else None
                ),
            )  # fmt: skip

        def purchase(tx: Tx) -> Transaction:
            # Refused (RateLimited) before the debit writes; counted only once it succeeded.
            self._limits.check(PURCHASE, user_id, posting.at)
            result = self._ledger.debit(tx, posting)
            self._limits.record(PURCHASE, user_id, posting.at, posting.at_text)
            return result

        return self._rt.write(
            "spend_points", key, digest, self._ledger.keyed_codec, posting.at_text, purchase,
            confirms=True, user_id=posting.user_id,
        )  # fmt: skip

    def transfer(
        self,
        from_user: str,
        to_user: str,
        amount: int,
        *,
        currency: str,
        source: str = "gift",
        idempotency_key: str | None = None,
        description: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
    ) -> Transaction:
        """Give points to another user; returns the sender's side of the transaction."""
        check_id(from_user, "from_user")
        check_id(to_user, "to_user")
        if from_user == to_user:
            raise InvalidInput("to_user", "cannot transfer to the same user")
        check_amount(amount)
        self._ledger.spendable(currency)
        check_text(source, "source", max_length=100)
        key = check_key(idempotency_key)
        text = optional_text(description, "description")
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        digest = None if key is None else fingerprint(
            from_user, to_user, amount, currency, source, text, meta, explicit
        )  # fmt: skip
        posting = Posting(
            "transfer",
            currency,
            amount,
            from_user,
            source,
            moment,
            at_text,
            counterparty=to_user,
            description=text,
            metadata=meta,
            key=call_key(key),
            operation=None if key is None else "transfer_points",
            fingerprint=digest,
        )
        return self._rt.write(
            "transfer_points",
            key,
            lambda: digest,
            self._ledger.keyed_codec,
            at_text,
            lambda tx: self._ledger.transfer(tx, posting),
            user_id=posting.user_id,
            # The receiver's rows change too (a first transfer makes their profile and
            # account): under their lock, the transfer queues with their own writes.
            also=to_user,
        )

    def adjust(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        reason: str,
        idempotency_key: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
    ) -> Transaction:
        """An admin correction, positive or negative; ``reason`` is required and recorded."""
        check_id(user_id)
        check_signed_amount(amount)
        self._ledger.currency(currency)
        check_text(reason, "reason", max_length=1000)
        key = check_key(idempotency_key)
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        digest = (
            None if key is None else fingerprint(user_id, amount, currency, reason, meta, explicit)
        )
        posting = Posting(
            "admin_adjustment",
            currency,
            abs(amount),
            user_id,
            "admin",
            moment,
            at_text,
            description=reason,
            metadata=meta,
            key=call_key(key),
            operation=None if key is None else "adjust_points",
            fingerprint=digest,
        )
        return self._rt.write(
            "adjust_points",
            key,
            lambda: digest,
            self._ledger.keyed_codec,
            at_text,
            lambda tx: self._ledger.adjust(tx, posting, amount),
            user_id=posting.user_id,
        )

    def refund(
        self,
        transaction_id: int,
        *,
        amount: int | None = None,
        user_id: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Transaction:
        """Give back all or part of a spend; refunds never add up to more than the original.

        Pass ``user_id`` to have the call refused if the transaction is someone else's.
        """
        check_row_id(transaction_id, "transaction_id")
        if amount is not None:
            check_amount(amount)
        if user_id is not None:
            check_id(user_id)
        text = optional_text(description, "description")
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        digest = (
            None if key is None else fingerprint(transaction_id, amount, user_id, text, explicit)
        )

        def body(tx: Tx) -> Transaction:
            owner, currency, size = self._ledger.refundable(transaction_id, amount, user_id)
            posting = Posting(
                "refund",
                currency,
                size,
                owner,
                "refund",
                moment,
                at_text,
                description=text,
                refund_of=transaction_id,
                key=call_key(key),
                operation=None if key is None else "refund",
                fingerprint=digest,
            )
            return self._ledger.refund(tx, posting)

        return self._rt.write(
            "refund",
            key,
            lambda: digest,
            self._ledger.keyed_codec,
            at_text,
            body,
            user_id=self._rt.owner_of("transaction", transaction_id),
        )

    def balance(self, user_id: str, currency: str) -> int:
        """The user's balance in ``currency``, held points included (0 if none)."""
        check_id(user_id)
        self._ledger.currency(currency)
        with self._rt.store.read():
            account = self._ledger.user_account(user_id, currency)
        return 0 if account is None else account[1]

    def balances(self, user_id: str) -> dict[str, Balance]:
        """Every configured currency: balance, held, available, lifetime earned and spent."""
        check_id(user_id)
        with self._rt.store.read():
            found = self._balances(user_id)
            expiring = self._expiring(user_id, None)
        return {
            name: attrs.evolve(
                found.get(name) or Balance(name, 0, 0, 0, 0, 0),
                expiring=expiring.get(name, ()),
            )
            for name in self._rt.config.currency_names
        }

    def _expiring(
        self, user_id: str, currency: str | None
    ) -> dict[str, tuple[ExpiringPoints, ...]]:
        """The next expiries of the user's expiring currencies (inside a read)."""
        lots = self._ledger.lots
        names = sorted(lots.expiring) if currency is None else [currency]
        found = {}
        for name in names:
            if name in lots.expiring:
                upcoming = lots.upcoming(user_id, name, _UPCOMING)
                if upcoming:
                    found[name] = tuple(
                        ExpiringPoints(name, amount, datetime.fromisoformat(at))
                        for at, amount in upcoming
                    )
        return found

    def history(
        self,
        user_id: str,
        *,
        currency: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> HistoryPage:
        """Points transactions newest first, with per-currency totals (earned, spent, net)."""
        check_id(user_id)
        if currency is not None:
            self._ledger.currency(currency)
        check_limit(limit)
        check_before(before)
        with self._rt.store.read():
            page = self._ledger.history(user_id, currency=currency, limit=limit, before=before)
            if not self._ledger.lots.expiring:
                return page
            return attrs.evolve(page, expiring=self._expiring(user_id, currency))

    def expire_points(self, now: datetime | None = None) -> ExpiryRun:
        """Expire every lot due by ``now`` and send the "points expiring soon" notices due by
        then; safe to run any number of times, from any number of processes (each lot
        expires and is announced once)."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        at_text = to_text(moment)

        def expire(tx: Tx) -> ExpiryRun:
            expired = self._ledger.expire(tx, moment, at_text)
            notices = 0
            for lot_id, user, currency, amount, expires_at in self._ledger.lots.notices(moment):
                when = datetime.fromisoformat(expires_at)
                note = self._notifications.add(
                    tx, user, "points_expiring",
                    f"{amount} {currency} expire on {when:%Y-%m-%d %H:%M} UTC",
                    {"currency": currency, "amount": amount, "expires_at": expires_at,
                     "lot_id": lot_id},
                    moment, at_text,
                )  # fmt: skip
                notices += note is not None
            return ExpiryRun(tuple(expired), notices)

        run, tx = self._rt.job(expire)
        if tx.committed:
            self._rt.dispatch(tx, None)
        return run

    # -- two-phase purchases --------------------------------------------------------------

    def reserve(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        ttl: timedelta | float,
        source: str = "purchase",
        reference: tuple[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Reservation:
        """Hold points for a purchase until ``ttl`` runs out; commit or release it after."""
        check_id(user_id)
        check_amount(amount)
        self._ledger.spendable(currency)
        span = check_ttl(ttl)
        check_text(source, "source", max_length=100)
        ref = check_reference(reference)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> Reservation:
            # The purchase rate limit counts here, when a purchase starts, not at commit.
            self._limits.check(PURCHASE, user_id, moment)
            result = self._reservations.reserve(
                user_id,
                amount,
                currency=currency,
                source=source,
                expires_at=moment + span,
                reference=ref,
                at=moment,
                at_text=at_text,
            )
            self._limits.record(PURCHASE, user_id, moment, at_text)
            return result

        return self._rt.write(
            "reserve_points",
            key,
            lambda: fingerprint(
                user_id, amount, currency, span.total_seconds(), source, ref, explicit
            ),
            json_codec(Reservation),
            at_text,
            body,
            user_id=user_id,
        )

    def commit(
        self,
        reservation_id: int,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Transaction:
        """Turn a hold into a ``purchase``; refused once released, expired or committed."""
        rid = self._check_reservation_id(reservation_id)
        text = optional_text(description, "description")
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "commit_reservation",
            key,
            lambda: fingerprint(rid, text, explicit),
            self._ledger.codec,
            at_text,
            lambda tx: self._reservations.commit(
                tx, rid, description=text, at=moment, at_text=at_text, key=call_key(key)
            ),
            user_id=self._rt.owner_of("reservation", rid),
        )

    def release(
        self,
        reservation_id: int,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Reservation:
        """Free a hold: the balance is exactly as it was before the reservation."""
        rid = self._check_reservation_id(reservation_id)
        key = check_key(idempotency_key)
        _, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "release_reservation",
            key,
            lambda: fingerprint(rid, explicit),
            json_codec(Reservation),
            at_text,
            lambda tx: self._reservations.release(rid, status="released", at_text=at_text),
            user_id=self._rt.owner_of("reservation", rid),
        )

    def expire_reservations(self, now: datetime | None = None) -> list[Reservation]:
        """Release every hold whose time ran out by ``now``; safe to run any number of times.

        Shop orders whose holds these were close as ``expired``, their stock put back.
        """
        moment = self._rt.now() if now is None else check_at(now, "now")
        at_text = to_text(moment)

        def expire(tx: Tx) -> list[Reservation]:
            released = self._reservations.expire(at_text)
            self._shop.expired(released, at_text)
            return released

        return self._rt.job(expire)[0]

    def reservation(self, reservation_id: int) -> Reservation:
        rid = self._check_reservation_id(reservation_id)
        with self._rt.store.read():
            return self._reservations.get(rid)

    @staticmethod
    def _check_reservation_id(reservation_id: object) -> int:
        return check_row_id(reservation_id, "reservation_id")

    def verify(self) -> LedgerReport:
        """Recompute sums, balances, chains, holds and XP totals; empty when all agree."""
        store = self._rt.store
        with store.read() as conn:
            return self._verify(conn, temp_table=store.dialect.name == "sqlite")
