"""SQLite's placeholders in psycopg's form, so ``storage/`` writes each statement once.

The statements use SQLite's forms: ``?`` in order, ``?N`` for a parameter read more than
once, and ``:name`` with a mapping. psycopg takes ``%s`` in order and ``%(name)s``, and reads
every other ``%`` as the start of one. ``translate`` rewrites a statement once (cached by
its text) and says which parameter each ``%s`` takes, so ``?1 ... ?1`` binds the same value
twice. Quoted strings, quoted names and comments are copied as they are, but for ``%``,
which psycopg reads everywhere.
"""

from __future__ import annotations

__all__ = ["Translated", "bind", "translate"]

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple


class Translated(NamedTuple):
    """A statement in psycopg's form; ``order[i]`` is the 0-based parameter the i-th ``%s``
    takes (None: the parameters go as they are, in order or by name)."""

    sql: str
    order: tuple[int, ...] | None


@lru_cache(maxsize=4096)
def translate(statement: str, named: bool) -> Translated:
    """``statement`` with ``?``/``?N`` (or ``:name`` when ``named``) as psycopg placeholders."""
    out: list[str] = []
    order: list[int] = []
    numbered = False
    highest = 0
    i, n = 0, len(statement)
    while i < n:
        char = statement[i]
        if char in "'\"":
            end = statement.find(char, i + 1)
            while end != -1 and end + 1 < n and statement[end + 1] == char:
                end = statement.find(char, end + 2)  # a doubled quote stays inside
            end = n if end == -1 else end + 1
            out.append(statement[i:end].replace("%", "%%"))
            i = end
        elif statement.startswith("--", i):
            end = statement.find("\n", i)
            end = n if end == -1 else end
            out.append(statement[i:end].replace("%", "%%"))
            i = end
        elif statement.startswith("/*", i):
            end = statement.find("*/", i + 2)
            end = n if end == -1 else end + 2
            out.append(statement[i:end].replace("%", "%%"))
            i = end
        elif char == "%":
            out.append("%%")
            i += 1
        elif char == "?" and not named:
            j = i + 1
            while j < n and statement[j].isdigit():
                j += 1
            if j > i + 1:
                number = int(statement[i + 1 : j])
                numbered = True
            else:
                number = highest + 1  # SQLite: a bare ? follows the largest number yet
            highest = max(highest, number)
            order.append(number - 1)
            out.append("%s")
            i = j
        elif char == ":" and named and i + 1 < n and statement[i + 1] == ":":
            out.append("::")  # a PostgreSQL cast, not a name
            i += 2
        elif char == ":" and named and i + 1 < n and _starts_name(statement[i + 1]):
            j = i + 1
            while j < n and (statement[j].isalnum() or statement[j] == "_"):
                j += 1
            out.append(f"%({statement[i + 1 : j]})s")
            i = j
        else:
            out.append(char)
            i += 1
    in_order = not numbered and order == list(range(len(order)))
    return Translated("".join(out), None if named or in_order else tuple(order))


def _starts_name(char: str) -> bool:
    return char.isalpha() or char == "_"


def bind(statement: str, parameters: Any) -> tuple[str, Any]:
    """The statement and parameters to give psycopg for SQLite-style ``statement``."""
    if parameters is None:
        return statement, None  # psycopg reads no placeholder, and no %, without them
    named = isinstance(parameters, Mapping)
    translated = translate(statement, named)
    if translated.order is None:
        return translated.sql, parameters
    values: Sequence[Any] = parameters
    return translated.sql, [values[index] for index in translated.order]
