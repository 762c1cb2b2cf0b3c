"""Quests: definitions, per-period progress from track(), completion, verification, chains."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification, hookimpl
from gamification_sdk.errors import (
    ConfigError,
    InvalidInput,
    NotFound,
    QuestAlreadyCompleted,
    QuestExpired,
    QuestLocked,
    QuestNotVerified,
    QuestUnavailable,
)
from gamification_sdk.models import QuestCompletion, QuestStatus

Make = Callable[..., Gamification]
BERLIN = ZoneInfo("Europe/Berlin")

# Seed 002's challenge examples, as quests.
QUESTS: dict[str, Any] = {
    "achievements": [
        {"key": "first_post", "name": "First post",
         "criteria": {"type": "first_time", "event": "post"}},
        {"key": "questing", "name": "Quester",
         "criteria": {"type": "count", "event": "~quests", "target": 2}},
    ],
    "quests": [
        {"key": "morning_cardio", "name": "Morning Cardio", "category": "workout",
         "difficulty": "medium", "recurrence": "daily", "rewards": {"xp": 15},
         "objectives": [{"type": "sum", "event": "workout", "target": 30,
                         "filters": {"workout_type": "cardio"},
                         "description": "30 minutes of cardio"}]},
        {"key": "meal_logger", "name": "Meal Logger", "category": "nutrition",
         "recurrence": "daily", "max_completions": 2,
         "rewards": {"xp": 5, "points": {"points": 3}},
         "objectives": [{"event": "meal_logged", "target": 3}]},
        {"key": "week_warrior", "name": "Week Warrior", "recurrence": "weekly",
         "difficulty": "hard", "rewards": {"xp": 100},
         "objectives": [{"event": "workout", "target": 5}]},
        {"key": "streak_master", "name": "Streak Master", "category": "streak",
         "recurrence": "one_time", "rewards": {"points": {"points": 50}},
         "objectives": [{"type": "streak", "target": 3}]},
        {"key": "trainer_check", "name": "Trainer approval", "recurrence": "monthly",
         "verification": True, "rewards": {"xp": 40}, "objectives": []},
        {"key": "onboarding_1", "name": "Say hello", "recurrence": "one_time",
         "rewards": {"xp": 1}, "objectives": [{"event": "post", "target": 1}]},
        {"key": "onboarding_2", "name": "Then comment", "recurrence": "one_time",
         "after": "onboarding_1", "rewards": {"xp": 2},
         "objectives": [{"event": "comment", "target": 1}]},
        {"key": "pro", "name": "Pro", "min_level": 5, "rewards": {"xp": 1},
         "objectives": [{"event": "post", "target": 1}]},
        {"key": "poster", "name": "Poster", "requires_achievement": "first_post",
         "rewards": {"xp": 1}, "objectives": [{"event": "comment", "target": 1}]},
        {"key": "combo", "name": "Combo", "logic": "sequence", "rewards": {"xp": 7},
         "objectives": [{"event": "warmup", "target": 1}, {"event": "run", "target": 2}]},
    ],
}  # fmt: skip


@pytest.fixture
def q(g: Gamification) -> Gamification:
    g.events.load(QUESTS, name="quests")
    return g


def keys(board: Any, group: str) -> list[str]:
    return [s.key for s in getattr(board, group)]


def test_progress_filters_and_completion_pay_once_per_period(
    q: Gamification, clock: FakeClock
) -> None:
    q.track("ada", "workout", value=20, metadata={"workout_type": "strength"})  # filtered out
    first = q.track("ada", "workout", value=20, metadata={"workout_type": "cardio"})
    assert first.quests == ()
    cardio = next(s for s in q.quests.list("ada").daily if s.key == "morning_cardio")
    assert (cardio.objectives[0].current, cardio.objectives[0].target) == (20, 30)
    done = q.track("ada", "workout", value=15, metadata={"workout_type": "cardio"})
    assert [c.key for c in done.quests] == ["morning_cardio"]
    assert done.quests[0].xp == 15
    # Completed for today: more cardio pays nothing more.
    assert q.track("ada", "workout", value=60, metadata={"workout_type": "cardio"}).quests == ()
    status = next(s for s in q.quests.list("ada").daily if s.key == "morning_cardio")
    assert status.completed and status.expires_at == datetime(2026, 3, 3, tzinfo=UTC)
    clock.advance(days=1)
    again = q.track("ada", "workout", value=30, metadata={"workout_type": "cardio"})
    # The fifth workout of the week also completes the weekly quest.
    assert [c.key for c in again.quests] == ["morning_cardio", "week_warrior"]
    assert q.db.execute("SELECT COUNT(*) FROM quest_completions").fetchone()[0] == 3
    assert "quest_completed" in [n.kind for n in q.notifications.list("ada")]


def test_max_completions_per_period_and_rewards_in_the_ledger(q: Gamification) -> None:
    paid = []
    for _ in range(10):
        paid += q.track("ada", "meal_logged").quests
    assert [c.seq for c in paid] == [1, 2]
    assert q.balance("ada", "points") == 6
    assert not q.verify_ledger()


def test_weekly_and_monthly_periods_follow_the_users_zone(q: Gamification) -> None:
    q.users.set_timezone("ada", "Europe/Berlin")
    sunday_night = datetime(2026, 3, 8, 23, 30, tzinfo=BERLIN)  # UTC: 22:30 Sunday
    monday = datetime(2026, 3, 9, 0, 30, tzinfo=BERLIN)  # UTC: still Sunday 23:30
    for _ in range(4):
        q.track("ada", "workout", value=1, at=sunday_night)
    assert q.track("ada", "workout", value=1, at=monday).quests == ()  # a new ISO week
    week = next(s for s in q.quests.list("ada", at=monday).weekly if s.key == "week_warrior")
    assert week.objectives[0].current == 1
    assert week.period_start == datetime(2026, 3, 9, tzinfo=BERLIN)
    assert week.expires_at == datetime(2026, 3, 16, tzinfo=BERLIN)
    month = q.quests.list("ada", at=monday).monthly[0]
    assert month.expires_at == datetime(2026, 4, 1, tzinfo=BERLIN)


def test_daily_period_across_dst_is_23_hours(q: Gamification) -> None:
    q.users.set_timezone("ada", "Europe/Berlin")
    spring = datetime(2026, 3, 29, 12, tzinfo=BERLIN)
    cardio = next(s for s in q.quests.list("ada", at=spring).daily if s.key == "morning_cardio")
    assert cardio.period_start is not None and cardio.expires_at is not None
    assert cardio.expires_at - cardio.period_start == timedelta(hours=23)


def test_reset_time_starts_the_day_at_that_local_hour(g: Gamification) -> None:
    g.events.load(
        {"quests": [{"key": "early", "name": "Early", "reset_time": "05:00",
                     "objectives": [{"event": "run", "target": 1}], "rewards": {"xp": 1}}]},
        name="early",
    )  # fmt: skip
    before_reset = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)
    assert len(g.track("ada", "run", at=before_reset).quests) == 1  # the period of the 2nd
    assert g.track("ada", "run", at=before_reset + timedelta(minutes=30)).quests == ()
    assert len(g.track("ada", "run", at=before_reset + timedelta(hours=1)).quests) == 1


def test_streak_objective_and_quest_achievements(q: Gamification, clock: FakeClock) -> None:
    paid: list[QuestCompletion] = []
    for _ in range(3):
        for _ in range(3):
            paid += q.track("ada", "meal_logged").quests
        clock.advance(days=1)
    # A meal_logger each day; day 3 also completes streak_master (a 3-day streak).
    assert [c.key for c in paid] == ["meal_logger"] * 2 + ["streak_master", "meal_logger"]
    assert q.achievements.get("ada", "questing").unlocked
    assert q.balance("ada", "points") == 3 * 3 + 50
    # One-time: it stays completed.
    once = next(s for s in q.quests.list("ada").special if s.key == "streak_master")
    assert once.completed and once.expires_at is None


def test_sequence_counts_an_objective_only_after_the_ones_before(q: Gamification) -> None:
    q.track("ada", "run")
    q.track("ada", "warmup")
    combo = next(s for s in q.quests.list("ada").daily if s.key == "combo")
    assert [o.current for o in combo.objectives] == [1, 0]
    q.track("ada", "run")
    assert [c.key for c in q.track("ada", "run").quests] == ["combo"]


def test_locks_chains_and_requirements(q: Gamification) -> None:
    board = q.quests.list("ada")
    assert "onboarding_2" not in keys(board, "special")
    assert "pro" not in keys(board, "daily") and "poster" not in keys(board, "daily")
    assert q.track("ada", "comment").quests == ()  # locked quests do not progress
    done = q.track("ada", "post").quests
    assert [c.key for c in done] == ["onboarding_1"]
    board = q.quests.list("ada")
    assert "onboarding_2" in keys(board, "special") and "poster" in keys(board, "daily")
    assert sorted(c.key for c in q.track("ada", "comment").quests) == ["onboarding_2", "poster"]


class Trainer:
    """A verify_quest plugin: approves evidence carrying a trainer's id."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, QuestStatus]] = []

    @hookimpl
    def verify_quest(
        self, engine: Gamification, user_id: str, quest: Any, evidence: Any, progress: QuestStatus
    ) -> bool | None:
        if quest.key != "trainer_check":
            return None
        self.seen.append((user_id, progress))
        return isinstance(evidence, dict) and evidence.get("trainer") == "t-1"


