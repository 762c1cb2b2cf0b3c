"""``gamification migrate`` refuses, as typed errors, what it cannot copy: a missing file, one
that is not an engine's database, one migrated further or not as far, a schema that differs,
a schema holding other data, a second copy at once, bad URLs, no driver. Nothing is written:
no schema is created, a schema there is left as it was."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import sys
from pathlib import Path

import psycopg
import pytest
from pg_copy_data import dump, new_schema, rich_file, rows, schema_names, schema_state  # noqa: F401  (fixtures: rich, schemas)

from gamification_sdk import Gamification
from gamification_sdk.errors import (
    CopySourceInvalid,
    CopyTargetInUse,
    DatabaseUrlInvalid,
    DriverMissing,
    GamificationError,
    SchemaMismatch,
    SchemaOccupied,
    SchemaTooNew,
)
from gamification_sdk.storage.postgres import check_copy, copy_sqlite, open_backend
from gamification_sdk.storage.postgres import copy as copy_module


@pytest.mark.parametrize("kind", ["missing", "directory", "not sqlite", "not ours", "older"])
def test_a_file_that_cannot_be_copied_is_refused(
    kind: str, tmp_path: Path, postgres_url: str, schemas: list[str], rich: Path
) -> None:
    schema = new_schema(schemas)
    path = tmp_path / "x.db"
    if kind == "directory":
        path.mkdir()
    elif kind == "not sqlite":
        path.write_bytes(b"definitely not a database" * 100)
    elif kind == "not ours":
        sqlite3.connect(path).execute("CREATE TABLE notes (body TEXT)").connection.commit()
    elif kind == "older":
        shutil.copy(rich, path)
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm022_status_tiers'")
    with pytest.raises(CopySourceInvalid) as caught:
        copy_sqlite(path, postgres_url, schema=schema)
    assert caught.value.field == "source"
    assert schema_state(postgres_url, schema) is None


def test_a_row_postgresql_refuses_stops_the_copy_by_name_and_resumes_once_fixed(
    tmp_path: Path, postgres_url: str, schemas: list[str], rich: Path
) -> None:
    schema = new_schema(schemas)
    path = tmp_path / "bad.db"
    shutil.copy(rich, path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE profiles SET username = 'a' || char(0) || 'b' WHERE user_id = 'u3'")
    with pytest.raises(CopySourceInvalid, match="table profiles: PostgreSQL refuses a row"):
        copy_sqlite(path, postgres_url, schema=schema, batch_size=2)
    # new1, u0, u1, u2 came in two batches; the batch with u3 was refused whole.
    assert rows(postgres_url, schema, "SELECT count(*) FROM profiles") == [(4,)]
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE profiles SET username = 'ab' WHERE user_id = 'u3'")
    assert not copy_sqlite(path, postgres_url, schema=schema).already_done
    assert check_copy(path, postgres_url, schema=schema).ok


def test_a_newer_file_and_a_different_schema_are_refused_by_name(
    tmp_path: Path, postgres_url: str, schemas: list[str], rich: Path
) -> None:
    schema = new_schema(schemas)
    newer, extra = tmp_path / "newer.db", tmp_path / "extra.db"
    for path in (newer, extra):
        shutil.copy(rich, path)
    with sqlite3.connect(newer) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('gamification_sdk', 'm999_future', '2030-01-01')"
        )
    with sqlite3.connect(extra) as conn:
        conn.execute("ALTER TABLE profiles ADD COLUMN mood TEXT")
        conn.execute("CREATE TABLE badges_v2 (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaTooNew) as too_new:
        copy_sqlite(newer, postgres_url, schema=schema)
    assert too_new.value.migrations == ["m999_future"]
    with pytest.raises(SchemaMismatch) as mismatch:
        copy_sqlite(extra, postgres_url, schema=schema)
    assert mismatch.value.differences == [
        "table badges_v2 is only in the file",
        "column profiles.mood is only in the file",
    ]
    assert schema_state(postgres_url, schema) is None


def test_a_schema_holding_other_data_is_refused(
    tmp_path: Path, postgres_url: str, schemas: list[str], rich: Path
) -> None:
    used, copied = new_schema(schemas), new_schema(schemas)
    backend = open_backend(postgres_url, schema=used)
    with backend.write():
        backend.conn.execute(
            "INSERT INTO profiles (user_id, created_at, updated_at) VALUES ('zed', 'x', 'x')"
        )
    backend.close()
    before = dump(postgres_url, used)
    with pytest.raises(CopyTargetInUse, match=r"already holds engine data \(rows in profiles"):
        copy_sqlite(rich, postgres_url, schema=used)
    assert dump(postgres_url, used) == before
    # A copy of another file.
    other = tmp_path / "other.db"
    Gamification.open(other, load_entrypoints=False).close()
    copy_sqlite(other, postgres_url, schema=copied)
    before = dump(postgres_url, copied)
    with pytest.raises(CopyTargetInUse, match="a copy of another SQLite file"):
        copy_sqlite(rich, postgres_url, schema=copied)
    with pytest.raises(CopyTargetInUse):
        check_copy(rich, postgres_url, schema=copied)
    assert dump(postgres_url, copied) == before


def test_another_applications_schema_is_refused_as_open_backend_refuses_it(
    rich: Path, postgres_url: str, schemas: list[str]
) -> None:
    schema = new_schema(schemas)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.schema_migrations (version TEXT PRIMARY KEY)")
    before = dump(postgres_url, schema)
    with pytest.raises(SchemaOccupied):
        copy_sqlite(rich, postgres_url, schema=schema)
    assert dump(postgres_url, schema) == before


def test_a_second_copy_at_the_same_time_is_refused(
    rich: Path, postgres_url: str, schemas: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copy_module, "LOCK_WAIT_MS", 50)
    schema = new_schema(schemas)
    with psycopg.connect(postgres_url, autocommit=True) as holder:
        digest = hashlib.blake2b(f"gamification_sdk:copy:{schema}".encode(), digest_size=8)
        holder.execute(
            "SELECT pg_advisory_lock(%s)", (int.from_bytes(digest.digest(), "big", signed=True),)
        )
        with pytest.raises(CopyTargetInUse, match="another `gamification migrate`"):
            copy_sqlite(rich, postgres_url, schema=schema)
    assert schema_state(postgres_url, schema) is None


def test_bad_urls_and_arguments_are_refused(rich: Path, schemas: list[str]) -> None:
    with pytest.raises(DatabaseUrlInvalid):
        copy_sqlite(rich, "mysql://u@localhost/db")
    with pytest.raises(DatabaseUrlInvalid):
        check_copy(rich, "postgresql://u@localhost:99999/db")
    with pytest.raises(GamificationError, match="schema"):
        copy_sqlite(rich, "postgresql://u@localhost/db", schema="Bad Name")
    with pytest.raises(CopySourceInvalid, match="batch_size"):
        copy_sqlite(rich, "postgresql://u@localhost/db", batch_size=0)


def test_without_psycopg_the_copy_says_what_to_install(
    rich: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(DriverMissing, match="postgres"):
        copy_sqlite(rich, "postgresql://u@localhost/db")
    with pytest.raises(DriverMissing):
        check_copy(rich, "postgresql://u@localhost/db")


def test_a_table_only_in_the_schema_is_refused_where_no_plugin_migrated_it(
    postgres_url: str, schemas: list[str], rich: Path
) -> None:
    schema = new_schema(schemas)
    open_backend(postgres_url, schema=schema).close()  # the engine's tables, empty
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {schema}.notes (id INTEGER, body TEXT)")
    before = dump(postgres_url, schema)
    with pytest.raises(SchemaMismatch) as mismatch:
        copy_sqlite(rich, postgres_url, schema=schema)
    assert mismatch.value.differences == ["table notes is only in PostgreSQL"]
    assert dump(postgres_url, schema) == before
