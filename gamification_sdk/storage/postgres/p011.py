"""Migration p011: the columns of SQLite's m024 on ``lb_log``.

On SQLite the slotted XP board's trigger appends one row per change of a listed profile,
holding its slots before and after (storage/schema/slot_log.py). PostgreSQL keeps no slots,
so it never writes them: the columns are here so that both schemas hold the same tables and
columns (tests/test_postgres_schema.py), and stay NULL.
"""

from __future__ import annotations

from ..schema.slot_log import SLOT_LOG_TYPES

__all__ = ["P011"]

# SQLite's declared type -> PostgreSQL's (a score column has none on SQLite).
_TYPES = {"TEXT": "TEXT", "INTEGER": "BIGINT", "": "NUMERIC"}

P011 = "".join(
    f"ALTER TABLE lb_log ADD COLUMN {name} {_TYPES[kind]};\n" for name, kind in SLOT_LOG_TYPES
)