class Completions:
    def __init__(self) -> None:
        self.completed: list[QuestCompletion] = []

    @hookimpl
    def on_quest_completed(self, engine: Gamification, completion: QuestCompletion) -> None:
        self.completed.append(completion)


def test_verify_quest_hook_decides_server_side_completion(make_engine: Make) -> None:
    trainer, listener = Trainer(), Completions()
    g = make_engine(plugins=(trainer, listener))
    g.events.load(QUESTS, name="quests")
    g.track("ada", "post")
    with unchanged(g), pytest.raises(QuestNotVerified, match="trainer_check"):
        g.quests.complete("ada", "trainer_check", evidence={"trainer": "t-9"}, idempotency_key="a")
    done = g.quests.complete("ada", "trainer_check", evidence={"trainer": "t-1"},
                             idempotency_key="b")  # fmt: skip
    assert (done.key, done.seq, done.xp) == ("trainer_check", 1, 40)
    assert trainer.seen[-1][0] == "ada" and not trainer.seen[-1][1].completed
    # A retry with the same key replays; a new key is refused for this month.
    again = g.quests.complete("ada", "trainer_check", evidence={"trainer": "t-1"},
                              idempotency_key="b")  # fmt: skip
    assert again == done
    with unchanged(g), pytest.raises(QuestAlreadyCompleted):
        g.quests.complete("ada", "trainer_check", evidence={"trainer": "t-1"}, idempotency_key="c")
    assert [c.key for c in listener.completed] == ["onboarding_1", "trainer_check"]
    stored = g.db.execute("SELECT evidence FROM quest_completions WHERE quest = 'trainer_check'")
    assert stored.fetchone()[0] == '{"trainer":"t-1"}'


