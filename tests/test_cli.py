"""The ``gamification`` command line, through click's CliRunner on file databases.

Every command's happy path (table and ``--json``), the exit codes, and the issue's bad-input
table: a missing file, a bad path, bad JSON or an unknown user gives one ``error:`` line on
stderr, a non-zero exit, and an unchanged database.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from gamification_sdk.cli import State, cli, pass_state
from gamification_sdk.ops.jobs import LEASE_NAME

T = "2026-03-02T12:00:00Z"
LATER = "2026-03-02T13:00:00Z"

CONFIG = """\
{top}
[leaderboards]
visibility = "public"
show_on_global = true

[[currencies]]
name = "points"

[[currencies]]
name = "gems"
"""

DEFINITIONS = """\
[[rules]]
event = "workout"
xp = 10

[[achievements]]
key = "first_workout"
name = "First workout"
criteria = { type = "first_time", event = "workout" }
rewards = { xp = 50 }
"""

Run = Callable[..., Result]


def dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def files(folder: Path) -> list[str]:
    """What is in ``folder``, SQLite's own -wal and -shm files aside."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if not p.name.endswith(("-wal", "-shm"))
    )


def assert_error(result: Result, code: int = 1) -> str:
    """One ``error:`` line on stderr, nothing on stdout, no traceback; returns the line."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "game.toml").write_text(CONFIG.format(top=""))
    (tmp_path / "strict.toml").write_text(CONFIG.format(top="auto_create_profiles = false"))
    (tmp_path / "fast.toml").write_text(CONFIG.format(top="busy_timeout = 0"))
    (tmp_path / "defs.toml").write_text(DEFINITIONS)
    (tmp_path / "bad.json").write_text('{"levels": {"curve": ')
    (tmp_path / "bad.toml").write_text("[levels\ncurve = ")
    (tmp_path / "not-a-db.db").write_text("hello, I am text\n")
    (tmp_path / "a-folder").mkdir()
    return tmp_path


@pytest.fixture
def db(folder: Path) -> Path:
    return folder / "game.db"


@pytest.fixture
def run(folder: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """``run(*args, db=..., config=...)``: the CLI with --no-plugins, in ``folder``."""
    monkeypatch.chdir(folder)
    monkeypatch.delenv("GAMIFICATION_DB", raising=False)
    monkeypatch.delenv("GAMIFICATION_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(
        *args: str, db: Path | str = db, config: str | None = "game.toml", input: str | None = None
    ) -> Result:
        head = ["--db", str(db), "--no-plugins"]
        if config is not None:
            head += ["--config", config]
        return runner.invoke(cli, [*head, *args], input=input, prog_name="gamification")

    yield invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def as_json(result: Result) -> object:
    return json.loads(ok(result).stdout)


SEED = [
    ["init"],
    ["award-xp", "alice", "450", "--key", "a1", "--at", T],
    ["award-points", "alice", "100", "--key", "p1", "--at", T],
    ["award-xp", "bob", "200", "--at", T],
]


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded database, made once through the CLI; each test gets a copy."""
    folder = tmp_path_factory.mktemp("template")
    config = folder / "game.toml"
    config.write_text(CONFIG.format(top=""))
    db = folder / "game.db"
    for args in SEED:
        head = ["--db", str(db), "--no-plugins", "--config", str(config)]
        ok(CliRunner().invoke(cli, [*head, *args]))
    return db


@pytest.fixture
def seeded(template: Path, db: Path) -> Path:
    """alice (450 XP, 100 points) and bob (200 XP), at T."""
    shutil.copyfile(template, db)
    return db


# -- init and the missing database --------------------------------------------------------


def test_init_creates_the_database_then_reports_it_up_to_date(run: Run, db: Path) -> None:
    assert not db.exists()
    assert ok(run("init")).stdout.startswith(f"created {db} (")
    assert db.exists()
    assert ok(run("init")).stdout == f"{db} is up to date\n"
    assert as_json(run("--json", "init")) == {
        "db": str(db),
        "created": False,
        "migrations_applied": [],
    }


def test_init_json_lists_the_migrations_it_applied(run: Run, db: Path) -> None:
    report = as_json(run("init", "--json"))
    assert isinstance(report, dict) and report["created"] is True
    assert report["migrations_applied"][0] == "m001_profiles_and_xp"


