"""Domain events: publishers never call their followers; subscribers react in the same
transaction, in the declared order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import pytest
from conftest import START, unchanged

from gamification_sdk import (
    Config,
    Gamification,
    LeaderboardsConfig,
    ReferralsConfig,
    ReferralTier,
    Season,
    TierReward,
    errors,
)
from gamification_sdk.config.leaderboards import BoardConfig
from gamification_sdk.economy.referrals import CONVERTED_METRIC, SIGNED_UP_METRIC
from gamification_sdk.runtime.bus import (
    SUBSCRIBERS,
    AchievementUnlocked,
    Bus,
    EventTracked,
    PointsAwarded,
    PointsIssued,
    ReferralConverted,
    ReferralSignedUp,
    XPAwarded,
)

Make = Callable[..., Gamification]
E = TypeVar("E")
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


def test_the_configuration_decides_who_follows_what(make_engine: Make, backend: str) -> None:
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
    # Where the XP board keeps its scores in the profile row award_xp rewrites (SQLite's
    # slots), no event goes to the boards for it.
    slotted = full._parts.boards.slots is not None
    assert slotted is (backend == "sqlite")
    assert bus.subscribers(XPAwarded) == ["boards", "battle_pass"][slotted:]
    assert bus.subscribers(PointsIssued) == ["boards"]
    assert bus.subscribers(AchievementUnlocked) == ["boards"]
    assert bus.subscribers(EventTracked) == ["boards"]
    # Whatever the configuration: badges can be loaded at any time, referral metrics are kept.
    for always in (PointsAwarded, ReferralSignedUp, ReferralConverted):
        assert bus.subscribers(always) == ["achievements"]
    # A second XP board is kept in lb_scores: it follows the event.
    two = make_engine(
        config=Config(leaderboards=LeaderboardsConfig(boards=(boards[0], BoardConfig("xp2"))))
    )
    assert two._parts.bus.subscribers(XPAwarded) == ["boards"]
    two.award_xp("ann", 5, source="t")
    for key in ("xp", "xp2"):
        for period in ("all_time", "daily"):
            line = two.boards.rank("ann", board=key, period=period)
            assert line is not None and line.score == 5
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


# -- referrals and direct awards: progression follows them through events --------------------

REFERRALS = ReferralsConfig(
    referrer_reward=300,
    referred_reward=200,
    conversion_reward=400,
    milestones=(ReferralTier("one", "One", 1, 100, title="Recruiter"),),
)


def _referrals(make: Make, **fields: Any) -> Gamification:
    settings = attrs.evolve(REFERRALS, **fields)
    g = make(config=Config(referrals=settings, rate_limits={"referral_track": None}))
    badges = [
        {"key": key, "name": key, "criteria": criteria}
        for key, criteria in {
            "p300": {"type": "points_earned", "currency": "points", "target": 300},
            "p500": {"type": "points_earned", "currency": "points", "target": 500},
            "p1000": {"type": "points_earned", "currency": "points", "target": 1000},
            "recruiter": {"type": "count", "event": SIGNED_UP_METRIC, "target": 1},
            "closer": {"type": "count", "event": CONVERTED_METRIC, "target": 1},
        }.items()
    ]
    g.events.load({"achievements": badges}, name="badges")
    return g


def _spy(calls: list[object], publish: Callable[[E], None] | None) -> Callable[[E], None]:
    def spied(event: E) -> None:
        calls.append(event)
        if publish is not None:
            publish(event)

    return spied


def _unlocked(g: Gamification, user: str) -> list[str]:
    return sorted(a.key for a in g.achievements.list(user) if a.unlocked)


def test_a_referral_publishes_its_signup_and_its_conversion_once(make_engine: Make) -> None:
    g = _referrals(make_engine)
    referrals, calls = g._parts.referrals, []
    referrals.publish_signed_up = _spy(calls, referrals.publish_signed_up)
    referrals.publish_converted = _spy(calls, referrals.publish_converted)
    code = g.referrals.code("sean")
    referral = g.referrals.track(code, "amy", idempotency_key="signup")
    g.referrals.track(code, "amy", idempotency_key="signup")  # a replay publishes nothing
    with pytest.raises(errors.ReferralRejected):
        g.referrals.track(code, "sean")  # flagged: stored, unpaid, not published
    conversion = g.referrals.convert("amy", kind="first_purchase")
    with pytest.raises(errors.ReferralAlreadyConverted):
        g.referrals.convert("amy", kind="first_purchase")
    signed, converted = calls
    assert isinstance(signed, ReferralSignedUp) and isinstance(converted, ReferralConverted)
    assert (signed.referral_id, signed.referrer_id, signed.referred_id) == (
        referral.id,
        "sean",
        "amy",
    )
    assert (signed.currency, signed.referrer_points, signed.referred_points) == ("points", 300, 200)
    assert (converted.referrer_id, converted.points) == ("sean", 400)
    assert converted.milestones == conversion.milestones and len(converted.milestones) == 1
    # What the subscriber did with them: the metrics, and the badges they and the points move.
    assert _unlocked(g, "sean") == ["closer", "p300", "p500", "recruiter"]  # 800 points
    assert _unlocked(g, "amy") == []
    assert g._parts.metrics.read("sean", SIGNED_UP_METRIC)[0] == 1
    assert g._parts.metrics.read("sean", CONVERTED_METRIC)[0] == 1


def test_referral_badges_unlock_payment_by_payment_for_a_self_referral(make_engine: Make) -> None:
    # The rule switched off, one user is paid twice in one call (300, the signup counted, then
    # 200): each payment moves the badges with the total right after it, in the order paid.
    g = _referrals(make_engine, reject_self_referral=False, reject_existing_user=False)
    g.referrals.track(g.referrals.code("sean"), "sean")
    kinds = [(n.kind, n.data.get("key")) for n in reversed(g.notifications.list("sean"))]
    assert kinds == [
        ("referral_signed_up", None),
        ("achievement_unlocked", "p300"),
        ("achievement_unlocked", "recruiter"),
        ("achievement_unlocked", "p500"),
    ]


def test_referral_followers_run_in_the_declared_order_inside_the_write(make_engine: Make) -> None:
    g = _referrals(make_engine)
    parts, seen = g._parts, []
    for name in ("outbox", "quests"):  # both after achievements, in SUBSCRIBERS order
        parts.bus.subscribe(
            ReferralSignedUp,
            name,
            lambda e, name=name: seen.append(
                (name, parts.metrics.read(e.referrer_id, SIGNED_UP_METRIC)[0])
            ),
        )
    assert parts.bus.subscribers(ReferralSignedUp) == ["achievements", "quests", "outbox"]
    parts.referrals.publish_signed_up = parts.bus.publisher(ReferralSignedUp)
    g.referrals.track(g.referrals.code("sean"), "amy")
    # The metric the achievements subscriber counts is there for the next, uncommitted yet.
    assert seen == [("quests", 1), ("outbox", 1)]


def test_a_failing_referral_follower_leaves_nothing(make_engine: Make) -> None:
    g = _referrals(make_engine)
    code = g.referrals.code("sean")
    g.referrals.track(code, "amy")

    def broken(event: object) -> None:
        raise RuntimeError("follower offline")

    g._parts.referrals.publish_signed_up = broken
    with unchanged(g), pytest.raises(RuntimeError, match="follower offline"):
        g.referrals.track(code, "bob")
    g._parts.referrals.publish_converted = broken
    with unchanged(g), pytest.raises(RuntimeError, match="follower offline"):
        g.referrals.convert("amy", kind="first_session")


def test_a_direct_award_publishes_points_awarded_once(make_engine: Make) -> None:
    g = _referrals(make_engine)
    service, calls = g._parts.points_service, []
    service.publish_awarded = _spy(calls, service.publish_awarded)
    first = g.award_points("ada", 300, currency="points", source="t", idempotency_key="k")
    g.award_points("ada", 300, currency="points", source="t", idempotency_key="k")  # replay
    g.spend_points("ada", 50, currency="points", source="t")
    g.transfer_points("ada", "bob", 20, currency="points")
    with pytest.raises(errors.InsufficientFunds):
        g.spend_points("bob", 10**6, currency="points", source="t")
    assert [(e.transaction.id, e.transaction.amount) for e in calls] == [(first.id, 300)]
    assert isinstance(calls[0], PointsAwarded) and _unlocked(g, "ada") == ["p300"]

    def broken(event: PointsAwarded) -> None:
        raise RuntimeError(f"no badges for {event.transaction.user_id}")

    service.publish_awarded = broken
    with unchanged(g), pytest.raises(RuntimeError, match="no badges for ada"):
        g.award_points("ada", 300, currency="points", source="t")
