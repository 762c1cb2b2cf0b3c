"""The referral fraud rules that look beyond the attempt: at the graph of paid referrals and
at what the new user did before it.

Both run inside ``Referrals.track``'s write transaction, before it writes anything, and read
only: a rule that fires makes the referral flagged like every other rule.
"""

from __future__ import annotations

import sqlite3

from ..storage.referral_rules import ACTIVITY, UPSTREAM

__all__ = ["closes_cycle", "has_activity"]


def closes_cycle(conn: sqlite3.Connection, referrer_id: str, referred_id: str) -> bool:
    """True if ``referred_id`` is ``referrer_id``'s referrer, or their referrer's, and so on
    (the walk up the paid referrals is ``UPSTREAM``)."""
    return conn.execute(UPSTREAM, (referrer_id, referred_id)).fetchone() is not None


def has_activity(conn: sqlite3.Connection, user_id: str, at_text: str) -> bool:
    """True if the user earned XP or points or recorded an event at or before ``at_text``
    (what counts as activity, and why, is said at ``ACTIVITY``)."""
    (found,) = conn.execute(ACTIVITY, (user_id, at_text)).fetchone()
    return bool(found)
