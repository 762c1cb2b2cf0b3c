"""The schema, as a named sqlite-utils migration set. Never edit an applied migration: add one."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlite_utils

__all__ = ["migrations"]

migrations = sqlite_utils.Migrations("gamification_sdk")


def _statements(sql: str) -> Iterator[str]:
    """The statements of ``sql``, each whole: a ``;`` in a literal, a quoted name, a comment
    or a trigger's ``BEGIN ... END`` body does not end one (``sqlite3.complete_statement``
    decides, with SQLite's own tokenizer)."""
    pieces = sql.split(";")
    statement = ""
    for piece in pieces[:-1]:
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement[:-1].strip():
                yield statement
            statement = ""
    statement += pieces[-1]
    if statement.strip():
        yield statement  # the last statement needs no ";"; an unfinished one fails to run


def _script(db: Any, sql: str) -> None:
    # executescript() would COMMIT the surrounding transaction (the migration's and the
    # engine's), so a failure could leave a half-applied migration: run statement by statement.
    for statement in _statements(sql):
        db.execute(statement)


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


@migrations()
def m007_leaderboards(db: Any) -> None:
    # lb_scores is clustered by user: an award updates every period row of that user on one
    # page. Rank order is kept by lb_blocks (score ranges with exact member counts) and the
    # lb_members index, which changes only when a user moves to another block; the engine's
    # connection-local triggers move them (see boards.py).
    _script(
        db,
        """
        CREATE TABLE lb_boards (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE lb_periods (
            id INTEGER PRIMARY KEY,
            board TEXT NOT NULL,
            period TEXT NOT NULL,
            period_key TEXT NOT NULL,
            starts_at TEXT,
            ends_at TEXT,
            closed_at TEXT,
            ranked INTEGER,
            UNIQUE (board, period, period_key)
        );
        CREATE INDEX lb_periods_open ON lb_periods (ends_at) WHERE closed_at IS NULL;

        CREATE TABLE lb_scores (
            user_id TEXT NOT NULL,
            period_id INTEGER NOT NULL,
            score NOT NULL CHECK (typeof(score) IN ('integer', 'real')),
            reached INTEGER NOT NULL,
            listed INTEGER NOT NULL CHECK (listed IN (0, 1)),
            blk,
            blk_hi,
            entered INTEGER,
            PRIMARY KEY (user_id, period_id)
        ) WITHOUT ROWID;
        CREATE INDEX lb_members ON lb_scores (period_id, blk, entered);

        CREATE TABLE lb_blocks (
            period_id INTEGER NOT NULL,
            lo NOT NULL,
            n INTEGER NOT NULL CHECK (n >= 0),
            run INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (period_id, lo)
        ) WITHOUT ROWID;

        CREATE TABLE lb_split_queue (
            period_id INTEGER NOT NULL,
            lo NOT NULL,
            PRIMARY KEY (period_id, lo)
        ) WITHOUT ROWID;

        CREATE TABLE lb_archive (
            period_id INTEGER NOT NULL,
            user_id TEXT NOT NULL,
            score NOT NULL,
            reached INTEGER NOT NULL,
            listed INTEGER NOT NULL,
            rank INTEGER NOT NULL,
            position INTEGER,
            previous_rank INTEGER,
            movement TEXT NOT NULL CHECK (movement IN ('up', 'down', 'same', 'new')),
            PRIMARY KEY (period_id, user_id)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX lb_archive_order ON lb_archive (period_id, position)
            WHERE position IS NOT NULL;

        CREATE TABLE lb_rewards (
            period_id INTEGER NOT NULL,
            user_id TEXT NOT NULL,
            reward INTEGER NOT NULL,
            rank INTEGER NOT NULL,
            paid_at TEXT NOT NULL,
            PRIMARY KEY (period_id, user_id, reward)
        ) WITHOUT ROWID;

        CREATE TABLE groups (
            group_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE group_members (
            group_id TEXT NOT NULL REFERENCES groups(group_id),
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            joined_at TEXT NOT NULL,
            PRIMARY KEY (group_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX group_members_user ON group_members (user_id);

        CREATE TABLE friends (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            friend_id TEXT NOT NULL REFERENCES profiles(user_id),
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, friend_id),
            CHECK (user_id != friend_id)
        ) WITHOUT ROWID;

        CREATE TABLE lb_settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;

        ALTER TABLE profiles ADD COLUMN real_name TEXT;
        ALTER TABLE profiles ADD COLUMN username TEXT;
        ALTER TABLE profiles ADD COLUMN visibility TEXT
            CHECK (visibility IN ('public', 'friends_only', 'private'));
        ALTER TABLE profiles ADD COLUMN show_on_global INTEGER CHECK (show_on_global IN (0, 1));
        ALTER TABLE profiles ADD COLUMN display_name_type TEXT
            CHECK (display_name_type IN ('real_name', 'username', 'anonymous'))
        """,
    )


