"""The store: pragmas, locking, migrations, threads, batches, and closing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from conftest import START, unchanged

import gamification_sdk.runtime.opening as opening_module
from gamification_sdk import (
    Config,
    FakeClock,
    Gamification,
    LevelsConfig,
    Transaction,
    XPAward,
    errors,
    hookimpl,
)
from gamification_sdk.storage.schema import _script as run_script
from gamification_sdk.storage.schema import migrations

Make = Callable[..., Gamification]


def pragma(g: Gamification, name: str) -> Any:
    return g.db.execute(f"PRAGMA {name}").fetchone()[0]


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# -- pragmas ---------------------------------------------------------------------------------


def test_file_database_pragmas(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path)
    assert pragma(g, "journal_mode") == "wal"
    assert pragma(g, "foreign_keys") == 1
    assert pragma(g, "synchronous") == 1  # NORMAL
    # WAL is a property of the file: other connections see it too.
    with closing(raw(db_path)) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_full_durability(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path, config=Config(durability="full"))
    assert pragma(g, "synchronous") == 2  # FULL
    assert pragma(g, "journal_mode") == "wal"


def test_busy_timeout_pragma(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path, config=Config(busy_timeout=0.25))
    assert pragma(g, "busy_timeout") == 250


@pytest.mark.sqlite_only(reason="SQLite's foreign_keys pragma; PostgreSQL always enforces keys")
def test_foreign_keys_on_in_memory_too(g: Gamification) -> None:
    assert pragma(g, "foreign_keys") == 1


# -- locking ---------------------------------------------------------------------------------


WRITES: dict[str, Callable[[Gamification], object]] = {
    "award_xp": lambda g: g.award_xp("alice", 10, source="quest"),
    "award_points": lambda g: g.award_points("alice", 10, currency="points", source="quest"),
    "spend_points": lambda g: g.spend_points("alice", 1, currency="points", source="shop"),
    "expire_reservations": lambda g: g.points.expire_reservations(),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_locked_database_raises_busy_then_recovers(
    make_engine: Make, db_path: Path, write: str
) -> None:
    g = make_engine(db_path, config=Config(busy_timeout=0.05))
    g.award_points("alice", 5, currency="points", source="seed")
    before = g.dump()
    with closing(raw(db_path)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(errors.Busy) as info:
            WRITES[write](g)
        assert not isinstance(info.value, sqlite3.Error)
        assert isinstance(info.value, errors.GamificationError)
        assert info.value.retryable is True
        assert "retry" in str(info.value)
        # Readers are not blocked by a writer under WAL, and nothing was written.
        assert g.profile("alice").balances["points"].balance == 5
        assert g.dump() == before
        other.execute("ROLLBACK")
    WRITES[write](g)
    if write != "expire_reservations":
        assert g.dump() != before
    assert not g.verify_ledger()


def test_busy_is_retryable_class_attribute() -> None:
    assert errors.Busy.retryable is True
    assert issubclass(errors.Busy, errors.GamificationError)
    assert not issubclass(errors.Busy, sqlite3.OperationalError)


def test_batch_on_locked_database_raises_busy(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path, config=Config(busy_timeout=0.05))
    entered = False
    with closing(raw(db_path)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(errors.Busy), g.batch():
            entered = True
        other.execute("ROLLBACK")
    assert not entered
    with g.batch():
        g.award_xp("alice", 1, source="quest")
    assert g.profile("alice").xp == 1


def test_open_on_locked_database_raises_busy(clock: FakeClock, db_path: Path) -> None:
    Gamification.open(db_path, clock=clock, load_entrypoints=False).close()
    with closing(raw(db_path)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(errors.Busy):
            Gamification.open(
                db_path, config=Config(busy_timeout=0.05), clock=clock, load_entrypoints=False
            )
        other.execute("ROLLBACK")
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert g.award_xp("alice", 1, source="quest").total_xp == 1


# -- migrations ------------------------------------------------------------------------------


def _old_database(path: Path) -> None:
    """A database as the first release left it: only m001, with a user and an award."""
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m002_points_ledger")
    when = "2025-06-01T10:00:00.000000+00:00"
    db.execute(
        "INSERT INTO profiles (user_id, xp, level, prestige, xp_at_prestige, created_at, "
        "updated_at) VALUES ('veteran', 450, 3, 0, 0, ?, ?)",
        [when, when],
    )
    db.execute(
        "INSERT INTO xp_awards (id, user_id, base_amount, multiplier, amount, total_xp, "
        "level_before, level_after, source, metadata, idempotency_key, created_at) "
        "VALUES (1, 'veteran', 450, 1.0, 450, 450, 1, 3, 'legacy', '{\"v\": 1}', 'old-key', ?)",
        [when],
    )
    db.conn.commit()
    db.close()


def test_migration_upgrade(clock: FakeClock, db_path: Path) -> None:
    _old_database(db_path)
    with closing(raw(db_path)) as check:
        tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "profiles" in tables
    assert "transactions" not in tables

    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert migrations.pending(g.db) == []
        p = g.profile("veteran")
        assert (p.level, p.xp, p.xp_into_level, p.prestige) == (3, 450, 50, 0)
        assert p.created_at is not None
        assert p.created_at.year == 2025
        (entry,) = g.xp.history("veteran")
        assert (entry.amount, entry.source, entry.metadata, entry.idempotency_key) == (
            450,
            "legacy",
            {"v": 1},
            "old-key",
        )
        # The new tables work.
        txn = g.award_points("veteran", 25, currency="points", source="welcome-back")
        assert txn.balance_after == 25
        assert g.award_xp("rookie", 50, source="quest").total_xp == 50
        assert not g.verify_ledger()
        dump = g.dump()
        applied = [m.name for m in migrations.applied(g.db)]
    assert applied[:2] == ["m001_profiles_and_xp", "m002_points_ledger"]

    clock.advance(days=1)
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as again:
        assert again.dump() == dump  # reopening runs nothing and writes nothing
        assert [m.name for m in migrations.applied(again.db)] == applied
        assert again.profile("veteran").xp == 450
        assert again.profile("rookie").xp == 50
        assert again.balance("veteran", "points") == 25


def test_fresh_file_is_fully_migrated_and_reopen_is_a_noop(clock: FakeClock, db_path: Path) -> None:
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        g.award_xp("alice", 10, source="quest")
        dump = g.dump()
        assert migrations.pending(g.db) == []
    clock.advance(hours=5)
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert g.dump() == dump


def _with_migration(monkeypatch: pytest.MonkeyPatch, name: str, sql: str) -> None:
    """Make the engine run the schema's migrations and then one more, running ``sql`` as the
    schema's own migrations run theirs."""
    extended = sqlite_utils.Migrations(migrations.name)
    for migration in migrations.pending(sqlite_utils.Database(memory=True)):
        extended(name=migration.name)(migration.fn)
    extended(name=name)(lambda db: run_script(db, sql))
    monkeypatch.setattr(opening_module, "migrations", extended)


