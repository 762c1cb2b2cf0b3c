"""``gamification migrate`` with the plugin's tables in the file: its endpoints, secrets, queued
deliveries and dead letters are copied into the PostgreSQL schema (made there by the plugin's
own migrations) and checked; a server with the plugin then sends the queue and adds rows of
its own. A rerun writes nothing; a file whose plugin is not loaded where the copy runs is
refused by name, writing nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gamification_sdk_webhooks as plugin
import psycopg
import pytest
from click.testing import CliRunner
from gamification_sdk_webhooks import RetryPolicy, Webhooks
from webhook_fixtures import backend, postgres_url, postgresql
from webhook_receiver import Receiver, receiving, verify

from gamification_sdk import FakeClock, Gamification
from gamification_sdk.cli import cli
from gamification_sdk.errors import SchemaMismatch
from gamification_sdk.runtime.plugins import collect_postgres_migrations, get_plugin_manager
from gamification_sdk.storage.postgres import check_copy, copy_sqlite

# Collected here from webhook_fixtures: the run's backend and the PostgreSQL test server.
FIXTURES = (backend, postgres_url, postgresql)

pytestmark = pytest.mark.usefixtures("postgresql")

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
ONCE = RetryPolicy(max_attempts=1)  # the first failure is a dead letter
TABLES = ("webhook_endpoints", "webhook_kinds", "webhook_secrets", "webhook_deliveries")


class Stop(Exception):
    """Raised by the copy's progress callback: an interruption."""


