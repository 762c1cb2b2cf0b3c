"""``gamification migrate``: an engine's SQLite file copied into PostgreSQL (storage/postgres/
copy.py), checked (copy_check.py), resumed after an interruption, idempotent, and refused with
typed errors that write nothing."""

from __future__ import annotations

import hashlib
import io
import shutil
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability.game import DEFINITIONS, SEASON, START, Trainer

from gamification_sdk import (
    BoardConfig,
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LeaderboardsConfig,
    RankReward,
)
from gamification_sdk.cli import cli
from gamification_sdk.cli.migrate import ProgressLines
from gamification_sdk.errors import (
    CopySourceInvalid,
    CopyTargetInUse,
    DatabaseUrlInvalid,
    DriverMissing,
    GamificationError,
    SchemaMismatch,
    SchemaTooNew,
)
from gamification_sdk.storage.postgres import check_copy, copy_sqlite, open_backend

USERS = ("u0", "u1", "u2", "u3", "u4", "u5")
RICH = Config(
    currencies=(
        CurrencyConfig("points", expire_after_days=30, expiry_notice_days=7),
        CurrencyConfig("stars", spendable=False),
        CurrencyConfig("gems"),
    ),
    seasons=[SEASON],
    rate_limits={"purchase": None, "quest_complete": None},
    leaderboards=LeaderboardsConfig(
        boards=(
            BoardConfig(
                "xp",
                periods=("all_time", "weekly"),
                rewards=(RankReward(ranks=(1, 1), points={"gems": 5}),),
            ),
            BoardConfig("workouts", source="metric", metric="workout", periods=("daily",)),
        ),
        visibility="public",
        show_on_global=True,
    ),
)


def build_rich(path: Path) -> None:
    """A file with every kind of row: XP, keyed awards, spends, transfers, refunds,
    reservations, expiring lots (some expired), achievements, quests, streaks, boards,
    referrals, shop orders, the battle pass, friends, groups and an erased user."""
    clock = FakeClock(START)
    g = Gamification.open(
        path, config=RICH, clock=clock, plugins=(Trainer(),), load_entrypoints=False
    )
    g.events.load(DEFINITIONS, name="copy")
    for user in USERS:
        g.award_xp(user, 250, source="seed", idempotency_key=f"xp-{user}")
        g.award_points(user, 500, currency="points", source="seed", idempotency_key=f"p-{user}")
        g.award_points(user, 40, currency="gems", source="seed")
    code = g.referrals.code("u0")
    g.referrals.track(code, "new1", ip="10.0.0.1", idempotency_key="ref-new1")
    g.referrals.convert("new1", kind="first_purchase", idempotency_key="conv-new1")
    g.social.add_friend("u0", "u1")
    g.social.join_group("u2", "team-a", kind="team")
    for day in range(4):
        for n, user in enumerate(USERS):
            g.track(user, "workout", idempotency_key=f"w-{day}-{user}")
            g.track(user, "post")
            g.streaks.record_activity(user, idempotency_key=f"s-{day}-{user}")
            g.quests.complete(user, "checkin", evidence={"ok": True}, idempotency_key=f"q{day}{n}")
            other = USERS[(n + 1) % len(USERS)]
            g.transfer_points(user, other, 7, currency="points", idempotency_key=f"t-{day}-{user}")
            g.transfer_points(user, other, 3, currency="gems")
            spent = g.spend_points(user, 20, currency="points", source="shop")
            g.refund(spent.id, amount=5, idempotency_key=f"r-{day}-{user}")
            held = g.reserve_points(user, 10, currency="points", ttl=timedelta(hours=1))
            if n % 2:
                g.commit_reservation(held.id)
            else:
                g.release_reservation(held.id)
        order = g.shop.purchase(USERS[day], "hat", idempotency_key=f"hat-{day}")
        if day == 0:
            g.shop.refund(order.id, idempotency_key="hat-refund")
        g.battle_pass.claim(USERS[day], 1, track="free", idempotency_key=f"bp-{day}")
        clock.advance(days=1)
    g.battle_pass.buy_premium("u1", idempotency_key="premium-u1")
    g.reserve_points("u3", 10, currency="points", ttl=timedelta(days=90))  # stays active
    clock.advance(days=35)
    g.jobs.run_due()  # the first lots expire
    g.award_points("u4", 15, currency="points", source="late")
    g.track("u1", "workout")  # a live score on the daily board after the closed ones
    g.privacy.delete("u5", idempotency_key="erase-u5")
    g.close()


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("copy") / "game.db"
    build_rich(path)
    return path


@pytest.fixture
def schemas(postgres_url: str) -> Iterator[list[str]]:
    """Schema names for one test, dropped afterwards."""
    made: list[str] = []
    yield made
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def new_schema(schemas: list[str]) -> str:
    name = f"gamification_test_{uuid.uuid4().hex[:12]}"
    schemas.append(name)
    return name