COMMANDS = [
    pytest.param(["load", "defs.toml"], id="load"),
    pytest.param(["award-xp", "alice", "10"], id="award-xp"),
    pytest.param(["award-points", "alice", "10"], id="award-points"),
    pytest.param(["track", "alice", "workout"], id="track"),
    pytest.param(["profile", "alice"], id="profile"),
    pytest.param(["history", "alice"], id="history"),
    pytest.param(["leaderboard"], id="leaderboard"),
    pytest.param(["verify"], id="verify"),
    pytest.param(["reevaluate"], id="reevaluate"),
    pytest.param(["run-jobs", "--at", T], id="run-jobs"),
    pytest.param(["export-user", "alice"], id="export-user"),
    pytest.param(["delete-user", "alice", "--yes"], id="delete-user"),
]
EVERY_COMMAND = [pytest.param(["init"], id="init"), *COMMANDS]


@pytest.mark.parametrize("args", COMMANDS)
def test_only_init_creates_a_database(run: Run, folder: Path, args: list[str]) -> None:
    before = files(folder)
    line = assert_error(run(*args))
    assert line == f"error: --db: no database at {folder / 'game.db'}; create one with " + (
        "`gamification init`"
    )
    assert files(folder) == before


# -- happy paths --------------------------------------------------------------------------


def test_award_xp_table_json_and_idempotent_retry(run: Run, db: Path) -> None:
    ok(run("init"))
    first = ok(run("award-xp", "ada", "450", "--key", "post-42", "--at", T)).stdout
    assert first == "ada: +450 XP, total 450, level 1 -> 3\n"
    again = as_json(run("--json", "award-xp", "ada", "450", "--key", "post-42", "--at", T))
    assert isinstance(again, dict)
    assert (again["total_xp"], again["new_level"], again["leveled_up"]) == (450, 3, True)
    assert again["created_at"] == "2026-03-02T12:00:00+00:00"
    assert as_json(run("profile", "ada", "--json"))["xp"] == 450


def test_award_xp_metadata_and_source(run: Run) -> None:
    ok(run("init"))
    ok(run("award-xp", "ada", "5", "--source", "quiz", "--metadata", '{"quiz": 7}'))
    out = as_json(run("--json", "award-xp", "ada", "5", "--source", "quiz"))
    assert isinstance(out, dict) and out["source"] == "quiz" and out["total_xp"] == 10


def test_award_points_in_the_default_and_another_currency(run: Run) -> None:
    ok(run("init"))
    text = ok(run("award-points", "ada", "100", "--at", T)).stdout
    assert text == "ada: +100 points, balance 0 -> 100 (transaction 1)\n"
    gems = as_json(run("--json", "award-points", "ada", "7", "--currency", "gems"))
    assert isinstance(gems, dict)
    assert (gems["currency"], gems["balance_after"], gems["type"]) == ("gems", 7, "earned")


def test_award_points_with_its_own_expiry(run: Run, folder: Path) -> None:
    (folder / "expiring.toml").write_text(
        '[[currencies]]\nname = "points"\nexpire_after_days = 30\n'
    )
    ok(run("init", config="expiring.toml"))
    args = ("award-points", "ada", "5", "--at", T, "--expires-at", "2026-03-09T12:00:00+01:00")
    ok(run(*args, config="expiring.toml"))
    conn = sqlite3.connect(folder / "game.db")
    try:
        (found,) = conn.execute("SELECT expires_at FROM point_lots").fetchone()
    finally:
        conn.close()
    assert found == "2026-03-09T11:00:00.000000+00:00"


def test_load_reports_added_then_unchanged(run: Run, folder: Path) -> None:
    ok(run("init"))
    text = ok(run("load", "defs.toml")).stdout
    assert text.splitlines()[0] == "defs.toml: 2 added, 0 updated, 0 retired, 0 unchanged"
    assert "added   first_workout" in text
    (folder / "defs.json").write_text(json.dumps({"rules": [{"event": "run", "xp": 5}]}))
    report = as_json(run("--json", "load", "defs.json", "--name", "extra"))
    assert isinstance(report, dict) and report["source"] == "extra"
    assert report["added"] == ["rule:run"]
    again = as_json(run("--json", "load", "defs.toml"))
    assert isinstance(again, dict) and again["added"] == [] and len(again["unchanged"]) == 2


