"""The built-in status tier benefits: the held tier's XP and points multipliers (the
``tier_requalify`` job is registered with the other built-in jobs, in jobs.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl

if TYPE_CHECKING:
    from ..engine import Gamification


@hookimpl
def xp_multiplier(engine: Gamification, user_id: str, at: Any) -> float | None:
    return engine.tiers.xp_factor(user_id)


@hookimpl
def points_multiplier(engine: Gamification, user_id: str, currency: str) -> float | None:
    return engine.tiers.points_factor(user_id, currency)
