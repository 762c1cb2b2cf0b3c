"""Jobs that log each run as a row (job, period, pid) in ``job_log``, a table with no unique
constraint: a (job, period) that ran twice shows up twice. Module level, so the child
processes of ``test_jobs.py`` (spawned, not forked) can import it."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from gamification_sdk import Gamification, Job, hookimpl, period_of

CREATE_LOG = "CREATE TABLE IF NOT EXISTS job_log (job TEXT, period TEXT, pid INTEGER)"


class LogRun:
    """A job function: insert (job, period, pid) in its own transaction."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, engine: Gamification, now: datetime) -> str:
        (job,) = [job for job in engine.jobs.list() if job.name == self.name]
        period = period_of(job, now)
        with engine.batch():
            engine.db.execute(
                "INSERT INTO job_log (job, period, pid) VALUES (?, ?, ?)",
                [self.name, period, os.getpid()],
            )
        return str(period)


def logged_jobs() -> tuple[Job, ...]:
    return (
        Job("log_every_40m", LogRun("log_every_40m"), every=timedelta(minutes=40)),
        Job("log_berlin_0230", LogRun("log_berlin_0230"), daily_at="02:30",
            timezone="Europe/Berlin"),
        Job("log_la_0130", LogRun("log_la_0130"), daily_at="01:30",
            timezone="America/Los_Angeles"),
    )  # fmt: skip


class LoggedJobs:
    @hookimpl
    def register_jobs(self, register: Any) -> None:
        for job in logged_jobs():
            register(job)


def run_child(path: str, nows: list[datetime], step: Any) -> None:
    """One process: open the file, then call jobs.run_due twice at every ``now``, in step
    with the other processes (``step`` is a barrier) so that they all race for each one."""
    with Gamification.open(path, plugins=[LoggedJobs()], load_entrypoints=False) as g:
        for now in nows:
            step.wait(timeout=60)
            g.jobs.run_due(now)
            g.jobs.run_due(now)
