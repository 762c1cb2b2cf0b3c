"""Opening PostgreSQL refuses, as typed errors before anything is written, a malformed URL, an
unreachable server, a server older than 15, a role without the rights it needs and a schema
holding another application's tables; and leaves no partial schema when anything fails."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from gamification_sdk.errors import (
    DatabaseUnreachable,
    DatabaseUrlInvalid,
    MissingPrivilege,
    SchemaOccupied,
    SchemaTooNew,
    ServerTooOld,
)
from gamification_sdk.storage.postgres import migrate as migrate_module
from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.postgres.migrate import check_server_version, migrate
from gamification_sdk.storage.postgres.schema import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent


def relations(url: str, schema: str) -> list[str] | None:
    """The relations in ``schema``, or None when there is no such schema."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            return [
                row[0]
                for row in conn.execute(
                    "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
                    (schema,),
                )
            ]
        return None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://u@localhost/db", "not a postgresql://"),
        ("game.db", "not a postgresql://"),
        ("postgresql://[::1/db", "cannot be parsed"),
        ("postgresql://localhost/db?colour=red", "cannot be parsed"),
        ("postgresql://u@localhost:99999/db", "port '99999'"),
        ("postgresql://u@localhost:abc/db", "port 'abc'"),
    ],
)
def test_a_malformed_url_is_refused(url: str, problem: str) -> None:
    with pytest.raises(DatabaseUrlInvalid, match=problem) as caught:
        open_backend(url)
    assert caught.value.field == "url"


def test_the_password_never_appears_in_the_message() -> None:
    with pytest.raises(DatabaseUrlInvalid) as caught:
        open_backend("postgresql://u:s3cret@localhost:abc/db?colour=red")
    assert "s3cret" not in str(caught.value)


def test_an_unreachable_server_is_refused() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DatabaseUnreachable, match=f"127.0.0.1:{port}") as caught:
        open_backend(f"postgresql://u:s3cret@127.0.0.1:{port}/db")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("version", "shown"), [(140009, "14.9"), (130000, "13.0"), (90624, "9.6.24")]
)
def test_a_server_older_than_15_is_refused(version: int, shown: str) -> None:
    with pytest.raises(ServerTooOld, match=rf"PostgreSQL {shown} found; 15 or later") as caught:
        check_server_version(version)
    assert caught.value.found == shown


def test_15_and_later_are_accepted() -> None:
    for version in (150000, 150018, 160002, 170000):
        check_server_version(version)


def test_opening_an_old_server_writes_nothing(
    postgres_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = migrate_module.server_facts

    def old(conn: psycopg.Connection[object]) -> tuple[int, str, str]:
        _, role, database = real(conn)  # type: ignore[arg-type]
        return 140011, role, database

    monkeypatch.setattr(migrate_module, "server_facts", old)
    with pytest.raises(ServerTooOld, match=r"14\.11"):
        open_backend(postgres_url, schema=pg_schema)
    assert relations(postgres_url, pg_schema) is None


@pytest.fixture
def weak_role(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A login role with no right beyond connecting: (its name, a URL that logs in as it)."""
    role = f"gamification_weak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        try:
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'weak'")
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("the test server's role may not create roles")
    parts = urlsplit(postgres_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    yield role, urlunsplit(parts._replace(netloc=f"{role}:weak@{host}"))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def test_a_role_that_may_not_create_the_schema_is_told_which_right(
    postgres_url: str, pg_schema: str, weak_role: tuple[str, str]
) -> None:
    role, url = weak_role
    with pytest.raises(MissingPrivilege, match=r"lacks CREATE on DATABASE") as caught:
        open_backend(url, schema=pg_schema)
    assert (caught.value.role, caught.value.privilege) == (role, "CREATE")
    assert f"to create the schema {pg_schema!r}" in str(caught.value)
    assert relations(postgres_url, pg_schema) is None


def test_a_schema_the_role_may_not_use_or_fill_is_refused_then_opens_once_granted(
    postgres_url: str, pg_schema: str, weak_role: tuple[str, str]
) -> None:
    role, url = weak_role
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {pg_schema}")
    with pytest.raises(MissingPrivilege, match=rf"lacks USAGE on SCHEMA {pg_schema}"):
        open_backend(url, schema=pg_schema)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA {pg_schema} TO {role}")
    with pytest.raises(MissingPrivilege, match=rf"lacks CREATE on SCHEMA {pg_schema}"):
        open_backend(url, schema=pg_schema)
    assert relations(postgres_url, pg_schema) == []
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"GRANT CREATE ON SCHEMA {pg_schema} TO {role}")
    open_backend(url, schema=pg_schema).close()
    assert "schema_migrations" in (relations(postgres_url, pg_schema) or [])


@pytest.mark.parametrize(
    "tables",
    [
        ["CREATE TABLE orders (id BIGINT PRIMARY KEY)"],
        # Another framework's migration table of the same name is not ours either.
        ["CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)"],
        ["CREATE TABLE profiles (user_id TEXT PRIMARY KEY)", "CREATE VIEW v AS SELECT 1"],
    ],
)
def test_a_schema_holding_another_applications_tables_is_refused(
    postgres_url: str, pg_schema: str, tables: list[str]
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {pg_schema}")
        conn.execute(f"SET search_path TO {pg_schema}")
        for statement in tables:
            conn.execute(statement)
    before = relations(postgres_url, pg_schema)
    with pytest.raises(SchemaOccupied, match=f"schema: {pg_schema!r} already holds") as caught:
        open_backend(postgres_url, schema=pg_schema)
    assert caught.value.tables == [name for name in (before or []) if not name.endswith("_pkey")]
    assert relations(postgres_url, pg_schema) == before


def test_an_empty_schema_someone_made_is_adopted(postgres_url: str, pg_schema: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {pg_schema}")
    open_backend(postgres_url, schema=pg_schema).close()
    assert "profiles" in (relations(postgres_url, pg_schema) or [])


def test_a_migration_that_fails_leaves_no_schema(postgres_url: str, pg_schema: str) -> None:
    broken = (*MIGRATIONS, (len(MIGRATIONS) + 1, "broken", "CREATE TABLE half ("))
    with (
        psycopg.connect(postgres_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.SyntaxError),
    ):
        migrate(conn, pg_schema, broken)
    assert relations(postgres_url, pg_schema) is None


def test_importing_the_package_needs_no_driver() -> None:
    """SQLite users install nothing: without psycopg the package imports, and opening
    PostgreSQL says what to install."""
    script = """
import sys

class NoDriver:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("psycopg", "psycopg_pool", "psycopg_binary"):
            raise ImportError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoDriver())
import gamification_sdk
from gamification_sdk.errors import DriverMissing
from gamification_sdk.storage.postgres import open_backend
assert "psycopg" not in sys.modules
try:
    open_backend("postgresql://localhost/db")
except DriverMissing as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'gamification-sdk[postgres]'" in done.stdout


def test_a_schema_migrated_by_a_newer_version_is_refused_unchanged(
    postgres_url: str, pg_schema: str
) -> None:
    open_backend(postgres_url, schema=pg_schema).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {pg_schema}.schema_migrations (version, name, applied_at) "
            "VALUES (999, 'p999_from_the_future', now())"
        )
    before = relations(postgres_url, pg_schema)
    with pytest.raises(SchemaTooNew, match="p999") as caught:
        open_backend(postgres_url, schema=pg_schema)
    assert caught.value.migrations == ["p999"]
    assert relations(postgres_url, pg_schema) == before
