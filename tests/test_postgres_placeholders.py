"""SQLite's placeholders rewritten for psycopg (storage/postgres/placeholders.py): the same
statement text and parameters give the same values on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk.storage.postgres.placeholders import Translated, bind, translate

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")


def test_the_forms() -> None:
    assert translate("SELECT ? + ?", False) == Translated("SELECT %s + %s", None)
    assert translate("SELECT ?1, ?2, ?1", False) == Translated("SELECT %s, %s, %s", (0, 1, 0))
    assert translate("SELECT ?2, ?", False) == Translated("SELECT %s, %s", (1, 2))
    assert translate("SELECT '?', \"a?\", ? -- ?\n", False).sql == ("SELECT '?', \"a?\", %s -- ?\n")
    assert translate("SELECT 'it''s ?', ?", False).sql == "SELECT 'it''s ?', %s"
    assert translate("SELECT /* ? */ '5%' || ?", False).sql == "SELECT /* ? */ '5%%' || %s"
    assert translate("SELECT 10 % ?", False).sql == "SELECT 10 %% %s"
    assert translate("SELECT :a, :b_2, x::bigint, ':c'", True).sql == (
        "SELECT %(a)s, %(b_2)s, x::bigint, ':c'"
    )


def test_binding_puts_each_value_where_sqlite_would() -> None:
    assert bind("SELECT ?1, ?1", ("x",)) == ("SELECT %s, %s", ["x", "x"])
    assert bind("SELECT ?, ?", (1, 2)) == ("SELECT %s, %s", (1, 2))
    assert bind("SELECT :who", {"who": "ada"}) == ("SELECT %(who)s", {"who": "ada"})
    assert bind("SELECT '100%'", None) == ("SELECT '100%'", None)


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[Any]:
    from gamification_sdk.storage.postgres.session import Connection

    raw = psycopg.connect(postgres_url, autocommit=True)
    yield Connection(raw)
    raw.close()


literals = st.text(alphabet="ab?%'\":-*/1 ", max_size=6)
Part = tuple[str, Any]


@st.composite
def statements(draw: st.DrawFn) -> tuple[str, list[Any], list[str]]:
    """A SELECT of columns, each a literal (with quotes, ?, %, comment marks inside) or a
    placeholder in one of SQLite's forms; its parameters; what SQLite returns for it."""
    params = draw(st.lists(st.integers(-1000, 1000), min_size=6, max_size=6))
    columns: list[str] = []
    numbered = draw(st.booleans())
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            text = draw(literals)
            columns.append("'" + text.replace("'", "''") + "'")
        elif numbered:
            columns.append(f"CAST(?{draw(st.integers(1, len(params)))} AS TEXT)")
        else:
            columns.append("CAST(? AS TEXT)")
    # SQLite wants exactly as many values as the highest number it reads.
    highest = max(
        (int(c[6:].split(" ")[0]) for c in columns if c.startswith("CAST(?") and c[6].isdigit()),
        default=0,
    )
    used = sum(column.startswith("CAST") for column in columns)
    params = params[:highest] if numbered else params[:used]
    statement = "SELECT " + ", ".join(columns)
    if draw(st.booleans()):
        statement += " -- ? % '\n"
    with sqlite3.connect(":memory:") as conn:
        row = conn.execute(statement, params).fetchone()
    return statement, params, [str(value) for value in row]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=statements())
def test_postgresql_returns_what_sqlite_returns(pg: Any, case: Any) -> None:
    statement, params, expected = case
    row = pg.execute(statement, params).fetchone()
    assert [str(value) for value in row] == expected


def test_named_parameters_and_executemany(pg: Any) -> None:
    assert pg.execute("SELECT :a::int + :b::int, :a::text || '%'", {"a": 2, "b": 3}).fetchone() == (
        5,
        "2%",
    )
    pg.execute("CREATE TEMP TABLE pairs (a BIGINT, b BIGINT)")
    pg.executemany("INSERT INTO pairs VALUES (?2, ?1)", [(1, 10), (2, 20)])
    pg.executemany("INSERT INTO pairs VALUES (?, ?)", [(3, 30)])
    pg.executemany("INSERT INTO pairs VALUES (:x, :y)", [{"x": 4, "y": 40}])
    pg.executemany("INSERT INTO pairs VALUES (?, ?)", [])
    assert pg.execute("SELECT a, b FROM pairs ORDER BY b").fetchall() == [
        (10, 1),
        (20, 2),
        (3, 30),
        (4, 40),
    ]
