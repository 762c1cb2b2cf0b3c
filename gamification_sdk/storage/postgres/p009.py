"""Migration p009: idempotency keys by age, for the ``expire_keys`` job (SQLite's m023).

The job reads the oldest keys first, a chunk at a time, resuming after the last
(created_at, user_id, key) it saw: the index holds all three, so it alone serves that order.
"""

from __future__ import annotations

__all__ = ["P009"]

P009 = """
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at, user_id, key);
"""
