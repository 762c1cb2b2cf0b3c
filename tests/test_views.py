"""The read-only views for people browsing the file (m012): they agree with the engine's API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gamification_sdk import BoardConfig, Config, FakeClock, Gamification, LeaderboardsConfig
from gamification_sdk.storage.schema import migrations


def rows(g: Gamification, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in g.db.execute(sql, params).fetchall()]


def test_the_views_come_with_their_migration(g: Gamification, backend: str) -> None:
    if backend == "sqlite":
        applied = {m.name for m in migrations.applied(g.db)}
        assert {"m012_readable_views", "m018_hours_in_metrics", "m020_xp_board_slots"} <= applied
    else:
        applied = {name for (name,) in g.db.execute("SELECT name FROM schema_migrations")}
        assert "p008_readable_views" in applied
    # lb_live (m020) is the one the engine reads too: every live score, slots included.
    assert set(g.db.view_names()) == {
        "user_balances", "ledger_lines", "leaderboard_lines", "unlocked_achievements",
        "metric_hours",  # m018: the hour counts moved into the metric rows
        "lb_live",
    }  # fmt: skip


def test_balances_and_ledger_lines_name_accounts_by_owner(g: Gamification) -> None:
    g.award_points("ada", 500, currency="points", source="quest")
    hold = g.reserve_points("ada", 100, currency="points", ttl=300)
    gift = g.transfer_points("ada", "bob", 50, currency="points", description="thanks")
    balances = (
        "SELECT user_id, balance, held, available, lifetime_spent FROM user_balances "
        "ORDER BY user_id"
    )
    assert rows(g, balances) == [("ada", 450, 100, 350, 50), ("bob", 50, 0, 50, 0)]
    lines = rows(
        g,
        "SELECT account, amount, balance_after, description FROM ledger_lines "
        "WHERE transaction_id = ? ORDER BY amount",
        gift.id,
    )
    assert lines == [("ada", -50, 450, "thanks"), ("bob", 50, 50, "thanks")]
    earned = "SELECT account, amount FROM ledger_lines WHERE type = 'earned' ORDER BY amount"
    assert rows(g, earned) == [("system:issuance", -500), ("ada", 500)]
    g.release_reservation(hold.id)
    assert g.points.balances("ada")["points"].available == 450
    assert rows(g, "SELECT available FROM user_balances WHERE user_id = 'ada'") == [(450,)]


def test_unlocked_achievements_carry_names_and_tier_names(g: Gamification) -> None:
    g.events.load({"achievements": [
        {"key": "writer", "name": "Writer", "criteria": {"type": "count", "event": "post"},
                "tiers": [{"name": "bronze", "target": 1}, {"name": "silver", "target": 2}]},
        {"key": "first", "name": "First Steps", "rarity": "rare",
                "criteria": {"type": "first_time", "event": "post"}},
    ]}, name="community")  # fmt: skip
    g.track("ada", "post")
    g.track("ada", "post")
    found = rows(
        g,
        "SELECT key, name, tier, repeat, rarity, achievement_points FROM unlocked_achievements "
        "ORDER BY key, tier",
    )
    assert found == [
        ("first", "First Steps", None, 1, "rare", 50),
        ("writer", "Writer", "bronze", 1, "common", 10),
        ("writer", "Writer", "silver", 1, "common", 10),
    ]


def test_leaderboard_lines_rank_listed_users_in_open_and_closed_periods(
    clock: FakeClock, make_engine: Any
) -> None:
    config = Config(leaderboards=LeaderboardsConfig(
        boards=(BoardConfig("xp", periods=("all_time", "weekly")),),
        visibility="public", show_on_global=True,
    ))  # fmt: skip
    clock.set(datetime(2026, 11, 17, 12, tzinfo=UTC))
    g = make_engine(config=config)
    for user, xp in [("ann", 50), ("bob", 30), ("cat", 30), ("dan", 10)]:
        g.award_xp(user, xp, source="lesson")
    g.social.set_privacy("dan", show_on_global=False)
    sql = (
        "SELECT rank, user_id, score, closed, movement FROM leaderboard_lines "
        "WHERE board = 'xp' AND period = ? ORDER BY rank, user_id"
    )
    expected = [(1, "ann", 50, 0, None), (2, "bob", 30, 0, None), (2, "cat", 30, 0, None)]
    assert rows(g, sql, "weekly") == expected
    page = g.boards.get("xp", period="weekly")
    assert [(e.rank, e.user_id) for e in page.entries] == [(r[0], r[1]) for r in expected]

    clock.set(datetime(2026, 11, 24, 0, 30, tzinfo=UTC))
    g.boards.close_periods()
    closed = rows(g, sql, "weekly")
    assert closed == [(1, "ann", 50, 1, "new"), (2, "bob", 30, 1, "new"), (2, "cat", 30, 1, "new")]
    assert rows(g, "SELECT period_key FROM leaderboard_lines WHERE period = 'weekly' "
                   "GROUP BY period_key") == [("2026-W47",)]  # fmt: skip
