"""The Citus layout (storage/postgres/citus.sql) fits the schema it shards: checked statically
on the DDL text and the script, and live on the migrated schema in a server (where plain
PostgreSQL's hash partitioning enforces the same key rule Citus does)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.postgres.schema import DISTRIBUTED, LOCAL, MIGRATIONS, REFERENCE

SCRIPT = Path(__file__).resolve().parent.parent / "gamification_sdk/storage/postgres/citus.sql"
DDL = "\n".join(statements for _, _, statements in MIGRATIONS)
CALL = re.compile(
    r"SELECT (create_reference_table|create_distributed_table|citus_add_local_table_to_metadata)"
    r"\('(\w+)'(?:, '(\w+)')?(?:, colocate_with => '(\w+)')?\);"
)


def tables_in_ddl() -> dict[str, str]:
    """Each CREATE TABLE's body (columns and table constraints) by table name."""
    found = re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);?", DDL, re.S)
    return dict(found)


def keys(body: str) -> list[str]:
    """The column lists of a body's PRIMARY KEY and UNIQUE constraints, inline ones too."""
    lists = re.findall(r"(?:PRIMARY KEY|UNIQUE(?: NULLS NOT DISTINCT)?) \(([^)]*)\)", body)
    lists += [
        m.group(1) for m in re.finditer(r"^\s*(\w+) [^,\n]*?(?:PRIMARY KEY|UNIQUE)\b", body, re.M)
    ]
    return lists


def test_every_table_is_placed_once() -> None:
    created = set(tables_in_ddl())
    placed = [*DISTRIBUTED, *REFERENCE, *LOCAL]
    assert len(placed) == len(set(placed))
    assert set(placed) == created


def test_the_script_places_each_table_as_the_schema_module_says() -> None:
    calls = CALL.findall(SCRIPT.read_text())
    assert len(calls) == len(DISTRIBUTED) + len(REFERENCE) + len(LOCAL)
    seen = {table: (function, column, colocate) for function, table, column, colocate in calls}
    assert len(seen) == len(calls)
    for table in REFERENCE:
        assert seen[table] == ("create_reference_table", "", "")
    for table in LOCAL:
        assert seen[table] == ("citus_add_local_table_to_metadata", "", "")
    for table, column in DISTRIBUTED.items():
        colocate = "" if table == "profiles" else "profiles"
        assert seen[table] == ("create_distributed_table", column, colocate)
    order = [table for _, table, _, _ in calls]
    # Reference tables first, then profiles, which the others reference and colocate with.
    assert order[: len(REFERENCE)] == list(REFERENCE)
    assert order[len(REFERENCE)] == "profiles"


def test_statically_every_distributed_key_includes_the_distribution_column() -> None:
    bodies = tables_in_ddl()
    for table, column in DISTRIBUTED.items():
        for key in keys(bodies[table]):
            assert column in [c.strip() for c in key.split(",")], (table, key)
    for table, columns in re.findall(r"CREATE UNIQUE INDEX \w+ ON (\w+) \(([^)]*)\)", DDL):
        if table in DISTRIBUTED:
            assert DISTRIBUTED[table] in [c.strip() for c in columns.split(",")], table


def test_statically_no_reference_table_points_at_a_distributed_one() -> None:
    bodies = tables_in_ddl()
    for table in (*REFERENCE, *LOCAL):
        for target in re.findall(r"REFERENCES (\w+)", bodies[table]):
            assert target in REFERENCE, (table, target)
    for table, column in DISTRIBUTED.items():
        body = bodies[table]
        for target in re.findall(r"REFERENCES (\w+)", body):
            assert target not in LOCAL, (table, target)
        # A key to another distributed table goes through the distribution column.
        for local, target, remote in re.findall(
            r"FOREIGN KEY \(([^)]*)\) REFERENCES (\w+) \(([^)]*)\)", body
        ):
            if target in DISTRIBUTED:
                assert local.split(",")[0].strip() == column, (table, local)
                assert remote.split(",")[0].strip() == DISTRIBUTED[target], (table, remote)
        for local, target in re.findall(r"^\s*(\w+) [^\n]*REFERENCES (\w+)", body, re.M):
            if target in DISTRIBUTED and local != "FOREIGN":  # an inline column reference
                assert local == column, (table, local, target)