def test_track_pays_rules_and_unlocks_achievements(run: Run) -> None:
    ok(run("init"))
    ok(run("load", "defs.toml"))
    text = ok(run("track", "ada", "workout", '{"minutes": 30}', "--at", T)).stdout
    assert text.splitlines()[0] == "ada: tracked workout x1 at 2026-03-02T12:00:00+00:00"
    assert "unlocked  First workout [first_workout, common]: +50 XP" in text
    result = as_json(run("--json", "track", "ada", "workout", "--value", "2.5", "--key", "w2"))
    assert isinstance(result, dict)
    assert (result["value"], result["unlocked"], result["xp"]["amount"]) == (2.5, [], 10)


def test_profile_table_and_json(run: Run, seeded: Path) -> None:
    text = ok(run("profile", "alice")).stdout
    assert "level     3 of 100 (50/500 XP into the level, 10%)" in text
    assert "points    100" in text and "gems" not in text  # no account yet
    profile = as_json(run("--json", "profile", "alice", "--at", T))
    assert isinstance(profile, dict)
    assert (profile["xp"], profile["level"]) == (450, 3)
    assert profile["balances"]["points"]["available"] == 100


def test_history_pages_and_totals(run: Run, seeded: Path) -> None:
    ok(run("award-points", "alice", "5", "--currency", "gems", "--description", "bonus"))
    text = ok(run("history", "alice")).stdout
    assert text.splitlines()[0].split() == [
        "id",
        "at",
        "type",
        "amount",
        "currency",
        "balance",
        "source",
        "note",
    ]
    assert "+5  gems" in text and "bonus" in text
    assert "currency  earned  spent  net" in text
    page = as_json(run("--json", "history", "alice", "--limit", "1"))
    assert isinstance(page, dict) and len(page["transactions"]) == 1
    assert page["next_before"] == page["transactions"][0]["id"]
    older = ok(run("history", "alice", "--limit", "1", "--before", str(page["next_before"])))
    assert "+100  points" in older.stdout
    only = as_json(run("--json", "history", "alice", "--currency", "points"))
    assert isinstance(only, dict) and [t["currency"] for t in only["transactions"]] == ["points"]
    assert ok(run("history", "bob")).stdout == "no transactions\n"


def test_leaderboard_table_json_and_viewer(run: Run, seeded: Path) -> None:
    lines = ok(run("leaderboard")).stdout.splitlines()
    assert lines[0] == "xp · all_time all · global · 2 ranked"
    assert [line.split()[:2] for line in lines[3:]] == [["1", "alice"], ["2", "bob"]]
    board = as_json(run("--json", "leaderboard", "xp", "--limit", "1", "--viewer", "bob"))
    assert isinstance(board, dict)
    assert [e["user_id"] for e in board["entries"]] == ["alice"]
    assert board["viewer"]["rank"] == 2
    text = ok(run("leaderboard", "--limit", "1", "--viewer", "bob")).stdout
    assert "bob (you)" in text.splitlines()[-1]
    weekly = as_json(run("--json", "leaderboard", "--period", "weekly", "--at", T))
    assert isinstance(weekly, dict) and weekly["period_key"] == "2026-W10"
    assert weekly["total"] == 2
    page = as_json(run("--json", "leaderboard", "--offset", "5"))
    assert isinstance(page, dict) and page["entries"] == []
    assert "nobody on this page" in ok(run("leaderboard", "--offset", "5")).stdout


def test_verify_ok_then_exit_4_on_problems(run: Run, seeded: Path) -> None:
    assert ok(run("verify")).stdout.startswith("ledger ok: 1 transactions")
    assert as_json(run("--json", "verify"))["problems"] == []
    conn = sqlite3.connect(seeded)
    conn.execute("UPDATE accounts SET balance = balance + 5 WHERE user_id = 'alice'")
    conn.commit()
    conn.close()
    result = run("verify")
    assert result.exit_code == 4 and result.stderr == ""
    assert result.stdout.startswith("ledger: 2 problem(s); 1 transactions")
    assert result.stdout.splitlines()[3].split()[:2] == ["balance_mismatch", "alice"]
    result = run("--json", "verify")
    assert result.exit_code == 4
    kinds = [p["kind"] for p in json.loads(result.stdout)["problems"]]
    assert "balance_mismatch" in kinds


