"""m024: one change-log row per award of a listed user for the slotted XP board.

Imported after ``keys`` so it applies after m023.
"""

from __future__ import annotations

from typing import Any

from . import migrations
from .script import _script

__all__: list[str] = []

# The columns m024 adds to lb_log, with their SQLite types (storage/board_slots.py's
# SLOT_LOG_COLUMNS names them in order; p011 adds the same on PostgreSQL).
SLOT_LOG_TYPES: tuple[tuple[str, str], ...] = (
    ("user_was", "TEXT"),
    ("p0_was", "INTEGER"),
    ("p0", "INTEGER"),
    *(
        column
        for slot in range(1, 4)
        for column in (
            (f"p{slot}_was", "INTEGER"),
            (f"s{slot}_was", ""),
            (f"r{slot}_was", "INTEGER"),
            (f"p{slot}", "INTEGER"),
            (f"s{slot}", ""),
            (f"r{slot}", "INTEGER"),
        )
    ),
)


@migrations()
def m024_one_log_row_per_slotted_award(db: Any) -> None:
    # The slotted XP board's trigger appended up to eight lb_log rows per change of a listed
    # profile (a period's exit and entry for each of the four slots), four on a plain award:
    # a third of the board's cost per award. It now appends one row holding the profile's
    # slots before and after (period_id 0 marks it), which readers expand.
    _script(
        db,
        "".join(
            f"ALTER TABLE lb_log ADD COLUMN {name}{f' {kind}' if kind else ''};"
            for name, kind in SLOT_LOG_TYPES
        ),
    )
