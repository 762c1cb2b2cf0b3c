"""Built-in XP multipliers: the user's active boosts and the permanent prestige boost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl

if TYPE_CHECKING:
    from ..engine import Gamification


@hookimpl
def xp_multiplier(engine: Gamification, user_id: str, at: Any) -> float | None:
    return engine.xp.boost_factor(user_id, at)
