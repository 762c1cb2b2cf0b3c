"""Migration p005: the progress of ``gamification migrate`` (copying a SQLite file into this
schema, storage/postgres/copy.py), and no key from a lot to its transaction.

``copy_progress`` holds one row per copied table (its last copied key, committed with each
batch, so an interrupted copy resumes where it stopped) and a row named ``''`` for the copy as
a whole: which file it comes from and when it finished. It stays on the coordinator (Citus).

A lot received by a transfer is the receiver's, opened by the sender's transaction, which
lives on the sender's shard: ``point_lots (user_id, transaction_id)`` cannot be a foreign key
there, as a key to another user's row (``friends.friend_id``) is not one.
"""

from __future__ import annotations

__all__ = ["P005"]

P005 = """
ALTER TABLE point_lots DROP CONSTRAINT point_lots_user_id_transaction_id_fkey;

CREATE TABLE copy_progress (
    tbl TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    last_key TEXT,
    copied BIGINT NOT NULL DEFAULT 0 CHECK (copied >= 0),
    started_at TEXT NOT NULL,
    finished_at TEXT
);
"""
