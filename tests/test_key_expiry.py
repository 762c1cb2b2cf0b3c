"""Idempotency keys expire (``Config.idempotency.keep_days``, ``g.jobs.expire_keys``).

A key replays for at least ``keep_days`` after its call; once the ``expire_keys`` job has
forgotten it, a reuse runs as a new call. Keys kept in ledger and XP rows, and registry keys a
ledger row also names, stay with those rows; no ledger or XP row is ever deleted. These tests
use the ``g``/``make_engine``/``fresh_engine`` fixtures, so they run on both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    FakeClock,
    Gamification,
    IdempotencyConfig,
    LevelsConfig,
    errors,
)
from gamification_sdk.config import SchedulerConfig

DAY = timedelta(days=1)
KEEP = Config(idempotency=IdempotencyConfig(keep_days=30))
RULES = {"rules": [{"event": "ping", "xp": 1}, {"event": "paid", "xp": 1, "points": {"points": 2}}]}


def _keep(days: int | None, **kwargs: object) -> Config:
    return Config(idempotency=IdempotencyConfig(keep_days=days), **kwargs)  # type: ignore[arg-type]


def _registry(g: Gamification) -> list[str]:
    return sorted(row[0] for row in g.db.execute("SELECT key FROM idempotency_keys").fetchall())


def _count(g: Gamification, table: str) -> int:
    return int(g.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@pytest.mark.parametrize("days", [0, -1, 36_501, True, 1.5, "30"])
def test_keep_days_must_be_a_whole_number_of_days_or_none(days: object) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(idempotency=IdempotencyConfig(keep_days=days))  # type: ignore[arg-type]
    assert isinstance(info.value, errors.InvalidInput)
    assert info.value.field == "idempotency.keep_days"


def test_keep_days_is_read_from_a_config_file_table() -> None:
    config = Config.from_dict({"idempotency": {"keep_days": 7}})
    assert config.idempotency.keep_days == 7
    with pytest.raises(errors.ConfigError, match=r"idempotency\.keep_days"):
        Config.from_dict({"idempotency": {"keep_days": 0}})


def test_keep_days_is_stored_configuration(make_engine: Callable[..., Gamification]) -> None:
    g = make_engine()
    assert g.config.idempotency.keep_days is None
    change = g.settings.apply(KEEP)
    assert change.changed == ("idempotency.keep_days",)
    assert g.config.idempotency.keep_days == 30
    assert g.settings.history()[-1].config.idempotency.keep_days == 30


def test_by_default_keys_are_kept_forever(g: Gamification, clock: FakeClock) -> None:
    g.events.load(RULES, name="rules")
    first = g.events.track("ada", "ping", idempotency_key="t-1")
    clock.advance(days=3650)
    with unchanged(g):
        assert g.jobs.expire_keys() == 0
    assert g.events.track("ada", "ping", idempotency_key="t-1") == first


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"chunk": 0}, "chunk"), ({"chunk": 10_001}, "chunk"), ({"chunk": True}, "chunk"),
     ({"at": "2026-01-01"}, "at")],
)  # fmt: skip
def test_expire_keys_rejects_bad_arguments(
    make_engine: Callable[..., Gamification], kwargs: dict[str, object], field: str
) -> None:
    g = make_engine(config=KEEP)
    g.events.load(RULES, name="rules")
    g.events.track("ada", "ping", idempotency_key="t-1")
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.jobs.expire_keys(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_a_key_replays_exactly_inside_the_window(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=KEEP)
    g.events.load(RULES, name="rules")
    first = g.events.track("ada", "ping", idempotency_key="t-1")
    clock.advance(days=30)  # exactly keep_days: still inside the window
    with unchanged(g):
        assert g.jobs.expire_keys() == 0
    with unchanged(g):
        assert g.events.track("ada", "ping", idempotency_key="t-1") == first
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.events.track("ada", "ping", value=2, idempotency_key="t-1")


def test_a_reuse_after_expiry_runs_as_a_new_call(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=KEEP)
    g.events.load(RULES, name="rules")
    first = g.events.track("ada", "ping", idempotency_key="t-1")
    clock.advance(days=30, seconds=1)
    assert g.jobs.expire_keys() == 1
    assert _registry(g) == []
    again = g.events.track("ada", "ping", idempotency_key="t-1")
    assert again != first and g.profile("ada").xp == 2
    # Recorded anew: inside the new window it replays the new call.
    assert g.events.track("ada", "ping", idempotency_key="t-1") == again
    # Other arguments are no conflict with a forgotten call either.
    clock.advance(days=31)
    g.jobs.expire_keys()
    g.events.track("ada", "ping", value=5, idempotency_key="t-1")
    assert g.profile("ada").xp == 3


def test_the_window_is_measured_from_the_call(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=KEEP)
    g.events.load(RULES, name="rules")
    g.events.track("ada", "ping", idempotency_key="old")
    clock.advance(days=10)
    g.events.track("ada", "ping", idempotency_key="new")
    assert g.jobs.expire_keys(START + 31 * DAY) == 1
    assert _registry(g) == ["new"]
    assert g.jobs.expire_keys(START + 39 * DAY) == 0
    assert g.jobs.expire_keys(START + 41 * DAY) == 1


def test_keys_kept_in_ledger_and_xp_rows_stay_and_no_row_is_deleted(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=KEEP)
    points = g.award_points("ada", 50, currency="points", source="q", idempotency_key="p-1")
    xp = g.award_xp("ada", 5, source="q", idempotency_key="x-1")
    spent = g.spend_points("ada", 10, currency="points", source="shop", idempotency_key="s-1")
    rows = {t: _count(g, t) for t in ("transactions", "entries", "accounts", "xp_awards")}
    clock.advance(days=400)
    assert g.jobs.expire_keys() == 0
    assert {t: _count(g, t) for t in rows} == rows
    with unchanged(g):
        assert g.award_points("ada", 50, currency="points", source="q", idempotency_key="p-1") == (
            points
        )
        assert g.award_xp("ada", 5, source="q", idempotency_key="x-1") == xp
        assert g.spend_points(
            "ada", 10, currency="points", source="shop", idempotency_key="s-1"
        ) == (spent)
    assert not g.verify_ledger()


def test_a_registry_key_a_ledger_row_also_names_stays(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=KEEP)
    g.events.load(RULES, name="rules")
    g.award_points("ada", 50, currency="points", source="q")
    hold = g.points.reserve("ada", 20, currency="points", ttl=3600, idempotency_key="r-1")
    bought = g.points.commit(hold.id, idempotency_key="c-1")
    paid = g.events.track("ada", "paid", idempotency_key="t-paid")
    clock.advance(days=31)
    # The hold's key is the registry's alone: forgotten. The commit's also names its
    # purchase ("call:c-1") and the paid event's its points: both stay and replay.
    assert g.jobs.expire_keys() == 1
    assert _registry(g) == ["c-1", "t-paid"]
    with unchanged(g):
        assert g.points.commit(hold.id, idempotency_key="c-1") == bought
        assert g.events.track("ada", "paid", idempotency_key="t-paid") == paid
    assert not g.verify_ledger()


def test_an_award_that_levelled_up_forgets_its_key_and_pays_no_level_twice(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    config = _keep(30, levels=LevelsConfig(max_level=5, level_up_bonus={"points": 5}))
    g = make_engine(config=config)
    first = g.award_xp("ada", 500, source="q", idempotency_key="lvl")
    assert first.leveled_up and _registry(g) == ["lvl"]
    clock.advance(days=31)
    assert g.jobs.expire_keys() == 1
    again = g.award_xp("ada", 500, source="q", idempotency_key="lvl")
    assert again.id != first.id and g.profile("ada").xp == 1000
    assert g.balance("ada", "points") == 5 * (again.new_level - 1)
    assert not g.verify_ledger()


def test_expiry_walks_in_chunks_across_keys_of_one_instant(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    g = make_engine(config=_keep(1))
    g.events.load(RULES, name="rules")
    for i in range(23):  # one instant: the chunks resume by key among equal times
        g.events.track(f"u{i % 3}", "ping", idempotency_key=f"k-{i:02}")
    clock.advance(hours=12)
    g.events.track("ada", "ping", idempotency_key="young")
    clock.advance(hours=13)
    assert g.jobs.expire_keys(chunk=5) == 23
    assert _registry(g) == ["young"]


def test_the_expire_keys_job_runs_on_schedule(
    make_engine: Callable[..., Gamification], clock: FakeClock
) -> None:
    config = _keep(2, scheduler=SchedulerConfig(key_expiry_minutes=60))
    g = make_engine(config=config)
    assert "expire_keys" in [job.name for job in g.jobs.list()]
    g.events.load(RULES, name="rules")
    g.events.track("ada", "ping", idempotency_key="t-1")
    clock.advance(days=3)
    report = g.jobs.run_due()
    [run] = [run for run in report.ran if run.job == "expire_keys"]
    assert run.error is None and run.result == {"keys": 1}
    assert _registry(g) == []


def test_the_job_can_be_turned_off(make_engine: Callable[..., Gamification]) -> None:
    g = make_engine(config=_keep(2, scheduler=SchedulerConfig(key_expiry_minutes=None)))
    assert "expire_keys" not in [job.name for job in g.jobs.list()]


# -- the invariant: no double write inside the window ------------------------------------------

KEYS = ("a", "b", "c")
# (what, key, hours to advance first): a keyed track (its key in the registry), a keyed
# award_points (its key in its transaction row), or a run of the expiry job.
steps = st.lists(
    st.tuples(
        st.sampled_from(("track", "award", "expire")),
        st.sampled_from(KEYS),
        st.integers(min_value=0, max_value=40),
    ),
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=steps)
def test_random_calls_and_expiry_never_write_a_key_twice_inside_its_window(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    steps: list[tuple[str, str, int]],
) -> None:
    clock = FakeClock(START)
    keep = timedelta(days=1)
    with fresh_engine(clock=clock, config=_keep(1)) as g:
        g.events.load(RULES, name="rules")
        # key -> (operation, when its call wrote): the keys the engine must still replay.
        live: dict[str, tuple[str, object]] = {}
        written: dict[str, object] = {}  # key -> when a call with it last wrote
        writes = {"track": 0, "award": 0}
        for what, key, hours in steps:
            clock.advance(hours=hours)
            now = clock()
            if what == "expire":
                g.jobs.expire_keys()
                # Only registry keys older than the window go; a key in a row stays.
                live = {
                    k: (op, at)
                    for k, (op, at) in live.items()
                    if op == "award" or now - at <= keep  # type: ignore[operator]
                }
                continue
            known = live.get(key)
            try:
                if what == "track":
                    g.events.track("ada", "ping", idempotency_key=key)
                else:
                    g.award_points("ada", 3, currency="points", source="q", idempotency_key=key)
            except errors.IdempotencyConflict:
                assert known is not None and known[0] != what
                continue
            if known is None:
                if key in written:  # the key's earlier call was older than the window
                    assert now - written[key] > keep  # type: ignore[operator]
                writes[what] += 1
                live[key] = (what, now)
                written[key] = now
            else:
                assert known[0] == what
            assert g.profile("ada").xp == writes["track"]
            assert g.balance("ada", "points") == 3 * writes["award"]
        assert not g.verify_ledger()
