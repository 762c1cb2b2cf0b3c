"""Migration p004: ``lb_log`` rows carry the id of the transaction that wrote them, so a
reader can take them in commit order (storage/postgres/changelog.py)."""

from __future__ import annotations

__all__ = ["P004"]

# pg_current_xact_id() is the top-level transaction's id, also inside a savepoint: a row
# becomes visible when that transaction commits. The index serves the readers' range scan.
P004 = """
ALTER TABLE lb_log ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX lb_log_tx ON lb_log (tx);
"""
