"""Scheduled jobs: periods (DST edges included), once per (job, period), the lease, the
built-in jobs, plugins, several processes, and the APScheduler background thread."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from apscheduler.triggers.cron import CronTrigger
from conftest import START
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobs_plugin import CREATE_LOG, LoggedJobs, logged_jobs, run_child

from gamification_sdk import (
    Config,
    FakeClock,
    Gamification,
    Job,
    JobSkip,
    LedgerReport,
    SchedulerConfig,
    errors,
    hookimpl,
    period_of,
)

Make = Callable[..., Gamification]
Calls = list[tuple[str, str, datetime]]
# Built-in jobs off, so reports show only the jobs under test.
QUIET = SchedulerConfig(
    reservation_expiry_minutes=None, ledger_audit_at=None, history_days=3650,
    streak_sweep_minutes=None, quest_rollover_minutes=None, leaderboard_close_minutes=None,
    battle_pass_close_minutes=None, tier_requalify_minutes=None, key_expiry_minutes=None,
)  # fmt: skip
QUIET_CONFIG = Config(scheduler=QUIET)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def recording(name: str, calls: Calls, **schedule: Any) -> Job:
    """A job that appends (name, its period, now) to ``calls`` each time it runs."""

    def run(engine: Gamification, now: datetime) -> str:
        period = period_of(job, now)
        assert period is not None
        calls.append((name, period, now))
        return period

    job = Job(name, run, **schedule)
    return job


class JobsPlugin:
    """Registers the jobs it is given, through the ``register_jobs`` hook."""

    def __init__(self, *jobs: Job) -> None:
        self.jobs = jobs

    @hookimpl
    def register_jobs(self, register: Callable[[Job], None]) -> None:
        for job in self.jobs:
            register(job)


def job_runs(g: Gamification) -> list[tuple[Any, ...]]:
    return g.db.execute(
        "SELECT job, period, finished_at IS NOT NULL, attempts, error FROM job_runs "
        "ORDER BY job, period"
    ).fetchall()


def walk(g: Gamification, start: datetime, end: datetime, step: timedelta) -> None:
    now = start
    while now <= end:
        assert g.jobs.run_due(now).ok
        now += step


# -- periods ---------------------------------------------------------------------------------


def test_every_periods_are_aligned_to_the_epoch_in_utc() -> None:
    job = Job("j", lambda g, now: None, every=timedelta(minutes=5))
    assert period_of(job, utc(2026, 3, 2, 12, 7, 30)) == "2026-03-02T12:05:00.000000+00:00"
    assert period_of(job, utc(2026, 3, 2, 12, 5)) == "2026-03-02T12:05:00.000000+00:00"
    berlin = datetime(2026, 3, 2, 13, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert period_of(job, berlin) == "2026-03-02T12:05:00.000000+00:00"
    hourly = Job("h", lambda g, now: None, every=timedelta(hours=1))
    assert period_of(hourly, utc(2026, 3, 2, 23, 59)) == "2026-03-02T23:00:00.000000+00:00"


def test_daily_period_is_the_local_date_once_its_time_passed() -> None:
    job = Job("j", lambda g, now: None, daily_at="03:30", timezone="Europe/Berlin")
    assert period_of(job, utc(2026, 3, 2, 2, 29)) == "2026-03-01"  # 03:29 in Berlin
    assert period_of(job, utc(2026, 3, 2, 2, 30)) == "2026-03-02"
    assert period_of(job, utc(2026, 3, 2, 23, 30)) == "2026-03-02"  # 00:30 on the 3rd
    tokyo = Job("t", lambda g, now: None, daily_at="00:00", timezone="Asia/Tokyo")
    assert period_of(tokyo, utc(2026, 3, 2, 15, 0)) == "2026-03-03"


def test_start_makes_earlier_periods_not_due() -> None:
    job = Job("j", lambda g, now: None, daily_at="03:30", start=utc(2026, 3, 2, 12))
    assert period_of(job, utc(2026, 3, 2, 13)) is None  # the first day's 03:30 was before start
    assert period_of(job, utc(2026, 3, 3, 3, 30)) == "2026-03-03"
    every = Job("e", lambda g, now: None, every=timedelta(hours=1), start=utc(2026, 3, 2, 12, 1))
    assert period_of(every, utc(2026, 3, 2, 12, 30)) is None
    assert period_of(every, utc(2026, 3, 2, 13)) == "2026-03-02T13:00:00.000000+00:00"


def test_apscheduler_cron_fires_twice_on_the_autumn_change_but_it_is_one_period() -> None:
    # Why job_runs exists: APScheduler 3.x gives two fire times for 02:30 on 2026-10-25.
    berlin = ZoneInfo("Europe/Berlin")
    trigger = CronTrigger(hour=2, minute=30, timezone=berlin)
    first = trigger.get_next_fire_time(None, utc(2026, 10, 24, 12))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert (first.astimezone(UTC), second.astimezone(UTC)) == (
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 30),
    )
    job = Job("audit", lambda g, now: None, daily_at="02:30", timezone="Europe/Berlin")
    assert period_of(job, first) == period_of(job, second) == "2026-10-25"


@pytest.mark.parametrize(
    ("zone", "wall", "day", "due"),
    [
        # 02:30 happens twice (CEST, then CET): due at the first, once.
        ("Europe/Berlin", "02:30", "2026-10-25", utc(2026, 10, 25, 0, 30)),
        # 02:30 does not exist (02:00 CET -> 03:00 CEST): due as if no jump, 03:30 CEST.
        ("Europe/Berlin", "02:30", "2026-03-29", utc(2026, 3, 29, 1, 30)),
        # 01:30 happens twice (PDT, then PST).
        ("America/Los_Angeles", "01:30", "2026-11-01", utc(2026, 11, 1, 8, 30)),
        # 02:30 does not exist (02:00 PST -> 03:00 PDT): 03:30 PDT.
        ("America/Los_Angeles", "02:30", "2026-03-08", utc(2026, 3, 8, 10, 30)),
    ],
)
def test_daily_job_runs_once_on_a_dst_change_day(
    make_engine: Make, zone: str, wall: str, day: str, due: datetime
) -> None:
    calls: Calls = []
    job = recording("daily", calls, daily_at=wall, timezone=zone)
    g = make_engine(config=QUIET_CONFIG, plugins=(JobsPlugin(job),))
    start = due - timedelta(hours=6)
    # Every 5 minutes through the day: both occurrences of a repeated wall time included.
    walk(g, start, due + timedelta(hours=20), timedelta(minutes=5))
    day_before = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    assert calls == [("daily", day_before, start), ("daily", day, due)]


# -- once per (job, period) ------------------------------------------------------------------


def test_running_twice_runs_nothing_the_second_time(make_engine: Make) -> None:
    calls: Calls = []
    g = make_engine(
        config=QUIET_CONFIG,
        plugins=(JobsPlugin(
            recording("five", calls, every=timedelta(minutes=5)),
            recording("daily", calls, daily_at="06:00", timezone="Europe/Berlin"),
        ),),
    )  # fmt: skip
    first = g.jobs.run_due()
    assert first.periods() == {"five": "2026-03-02T12:00:00.000000+00:00", "daily": "2026-03-02"}
    assert first.ok and first.failed == () and first.skipped == ()
    again = g.jobs.run_due()
    assert again.ran == ()
    assert again.skipped == (
        JobSkip("five", "2026-03-02T12:00:00.000000+00:00", "already ran"),
        JobSkip("daily", "2026-03-02", "already ran"),
    )
    assert len(calls) == 2
    assert [row[:4] for row in job_runs(g)] == [
        ("daily", "2026-03-02", 1, 1),
        ("five", "2026-03-02T12:00:00.000000+00:00", 1, 1),
    ]


def test_after_missed_periods_the_latest_runs_once(make_engine: Make, clock: FakeClock) -> None:
    calls: Calls = []
    g = make_engine(
        config=QUIET_CONFIG,
        plugins=(JobsPlugin(recording("five", calls, every=timedelta(minutes=5))),),
    )
    g.jobs.run_due()
    clock.advance(hours=3, minutes=2)  # 36 periods missed
    assert g.jobs.run_due().periods() == {"five": "2026-03-02T15:00:00.000000+00:00"}
    assert g.jobs.run_due().ran == ()
    assert [period for _, period, _ in calls] == [
        "2026-03-02T12:00:00.000000+00:00",
        "2026-03-02T15:00:00.000000+00:00",
    ]


def test_an_earlier_now_never_runs_a_period_before_the_latest_that_ran(make_engine: Make) -> None:
    calls: Calls = []
    g = make_engine(
        config=QUIET_CONFIG,
        plugins=(JobsPlugin(recording("hourly", calls, every=timedelta(hours=1))),),
    )
    g.jobs.run_due(START + timedelta(hours=5))
    report = g.jobs.run_due(START + timedelta(hours=2))  # a process whose clock lags
    assert report.skipped == (
        JobSkip("hourly", "2026-03-02T14:00:00.000000+00:00", "a later period ran"),
    )
    assert len(calls) == 1


def test_not_due_is_reported(make_engine: Make) -> None:
    tomorrow = START + timedelta(days=1)
    job = Job("later", lambda g, now: None, every=timedelta(hours=1), start=tomorrow)
    g = make_engine(config=QUIET_CONFIG, plugins=(JobsPlugin(job),))
    assert g.jobs.run_due().skipped == (JobSkip("later", None, "not due"),)
    assert job_runs(g) == []


def test_a_failing_job_is_recorded_and_retried_and_others_still_run(
    make_engine: Make, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    calls: Calls = []
    attempts: list[datetime] = []

    def flaky(engine: Gamification, now: datetime) -> str:
        attempts.append(now)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} failed")
        return "fine"

    g = make_engine(
        config=QUIET_CONFIG,
        plugins=(JobsPlugin(
            Job("flaky", flaky, every=timedelta(hours=1)),
            recording("steady", calls, every=timedelta(hours=1)),
        ),),
    )  # fmt: skip
    period = "2026-03-02T12:00:00.000000+00:00"
    with caplog.at_level(logging.ERROR, logger="gamification_sdk"):
        report = g.jobs.run_due()
    assert "scheduled job flaky" in caplog.text and "attempt 1 failed" in caplog.text
    assert not report.ok
    assert [(r.job, r.period, r.error) for r in report.failed] == [
        ("flaky", period, "RuntimeError: attempt 1 failed")
    ]
    assert report.periods() == {"steady": period}
    assert job_runs(g) == [
        ("flaky", period, 0, 1, "RuntimeError: attempt 1 failed"),
        ("steady", period, 1, 1, None),
    ]
    clock.advance(minutes=1)
    assert [r.error for r in g.jobs.run_due().failed] == ["RuntimeError: attempt 2 failed"]
    report = g.jobs.run_due()
    assert report.ok and report.periods() == {"flaky": period}
    assert job_runs(g)[0] == ("flaky", period, 1, 3, None)
    assert g.db.execute("SELECT result FROM job_runs WHERE job = 'flaky'").fetchone() == ('"fine"',)
    assert g.jobs.run_due().ran == ()
    assert len(calls) == 1


def test_a_crash_mid_job_runs_it_again(make_engine: Make) -> None:
    class Crash(BaseException):
        """Stands in for the process dying (not an Exception: nothing records it)."""

    runs: list[datetime] = []

    def dies_once(engine: Gamification, now: datetime) -> None:
        runs.append(now)
        if len(runs) == 1:
            raise Crash

    g = make_engine(
        config=QUIET_CONFIG, plugins=(JobsPlugin(Job("j", dies_once, every=timedelta(hours=1))),)
    )
    with pytest.raises(Crash):
        g.jobs.run_due()
    assert job_runs(g) == [("j", "2026-03-02T12:00:00.000000+00:00", 0, 1, None)]
    assert g.jobs.run_due().periods() == {"j": "2026-03-02T12:00:00.000000+00:00"}
    assert len(runs) == 2


def test_job_results_are_stored_as_json(make_engine: Make, backend: str) -> None:
    def rich(engine: Gamification, now: datetime) -> Any:
        return {"at": now, "report": engine.verify_ledger(), "ids": (1, 2), "span": timedelta(1)}

    g = make_engine(config=QUIET_CONFIG, plugins=(JobsPlugin(Job("rich", rich, daily_at="00:00")),))
    (run,) = g.jobs.run_due().ran
    assert isinstance(run.result["report"], LedgerReport)
    (text,) = g.db.execute("SELECT result FROM job_runs").fetchone()
    # The file starts with its two system accounts; PostgreSQL books them per user, with
    # each user's first transaction in the currency (docs/postgresql.md).
    accounts = 2 if backend == "sqlite" else 0
    assert text == (
        '{"at": "2026-03-02T12:00:00+00:00", "report": {"problems": [], '
        f'"checked_transactions": 0, "checked_accounts": {accounts}}}, "ids": [1, 2], '
        '"span": 86400.0}'
    )


def test_old_finished_runs_are_pruned_but_the_latest_is_kept(
    make_engine: Make, clock: FakeClock
) -> None:
    config = Config(scheduler=attrs.evolve(QUIET, history_days=2))
    calls: Calls = []
    g = make_engine(config=config, plugins=(JobsPlugin(recording("d", calls, daily_at="00:00")),))
    for _ in range(6):
        g.jobs.run_due()
        clock.advance(days=1)
    assert [row[1] for row in job_runs(g)] == ["2026-03-05", "2026-03-06", "2026-03-07"]
    # A lagging caller does not bring pruned periods back.
    assert g.jobs.run_due(START).skipped == (JobSkip("d", "2026-03-02", "a later period ran"),)
    assert len(calls) == 6


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    origin=st.sampled_from([
        utc(2026, 10, 24, 18), utc(2026, 3, 28, 18), utc(2026, 10, 31, 20), utc(2026, 3, 7, 20),
        utc(2026, 4, 4, 10), utc(2026, 10, 3, 10),
    ]),
    steps=st.lists(
        st.tuples(st.integers(0, 36 * 60), st.integers(1, 3)), min_size=1, max_size=30
    ),
)  # fmt: skip
def test_property_each_period_runs_at_most_once_and_the_latest_due_always_ran(
    origin: datetime, steps: list[tuple[int, int]]
) -> None:
    calls: Calls = []
    jobs = (
        recording("berlin", calls, daily_at="02:30", timezone="Europe/Berlin"),
        recording("la", calls, daily_at="01:30", timezone="America/Los_Angeles"),
        # Lord Howe moves its clocks by 30 minutes: 01:45 repeats in April, 02:15 is skipped
        # in October.
        recording("lord_howe_0145", calls, daily_at="01:45", timezone="Australia/Lord_Howe"),
        recording("lord_howe_0215", calls, daily_at="02:15", timezone="Australia/Lord_Howe"),
        recording("every_45m", calls, every=timedelta(minutes=45)),
    )
    clock = FakeClock(origin)
    with Gamification.open(
        ":memory:", config=QUIET_CONFIG, clock=clock, plugins=[JobsPlugin(*jobs)],
        load_entrypoints=False,
    ) as g:  # fmt: skip
        now = origin
        for minutes, repeats in steps:
            now += timedelta(minutes=minutes)
            for _ in range(repeats):
                assert g.jobs.run_due(now).ok
            counts = Counter((name, period) for name, period, _ in calls)
            assert max(counts.values()) == 1
            for job in jobs:
                assert (job.name, period_of(job, now)) in counts
        assert [row[:4] for row in job_runs(g)] == sorted(
            (name, period, 1, 1) for name, period, _ in calls
        )


# -- the lease -------------------------------------------------------------------------------


def test_while_one_engine_holds_the_lease_another_runs_nothing(
    make_engine: Make, db_path: Path, clock: FakeClock
) -> None:
    calls: Calls = []
    plugin = JobsPlugin(recording("hourly", calls, every=timedelta(hours=1)))
    a = make_engine(db_path, config=QUIET_CONFIG, plugins=(plugin,))
    b = make_engine(db_path, config=QUIET_CONFIG, plugins=(plugin,))
    first = a.jobs.run_due(keep_lease=True)  # the lease is A's until 12:05
    assert first.periods() == {"hourly": "2026-03-02T12:00:00.000000+00:00"}
    blocked = b.jobs.run_due()
    assert blocked.blocked_by == first.holder != blocked.holder
    assert not blocked.ok and blocked.ran == () and blocked.skipped == ()
    clock.advance(seconds=299)
    assert a.jobs.run_due(keep_lease=True).ran == ()  # renewed until 12:09:59
    clock.advance(seconds=200)
    assert b.jobs.run_due().blocked_by == first.holder
    clock.advance(hours=1)  # A stopped renewing (as if it died): its lease ran out
    taken = b.jobs.run_due()
    assert taken.ok and taken.periods() == {"hourly": "2026-03-02T13:00:00.000000+00:00"}
    assert a.jobs.run_due().ran == ()  # B gave the lease back; nothing is left to run
    assert len(calls) == 2


def test_a_holder_that_lost_the_lease_mid_job_leaves_the_rest(
    make_engine: Make, db_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: Calls = []
    reports: list[Any] = []

    def slow(engine: Gamification, now: datetime) -> None:
        clock.advance(seconds=301)  # longer than the lease: B takes over meanwhile
        reports.append(b.jobs.run_due(now, keep_lease=True))

    plugin = JobsPlugin(Job("slow", slow, every=timedelta(hours=1)),
                        recording("after", calls, every=timedelta(hours=1)))  # fmt: skip
    a = make_engine(db_path, config=QUIET_CONFIG, plugins=(plugin,))
    b = make_engine(db_path, config=QUIET_CONFIG, plugins=(JobsPlugin(
        Job("slow", lambda g, now: None, every=timedelta(hours=1)),
        recording("after", calls, every=timedelta(hours=1)),
    ),))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="gamification_sdk"):
        report = a.jobs.run_due()
    period = "2026-03-02T12:00:00.000000+00:00"
    # B ran "slow" again (A's run looked dead: the lease said so) and "after".
    assert reports[0].periods() == {"slow": period, "after": period}
    # A finished "slow" (a lease shorter than a job cannot prevent that: it is logged), then
    # found the lease gone and ran nothing more.
    assert "ended after another process took it over" in caplog.text
    assert report.periods() == {"slow": period}
    assert report.blocked_by == reports[0].holder
    assert report.skipped == (JobSkip("after", period, "lease lost"),)
    assert len(calls) == 1
    assert g_holder(a, "slow") == reports[0].holder


def g_holder(g: Gamification, job: str) -> str:
    (holder,) = g.db.execute("SELECT holder FROM job_runs WHERE job = ?", [job]).fetchone()
    return str(holder)


def test_a_job_calling_run_due_jobs_again_is_refused(make_engine: Make, db_path: Path) -> None:
    inner: list[Any] = []

    def reentrant(engine: Gamification, now: datetime) -> None:
        inner.append(engine.jobs.run_due(now))
        inner.append(other.jobs.run_due(now))

    plugin = JobsPlugin(Job("r", reentrant, every=timedelta(hours=1)))
    g = make_engine(db_path, config=QUIET_CONFIG, plugins=(plugin,))
    other = make_engine(db_path, config=QUIET_CONFIG)
    report = g.jobs.run_due()
    assert report.ok
    assert [r.blocked_by for r in inner] == [report.holder, report.holder]
    assert g.db.execute("SELECT COUNT(*) FROM leases").fetchone() == (0,)


def test_several_processes_never_run_a_job_twice(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with Gamification.open(path, plugins=[LoggedJobs()], load_entrypoints=False) as g:
        g.db.execute(CREATE_LOG)
    # 2026-10-23 to 2026-11-03 in 53-minute steps: both autumn changes (Berlin, Los Angeles).
    nows = [utc(2026, 10, 23) + i * timedelta(minutes=53) for i in range(300)]
    context = multiprocessing.get_context("spawn")
    step = context.Barrier(4)
    children = [context.Process(target=run_child, args=(str(path), nows, step)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    with Gamification.open(path, plugins=[LoggedJobs()], load_entrypoints=False) as g:
        rows = g.db.execute("SELECT job, period, pid FROM job_log").fetchall()
        counts = Counter((job, period) for job, period, _ in rows)
        assert counts and max(counts.values()) == 1, [k for k, n in counts.items() if n > 1]
        for job in logged_jobs():
            assert (job.name, period_of(job, nows[-1])) in counts
        assert len({job for job, _ in counts}) == 3
        assert sum(1 for job, _ in counts if job == "log_berlin_0230") >= 8
        finished = g.db.execute(
            "SELECT job, period FROM job_runs WHERE finished_at IS NOT NULL AND job LIKE 'log_%'"
        ).fetchall()
        assert sorted(finished) == sorted(counts)
        assert len({pid for _, _, pid in rows}) >= 2, "the lease never changed hands"
        # Walking the whole sequence again runs nothing.
        assert all(not g.jobs.run_due(now).ran for now in nows[::50])


# -- built-in jobs ---------------------------------------------------------------------------


def test_built_in_jobs_are_registered_from_config(make_engine: Make) -> None:
    g = make_engine()
    assert [(j.name, j.every, j.daily_at, j.timezone) for j in g.jobs.list()] == [
        ("streak_sweep", timedelta(minutes=30), None, "UTC"),
        ("quest_rollover", timedelta(minutes=30), None, "UTC"),
        ("expire_reservations", timedelta(minutes=5), None, "UTC"),
        ("leaderboard_close", timedelta(minutes=15), None, "UTC"),
        ("battle_pass_close", timedelta(minutes=15), None, "UTC"),
        ("tier_requalify", timedelta(minutes=30), None, "UTC"),
        ("expire_keys", timedelta(minutes=60), None, "UTC"),
        ("ledger_audit", None, "03:30", "UTC"),
    ]
    config = Config(
        default_timezone="Europe/Berlin",
        scheduler=attrs.evolve(QUIET, reservation_expiry_minutes=1, ledger_audit_at="04:15"),
    )
    g = make_engine(config=config)
    assert [(j.name, j.every, j.daily_at, j.timezone) for j in g.jobs.list()] == [
        ("expire_reservations", timedelta(minutes=1), None, "UTC"),
        ("ledger_audit", None, "04:15", "Europe/Berlin"),
    ]
    zone = attrs.evolve(QUIET, ledger_audit_timezone="Asia/Tokyo", ledger_audit_at="03:30")
    g = make_engine(config=Config(default_timezone="Europe/Berlin", scheduler=zone))
    assert [(j.name, j.timezone) for j in g.jobs.list()] == [("ledger_audit", "Asia/Tokyo")]
    assert make_engine(config=QUIET_CONFIG).jobs.list() == ()


def test_reservation_expiry_job_releases_expired_holds(make_engine: Make, clock: FakeClock) -> None:
    g = make_engine(config=Config(scheduler=attrs.evolve(QUIET, reservation_expiry_minutes=5)))
    g.award_points("ada", 100, currency="points", source="quest")
    short = g.reserve_points("ada", 30, currency="points", ttl=timedelta(minutes=10))
    long = g.reserve_points("ada", 20, currency="points", ttl=timedelta(hours=2))
    g.jobs.run_due()
    assert g.points.balances("ada")["points"].held == 50
    clock.advance(minutes=11)
    report = g.jobs.run_due()
    assert report.periods() == {"expire_reservations": "2026-03-02T12:10:00.000000+00:00"}
    assert report.ran[0].result == [short.id]
    assert g.points.reservation(short.id).status == "expired"
    assert g.points.reservation(long.id).status == "active"
    assert (
        g.points.balances("ada")["points"].held,
        g.points.balances("ada")["points"].available,
    ) == (20, 80)
    clock.advance(hours=3)  # many periods missed: one run catches up
    assert g.jobs.run_due().ran[0].result == [long.id]
    assert g.points.balances("ada")["points"].held == 0
    assert g.verify_ledger().ok


class AuditInbox:
    def __init__(self) -> None:
        self.reports: list[tuple[Gamification, LedgerReport, datetime]] = []

    @hookimpl
    def on_ledger_audit(self, engine: Gamification, report: LedgerReport, at: datetime) -> None:
        self.reports.append((engine, report, at))


def test_ledger_audit_job_sends_its_report_to_on_ledger_audit(
    make_engine: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = AuditInbox()
    config = Config(default_timezone="Europe/Berlin")
    g = make_engine(config=config, plugins=(inbox,))
    g.award_points("ada", 100, currency="points", source="quest")
    report = g.jobs.run_due()
    assert report.periods()["ledger_audit"] == "2026-03-02"
    ((engine, audit, at),) = inbox.reports
    assert engine is g and at == START
    assert isinstance(audit, LedgerReport) and audit.ok and audit.checked_transactions == 1
    g.jobs.run_due()
    assert len(inbox.reports) == 1  # once a day
    g.db.execute("UPDATE accounts SET balance = balance + 5 WHERE user_id = 'ada'")
    clock.set(datetime(2026, 3, 3, 2, 30, tzinfo=UTC))  # 03:30 in Berlin
    with caplog.at_level(logging.ERROR, logger="gamification_sdk"):
        assert g.jobs.run_due().periods()["ledger_audit"] == "2026-03-03"
    assert "balance_mismatch" in inbox.reports[1][1].kinds()
    assert "ledger audit found" in caplog.text


def test_ledger_audit_hook_errors_follow_hook_errors(make_engine: Make, clock: FakeClock) -> None:
    class Broken:
        @hookimpl
        def on_ledger_audit(self, report: LedgerReport) -> None:
            raise RuntimeError("pager down")

    inbox = AuditInbox()
    logged = make_engine(plugins=(Broken(), inbox))
    assert logged.jobs.run_due().ok and len(inbox.reports) == 1  # logged; the job finished
    raised = make_engine(config=Config(hook_errors="raise"), plugins=(Broken(),))
    (failed,) = raised.jobs.run_due().failed
    assert failed.job == "ledger_audit" and "pager down" in str(failed.error)
    clock.advance(minutes=1)
    assert raised.jobs.run_due().failed[0].job == "ledger_audit"  # retried


def test_announce_audit_is_the_public_way_a_job_hands_on_a_report(make_engine: Make) -> None:
    """What the ledger_audit job calls; a plugin's own audit job can call it too."""
    inbox = AuditInbox()
    g = make_engine(config=QUIET_CONFIG, plugins=(inbox,))
    report = g.verify_ledger()
    g.jobs.announce_audit(report, at=START)
    assert inbox.reports == [(g, report, START)]
    with pytest.raises(errors.InvalidInput, match="report"):
        g.jobs.announce_audit("fine", at=START)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput, match="at"):
        g.jobs.announce_audit(report, at=datetime(2026, 3, 2))  # naive
    assert len(inbox.reports) == 1


