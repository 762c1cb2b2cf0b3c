"""The SQL PostgreSQL speaks where it differs from SQLite (see storage/backend.py)."""

from __future__ import annotations

from ..backend import Dialect

__all__ = ["POSTGRES"]

POSTGRES = Dialect(
    name="postgresql",
    # The statements keep SQLite's ? and ?N (and :name); the backend's connection rewrites
    # them once per statement for psycopg (placeholders.py).
    paramstyle="qmark",
    # Rows lock as they are written: a write takes no lock on the whole database.
    begin_write="BEGIN",
    without_rowid="",
    integer="BIGINT",
    blob="BYTEA",
    conflict_clauses=False,
    returning=True,
    json_functions=("json_build_array", "->>", "json_array_elements"),
    greatest="GREATEST",
    temp_schema="pg_temp",
)
