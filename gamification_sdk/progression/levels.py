"""Level curves and the precomputed threshold table that turns XP into a level in O(log L)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from fractions import Fraction
from typing import Protocol, runtime_checkable

import attrs

from ..config import LevelsConfig
from ..errors import ConfigError

__all__ = [
    "BUILTIN_CURVES",
    "ExponentialCurve",
    "LevelCurve",
    "LevelTable",
    "LinearCurve",
    "Progress",
    "QuadraticCurve",
    "TableCurve",
]


@runtime_checkable
class LevelCurve(Protocol):
    """A curve gives the total XP needed to reach each level; level 1 needs 0."""

    def total_xp_for(self, level: int) -> int: ...


@attrs.frozen
class QuadraticCurve:
    """level = floor(sqrt(xp / base)) + 1, i.e. level L needs base * (L-1)**2."""

    base: int = 100

    def total_xp_for(self, level: int) -> int:
        return self.base * (level - 1) ** 2


@attrs.frozen
class ExponentialCurve:
    """Going from level n to n+1 takes floor(base * growth**(n-1)) XP."""

    base: int = 100
    growth: float = 1.5

    def total_xp_for(self, level: int) -> int:
        return _exponential_totals(self.base, self.growth, level)[level - 1]


_EXPONENTIAL_CACHE: dict[tuple[int, float], list[int]] = {}


def _exponential_totals(base: int, growth: float, level: int) -> list[int]:
    # Exact rational arithmetic (float powers drift past 2**53), extended incrementally so a
    # table of L levels costs O(L), not O(L**2).
    totals = _EXPONENTIAL_CACHE.setdefault((base, growth), [0])
    exact = Fraction(growth)
    while len(totals) < level:
        n = len(totals)
        totals.append(totals[-1] + math.floor(base * exact ** (n - 1)))
    return totals


@attrs.frozen
class LinearCurve:
    """Every level takes ``base`` XP: level L needs base * (L-1)."""

    base: int = 100

    def total_xp_for(self, level: int) -> int:
        return self.base * (level - 1)


@attrs.frozen
class TableCurve:
    """Explicit thresholds: ``thresholds[L-1]`` is the total XP for level L."""

    thresholds: tuple[int, ...]

    def total_xp_for(self, level: int) -> int:
        return self.thresholds[level - 1]


BUILTIN_CURVES: dict[str, Callable[[LevelsConfig], LevelCurve]] = {
    "quadratic": lambda levels: QuadraticCurve(levels.base),
    "exponential": lambda levels: ExponentialCurve(levels.base, levels.growth),
    "linear": lambda levels: LinearCurve(levels.base),
    "table": lambda levels: TableCurve(tuple(levels.table)),
}


@attrs.frozen
class Progress:
    level: int
    xp_into_level: int
    xp_for_next_level: int
    xp_to_next_level: int
    percent: float


class LevelTable:
    """Thresholds for levels 1..max_level, computed once when the engine opens."""

    def __init__(self, curve: LevelCurve, max_level: int) -> None:
        thresholds = []
        for level in range(1, max_level + 1):
            value = curve.total_xp_for(level)
            if type(value) is not int:
                raise ConfigError(
                    [f"levels.curve: total_xp_for({level}) returned {value!r}, not int"]
                )
            thresholds.append(value)
        if thresholds[0] != 0:
            raise ConfigError(["levels.curve: level 1 must need 0 XP"])
        for level in range(1, max_level):
            if thresholds[level] <= thresholds[level - 1]:
                raise ConfigError(
                    [f"levels.curve: level {level + 1} must need more XP than level {level}"]
                )
        self.curve = curve
        self.max_level = max_level
        self.thresholds = tuple(thresholds)

    def level_for(self, xp: int) -> int:
        """The level reached with ``xp`` (XP since the last prestige), capped at max_level."""
        return bisect_right(self.thresholds, xp)

    def threshold(self, level: int) -> int:
        return self.thresholds[level - 1]

    def progress(self, xp: int) -> Progress:
        level = self.level_for(xp)
        into = xp - self.thresholds[level - 1]
        if level >= self.max_level:
            return Progress(level, into, 0, 0, 100.0)
        span = self.thresholds[level] - self.thresholds[level - 1]
        percent = min(100.0, max(0.0, round(100.0 * into / span, 2)))
        return Progress(level, into, span, span - into, percent)
