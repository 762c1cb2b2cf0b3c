"""Built-in status tier benefits and upkeep: the held tier's XP multiplier and the
``tier_requalify`` job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..hookspecs import hookimpl
from ..ops.jobs import Job

if TYPE_CHECKING:
    from ..engine import Gamification


@hookimpl
def xp_multiplier(engine: Gamification, user_id: str, at: Any) -> float | None:
    return engine.tiers.xp_factor(user_id)


def tier_requalify(engine: Gamification, now: datetime) -> list[str]:
    """Downgrade the status tiers whose requalification date and grace passed by ``now``."""
    return [f"{c.user_id}:{c.old_tier}->{c.new_tier}" for c in engine.tiers.requalify(now)]


@hookimpl
def register_jobs(register: Callable[[Job], None], config: Config) -> None:
    minutes = config.scheduler.tier_requalify_minutes
    if minutes is not None:
        register(Job("tier_requalify", tier_requalify, every=timedelta(minutes=minutes)))