def test_reevaluate_awards_what_users_already_meet(run: Run, seeded: Path) -> None:
    ok(run("track", "alice", "workout", "--at", T))  # before the definitions exist
    ok(run("load", "defs.toml"))
    result = ok(run("reevaluate"))
    assert "re-evaluating" in result.stderr  # the progress bar, on stderr
    assert result.stdout.splitlines()[0] == "re-evaluated 2 user(s): 1 unlock(s)"
    assert "alice  first_workout" in result.stdout
    again = as_json(run("--json", "reevaluate", "alice", "bob"))
    assert again == {"users": 2, "unlocked": [], "resumed_after": None}


def test_run_jobs_runs_what_is_due_once(run: Run, seeded: Path) -> None:
    text = ok(run("run-jobs", "--at", LATER)).stdout
    assert text.startswith("jobs at 2026-03-02T13:00:00+00:00: ")
    assert "streak_sweep" in text and " ran " in text
    report = as_json(run("--json", "run-jobs", "--at", LATER))
    assert isinstance(report, dict) and report["ran"] == []
    assert {s["reason"] for s in report["skipped"]} == {"already ran"}


def test_run_jobs_exits_3_while_another_process_holds_the_lease(run: Run, seeded: Path) -> None:
    conn = sqlite3.connect(seeded)
    conn.execute(
        "INSERT INTO leases (name, holder, expires_at) VALUES (?, 'other-host:42', ?)",
        (LEASE_NAME, "2999-01-01T00:00:00.000000+00:00"),
    )
    conn.commit()
    conn.close()
    result = run("--json", "run-jobs", "--at", LATER)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["blocked_by"] == "other-host:42"
    assert result.stderr.startswith("error: scheduler: the lease is held by other-host:42")


def test_export_user_to_stdout_and_to_a_file(run: Run, seeded: Path, folder: Path) -> None:
    export = as_json(run("export-user", "alice"))
    assert isinstance(export, dict) and export["user_id"] == "alice"
    assert [row["xp"] for row in export["tables"]["profiles"]] == [450]
    text = ok(run("export-user", "alice", "-o", "alice.json")).stdout
    assert text.startswith("wrote ") and text.endswith(" about alice to alice.json\n")
    written = json.loads((folder / "alice.json").read_text())
    assert written["tables"]["accounts"] == export["tables"]["accounts"]
    summary = as_json(run("--json", "export-user", "alice", "--output", "again.json"))
    assert isinstance(summary, dict) and summary["rows"]["profiles"] == 1


def test_delete_user_asks_first(run: Run, seeded: Path) -> None:
    before = dump(seeded)
    refused = run("delete-user", "alice", input="n\n")
    assert refused.exit_code == 1 and "Erase 'alice'" in refused.stderr
    assert refused.stdout == ""
    assert dump(seeded) == before
    text = ok(run("delete-user", "alice", input="y\n")).stdout
    assert text.startswith("erased alice: ") and "anonymised as deleted-" in text
    assert_error(run("profile", "alice"))
    assert ok(run("verify")).stdout.startswith("ledger ok")


def test_delete_user_yes_json_and_keyed_retry(run: Run, seeded: Path) -> None:
    first = as_json(run("--json", "delete-user", "alice", "--yes", "--key", "gdpr-1"))
    assert isinstance(first, dict) and first["forfeited"] == {"points": 100}
    again = as_json(run("--json", "delete-user", "alice", "--yes", "--key", "gdpr-1"))
    assert again == first
    line = assert_error(run("delete-user", "alice", "--yes"))
    assert line == f"error: user_id: no profile for 'alice' in {seeded}"


def test_json_is_one_document_after_the_command_too(run: Run, seeded: Path) -> None:
    for args in (["profile", "alice", "--json"], ["--json", "profile", "alice"]):
        assert as_json(run(*args))["user_id"] == "alice"


# -- exit codes ---------------------------------------------------------------------------


