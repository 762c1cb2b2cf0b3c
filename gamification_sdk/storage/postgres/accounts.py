"""PostgreSQL's text of the statements that read users' accounts, where a user's shard also
holds their rows of the system accounts.

The SQLite file keeps one row per system account (``user_id`` NULL), so "the accounts of
user U" is ``user_id = U`` there, and "user accounts" is ``user_id IS NOT NULL``. The
PostgreSQL schema books each system account per user (``user_id`` = U, ``system_name`` set;
docs/postgresql.md), so both say ``system_name IS NULL`` there. A system account's balance is
the sum of its rows, and every entry carries its transaction owner's ``user_id``.

``overrides(base)`` applies these on top of the other overrides (statements.py), so a
statement both lists keeps both changes.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import (
    achievements,
    audit,
    ledger,
    lots,
    privacy,
    profiles,
    referral_rules,
    simulator,
    stats,
)

__all__ = ["PER_TRANSACTION_CTE", "overrides"]

_OF_USER = (
    "FROM accounts WHERE user_id = ?",
    "FROM accounts WHERE system_name IS NULL AND user_id = ?",
)
_USERS = ("user_id IS NOT NULL", "system_name IS NULL")
_JOINED_OF_USER = ("WHERE a.user_id = ?", "WHERE a.system_name IS NULL AND a.user_id = ?")

# The audit's per-transaction sums: SQLite fills a TEMP table first (one sorted pass); a
# PostgreSQL audit runs in a read-only snapshot, where each check that needs them computes
# them in a CTE.
PER_TRANSACTION_CTE = (
    "WITH per_transaction AS (SELECT transaction_id AS id, COUNT(*) AS n, SUM(amount) AS total "
    "FROM entries GROUP BY transaction_id) "
)


def _statements() -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    found: list[tuple[str, tuple[tuple[str, str], ...]]] = [
        (ledger.USER_ACCOUNT, (_OF_USER,)),
        (ledger.MOVE_USER, (("WHERE user_id = ?4", "WHERE system_name IS NULL AND user_id = ?4"),)),
        (
            ledger.SIDE,
            (
                (
                    "FROM accounts WHERE user_id = ?)",
                    "FROM accounts WHERE system_name IS NULL AND user_id = ?)",
                ),
            ),
        ),
        (ledger._ALL_TOTALS, (_OF_USER,)),
        (ledger._CURRENCY_TOTALS, (_OF_USER,)),
        (ledger._ACCOUNT_IDS, (_OF_USER,)),
        (ledger._CURRENCY_ACCOUNT_IDS, (_OF_USER,)),
        (achievements.LIFETIME_EARNED, (_OF_USER,)),
        (profiles.BALANCES, (_OF_USER,)),
        (privacy.BALANCES, (_OF_USER,)),
        (lots.UPCOMING, (_OF_USER,)),
        (lots.BASE_LOTS, (_USERS,)),
        (
            referral_rules.ACTIVITY,
            (("WHERE a.user_id = ?1", "WHERE a.system_name IS NULL AND a.user_id = ?1"),),
        ),
        (stats.POINTS_SINCE, (_JOINED_OF_USER,)),
        (simulator.LIFETIMES, (_USERS,)),
        (
            simulator.SYSTEM_BALANCES,
            (
                ("system_name, currency, balance", "system_name, currency, SUM(balance)"),
                ("IS NOT NULL", "IS NOT NULL GROUP BY system_name, currency"),
            ),
        ),
        (
            audit.COUNT_ACCOUNTS,
            (
                (
                    "SELECT COUNT(*) FROM accounts",
                    "SELECT (SELECT COUNT(*) FROM accounts WHERE system_name IS NULL) + "
                    "(SELECT COUNT(*) FROM (SELECT DISTINCT system_name, currency FROM accounts "
                    "WHERE system_name IS NOT NULL) AS systems)",
                ),
            ),
        ),
    ]
    for kind, check in audit.CHECKS:
        fragments: list[tuple[str, str]] = []
        if "user_id IS NOT NULL" in check:
            fragments.append(_USERS)
        if kind == "negative_balance":
            # An entry's user_id is its transaction's owner here: user legs by their account.
            fragments = [
                (
                    "FROM accounts\n           WHERE user_id IS NOT NULL",
                    "FROM accounts\n           WHERE system_name IS NULL",
                ),
                (
                    "FROM entries WHERE user_id IS NOT NULL",
                    "FROM entries WHERE account_id IN "
                    "(SELECT id FROM accounts WHERE system_name IS NULL)",
                ),
            ]
        found.append((check, tuple(fragments)))
    return found


def overrides(base: dict[str, str], swap: Callable[..., str]) -> None:
    """Rewrite ``base`` (SQLite text -> PostgreSQL text) in place with the reads above."""
    for statement, fragments in _statements():
        text = base.get(statement, statement)
        if fragments:
            text = swap(text, *fragments)
        if "per_transaction" in statement:
            text = PER_TRANSACTION_CTE + text
        if text != statement:
            base[statement] = text
