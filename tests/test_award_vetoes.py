"""validate_award sees every XP and points award, whatever pays it, and a veto refuses the call.

One scenario per path that issues XP or points: the host's own calls, event rules in track(),
achievement, quest, streak, level-up, battle pass, leaderboard and referral rewards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    Gamification,
    LevelsConfig,
    Season,
    TierReward,
    errors,
    hookimpl,
)
from gamification_sdk.config import LevelReward, StreaksConfig
from gamification_sdk.config.leaderboards import BoardConfig, LeaderboardsConfig, RankReward
from gamification_sdk.models import AwardRequest

Make = Callable[..., Gamification]
FIXTURE = HealthCheck.function_scoped_fixture
DAY = timedelta(days=1)

DEFINITIONS: dict[str, Any] = {
    "rules": [{"event": "post", "xp": 10, "points": {"points": 5}}],
    "achievements": [
        {"key": "first_like", "name": "First like",
         "criteria": {"type": "first_time", "event": "like"},
         "rewards": {"xp": 20, "points": {"points": 3}}},
    ],
    "quests": [
        {"key": "greeter", "name": "Greeter", "recurrence": "one_time",
         "rewards": {"xp": 4, "points": {"points": 6}},
         "objectives": [{"event": "wave", "target": 1}]},
    ],
}  # fmt: skip
SEASON = Season(
    "s1", START - DAY, START + 30 * DAY, total_tiers=2, xp_per_tier=100,
    free_rewards=[TierReward(1, points={"points": 9})],
)  # fmt: skip
RANKED = LeaderboardsConfig(
    visibility="public", show_on_global=True,
    boards=(BoardConfig("xp", periods=("daily",),
                        rewards=(RankReward(ranks=(1, 1), points={"points": 11}),)),),
)  # fmt: skip


class Policy:
    """Records every request; vetoes those ``refuse`` matches (None: vetoes nothing)."""

    def __init__(self, refuse: Callable[[AwardRequest], bool] | None = None) -> None:
        self.refuse = refuse
        self.seen: list[AwardRequest] = []

    @hookimpl
    def validate_award(self, award: AwardRequest) -> str | None:
        self.seen.append(award)
        if self.refuse is not None and self.refuse(award):
            return f"no {award.kind} from {award.origin}"
        return None


def no_setup(g: Gamification) -> None:
    pass


def load(g: Gamification) -> None:
    g.events.load(DEFINITIONS, name="d")


def referral_code(g: Gamification) -> None:
    g.referrals.code("sean")


# (id, config, setup, the call, the request it must make:
#  kind, origin, source, currency, transaction_type, reference)
SCENARIOS: list[tuple[str, Config, Callable[[Gamification], object], Callable[[Gamification], object], tuple[Any, ...]]] = [  # noqa: E501
    ("award_xp", Config(), no_setup, lambda g: g.award_xp("ada", 10, source="quiz"),
     ("xp", "direct", "quiz", None, None, None)),
    ("award_points", Config(), no_setup,
     lambda g: g.award_points("ada", 10, currency="points", source="quiz"),
     ("points", "direct", "quiz", "points", "earned", None)),
    ("rule xp", Config(), load, lambda g: g.track("ada", "post"),
     ("xp", "event", "event:post", None, None, None)),
    ("rule points", Config(), load, lambda g: g.track("ada", "post"),
     ("points", "event", "event:post", "points", "earned", ("event", "post"))),
    ("achievement xp", Config(), load, lambda g: g.track("ada", "like"),
     ("xp", "achievement", "achievement:first_like", None, None, None)),
    ("achievement points", Config(), load, lambda g: g.track("ada", "like"),
     ("points", "achievement", "achievement:first_like", "points", "bonus",
      ("achievement", "first_like"))),
    ("quest xp", Config(), load, lambda g: g.track("ada", "wave"),
     ("xp", "quest", "quest:greeter", None, None, None)),
    ("quest points", Config(), load, lambda g: g.track("ada", "wave"),
     ("points", "quest", "quest:greeter", "points", "earned", ("quest", "greeter"))),
    ("streak xp", Config(streaks=StreaksConfig(bonus_xp_per_day=5)),
     lambda g: g.streaks.record_activity("ada", at=START),
     lambda g: g.streaks.record_activity("ada", at=START + DAY),
     ("xp", "streak", "streak", None, None, None)),
    ("level-up bonus", Config(levels=LevelsConfig(level_up_bonus={"points": 7})), no_setup,
     lambda g: g.award_xp("ada", 150, source="quiz"),
     ("points", "level_up", "level_up", "points", "bonus", ("level", "2"))),
    ("level reward", Config(levels=LevelsConfig(rewards=[LevelReward(2, points={"points": 8})])),
     no_setup, lambda g: g.award_xp("ada", 150, source="quiz"),
     ("points", "level_up", "level_up", "points", "bonus", ("level", "2"))),
    ("battle pass", Config(seasons=[SEASON]), lambda g: g.award_xp("ada", 100, source="quiz"),
     lambda g: g.battle_pass.claim("ada", 1, track="free"),
     ("points", "battle_pass", "battle_pass", "points", "bonus", ("battle_pass", "s1:free:1"))),
    ("leaderboard", Config(leaderboards=RANKED), lambda g: g.award_xp("ada", 10, source="quiz"),
     lambda g: g.boards.close_periods(START + DAY),
     ("points", "leaderboard", "leaderboard", "points", "bonus",
      ("leaderboard", "xp:daily:2026-03-02"))),
    ("referral", Config(), referral_code,
     lambda g: g.referrals.track(g.referrals.code("sean"), "amy"),
     ("points", "referral", "referral", "points", "referral_reward", ("referral", "1"))),
]  # fmt: skip


def described(request: AwardRequest) -> tuple[Any, ...]:
    return (
        request.kind, request.origin, request.source, request.currency,
        request.transaction_type, request.reference,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("config", "setup", "call", "expected"),
    [scenario[1:] for scenario in SCENARIOS],
    ids=[scenario[0] for scenario in SCENARIOS],
)
def test_every_award_asks_validate_award_and_a_veto_refuses_the_whole_call(
    make_engine: Make,
    config: Config,
    setup: Callable[[Gamification], object],
    call: Callable[[Gamification], object],
    expected: tuple[Any, ...],
    backend: str,
) -> None:
    if backend == "postgresql" and expected[-1] == ("referral", "1"):
        # A PostgreSQL identity drawn by the refused call is not given back on rollback, as
        # SQLite's rowid is: the referral that stays is number 2 there.
        expected = (*expected[:-1], ("referral", "2"))
    kind, origin = expected[:2]
    policy = Policy(lambda award: (award.kind, award.origin) == (kind, origin))
    g = make_engine(config=config, plugins=(policy,))
    setup(g)
    # The derived award comes after the call's first rows: all of them go.
    with unchanged(g), pytest.raises(errors.Rejected) as info:
        call(g)
    assert info.value.reason == f"no {kind} from {origin}"
    policy.refuse = None
    policy.seen.clear()
    call(g)
    assert expected in [described(r) for r in policy.seen]
    assert all(r.at == policy.seen[0].at for r in policy.seen)  # the call's own moment
    assert not g.verify_ledger()


def test_an_award_request_is_compatible_with_the_seven_field_form() -> None:
    request = AwardRequest("xp", "ada", 5, "quiz", None, None, START)
    assert (request.origin, request.transaction_type, request.reference) == ("direct", None, None)


def test_a_derived_veto_dooms_a_batch_a_direct_one_does_not(make_engine: Make) -> None:
    policy = Policy(lambda award: award.source == "cheat" or award.origin == "event")
    g = make_engine(plugins=(policy,))
    load(g)
    g.award_xp("ada", 1, source="seed")
    with unchanged(g), pytest.raises(errors.BatchAborted), g.batch():
        # Refused before it writes anything: the batch goes on.
        with pytest.raises(errors.Rejected):
            g.award_points("ada", 5, currency="points", source="cheat")
        g.award_xp("ada", 5, source="quiz")
        # Refused after its metric rows: the batch cannot commit.
        with pytest.raises(errors.Rejected):
            g.track("ada", "post")
    with g.batch():
        g.award_xp("ada", 5, source="quiz")
        with pytest.raises(errors.Rejected), g.batch():  # a savepoint contains it
            g.track("ada", "post")
    assert g.profile("ada").xp == 6
    assert g.db.execute("SELECT COUNT(*) FROM metrics WHERE metric = 'post'").fetchone() == (0,)


def test_a_batched_plain_award_is_still_asked(make_engine: Make) -> None:
    """The buffered batch path is only for engines without a validate_award plugin."""
    policy = Policy(lambda award: award.amount > 100)
    g = make_engine(config=Config(leaderboards=LeaderboardsConfig(boards=())), plugins=(policy,))
    g.award_xp("ada", 1, source="seed")
    with g.batch():
        g.award_xp("ada", 5, source="quiz")
        with pytest.raises(errors.Rejected):
            g.award_xp("ada", 500, source="quiz")
    assert [(r.origin, r.amount) for r in policy.seen] == [("direct", 1), ("direct", 5),
                                                           ("direct", 500)]  # fmt: skip
    assert g.profile("ada").xp == 6


# -- every award row was asked for -----------------------------------------------------------

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["ada", "bob"]),
        st.sampled_from(["award_xp", "award_points", "post", "like", "wave", "active"]),
        st.integers(1, 400),
    ),
    max_size=25,
)
ISSUED = "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM transactions WHERE type IN (?, ?, ?)"
CREDIT_TYPES = ("earned", "bonus", "referral_reward")


@settings(max_examples=30, deadline=None, suppress_health_check=[FIXTURE])
@given(operations=OPERATIONS)
def test_each_xp_award_and_credit_written_was_asked_for_once(
    make_engine: Make, operations: list[tuple[str, str, int]]
) -> None:
    policy = Policy()
    config = Config(
        levels=LevelsConfig(level_up_bonus={"points": 7}),
        streaks=StreaksConfig(bonus_xp_per_day=5),
    )
    g = make_engine(config=config, plugins=(policy,))
    load(g)
    day = START
    for user, operation, amount in operations:
        if operation == "award_xp":
            g.award_xp(user, amount, source="quiz", at=day)
        elif operation == "award_points":
            g.award_points(user, amount, currency="points", source="quiz", at=day)
        elif operation == "active":
            day += DAY  # a new day grows the streak: streak bonus XP
            g.streaks.record_activity(user, at=day)
        else:
            g.track(user, operation, at=day)
    asked_xp = sorted((r.user_id, r.source, r.amount) for r in policy.seen if r.kind == "xp")
    written_xp = sorted(g.db.execute("SELECT user_id, source, base_amount FROM xp_awards"))
    assert asked_xp == written_xp
    asked_points = [r.amount for r in policy.seen if r.kind == "points"]
    count, total = g.db.execute(ISSUED, CREDIT_TYPES).fetchone()
    assert (len(asked_points), sum(asked_points)) == (count, total)


def test_a_policy_registered_after_open_vetoes_and_unregistered_stops(make_engine: Make) -> None:
    """Whether any plugin vets awards is decided again when the plugins change."""
    g = make_engine()
    g.award_xp("ada", 10, source="quiz")
    policy = Policy(lambda request: request.kind == "xp")
    g.pm.register(policy)
    with unchanged(g), pytest.raises(errors.Rejected):
        g.award_xp("ada", 10, source="quiz")
    g.pm.unregister(policy)
    assert g.award_xp("ada", 10, source="quiz").total_xp == 20
    assert len(policy.seen) == 1


def test_a_policy_registered_after_open_vetoes_points_and_unregistered_stops(
    make_engine: Make,
) -> None:
    """award_points decides whether anything vets it again when the plugins change, keyed
    or not; a refused award writes nothing, its key included."""
    g = make_engine()
    g.award_points("ada", 10, currency="points", source="quiz", idempotency_key="a")
    policy = Policy(lambda request: request.kind == "points")
    g.pm.register(policy)
    for key in (None, "b"):
        with unchanged(g), pytest.raises(errors.Rejected):
            g.award_points("ada", 10, currency="points", source="quiz", idempotency_key=key)
    g.pm.unregister(policy)
    done = g.award_points("ada", 10, currency="points", source="quiz", idempotency_key="b")
    assert done.balance_after == 20
    assert [request.amount for request in policy.seen] == [10, 10]
    assert g.verify_ledger().ok


@pytest.mark.parametrize("kind", ["xp", "points"])
def test_a_plugin_a_policy_registers_while_vetting_multiplies_that_award(
    make_engine: Make, kind: str
) -> None:
    """The multipliers (XP's and the points') are asked after the vetoes, and see what they
    changed."""

    class Double:
        @hookimpl
        def xp_multiplier(self) -> float:
            return 2.0

        @hookimpl
        def points_multiplier(self) -> float:
            return 2.0

    class Registering:
        def __init__(self, g: Gamification) -> None:
            self.g = g

        @hookimpl
        def validate_award(self, award: AwardRequest) -> None:
            if not self.g.pm.has_plugin("double"):
                self.g.pm.register(Double(), name="double")

    g = make_engine()
    g.pm.register(Registering(g))
    if kind == "xp":
        assert g.award_xp("ada", 10, source="quiz").amount == 20
        return
    assert g.award_points("ada", 10, currency="points", source="quiz").amount == 20
    assert g.award_points("ada", 10, currency="points", source="quiz").amount == 20
    assert g.balance("ada", "points") == 40
