"""Writes nest on PostgreSQL as on SQLite: random programs of nested savepoints, light frames,
failures and dooms leave the same rows and raise the same errors on both backends (a
property test; failing *statements* differ by design, see storage/postgres/backend.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk.errors import BatchAborted
from gamification_sdk.storage.backend import Backend
from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.store import Store

Op = tuple[Any, ...]

ops: st.SearchStrategy[list[Op]] = st.recursive(
    st.lists(st.sampled_from([("insert",), ("doom",), ("emit",)]), max_size=3),
    lambda inner: st.lists(
        st.one_of(
            st.sampled_from([("insert",), ("emit",)]),
            st.tuples(st.sampled_from(["savepoint", "frame"]), inner, st.booleans()),
        ),
        max_size=4,
    ),
    max_leaves=10,
)
programs = st.lists(st.tuples(ops, st.booleans()), min_size=1, max_size=4)


class Failed(Exception):
    """The failure a program raises on purpose."""


def run(backend: Backend, program: list[tuple[list[Op], bool]]) -> tuple[list[str], list[int]]:
    """Each step is one outermost write; the outcomes and the rows left."""
    insert = "INSERT INTO t (n) VALUES (?)"  # one text for both: the PostgreSQL one rewrites it
    counter = itertools.count(1)

    def body(steps: list[Op]) -> None:
        for step in steps:
            if step[0] == "insert":
                backend.conn.execute(insert, (next(counter),))
            elif step[0] == "emit":
                tx = backend.current
                assert tx is not None
                tx.emit("step")
            elif step[0] == "doom":
                backend.doom(Failed("doomed"))
            else:
                kind, inner, fail = step
                try:
                    with backend.write(savepoint=kind == "savepoint"):
                        body(inner)
                        if fail:
                            raise Failed("nested")
                except Failed:
                    pass

    outcomes: list[str] = []
    for steps, fail in program:
        try:
            with backend.write() as tx:
                body(steps)
                if fail:
                    raise Failed("outermost")
            outcomes.append(f"committed {len(tx.events)} events")
        except (Failed, BatchAborted) as exc:
            outcomes.append(type(exc).__name__)
    with backend.read() as conn:
        left = [row[0] for row in conn.execute("SELECT n FROM t ORDER BY n")]
    return outcomes, left


@pytest.fixture
def postgres(postgres_url: str, pg_schema: str) -> Iterator[Backend]:
    backend = open_backend(postgres_url, schema=pg_schema)
    with backend.write():
        backend.conn.execute("CREATE TABLE t (n BIGINT PRIMARY KEY)")
    yield backend
    backend.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(program=programs)
def test_nested_writes_end_alike_on_both_backends(
    postgres: Backend, program: list[tuple[list[Op], bool]]
) -> None:
    sqlite = Store(":memory:")
    try:
        with sqlite.write():
            sqlite.conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        expected = run(sqlite, program)
    finally:
        sqlite.close()
    with postgres.write():
        postgres.conn.execute("DELETE FROM t")
    assert run(postgres, program) == expected
