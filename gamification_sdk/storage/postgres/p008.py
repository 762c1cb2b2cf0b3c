"""Migration p008: the readable views of the SQLite file (storage/schema/upgrades.py m012,
m015, m020), for people browsing the schema. The engine reads none of them but ``lb_live``
(whose definition its statements inline on PostgreSQL, statements.py).

What differs from the file's: a system account is one row per user here, so ``ledger_lines``
names it by its ``system_name`` rather than by a NULL owner, and ``user_balances`` keeps the
rows without one; the XP board keeps no scores in the profile row, so ``lb_live`` is
``lb_scores``; definitions' JSON is read with ``->>``.
"""

from __future__ import annotations

__all__ = ["P008"]

P008 = """
CREATE VIEW user_balances AS
SELECT user_id, currency, balance, held, balance - held AS available,
       lifetime_earned, lifetime_spent, created_at
FROM accounts WHERE system_name IS NULL;

CREATE VIEW ledger_lines AS
SELECT e.transaction_id, t.created_at, t.type, t.currency,
       CASE WHEN a.system_name IS NULL THEN a.user_id ELSE 'system:' || a.system_name END
           AS account,
       e.amount, e.balance_before, e.balance_after, t.source, t.description,
       t.reference_type, t.reference_id, t.refund_of, t.idempotency_key
FROM entries AS e
JOIN transactions AS t ON t.user_id = e.user_id AND t.id = e.transaction_id
JOIN accounts AS a ON a.id = e.account_id;

CREATE VIEW lb_live AS
SELECT user_id, period_id, score, reached, listed FROM lb_scores;

CREATE VIEW leaderboard_lines AS
SELECT p.board, p.period, p.period_key, 0 AS closed,
       RANK() OVER (PARTITION BY s.period_id ORDER BY s.score DESC) AS rank,
       s.user_id, s.score, pr.level, NULL::text AS movement
FROM lb_scores AS s
JOIN lb_periods AS p ON p.id = s.period_id AND p.closed_at IS NULL
LEFT JOIN profiles AS pr ON pr.user_id = s.user_id
WHERE s.listed = 1
UNION ALL
SELECT p.board, p.period, p.period_key, 1, r.rank, r.user_id, r.score, pr.level,
       r.movement
FROM lb_archive AS r
JOIN lb_periods AS p ON p.id = r.period_id
LEFT JOIN profiles AS pr ON pr.user_id = r.user_id
WHERE r.listed = 1;

CREATE VIEW unlocked_achievements AS
SELECT u.user_id, u.key, d.body::json ->> 'name' AS name, t.name AS tier,
       u.seq AS repeat, u.rarity, u.points AS achievement_points, u.unlocked_at, u.version
FROM achievement_unlocks AS u
LEFT JOIN definitions AS d ON d.kind = 'achievement' AND d.key = u.key
LEFT JOIN achievement_tiers AS t ON t.key = u.key AND t.tier = u.tier;
"""
