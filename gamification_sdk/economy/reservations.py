"""Two-phase purchases: reserve (hold), then commit (spend) or release (free).

A hold does not move points: it raises the account's ``held``, so available drops while
the balance stays; the schema refuses ``held > balance``, so held points cannot be spent
twice even by a buggy caller. Commit posts one ``purchase`` from user to sink and drops the
hold in the same UPDATE; release and expiry only drop the hold, leaving the balance exactly
as it was. In an expiring currency a hold also holds lots, first-expiring first
(economy/lots.py), which its commit consumes and its release frees.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..core.clock import to_text
from ..errors import InvalidInput, NotFound, ReservationClosed, ReservationExpired
from ..models import Reservation, Transaction
from ..storage.reservations import CLOSE, DUE, GET, HOLD, NEW
from ..storage.store import Tx
from .ledger import SHOP_ORDER, Ledger, Posting

__all__ = ["Reservations"]


def _reservation(
    row: tuple[object, ...], status: str | None = None, tid: int | None = None
) -> Reservation:
    return Reservation(
        id=int(row[0]),  # type: ignore[call-overload]
        user_id=str(row[1]),
        currency=str(row[2]),
        amount=int(row[3]),  # type: ignore[call-overload]
        status=status or str(row[4]),
        source=str(row[5]),
        created_at=datetime.fromisoformat(str(row[6])),
        expires_at=datetime.fromisoformat(str(row[7])),
        reference_type=row[8],  # type: ignore[arg-type]
        reference_id=row[9],  # type: ignore[arg-type]
        transaction_id=tid if tid is not None else row[10],  # type: ignore[arg-type]
    )


class Reservations:
    def __init__(self, conn: sqlite3.Connection, ledger: Ledger) -> None:
        self._conn = conn
        self._ledger = ledger

    def get(self, reservation_id: int) -> Reservation:
        row = self._conn.execute(GET, (reservation_id,)).fetchone()
        if row is None:
            raise NotFound("reservation_id", reservation_id)
        return _reservation(row)

    def reserve(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        source: str,
        expires_at: datetime,
        reference: tuple[str, str] | None,
        at: datetime,
        at_text: str,
    ) -> Reservation:
        account = self._ledger.require_available(user_id, currency, amount)
        self._conn.execute(HOLD, (amount, account[0]))
        expires_text = to_text(expires_at)
        cursor = self._conn.execute(
            NEW,
            (
                user_id,
                account[0],
                currency,
                amount,
                source,
                reference[0] if reference else None,
                reference[1] if reference else None,
                at_text,
                expires_text,
            ),
        )
        reservation_id = int(cursor.lastrowid or 0)
        if currency in self._ledger.lots.expiring:
            self._ledger.lots.hold(account[0], reservation_id, amount)
        return self.get(reservation_id)

    def _open_row(self, reservation_id: int, shop: bool) -> tuple[object, ...]:
        row = self._conn.execute(GET, (reservation_id,)).fetchone()
        if row is None:
            raise NotFound("reservation_id", reservation_id)
        if row[4] != "active":
            raise ReservationClosed(reservation_id, row[4])
        if row[8] == SHOP_ORDER and not shop:
            raise InvalidInput(
                "reservation_id",
                f"reservation {reservation_id} holds shop order {row[9]}: shop.purchase() "
                "commits or releases it",
            )
        return tuple(row)

    def commit(
        self,
        tx: Tx,
        reservation_id: int,
        *,
        description: str | None,
        at: datetime,
        at_text: str,
        key: str | None,
        shop: bool = False,
    ) -> Transaction:
        row = self._open_row(reservation_id, shop)
        if str(row[7]) <= at_text:
            raise ReservationExpired(reservation_id, str(row[7]))
        user_id, currency, amount, source = str(row[1]), str(row[2]), int(row[3]), str(row[5])  # type: ignore[call-overload]
        account = self._ledger.user_account(user_id, currency)
        assert account is not None
        reference = (
            (str(row[8]), str(row[9]))
            if row[8] is not None
            else ("reservation", str(reservation_id))
        )
        posting = Posting(
            "purchase",
            currency,
            amount,
            user_id,
            source,
            at,
            at_text,
            reference=reference,
            description=description,
            key=key,
        )
        result = self._ledger.debit(tx, posting, release_held=amount, account=account)
        if currency in self._ledger.lots.expiring:
            self._ledger.lots.commit(reservation_id, result.id)
        self._close(reservation_id, "committed", at_text, result.id)
        return result

    def release(
        self, reservation_id: int, *, status: str, at_text: str, shop: bool = False
    ) -> Reservation:
        row = self._open_row(reservation_id, shop)
        self._conn.execute(HOLD, (-int(row[3]), row[11]))  # type: ignore[call-overload]
        if row[2] in self._ledger.lots.expiring:
            self._ledger.lots.release(reservation_id)
        self._close(reservation_id, status, at_text, None)
        return _reservation(row, status=status)

    def _close(self, reservation_id: int, status: str, at_text: str, tid: int | None) -> None:
        """Close the hold read open. Another server's call by its id may have closed it since
        (one alone runs SERIALIZABLE without the user's lock, one in a batch READ COMMITTED
        under it): then it is refused as if read so, and the write rolls back whole, where
        the hold would have been charged or released twice."""
        if self._conn.execute(CLOSE, (status, at_text, tid, reservation_id)).rowcount != 1:
            (now,) = self._conn.execute(GET, (reservation_id,)).fetchone()[4:5]
            raise ReservationClosed(reservation_id, str(now))

    def expire(self, at_text: str) -> list[Reservation]:
        due = self._conn.execute(DUE, (at_text,)).fetchall()
        return [
            self.release(int(row[0]), status="expired", at_text=at_text, shop=True) for row in due
        ]
