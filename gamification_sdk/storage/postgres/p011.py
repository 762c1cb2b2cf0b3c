"""Migration p011: the columns of SQLite's m024 on ``lb_log``.

On SQLite the slotted XP board's trigger appends one row per change of a listed profile,
holding its slots before and after (storage/schema/slot_log.py). PostgreSQL keeps no slots,
so it never writes them: the columns are here so that both schemas hold the same tables and
columns (tests/test_postgres_schema.py), and stay NULL.
"""

from __future__ import annotations

__all__ = ["P011"]

_SCORE = "NUMERIC"

P011 = "".join(
    f"ALTER TABLE lb_log ADD COLUMN {name} {kind};\n"
    for name, kind in (
        ("user_was", "TEXT"),
        ("p0_was", "BIGINT"),
        ("p0", "BIGINT"),
        *(
            column
            for slot in range(1, 4)
            for column in (
                (f"p{slot}_was", "BIGINT"),
                (f"s{slot}_was", _SCORE),
                (f"r{slot}_was", "BIGINT"),
                (f"p{slot}", "BIGINT"),
                (f"s{slot}", _SCORE),
                (f"r{slot}", "BIGINT"),
            )
        ),
    )
)
