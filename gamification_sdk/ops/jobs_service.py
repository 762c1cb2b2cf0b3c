"""``g.jobs``: the scheduled jobs plugins register, run when due, by hand or in the background."""

from __future__ import annotations

from datetime import datetime

from ..core.validation import check_at
from ..errors import InvalidInput
from ..models import LedgerReport
from ..runtime.runtime import Runtime
from ..storage.store import Tx
from .jobs import Job, JobsReport, Scheduler

__all__ = ["JobsService"]


class JobsService:
    """One engine's scheduler: its jobs, the lease that lets one process run them at a time,
    and the optional background thread (see ops/jobs.py)."""

    def __init__(self, rt: Runtime, jobs: tuple[Job, ...]) -> None:
        self._rt = rt
        # Jobs are plain functions of (engine, now): they get the facade the runtime keeps.
        self._scheduler = Scheduler(rt.facade, rt.store, rt.config.scheduler, rt.now, jobs)

    def list(self) -> tuple[Job, ...]:
        """The scheduled jobs plugins registered (``register_jobs``), in the order they run."""
        return self._scheduler.jobs

    def run_due(self, now: datetime | None = None, *, keep_lease: bool = False) -> JobsReport:
        """Run each job's latest period due at ``now`` (default: the clock) if it has not run.

        Takes the scheduler lease first: while another live process (or another thread of
        this engine) holds it, runs nothing and says who in ``blocked_by``. Gives the lease
        back afterwards unless ``keep_lease`` (what the background scheduler does).
        """
        moment = self._rt.now() if now is None else check_at(now, "now")
        if type(keep_lease) is not bool:
            raise InvalidInput("keep_lease", "expected True or False")
        return self._scheduler.run_due(moment, keep_lease=keep_lease)

    def start(self) -> bool:
        """Run due jobs every ``scheduler.tick_seconds`` in an APScheduler background thread.

        Returns False, changing nothing, if this engine's scheduler already runs.
        """
        return self._scheduler.start()

    def stop(self) -> bool:
        """Stop the background scheduler (waiting for a running job) and give the lease back.

        Returns False if it was not running. ``close()`` calls it. Not from inside a job: it
        would wait for itself.
        """
        return self._scheduler.stop()

    def announce_audit(self, report: LedgerReport, *, at: datetime) -> None:
        """Hand a ledger audit's ``report`` to every ``on_ledger_audit`` plugin (what the
        ``ledger_audit`` job does after ``verify_ledger()``).

        Delivered like an after-commit hook: every plugin runs even if one raises, and the
        failures follow ``Config.hook_errors`` (``HookError`` carries ``report``).
        """
        if not isinstance(report, LedgerReport):
            raise InvalidInput("report", f"expected a LedgerReport, got {type(report).__name__}")
        moment = check_at(at)
        tx = Tx()
        tx.emit("on_ledger_audit", report=report, at=moment)
        self._rt.dispatch(tx, report)