def _file_dump(path: Path) -> list[str]:
    with closing(raw(path)) as conn:
        return list(conn.iterdump())


NOTES_MIGRATION = """
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE note_log (note_id INTEGER NOT NULL, line TEXT NOT NULL);
-- A comment; with a semicolon. /* Not a block comment;
INSERT INTO notes (body) VALUES (';'), ('a; b'), ('it''s; "quoted"');
CREATE TRIGGER notes_logged AFTER INSERT ON notes BEGIN
    INSERT INTO note_log VALUES (new.id, 'first;');
    /* a block comment; */
    INSERT INTO note_log VALUES (new.id, 'second');
END;
CREATE VIEW "odd;name" AS SELECT body FROM notes
"""


def test_a_migration_runs_each_statement_whole(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, db_path: Path
) -> None:
    _with_migration(monkeypatch, "m999_notes", NOTES_MIGRATION)
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert migrations.applied(g.db)[-1].name == "m999_notes"
    with closing(raw(db_path)) as conn:
        bodies = [row[0] for row in conn.execute("SELECT body FROM notes ORDER BY id")]
        assert bodies == [";", "a; b", 'it\'s; "quoted"']
        assert conn.execute("SELECT count(*) FROM note_log").fetchone()[0] == 0
        # The trigger kept both statements of its body.
        conn.execute("INSERT INTO notes (body) VALUES ('later')")
        log = conn.execute("SELECT note_id, line FROM note_log ORDER BY rowid").fetchall()
        assert log == [(4, "first;"), (4, "second")]
        assert conn.execute('SELECT count(*) FROM "odd;name"').fetchone()[0] == 4


