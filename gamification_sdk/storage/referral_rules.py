"""The statements of ``economy/referral_rules.py``: the referral graph and prior activity."""

from __future__ import annotations

__all__ = ["ACTIVITY", "UPSTREAM"]

# Paid referrals give each user at most one referrer (a unique index), so walking up from the
# referrer visits their chain of referrers; the referee closes a cycle exactly when they are on
# it. UNION (not UNION ALL) drops users seen before, so a cycle stored before this rule existed
# still ends the walk.
UPSTREAM = """
    WITH RECURSIVE upstream(user_id) AS (
        SELECT referrer_id FROM referrals WHERE referred_id = ?1 AND flagged = 0
        UNION
        SELECT r.referrer_id FROM referrals AS r JOIN upstream ON r.referred_id = upstream.user_id
        WHERE r.flagged = 0
    )
    SELECT 1 FROM upstream WHERE user_id = ?2 LIMIT 1
"""

# What a user did or earned at or before a time: XP, a ledger entry, or any metric (tracked
# events, active days, quests, referrals made). A profile alone is not activity: referral_code
# and the host's own sign-up flow may create one before the referral is tracked. The time
# bound lets a referral recorded late with ``at=`` (an import) pass for a user who only became
# active after it.
ACTIVITY = """
    SELECT EXISTS (SELECT 1 FROM xp_awards WHERE user_id = ?1 AND created_at <= ?2)
        OR EXISTS (SELECT 1 FROM metrics WHERE user_id = ?1 AND first_at <= ?2)
        OR EXISTS (
            SELECT 1 FROM accounts AS a
            JOIN entries AS e ON e.account_id = a.id
            JOIN transactions AS t ON t.id = e.transaction_id
            WHERE a.user_id = ?1 AND t.created_at <= ?2
        )
"""
