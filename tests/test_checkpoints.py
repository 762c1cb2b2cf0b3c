"""WAL checkpoints on their own thread: scheduled like SQLite's, safe to fail, stopped at close."""

from __future__ import annotations

import gc
import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from gamification_sdk import Config, Gamification, LeaderboardsConfig
from gamification_sdk.storage import checkpoints as checkpoints_module
from gamification_sdk.storage.checkpoints import SAFETY_NET_PAGES, Checkpointer

Make = Callable[..., Gamification]
WAIT = 30.0  # seconds: only a hung thread ever gets near it
# No XP board: a keyed award then changes 3 rows (the award, the profile, the key), so the
# commit count, not the changed rows, is what asks for a checkpoint below.
BARE = Config(leaderboards=LeaderboardsConfig(boards=()))


def checkpointer(g: Gamification) -> Checkpointer:
    found = g._store.checkpointer
    assert found is not None
    return found


def awards(g: Gamification, count: int, prefix: str = "a") -> None:
    for i in range(count):
        g.award_xp(f"user{i % 10}", 10, source="quest", idempotency_key=f"{prefix}{i}")


def rows_in_file_alone(db_path: Path, copy: Path) -> int:
    """How many awards the database file holds without its WAL."""
    shutil.copyfile(db_path, copy)
    with closing(sqlite3.connect(copy)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM xp_awards").fetchone()[0])


def test_the_writer_keeps_only_a_safety_net(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path)
    assert g.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == SAFETY_NET_PAGES
    assert checkpointer(g)._thread is None  # nothing written yet: no thread


def test_inline_keeps_sqlites_default(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path, config=Config(checkpoint="inline"))
    assert g._store.checkpointer is None
    assert g.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    awards(g, 300)
    assert g.profile("user0").xp == 300


@pytest.mark.sqlite_only(reason="SQLite's WAL checkpoints")
def test_memory_databases_have_no_wal_and_no_thread(make_engine: Make) -> None:
    g = make_engine(":memory:")
    assert g._store.checkpointer is None


def test_a_checkpoint_is_asked_for_every_256_commits_or_1000_changed_rows(db_path: Path) -> None:
    ck = Checkpointer(str(db_path), busy_timeout=1.0)
    asked: list[int] = []
    ck.request = lambda: asked.append(ck._commits)  # type: ignore[method-assign]
    for commit in range(1, 256):
        ck.committed(commit * 3)
    assert asked == []
    ck.committed(256 * 3)
    assert len(asked) == 1
    ck.committed(256 * 3 + 999)  # one commit, 999 rows since the last request
    assert len(asked) == 1
    ck.committed(256 * 3 + 1000)
    assert len(asked) == 2
    for commit in range(1, 257):  # the count starts over after each request
        ck.committed(256 * 3 + 1000 + commit)
    assert len(asked) == 3


def test_the_engine_asks_on_its_own_and_the_file_gets_the_pages(
    make_engine: Make, db_path: Path, tmp_path: Path
) -> None:
    g = make_engine(db_path, config=BARE)
    ck = checkpointer(g)
    awards(g, 300)
    assert ck.wait(WAIT)
    assert ck.runs == 1 and ck.failures == 0
    ck.request()  # one more, after the last commit: the file must then hold every award
    assert ck.wait(WAIT)
    assert ck.runs == 2 and ck.last is not None
    busy, wal_pages, copied = ck.last
    assert busy == 0 and wal_pages > 0 and copied == wal_pages
    assert rows_in_file_alone(db_path, tmp_path / "copy.db") == 300


def test_a_large_commit_asks_at_once(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path, config=BARE)
    ck = checkpointer(g)
    g.award_xp("user0", 1, source="quest")
    assert ck._thread is None
    with g.batch():
        awards(g, 1100)  # one commit of over 1,000 changed rows
    assert ck._thread is not None
    assert ck.wait(WAIT)
    assert ck.runs == 1


def test_a_relative_path_survives_a_chdir(
    make_engine: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "app")
    g = make_engine("game.db", config=BARE)
    monkeypatch.chdir(tmp_path / "elsewhere")
    ck = checkpointer(g)
    ck.request()
    assert ck.wait(WAIT)
    assert ck.runs == 1 and ck.failures == 0
    assert ck.path == str(tmp_path / "app" / "game.db")
    assert not (tmp_path / "elsewhere" / "game.db").exists()


def test_close_stops_the_thread(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path)
    ck = checkpointer(g)
    awards(g, 256)
    thread = ck._thread
    assert thread is not None
    g.close()
    assert not thread.is_alive()
    ck.request()  # after close: ignored, no new thread
    assert ck._thread is thread


def test_an_engine_dropped_without_close_stops_its_thread(db_path: Path) -> None:
    g = Gamification.open(db_path, config=BARE, load_entrypoints=False)
    ck = checkpointer(g)
    ck.request()
    assert ck.wait(WAIT)
    thread = ck._thread
    assert thread is not None and thread.is_alive()
    del g
    gc.collect()
    thread.join(WAIT)
    assert not thread.is_alive()


def test_a_failing_checkpoint_is_logged_and_writes_go_on(
    make_engine: Make,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g = make_engine(db_path, config=BARE)
    ck = checkpointer(g)

    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(ck, "_checkpoint", broken)
    with caplog.at_level(logging.WARNING, logger="gamification_sdk"):
        awards(g, 256)
        assert ck.wait(WAIT)
    assert ck.failures == 1 and ck.runs == 0
    assert "background WAL checkpoint" in caplog.text and "disk I/O error" in caplog.text
    monkeypatch.undo()
    awards(g, 256, prefix="b")
    assert ck.wait(WAIT)
    assert ck.runs == 1
    assert sum(g.profile(f"user{i}").xp for i in range(10)) == 512 * 10


def test_a_forked_child_starts_its_own_thread(
    make_engine: Make, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = make_engine(db_path)
    ck = checkpointer(g)
    awards(g, 256)
    assert ck.wait(WAIT)
    parent_thread, parent_cond = ck._thread, ck._cond
    # What a child process sees after fork(): another pid, the parent's objects.
    child_pid = checkpoints_module.os.getpid() + 1
    monkeypatch.setattr(checkpoints_module.os, "getpid", lambda: child_pid)
    ck.request()
    assert ck._cond is not parent_cond and ck._thread is not parent_thread
    assert ck.wait(WAIT)
    assert ck.runs == 2
    g.close()
    # In a real child the parent's thread does not exist; here it does, so stop it too.
    assert parent_thread is not None
    with parent_cond:
        parent_cond.notify_all()
    parent_thread.join(WAIT)
    assert not parent_thread.is_alive()


def test_threads_sharing_an_engine_all_land(make_engine: Make, db_path: Path) -> None:
    g = make_engine(db_path)
    ck = checkpointer(g)

    def work(n: int) -> None:
        for i in range(150):
            g.award_xp(f"t{n}", 1, source="quest", idempotency_key=f"t{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ck.wait(WAIT)
    assert ck.runs >= 2 and ck.failures == 0
    assert [g.profile(f"t{n}").xp for n in range(4)] == [150] * 4
    assert g.verify_ledger().ok
