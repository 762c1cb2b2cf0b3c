"""Migrations m007-m011: leaderboards, referrals, the shop, the battle pass, deleted users."""

from __future__ import annotations

import re
from typing import Any

from . import migrations
from .script import _script


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
