"""Migration p010: the boards' change log is written by the statements, not by triggers.

p006's triggers on ``lb_scores`` appended to ``lb_log``. Under Citus ``lb_scores`` is sharded
by user and ``lb_log`` stays on the coordinator, where a trigger firing on a worker's shard
cannot write. Each statement that changes ``lb_scores`` now appends its own log rows
(board_log.py), so the triggers go: left in place, every change would be logged twice.

An app server of an earlier version still relies on the triggers: once this has run, its
board changes are not logged, so every server of a schema moves to this version together.
"""

from __future__ import annotations

__all__ = ["P010"]

P010 = """
DROP TRIGGER IF EXISTS lb_log_insert ON lb_scores;
DROP TRIGGER IF EXISTS lb_log_update ON lb_scores;
DROP FUNCTION IF EXISTS lb_log_change();
"""