def test_a_failing_migration_leaves_the_file_at_the_previous_version(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, db_path: Path
) -> None:
    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m013_xp_award_keys")
    db.close()
    before = _file_dump(db_path)
    # It fails at its last statement, after changing rows and the schema; m013 ran before it.
    broken = (
        "CREATE TABLE half (x TEXT); INSERT INTO half VALUES (';'); INSERT INTO nowhere VALUES (1)"
    )
    _with_migration(monkeypatch, "m999_broken", broken)
    with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
        Gamification.open(db_path, clock=clock, load_entrypoints=False)
    assert _file_dump(db_path) == before
    db = sqlite_utils.Database(db_path)
    assert migrations.applied(db)[-1].name == "m012_readable_views"
    assert "fingerprint" not in db["xp_awards"].columns_dict
    db.close()


# -- threads ---------------------------------------------------------------------------------


def test_threads_sharing_one_engine(make_engine: Make, db_path: Path) -> None:
    config = Config(levels=LevelsConfig(level_up_bonus={"points": 3}))
    g = make_engine(db_path, config=config)
    threads_n, per_thread, users = 8, 200, [f"user-{i}" for i in range(5)]
    barrier = threading.Barrier(threads_n)
    failures: list[BaseException] = []

    def amount(t: int, i: int) -> int:
        return 1 + (t * 31 + i * 7) % 50

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                g.award_xp(users[(t + i) % len(users)], amount(t, i), source=f"thread-{t}")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    expected = dict.fromkeys(users, 0)
    for t in range(threads_n):
        for i in range(per_thread):
            expected[users[(t + i) % len(users)]] += amount(t, i)
    total_entries = 0
    for user in users:
        p = g.profile(user)
        assert p.xp == expected[user]
        history = g.xp.history(user, limit=1000)
        total_entries += len(history)
        assert sum(e.amount for e in history) == expected[user]
        assert p.balances["points"].balance == 3 * (p.level - 1)
    assert total_entries == threads_n * per_thread
    assert not g.verify_ledger()


# -- batch -----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    @hookimpl
    def on_xp_awarded(self, award: XPAward) -> None:
        self.events.append(("xp", award.id))

    @hookimpl
    def on_points_changed(self, transaction: Transaction) -> None:
        self.events.append(("points", transaction.id))


class BadFactorForSource:
    @hookimpl
    def xp_multiplier(self, source: str) -> float | None:
        return -1.0 if source == "bad" else None


def committed_xp_rows(path: Path) -> int:
    with closing(raw(path)) as other:
        return int(other.execute("SELECT COUNT(*) FROM xp_awards").fetchone()[0])


def test_batch_commits_together(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path)
    with g.batch():
        for i in range(50):
            g.award_xp(f"user-{i % 7}", 10 + i, source="import")
        g.award_points("user-0", 5, currency="points", source="import")
        assert committed_xp_rows(db_path) == 0  # nothing visible to others yet
        assert g.profile("user-0").xp > 0  # but the batch sees its own writes
    assert committed_xp_rows(db_path) == 50
    assert sum(g.profile(f"user-{i}").xp for i in range(7)) == sum(10 + i for i in range(50))
    assert not g.verify_ledger()


def test_exception_escaping_batch_rolls_back_everything(g: Gamification) -> None:
    g.award_xp("alice", 10, source="seed")
    with unchanged(g), pytest.raises(RuntimeError, match="abort"), g.batch():
        g.award_xp("alice", 500, source="import")
        g.award_points("bob", 5, currency="points", source="import", idempotency_key="b1")
        raise RuntimeError("abort")
    # The key was rolled back with the write.
    assert g.award_points("bob", 7, currency="points", source="x", idempotency_key="b1").amount == 7


