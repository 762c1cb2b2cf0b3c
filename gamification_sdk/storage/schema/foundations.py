"""Migrations m001-m006: profiles and XP, the ledger, events and achievements, streaks and
quests, rate limits, jobs."""

from __future__ import annotations

from typing import Any

from . import migrations
from .script import _script


@migrations()
def m001_profiles_and_xp(db: Any) -> None:
    _script(
        db,
        """
        CREATE TABLE profiles (
            user_id TEXT PRIMARY KEY,
            xp INTEGER NOT NULL DEFAULT 0 CHECK (xp >= 0 AND typeof(xp) = 'integer'),
            level INTEGER NOT NULL DEFAULT 1 CHECK (level >= 1),
            prestige INTEGER NOT NULL DEFAULT 0 CHECK (prestige >= 0),
            xp_at_prestige INTEGER NOT NULL DEFAULT 0 CHECK (xp_at_prestige <= xp),
            boosts_until TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE xp_awards (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            id INTEGER NOT NULL,
            base_amount INTEGER NOT NULL CHECK (base_amount > 0),
            multiplier REAL NOT NULL,
            amount INTEGER NOT NULL CHECK (amount >= 0),
            total_xp INTEGER NOT NULL,
            level_before INTEGER NOT NULL,
            level_after INTEGER NOT NULL,
            source TEXT NOT NULL,
            metadata TEXT,
            idempotency_key TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, id)
        ) WITHOUT ROWID;

        CREATE TABLE xp_boosts (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            factor REAL NOT NULL CHECK (factor > 0),
            source TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX xp_boosts_by_user ON xp_boosts(user_id, expires_at);

        CREATE TABLE level_rewards_granted (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            prestige INTEGER NOT NULL,
            level INTEGER NOT NULL,
            xp_award_id INTEGER NOT NULL,
            granted_at TEXT NOT NULL,
            PRIMARY KEY (user_id, prestige, level)
        ) WITHOUT ROWID;

        CREATE TABLE prestiges (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            prestige INTEGER NOT NULL,
            xp_at_prestige INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, prestige)
        ) WITHOUT ROWID;

        CREATE TABLE titles (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            title TEXT NOT NULL,
            source TEXT NOT NULL,
            granted_at TEXT NOT NULL,
            PRIMARY KEY (user_id, title)
        ) WITHOUT ROWID;

        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            operation TEXT NOT NULL,
            fingerprint BLOB NOT NULL,
            result TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m002_points_ledger(db: Any) -> None:
    _script(
        db,
        """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            user_id TEXT REFERENCES profiles(user_id),
            system_name TEXT,
            currency TEXT NOT NULL,
            balance INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            lifetime_earned INTEGER NOT NULL DEFAULT 0,
            lifetime_spent INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            CHECK ((user_id IS NULL) <> (system_name IS NULL)),
            -- SQLite turns an overflowing integer sum into a REAL: refuse it instead.
            CHECK (typeof(balance) = 'integer' AND typeof(lifetime_earned) = 'integer'
                   AND typeof(lifetime_spent) = 'integer'),
            CHECK (user_id IS NULL OR (balance >= 0 AND held >= 0 AND held <= balance))
        );
        CREATE UNIQUE INDEX accounts_by_user ON accounts(user_id, currency);
        CREATE UNIQUE INDEX accounts_by_system_name ON accounts(system_name, currency);

        CREATE TABLE transactions (
            id INTEGER PRIMARY KEY,
            type TEXT NOT NULL CHECK (type IN ('earned', 'spent', 'bonus', 'refund',
                'admin_adjustment', 'referral_reward', 'purchase', 'transfer')),
            currency TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            user_id TEXT,
            counterparty_id TEXT,
            source TEXT NOT NULL,
            reference_type TEXT,
            reference_id TEXT,
            description TEXT,
            metadata TEXT,
            refund_of INTEGER REFERENCES transactions(id),
            refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
            idempotency_key TEXT UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE INDEX transactions_refunds ON transactions(refund_of)
            WHERE refund_of IS NOT NULL;

        CREATE TABLE entries (
            transaction_id INTEGER NOT NULL REFERENCES transactions(id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            user_id TEXT,
            amount INTEGER NOT NULL CHECK (amount <> 0),
            balance_before INTEGER NOT NULL,
            balance_after INTEGER NOT NULL,
            CHECK (balance_after = balance_before + amount),
            CHECK (user_id IS NULL OR balance_after >= 0),
            PRIMARY KEY (account_id, transaction_id)
        ) WITHOUT ROWID;

        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            account_id INTEGER NOT NULL REFERENCES accounts(id),
            currency TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            status TEXT NOT NULL CHECK (status IN ('active', 'committed', 'released', 'expired')),
            source TEXT NOT NULL,
            reference_type TEXT,
            reference_id TEXT,
            transaction_id INTEGER REFERENCES transactions(id),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            closed_at TEXT
        );
        CREATE INDEX reservations_active_by_expiry ON reservations(expires_at)
            WHERE status = 'active';
        CREATE INDEX reservations_by_account ON reservations(account_id, status)
        """,
    )


@migrations()
def m003_events_and_achievements(db: Any) -> None:
    _script(
        db,
        """
        ALTER TABLE profiles ADD COLUMN timezone TEXT;
        ALTER TABLE profiles ADD COLUMN equipped_title TEXT;

        CREATE TABLE definitions (
            kind TEXT NOT NULL CHECK (kind IN ('achievement', 'rule')),
            key TEXT NOT NULL,
            source TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            digest TEXT NOT NULL,
            body TEXT NOT NULL,
            loaded_at TEXT NOT NULL,
            retired_at TEXT,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID;

        CREATE TABLE metrics (
            user_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            sum NUMERIC NOT NULL DEFAULT 0,
            max NUMERIC NOT NULL DEFAULT 0,
            days INTEGER NOT NULL DEFAULT 0,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            PRIMARY KEY (user_id, metric)
        ) WITHOUT ROWID;

        CREATE TABLE metric_days (
            user_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            sum NUMERIC NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, metric, day)
        ) WITHOUT ROWID;

        CREATE TABLE achievement_unlocks (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            key TEXT NOT NULL,
            tier INTEGER NOT NULL,
            seq INTEGER NOT NULL CHECK (seq >= 1),
            version INTEGER NOT NULL,
            rarity TEXT NOT NULL,
            points INTEGER NOT NULL,
            unlocked_at TEXT NOT NULL,
            rewards TEXT NOT NULL,
            baseline NUMERIC NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, key, tier, seq)
        ) WITHOUT ROWID;

        CREATE TABLE inventory (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            item TEXT NOT NULL,
            quantity INTEGER NOT NULL CHECK (quantity >= 0),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, item)
        ) WITHOUT ROWID;

        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL,
            read_at TEXT
        );
        CREATE INDEX notifications_by_user ON notifications(user_id, id);

        CREATE TABLE notification_preferences (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            kind TEXT NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            PRIMARY KEY (user_id, kind)
        ) WITHOUT ROWID;

        CREATE TABLE job_state (
            name TEXT PRIMARY KEY,
            cursor TEXT,
            digest TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m004_streaks_and_quests(db: Any) -> None:
    _script(
        db,
        """
        ALTER TABLE profiles ADD COLUMN streak_current INTEGER NOT NULL DEFAULT 0
            CHECK (streak_current >= 0);
        ALTER TABLE profiles ADD COLUMN streak_longest INTEGER NOT NULL DEFAULT 0
            CHECK (streak_longest >= streak_current);
        ALTER TABLE profiles ADD COLUMN streak_last_day TEXT;
        ALTER TABLE profiles ADD COLUMN streak_settled_day TEXT;
        ALTER TABLE profiles ADD COLUMN streak_warned_day TEXT;
        CREATE INDEX profiles_live_streaks ON profiles(timezone, streak_settled_day)
            WHERE streak_current > 0;

        CREATE TABLE rest_days (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            day TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, day)
        ) WITHOUT ROWID;

        CREATE TABLE streak_log (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            day TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('freeze_used', 'freeze_earned', 'broken')),
            streak INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, day, kind)
        ) WITHOUT ROWID;

        CREATE TABLE definitions_v2 (
            kind TEXT NOT NULL CHECK (kind IN ('achievement', 'rule', 'quest')),
            key TEXT NOT NULL,
            source TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            digest TEXT NOT NULL,
            body TEXT NOT NULL,
            loaded_at TEXT NOT NULL,
            retired_at TEXT,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID;
        INSERT INTO definitions_v2 SELECT * FROM definitions;
        DROP TABLE definitions;
        ALTER TABLE definitions_v2 RENAME TO definitions;

        CREATE TABLE quest_progress (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            quest TEXT NOT NULL,
            period_start TEXT NOT NULL,
            period_end TEXT,
            progress TEXT NOT NULL,
            completions INTEGER NOT NULL DEFAULT 0 CHECK (completions >= 0),
            status TEXT NOT NULL CHECK (status IN ('active', 'completed', 'expired')),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, quest, period_start)
        ) WITHOUT ROWID;
        CREATE INDEX quest_progress_open ON quest_progress(period_end) WHERE status = 'active';

        CREATE TABLE quest_completions (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            quest TEXT NOT NULL,
            period_start TEXT NOT NULL,
            seq INTEGER NOT NULL CHECK (seq >= 1),
            version INTEGER NOT NULL,
            completed_at TEXT NOT NULL,
            rewards TEXT NOT NULL,
            evidence TEXT,
            PRIMARY KEY (user_id, quest, period_start, seq)
        ) WITHOUT ROWID;
        CREATE INDEX quest_completions_by_quest ON quest_completions(user_id, quest)
        """,
    )


@migrations()
def m005_rate_limits(db: Any) -> None:
    # One row per (action, user, microsecond) with a count: the primary key serves the
    # window sum, the oldest-call lookup and the per-user prune as range reads.
    _script(
        db,
        """
        CREATE TABLE rate_limit_hits (
            action TEXT NOT NULL,
            user_id TEXT NOT NULL,
            at TEXT NOT NULL,
            hits INTEGER NOT NULL CHECK (hits >= 1),
            PRIMARY KEY (action, user_id, at)
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m006_jobs(db: Any) -> None:
    # job_runs: one row per (job, period); finished_at set once it ran to the end.
    # leases: who may run scheduled jobs right now (one row, name 'scheduler').
    _script(
        db,
        """
        CREATE TABLE job_runs (
            job TEXT NOT NULL,
            period TEXT NOT NULL,
            holder TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
            result TEXT,
            error TEXT,
            PRIMARY KEY (job, period)
        ) WITHOUT ROWID;

        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    )
