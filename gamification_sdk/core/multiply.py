"""Multiplying an amount by the factors plugins and tiers give, the same way for XP and points."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..errors import InvalidInput

__all__ = ["apply_multiplier", "check_factors"]


def check_factors(factors: list[float], hook: str) -> None:
    """Refuse a factor a ``hook`` plugin returned that is not a number over 0 (NaN too)."""
    for factor in factors:
        if not isinstance(factor, int | float) or not factor > 0 or factor != factor:
            raise InvalidInput(hook, f"a plugin returned {factor!r}; need > 0")


def apply_multiplier(base: int, factors: list[float], cap: float) -> tuple[int, float]:
    """Multiply ``base`` by the product of ``factors`` (capped), rounding half up to an int.

    Decimal arithmetic on each factor's shortest repr keeps 100 x 1.15 at 115, where binary
    floats give 114.999...
    """
    product = Decimal(1)
    for factor in factors:
        product *= Decimal(repr(float(factor)))
    product = min(product, Decimal(repr(float(cap))))
    amount = int((Decimal(base) * product).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return amount, float(product)
