"""The built-in scheduled jobs: reservation expiry and the nightly ledger audit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..config import Config
from ..hookspecs import hookimpl
from ..jobs import Job
from ..models import LedgerReport
from ..store import Tx

if TYPE_CHECKING:
    from ..engine import Gamification

log = logging.getLogger("gamification_sdk")


def expire_reservations(engine: Gamification, now: datetime) -> list[int]:
    """Release every hold past due by ``now`` (all of them, however many periods were missed)."""
    return [reservation.id for reservation in engine.expire_reservations(now)]


def ledger_audit(engine: Gamification, now: datetime) -> LedgerReport:
    """Run ``verify_ledger()`` and hand the report to every ``on_ledger_audit`` plugin."""
    report = engine.verify_ledger()
    if report:
        log.error(
            "ledger audit found %d problem(s): %s", len(report), ", ".join(sorted(report.kinds()))
        )
    # Delivered like an after-commit hook: every plugin runs, errors per Config.hook_errors.
    tx = Tx()
    tx.emit("on_ledger_audit", report=report, at=now)
    engine._dispatch(tx, report)
    return report


@hookimpl
def register_jobs(register: Callable[[Job], None], config: Config) -> None:
    scheduler = config.scheduler
    if scheduler.reservation_expiry_minutes is not None:
        every = timedelta(minutes=scheduler.reservation_expiry_minutes)
        register(Job("expire_reservations", expire_reservations, every=every))
    if scheduler.ledger_audit_at is not None:
        zone = scheduler.ledger_audit_timezone or config.default_timezone
        at = scheduler.ledger_audit_at
        register(Job("ledger_audit", ledger_audit, daily_at=at, timezone=zone))