def test_caught_errors_do_not_poison_the_batch(make_engine: Make) -> None:
    g = make_engine(plugins=(BadFactorForSource(),))
    with g.batch():
        g.award_xp("alice", 10, source="import")
        with pytest.raises(errors.InvalidInput):
            g.award_xp("alice", 0, source="import")  # refused before writing
        with pytest.raises(errors.InvalidInput) as info:
            g.award_xp("newcomer", 10, source="bad")  # refused after creating the profile
        assert info.value.field == "xp_multiplier"
        with pytest.raises(errors.InsufficientFunds):
            g.spend_points("alice", 10, currency="points", source="shop")
        g.award_points("alice", 5, currency="points", source="import")
        g.award_xp("alice", 20, source="import")
    assert g.profile("alice").xp == 30
    assert g.balance("alice", "points") == 5
    assert g.profile("newcomer").created_at is None  # its half-done write was undone
    assert len(g.xp.history("newcomer")) == 0
    assert not g.verify_ledger()


@pytest.mark.sqlite_only(
    reason="fills the file's one issuance row; PostgreSQL books issuance per user, which "
    "cannot overflow across users"
)
def test_a_write_failing_after_changing_rows_dooms_the_batch(g: Gamification) -> None:
    g.award_xp("alice", 3, source="seed")
    big = 2**53
    with unchanged(g), pytest.raises(errors.BatchAborted) as info, g.batch():
        for i in range(1024):
            g.award_points(f"u{i}", big, currency="points", source="quest")
        # Issuance is full: the transaction row is written, then the balance update fails.
        with pytest.raises(errors.InvalidInput):
            g.award_points("one-too-many", big, currency="points", source="quest")
        with pytest.raises(errors.BatchAborted):
            g.award_xp("alice", 5, source="later")  # a doomed batch refuses more writes
    assert isinstance(info.value.cause, errors.InvalidInput)
    assert not g.verify_ledger()


@pytest.mark.sqlite_only(
    reason="fills the file's one issuance row; PostgreSQL books issuance per user, which "
    "cannot overflow across users"
)
def test_a_nested_batch_contains_a_write_that_fails_after_changing_rows(g: Gamification) -> None:
    big = 2**53
    with g.batch():
        for i in range(1024):
            g.award_points(f"u{i}", big, currency="points", source="quest")
        with pytest.raises(errors.BatchAborted), g.batch():
            g.award_xp("alice", 5, source="inner")
            with pytest.raises(errors.InvalidInput):
                g.award_points("one-too-many", big, currency="points", source="quest")
        g.award_xp("bob", 7, source="after")
    assert g.profile("alice").xp == 0  # undone with the inner batch
    assert g.profile("bob").xp == 7
    assert g.balance("u1023", "points") == big
    assert g.profile("one-too-many").created_at is None
    assert not g.verify_ledger()


def test_light_frames_drop_the_events_of_a_refused_write(make_engine: Make) -> None:
    recorder = Recorder()
    g = make_engine(plugins=(recorder,))
    with g.batch():
        kept = g.award_xp("alice", 10, source="import")
        with pytest.raises(errors.InsufficientFunds):
            g.spend_points("alice", 1, currency="points", source="shop")
    assert recorder.events == [("xp", kept.id)]


def test_store_light_frame_dooms_only_when_rows_changed(g: Gamification) -> None:
    store = g._store
    with store.write():
        with pytest.raises(RuntimeError), store.write():
            raise RuntimeError("nothing written yet")
        store.conn.execute("UPDATE profiles SET xp = xp WHERE 1 = 0")  # no rows: not a change
    outer, inner = pytest.raises(errors.BatchAborted), pytest.raises(RuntimeError)
    with outer, store.write(), inner, store.write():
        store.conn.execute(
            "INSERT INTO profiles (user_id, created_at, updated_at) VALUES ('x', 't', 't')"
        )
        raise RuntimeError("after a write")
    assert not g.db.execute("SELECT COUNT(*) FROM profiles").fetchone()[0]


