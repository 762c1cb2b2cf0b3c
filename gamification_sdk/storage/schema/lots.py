"""m021: the lots of expiring currencies (docs/guides/expiring-points.md).

A lot is what one credit (or a refund, or a transfer's receiving side) added to an account of
an expiring currency, with when it expires. ``remaining`` is what is left of it, ``held`` how
much of that open reservations hold (``lot_holds`` says which). ``lot_uses`` records which
lots each debit consumed, so a refund can give back points that expire as those would have.
``lot_currencies`` names the currencies whose accounts have lots: the engine gives their
existing balances one lot with no expiry when a currency starts to expire (and at the first
open of a file from before m021). Non-expiring currencies keep no lots: their balance is one
implicit lot with no expiry.
"""

from __future__ import annotations

from typing import Any

from . import migrations
from .script import _script

__all__: list[str] = []

# The transaction types of foundations' CHECK, and the same with 'expired' added.
_TYPES = (
    "'earned', 'spent', 'bonus', 'refund',\n"
    "                'admin_adjustment', 'referral_reward', 'purchase', 'transfer')"
)
_WITH_EXPIRED = _TYPES[:-1] + ", 'expired')"


def _allow_expired(db: Any) -> None:
    # SQLite cannot ALTER a CHECK, and rebuilding transactions (every row, its indexes and the
    # views over it) would make the migration's time grow with the ledger. Adding a value to
    # an IN list only lets more rows in, so every stored row still satisfies it: the schema
    # text is edited in place, the documented procedure for loosening a constraint
    # (sqlite.org/lang_altertable.html, "making other kinds of table schema changes").
    (sql,) = db.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'transactions'"
    ).fetchone()
    if _WITH_EXPIRED in sql:
        return
    if _TYPES not in sql:
        raise RuntimeError("m021: the transactions table's type CHECK is not the expected one")
    (version,) = db.execute("PRAGMA schema_version").fetchone()
    db.execute("PRAGMA writable_schema = ON")
    try:
        db.execute(
            "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'transactions'",
            (sql.replace(_TYPES, _WITH_EXPIRED),),
        )
        db.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        db.execute("PRAGMA writable_schema = OFF")


@migrations()
def m021_point_lots(db: Any) -> None:
    _allow_expired(db)
    _script(
        db,
        """
        CREATE TABLE point_lots (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            user_id TEXT NOT NULL,
            currency TEXT NOT NULL,
            transaction_id INTEGER REFERENCES transactions(id),
            amount INTEGER NOT NULL CHECK (amount > 0),
            remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
            held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= remaining),
            expires_at TEXT,
            notified_at TEXT,
            expired INTEGER NOT NULL DEFAULT 0 CHECK (expired >= 0),
            expired_by INTEGER UNIQUE REFERENCES transactions(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX point_lots_open ON point_lots(account_id, expires_at) WHERE remaining > 0;
        CREATE INDEX point_lots_due ON point_lots(expires_at)
            WHERE remaining > 0 AND expires_at IS NOT NULL;

        CREATE TABLE lot_uses (
            transaction_id INTEGER NOT NULL REFERENCES transactions(id),
            lot_id INTEGER NOT NULL REFERENCES point_lots(id),
            amount INTEGER NOT NULL CHECK (amount > 0),
            refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
            PRIMARY KEY (transaction_id, lot_id)
        ) WITHOUT ROWID;

        CREATE TABLE lot_holds (
            reservation_id INTEGER NOT NULL REFERENCES reservations(id),
            lot_id INTEGER NOT NULL REFERENCES point_lots(id),
            amount INTEGER NOT NULL CHECK (amount > 0),
            PRIMARY KEY (reservation_id, lot_id)
        ) WITHOUT ROWID;

        CREATE TABLE lot_currencies (currency TEXT PRIMARY KEY) WITHOUT ROWID
        """,
    )