def test_without_a_plugin_the_tracked_objectives_decide(make_engine: Make) -> None:
    g = make_engine()
    g.events.load(
        {"quests": [{"key": "manual", "name": "Manual", "verification": True,
                     "rewards": {"xp": 3}, "objectives": [{"event": "run", "target": 2}]}]},
        name="manual",
    )  # fmt: skip
    assert g.track("ada", "run").quests == () and g.track("ada", "run").quests == ()
    assert g.quests.complete("ada", "manual", idempotency_key="k").xp == 3
    with unchanged(g), pytest.raises(QuestNotVerified):
        g.quests.complete("bob", "manual", idempotency_key="k2")


def test_bad_completions_are_typed_and_write_nothing(q: Gamification, clock: FakeClock) -> None:
    q.events.load(
        {"quests": [
            {"key": "spring_event", "name": "Spring", "recurrence": "event",
             "available_from": "2026-03-10T00:00:00+00:00",
             "available_until": "2026-03-20T00:00:00+00:00",
             "objectives": [{"event": "run", "target": 1}], "rewards": {"xp": 1}},
        ]},
        name="events",
    )  # fmt: skip
    q.track("ada", "post")
    with unchanged(q):
        with pytest.raises(NotFound, match="quest"):
            q.quests.complete("ada", "nope", idempotency_key="1")
        with pytest.raises(QuestUnavailable, match="opens at"):
            q.quests.complete("ada", "spring_event", idempotency_key="2")
        with pytest.raises(QuestLocked, match="level 5"):
            q.quests.complete("ada", "pro", idempotency_key="3")
        with pytest.raises(QuestAlreadyCompleted):
            q.quests.complete("ada", "onboarding_1", idempotency_key="4")
        with pytest.raises(InvalidInput, match="idempotency_key"):
            q.quests.complete("ada", "pro", idempotency_key=None)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="quest_key"):
            q.quests.complete("ada", "", idempotency_key="5")
    clock.set(datetime(2026, 3, 21, tzinfo=UTC))
    with unchanged(q), pytest.raises(QuestExpired):
        q.quests.complete("ada", "spring_event", idempotency_key="6")