@pytest.fixture
def live(postgres_url: str, pg_schema: str) -> Iterator[psycopg.Connection[object]]:
    open_backend(postgres_url, schema=pg_schema).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {pg_schema}")
        yield conn  # type: ignore[misc]


def test_live_every_unique_index_of_a_distributed_table_includes_its_column(
    live: psycopg.Connection[object],
) -> None:
    found = live.execute(
        "SELECT c.relname, i.indexrelid::regclass::text, "
        "  array(SELECT a.attname FROM pg_attribute AS a WHERE a.attrelid = c.oid "
        "        AND a.attnum = ANY(i.indkey)) "
        "FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid "
        "WHERE i.indisunique AND c.relnamespace = current_schema()::regnamespace"
    ).fetchall()
    checked = 0
    for table, index, columns in found:  # type: ignore[misc]
        if table in DISTRIBUTED:
            assert DISTRIBUTED[table] in columns, (table, index, columns)
            checked += 1
    assert checked >= len(DISTRIBUTED)


def test_live_distribution_columns_are_not_null(live: psycopg.Connection[object]) -> None:
    for table, column in DISTRIBUTED.items():
        row = live.execute(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            (table, column),
        ).fetchone()
        assert row == (True,), table


def test_live_foreign_keys_fit_the_layout(live: psycopg.Connection[object]) -> None:
    keys = live.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text, "
        "  array(SELECT attname FROM pg_attribute WHERE attrelid = conrelid "
        "        AND attnum = conkey[1]), "
        "  array(SELECT attname FROM pg_attribute WHERE attrelid = confrelid "
        "        AND attnum = confkey[1]) "
        "FROM pg_constraint WHERE contype = 'f' "
        "AND connamespace = current_schema()::regnamespace"
    ).fetchall()
    assert keys
    for source, target, (first,), (target_first,) in keys:  # type: ignore[misc]
        if source in REFERENCE or source in LOCAL:
            assert target in REFERENCE, (source, target)
        elif target in DISTRIBUTED:
            assert (first, target_first) == (DISTRIBUTED[source], DISTRIBUTED[target])
        else:
            assert target in REFERENCE, (source, target)


def test_live_hash_partitioning_by_the_column_accepts_every_distributed_table(
    live: psycopg.Connection[object],
) -> None:
    """PostgreSQL refuses a unique key of a partitioned table that leaves out the partition
    column, the rule Citus applies to distributed tables: a clone of each table partitioned
    by hash of its distribution column, with all its keys and indexes, must be accepted."""
    control = "CREATE TEMP TABLE control (a TEXT, b TEXT, UNIQUE (b)) PARTITION BY HASH (a)"
    with pytest.raises(psycopg.errors.FeatureNotSupported), live.transaction():
        live.execute(control)  # the control: the rule bites
    for table, column in DISTRIBUTED.items():
        with live.transaction():
            live.execute(
                f"CREATE TEMP TABLE clone_{table} (LIKE {table} INCLUDING ALL) "
                f"PARTITION BY HASH ({column})"
            )
            live.execute(f"DROP TABLE clone_{table}")


