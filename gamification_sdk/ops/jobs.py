"""Scheduled jobs: which period is due, who may run it (a lease row), and once-only records.

A job is a plain function of ``(engine, now)`` with a schedule: interval periods aligned to
the Unix epoch in UTC (``every=``), or one period per local day (``daily_at=`` in a time
zone). ``Scheduler.run_due(now)`` runs the latest due period of each job once: a
(job, period) that finished never runs again, and neither does any period before it. Older
missed periods are folded into the latest one, so a job must catch up from its own state
(reservation expiry expires everything past due, whenever it last ran).

Several processes may run jobs on one file: a row in ``leases`` lets one of them run jobs at
a time (APScheduler's FAQ: a job store shared by processes does not work), and ``job_runs``
records each (job, period) as started and then finished, in their own transactions.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs
import pluggy

from ..config import Config, SchedulerConfig
from ..config.sections import CLOCK_TIME
from ..core.clock import to_text
from ..core.validation import check_at, is_zone
from ..errors import ConfigError
from ..storage.backend import Backend
from ..storage.jobs import (
    CLAIM_RUN,
    FINISH_RUN,
    LATEST_FINISHED,
    LEASE,
    LEASE_HOLDER,
    PRUNE_RUNS,
    RECORD_ERROR,
    RELEASE_LEASE,
    TAKE_LEASE,
)
from ..storage.store import Store

__all__ = [
    "Job",
    "JobRun",
    "JobSkip",
    "JobsReport",
    "Lease",
    "Scheduler",
    "collect_jobs",
    "period_of",
]

log = logging.getLogger("gamification_sdk")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LEASE_NAME = "scheduler"
MAX_TEXT = 10_000
_JOB_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def _job_problems(job: Job) -> list[str]:
    name = job.name
    where = f"jobs[{name!r}]"
    p: list[str] = []
    if not isinstance(name, str) or not _JOB_NAME.match(name):
        p.append(f"{where}.name: expected 1-100 characters of A-Z, a-z, 0-9, _ . : -")
    if not callable(job.run):
        p.append(f"{where}.run: expected a function of (engine, now)")
    if (job.every is None) == (job.daily_at is None):
        p.append(f"{where}: give exactly one schedule, every= or daily_at=")
    if job.every is not None and (
        not isinstance(job.every, timedelta) or job.every < timedelta(seconds=1)
    ):
        p.append(f"{where}.every: expected a timedelta of at least 1 second, got {job.every!r}")
    if job.daily_at is not None and (
        not isinstance(job.daily_at, str) or not CLOCK_TIME.match(job.daily_at)
    ):
        p.append(f"{where}.daily_at: expected a local time 'HH:MM', got {job.daily_at!r}")
    if not is_zone(job.timezone):
        p.append(f"{where}.timezone: {job.timezone!r} is not an IANA time zone")
    elif job.every is not None and job.timezone != "UTC":
        p.append(f"{where}.timezone: every= periods are aligned to the epoch in UTC")
    if job.start is not None and (
        not isinstance(job.start, datetime) or job.start.utcoffset() is None
    ):
        p.append(f"{where}.start: expected an aware datetime or None")
    return p


@attrs.frozen
class Job:
    """A scheduled job: ``run(engine, now)`` once per period.

    Give one schedule. ``every``: a ``timedelta`` of at least a second; periods are aligned
    to the Unix epoch in UTC and keyed by their start as UTC ISO text. ``daily_at``: a local
    wall time "HH:MM" in ``timezone`` (IANA); one period per local date, keyed by that date.
    A wall time that happens twice (autumn DST change) is due at its first occurrence; one
    that does not exist (spring change) is due when it would have been without the jump
    (02:30 CET, i.e. 03:30 CEST). Periods due before ``start`` never run.

    ``run`` gets the ``now`` the jobs run for; it makes its own writes (each its own
    transaction) and must be idempotent: a crash between its writes and the record that it
    finished runs it again. What it returns goes into the report (and, as JSON, into
    ``job_runs.result``).
    """

    name: str
    run: Callable[[Any, datetime], object]
    every: timedelta | None = None
    daily_at: str | None = None
    timezone: str = "UTC"
    start: datetime | None = None

    def __attrs_post_init__(self) -> None:
        problems = _job_problems(self)
        if problems:
            raise ConfigError(problems)


def _latest_due(job: Job, now: datetime) -> tuple[str, datetime] | None:
    """The latest period due at ``now``: (its key, when it became due), or None."""
    if job.every is not None:
        due = EPOCH + (now - EPOCH) // job.every * job.every
        key = to_text(due)
    else:
        assert job.daily_at is not None
        zone = ZoneInfo(job.timezone)
        wall = time(int(job.daily_at[:2]), int(job.daily_at[3:]))
        today = now.astimezone(zone).date()
        # Today's time may still be ahead; a day that does not exist locally (a zone that
        # skipped a date) maps to the next one's instant, hence a few days back.
        for back in range(4):
            day = today - timedelta(days=back)
            # fold=0: the first of a repeated wall time; a missing one as if no jump.
            due = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
            if due <= now:
                key = day.isoformat()
                break
        else:  # pragma: no cover - a wall time is due at least once in any four days
            return None
    if job.start is not None and due < job.start:
        return None
    return key, due


def period_of(job: Job, now: datetime) -> str | None:
    """The key of ``job``'s latest period due at ``now`` (aware), or None if none is due yet."""
    found = _latest_due(job, check_at(now, "now"))
    return None if found is None else found[0]


