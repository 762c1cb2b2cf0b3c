"""``gamification migrate``: an engine's SQLite file copied into PostgreSQL (storage/postgres/
copy.py) as the row mapping says, checked (copy_check.py), resumed after an interruption, and
idempotent. The refusals are in test_postgres_copy_refusals.py."""

from __future__ import annotations

import io
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_copy_data import RICH, USERS, dump, file_hash, new_schema, rich_file, rows, schema_names  # noqa: F401  (fixtures: rich, schemas)
from reliability.game import START

from gamification_sdk import Config, FakeClock, Gamification
from gamification_sdk.cli import cli
from gamification_sdk.cli.migrate import ProgressLines
from gamification_sdk.errors import GamificationError
from gamification_sdk.storage.postgres import check_copy, copy_sqlite, open_backend


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
    # The migrated schema opens as the engine's, its views (where it has some) are no tables.
    open_backend(postgres_url, schema=schema).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE VIEW {schema}.a_view AS SELECT user_id FROM {schema}.profiles")
    assert check_copy(rich, postgres_url, schema=schema).ok


def test_triggers_that_log_board_changes_stay_quiet_during_the_copy(
    rich: Path, postgres_url: str, schemas: list[str]
) -> None:
    """Where lb_scores has triggers writing lb_log (honouring gamification.quiet_log, as the
    engine's do), the copy's rows are not logged: each server's board starts from lb_scores."""
    schema = new_schema(schemas)
    open_backend(postgres_url, schema=schema).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(
            "CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF coalesce(current_setting('gamification.quiet_log', true), '') <> 'on' THEN "
            "INSERT INTO lb_log (period_id, user_id) VALUES (NEW.period_id, NEW.user_id); "
            "END IF; RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER log_it AFTER INSERT ON lb_scores FOR EACH ROW EXECUTE FUNCTION log_it()"
        )
    copy_sqlite(rich, postgres_url, schema=schema)
    assert rows(postgres_url, schema, "SELECT count(*) FROM lb_scores")[0][0] > 0
    assert rows(postgres_url, schema, "SELECT count(*) FROM lb_log") == [(0,)]


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


KILLED = """
import os, signal, sys
from gamification_sdk.storage.postgres import copy_sqlite
calls = 0
def progress(table, done, total):
    global calls
    calls += 1
    if calls == int(sys.argv[4]):
        os.kill(os.getpid(), signal.SIGKILL)
copy_sqlite(sys.argv[1], sys.argv[2], schema=sys.argv[3], batch_size=60, progress=progress)
"""


def test_a_copy_killed_mid_way_resumes_to_the_same_rows(
    rich: Path, postgres_url: str, schemas: list[str]
) -> None:
    """SIGKILL: no cleanup runs, the server ends the session (and its lock) on its own."""
    straight, killed = new_schema(schemas), new_schema(schemas)
    copy_sqlite(rich, postgres_url, schema=straight, batch_size=60)
    root = Path(__file__).resolve().parent.parent
    for stop in ("20", "45"):
        proc = subprocess.run(
            [sys.executable, "-c", KILLED, str(rich), postgres_url, killed, stop],
            cwd=root, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    result = copy_sqlite(rich, postgres_url, schema=killed, batch_size=60)
    assert result.resumed and not result.already_done
    assert dump(postgres_url, straight) == dump(postgres_url, killed)


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


def test_the_engine_runs_on_the_copy(rich: Path, postgres_url: str, schemas: list[str]) -> None:
    """After the cut-over the engine opens the copy as its own: the ledger audit finds
    nothing, the keyed calls made on the file replay without writing, and new calls work."""
    from reliability.game import Trainer

    schema = new_schema(schemas)
    copy_sqlite(rich, postgres_url, schema=schema)
    with Gamification.open(
        postgres_url, schema=schema, plugins=(Trainer(),), load_entrypoints=False
    ) as g:
        report = g.verify_ledger()
        assert report.ok, report.problems
        kept = [user for user in USERS if user != "u5"]  # u5 was erased, its keys with it
        before = {user: (g.profile(user).xp, g.balance(user, "points")) for user in kept}
        for user in kept:
            g.award_xp(user, 250, source="seed", idempotency_key=f"xp-{user}")
            g.award_points(user, 500, currency="points", source="seed", idempotency_key=f"p-{user}")
        assert {u: (g.profile(u).xp, g.balance(u, "points")) for u in kept} == before
        g.award_points("u0", 7, currency="points", source="after", idempotency_key="new")
        g.transfer_points("u0", "u1", 3, currency="points", idempotency_key="gift")
        assert g.balance("u0", "points") == before["u0"][1] + 4
        assert g.verify_ledger().ok