def test_help_documents_the_commands_and_exit_codes(run: Run) -> None:
    text = ok(run("--help")).stdout
    for command in ("init", "award-xp", "leaderboard", "run-jobs", "delete-user"):
        assert f"  {command} " in text
    assert "Exit codes:" in text
    for code in ("0  success", "1  user error", "2  usage error", "3  database busy", "4  verify"):
        assert code in text


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["nope"], id="unknown-command"),
        pytest.param(["award-xp", "alice"], id="missing-argument"),
        pytest.param(["award-xp", "alice", "ten"], id="not-an-int"),
        pytest.param(["history", "alice", "--limit"], id="missing-option-value"),
        pytest.param(["profile", "alice", "--bogus"], id="unknown-option"),
    ],
)
def test_usage_errors_exit_2(run: Run, seeded: Path, args: list[str]) -> None:
    before = dump(seeded)
    result = run(*args)
    assert result.exit_code == 2 and "Error: " in result.stderr and result.stdout == ""
    assert dump(seeded) == before


def test_a_locked_database_exits_3(run: Run, seeded: Path) -> None:
    before = dump(seeded)
    holder = sqlite3.connect(seeded, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        line = assert_error(run("award-xp", "alice", "5", config="fast.toml"), code=3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked" in line and "retry" in line
    assert dump(seeded) == before


# -- the bad-input table ------------------------------------------------------------------


@pytest.mark.parametrize("args", EVERY_COMMAND)
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param("missing.toml", "missing.toml: cannot read", id="missing-config"),
        pytest.param("bad.json", "bad.json: not valid json", id="bad-json-config"),
        pytest.param("bad.toml", "bad.toml: not valid toml", id="bad-toml-config"),
        pytest.param("a-folder", "a-folder: cannot read", id="config-is-a-folder"),
    ],
)
def test_every_command_refuses_a_bad_config_file(
    run: Run, seeded: Path, folder: Path, args: list[str], config: str, expected: str
) -> None:
    before, listing = dump(seeded), files(folder)
    line = assert_error(run(*args, config=config))
    assert line.startswith(f"error: {expected}")
    assert dump(seeded) == before and files(folder) == listing
    fresh = folder / "fresh.db"  # not made either, even by init
    assert_error(run(*args, db=fresh, config=config))
    assert not fresh.exists()


@pytest.mark.parametrize("args", EVERY_COMMAND)
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("a-folder", "is a directory", id="db-is-a-folder"),
        pytest.param("no/such/dir/game.db", "", id="db-in-a-missing-folder"),
        pytest.param("not-a-db.db", "is not a SQLite database", id="db-is-text"),
    ],
)
def test_every_command_refuses_a_bad_database_path(
    run: Run, seeded: Path, folder: Path, args: list[str], path: str, expected: str
) -> None:
    before, listing = dump(seeded), files(folder)
    text = (folder / "not-a-db.db").read_text()
    line = assert_error(run(*args, db=path))
    assert line.startswith("error: --db: ") and expected in line
    assert dump(seeded) == before and files(folder) == listing
    assert (folder / "not-a-db.db").read_text() == text


def test_a_sqlite_file_that_is_not_ours_is_refused_not_migrated(run: Run, folder: Path) -> None:
    other = folder / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    before = dump(other)
    for args in (["init"], ["profile", "alice"], ["verify"]):
        line = assert_error(run(*args, db=other))
        assert line.startswith(f"error: --db: {other} is not a gamification database")
    assert dump(other) == before


UNKNOWN_USER = [
    pytest.param(["profile", "ghost"], "user_id", id="profile"),
    pytest.param(["history", "ghost"], "user_id", id="history"),
    pytest.param(["leaderboard", "--viewer", "ghost"], "--viewer", id="leaderboard-viewer"),
    pytest.param(["export-user", "ghost"], "user_id", id="export-user"),
    pytest.param(["export-user", "ghost", "-o", "ghost.json"], "user_id", id="export-user-o"),
    pytest.param(["delete-user", "ghost", "--yes"], "user_id", id="delete-user"),
    pytest.param(["delete-user", "ghost"], "user_id", id="delete-user-unasked"),
    pytest.param(["reevaluate", "alice", "ghost"], "user_id", id="reevaluate"),
]


