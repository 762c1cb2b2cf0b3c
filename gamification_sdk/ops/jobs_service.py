"""``g.jobs``: the scheduled jobs plugins register, run when due, by hand or in the background."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from ..core.clock import to_text
from ..core.validation import check_at
from ..errors import InvalidInput
from ..models import LedgerReport
from ..runtime.idempotency import START, Mark
from ..runtime.runtime import Runtime, retrying
from ..storage.store import Tx
from .jobs import Job, JobsReport, Scheduler

__all__ = ["MAX_KEY_CHUNK", "JobsService"]

MAX_KEY_CHUNK = 10_000
"""The most keys ``expire_keys`` forgets in one transaction."""


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

    def expire_keys(self, at: datetime | None = None, *, chunk: int = 1_000) -> int:
        """Forget the idempotency keys recorded more than ``Config.idempotency.keep_days``
        before ``at`` (default: the clock); how many were forgotten (what the ``expire_keys``
        job runs). Nothing while ``keep_days`` is None (keys are kept forever).

        Oldest first, ``chunk`` keys per transaction, so writers wait at most one chunk. A
        reuse of a forgotten key runs as a new call. Never deletes a ledger or XP row: keys
        those rows keep (and registry keys a ledger row also names) stay with them and
        replay as long as they exist (docs/guides/idempotency.md).
        """
        moment = self._rt.now() if at is None else check_at(at)
        if type(chunk) is not int or not 1 <= chunk <= MAX_KEY_CHUNK:
            raise InvalidInput(
                "chunk", f"expected an int from 1 to {MAX_KEY_CHUNK}, got {chunk!r:.50}"
            )
        days = self._rt.config.idempotency.keep_days
        if days is None:
            return 0
        before = to_text(moment - timedelta(days=days))
        idempotency, store = self._rt.idempotency, self._rt.store

        def step(after: Mark) -> tuple[int, Mark | None]:
            with store.write():
                return idempotency.expire(before, after, chunk)

        forgotten, mark = 0, START
        while True:
            done, after = retrying(partial(step, mark))
            forgotten += done
            if after is None:
                return forgotten
            mark = after
