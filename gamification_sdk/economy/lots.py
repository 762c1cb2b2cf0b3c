"""The lots of expiring currencies: what each credit added, and when it expires.

Only currencies with ``expire_after_days`` or ``expire_on`` keep lots; every other currency's
balance is one implicit lot that never expires, so its awards and spends cost no statement
more. A lot expires by its currency's rule, or at the moment its award gave
(``award(expires_at=)``). Debits, holds and refunds take from lots first-expiring-first (lots
without expiry last). A lot expires whole, once: the expiry job (``Ledger.expire``) debits
what is left of it to the currency's ``breakage`` account. The sum of an account's open lots
is its balance, and the sum of their ``held`` its held points (``verify_ledger`` checks both).

Methods here run inside the ledger's write transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..config import Config, CurrencyConfig
from ..core.clock import to_text
from ..core.validation import check_at
from ..errors import InvalidInput
from ..storage.lots import (
    ADD_HOLD,
    ADD_USE,
    BASE_HOLDS,
    BASE_LOTS,
    CLOSE_HOLD,
    CONSUME,
    CURRENCIES,
    DROP_CURRENCY,
    DROP_LOTS,
    DUE,
    EXPIRED,
    FORGET_HOLDS,
    HOLD,
    HOLDS,
    NEW_LOT,
    NOTICE_DUE,
    NOTIFIED,
    OPEN_LOTS,
    REFUNDABLE_USES,
    UNHOLD,
    UPCOMING,
    USE_REFUNDED,
    WATCH_CURRENCY,
)

__all__ = ["Lots", "check_after", "check_expires_at", "expiry_of"]


def expiry_of(currency: CurrencyConfig, at: datetime, default_zone: str) -> datetime | None:
    """When points credited at ``at`` expire, or None if the currency never expires.

    ``expire_after_days``: that many days of elapsed time later. ``expire_on``: at the end of
    the next such local day (local midnight after it) in the currency's time zone; points
    credited on that day itself expire at its end.
    """
    if currency.expire_after_days is not None:
        return at + timedelta(days=currency.expire_after_days)
    if currency.expire_on is None:
        return None
    zone = ZoneInfo(currency.expire_timezone or default_zone)
    month, day = (int(part) for part in currency.expire_on.split("-"))
    year = at.astimezone(zone).year
    for candidate in (year, year + 1):
        # Wall-clock midnight after the day, converted to an instant: DST moves the UTC
        # offset, never the local midnight.
        end = datetime.combine(date(candidate, month, day) + timedelta(days=1), time(), zone)
        if end > at:
            return end
    raise AssertionError("the next year's day always lies ahead")


def check_expires_at(value: object, currency: str, expiring: frozenset[str]) -> datetime | None:
    """An award's own expiry (``expires_at=``), in UTC: an aware datetime, for a currency that
    keeps lots. Whether it lies after the award's moment is checked once the call is known
    not to be a replay (a retry after that moment still replays)."""
    if value is None:
        return None
    moment = check_at(value, "expires_at")
    if currency not in expiring:
        # A currency without expiry keeps no lots and runs no expiry job: there is nothing
        # to hold the moment or act on it.
        raise InvalidInput(
            "expires_at",
            f"{currency!r} does not expire; give it expire_after_days or expire_on first",
        )
    return moment


def check_after(expires_at: datetime, at: datetime) -> None:
    if expires_at <= at:
        raise InvalidInput(
            "expires_at", f"{to_text(expires_at)} is not after the award ({to_text(at)})"
        )


class Lots:
    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self._conn = conn
        self._zone = config.default_timezone
        self._currencies = {c.name: c for c in config.currencies if c.expires}
        self.expiring = frozenset(self._currencies)

    def setup(self, at_text: str) -> None:
        """Start lots for currencies that began to expire, stop those of currencies that
        stopped: an existing balance becomes one lot with no expiry."""
        kept = {row[0] for row in self._conn.execute(CURRENCIES)}
        for currency in kept - self.expiring:
            self._conn.execute(DROP_CURRENCY, (currency,))
        for currency in sorted(self.expiring - kept):
            for statement in DROP_LOTS:
                self._conn.execute(statement, (currency,))
            self._conn.execute(BASE_LOTS, (at_text, currency))
            self._conn.execute(BASE_HOLDS, (currency,))
            self._conn.execute(WATCH_CURRENCY, (currency,))

    def expires_at(self, currency: str, at: datetime) -> str | None:
        moment = expiry_of(self._currencies[currency], at, self._zone)
        return None if moment is None else to_text(moment)

    def open(
        self,
        account_id: int,
        user_id: str,
        currency: str,
        transaction_id: int,
        amount: int,
        expires_at: str | None,
        at_text: str,
    ) -> None:
        self._conn.execute(
            NEW_LOT,
            (account_id, user_id, currency, transaction_id, amount, amount, expires_at, at_text),
        )

    def _take(self, account_id: int, amount: int) -> list[tuple[int, int, str | None]]:
        """``(lot id, amount, expires_at)`` covering ``amount`` of the account's free points,
        first-expiring first."""
        taken: list[tuple[int, int, str | None]] = []
        left = amount
        for lot_id, free, expires_at in self._conn.execute(OPEN_LOTS, (account_id,)).fetchall():
            take = min(left, free)
            taken.append((lot_id, take, expires_at))
            left -= take
            if left == 0:
                return taken
        raise AssertionError(f"account {account_id}'s lots hold less than {amount} free points")

    def consume(
        self, account_id: int, transaction_id: int, amount: int
    ) -> list[tuple[int, str | None]]:
        """Take ``amount`` for debit ``transaction_id``; returns ``(amount, expires_at)`` taken."""
        taken = self._take(account_id, amount)
        for lot_id, take, _ in taken:
            self._conn.execute(CONSUME, (take, lot_id))
            self._conn.execute(ADD_USE, (transaction_id, lot_id, take))
        return [(take, expires_at) for _, take, expires_at in taken]

    def hold(self, account_id: int, reservation_id: int, amount: int) -> None:
        for lot_id, take, _ in self._take(account_id, amount):
            self._conn.execute(HOLD, (take, lot_id))
            self._conn.execute(ADD_HOLD, (reservation_id, lot_id, take))

    def commit(self, reservation_id: int, transaction_id: int) -> None:
        """The held lots of a committed reservation are consumed by its purchase."""
        for lot_id, amount in self._conn.execute(HOLDS, (reservation_id,)).fetchall():
            self._conn.execute(CLOSE_HOLD, (amount, lot_id))
            self._conn.execute(ADD_USE, (transaction_id, lot_id, amount))
        self._conn.execute(FORGET_HOLDS, (reservation_id,))

    def release(self, reservation_id: int) -> None:
        for lot_id, amount in self._conn.execute(HOLDS, (reservation_id,)).fetchall():
            self._conn.execute(UNHOLD, (amount, lot_id))
        self._conn.execute(FORGET_HOLDS, (reservation_id,))

    def refund(
        self,
        refunded: int,
        refund_id: int,
        account_id: int,
        user_id: str,
        currency: str,
        amount: int,
        at_text: str,
    ) -> None:
        """Give back ``amount`` of debit ``refunded`` as new lots that expire when the lots it
        consumed do (already past: at the next expiry run). What the debit took from no
        recorded lot (it predates the currency's expiry) comes back without expiry."""
        left = amount
        for lot_id, free, expires_at in self._conn.execute(REFUNDABLE_USES, (refunded,)).fetchall():
            take = min(left, free)
            self._conn.execute(USE_REFUNDED, (take, refunded, lot_id))
            self.open(account_id, user_id, currency, refund_id, take, expires_at, at_text)
            left -= take
            if left == 0:
                return
        self.open(account_id, user_id, currency, refund_id, left, None, at_text)

    def upcoming(self, user_id: str, currency: str, limit: int) -> list[tuple[str, int]]:
        """``(expires_at, amount)`` of the user's next ``limit`` expiries in ``currency``."""
        rows = self._conn.execute(UPCOMING, (user_id, currency, limit)).fetchall()
        return [(str(row[0]), int(row[1])) for row in rows]

    def due(self, at_text: str) -> list[tuple[int, int, str, str, int]]:
        """``(lot id, account id, user, currency, remaining)`` of the lots due by ``at_text``
        that no open reservation holds (those wait until it is committed or released)."""
        rows = self._conn.execute(DUE, (at_text,)).fetchall()
        return [(row[0], row[1], row[2], row[3], row[4]) for row in rows]

    def expired(self, lot_id: int, transaction_id: int, remaining: int) -> None:
        cursor = self._conn.execute(EXPIRED, (transaction_id, lot_id, remaining))
        if cursor.rowcount != 1:
            raise AssertionError(f"lot {lot_id} changed while it expired")

    def notices(self, at: datetime) -> list[tuple[int, str, str, int, str]]:
        """``(lot id, user, currency, remaining, expires_at)`` of the open lots whose
        currency's notice period began by ``at`` and that had no notice yet; marks them."""
        at_text = to_text(at)
        found = []
        for name, currency in sorted(self._currencies.items()):
            if currency.expiry_notice_days is None:
                continue
            horizon = to_text(at + timedelta(days=currency.expiry_notice_days))
            for lot_id, user, remaining, expires_at in self._conn.execute(
                NOTICE_DUE, (name, at_text, horizon)
            ).fetchall():
                self._conn.execute(NOTIFIED, (at_text, lot_id))
                found.append((lot_id, user, name, remaining, expires_at))
        return found
