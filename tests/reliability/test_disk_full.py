"""A file that cannot grow: every kind of write fails typed, whole, and works again later.

``PRAGMA max_page_count`` caps the file at the pages it has, so the next write that needs
a new page gets SQLite's "database or disk is full", which rolls the whole transaction
back. Each kind of write is repeated until that happens; then the refused call must raise
``errors.StorageFull`` and leave every row as it was, earlier (acknowledged) writes must
be intact and still replay, the file must pass ``integrity_check`` and ``verify_ledger``,
and once the cap is lifted the same call succeeds, exactly once.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from gamification_sdk import Gamification, errors

from .figures import FIGURES
from .game import open_game

PREPARED = 40  # users made ready for each kind of write that one user can do only once
NO_CAP = 1073741823  # SQLite's default max_page_count


def _batch(g: Gamification, i: int) -> None:
    with g.batch():
        for j in range(4):
            g.award_points(
                f"b{i}-{j}", 7, currency="points", source="fill", idempotency_key=f"batch-{i}-{j}"
            )


# Each makes its ``i``-th call: distinct, keyed so it can be retried and replayed.
WRITES: dict[str, Callable[[Gamification, int], Any]] = {
    "award_xp": lambda g, i: g.award_xp(
        f"x{i}", 60, source="fill", idempotency_key=f"xp-{i}", metadata={"pad": "x" * 300}
    ),
    "award_points": lambda g, i: g.award_points(
        f"p{i}", 9, currency="points", source="fill", idempotency_key=f"pts-{i}"
    ),
    "spend_points": lambda g, i: g.spend_points(
        "rich", 3, currency="points", source="shop", idempotency_key=f"spend-{i}"
    ),
    "transfer_points": lambda g, i: g.transfer_points(
        "rich", f"t{i}", 4, currency="points", idempotency_key=f"transfer-{i}"
    ),
    "track": lambda g, i: g.track(f"w{i}", "workout", idempotency_key=f"track-{i}"),
    "purchase": lambda g, i: g.shop.purchase("rich", "freeze", idempotency_key=f"buy-{i}"),
    "battle_pass.claim": lambda g, i: g.battle_pass.claim(
        f"c{i}", 1, track="free", idempotency_key=f"claim-{i}"
    ),
    "quests.complete": lambda g, i: g.quests.complete(
        f"q{i}", "checkin", evidence={"ok": True}, idempotency_key=f"quest-{i}"
    ),
    "reserve_points": lambda g, i: g.reserve_points(
        "rich", 2, currency="points", ttl=600, idempotency_key=f"hold-{i}"
    ),
    "delete_user": lambda g, i: g.privacy.delete(f"c{i}", idempotency_key=f"delete-{i}"),
    "batch": _batch,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file with the game loaded and users ready for each kind of write, made once."""
    path = tmp_path_factory.mktemp("disk-full") / "template.db"
    with open_game(path) as g:
        g.award_points("rich", 1_000_000, currency="points", source="seed")
        for i in range(PREPARED):
            g.award_xp(f"c{i}", 100, source="seed")  # tier 1 of the season: claimable
            g.track(f"q{i}", "workout")  # the check-in quest's objective is met
    return path  # closing checkpointed the WAL: the file alone is the database


@pytest.fixture
def full(template: Path, tmp_path: Path) -> Iterator[Gamification]:
    path = tmp_path / "game.db"
    shutil.copy(template, path)
    with open_game(path, load=False) as g:
        yield g


def set_cap(g: Gamification, pages: int | None) -> None:
    """Cap the file at ``pages``, or at the pages it has now."""
    conn = g.db.conn
    if pages is None:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")


def big_award(g: Gamification) -> None:
    """An award whose metadata needs about fifteen new overflow pages."""
    g.award_xp("newcomer", 10, source="fill", metadata={"pad": "x" * 60_000})


def check_file(g: Gamification) -> None:
    assert g.db.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert g.db.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    report = g.verify_ledger()
    assert report.ok, report.problems


