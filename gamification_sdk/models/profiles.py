"""Profiles, XP and levels: what a user is, and what an XP award did."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import attrs

from .ledger import ExpiringPoints

__all__ = [
    "AwardRequest",
    "Balance",
    "LevelUpReward",
    "Profile",
    "StreakStatus",
    "SweepReport",
    "XPAward",
    "XPBoost",
    "XPEntry",
]


@attrs.frozen
class Balance:
    """One currency of one user. ``available`` is ``balance - held``.

    ``lifetime_earned - lifetime_spent == balance`` always holds: refunds reduce
    ``lifetime_spent`` and negative admin adjustments reduce ``lifetime_earned``.
    """

    currency: str
    balance: int
    held: int
    available: int
    lifetime_earned: int
    lifetime_spent: int
    # The next amounts to expire, soonest first (expiring currencies only).
    expiring: tuple[ExpiringPoints, ...] = ()


@attrs.frozen
class StreakStatus:
    """A user's daily streak as of a moment, with missed days already settled.

    ``current`` counts consecutive active local days; rest days and days bridged by a freeze
    keep it alive without adding to it. ``extended_today`` says today already counts;
    ``at_risk`` that the streak ends (or costs a freeze) unless the user is active today.
    """

    current: int
    longest: int
    last_active_day: date | None
    freezes: int
    extended_today: bool
    at_risk: bool
    today: date
    rest_days: tuple[date, ...] = ()


@attrs.frozen
class SweepReport:
    """What one streak sweep wrote down: settled users, breaks, freezes used, warnings."""

    users: int
    broken: int
    freezes_used: int
    warned: int


@attrs.frozen
class Profile:
    """A user's progression. ``xp`` is lifetime XP; level counts from the last prestige.

    ``xp_into_level`` is XP earned since the current level began, ``xp_for_next_level``
    the XP the current level spans, ``xp_to_next_level`` what is still missing and
    ``progress`` the percentage (0-100; 100 at max level).
    """

    user_id: str
    level: int
    xp: int
    xp_into_level: int
    xp_for_next_level: int
    xp_to_next_level: int
    progress: float
    prestige: int
    max_level: int
    created_at: datetime | None
    balances: dict[str, Balance] = attrs.field(factory=dict)
    titles: tuple[str, ...] = ()
    timezone: str = "UTC"
    streak: StreakStatus | None = None


@attrs.frozen
class LevelUpReward:
    """What one crossed level paid: points per currency, titles, and the ledger transactions."""

    level: int
    points: dict[str, int]
    titles: tuple[str, ...]
    transaction_ids: tuple[int, ...]


@attrs.frozen
class XPAward:
    """The result of ``award_xp``: ``amount`` is ``base_amount`` times ``multiplier``, rounded.

    ``id`` numbers the user's awards 1, 2, 3...; ``(user_id, id)`` identifies an award.
    """

    id: int
    user_id: str
    base_amount: int
    multiplier: float
    amount: int
    total_xp: int
    old_level: int
    new_level: int
    leveled_up: bool
    rewards: tuple[LevelUpReward, ...]
    source: str
    created_at: datetime
    idempotency_key: str | None = None


@attrs.frozen
class XPEntry:
    """One row of a user's XP history; ``id`` is the user's award number (see ``XPAward``)."""

    id: int
    user_id: str
    base_amount: int
    multiplier: float
    amount: int
    total_xp: int
    level_before: int
    level_after: int
    source: str
    metadata: Any
    idempotency_key: str | None
    created_at: datetime


@attrs.frozen
class XPBoost:
    """A time-limited XP multiplier on one user."""

    id: int
    user_id: str
    factor: float
    source: str
    starts_at: datetime
    expires_at: datetime


@attrs.frozen
class AwardRequest:
    """What ``validate_award`` plugins see: ``kind`` is ``"xp"`` or ``"points"``.

    ``amount`` is the XP before multipliers, or the points. ``origin`` says what pays it:
    ``"direct"`` (the host's ``award_xp``/``award_points``), ``"event"`` (an event rule,
    in ``track()``), ``"achievement"``, ``"quest"``, ``"streak"`` (the streak bonus XP),
    ``"level_up"`` (level rewards and bonuses), ``"battle_pass"`` (tier rewards),
    ``"leaderboard"`` (rank rewards) or ``"referral"`` (referral and milestone rewards).
    Points also carry the ledger ``transaction_type`` (``"earned"``, ``"bonus"``,
    ``"referral_reward"``) and ``reference`` (such as ``("achievement", key)``) they would
    be recorded with; both are None for XP.
    """

    kind: str
    user_id: str
    amount: int
    source: str
    currency: str | None
    metadata: Any
    at: datetime
    origin: str = "direct"
    transaction_type: str | None = None
    reference: tuple[str, str] | None = None
