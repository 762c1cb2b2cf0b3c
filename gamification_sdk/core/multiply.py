"""Multiplying an amount by the factors plugins and tiers give, the same way for XP and points."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["apply_multiplier"]


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