@attrs.frozen
class JobRun:
    """One (job, period) a call ran: ``error`` is None when it finished, else what it raised."""

    job: str
    period: str
    result: Any = None
    error: str | None = None


SkipReason = Literal["not due", "already ran", "a later period ran", "lease lost"]


@attrs.frozen
class JobSkip:
    """A job a call did not run, and why."""

    job: str
    period: str | None
    reason: SkipReason


@attrs.frozen
class JobsReport:
    """What ``g.jobs.run_due`` did.

    ``blocked_by`` names the live lease holder that kept this call from running anything (or
    this engine's own ``holder`` when another of its threads was running jobs); ``ran``
    finished; ``failed`` raised (recorded, and run again next call while still the latest
    due period); ``skipped`` says why the others did not run.
    """

    now: datetime
    holder: str
    blocked_by: str | None = None
    ran: tuple[JobRun, ...] = ()
    failed: tuple[JobRun, ...] = ()
    skipped: tuple[JobSkip, ...] = ()

    @property
    def ok(self) -> bool:
        return self.blocked_by is None and not self.failed

    def periods(self) -> dict[str, str]:
        """``{job: period}`` of the jobs that finished in this call."""
        return {run.job: run.period for run in self.ran}


class Lease:
    """The right to run scheduled jobs: one row in ``leases``, held until ``expires_at``."""

    def __init__(self, store: Backend, name: str = LEASE_NAME) -> None:
        self._store = store
        self.name = name

    def acquire(self, holder: str, now: datetime, ttl: timedelta) -> str | None:
        """Take the lease (free, expired or already ``holder``'s) until ``now + ttl``.

        Returns None when ``holder`` has it, else the other live holder. A write of its own,
        or part of the caller's if one is open.
        """
        params = (self.name, holder, to_text(now + ttl), to_text(now))
        with self._store.write():
            conn = self._store.conn
            while conn.execute(TAKE_LEASE, params).fetchone() is None:
                row = conn.execute(LEASE, (self.name,)).fetchone()
                if row is not None:
                    return str(row[0])
                # Released between the two statements (PostgreSQL, READ COMMITTED): again.
            return None

    def release(self, holder: str) -> bool:
        """Give the lease up if ``holder`` has it; True if it did."""
        with self._store.write():
            cursor = self._store.conn.execute(RELEASE_LEASE, (self.name, holder))
            return cursor.rowcount > 0

    def holder(self, now: datetime) -> str | None:
        """Who holds the lease at ``now`` (None if free or expired)."""
        with self._store.read() as conn:
            row = conn.execute(LEASE_HOLDER, (self.name, to_text(now))).fetchone()
        return None if row is None else str(row[0])


def collect_jobs(pm: pluggy.PluginManager, config: Config) -> tuple[Job, ...]:
    """Every job the ``register_jobs`` hook registers; ``ConfigError`` on a duplicate name."""
    found: dict[str, Job] = {}

    def register(job: object) -> None:
        if not isinstance(job, Job):
            raise ConfigError([f"register_jobs: expected a Job, got {type(job).__name__}"])
        if job.name in found:
            raise ConfigError([f"register_jobs: the job {job.name!r} is registered twice"])
        found[job.name] = job

    pm.hook.register_jobs(register=register, config=config)
    return tuple(found.values())


