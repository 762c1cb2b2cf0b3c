"""Running a migration's SQL script statement by statement, inside the migration's
transaction (``executescript`` would commit it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

__all__ = ["_script", "_statements"]


def _statements(sql: str) -> Iterator[str]:
    """The statements of ``sql``, each whole: a ``;`` in a literal, a quoted name, a comment
    or a trigger's ``BEGIN ... END`` body does not end one (``sqlite3.complete_statement``
    decides, with SQLite's own tokenizer)."""
    pieces = sql.split(";")
    statement = ""
    for piece in pieces[:-1]:
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement[:-1].strip():
                yield statement
            statement = ""
    statement += pieces[-1]
    if statement.strip():
        yield statement  # the last statement needs no ";"; an unfinished one fails to run


def _script(db: Any, sql: str) -> None:
    # executescript() would COMMIT the surrounding transaction (the migration's and the
    # engine's), so a failure could leave a half-applied migration: run statement by statement.
    for statement in _statements(sql):
        db.execute(statement)
