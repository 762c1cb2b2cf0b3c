"""The built-in level curves, answered last so a plugin may override any of them."""

from __future__ import annotations

from ..config import LevelsConfig
from ..hookspecs import hookimpl
from ..progression.levels import BUILTIN_CURVES, LevelCurve


@hookimpl(trylast=True)
def level_curve(levels: LevelsConfig) -> LevelCurve | None:
    factory = BUILTIN_CURVES.get(levels.curve)
    return factory(levels) if factory else None
