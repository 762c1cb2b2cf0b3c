"""Migration p003: the status tiers of SQLite's m022 (storage/schema/tiers.py), each table keyed
by ``user_id`` first so a user's tier, earnings and changes live on their shard (Citus)."""

from __future__ import annotations

__all__ = ["P003"]

P003 = """
CREATE TABLE tier_status (
    user_id TEXT PRIMARY KEY REFERENCES profiles (user_id),
    tier TEXT,
    rank BIGINT NOT NULL CHECK (rank >= -1),
    best_rank BIGINT NOT NULL CHECK (best_rank >= rank),
    since TEXT,
    requalify_on TEXT,
    due_at TEXT,
    CHECK ((tier IS NULL) = (rank = -1)),
    CHECK ((tier IS NULL) = (requalify_on IS NULL))
);
CREATE INDEX tier_status_due ON tier_status (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX tier_status_board ON tier_status (rank DESC, since, user_id) WHERE rank >= 0;

CREATE TABLE tier_earnings (
    user_id TEXT NOT NULL REFERENCES profiles (user_id),
    at TEXT NOT NULL,
    amount NUMERIC NOT NULL CHECK (amount > 0)
);
CREATE INDEX tier_earnings_by_user ON tier_earnings (user_id, at);

CREATE TABLE tier_changes (
    user_id TEXT NOT NULL REFERENCES profiles (user_id),
    seq BIGINT NOT NULL CHECK (seq >= 1),
    old_tier TEXT,
    new_tier TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('upgrade', 'downgrade')),
    earned NUMERIC NOT NULL,
    requalify_on TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
"""
