"""Status tiers: what a user earned in a rolling window decides their tier (Silver at 5,000
points earned in 12 months), with the benefits each tier gives and how downgrades happen."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

__all__ = ["DOWNGRADES", "StatusTier", "StatusTiersConfig", "status_tier_problems"]

DOWNGRADES = ("one_step", "straight")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MEASURE = re.compile(r"^(xp|points:[a-z][a-z0-9_]{0,31}|event:\S{1,100})$")
MAX_THRESHOLD = 2**53


def _items(value: Mapping[str, int] | None) -> Mapping[str, int]:
    return dict(value or {})


def _factors(value: Mapping[str, float] | None) -> Mapping[str, float]:
    return dict(value or {})


@attrs.frozen
class StatusTier:
    """One tier, reached by earning ``threshold`` of the measure within the window.

    Reaching it grants ``title`` (if set) and ``items`` (once per user) and multiplies every
    XP award by ``xp_multiplier`` while the user holds it, and every earned points award in a
    currency by ``points_multiplier[currency]`` (``g.points.award`` of type ``earned``).
    ``downgrade_to`` names a lower tier a downgrade from this one never goes below (None: the
    ``downgrade`` rule alone).
    """

    name: str
    threshold: float
    title: str | None = None
    xp_multiplier: float = 1.0
    items: Mapping[str, int] = attrs.field(factory=dict, converter=_items)
    downgrade_to: str | None = None
    points_multiplier: Mapping[str, float] = attrs.field(factory=dict, converter=_factors)


def _tier_list(value: Iterable[StatusTier]) -> tuple[StatusTier, ...]:
    return tuple(value)


@attrs.frozen
class StatusTiersConfig:
    """Status tiers (see docs/guides/status-tiers.md); none configured: the feature is off.

    ``measure``: what counts as earned: ``"xp"``, ``"points:<currency>"`` (points issued, not
    transfers) or ``"event:<name>"`` (the values tracked for the event).
    ``window_months`` or ``window_days`` (give one): the rolling window, in the user's zone.
    ``grace_days``: days after the requalification date before a downgrade.
    ``downgrade``: ``"one_step"`` (one tier at a time) or ``"straight"`` (to the tier the
    window qualifies for).
    ``tiers``: lowest first, thresholds strictly increasing.
    """

    measure: str = "xp"
    window_months: int | None = 12
    window_days: int | None = None
    grace_days: int = 0
    downgrade: Literal["one_step", "straight"] = "one_step"
    tiers: tuple[StatusTier, ...] = attrs.field(default=(), converter=_tier_list)

    def rank(self, name: str | None) -> int:
        """The tier's position, lowest 0; -1 for no tier (or one no longer configured)."""
        for i, tier in enumerate(self.tiers):
            if tier.name == name:
                return i
        return -1

    def qualifying(self, earned: float) -> int:
        """The rank of the highest tier ``earned`` reaches, -1 for none."""
        rank = -1
        for i, tier in enumerate(self.tiers):
            if earned >= tier.threshold:
                rank = i
        return rank


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _window_problems(config: StatusTiersConfig) -> list[str]:
    months, days = config.window_months, config.window_days
    if (months is None) == (days is None):
        return [
            "tiers.window_months: give exactly one of window_months and window_days "
            f"(got {months!r} and {days!r})"
        ]
    if months is not None and (not _is_int(months) or not 1 <= months <= 120):
        return [f"tiers.window_months: expected an int from 1 to 120, got {months!r}"]
    if days is not None and (not _is_int(days) or not 1 <= days <= 3660):
        return [f"tiers.window_days: expected an int from 1 to 3660, got {days!r}"]
    return []


def _one_tier(where: str, tier: StatusTier, names: list[str], currencies: set[str]) -> list[str]:
    p: list[str] = []
    if not isinstance(tier.name, str) or not _NAME.match(tier.name):
        p.append(f"{where}.name: expected a lowercase identifier, got {tier.name!r}")
    elif tier.name in names:
        p.append(f"{where}.name: {tier.name!r} is configured twice")
    if not _is_number(tier.threshold) or not 0 < tier.threshold <= MAX_THRESHOLD:
        p.append(
            f"{where}.threshold: expected a number over 0, at most 2**53, got {tier.threshold!r}"
        )
    title = tier.title
    if title is not None and (not isinstance(title, str) or not title.strip() or len(title) > 100):
        p.append(f"{where}.title: expected a title of 1-100 characters or null")
    factor = tier.xp_multiplier
    if not _is_number(factor) or not 0 < factor <= 100:
        p.append(f"{where}.xp_multiplier: expected a number over 0, at most 100, got {factor!r}")
    for currency, points in tier.points_multiplier.items():
        if currency not in currencies:
            p.append(
                f"{where}.points_multiplier: unknown currency {currency!r}; configure it in "
                f"currencies"
            )
        if not _is_number(points) or not 0 < points <= 100:
            p.append(
                f"{where}.points_multiplier['{currency}']: expected a number over 0, at most "
                f"100, got {points!r}"
            )
    for item, quantity in tier.items.items():
        if not isinstance(item, str) or not item.strip() or len(item) > 100:
            p.append(f"{where}.items: expected item names of 1-100 characters, got {item!r}")
        if not _is_int(quantity) or not 1 <= quantity <= 1_000_000:
            p.append(f"{where}.items['{item}']: expected an int from 1 to 1000000")
    if tier.downgrade_to is not None and tier.downgrade_to not in names:
        p.append(
            f"{where}.downgrade_to: {tier.downgrade_to!r} is not a tier below {tier.name!r} "
            f"(lower tiers: {', '.join(names) or 'none'})"
        )
    return p


def status_tier_problems(config: object, currencies: set[str]) -> list[str]:
    """Every fault of the ``tiers`` section, each naming its field."""
    if not isinstance(config, StatusTiersConfig):
        return ["tiers: expected a StatusTiersConfig"]
    p: list[str] = []
    measure = config.measure
    if not isinstance(measure, str) or not _MEASURE.match(measure):
        p.append(
            f"tiers.measure: expected 'xp', 'points:<currency>' or 'event:<name>', got {measure!r}"
        )
    elif measure.startswith("points:") and measure[7:] not in currencies:
        p.append(f"tiers.measure: unknown currency {measure[7:]!r}; configure it in currencies")
    p.extend(_window_problems(config))
    if not _is_int(config.grace_days) or not 0 <= config.grace_days <= 366:
        p.append(f"tiers.grace_days: expected an int from 0 to 366, got {config.grace_days!r}")
    if config.downgrade not in DOWNGRADES:
        p.append(
            f"tiers.downgrade: expected one of {', '.join(DOWNGRADES)}, got {config.downgrade!r}"
        )
    names: list[str] = []
    below: float | None = None
    for i, tier in enumerate(config.tiers):
        where = f"tiers.tiers[{i}]"
        if not isinstance(tier, StatusTier):
            p.append(f"{where}: expected a StatusTier")
            continue
        p.extend(_one_tier(where, tier, names, currencies))
        if _is_number(tier.threshold):
            if below is not None and tier.threshold <= below:
                p.append(
                    f"{where}.threshold: {tier.threshold!r} overlaps the tier below "
                    f"({names[-1]!r} at {below!r}); thresholds must strictly increase"
                )
            below = tier.threshold
        names.append(tier.name)
    return p
