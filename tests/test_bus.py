"""Domain events: publishers never call their followers; subscribers react in the same
transaction, in the declared order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from conftest import START, unchanged

from gamification_sdk import Config, Gamification, LeaderboardsConfig, Season, TierReward
from gamification_sdk.config.leaderboards import BoardConfig
from gamification_sdk.runtime.bus import (
    SUBSCRIBERS,
    AchievementUnlocked,
    Bus,
    EventTracked,
    PointsIssued,
    XPAwarded,
)

Make = Callable[..., Gamification]
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_subscribers_run_in_the_declared_order_whatever_the_order_they_came_in() -> None:
    bus, calls = Bus(), []
    for name in ("battle_pass", "boards", "achievements"):
        bus.subscribe(XPAwarded, name, lambda e, name=name: calls.append((name, e.amount)))
    publish = bus.publisher(XPAwarded)
    assert publish is not None
    publish(XPAwarded("ada", 5, AT, AT.isoformat()))
    assert calls == [("achievements", 5), ("boards", 5), ("battle_pass", 5)]
    assert bus.subscribers(XPAwarded) == ["achievements", "boards", "battle_pass"]
    assert [SUBSCRIBERS.index(name) for name, _ in calls] == sorted(
        SUBSCRIBERS.index(name) for name, _ in calls
    )


def test_an_event_nothing_follows_has_no_publisher_and_one_follower_is_called_directly() -> None:
    bus = Bus()
    assert bus.publisher(PointsIssued) is None
    seen: list[PointsIssued] = []
    bus.subscribe(PointsIssued, "boards", seen.append)
    assert bus.publisher(PointsIssued) == seen.append  # no loop around a single follower
    with pytest.raises(ValueError, match="'ledger' is not one of achievements"):
        bus.subscribe(PointsIssued, "ledger", seen.append)


def _season() -> Season:
    return Season(
        "s1",
        START.replace(day=1),
        START.replace(month=5, day=1),
        free_rewards=[TierReward(1, points={"points": 10})],
    )


def test_the_configuration_decides_who_follows_what(make_engine: Make) -> None:
    boards = (
        BoardConfig("xp"),
        BoardConfig("pts", source="points", currency="points"),
        BoardConfig("badges", source="achievements"),
        BoardConfig("runs", source="metric", metric="run"),
    )
    full = make_engine(
        config=Config(leaderboards=LeaderboardsConfig(boards=boards), seasons=[_season()])
    )
    bus = full._parts.bus
    assert bus.subscribers(XPAwarded) == ["boards", "battle_pass"]
    assert bus.subscribers(PointsIssued) == ["boards"]
    assert bus.subscribers(AchievementUnlocked) == ["boards"]
    assert bus.subscribers(EventTracked) == ["boards"]
    bare = make_engine(config=Config(leaderboards=LeaderboardsConfig(boards=())))
    parts = bare._parts
    assert [parts.bus.subscribers(e) for e in (XPAwarded, PointsIssued, EventTracked)] == [
        [],
        [],
        [],
    ]
    # Publishers skip building events nobody follows: an award calls nothing more.
    assert parts.xp.publish_xp is None and parts.ledger.publish_issued is None
    assert parts.tracker.publish_tracked is None and parts.achievements.publish_unlocked is None


def test_a_failing_subscriber_rolls_the_whole_write_back(make_engine: Make) -> None:
    g = make_engine(
        config=Config(leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True))
    )
    g.award_xp("ada", 10, source="t")

    def broken(event: XPAwarded) -> None:
        raise RuntimeError(f"board offline for {event.user_id}")

    g._parts.xp.publish_xp = broken
    with unchanged(g), pytest.raises(RuntimeError, match="board offline for ada"):
        g.award_xp("ada", 5, source="t")
    assert g.profile("ada").xp == 10


def test_every_follower_sees_what_was_published(make_engine: Make) -> None:
    config = Config(
        leaderboards=LeaderboardsConfig(
            visibility="public",
            show_on_global=True,
            boards=(BoardConfig("xp"), BoardConfig("pts", source="points", currency="points")),
        ),
        seasons=[_season()],
    )
    g = make_engine(config=config)
    g.award_xp("ada", 30, source="t")
    g.award_points("ada", 7, currency="points", source="t")
    assert [(e.user_id, e.score) for e in g.boards.get("xp").entries] == [("ada", 30)]
    assert [(e.user_id, e.score) for e in g.boards.get("pts").entries] == [("ada", 7)]
    assert g.battle_pass.get("ada").season_xp == 30