def test_quest_definitions_are_checked_whole(g: Gamification) -> None:
    bad = {
        "quests": [
            {"key": "a", "name": "A", "after": "b", "objectives": [{"event": "x", "target": 1}]},
            {"key": "b", "name": "B", "after": "a", "objectives": [{"event": "x", "target": 0}]},
            {"key": "c", "name": "C", "recurrence": "event", "objectives": []},
            {
                "key": "d",
                "name": "D",
                "difficulty": "extreme",
                "objectives": [{"type": "count", "target": 1}],
            },
            {
                "key": "e",
                "name": "E",
                "requires_achievement": "ghost",
                "reset_time": "25:00",
                "rewards": {"points": {"gold": 1}},
                "objectives": [{"event": "x", "target": 1, "filters": {"k": [1]}}],
            },
        ],
    }
    with unchanged(g), pytest.raises(ConfigError) as caught:
        g.events.load(bad, name="bad")
    text = str(caught.value)
    assert "quests[3].difficulty: expected one of easy, medium, hard, legendary" in text
    bad["quests"] = bad["quests"][:3] + bad["quests"][4:]
    with unchanged(g), pytest.raises(ConfigError) as caught:
        g.events.load(bad, name="bad")
    problems = caught.value.problems
    for expected in (
        "quests[1].objectives[0].target: expected an int from 1",
        "quests: chain cycle: a -> b -> a",
        "quests[2].recurrence: an event quest needs available_from and available_until",
        "quests[2].objectives: expected at least one (or verification = true)",
        "quests[3].requires_achievement: unknown achievement 'ghost'",
        "quests[3].reset_time: expected HH:MM",
        "quests[3].rewards.points['gold']: unknown currency",
        "quests[3].objectives[0].filters['k']: expected a str, int or bool",
    ):
        assert any(expected in p for p in problems), (expected, problems)


def test_rollover_expires_unfinished_periods_once(q: Gamification, clock: FakeClock) -> None:
    q.track("ada", "workout", value=5, metadata={"workout_type": "cardio"})
    assert q.quests.close_periods() == 0
    clock.advance(days=1)
    assert q.quests.close_periods() == 1  # the daily cardio; the weekly one runs on
    with unchanged(q):
        assert q.quests.close_periods() == 0
    rows = dict(q.db.execute("SELECT quest, status FROM quest_progress").fetchall())
    assert rows["morning_cardio"] == "expired" and rows["week_warrior"] == "active"


def test_reloading_quests_keeps_progress_and_retires_removed_ones(q: Gamification) -> None:
    q.track("ada", "meal_logged")
    report = q.events.load({"quests": QUESTS["quests"][1:2]}, name="quests")
    assert "quest:meal_logger" in report.unchanged and "quest:morning_cardio" in report.retired
    assert keys(q.quests.list("ada"), "daily") == ["meal_logger"]
    assert q.quests.list("ada").daily[0].objectives[0].current == 1
    with pytest.raises(QuestUnavailable, match="no longer offered"):
        q.quests.complete("ada", "morning_cardio", idempotency_key="x")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(st.sampled_from(["meal_logged", "workout", "post"]),
                                st.integers(0, 20)), max_size=40))  # fmt: skip