@migrations()
def m008_referrals(db: Any) -> None:
    # referral_codes: one stable code per user, and the IP the referrer last gave.
    # referrals: every tracked referral, flagged ones included (they stay 'pending'). A user
    # is the new user of at most one unflagged referral (the partial unique index), so a
    # welcome bonus is paid once however the fraud rules are set. The other indexes serve
    # the fraud checks: one IP over a window, a device seen before, a user referred before.
    # referral_milestones: each (referrer, tier) row is written once, when the tier pays.
    _script(
        db,
        """
        CREATE TABLE referral_codes (
            user_id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            ip TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE referrals (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL,
            referrer_id TEXT NOT NULL,
            referred_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'signed_up', 'converted',
                'paid_client', 'churned')),
            flagged INTEGER NOT NULL CHECK (flagged IN (0, 1)),
            reason TEXT,
            currency TEXT NOT NULL,
            referrer_points INTEGER NOT NULL DEFAULT 0 CHECK (referrer_points >= 0),
            referred_points INTEGER NOT NULL DEFAULT 0 CHECK (referred_points >= 0),
            ip TEXT,
            device_fingerprint TEXT,
            email TEXT,
            utm TEXT,
            conversion_kind TEXT CHECK (conversion_kind IN ('first_purchase', 'first_session')),
            revenue REAL,
            created_at TEXT NOT NULL,
            signed_up_at TEXT,
            converted_at TEXT,
            updated_at TEXT NOT NULL,
            CHECK ((flagged = 1) = (reason IS NOT NULL)),
            CHECK (flagged = 0 OR (status = 'pending' AND referrer_points = 0
                AND referred_points = 0)),
            CHECK ((converted_at IS NULL) = (conversion_kind IS NULL))
        );
        CREATE UNIQUE INDEX referrals_one_per_user ON referrals(referred_id) WHERE flagged = 0;
        CREATE INDEX referrals_by_referred ON referrals(referred_id, flagged);
        CREATE INDEX referrals_by_referrer ON referrals(referrer_id, id);
        CREATE INDEX referrals_by_ip ON referrals(ip, created_at) WHERE ip IS NOT NULL;
        CREATE INDEX referrals_by_device ON referrals(device_fingerprint)
            WHERE device_fingerprint IS NOT NULL;

        CREATE TABLE referral_milestones (
            user_id TEXT NOT NULL,
            tier TEXT NOT NULL,
            name TEXT NOT NULL,
            referrals INTEGER NOT NULL CHECK (referrals >= 1),
            currency TEXT NOT NULL,
            points INTEGER NOT NULL CHECK (points >= 0),
            title TEXT,
            reached_at TEXT NOT NULL,
            PRIMARY KEY (user_id, tier)
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m009_shop(db: Any) -> None:
    # Shop items are definitions of kind 'shop'. The kinds CHECK is rebuilt from the one in
    # place, so kinds other migrations added stay allowed.
    (sql,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'definitions'"
    ).fetchone()
    found = re.search(r"kind IN \(([^)]*)\)", sql)
    assert found is not None, "definitions has no kind CHECK"
    kinds = [k.strip() for k in found.group(1).split(",")]
    if "'shop'" not in kinds:
        kinds.append("'shop'")
    name = r'CREATE TABLE\s+"?definitions"?'
    create = re.sub(name, "CREATE TABLE definitions_shop", sql, count=1)
    create = create.replace(found.group(0), f"kind IN ({', '.join(kinds)})")
    indexes = [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'definitions' "
            "AND sql IS NOT NULL"
        ).fetchall()
    ]
    db.execute(create)
    db.execute("INSERT INTO definitions_shop SELECT * FROM definitions")
    db.execute("DROP TABLE definitions")
    db.execute("ALTER TABLE definitions_shop RENAME TO definitions")
    for index in indexes:
        db.execute(index)
    # shop_stock: per item, units it may ever sell (total, from its definition), units left
    # (stock) and units sold; NULL total and stock for an unlimited item.
    # shop_orders: one row per purchase; JSON columns hold {currency: total}, the granted items and
    # the reservation, purchase and refund transaction ids.
    _script(
        db,
        """
        CREATE TABLE shop_stock (
            item TEXT PRIMARY KEY,
            total INTEGER CHECK (total IS NULL OR total >= 0),
            stock INTEGER CHECK (stock IS NULL OR stock >= 0),
            sold INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0),
            CHECK ((total IS NULL) = (stock IS NULL))
        ) WITHOUT ROWID;

        CREATE TABLE shop_orders (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            item TEXT NOT NULL,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            quantity INTEGER NOT NULL CHECK (quantity >= 1),
            price TEXT NOT NULL,
            grants TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'completed', 'failed', 'expired', 'refunded')),
            reservations TEXT NOT NULL,
            transactions TEXT NOT NULL DEFAULT '[]',
            refunds TEXT NOT NULL DEFAULT '[]',
            external_reference TEXT,
            failure TEXT,
            idempotency_key TEXT,
            fingerprint BLOB,
            created_at TEXT NOT NULL,
            completed_at TEXT,
            closed_at TEXT
        );
        CREATE INDEX shop_orders_by_user ON shop_orders(user_id, item);
        CREATE UNIQUE INDEX shop_orders_pending_by_key ON shop_orders(idempotency_key)
            WHERE status = 'pending' AND idempotency_key IS NOT NULL
        """,
    )


@migrations()
def m010_battle_pass(db: Any) -> None:
    # battle_pass_progress: per (season, user) the season XP (awards while the season is
    # active, plus tier boosts), boosts used, the premium pass (when, and its ledger
    # transaction) and, once the season-end job archived it, the final tier.
    # battle_pass_claims: one row per paid tier reward; ``auto`` ones the season end granted.
    # battle_pass_seasons: a season's end being archived (closed_at) and done (archived_at).
    _script(
        db,
        """
        CREATE TABLE battle_pass_progress (
            season TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            xp INTEGER NOT NULL DEFAULT 0 CHECK (xp >= 0 AND typeof(xp) = 'integer'),
            boosts INTEGER NOT NULL DEFAULT 0 CHECK (boosts >= 0),
            premium_at TEXT,
            premium_transaction_id INTEGER REFERENCES transactions(id),
            final_tier INTEGER CHECK (final_tier >= 0),
            archived_at TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (season, user_id),
            CHECK ((premium_at IS NULL) = (premium_transaction_id IS NULL)),
            CHECK ((archived_at IS NULL) = (final_tier IS NULL))
        ) WITHOUT ROWID;

        CREATE TABLE battle_pass_claims (
            season TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            track TEXT NOT NULL CHECK (track IN ('free', 'premium')),
            tier INTEGER NOT NULL CHECK (tier >= 1),
            rewards TEXT NOT NULL,
            transactions TEXT NOT NULL DEFAULT '[]',
            auto INTEGER NOT NULL DEFAULT 0 CHECK (auto IN (0, 1)),
            claimed_at TEXT NOT NULL,
            PRIMARY KEY (season, user_id, track, tier)
        ) WITHOUT ROWID;

        CREATE TABLE battle_pass_seasons (
            season TEXT PRIMARY KEY,
            closed_at TEXT NOT NULL,
            archived_at TEXT,
            users INTEGER,
            rewards_granted INTEGER
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m011_deleted_users(db: Any) -> None:
    # The pseudonyms that replaced deleted users in the ledger and referrals; never the ids.
    _script(
        db,
        """
        CREATE TABLE deleted_users (
            pseudonym TEXT PRIMARY KEY,
            deleted_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    )


@migrations()
def m012_readable_views(db: Any) -> None:
    # Views for people browsing the file (sqlite3, Datasette; docs/datasette.md): the engine
    # never reads them. They join what the normalised tables keep apart: account ids to
    # owners, entries to their transactions, board scores to ranks, unlocks to names.
    _script(
        db,
        """
        CREATE VIEW user_balances AS
        SELECT user_id, currency, balance, held, balance - held AS available,
               lifetime_earned, lifetime_spent, created_at
        FROM accounts WHERE user_id IS NOT NULL;

        CREATE VIEW ledger_lines AS
        SELECT e.transaction_id, t.created_at, t.type, t.currency,
               COALESCE(a.user_id, 'system:' || a.system_name) AS account,
               e.amount, e.balance_before, e.balance_after, t.source, t.description,
               t.reference_type, t.reference_id, t.refund_of, t.idempotency_key
        FROM entries AS e
        JOIN transactions AS t ON t.id = e.transaction_id
        JOIN accounts AS a ON a.id = e.account_id;

        CREATE VIEW leaderboard_lines AS
        SELECT p.board, p.period, p.period_key, p.closed_at IS NOT NULL AS closed,
               RANK() OVER (PARTITION BY s.period_id ORDER BY s.score DESC) AS rank,
               s.user_id, s.score, pr.level, NULL AS movement
        FROM lb_scores AS s
        JOIN lb_periods AS p ON p.id = s.period_id
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
        SELECT u.user_id, u.key, json_extract(d.body, '$.name') AS name,
               json_extract(d.body, '$.tiers[' || u.tier || '].name') AS tier,
               u.seq AS repeat, u.rarity, u.points AS achievement_points, u.unlocked_at,
               u.version
        FROM achievement_unlocks AS u
        LEFT JOIN definitions AS d ON d.kind = 'achievement' AND d.key = u.key
        """,
    )


@migrations()
def m013_xp_award_keys(db: Any) -> None:
    # A keyed award_xp keeps its key in its own log row: the fingerprint of the call's
    # arguments, unique by key. That is one row and one B-tree page fewer per keyed award
    # than a row in idempotency_keys. Older awards' keys stay in idempotency_keys, and the
    # lookup reads both (see idempotency.py), so the key namespace stays one.
    _script(
        db,
        """
        ALTER TABLE xp_awards ADD COLUMN fingerprint BLOB;
        CREATE UNIQUE INDEX xp_awards_by_key ON xp_awards(idempotency_key)
            WHERE fingerprint IS NOT NULL
        """,
    )


@migrations()
def m014_config_versions(db: Any) -> None:
    # The configuration that shapes stored data, one row per version (stored_config.py):
    # every engine on the file runs on the newest row, so processes cannot disagree.
    _script(
        db,
        """
        CREATE TABLE config_versions (
            version INTEGER PRIMARY KEY CHECK (version >= 1),
            format INTEGER NOT NULL,
            body TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            applied_by TEXT NOT NULL
        )
        """,
    )


@migrations()
def m015_achievement_tier_numbers(db: Any) -> None:
    # An unlock row keeps its tier as a number. The number was the tier's place in the current
    # list, so removing or inserting a tier moved earned unlocks onto other tiers. Now each
    # tier name keeps the number it first got, here, for good: a removed tier stays earned and
    # a returning one is not paid again. Existing definitions number their current lists,
    # which is what their unlock rows meant so far.
    _script(
        db,
        """
        CREATE TABLE achievement_tiers (
            key TEXT NOT NULL,
            tier INTEGER NOT NULL CHECK (tier >= 0),
            name TEXT NOT NULL,
            PRIMARY KEY (key, tier),
            UNIQUE (key, name)
        ) WITHOUT ROWID;

        INSERT INTO achievement_tiers (key, tier, name)
        SELECT d.key, CAST(t.key AS INTEGER), json_extract(t.value, '$.name')
        FROM definitions AS d, json_each(d.body, '$.tiers') AS t
        WHERE d.kind = 'achievement';

        DROP VIEW unlocked_achievements;
        CREATE VIEW unlocked_achievements AS
        SELECT u.user_id, u.key, json_extract(d.body, '$.name') AS name, t.name AS tier,
               u.seq AS repeat, u.rarity, u.points AS achievement_points, u.unlocked_at,
               u.version
        FROM achievement_unlocks AS u
        LEFT JOIN definitions AS d ON d.kind = 'achievement' AND d.key = u.key
        LEFT JOIN achievement_tiers AS t ON t.key = u.key AND t.tier = u.tier
        """,
    )


@migrations()
def m016_metric_hours(db: Any) -> None:
    # Per user, event and local hour of the day (the wall clock in the user's zone then): how
    # many and how much. Kept for every event, so a time_of_day achievement loaded later
    # counts the events before it. At most 24 rows per user and event; one upsert per track.
    _script(
        db,
        """
        CREATE TABLE metric_hours (
            user_id TEXT NOT NULL,
            event TEXT NOT NULL,
            hour INTEGER NOT NULL CHECK (hour BETWEEN 0 AND 23),
            count INTEGER NOT NULL DEFAULT 0,
            sum NUMERIC NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, event, hour)
        ) WITHOUT ROWID
        """,
    )
