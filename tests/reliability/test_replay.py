"""Four processes play the game on one file; one thread replaying them must end the same.

Each child (``worker.py game``) makes mixed calls on shared users: awards, spends,
transfers, tracked events (rules, achievements, quest progress), purchases from a shop
with limited stock, battle pass tier claims, premium passes, tier boosts and quest
completions, some under keys every child uses. Each call commits together with a row in
``op_log``, whose order is therefore the commit order. Then a single thread replays the
logged calls in that order on a copy of the file as it was before the children started:
every call must succeed with the same result, and the two files must hold the same
balances, XP, unlocks, stock, claims and completions; in fact the same rows.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from gamification_sdk import Gamification

from . import worker
from .children import LONG, run_workers
from .figures import FIGURES
from .game import USERS, open_game


def prepare(path: Path) -> None:
    """The file the children start from: the game loaded, some points to spend."""
    with open_game(path) as g:
        g.db.conn.execute(worker.OP_LOG)
        for i, user in enumerate(USERS):
            g.award_points(user, 100 + 50 * i, currency="points", source="seed")
            g.award_xp(user, 40 * i + 20, source="seed")


def state(g: Gamification) -> dict[str, Any]:
    """What the players have: the figures the replay must reproduce."""
    conn = g.db.conn
    out: dict[str, Any] = {}
    for user in USERS:
        profile = g.profile(user)
        bp = g.battle_pass.get(user)
        out[user] = {
            "xp": (profile.xp, profile.level),
            "balances": {c: (b.balance, b.held, b.lifetime_earned, b.lifetime_spent)
                         for c, b in g.points.balances(user).items()},
            "unlocks": sorted((s.key, s.tiers_unlocked, s.unlocked_at is not None)
                              for s in g.achievements.list(user, include_hidden=True)),
            "inventory": g.users.inventory(user),
            "battle_pass": (bp.tier, bp.season_xp, bp.premium, bp.tier_boosts_used,
                            [(r.track, r.tier, r.state) for r in
                             (*bp.free_rewards, *bp.premium_rewards)]),
        }  # fmt: skip
    out["stock"] = {item.key: (item.stock, item.sold) for item in g.shop.list()}
    out["completions"] = conn.execute(
        "SELECT user_id, quest, period_start, seq FROM quest_completions ORDER BY 1, 2, 3, 4"
    ).fetchall()
    out["claims"] = conn.execute("SELECT * FROM battle_pass_claims ORDER BY 1, 2, 3, 4").fetchall()
    return out


def check_file(g: Gamification) -> None:
    assert g.db.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    report = g.verify_ledger()
    assert report.ok, report.problems


@pytest.fixture
def played(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    path, before = tmp_path / "game.db", tmp_path / "before.db"
    prepare(path)
    shutil.copy(path, before)
    yield path, before


def play_and_replay(path: Path, before: Path, tmp_path: Path, ops: int) -> None:
    reports = run_workers(path, tmp_path, processes=4, ops=ops, mode="game")
    failures = [failure for report in reports for failure in report["failures"]]
    assert failures == [], "\n".join(failures[:5])
    calls = {op["id"]: op for report in reports for op in report["ops"]}
    assert len(calls) == 4 * ops
    succeeded = {op_id for op_id, op in calls.items() if "result" in op}
    refusals = Counter(op["refused"] for op in calls.values() if "refused" in op)
    # The mix reached the interesting refusals, or it proved little.
    for kind in (
        "InsufficientFunds",
        "OutOfStock",
        "TierNotReached",
        "RewardAlreadyClaimed",
        "QuestAlreadyCompleted",
        "NotEnoughTierBoosts",
    ):
        assert refusals[kind] > 0, refusals
    assert len(succeeded) > ops, refusals

    with open_game(path, load=False) as g:
        order = [op_id for (op_id,) in g.db.conn.execute("SELECT op FROM op_log ORDER BY seq")]
        lost = len(succeeded - set(order))
        FIGURES.add(operations=len(calls) + len(order), lost=lost)
        assert lost == 0, "calls that returned are missing from the file"
        assert set(order) == succeeded, "a refused call left its log row behind"
        # They really ran at the same time: the commit order switches between workers more
        # than the three times of four runs one after another.
        switches = sum(a.split("-")[0] != b.split("-")[0] for a, b in pairwise(order))
        assert switches > 3, switches
        check_file(g)
        played_state, played_dump = state(g), g.dump()

    with open_game(before, load=False) as replay:
        for op_id in order:
            op = calls[op_id]
            assert repr(worker.logged_call(replay, op)) == op["result"], op
        check_file(replay)
        assert state(replay) == played_state
        assert replay.dump() == played_dump


def test_four_processes_end_where_a_single_threaded_replay_ends(
    played: tuple[Path, Path], tmp_path: Path
) -> None:
    play_and_replay(*played, tmp_path, ops=400)


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="set GAMIFICATION_LONG=1 (./run test-long)")
def test_four_processes_end_where_a_single_threaded_replay_ends_long(
    played: tuple[Path, Path], tmp_path: Path
) -> None:
    play_and_replay(*played, tmp_path, ops=2500)