def rows(url: str, schema: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        return [tuple(r) for r in conn.execute(query, params or None).fetchall()]


def dump(url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ``schema`` (with the copy's times blanked), in order."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name <> 'schema_migrations' ORDER BY 1",
                (schema,),
            )
        ]
        found = {}
        for table in tables:
            if table == "copy_progress":
                query = f"SELECT tbl, source, last_key, copied FROM {schema}.{table} ORDER BY 1"
            else:
                query = f"SELECT * FROM {schema}.{table} ORDER BY 1, 2"
                if table in ("lb_log", "leases", "lot_currencies", "lb_settings"):
                    query = f"SELECT * FROM {schema}.{table} ORDER BY 1"
            found[table] = [tuple(r) for r in conn.execute(query)]
        found["sequences"] = [
            tuple(r)
            for r in conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s "
                "ORDER BY 1",
                (schema,),
            )
        ]
        return found


def file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def test_a_rich_file_is_copied_as_the_contract_says(
    rich: Path, postgres_url: str, schemas: list[str]
) -> None:
    schema = new_schema(schemas)
    before = file_hash(rich)
    result = copy_sqlite(rich, postgres_url, schema=schema, batch_size=97)
    assert not result.resumed and not result.already_done
    assert file_hash(rich) == before, "the copy wrote to the file"
    check = check_copy(rich, postgres_url, schema=schema)
    assert check.ok, check.problems
    assert check.users >= len(USERS)
    file = sqlite3.connect(rich)
    for table in ("profiles", "transactions", "entries", "point_lots", "lot_uses", "referrals",
                  "shop_orders", "battle_pass_claims", "idempotency_keys", "achievement_unlocks",
                  "quest_completions", "streak_log", "lb_scores", "lb_archive", "reservations",
                  "lot_holds", "friends", "group_members", "deleted_users"):  # fmt: skip
        assert check.counts[table][0] > 0, f"the rich file has no {table} rows"
        assert check.counts[table][0] == check.counts[table][1] == result.copied[table]
    q = lambda sql, *p: rows(postgres_url, schema, sql, *p)  # noqa: E731

    # Each system account is split per user, the rows summing to the file's balance.
    system = file.execute(
        "SELECT id, system_name, currency, balance FROM accounts "
        "WHERE user_id IS NULL AND system_name NOT LIKE 'deleted:%'"
    ).fetchall()
    base = file.execute("SELECT max(id) FROM accounts").fetchone()[0]
    assert {name for _, name, _, _ in system} == {"issuance", "sink", "breakage"}
    for _, name, currency, balance in system:
        split = q(
            "SELECT user_id, id, balance, held, lifetime_earned, lifetime_spent FROM accounts "
            "WHERE system_name = %s AND currency = %s",
            name,
            currency,
        )
        assert sum(r[2] for r in split) == balance
        assert all(r[1] > base and r[3:] == (0, 0, 0) for r in split)
        owners = file.execute(
            "SELECT DISTINCT t.user_id FROM entries e JOIN transactions t "
            "ON t.id = e.transaction_id JOIN accounts a ON a.id = e.account_id "
            "WHERE a.system_name = ? AND a.currency = ?",
            (name, currency),
        ).fetchall()
        assert sorted(r[0] for r in split) == sorted(r[0] for r in owners)
    # Every ledger line belongs to its transaction's owner; a transfer's too, whose
    # recipient's line names the recipient's account.
    assert q(
        "SELECT count(*) FROM entries e JOIN transactions t "
        "ON t.user_id = e.user_id AND t.id = e.transaction_id"
    ) == q("SELECT count(*) FROM entries")
    transfer = file.execute(
        "SELECT t.id, t.user_id, t.counterparty_id, a.id FROM transactions t "
        "JOIN entries e ON e.transaction_id = t.id JOIN accounts a ON a.id = e.account_id "
        "WHERE t.type = 'transfer' AND a.user_id = t.counterparty_id LIMIT 1"
    ).fetchone()
    assert q(
        "SELECT user_id FROM entries WHERE transaction_id = %s AND account_id = %s",
        transfer[0],
        transfer[3],
    ) == [(transfer[1],)]
    # The erased user's account is kept under its pseudonym; keys of no user under ''.
    (pseudonym,) = file.execute("SELECT pseudonym FROM deleted_users").fetchone()
    assert q(
        "SELECT user_id FROM accounts WHERE system_name LIKE 'deleted:%%' GROUP BY user_id"
    ) == [(pseudonym,)]
    assert q("SELECT DISTINCT user_id FROM idempotency_keys") == [("",)]
    # Not copied: the boards' change log and the scheduler's lease.
    assert q("SELECT count(*) FROM lb_log") == q("SELECT count(*) FROM leases") == [(0,)]
    assert file.execute("SELECT count(*) FROM lb_log").fetchone()[0] > 0
    # Each identity sequence hands out ids past the copied ones.
    for table in ("accounts", "transactions", "point_lots", "reservations", "shop_orders",
                  "notifications", "referrals", "lb_periods"):  # fmt: skip
        (top,) = q(f"SELECT max(id) FROM {table}")[0]
        (after,) = q(f"SELECT nextval(pg_get_serial_sequence('{schema}.{table}', 'id'))")[0]
        assert after > top
    # The migrated schema opens as the engine's.
    open_backend(postgres_url, schema=schema).close()