def fill_until_refused(
    g: Gamification, write: Callable[[Gamification, int], Any], limit: int = PREPARED
) -> tuple[list[tuple[int, Any]], int]:
    """Make calls 0, 1, ... until one raises ``StorageFull``: (acknowledged, refused index)."""
    acknowledged: list[tuple[int, Any]] = []
    for i in range(limit):
        before = g.dump()
        try:
            result = write(g, i)
        except errors.StorageFull as exc:
            assert g.dump() == before, "a write refused for lack of space left rows behind"
            assert isinstance(exc.__cause__, sqlite3.OperationalError)
            assert "full" in str(exc) and str(exc).startswith("storage: ")
            FIGURES.add(operations=i + 1, faults=1)
            return acknowledged, i
        acknowledged.append((i, result))
    raise AssertionError(f"{limit} writes fitted in the capped file: the cap did not bite")


@pytest.mark.parametrize("kind", sorted(WRITES))
def test_a_full_file_refuses_whole_writes_typed_and_recovers(full: Gamification, kind: str) -> None:
    write = WRITES[kind]
    set_cap(full, None)
    acknowledged, refused = fill_until_refused(full, write)
    check_file(full)

    # Still full: the same call is refused again, and unchanged is unchanged.
    before = full.dump()
    with pytest.raises(errors.StorageFull):
        write(full, refused)
    assert full.dump() == before
    # What was acknowledged is there: a retry replays it, writing nothing (so it needs no
    # space), and returns what the first call returned.
    lost = 0
    for i, result in acknowledged:
        if kind == "batch":
            lost += full.balance(f"b{i}-0", "points") != 7
        else:
            lost += write(full, i) != result
    FIGURES.add(operations=len(acknowledged) + 1, lost=lost)
    assert lost == 0
    assert full.dump() == before

    # Space again: the refused call goes through, once.
    set_cap(full, NO_CAP)
    done = write(full, refused)
    after = full.dump()
    assert after != before
    if kind != "batch":
        assert write(full, refused) == done
        assert full.dump() == after
    check_file(full)
    with closing(sqlite3.connect(full.db.conn.execute("PRAGMA database_list").fetchone()[2])) as c:
        assert c.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_seed_rows_survive_a_full_file(full: Gamification) -> None:
    """Writes made before the file filled up (the template's) are all still there."""
    balance = full.balance("rich", "points")
    set_cap(full, None)
    fill_until_refused(full, WRITES["award_points"])
    assert full.balance("rich", "points") == balance == 1_000_000
    assert all(full.profile(f"c{i}").xp == 100 for i in range(PREPARED))
    check_file(full)


def test_a_caught_storage_full_inside_a_batch_aborts_the_batch(full: Gamification) -> None:
    """SQLite rolled the whole transaction back: the batch must not go on without it."""
    before = full.dump()
    set_cap(full, None)
    refused = False
    with pytest.raises(errors.BatchAborted) as info, full.batch():
        full.award_points("rich", 1, currency="points", source="fill")  # fits in its page
        try:
            big_award(full)
        except errors.StorageFull:
            refused = True
        full.award_points("rich", 1, currency="points", source="fill")
    assert refused and isinstance(info.value.cause, errors.StorageFull)
    FIGURES.add(operations=3, faults=1)
    assert full.dump() == before
    assert full.balance("rich", "points") == 1_000_000
    check_file(full)


def test_a_caught_storage_full_inside_a_nested_batch_aborts_the_outer_one(
    full: Gamification,
) -> None:
    """A nested batch is a savepoint; the savepoint went with the transaction."""
    before = full.dump()
    set_cap(full, None)
    refused = False
    with pytest.raises(errors.BatchAborted) as info, full.batch():
        full.award_points("rich", 1, currency="points", source="fill")
        try:
            with full.batch():
                big_award(full)
        except errors.StorageFull:
            refused = True
    assert refused and isinstance(info.value.cause, errors.StorageFull)
    FIGURES.add(operations=2, faults=1)
    assert full.dump() == before
    check_file(full)
