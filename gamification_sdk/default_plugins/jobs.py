"""The built-in scheduled jobs: the streak sweep, quest period rollover, reservation expiry,
points expiry, leaderboard period close, battle pass season close, status tier
requalification, the nightly ledger audit and the expiry of old idempotency keys."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..config import Config
from ..hookspecs import hookimpl
from ..models import LedgerReport
from ..ops.jobs import Job

if TYPE_CHECKING:
    from ..engine import Gamification

log = logging.getLogger("gamification_sdk")


def expire_reservations(engine: Gamification, now: datetime) -> list[int]:
    """Release every hold past due by ``now`` (all of them, however many periods were missed)."""
    return [reservation.id for reservation in engine.points.expire_reservations(now)]


def expire_points(engine: Gamification, now: datetime) -> dict[str, int]:
    """Expire the lots due by ``now`` and send the "points expiring soon" notices due."""
    run = engine.points.expire_points(now)
    return {"lots": len(run.expired), "points": sum(t.amount for t in run.expired),
            "notices": run.notices}  # fmt: skip


def ledger_audit(engine: Gamification, now: datetime) -> LedgerReport:
    """Run ``verify_ledger()`` and hand the report to every ``on_ledger_audit`` plugin."""
    report = engine.verify_ledger()
    if report:
        log.error(
            "ledger audit found %d problem(s): %s", len(report), ", ".join(sorted(report.kinds()))
        )
    engine.jobs.announce_audit(report, at=now)
    return report


def expire_keys(engine: Gamification, now: datetime) -> dict[str, int]:
    """Forget the idempotency keys older than ``Config.idempotency.keep_days`` at ``now``."""
    return {"keys": engine.jobs.expire_keys(now)}


def streak_sweep(engine: Gamification, now: datetime) -> dict[str, int]:
    """Settle streaks whose users' days ended by ``now`` and warn those at risk."""
    report = engine.streaks.sweep(now)
    return {"users": report.users, "broken": report.broken,
            "freezes_used": report.freezes_used, "warned": report.warned}  # fmt: skip


def quest_rollover(engine: Gamification, now: datetime) -> int:
    """Mark unfinished progress of quest periods that ended by ``now`` expired."""
    return engine.quests.close_periods(now)


def leaderboard_close(engine: Gamification, now: datetime) -> list[str]:
    """Archive board periods that ended by ``now`` and pay their rank rewards, once."""
    return [f"{c.board}:{c.period}:{c.period_key}" for c in engine.boards.close_periods(now)]


def tier_requalify(engine: Gamification, now: datetime) -> list[str]:
    """Downgrade the status tiers whose requalification date and grace passed by ``now``."""
    return [f"{c.user_id}:{c.old_tier}->{c.new_tier}" for c in engine.tiers.requalify(now)]


def battle_pass_close(engine: Gamification, now: datetime) -> list[str]:
    """Archive the battle pass of seasons that ended by ``now``, granting unclaimed rewards."""
    return [close.season for close in engine.battle_pass.close_seasons(now)]


@hookimpl
def register_jobs(register: Callable[[Job], None], config: Config) -> None:
    scheduler = config.scheduler
    if scheduler.streak_sweep_minutes is not None:
        every = timedelta(minutes=scheduler.streak_sweep_minutes)
        register(Job("streak_sweep", streak_sweep, every=every))
    if scheduler.quest_rollover_minutes is not None:
        every = timedelta(minutes=scheduler.quest_rollover_minutes)
        register(Job("quest_rollover", quest_rollover, every=every))
    if scheduler.reservation_expiry_minutes is not None:
        every = timedelta(minutes=scheduler.reservation_expiry_minutes)
        register(Job("expire_reservations", expire_reservations, every=every))
    if scheduler.points_expiry_minutes is not None and any(
        currency.expires for currency in config.currencies
    ):
        every = timedelta(minutes=scheduler.points_expiry_minutes)
        register(Job("expire_points", expire_points, every=every))
    if scheduler.leaderboard_close_minutes is not None:
        every = timedelta(minutes=scheduler.leaderboard_close_minutes)
        register(Job("leaderboard_close", leaderboard_close, every=every))
    if scheduler.battle_pass_close_minutes is not None:
        every = timedelta(minutes=scheduler.battle_pass_close_minutes)
        register(Job("battle_pass_close", battle_pass_close, every=every))
    if scheduler.tier_requalify_minutes is not None:
        every = timedelta(minutes=scheduler.tier_requalify_minutes)
        register(Job("tier_requalify", tier_requalify, every=every))
    if scheduler.key_expiry_minutes is not None:
        # Registered whatever keep_days says: it may be set later (settings.apply), and the
        # job is then a no-op until it is.
        every = timedelta(minutes=scheduler.key_expiry_minutes)
        register(Job("expire_keys", expire_keys, every=every))
    if scheduler.ledger_audit_at is not None:
        zone = scheduler.ledger_audit_timezone or config.default_timezone
        at = scheduler.ledger_audit_at
        register(Job("ledger_audit", ledger_audit, daily_at=at, timezone=zone))
