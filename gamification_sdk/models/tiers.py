"""Status tiers: a user's tier, its changes, and the board that ranks users by tier."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import attrs

__all__ = ["TierChange", "TierStanding", "TierStatus"]


@attrs.frozen
class TierStatus:
    """A user's status tier at ``at``: ``tier`` (None: none yet) and its ``title``, held
    ``since``; ``earned`` is what the window ending at ``at`` holds, ``next_tier`` the tier
    above and ``to_next`` what is still missing for it (None at the top).

    ``requalify_on`` is the local date the tier is next requalified; it can drop only at
    ``downgrade_at`` (that date's local midnight plus the grace) and only if the window
    ending then holds less than its threshold.
    """

    user_id: str
    tier: str | None
    title: str | None
    since: datetime | None
    earned: float
    next_tier: str | None
    to_next: float | None
    requalify_on: date | None
    downgrade_at: datetime | None
    xp_multiplier: float
    at: datetime


@attrs.frozen
class TierChange:
    """One change of a user's tier: ``kind`` ``"upgrade"`` (as soon as they qualified) or
    ``"downgrade"`` (at a requalification), ``earned`` the window's amount that decided it,
    ``requalify_on`` the new tier's requalification date (None: no tier)."""

    user_id: str
    seq: int
    old_tier: str | None
    new_tier: str | None
    kind: Literal["upgrade", "downgrade"]
    earned: float
    requalify_on: date | None
    at: datetime


@attrs.frozen
class TierStanding:
    """A line of the tier board: users by tier (highest first), then by who reached it first."""

    rank: int
    user_id: str
    tier: str
    since: datetime