def test_a_copy_run_again_writes_nothing_and_says_so(
    rich: Path, postgres_url: str, schemas: list[str]
) -> None:
    schema = new_schema(schemas)
    copy_sqlite(rich, postgres_url, schema=schema)
    first = dump(postgres_url, schema)
    again = copy_sqlite(rich, postgres_url, schema=schema)
    assert again.already_done and again.copied == {}
    assert dump(postgres_url, schema) == first
    # Wherever the file is moved: it is the same file.
    moved = rich.parent / "moved.db"
    shutil.copy(rich, moved)
    assert copy_sqlite(moved, postgres_url, schema=schema).already_done


class Stop(Exception):
    """Raised from the progress callback: the copy stops there."""


@pytest.mark.parametrize("stop_after", [1, 9, 40, 10_000])
def test_an_interrupted_copy_resumes_to_the_same_rows(
    rich: Path, postgres_url: str, schemas: list[str], stop_after: int
) -> None:
    straight, stopped = new_schema(schemas), new_schema(schemas)
    copy_sqlite(rich, postgres_url, schema=straight, batch_size=50)
    calls = 0

    def progress(table: str, done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == stop_after:
            raise Stop(table)

    interrupted = stop_after < 10_000
    try:
        copy_sqlite(rich, postgres_url, schema=stopped, batch_size=50, progress=progress)
    except Stop:
        assert interrupted
        check = check_copy(rich, postgres_url, schema=stopped)
        assert not check.ok and "has not finished" in check.problems[0]
    result = copy_sqlite(rich, postgres_url, schema=stopped, batch_size=50)
    assert result.already_done is not interrupted
    assert result.resumed
    assert check_copy(rich, postgres_url, schema=stopped).ok
    ours, theirs = dump(postgres_url, straight), dump(postgres_url, stopped)
    assert ours == theirs


def test_an_unfinished_copy_of_the_whole_engine_is_resumed_from_its_batches(
    rich: Path, postgres_url: str, schemas: list[str]
) -> None:
    """Stopping after every committed batch, many times over, still gives the same rows."""
    straight, stopped = new_schema(schemas), new_schema(schemas)
    copy_sqlite(rich, postgres_url, schema=straight, batch_size=400)
    seen: set[tuple[str, int]] = set()
    runs = 0
    while True:
        fresh = 0

        def progress(table: str, done: int, total: int) -> None:
            nonlocal fresh
            if (table, done) not in seen:  # a table starting or a batch just committed
                seen.add((table, done))
                fresh += 1
                if fresh == 5:
                    raise Stop(table)

        runs += 1
        try:
            result = copy_sqlite(
                rich, postgres_url, schema=stopped, batch_size=400, progress=progress
            )
            break
        except Stop:
            continue
    assert runs > 2 and not result.already_done
    assert dump(postgres_url, straight) == dump(postgres_url, stopped)


def test_the_check_finds_what_differs(rich: Path, postgres_url: str, schemas: list[str]) -> None:
    schema = new_schema(schemas)
    copy_sqlite(rich, postgres_url, schema=schema)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute("UPDATE profiles SET xp = xp + 1 WHERE user_id = 'u2'")
        conn.execute("DELETE FROM titles WHERE user_id = 'u0'")
        conn.execute(
            "UPDATE accounts SET balance = balance + 5 WHERE id = "
            "(SELECT min(id) FROM accounts WHERE system_name = 'issuance')"
        )
    check = check_copy(rich, postgres_url, schema=schema)
    assert not check.ok
    text = "\n".join(check.problems)
    assert "profiles: the rows of 'u2' differ" in text
    assert "system account issuance (points)" in text
    assert "postgresql: accounts whose balance is not the sum of their entries" in text
    assert "file:" not in text
    runner = CliRunner()
    out = runner.invoke(
        cli, ["migrate", "--check", "--from", str(rich), "--to", postgres_url, "--schema", schema]
    )
    assert out.exit_code == 4, out.output
    assert "problem(s)" in out.output


def test_the_command_copies_then_checks(rich: Path, postgres_url: str, schemas: list[str]) -> None:
    schema = new_schema(schemas)
    args = ["migrate", "--from", str(rich), "--to", postgres_url, "--schema", schema]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert "rows into schema" in out.output
    assert "agree on both sides" in out.output
    out = CliRunner().invoke(cli, [*args, "--progress"])
    assert out.exit_code == 0, out.output
    assert "nothing written" in out.output
    out = CliRunner().invoke(cli, ["--json", *args, "--check"])
    assert out.exit_code == 0 and '"problems": []' in out.output


def test_progress_lines_draw_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    terminal, plain = io.StringIO(), io.StringIO()
    for stream, is_terminal in ((terminal, True), (plain, False)):
        lines = ProgressLines(stream, is_terminal)
        lines("profiles", 0, 3)
        lines("profiles", 2, 3)
        lines("profiles", 3, 3)
        lines("entries", 0, 10)
        lines.close()
    assert plain.getvalue() == f"{'profiles':<24} {3:>12,} rows\n"
    assert terminal.getvalue().count("\r") == 4
    assert "[###############" in terminal.getvalue() and terminal.getvalue().endswith("\n")


def schema_state(url: str, schema: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            return dump(url, schema)
        return None


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


def test_a_second_copy_at_the_same_time_is_refused(
    rich: Path, postgres_url: str, schemas: list[str]
) -> None:
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


LEDGER_USERS = ("a", "b", "c")
LEDGER = Config(currencies=RICH.currencies)
operation = st.one_of(
    st.tuples(st.just("award"), st.sampled_from(LEDGER_USERS), st.integers(1, 50)),
    st.tuples(st.just("spend"), st.sampled_from(LEDGER_USERS), st.integers(1, 30)),
    st.tuples(
        st.just("transfer"),
        st.sampled_from(LEDGER_USERS),
        st.sampled_from(LEDGER_USERS),
        st.integers(1, 30),
    ),
    st.tuples(st.just("refund"), st.integers(0, 20)),
    st.tuples(st.just("adjust"), st.sampled_from(LEDGER_USERS), st.integers(-20, 20)),
    st.tuples(st.just("delete"), st.sampled_from(LEDGER_USERS)),
    st.tuples(st.just("later"), st.integers(1, 40)),
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(operation, max_size=30),
    currency=st.sampled_from(["points", "gems"]),
)
def test_random_ledger_operations_copy_with_the_same_balances(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory, ops: list[Any], currency: str
) -> None:
    path = tmp_path_factory.mktemp("prop") / "game.db"
    clock = FakeClock(START)
    spends: list[int] = []
    with Gamification.open(path, config=LEDGER, clock=clock, load_entrypoints=False) as g:
        for n, op in enumerate(ops):
            try:
                if op[0] == "award":
                    g.award_points(
                        op[1], op[2], currency=currency, source="play", idempotency_key=f"k{n}"
                    )
                elif op[0] == "spend":
                    spends.append(g.spend_points(op[1], op[2], currency=currency, source="shop").id)
                elif op[0] == "transfer":
                    g.transfer_points(op[1], op[2], op[3], currency=currency)
                elif op[0] == "refund" and spends:
                    g.refund(spends[op[1] % len(spends)], amount=1)
                elif op[0] == "adjust" and op[2]:
                    g.points.adjust(op[1], op[2], currency=currency, reason="support")
                elif op[0] == "delete":
                    g.privacy.delete(op[1])
                elif op[0] == "later":
                    clock.advance(days=op[1])
                    g.jobs.run_due()
            except GamificationError:
                pass  # refused (not enough points, same user, already refunded): no rows
    schema = f"gamification_test_{uuid.uuid4().hex[:12]}"
    try:
        copy_sqlite(path, postgres_url, schema=schema, batch_size=7)
        check = check_copy(path, postgres_url, schema=schema)
        assert check.ok, check.problems
        file = sqlite3.connect(path)
        ours = file.execute(
            "SELECT user_id, currency, balance FROM accounts WHERE user_id IS NOT NULL "
            "ORDER BY 1, 2"
        ).fetchall()
        system = file.execute(
            "SELECT system_name, currency, balance FROM accounts WHERE user_id IS NULL "
            "AND system_name NOT LIKE 'deleted:%' AND balance <> 0 ORDER BY 1, 2"
        ).fetchall()
        file.close()
        assert rows(
            postgres_url, schema,
            "SELECT user_id, currency, balance FROM accounts WHERE system_name IS NULL "
            "ORDER BY 1, 2",
        ) == [tuple(r) for r in ours]  # fmt: skip
        assert rows(
            postgres_url, schema,
            "SELECT system_name, currency, sum(balance) FROM accounts WHERE system_name "
            "IS NOT NULL AND system_name NOT LIKE 'deleted:%%' GROUP BY 1, 2 "
            "HAVING sum(balance) <> 0 ORDER BY 1, 2",
        ) == [tuple(r) for r in system]  # fmt: skip
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
