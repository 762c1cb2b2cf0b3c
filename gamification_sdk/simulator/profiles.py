"""Activity models of synthetic users: how often they come back, what they do, what they buy.

The numbers are assumptions to reason with, not measurements: a designer compares economies
under the same models, and changes a model (``attrs.evolve``) to test a different audience.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import attrs

from ..errors import InvalidInput

__all__ = ["POPULATIONS", "PROFILES", "ActivityProfile", "population"]

Preference = Literal["cheapest", "any", "priciest"]


@attrs.frozen
class ActivityProfile:
    """One kind of user.

    ``active_chance``: the probability of coming back on a given day while not churned.
    ``sessions`` and ``events_per_session``: inclusive ranges drawn uniformly per active day
    and per session. ``cheap_bias``: how strongly the user prefers actions that pay little
    (common ones: a reaction rather than a quality post); an event's weight is its reward to
    the power ``-cheap_bias``. ``night_share``: the share of sessions between 00:00 and
    05:00 local time. ``churn``: the probability of leaving for good at each day's start.
    ``shop_chance``: the probability of visiting the shop on an active day; ``budget_share``
    the share of the balance the user is willing to spend on one visit; ``preference`` which
    affordable item they pick. ``buys_premium``: buys a running season's premium pass when
    the balance allows.
    """

    name: str
    active_chance: float
    sessions: tuple[int, int]
    events_per_session: tuple[int, int]
    cheap_bias: float
    night_share: float
    churn: float
    shop_chance: float
    budget_share: float
    preference: Preference
    buys_premium: bool = False

    def __attrs_post_init__(self) -> None:
        for field in ("active_chance", "night_share", "churn", "shop_chance", "budget_share"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise InvalidInput(field, f"expected a probability from 0 to 1, got {value!r}")
        for field in ("sessions", "events_per_session"):
            low, high = getattr(self, field)
            if not (type(low) is int and type(high) is int and 1 <= low <= high <= 100):
                raise InvalidInput(
                    field, f"expected ints with 1 <= low <= high <= 100, got {(low, high)}"
                )
        if not (isinstance(self.cheap_bias, int | float) and math.isfinite(self.cheap_bias)):
            raise InvalidInput("cheap_bias", f"expected a finite number, got {self.cheap_bias!r}")


PROFILES: Mapping[str, ActivityProfile] = {
    # Drops in a few times a week, mostly to react and read; one in fifty leaves each day.
    "casual": ActivityProfile(
        "casual", active_chance=0.35, sessions=(1, 1), events_per_session=(1, 4),
        cheap_bias=0.75, night_share=0.03, churn=0.02, shop_chance=0.10,
        budget_share=0.5, preference="cheapest",
    ),
    # Comes most days, posts and comments; stays for months.
    "core": ActivityProfile(
        "core", active_chance=0.75, sessions=(1, 3), events_per_session=(2, 5),
        cheap_bias=0.5, night_share=0.05, churn=0.005, shop_chance=0.25,
        budget_share=0.6, preference="any",
    ),
    # Daily, several sessions, the valuable actions too; spends everything on the best item.
    "whale": ActivityProfile(
        "whale", active_chance=0.9, sessions=(2, 4), events_per_session=(3, 6),
        cheap_bias=0.35, night_share=0.08, churn=0.002, shop_chance=0.6,
        budget_share=1.0, preference="priciest", buys_premium=True,
    ),
}  # fmt: skip

# A population is a share per profile; "mixed" is a typical community's long tail.
POPULATIONS: Mapping[str, Mapping[str, float]] = {
    **{name: {name: 1.0} for name in PROFILES},
    "mixed": {"casual": 0.70, "core": 0.25, "whale": 0.05},
}


def population(name: str) -> Mapping[str, float]:
    """The profile shares of a named population, or ``InvalidInput`` naming ``profile``."""
    if name not in POPULATIONS:
        raise InvalidInput("profile", f"expected one of {', '.join(POPULATIONS)}, got {name!r}")
    return POPULATIONS[name]
