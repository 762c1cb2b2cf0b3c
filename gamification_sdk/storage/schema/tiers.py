"""Status tiers (m022): each user's tier and requalification date, what they earned towards
it, and every change of tier. Imported after ``upgrades`` so it applies after m020/m021."""

from __future__ import annotations

from typing import Any

from . import migrations
from .script import _script


@migrations()
def m022_status_tiers(db: Any) -> None:
    # due_at is the UTC moment a tier is next looked at (the requalification date's local
    # midnight plus the grace, in the zone the user had when it was set), so the job reads
    # only the rows that are due. best_rank: the highest tier ever held, so a tier's title
    # and items are granted once however often the user falls and climbs back.
    _script(
        db,
        """
        CREATE TABLE tier_status (
            user_id TEXT PRIMARY KEY REFERENCES profiles(user_id),
            tier TEXT,
            rank INTEGER NOT NULL CHECK (rank >= -1),
            best_rank INTEGER NOT NULL CHECK (best_rank >= rank),
            since TEXT,
            requalify_on TEXT,
            due_at TEXT,
            CHECK ((tier IS NULL) = (rank = -1)),
            CHECK ((tier IS NULL) = (requalify_on IS NULL))
        ) WITHOUT ROWID;
        CREATE INDEX tier_status_due ON tier_status(due_at) WHERE due_at IS NOT NULL;
        CREATE INDEX tier_status_board ON tier_status(rank DESC, since, user_id)
            WHERE rank >= 0;

        CREATE TABLE tier_earnings (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            at TEXT NOT NULL,
            amount REAL NOT NULL CHECK (amount > 0)
        );
        CREATE INDEX tier_earnings_by_user ON tier_earnings(user_id, at);

        CREATE TABLE tier_changes (
            user_id TEXT NOT NULL REFERENCES profiles(user_id),
            seq INTEGER NOT NULL CHECK (seq >= 1),
            old_tier TEXT,
            new_tier TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('upgrade', 'downgrade')),
            earned REAL NOT NULL,
            requalify_on TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (user_id, seq)
        ) WITHOUT ROWID
        """,
    )