def _plain(value: object) -> object:
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=False)  # type: ignore[arg-type]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    try:
        text = json.dumps(value, default=_plain, ensure_ascii=False)
    except (TypeError, ValueError):  # circular, or a dict with odd keys
        text = repr(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "...(truncated)"


class _LeaseLost(Exception):
    def __init__(self, holder: str) -> None:
        self.holder = holder


class Scheduler:
    """One engine's jobs, its lease holder id, and its optional background scheduler."""

    def __init__(
        self,
        facade: Any,
        store: Store,
        config: SchedulerConfig,
        clock: Callable[[], datetime],
        jobs: tuple[Job, ...],
    ) -> None:
        self.jobs = jobs
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.lease = Lease(store)
        # Only handed to each job as its ``engine``: the scheduler never calls it.
        self._facade = facade
        self._store = store
        self._config = config
        self._clock = clock
        self._ttl = timedelta(seconds=config.lease_seconds)
        self._running = threading.Lock()  # one run at a time per engine
        self._state = threading.Lock()  # start/stop
        self._background: Any = None

    # -- running due jobs -------------------------------------------------------------------

    def run_due(self, now: datetime, *, keep_lease: bool = False) -> JobsReport:
        if not self._running.acquire(blocking=False):
            return JobsReport(now, self.holder, blocked_by=self.holder)
        try:
            other = self.lease.acquire(self.holder, self._clock(), self._ttl)
            if other is not None:
                return JobsReport(now, self.holder, blocked_by=other)
            try:
                return self._run_jobs(now)
            finally:
                if not keep_lease:
                    self.lease.release(self.holder)
        finally:
            self._running.release()

    def _run_jobs(self, now: datetime) -> JobsReport:
        ran: list[JobRun] = []
        failed: list[JobRun] = []
        skipped: list[JobSkip] = []
        blocked_by = None
        for job in self.jobs:
            period = period_of(job, now)
            if period is None:
                skipped.append(JobSkip(job.name, None, "not due"))
                continue
            if blocked_by is not None:
                skipped.append(JobSkip(job.name, period, "lease lost"))
                continue
            try:
                reason = self._claim(job.name, period)
            except _LeaseLost as lost:
                log.warning("lost the scheduler lease to %s; stopping this run", lost.holder)
                blocked_by = lost.holder
                skipped.append(JobSkip(job.name, period, "lease lost"))
                continue
            if reason is not None:
                skipped.append(JobSkip(job.name, period, reason))
                continue
            try:
                result = job.run(self._facade, now)
            except Exception as exc:
                log.exception(
                    "scheduled job %s (period %s) failed; it runs again on the next call",
                    job.name,
                    period,
                )
                error = f"{type(exc).__name__}: {exc}"[:MAX_TEXT]
                self._finish(job.name, period, error=error)
                failed.append(JobRun(job.name, period, error=error))
            else:
                self._finish(job.name, period, result=result)
                ran.append(JobRun(job.name, period, result))
        return JobsReport(now, self.holder, blocked_by, tuple(ran), tuple(failed), tuple(skipped))

    def _claim(self, job: str, period: str) -> SkipReason | None:
        """Renew the lease and mark (job, period) started, in one transaction; or say why not."""
        with self._store.write():
            moment = self._clock()
            other = self.lease.acquire(self.holder, moment, self._ttl)
            if other is not None:
                raise _LeaseLost(other)
            conn = self._store.conn
            latest = conn.execute(LATEST_FINISHED, (job,)).fetchone()
            if latest is not None and str(latest[0]) >= period:
                return "already ran" if latest[0] == period else "a later period ran"
            # An unfinished row is this holder's own failure or crash, or one of a holder that
            # lost the lease (we hold it now): either way, it runs again.
            conn.execute(CLAIM_RUN, (job, period, self.holder, to_text(moment)))
            return None

    def _finish(
        self, job: str, period: str, *, result: object = None, error: str | None = None
    ) -> None:
        with self._store.write():
            moment = self._clock()
            conn = self._store.conn
            if error is not None:
                cursor = conn.execute(RECORD_ERROR, (error, job, period, self.holder))
            else:
                cursor = conn.execute(
                    FINISH_RUN, (to_text(moment), _as_text(result), job, period, self.holder)
                )
                cutoff = moment - timedelta(days=self._config.history_days)
                conn.execute(PRUNE_RUNS, (job, period, to_text(cutoff)))
            if cursor.rowcount == 0:
                log.warning(
                    "scheduled job %s (period %s) ended after another process took it over "
                    "(the lease ran out mid-job: make scheduler.lease_seconds longer)",
                    job,
                    period,
                )

    # -- the background scheduler -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._background is not None

    def start(self) -> bool:
        # Imported here: hosts that only call jobs.run_due() never load APScheduler.
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        with self._state:
            if self._background is not None:
                return False
            scheduler = BackgroundScheduler(timezone=UTC)
            scheduler.add_job(
                self._tick,
                IntervalTrigger(seconds=self._config.tick_seconds, timezone=UTC),
                id="gamification_sdk.run_due_jobs",
                name="gamification_sdk: run due jobs",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC),
            )
            scheduler.start()
            self._background = scheduler
            return True

    def _tick(self) -> None:
        try:
            self.run_due(self._clock(), keep_lease=True)
        except Exception:
            log.exception("running due jobs failed; the next tick tries again")

    def stop(self) -> bool:
        with self._state:
            scheduler, self._background = self._background, None
        if scheduler is None:
            return False
        scheduler.shutdown(wait=True)
        with self._running:
            self.lease.release(self.holder)
        return True
