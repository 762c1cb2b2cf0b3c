"""Privacy: export every row about a user; delete a user and keep the ledger whole.

Every table of the schema is classified here, in ``USER_TABLES`` (rows that name a user, by
the listed columns) or ``SYSTEM_TABLES`` (nothing about any one user); a test fails when a
migration adds a table that is in neither, so new data cannot escape an export or a deletion.

Deletion removes the user's rows except the ledger's and the referral programme's, which
other users' history depends on. Those are *anonymised*: the user id is replaced by a random
pseudonym (never derived from the id, so it cannot be traced back), free text and metadata are
cleared, and the user's accounts become closed system accounts after their balance is
forfeited. Every transaction still sums to zero and every balance chain is unbroken, so
``verify_ledger()`` stays empty.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime
from typing import Any

from ..economy.ledger import Ledger, Posting
from ..economy.reservations import Reservations
from ..models import UserDeletion
from ..social.boards import Boards
from ..storage.privacy import (
    ANONYMISE,
    BALANCES,
    DEFER_FOREIGN_KEYS,
    ENTRIES,
    FORGET_CALL_KEYS,
    FORGET_KEYS,
    FORGET_ROW_KEYS,
    HOLDS,
    KEYS_ABOUT,
    MOVE_LEDGER,
    MOVED,
    MOVED_COLUMNS,
    RENAME_KEY,
    TOMBSTONE,
    USER_KEYS,
    USER_LEGS,
    delete_rows_sql,
    rows_sql,
)
from ..storage.store import Tx

__all__ = ["ANONYMISED", "SYSTEM_TABLES", "USER_TABLES", "Privacy"]

# table -> the columns that name a user.
USER_TABLES: dict[str, tuple[str, ...]] = {
    "profiles": ("user_id",),
    "xp_awards": ("user_id",),
    "xp_boosts": ("user_id",),
    "level_rewards_granted": ("user_id",),
    "prestiges": ("user_id",),
    "titles": ("user_id",),
    "accounts": ("user_id",),
    "transactions": ("user_id", "counterparty_id"),
    "entries": ("user_id",),
    "reservations": ("user_id",),
    "point_lots": ("user_id",),
    "metrics": ("user_id",),
    "metric_days": ("user_id",),
    "achievement_unlocks": ("user_id",),
    "inventory": ("user_id",),
    "notifications": ("user_id",),
    "notification_preferences": ("user_id",),
    "rest_days": ("user_id",),
    "streak_log": ("user_id",),
    "quest_progress": ("user_id",),
    "quest_completions": ("user_id",),
    "rate_limit_hits": ("user_id",),
    "lb_scores": ("user_id",),
    "lb_log": ("user_id", "user_was"),  # user_was: a slots row's old user (board_slots.py)
    "lb_archive": ("user_id",),
    "lb_rewards": ("user_id",),
    "group_members": ("user_id",),
    "friends": ("user_id", "friend_id"),
    "referral_codes": ("user_id",),
    "referrals": ("referrer_id", "referred_id"),
    "referral_milestones": ("user_id",),
    "shop_orders": ("user_id",),
    "battle_pass_progress": ("user_id",),
    "battle_pass_claims": ("user_id",),
    "tier_status": ("user_id",),
    "tier_earnings": ("user_id",),
    "tier_changes": ("user_id",),
    # Not a user column: the rows whose stored result names the user (see KEYS_ABOUT).
    "idempotency_keys": (),
}

# Tables whose rows about the user are kept, with the user replaced by the pseudonym.
ANONYMISED = frozenset({"accounts", "transactions", "entries", "referrals", "point_lots"})

SYSTEM_TABLES = frozenset(
    {
        "_sqlite_migrations",
        "achievement_tiers",
        "battle_pass_seasons",
        "config_versions",
        "definitions",
        "deleted_users",
        "groups",
        "job_runs",
        "job_state",
        "lb_boards",
        "lb_periods",
        "lb_settings",
        "leases",
        "lot_currencies",
        "lot_holds",
        "lot_uses",
        "shop_stock",
    }
)

# Ledger keys the engine derives from a user id: ``<prefix><user>:...`` and
# ``<prefix><one segment without ':'>:<user>[:...]``.
_USER_FIRST = ("achievement:", "quest:", "level-reward:", "referral_milestone:")
_USER_SECOND = ("battle-pass:", "battle-pass-premium:", "leaderboard:")


def _derived_key(key: str, user: str, pseudonym: str) -> str:
    """``key`` with the user id it was derived from replaced by the pseudonym."""
    for prefix in _USER_FIRST:
        if key.startswith(f"{prefix}{user}:"):
            return f"{prefix}{pseudonym}{key[len(prefix) + len(user) :]}"
    for prefix in _USER_SECOND:
        if key.startswith(prefix):
            head, colon, rest = key[len(prefix) :].partition(":")
            if colon and (rest == user or rest.startswith(f"{user}:")):
                return f"{prefix}{head}:{pseudonym}{rest[len(user) :]}"
    return key


def _json_value(value: object) -> object:
    return value.hex() if isinstance(value, bytes) else value


def _rows(conn: sqlite3.Connection, sql: str, args: Any) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, args)
    names = [d[0] for d in cursor.description]
    return [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in cursor]


class Privacy:
    def __init__(
        self,
        conn: sqlite3.Connection,
        ledger: Ledger,
        reservations: Reservations,
        boards: Boards,
        *,
        moves_rows: bool = False,
    ) -> None:
        """``moves_rows``: the schema keys the ledger's rows by user (PostgreSQL), so the
        erasure moves them to the pseudonym instead of rewriting them in place."""
        self._conn = conn
        self._ledger = ledger
        self._reservations = reservations
        self._boards = boards
        self._moves_rows = moves_rows
        kept = ANONYMISED | {"profiles"} if moves_rows else ANONYMISED
        self._deletes = [
            (table, delete_rows_sql(table, columns) if columns else FORGET_KEYS)
            for table, columns in USER_TABLES.items()
            if table not in kept
        ]
        if moves_rows:
            # Without deferrable keys, children go before the rows they point at: the
            # originals of the moved rows once the rest no longer names them, the profile last.
            self._deletes += [
                (table, delete_rows_sql(table, MOVED_COLUMNS[table][:1]))
                for table in reversed(MOVED)
            ]
            self._deletes.append(("profiles", delete_rows_sql("profiles", ("user_id",))))

    def export(self, user_id: str, at: datetime) -> dict[str, Any]:
        """Every row about the user, by table, as JSON-ready values (bytes as hex)."""
        params = {"user": user_id, "quoted": json.dumps(user_id)}
        tables = {
            table: _rows(self._conn, rows_sql(table, columns) if columns else KEYS_ABOUT, params)
            for table, columns in USER_TABLES.items()
        }
        return {"user_id": user_id, "exported_at": at.isoformat(), "tables": tables}

    def _release_keys(self, params: dict[str, str]) -> None:
        """Take the user out of the ledger's keys, so that the id can start afresh.

        The idempotency records naming the user are forgotten, so a retry of one of those
        calls runs as a new call: the ledger must not hold its key any more (a key the
        caller may also have built from the id). Keys the engine derived from the id
        (reward keys) get the pseudonym instead; they stay unique.
        """
        conn = self._conn
        conn.execute(FORGET_CALL_KEYS, params)
        conn.execute(FORGET_ROW_KEYS, params)
        user_id, pseudonym = params["user"], params["pseudonym"]
        renamed = [
            (_derived_key(key, user_id, pseudonym), tid)
            for tid, key in conn.execute(USER_KEYS, params).fetchall()
        ]
        conn.executemany(RENAME_KEY, renamed)

    def delete(self, tx: Tx, user_id: str, at: datetime, at_text: str) -> UserDeletion:
        """Forfeit, anonymise the shared history, delete the rest; one transaction."""
        conn = self._conn
        pseudonym = f"deleted-{secrets.token_hex(8)}"
        for (reservation_id,) in conn.execute(HOLDS, (user_id,)).fetchall():
            self._reservations.release(
                reservation_id, status="released", at_text=at_text, shop=True
            )
        forfeited: dict[str, int] = {}
        for currency, balance in conn.execute(BALANCES, (user_id,)).fetchall():
            posting = Posting(
                "admin_adjustment", currency, balance, user_id, "user_deleted", at, at_text
            )
            self._ledger.adjust(tx, posting, -balance)
            forfeited[currency] = balance
        # Every period the user scored in is reset (readers build its order again), so the
        # log rows naming the user can go with the rest.
        self._boards.forget_user(user_id)
        params = {
            "user": user_id, "pseudonym": pseudonym,
            "quoted": json.dumps(user_id), "pseudonym_quoted": json.dumps(pseudonym),
        }  # fmt: skip
        self._release_keys(params)
        if self._moves_rows:
            entries = conn.execute(USER_LEGS, params).fetchone()[0]
            for sql in MOVE_LEDGER:
                conn.execute(sql, params)
        else:
            entries = conn.execute(ENTRIES, params).rowcount
            for sql in ANONYMISE:
                conn.execute(sql, params)
            # Rows reference each other (level rewards -> XP awards -> profiles); checking
            # the keys once, at commit, lets the deletes run in table order.
            conn.execute(DEFER_FOREIGN_KEYS)
        deleted: dict[str, int] = {}
        for table, sql in self._deletes:
            cursor = conn.execute(sql, params)
            if cursor.rowcount and table not in ANONYMISED:
                deleted[table] = cursor.rowcount
        conn.execute(TOMBSTONE, (pseudonym, at_text))
        deletion = UserDeletion(
            user_id=user_id,
            pseudonym=pseudonym,
            deleted_at=at,
            rows_deleted=deleted,
            entries_anonymised=entries,
            forfeited=forfeited,
        )
        tx.emit("on_user_deleted", deletion=deletion)
        return deletion