# -- register_jobs ---------------------------------------------------------------------------


class Nightly:
    """A real plugin: a nightly job configured from the engine's Config."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, datetime]] = []

    def sweep(self, engine: Gamification, now: datetime) -> int:
        self.seen.append((engine.config.default_timezone, now))
        return len(self.seen)

    @hookimpl
    def register_jobs(self, register: Callable[[Job], None], config: Config) -> None:
        zone = config.default_timezone
        register(Job("nightly_sweep", self.sweep, daily_at="00:05", timezone=zone))


def test_register_jobs_hook(make_engine: Make, clock: FakeClock) -> None:
    nightly = Nightly()
    g = make_engine(config=Config(default_timezone="Asia/Tokyo"), plugins=(nightly,))
    assert [job.name for job in g.jobs.list()] == [
        "nightly_sweep", "streak_sweep", "quest_rollover", "expire_reservations",
        "leaderboard_close", "battle_pass_close", "tier_requalify", "expire_keys",
        "ledger_audit",
    ]  # fmt: skip
    assert g.jobs.run_due().periods()["nightly_sweep"] == "2026-03-02"  # 21:00 in Tokyo
    clock.set(utc(2026, 3, 2, 15, 4))  # 00:04 on the 3rd in Tokyo
    assert "nightly_sweep" not in g.jobs.run_due().periods()
    clock.set(utc(2026, 3, 2, 15, 5))
    assert g.jobs.run_due().periods()["nightly_sweep"] == "2026-03-03"
    assert nightly.seen == [("Asia/Tokyo", START), ("Asia/Tokyo", utc(2026, 3, 2, 15, 5))]


def test_register_jobs_refuses_duplicates_and_non_jobs(make_engine: Make) -> None:
    job = Job("twice", lambda g, now: None, every=timedelta(hours=1))
    with pytest.raises(errors.ConfigError, match="'twice' is registered twice"):
        make_engine(plugins=(JobsPlugin(job), JobsPlugin(job)))
    with pytest.raises(errors.ConfigError, match="'ledger_audit' is registered twice"):
        clash = Job("ledger_audit", lambda g, now: None, daily_at="01:00")  # a built-in's name
        make_engine(plugins=(JobsPlugin(clash),))

    class NotAJob:
        @hookimpl
        def register_jobs(self, register: Callable[[object], None]) -> None:
            register(("name", print))

    with pytest.raises(errors.ConfigError, match="expected a Job, got tuple"):
        make_engine(plugins=(NotAJob(),))


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({}, "jobs['j']: give exactly one schedule"),
        ({"every": timedelta(hours=1), "daily_at": "03:00"}, "jobs['j']: give exactly one"),
        ({"every": timedelta(milliseconds=10)}, "jobs['j'].every: expected a timedelta of at"),
        ({"every": 60}, "jobs['j'].every: expected a timedelta"),
        ({"daily_at": "3:00"}, "jobs['j'].daily_at: expected a local time 'HH:MM'"),
        ({"daily_at": "24:00"}, "jobs['j'].daily_at"),
        ({"daily_at": "03:00", "timezone": "Mars/Base"}, "jobs['j'].timezone: 'Mars/Base' is not"),
        ({"every": timedelta(hours=1), "timezone": "Europe/Berlin"}, "jobs['j'].timezone: every="),
        ({"every": timedelta(hours=1), "start": datetime(2026, 1, 1)}, "jobs['j'].start"),
    ],
)
def test_bad_jobs_raise_config_error(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Job("j", lambda g, now: None, **kwargs)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def test_bad_job_name_and_function() -> None:
    with pytest.raises(errors.ConfigError) as info:
        Job("has space", "not callable", every=timedelta(hours=1))  # type: ignore[arg-type]
    assert [p.split(":")[0] for p in info.value.problems] == [
        "jobs['has space'].name",
        "jobs['has space'].run",
    ]


@pytest.mark.parametrize(
    ("scheduler", "path"),
    [
        ({"tick_seconds": 0}, "scheduler.tick_seconds"),
        ({"tick_seconds": 60, "lease_seconds": 30}, "scheduler.lease_seconds"),
        ({"lease_seconds": -1}, "scheduler.lease_seconds"),
        ({"reservation_expiry_minutes": 0}, "scheduler.reservation_expiry_minutes"),
        ({"ledger_audit_at": "3:30"}, "scheduler.ledger_audit_at"),
        ({"ledger_audit_timezone": "Nowhere/Town"}, "scheduler.ledger_audit_timezone"),
        ({"history_days": 0}, "scheduler.history_days"),
        ({"tick_seconds": "30"}, "scheduler.tick_seconds"),
        ({"surprise": 1}, "scheduler"),
    ],
)
def test_scheduler_config_problems_are_named(scheduler: dict[str, Any], path: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config.from_dict({"scheduler": scheduler})
    assert path in [p.split(":")[0] for p in info.value.problems], info.value.problems


def test_scheduler_config_loads_and_can_turn_built_ins_off() -> None:
    data = {
        "scheduler": {
            "tick_seconds": 10,
            "reservation_expiry_minutes": None,
            "ledger_audit_at": "05:00",
            "ledger_audit_timezone": "Europe/Paris",
        }
    }
    config = Config.from_dict(data)
    assert config.scheduler == SchedulerConfig(
        tick_seconds=10.0, reservation_expiry_minutes=None, ledger_audit_at="05:00",
        ledger_audit_timezone="Europe/Paris",
    )  # fmt: skip
    assert Config.from_dict(config.to_dict()) == config


def test_run_due_jobs_checks_its_arguments(g: Gamification) -> None:
    with pytest.raises(errors.InvalidInput, match="now"):
        g.jobs.run_due(datetime(2026, 3, 2, 12))
    with pytest.raises(errors.InvalidInput, match="keep_lease"):
        g.jobs.run_due(keep_lease=1)  # type: ignore[arg-type]


# -- the background scheduler ----------------------------------------------------------------


def test_start_and_stop_scheduler(make_engine: Make, db_path: Path) -> None:
    fired = threading.Event()

    def ping(engine: Gamification, now: datetime) -> str:
        fired.set()
        return "pong"

    config = Config(scheduler=attrs.evolve(QUIET, tick_seconds=0.05))
    plugin = JobsPlugin(Job("ping", ping, daily_at="00:00"))
    g = make_engine(db_path, config=config, plugins=(plugin,))
    other = make_engine(db_path, config=config)
    assert g.jobs.start() is True
    assert g.jobs.start() is False  # already running: nothing changes
    assert fired.wait(timeout=3)
    holder = other.jobs.run_due().blocked_by  # the scheduler keeps the lease between ticks
    assert holder is not None and holder.rsplit(":", 2)[1] == str(os.getpid())
    assert g.jobs.stop() is True
    assert g.jobs.stop() is False
    assert job_runs(g) == [("ping", "2026-03-02", 1, 1, None)]
    assert g.db.execute("SELECT COUNT(*) FROM leases").fetchone() == (0,)
    assert other.jobs.run_due().ok
    assert g.jobs.start() is True  # may start again
    g.close()  # close() stops it
    assert not g.jobs._scheduler.running
    assert other.jobs.run_due().blocked_by is None


def test_period_of_refuses_a_naive_now() -> None:
    job = Job("j", lambda g, now: None, every=timedelta(hours=1))
    with pytest.raises(errors.InvalidInput, match="now"):
        period_of(job, datetime(2026, 3, 2, 12))