def test_hooks_in_a_batch_fire_after_commit(make_engine: Make) -> None:
    recorder = Recorder()
    config = Config(levels=LevelsConfig(level_up_bonus={"points": 1}))
    g = make_engine(config=config, plugins=(recorder,))
    with g.batch():
        first = g.award_xp("alice", 10, source="import")
        second = g.award_xp("alice", 100, source="import")  # level 2: one reward credit
        assert recorder.events == []
    reward_txn = second.rewards[0].transaction_ids[0]
    assert recorder.events == [("xp", first.id), ("points", reward_txn), ("xp", second.id)]


def test_hooks_of_a_rolled_back_batch_never_fire(make_engine: Make) -> None:
    recorder = Recorder()
    g = make_engine(plugins=(recorder,))
    with pytest.raises(RuntimeError), g.batch():
        g.award_xp("alice", 10, source="import")
        raise RuntimeError("abort")
    assert recorder.events == []


def test_hooks_of_a_failed_write_in_a_batch_never_fire(make_engine: Make) -> None:
    recorder = Recorder()
    g = make_engine(plugins=(recorder,))
    with g.batch():
        with pytest.raises(RuntimeError), g.batch():  # a nested batch is a savepoint
            g.award_xp("alice", 10, source="import")
            raise RuntimeError("undo the inner batch only")
        kept = g.award_xp("bob", 10, source="import")
    assert recorder.events == [("xp", kept.id)]
    assert g.profile("alice").xp == 0
    assert g.profile("bob").xp == 10


def test_idempotent_replay_inside_a_batch(g: Gamification) -> None:
    with g.batch():
        first = g.award_xp("alice", 10, source="import", idempotency_key="k")
        again = g.award_xp("alice", 10, source="import", idempotency_key="k")
        with pytest.raises(errors.IdempotencyConflict):
            g.award_xp("alice", 11, source="import", idempotency_key="k")
    assert again == first
    assert g.profile("alice").xp == 10


# -- closing ---------------------------------------------------------------------------------


def test_context_manager_closes_the_engine(clock: FakeClock, db_path: Path) -> None:
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        g.award_xp("alice", 10, source="quest")
    with pytest.raises(sqlite3.ProgrammingError):
        g.profile("alice")
    with pytest.raises(sqlite3.ProgrammingError):
        g.award_xp("alice", 10, source="quest")
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as again:
        assert again.profile("alice").xp == 10


def test_context_manager_closes_on_error(clock: FakeClock, db_path: Path) -> None:
    with (
        pytest.raises(KeyError),
        Gamification.open(db_path, clock=clock, load_entrypoints=False) as g,
    ):
        g.award_xp("alice", 10, source="quest")
        raise KeyError("boom")
    with pytest.raises(sqlite3.ProgrammingError):
        g.profile("alice")
    # The write before the error was committed (it was not in a batch).
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as again:
        assert again.profile("alice").xp == 10


def test_close_releases_the_file(clock: FakeClock, db_path: Path) -> None:
    g = Gamification.open(
        db_path, config=Config(busy_timeout=0.05), clock=clock, load_entrypoints=False
    )
    g.award_xp("alice", 10, source="quest")
    g.close()
    with closing(raw(db_path)) as other:
        other.execute("BEGIN IMMEDIATE")  # no lock is left behind
        other.execute("ROLLBACK")


def test_close_twice_is_harmless(clock: FakeClock, db_path: Path) -> None:
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        g.award_xp("alice", 10, source="quest")
        g.close()
    g.close()


def test_engine_uses_the_injected_clock(clock: FakeClock, g: Gamification) -> None:
    assert g.award_xp("alice", 1, source="quest").created_at == START == clock()


def test_a_file_migrated_by_a_newer_version_is_refused_unchanged(tmp_path: Path) -> None:
    """An older package must not run on tables it does not know: SchemaTooNew names the
    migrations, and the file is left as it was."""
    from gamification_sdk import Gamification
    from gamification_sdk.errors import SchemaTooNew

    path = tmp_path / "game.db"
    g = Gamification.open(path, load_entrypoints=False)
    g.award_xp("ada", 10, source="s")
    g.close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('gamification_sdk', 'm999_from_the_future', '2027-01-01')"
        )
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match="m999_from_the_future") as caught:
        Gamification.open(path, load_entrypoints=False)
    assert caught.value.migrations == ["m999_from_the_future"]
    assert path.read_bytes() == before