@pytest.fixture
def schemas(postgres_url: str) -> Iterator[Callable[[], str]]:
    """New schema names for one test, dropped afterwards."""
    made: list[str] = []

    def new() -> str:
        made.append(f"gamification_test_{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield new
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def hooks(g: Gamification, clock: FakeClock, retry: RetryPolicy | None = None) -> Webhooks:
    return Webhooks(g, clock=clock, timeout=2, retry=retry, random=lambda: 0.0)


def level_up(g: Gamification, user: str) -> None:
    g.award_xp(user, 450, source="post", idempotency_key=f"lvl-{user}")  # one notification


def plugin_rows(url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def migrate(*args: str) -> Any:
    """``gamification --json migrate ARGS``: the installed plugins load, as for any command."""
    return CliRunner().invoke(cli, ["--db", "unused.db", "--json", "migrate", *args])


def test_the_plugin_s_queue_is_copied_checked_then_sent_and_grown_on_postgresql(
    tmp_path: Path, postgres_url: str, schemas: Callable[[], str], receiver: Receiver
) -> None:
    clock = FakeClock(START)
    path = tmp_path / "game.db"
    with Gamification.open(path, clock=clock, plugins=[plugin], load_entrypoints=False) as g:
        wh = hooks(g, clock, ONCE)
        wh.add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
        wh.rotate_secret("crm", NEW_SECRET)  # the old secret signs too, for 24 hours
        wh.add("all", receiver.url, kinds=["*"], secret=SECRET)
        level_up(g, "ada")  # one delivery per endpoint
        receiver.plan = [200, 500]
        assert wh.deliver().counts() == {"delivered": 1, "retrying": 0, "dead": 1}
        level_up(g, "bo")  # two more, queued when the file stops
        endpoints, deliveries = wh.list(), wh.deliveries()
    assert sorted(d.status for d in deliveries) == ["dead", "delivered", "pending", "pending"]
    receiver.received.clear()

    schema = schemas()

    def stop(table: str, done: int, total: int) -> None:
        if table == "webhook_deliveries" and done == 2:
            raise Stop  # half the deliveries committed, a row a batch

    with_plugin = collect_postgres_migrations(get_plugin_manager([plugin], load_entrypoints=False))
    with pytest.raises(Stop):
        copy_sqlite(
            path, postgres_url, schema=schema, batch_size=1, progress=stop, plugins=with_plugin
        )
    # The command line loads the installed plugin itself, and resumes after the two.
    copied = migrate("--from", str(path), "--to", postgres_url, "--schema", schema)
    assert copied.exit_code == 0, copied.output
    report = json.loads(copied.stdout)
    assert report["copy"]["resumed"] is True
    assert report["copy"]["copied"]["webhook_deliveries"] == 2
    assert report["check"]["problems"] == []
    counts = {t: report["check"]["counts"][t] for t in TABLES}
    assert counts == {"webhook_endpoints": [2, 2], "webhook_kinds": [2, 2],
                      "webhook_secrets": [3, 3], "webhook_deliveries": [4, 4]}  # fmt: skip

    # A rerun writes nothing and checks again.
    before = plugin_rows(postgres_url, schema)
    again = migrate("--from", str(path), "--to", postgres_url, "--schema", schema)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["copy"]["already_done"] is True
    assert plugin_rows(postgres_url, schema) == before

    clock.advance(seconds=5)
    with Gamification.open(
        postgres_url, schema=schema, clock=clock, plugins=[plugin], load_entrypoints=False
    ) as server:
        wh = hooks(server, clock, ONCE)
        assert wh.list() == endpoints  # the secrets too: the newest, and how many sign
        assert wh.deliveries() == deliveries
        # The queue left in the file goes out from the server, under its webhook-ids, signed
        # with the copied secrets.
        sent = wh.deliver()
        queued = [d for d in deliveries if d.status == "pending"]
        assert sorted(sent.delivered) == [d.id for d in queued] and not sent.dead
        assert sorted(receiver.ids()) == sorted(d.message_id for d in queued)
        now = int(clock().timestamp())
        to = {d.message_id: d.endpoint for d in queued}
        for got in receiver.received:
            assert verify(SECRET, got.headers, got.body, now)  # both endpoints' first secret
            # crm's newest, after the rotation the file kept.
            assert verify(NEW_SECRET, got.headers, got.body, now) == (
                to[got.headers["webhook-id"]] == "crm"
            )
        # The dead letter replays; new rows take ids past the copied ones.
        (dead,) = [d for d in deliveries if d.status == "dead"]
        assert wh.replay() == [dead.id]
        assert wh.deliver().delivered == (dead.id,)
        level_up(server, "cy")
        wh.add("late", receiver.url, kinds=["level_up"])
        wh.rotate_secret("all")
        newest = max(d.id for d in deliveries)
        fresh = [d for d in wh.deliveries() if d.user_id == "cy"]
        assert len(fresh) == 2 and all(d.id > newest for d in fresh)
        assert wh.deliver().delivered == tuple(d.id for d in fresh)
        assert {e.name: e.active_secrets for e in wh.list()} == {"all": 2, "crm": 2, "late": 1}


def test_a_file_without_the_plugin_s_tables_copies_and_its_tables_stay_empty(
    tmp_path: Path, postgres_url: str, schemas: Callable[[], str]
) -> None:
    clock = FakeClock(START)
    path = tmp_path / "plain.db"
    # The plugin loaded, no endpoint ever added: its tables are not made in the file.
    with Gamification.open(path, clock=clock, plugins=[plugin], load_entrypoints=False) as g:
        level_up(g, "ada")
        assert "webhook_deliveries" not in g.db.table_names()
    schema = schemas()
    with_plugin = collect_postgres_migrations(get_plugin_manager([plugin], load_entrypoints=False))
    result = copy_sqlite(path, postgres_url, schema=schema, plugins=with_plugin)
    assert not set(TABLES) & set(result.totals)
    check = check_copy(path, postgres_url, schema=schema)
    assert check.ok, check.problems
    assert plugin_rows(postgres_url, schema) == {table: [] for table in TABLES}
    with Gamification.open(
        postgres_url, schema=schema, clock=clock, plugins=[plugin], load_entrypoints=False
    ) as server:
        wh = hooks(server, clock)
        wh.add("crm", "https://crm.example/hooks", kinds=["level_up"])
        level_up(server, "bo")
        assert [(d.id, d.user_id) for d in wh.deliveries()] == [(1, "bo")]


def test_a_file_with_the_tables_of_a_plugin_not_loaded_is_refused_by_name(
    tmp_path: Path, postgres_url: str, schemas: Callable[[], str]
) -> None:
    clock = FakeClock(START)
    path = tmp_path / "game.db"
    with Gamification.open(path, clock=clock, plugins=[plugin], load_entrypoints=False) as g:
        hooks(g, clock).add("crm", "https://crm.example/hooks", kinds=["level_up"])
        level_up(g, "ada")
    schema = schemas()
    with pytest.raises(SchemaMismatch) as refused:
        copy_sqlite(path, postgres_url, schema=schema)  # no plugins' migrations given
    hint = (
        "made by a plugin (the file records the migrations of gamification-sdk-webhooks): "
        "install and load the plugin that owns it where `gamification migrate` runs, then "
        "run it again"
    )
    assert refused.value.differences == [
        f"table {table} is only in the file, {hint}" for table in sorted(TABLES)
    ]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        made = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        assert made.fetchone() is None  # nothing written, not even the schema
    # The command line without the installed plugins refuses the same way, by exit code.
    result = CliRunner().invoke(
        cli, ["--db", "unused.db", "--no-plugins", "migrate", "--from", str(path),
              "--to", postgres_url, "--schema", schema],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "table webhook_deliveries is only in the file, made by a plugin" in result.output