def test_live_the_script_runs_against_the_schema(
    live: psycopg.Connection[object], pg_schema: str
) -> None:
    """Citus's functions stood in for by recorders that check each table and column exist."""
    fakes = f"{pg_schema}_citus"
    script = SCRIPT.read_text().replace(
        "SET search_path TO gamification;", f"SET search_path TO {pg_schema}, {fakes};"
    )
    try:
        live.execute(f"CREATE SCHEMA {fakes}")
        live.execute(f"CREATE TABLE {fakes}.calls (fn TEXT, tbl TEXT, col TEXT)")
        live.execute(
            f"CREATE FUNCTION {fakes}.create_reference_table(table_name regclass) RETURNS void "
            f"LANGUAGE sql AS $$ INSERT INTO {fakes}.calls VALUES "
            "('reference', table_name::text, NULL) $$"
        )
        live.execute(
            f"CREATE FUNCTION {fakes}.citus_add_local_table_to_metadata(table_name regclass) "
            f"RETURNS void LANGUAGE sql AS $$ INSERT INTO {fakes}.calls VALUES "
            "('local', table_name::text, NULL) $$"
        )
        live.execute(
            f"CREATE FUNCTION {fakes}.create_distributed_table(table_name regclass, "
            "distribution_column text, distribution_type text DEFAULT 'hash', "
            f"colocate_with text DEFAULT 'default') RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
            "PERFORM 1 FROM pg_attribute WHERE attrelid = table_name "
            "  AND attname = distribution_column AND attnotnull; "
            "IF NOT FOUND THEN RAISE 'no column % in %', distribution_column, table_name; "
            "END IF; "
            "IF colocate_with <> 'default' THEN PERFORM colocate_with::regclass; END IF; "
            f"INSERT INTO {fakes}.calls VALUES ('distributed', table_name::text, "
            "distribution_column); END $$"
        )
        live.execute(script)
        calls = live.execute(f"SELECT fn, tbl, col FROM {fakes}.calls").fetchall()
    finally:
        live.execute(f"DROP SCHEMA IF EXISTS {fakes} CASCADE")
    assert sorted(calls) == sorted(  # type: ignore[type-var]
        [("reference", table, None) for table in REFERENCE]
        + [("local", table, None) for table in LOCAL]
        + [("distributed", table, column) for table, column in DISTRIBUTED.items()]
    )


# Every trigger of the schema's tables, with its function's language and body.
_TRIGGERS = (
    "SELECT c.relname, t.tgname, l.lanname, p.prosrc FROM pg_trigger AS t "
    "JOIN pg_class AS c ON c.oid = t.tgrelid JOIN pg_proc AS p ON p.oid = t.tgfoid "
    "JOIN pg_language AS l ON l.oid = p.prolang "
    "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace "
    "ORDER BY c.relname, t.tgname"
)
_WRITES = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+(?:ONLY\s+)?([\w.\"]+)", re.I
)


def triggers_writing_elsewhere(conn: psycopg.Connection[object]) -> list[tuple[str, str, str]]:
    """``(table, trigger, what it writes)`` for each trigger on a distributed table whose
    function writes another table, or that cannot be read for it (dynamic SQL, a language
    other than SQL or PL/pgSQL). Citus runs such a trigger on a worker's shard, where the
    other table (a local or differently sharded one) cannot be written."""
    found = []
    for table, name, language, source in conn.execute(_TRIGGERS).fetchall():  # type: ignore[misc]
        if table not in DISTRIBUTED:
            continue
        others = sorted({t.strip('"').split(".")[-1] for t in _WRITES.findall(source)} - {table})
        if language not in ("sql", "plpgsql") or re.search(r"\bEXECUTE\b", source, re.I):
            others.append(f"unreadable ({language})")
        if others:
            found.append((table, name, ", ".join(others)))
    return found


def test_live_no_trigger_on_a_distributed_table_writes_another_table(
    live: psycopg.Connection[object],
) -> None:
    """The boards' log is written by the statements (storage/postgres/board_log.py, p010),
    not by triggers on the sharded lb_scores."""
    assert triggers_writing_elsewhere(live) == []


def test_live_the_trigger_check_finds_the_triggers_p006_made(
    live: psycopg.Connection[object],
) -> None:
    """The check above can fail: p006's triggers, made again, are what it reports."""
    from gamification_sdk.storage.postgres.p006 import P006

    with pytest.raises(Rollback), live.transaction():
        live.execute(P006)
        assert triggers_writing_elsewhere(live) == [
            ("lb_scores", "lb_log_insert", "lb_log"),
            ("lb_scores", "lb_log_update", "lb_log"),
        ]
        raise Rollback
    assert triggers_writing_elsewhere(live) == []


class Rollback(Exception):
    pass
