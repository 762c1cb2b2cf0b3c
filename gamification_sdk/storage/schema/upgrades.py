"""Migrations m012 on: readable views, keys in the XP log, stored configuration, tier numbers,
hour counts (m016, moved into the metric rows by m018), keys in ledger transactions, the board
change log, the XP board in the profile row. Append new migrations here (or in a new module
imported last)."""

from __future__ import annotations

from typing import Any

from . import migrations
from .script import _script


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


@migrations()
def m017_ledger_keys(db: Any) -> None:
    # A keyed ledger write (award, spend, transfer, adjust, refund) keeps its key in its own
    # transaction row, as keyed award_xp does in its log row (m013): the operation and the
    # fingerprint of the call's arguments next to the ``call:<key>`` the row already holds,
    # unique by the existing UNIQUE on idempotency_key. That is one row and one B-tree page
    # fewer per keyed write than a row in idempotency_keys. Older writes' keys stay in
    # idempotency_keys, and the lookup reads both, so the key namespace stays one.
    _script(
        db,
        """
        ALTER TABLE transactions ADD COLUMN operation TEXT;
        ALTER TABLE transactions ADD COLUMN fingerprint BLOB
        """,
    )


@migrations()
def m018_hours_in_metrics(db: Any) -> None:
    # The hour counts of m016 move into the metric's own row, 24 count and 24 sum columns: the
    # upsert that counts the event counts its hour too, so track() runs one statement fewer
    # and dirties no extra B-tree page per commit (the separate table cost ~10% of a track).
    # Columns added with a constant default rewrite no row; an hour nobody used stays 0 and
    # costs one header byte. ``metric_hours`` stays readable as a view with the same columns
    # and rows (an hour appears once it has an event), for people and older queries.
    hours = range(24)  # h07_count and h07_sum: 07:00-07:59 on the user's wall clock
    for hour in hours:
        db.execute(f"ALTER TABLE metrics ADD COLUMN h{hour:02d}_count INTEGER NOT NULL DEFAULT 0")
        db.execute(f"ALTER TABLE metrics ADD COLUMN h{hour:02d}_sum NUMERIC NOT NULL DEFAULT 0")
    # One pass: each metric row with hours is rewritten once, all its hours pivoted into it.
    # Every hour row has its metric row: track() wrote both in one transaction, and erasing a
    # user deleted both.
    sets = ", ".join(f"h{h:02d}_count = p.c{h:02d}, h{h:02d}_sum = p.s{h:02d}" for h in hours)
    pivot = ", ".join(
        f"COALESCE(SUM(count) FILTER (WHERE hour = {h}), 0) AS c{h:02d}, "
        f"COALESCE(SUM(sum) FILTER (WHERE hour = {h}), 0) AS s{h:02d}"
        for h in hours
    )
    db.execute(
        f"UPDATE metrics SET {sets} FROM (SELECT user_id, event, {pivot} FROM metric_hours "
        "GROUP BY user_id, event) AS p WHERE p.user_id = metrics.user_id "
        "AND p.event = metrics.metric"
    )
    db.execute("DROP TABLE metric_hours")
    branches = " UNION ALL ".join(
        f"SELECT user_id, metric AS event, {hour} AS hour, h{hour:02d}_count AS count, "
        f"h{hour:02d}_sum AS sum FROM metrics WHERE h{hour:02d}_count > 0"
        for hour in hours
    )
    db.execute(f"CREATE VIEW metric_hours AS {branches}")


@migrations()
def m019_board_change_log(db: Any) -> None:
    # Board order moves out of the file and into each process's memory (social/boards.py):
    # an award now writes its score rows (one page, clustered by user) and appends change
    # rows to lb_log, which every process reads from its last position before a read. The
    # blocks, the split queue and the order index (and the row columns that placed a user
    # in a block) go: they made every award rewrite counts and index entries at random
    # places in the file.
    _script(
        db,
        """
        DROP INDEX lb_members;
        DROP TABLE lb_blocks;
        DROP TABLE lb_split_queue;
        ALTER TABLE lb_scores DROP COLUMN blk;
        ALTER TABLE lb_scores DROP COLUMN blk_hi;
        ALTER TABLE lb_scores DROP COLUMN entered;

        CREATE TABLE lb_log (
            seq INTEGER PRIMARY KEY,
            period_id INTEGER NOT NULL,
            user_id TEXT,
            old_score,
            old_reached INTEGER,
            old_listed INTEGER,
            score,
            reached INTEGER,
            listed INTEGER
        )
        """,
    )


@migrations()
def m020_xp_board_slots(db: Any) -> None:
    # One XP board keeps its current periods' scores in the profile row, which every XP
    # award rewrites anyway (social/board_slots.py): an award then dirties no page for the
    # board. Slot 0 is the all-time period, whose score is xp itself; slots 1-3 hold one
    # periodic period each. Which board, and the move of its rows out of lb_scores, is the
    # engine's to decide at setup (the file does not know the configuration). lb_live is
    # every live score wherever it is kept; leaderboard_lines reads it.
    slots = "".join(
        f"ALTER TABLE profiles ADD COLUMN lb_p{i} INTEGER;"
        + ("" if i == 0 else f"ALTER TABLE profiles ADD COLUMN lb_s{i};")
        + f"ALTER TABLE profiles ADD COLUMN lb_r{i} INTEGER;"
        for i in range(4)
    )
    listed = (
        "(COALESCE(visibility, (SELECT json_extract(value, '$[0]') FROM lb_settings "
        "WHERE name = 'defaults')) = 'public' AND COALESCE(show_on_global, "
        "(SELECT json_extract(value, '$[1]') FROM lb_settings WHERE name = 'defaults')))"
    )
    live = " UNION ALL ".join(
        f"SELECT user_id, lb_p{i} AS period_id, {'xp' if i == 0 else f'lb_s{i}'} AS score, "
        f"lb_r{i} AS reached, {listed} AS listed FROM profiles WHERE lb_p{i} IS NOT NULL"
        for i in range(4)
    )
    _script(
        db,
        slots
        + f"""
        CREATE VIEW lb_live AS
        SELECT user_id, period_id, score, reached, listed FROM lb_scores
        UNION ALL {live};

        DROP VIEW leaderboard_lines;
        CREATE VIEW leaderboard_lines AS
        SELECT p.board, p.period, p.period_key, 0 AS closed,
               RANK() OVER (PARTITION BY s.period_id ORDER BY s.score DESC) AS rank,
               s.user_id, s.score, pr.level, NULL AS movement
        FROM lb_live AS s
        JOIN lb_periods AS p ON p.id = s.period_id AND p.closed_at IS NULL
        LEFT JOIN profiles AS pr ON pr.user_id = s.user_id
        WHERE s.listed = 1
        UNION ALL
        SELECT p.board, p.period, p.period_key, 1, r.rank, r.user_id, r.score, pr.level,
               r.movement
        FROM lb_archive AS r
        JOIN lb_periods AS p ON p.id = r.period_id
        LEFT JOIN profiles AS pr ON pr.user_id = r.user_id
        WHERE r.listed = 1
        """,
    )
