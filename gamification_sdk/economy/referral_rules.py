"""The referral fraud rules that look beyond the attempt: at the graph of paid referrals and
at what the new user did before it.

Both run inside ``Referrals.track``'s write transaction, before it writes anything, and read
only: a rule that fires makes the referral flagged like every other rule.
"""

from __future__ import annotations

import sqlite3

__all__ = ["closes_cycle", "has_activity"]

# Paid referrals give each user at most one referrer (a unique index), so walking up from the
# referrer visits their chain of referrers; the referee closes a cycle exactly when they are on
# it. UNION (not UNION ALL) drops users seen before, so a cycle stored before this rule existed
# still ends the walk.
_UPSTREAM = """
    WITH RECURSIVE upstream(user_id) AS (
        SELECT referrer_id FROM referrals WHERE referred_id = ?1 AND flagged = 0
        UNION
        SELECT r.referrer_id FROM referrals AS r JOIN upstream ON r.referred_id = upstream.user_id
        WHERE r.flagged = 0
    )
    SELECT 1 FROM upstream WHERE user_id = ?2 LIMIT 1
"""

# What a user did or earned at or before a time: XP, a ledger entry, or any metric (tracked
# events, active days, quests, referrals made). A profile alone is not activity: referrals.code
# and the host's own sign-up flow may create one before the referral is tracked. The time
# bound lets a referral recorded late with ``at=`` (an import) pass for a user who only became
# active after it.
_ACTIVITY = """
    SELECT EXISTS (SELECT 1 FROM xp_awards WHERE user_id = ?1 AND created_at <= ?2)
        OR EXISTS (SELECT 1 FROM metrics WHERE user_id = ?1 AND first_at <= ?2)
        OR EXISTS (
            SELECT 1 FROM accounts AS a
            JOIN entries AS e ON e.account_id = a.id
            JOIN transactions AS t ON t.id = e.transaction_id
            WHERE a.user_id = ?1 AND t.created_at <= ?2
        )
"""


def closes_cycle(conn: sqlite3.Connection, referrer_id: str, referred_id: str) -> bool:
    """True if ``referred_id`` is ``referrer_id``'s referrer, or their referrer's, and so on."""
    return conn.execute(_UPSTREAM, (referrer_id, referred_id)).fetchone() is not None


def has_activity(conn: sqlite3.Connection, user_id: str, at_text: str) -> bool:
    """True if the user earned XP or points or recorded an event at or before ``at_text``."""
    (found,) = conn.execute(_ACTIVITY, (user_id, at_text)).fetchone()
    return bool(found)