@pytest.mark.parametrize(("args", "field"), UNKNOWN_USER)
def test_reads_of_an_unknown_user_fail_and_create_nothing(
    run: Run, seeded: Path, folder: Path, args: list[str], field: str
) -> None:
    before, listing = dump(seeded), files(folder)
    line = assert_error(run(*args))
    assert line == f"error: {field}: no profile for 'ghost' in {seeded}"
    assert dump(seeded) == before and files(folder) == listing


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["award-xp", "ghost", "10"], id="award-xp"),
        pytest.param(["award-points", "ghost", "10"], id="award-points"),
        pytest.param(["track", "ghost", "workout"], id="track"),
        pytest.param(["delete-user", "ghost", "--yes", "--key", "k"], id="delete-user-keyed"),
    ],
)
def test_writes_for_an_unknown_user_fail_when_auto_create_is_off(
    run: Run, seeded: Path, args: list[str]
) -> None:
    ok(run("config", "apply", "strict.toml"))  # auto_create_profiles = false, stored
    before = dump(seeded)
    line = assert_error(run(*args, config=None))
    assert line.startswith("error: user_id: no profile for 'ghost' (")
    assert dump(seeded) == before


BAD_VALUES = [
    pytest.param(["load", "missing.toml"], "missing.toml: cannot read", id="load-missing"),
    pytest.param(["load", "bad.json"], "bad.json: not valid json", id="load-bad-json"),
    pytest.param(["load", "bad.toml"], "bad.toml: not valid toml", id="load-bad-toml"),
    pytest.param(["load", "a-folder"], "a-folder: cannot read", id="load-a-folder"),
    pytest.param(["load", "game.toml"], "game.toml: ", id="load-a-config-file"),
    pytest.param(
        ["track", "alice", "workout", "{nope"], "properties: not valid JSON", id="track-bad-json"
    ),
    pytest.param(
        ["track", "alice", "workout", "[1, 2]"],
        "properties: expected a JSON object",
        id="track-json-array",
    ),
    pytest.param(
        ["award-xp", "alice", "5", "--metadata", "{"],
        "--metadata: not valid JSON",
        id="award-xp-bad-json",
    ),
    pytest.param(
        ["award-points", "alice", "5", "--metadata", "nan"],
        "--metadata: not valid JSON",
        id="award-points-bad-json",
    ),
    pytest.param(
        ["award-points", "alice", "5", "--expires-at", "2027-01-01T00:00:00"],
        "--expires-at: ",
        id="award-points-naive-expiry",
    ),
    pytest.param(
        ["award-points", "alice", "5", "--expires-at", "2027-01-01T00:00:00Z"],
        "expires_at: 'points' does not expire",
        id="award-points-expiry-of-a-lasting-currency",
    ),
    pytest.param(["award-xp", "alice", "0"], "amount: ", id="award-xp-zero"),
    pytest.param(["award-points", "alice", "--", "-5"], "amount: ", id="award-points-negative"),
    pytest.param(
        ["award-points", "alice", "5", "--currency", "gold"],
        "currency: unknown",
        id="unknown-currency",
    ),
    pytest.param(["award-xp", "alice", "5", "--at", "2026-03-02T12:00"], "--at: ", id="naive-at"),
    pytest.param(["track", "alice", "workout", "--at", "yesterday"], "--at: ", id="bad-at"),
    pytest.param(["award-xp", "", "5"], "user_id: must not be empty", id="empty-user"),
    pytest.param(
        ["award-xp", "alice", "5", "--key", "k" * 300], "idempotency_key: ", id="long-key"
    ),
    pytest.param(["award-xp", "alice", "5", "--key", "a1"], "idempotency_key: ", id="key-reused"),
    pytest.param(["history", "alice", "--limit", "0"], "limit: ", id="history-limit"),
    pytest.param(["history", "alice", "--currency", "gold"], "currency: ", id="history-currency"),
    pytest.param(["leaderboard", "nope"], "board: unknown board", id="unknown-board"),
    pytest.param(["leaderboard", "--period", "yearly"], "period", id="unknown-period"),
    pytest.param(
        ["leaderboard", "--period", "weekly", "--period-key", "2026-W99"],
        "period_key: '2026-W99': 2026 has ISO weeks 1 to 53, not 99",
        id="impossible-period-key",
    ),
    pytest.param(["leaderboard", "--group", "gym"], "group: unknown group", id="unknown-group"),
    pytest.param(["leaderboard", "--scope", "friends"], "viewer: ", id="friends-no-viewer"),
    pytest.param(["run-jobs", "--at", "soon"], "--at: ", id="run-jobs-bad-at"),
    pytest.param(
        ["export-user", "alice", "-o", "no/such/dir/x.json"], "No such file", id="export-bad-path"
    ),
    pytest.param(["export-user", "alice", "-o", "a-folder"], "a-folder: ", id="export-to-a-folder"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_VALUES)
def test_bad_values_give_one_line_and_change_nothing(
    run: Run, seeded: Path, folder: Path, args: list[str], expected: str
) -> None:
    before, listing = dump(seeded), files(folder)
    line = assert_error(run(*args))
    assert expected in line, line
    assert dump(seeded) == before and files(folder) == listing


# -- the installed script -----------------------------------------------------------------


def test_the_installed_console_script(tmp_path: Path) -> None:
    script = shutil.which("gamification", path=str(Path(sys.executable).parent))
    assert script is not None, "pip install -e . installs the gamification script"
    db = tmp_path / "game.db"

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, "--db", str(db), "--no-plugins", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    missing = call("profile", "ada")
    assert missing.returncode == 1 and not db.exists()
    assert missing.stderr.strip().splitlines() == [
        f"error: --db: no database at {db}; create one with `gamification init`"
    ]
    assert call("init").returncode == 0
    assert call("award-xp", "ada", "150").returncode == 0
    profile = call("--json", "profile", "ada")
    assert profile.returncode == 0 and json.loads(profile.stdout)["level"] == 2
    bad = call("track", "ada", "workout", "{")
    assert bad.returncode == 1 and bad.stdout == "" and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_the_guide_lists_every_command_and_exit_code() -> None:
    root = Path(__file__).resolve().parent.parent
    section = (root / "docs" / "guides" / "command-line.md").read_text("utf-8")
    readme = (root / "README.md").read_text("utf-8").split("## Command line\n", 1)[1]
    assert "(docs/guides/command-line.md)" in readme.split("\n## ", 1)[0]
    ours = [
        name
        for name, command in cli.commands.items()
        if command.callback is not None
        and command.callback.__module__.startswith("gamification_sdk.cli.")
    ]
    assert len(ours) == 15
    for name in ours:
        assert f"`{name}" in section, name
        for sub in getattr(cli.commands[name], "commands", {}):
            assert f"`{name} {sub}" in section, f"{name} {sub}"
    for code in range(5):
        assert f"\n| {code} | " in section


def test_a_command_from_another_module_joins_with_one_line(run: Run, seeded: Path) -> None:
    @click.command("hello")
    @click.argument("user_id")
    @pass_state
    def hello(state: State, user_id: str) -> None:
        state.require_user(user_id)
        click.echo(json.dumps({"hi": user_id}) if state.as_json else f"hi {user_id}")

    cli.add_command(hello)
    try:
        assert ok(run("hello", "alice")).stdout == "hi alice\n"
        assert as_json(run("--json", "hello", "alice")) == {"hi": "alice"}
        assert_error(run("hello", "ghost"))
        assert "--json" not in ok(run("hello", "--help")).stdout  # left as it was written
    finally:
        del cli.commands["hello"]


def test_init_takes_an_empty_file(run: Run, db: Path) -> None:
    db.touch()
    assert ok(run("init")).stdout.startswith(f"created {db} (")
    assert ok(run("verify")).stdout.startswith("ledger ok")


def test_simulate_joins_the_group_with_its_error_format(run: Run, folder: Path) -> None:
    out = folder / "sim"
    done = ok(run("simulate", "--users", "5", "--days", "2", "--out", str(out), config=None))
    assert (out / "summary.md").is_file() and "summary.md" in done.stderr
    # Its own user errors (a plain ClickException) come out in this group's one-line format.
    assert_error(run("simulate", "--users", "0", config=None))
    # Usage errors stay click's own.
    assert run("simulate", "--nope", config=None).exit_code == 2