def test_a_quest_never_pays_more_than_its_maximum_per_period(
    make_engine: Make, steps: list[tuple[str, int]]
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    g = Gamification.open(":memory:", clock=clock, load_entrypoints=False,
                          config=Config(default_timezone="America/Los_Angeles"))  # fmt: skip
    try:
        g.events.load(QUESTS, name="quests")
        for event, hours in steps:
            clock.advance(hours=hours)
            g.track("ada", event, value=10, metadata={"workout_type": "cardio"})
        maxima = {quest["key"]: quest.get("max_completions", 1) for quest in QUESTS["quests"]}
        rows = g.db.execute(
            "SELECT quest, period_start, MAX(seq), COUNT(*) FROM quest_completions "
            "GROUP BY quest, period_start"
        ).fetchall()
        for quest, _, top, count in rows:
            assert top == count <= maxima[quest]
        paid = sum(
            e.amount for e in g.xp.history("ada", limit=1000) if e.source.startswith("quest:")
        )
        assert paid == sum(
            QUESTS["quests"][[x["key"] for x in QUESTS["quests"]].index(quest)]["rewards"].get(
                "xp", 0
            )
            * count
            for quest, _, _, count in rows
        )
        assert not g.verify_ledger()
    finally:
        g.close()


def test_a_track_replay_returns_the_same_quest_completions(q: Gamification) -> None:
    first = q.track("ada", "meal_logged", idempotency_key="m1")
    q.track("ada", "meal_logged", idempotency_key="m2")
    third = q.track("ada", "meal_logged", idempotency_key="m3")
    assert len(third.quests) == 1
    with unchanged(q):
        assert q.track("ada", "meal_logged", idempotency_key="m3") == third
        assert q.track("ada", "meal_logged", idempotency_key="m1") == first


def test_quests_need_a_known_user_shape(q: Gamification) -> None:
    with pytest.raises(InvalidInput, match="category"):
        q.quests.list("ada", category="x" * 51)
    assert q.quests.list("newbie").daily  # open quests are listed before any activity


def test_quest_completions_are_rate_limited_per_day(make_engine: Make) -> None:
    from gamification_sdk import RateLimit
    from gamification_sdk.errors import RateLimited

    g = make_engine(config=Config(rate_limits={"quest_complete": RateLimit(max=2, seconds=86400)}))
    g.events.load(
        {"quests": [{"key": f"m{i}", "name": f"M{i}", "verification": True, "rewards": {"xp": 1},
                     "objectives": [{"event": "run", "target": 1}]} for i in range(3)]},
        name="manual",
    )  # fmt: skip
    g.track("ada", "run")
    with unchanged(g), pytest.raises(QuestNotVerified):
        g.quests.complete("bob", "m0", idempotency_key="refused")  # a refusal is not counted
    g.quests.complete("ada", "m0", idempotency_key="a")
    g.quests.complete("ada", "m1", idempotency_key="b")
    with unchanged(g), pytest.raises(RateLimited) as caught:
        g.quests.complete("ada", "m2", idempotency_key="c")
    assert caught.value.retry_after.total_seconds() > 0


def test_streak_sweep_and_quest_rollover_run_as_scheduled_jobs(
    q: Gamification, clock: FakeClock
) -> None:
    assert {"streak_sweep", "quest_rollover"} <= {job.name for job in q.jobs.list()}
    q.track("ada", "meal_logged")
    q.track("ada", "workout", value=5, metadata={"workout_type": "cardio"})
    clock.advance(days=2)
    report = q.jobs.run_due()
    assert report.ok and {"streak_sweep", "quest_rollover"} <= set(report.periods())
    assert q.db.execute("SELECT COUNT(*) FROM streak_log WHERE kind = 'broken'").fetchone() == (1,)
    statuses = {s for (s,) in q.db.execute("SELECT status FROM quest_progress")}
    assert "expired" in statuses
    with unchanged(q):
        again = q.jobs.run_due()
    assert not again.ran


def test_a_refused_completion_inside_a_batch_does_not_doom_it(q: Gamification) -> None:
    with q.batch():
        with pytest.raises(QuestNotVerified):
            q.quests.complete("ada", "trainer_check", idempotency_key="no-proof")
        q.award_xp("ada", 5, source="kept")
    assert q.profile("ada").xp == 5
    assert q.rate_limits.status("ada", "quest_complete").used == 0
