"""Status tiers: upgrades in the earning's transaction, downgrades only at a requalification
(local midnight, after the grace), exactly once; bad configuration refused naming the field."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    StatusTier,
    StatusTiersConfig,
    TierChange,
    errors,
    hookimpl,
)

Make = Callable[..., Gamification]

SILVER_GOLD = (
    StatusTier("silver", 5_000, title="Silver", xp_multiplier=1.5, items={"lounge_pass": 2}),
    StatusTier("gold", 10_000, title="Gold", xp_multiplier=2.0),
)
THREE = (StatusTier("bronze", 100), StatusTier("silver", 200), StatusTier("gold", 300))


def tiers_config(**kwargs: Any) -> Config:
    kwargs.setdefault("measure", "points:points")
    kwargs.setdefault("tiers", SILVER_GOLD)
    return Config(tiers=StatusTiersConfig(**kwargs))


def test_a_user_is_upgraded_in_the_call_that_qualifies_them(make_engine: Make) -> None:
    g = make_engine(config=tiers_config())
    g.award_points("ada", 4_000, currency="points", source="order")
    assert g.tiers.status("ada").tier is None
    assert g.tiers.status("ada").to_next == 1_000
    g.award_points("ada", 1_500, currency="points", source="order")
    status = g.tiers.status("ada")
    assert (status.tier, status.title, status.since, status.earned) == (
        "silver",
        "Silver",
        START,
        5_500,
    )
    # Held for a whole window after the day it was reached (12 months from 2026-03-02).
    assert status.requalify_on == date(2027, 3, 3)
    assert status.downgrade_at == datetime(2027, 3, 3, tzinfo=UTC)
    inventory = g.users.inventory("ada")
    assert "Silver" in inventory.titles and inventory.items["lounge_pass"] == 2
    (change,) = g.tiers.history("ada")
    assert (change.old_tier, change.new_tier, change.kind, change.earned) == (
        None, "silver", "upgrade", 5_500,
    )  # fmt: skip
    assert [n.kind for n in g.notifications.list("ada")] == ["tier_changed"]
    # A jump past two thresholds lands on the highest at once.
    g.award_points("bob", 12_000, currency="points", source="order")
    assert g.tiers.status("bob").tier == "gold"
    assert "Silver" in g.users.inventory("bob").titles  # every tier passed grants its title


def test_transfers_do_not_count_and_other_currencies_do_not_count(make_engine: Make) -> None:
    config = Config(
        currencies=(CurrencyConfig("points"), CurrencyConfig("gems")),
        tiers=StatusTiersConfig(measure="points:points", tiers=SILVER_GOLD),
    )
    g = make_engine(config=config)
    g.award_points("ada", 9_000, currency="gems", source="order")
    g.award_points("bob", 6_000, currency="points", source="order")
    g.transfer_points("bob", "ada", 6_000, currency="points")
    assert g.tiers.status("ada").tier is None
    assert g.tiers.status("bob").tier == "silver"


def test_the_tier_multiplies_xp_through_the_built_in_plugin(make_engine: Make) -> None:
    g = make_engine(config=tiers_config(measure="xp"))
    first = g.award_xp("ada", 5_000, source="post")
    assert first.multiplier == 1.0  # the award that qualifies is not yet multiplied
    assert g.tiers.status("ada").tier == "silver"
    assert g.award_xp("ada", 100, source="post").amount == 150
    assert g.tiers.status("ada").xp_multiplier == 1.5


def test_the_tier_multiplier_holds_in_a_batch_and_beside_other_plugins(make_engine: Make) -> None:
    class Double:
        @hookimpl
        def xp_multiplier(self, engine: Gamification, user_id: str) -> float:
            return 2.0

    g = make_engine(config=tiers_config())
    g.award_points("ada", 5_000, currency="points", source="order")
    with g.batch():
        assert g.award_xp("ada", 100, source="post").amount == 150
    doubled = make_engine(config=tiers_config(), plugins=(Double(),))
    doubled.award_points("ada", 5_000, currency="points", source="order")
    assert doubled.award_xp("ada", 100, source="post").amount == 300


def test_an_event_measure_counts_the_tracked_values(make_engine: Make) -> None:
    g = make_engine(config=tiers_config(measure="event:miles", tiers=THREE))
    g.track("ada", "miles", value=150)
    g.track("ada", "other", value=1_000)
    assert g.tiers.status("ada").tier == "bronze"


def test_a_vetoed_award_upgrades_nobody(make_engine: Make) -> None:
    class Veto:
        @hookimpl
        def validate_award(self, engine: Gamification, award: Any) -> str | None:
            return "no" if award.amount > 9_000 else None

    g = make_engine(config=tiers_config(), plugins=(Veto(),))
    with unchanged(g), pytest.raises(errors.Rejected):
        g.award_points("ada", 9_500, currency="points", source="order")
    assert g.tiers.status("ada").tier is None


def test_on_tier_changed_reaches_a_real_plugin_after_commit(make_engine: Make) -> None:
    seen: list[TierChange] = []

    class Listener:
        @hookimpl
        def on_tier_changed(self, engine: Gamification, change: TierChange) -> None:
            assert engine.tiers.status(change.user_id).tier == change.new_tier  # committed
            seen.append(change)

    g = make_engine(config=tiers_config(window_days=10, window_months=None), plugins=(Listener(),))
    g.award_points("ada", 5_000, currency="points", source="order", idempotency_key="k1")
    g.award_points("ada", 5_000, currency="points", source="order", idempotency_key="k1")
    assert [(c.new_tier, c.kind) for c in seen] == [("silver", "upgrade")]
    g.tiers.requalify(START + timedelta(days=12))
    assert [(c.old_tier, c.new_tier, c.kind) for c in seen][1:] == [("silver", None, "downgrade")]


def days_config(window: int, grace: int = 0, **kwargs: Any) -> Config:
    return tiers_config(window_months=None, window_days=window, grace_days=grace, **kwargs)


def test_requalification_at_local_midnight_across_new_york_dst(make_engine: Make) -> None:
    g = make_engine(config=days_config(10))
    g.users.set_timezone("ada", "America/New_York")
    g.award_points("ada", 5_000, currency="points", source="order")  # 07:00 EST, 2 March
    status = g.tiers.status("ada")
    assert status.requalify_on == date(2026, 3, 13)
    # Clocks went forward on 8 March: local midnight of the 13th is 04:00 UTC, not 05:00.
    assert status.downgrade_at == datetime(2026, 3, 13, 4, tzinfo=UTC)
    assert g.tiers.requalify(datetime(2026, 3, 13, 3, 59, 59, tzinfo=UTC)) == []
    assert g.tiers.status("ada").tier == "silver"
    (change,) = g.tiers.requalify(datetime(2026, 3, 13, 4, tzinfo=UTC))
    assert (change.new_tier, change.at) == (None, datetime(2026, 3, 13, 4, tzinfo=UTC))


def test_requalification_in_auckland_uses_the_local_date_and_the_grace(make_engine: Make) -> None:
    g = make_engine(config=tiers_config(window_months=1, grace_days=2))
    g.users.set_timezone("ada", "Pacific/Auckland")
    g.award_points("ada", 5_000, currency="points", source="order")  # 01:00 on 3 March there
    status = g.tiers.status("ada")
    assert status.requalify_on == date(2026, 4, 4)
    # Daylight time ended on 5 April: midnight of the 6th is 12:00 UTC (+12), not 11:00.
    assert status.downgrade_at == datetime(2026, 4, 5, 12, tzinfo=UTC)
    assert g.tiers.requalify(datetime(2026, 4, 5, 11, 59, tzinfo=UTC)) == []
    assert [c.new_tier for c in g.tiers.requalify(datetime(2026, 4, 5, 12, tzinfo=UTC))] == [None]


def test_earning_during_the_grace_keeps_the_tier(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=days_config(10, grace=3))
    g.award_points("ada", 5_000, currency="points", source="order")
    g.award_points("bob", 5_000, currency="points", source="order")
    assert g.tiers.status("ada").downgrade_at == datetime(2026, 3, 16, tzinfo=UTC)
    # Past the requalification date but inside the grace: nobody drops yet.
    assert g.tiers.requalify(datetime(2026, 3, 15, 23, tzinfo=UTC)) == []
    clock.set(datetime(2026, 3, 14, 9, tzinfo=UTC))
    g.award_points("ada", 5_000, currency="points", source="order")
    changes = g.tiers.requalify(datetime(2026, 3, 16, tzinfo=UTC))
    assert [(c.user_id, c.new_tier) for c in changes] == [("bob", None)]
    kept = g.tiers.status("ada", at=datetime(2026, 3, 16, tzinfo=UTC))
    assert (kept.tier, kept.requalify_on) == ("silver", date(2026, 3, 23))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("one_step", ["silver", "bronze", None]), ("straight", [None])],
)
def test_one_step_and_straight_downgrades(
    make_engine: Make, rule: str, expected: list[str | None]
) -> None:
    g = make_engine(config=days_config(10, tiers=THREE, downgrade=rule))
    g.award_points("ada", 300, currency="points", source="order")
    assert g.tiers.status("ada").tier == "gold"
    seen = []
    for cycle in range(1, 5):
        seen += [c.new_tier for c in g.tiers.requalify(START + timedelta(days=11 * cycle))]
    assert seen == expected
    assert [c.kind for c in g.tiers.history("ada")] == ["downgrade"] * len(expected) + ["upgrade"]


def test_downgrade_to_keeps_a_floor(make_engine: Make) -> None:
    tiers = (THREE[0], THREE[1], StatusTier("gold", 300, downgrade_to="silver"))
    g = make_engine(config=days_config(10, tiers=tiers, downgrade="straight"))
    g.award_points("ada", 300, currency="points", source="order")
    assert [c.new_tier for c in g.tiers.requalify(START + timedelta(days=11))] == ["silver"]


def test_a_late_job_judges_each_missed_cycle_by_its_own_window(make_engine: Make) -> None:
    g = make_engine(config=days_config(10, tiers=THREE, downgrade="one_step"))
    g.award_points("ada", 300, currency="points", source="order")
    # Three cycles passed before the job ran: one step each.
    (change,) = g.tiers.requalify(START + timedelta(days=40))
    assert change.old_tier == "gold" and change.new_tier is None


def test_the_job_downgrades_once_run_twice_or_from_two_processes(
    make_engine: Make, db_path: Path
) -> None:
    first = make_engine(db_path, config=days_config(10))
    second = make_engine(db_path)
    for name in ("ada", "bob"):
        first.award_points(name, 5_000, currency="points", source="order")
    later = START + timedelta(days=12)
    assert len(first.tiers.requalify(later)) == 2
    assert second.tiers.requalify(later) == []
    assert first.tiers.requalify(later) == []
    assert [c.kind for c in second.tiers.history("ada")] == ["downgrade", "upgrade"]
    assert len(second.notifications.list("ada")) == 2


def test_the_scheduled_job_runs_the_requalification(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=days_config(10))
    g.award_points("ada", 5_000, currency="points", source="order")
    assert "tier_requalify" in [job.name for job in g.jobs.list()]
    report = g.jobs.run_due(START + timedelta(days=12))
    assert "tier_requalify" in [run.job for run in report.ran]
    assert g.tiers.status("ada", at=START + timedelta(days=12)).tier is None


def test_the_board_ranks_by_tier_then_by_who_reached_it_first(
    make_engine: Make, clock: FakeClock
) -> None:
    g = make_engine(config=tiers_config())
    g.award_points("cat", 5_000, currency="points", source="order")
    clock.advance(timedelta(hours=1))
    g.award_points("ada", 12_000, currency="points", source="order")
    g.award_points("bob", 5_000, currency="points", source="order")
    g.award_points("dan", 100, currency="points", source="order")
    board = g.tiers.board(limit=10)
    assert [(s.rank, s.user_id, s.tier) for s in board] == [
        (1, "ada", "gold"), (2, "cat", "silver"), (3, "bob", "silver"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ({"measure": "xp", "tiers": [{"name": "a", "threshold": 10},
                                     {"name": "b", "threshold": 10}]},
         "tiers.tiers[1].threshold"),
        ({"tiers": [{"name": "a", "threshold": 10}, {"name": "b", "threshold": 5}]},
         "tiers.tiers[1].threshold"),
        ({"tiers": [{"name": "a", "threshold": 10},
                    {"name": "b", "threshold": 20, "downgrade_to": "z"}]},
         "tiers.tiers[1].downgrade_to"),
        ({"window_months": 12, "window_days": 30}, "tiers.window_months"),
        ({"window_months": 0}, "tiers.window_months"),
        ({"window_months": None, "window_days": -1}, "tiers.window_days"),
        ({"grace_days": -1}, "tiers.grace_days"),
        ({"downgrade": "sideways"}, "tiers.downgrade"),
        ({"measure": "points:gold"}, "tiers.measure"),
        ({"tiers": [{"name": "a", "threshold": 10, "xp_multiplier": 0}]},
         "tiers.tiers[0].xp_multiplier"),
    ],
)  # fmt: skip
def test_bad_tier_configuration_names_the_field_and_writes_nothing(
    g: Gamification, tiers: dict[str, Any], field: str
) -> None:
    with unchanged(g), pytest.raises(errors.ConfigError) as caught:
        g.settings.apply(Config.from_dict({"tiers": tiers}))
    assert any(problem.startswith(field) for problem in caught.value.problems), caught.value


def test_bad_calls_are_refused(g: Gamification) -> None:
    with unchanged(g):
        with pytest.raises(errors.InvalidInput):
            g.tiers.status("")
        with pytest.raises(errors.InvalidInput):
            g.tiers.history("ada", limit=0)
        with pytest.raises(errors.InvalidInput):
            g.tiers.board(limit=5_000)
        with pytest.raises(errors.InvalidInput):
            g.tiers.requalify(datetime(2026, 1, 1))  # type: ignore[arg-type]


def test_tiers_can_be_added_to_a_running_file(g: Gamification) -> None:
    g.settings.apply(days_config(10))
    g.award_points("ada", 5_000, currency="points", source="order")
    assert g.tiers.status("ada").tier == "silver"


earning = st.tuples(
    st.integers(min_value=0, max_value=60 * 24),  # minutes after the previous step
    st.integers(min_value=1, max_value=250),  # the amount (0: none this step)
    st.booleans(),  # run the job at this moment
    st.integers(min_value=0, max_value=30),  # whole days jumped before the step
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(earning, min_size=1, max_size=25), grace=st.integers(0, 3))
def test_tiers_follow_the_window_whatever_the_earnings_and_the_clock(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    steps: list[tuple[int, int, bool, int]],
    grace: int,
) -> None:
    clock = FakeClock(START)
    config = days_config(7, grace, tiers=THREE, downgrade="straight")
    ranks = {None: -1, "bronze": 0, "silver": 1, "gold": 2}
    earned: list[tuple[datetime, int]] = []

    def qualifying(start: datetime, end: datetime) -> int:
        total = sum(amount for at, amount in earned if start <= at < end)
        return config.tiers.qualifying(total)

    with fresh_engine(config=config, clock=clock) as g:
        for minutes, amount, run_job, days in steps:
            clock.advance(timedelta(days=days, minutes=minutes))
            now = clock()
            before = g.tiers.status("ada")
            g.award_points("ada", amount, currency="points", source="order")
            earned.append((now, amount))
            after = g.tiers.status("ada")
            # An upgrade is immediate, and an earning never lowers the tier.
            assert ranks[after.tier] >= config.tiers.qualifying(after.earned)
            assert ranks[after.tier] >= ranks[before.tier]
            if not run_job:
                continue
            before = after
            g.tiers.requalify(now)
            after = g.tiers.status("ada")
            if ranks[after.tier] < ranks[before.tier]:
                event("downgraded")
                # Never before the requalification date plus the grace.
                assert before.downgrade_at is not None and before.downgrade_at <= now
            if before.downgrade_at is not None and before.downgrade_at <= now and after.tier:
                # Right after a requalification the tier is no higher than what the window
                # ending at the last deadline judged, unless the window ending now earns it.
                assert after.requalify_on is not None
                last = datetime.combine(
                    after.requalify_on - timedelta(days=7 - grace), datetime.min.time(), UTC
                )
                judged = qualifying(last - timedelta(days=7), last)
                today = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
                assert ranks[after.tier] <= max(
                    judged, qualifying(today - timedelta(days=7), now + timedelta(microseconds=1))
                )
            assert ranks[after.tier] >= config.tiers.qualifying(after.earned)
