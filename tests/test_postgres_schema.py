"""The PostgreSQL schema (storage/postgres/schema.py) holds every table and column of the SQLite
schema (storage/schema/), plus the ``user_id`` columns Citus needs. A SQLite migration that
adds a table or column fails here until the PostgreSQL schema gains a migration for it."""

from __future__ import annotations

import re

import psycopg
import sqlite_utils

from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.postgres.schema import MIGRATIONS
from gamification_sdk.storage.schema import migrations

# Columns only the PostgreSQL schema has, and why.
ADDED = {
    "idempotency_keys": {"user_id"},  # keys are unique per user: Citus shards by user
    "entries": {"user_id"},  # a ledger line lives on its transaction's shard
    "lot_uses": {"user_id"},  # a lot's use and hold live on the lot's shard
    "lot_holds": {"user_id"},
    "lb_log": {"tx"},  # the writing transaction's id: readers take rows in commit order
}
# Tables only the PostgreSQL schema has: the progress of a copy from a SQLite file (p005).
ONLY_POSTGRES = {"copy_progress"}
CONSTRAINT = re.compile(r"(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY|CONSTRAINT)\b")


def sqlite_columns() -> dict[str, set[str]]:
    db = sqlite_utils.Database(memory=True)
    migrations.apply(db)
    tables = [
        row[0]
        for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not row[0].startswith(("_", "sqlite_"))
    ]
    return {
        table: {row[1] for row in db.execute(f"PRAGMA table_info({table})")} for table in tables
    }


def ddl_columns() -> dict[str, set[str]]:
    ddl = "\n".join(statements for _, _, statements in MIGRATIONS)
    columns: dict[str, set[str]] = {}
    for table, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);?", ddl, re.S):
        names = columns.setdefault(table, set())
        for line in body.splitlines():
            found = re.match(r"    (\w+) ", line)  # a column starts a line, indented once
            if found and not CONSTRAINT.match(line.strip()):
                names.add(found.group(1))
    for table, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+) ", ddl):
        columns[table].add(column)
    return columns


def test_every_sqlite_table_and_column_has_its_postgresql_counterpart() -> None:
    sqlite, postgres = sqlite_columns(), ddl_columns()
    assert set(postgres) - ONLY_POSTGRES == set(sqlite), "tables differ: add a PostgreSQL migration"
    for table, names in sqlite.items():
        assert postgres[table] == names | ADDED.get(table, set()), table


def test_the_parsed_columns_are_the_live_ones(postgres_url: str, pg_schema: str) -> None:
    open_backend(postgres_url, schema=pg_schema).close()
    with psycopg.connect(postgres_url) as conn:
        live: dict[str, set[str]] = {}
        for table, column in conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns AS c "
            "JOIN information_schema.tables AS t USING (table_schema, table_name) "
            "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' "
            "AND c.table_name <> 'schema_migrations'",
            (pg_schema,),
        ):
            live.setdefault(table, set()).add(column)
    assert live == ddl_columns()


def test_each_postgresql_view_has_the_columns_of_the_sqlite_one(
    postgres_url: str, pg_schema: str
) -> None:
    open_backend(postgres_url, schema=pg_schema).close()
    with psycopg.connect(postgres_url) as conn:
        views: dict[str, list[str]] = {}
        for view, column in conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns AS c "
            "JOIN information_schema.tables AS t USING (table_schema, table_name) "
            "WHERE c.table_schema = %s AND t.table_type = 'VIEW' ORDER BY c.ordinal_position",
            (pg_schema,),
        ):
            views.setdefault(view, []).append(column)
    db = sqlite_utils.Database(memory=True)
    migrations.apply(db)
    assert "metric_hours" in views
    for view, columns in views.items():
        assert columns == [row[1] for row in db.execute(f"PRAGMA table_info({view})")], view


def test_migrations_are_numbered_in_order_once() -> None:
    numbers = [number for number, _, _ in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len({name for _, name, _ in MIGRATIONS}) == len(numbers)
