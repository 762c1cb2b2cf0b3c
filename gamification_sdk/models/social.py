"""Among others: boards, privacy, referrals, the battle pass, a user's deletion."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = [
    "BattlePass",
    "Leaderboard",
    "LeaderboardEntry",
    "MilestoneReward",
    "PeriodClose",
    "PremiumPurchase",
    "Privacy",
    "Referral",
    "ReferralAttempt",
    "ReferralConversion",
    "ReferralStats",
    "SeasonClose",
    "TierBoostUse",
    "TierClaim",
    "TierRewardStatus",
    "UserDeletion",
]


@attrs.frozen
class LeaderboardEntry:
    """One line of a board. ``rank`` is competition ranking (1, 2, 2, 4); ``position`` is
    the 1-based line, ties in the order their users reached the score.

    ``hidden`` marks the viewer's own line on a board that does not show them to others.
    ``previous_rank`` and ``movement`` (up, down, same, new) are set on closed periods.
    """

    rank: int
    position: int
    user_id: str
    display_name: str
    level: int
    score: float
    is_viewer: bool = False
    hidden: bool = False
    previous_rank: int | None = None
    movement: str | None = None


@attrs.frozen
class Leaderboard:
    """A page of a board, and where the viewer stands on it (``viewer``)."""

    board: str
    period: str
    period_key: str
    scope: str
    group: str | None
    total: int
    entries: tuple[LeaderboardEntry, ...]
    viewer: LeaderboardEntry | None = None
    closed: bool = False


@attrs.frozen
class Privacy:
    """How a user appears on boards; unset fields follow ``Config.leaderboards``."""

    visibility: str
    show_on_global: bool
    display_name_type: str
    real_name: str | None
    username: str | None


@attrs.frozen
class PeriodClose:
    """One period archived by ``g.boards.close_periods``."""

    board: str
    period: str
    period_key: str
    ranked: int
    rewarded: int


@attrs.frozen
class Referral:
    """One tracked referral: ``referrer_id`` shared ``code`` and ``referred_id`` used it.

    ``status``: pending, signed_up, converted, paid_client or churned. A flagged referral
    (``flagged``, with ``reason``) stays pending and is never paid. ``referrer_points`` and
    ``referred_points`` are what it paid each side so far, in ``currency``.
    """

    id: int
    code: str
    referrer_id: str
    referred_id: str
    status: str
    flagged: bool
    reason: str | None
    currency: str
    referrer_points: int
    referred_points: int
    created_at: datetime
    signed_up_at: datetime | None = None
    converted_at: datetime | None = None
    conversion_kind: str | None = None
    revenue: float | None = None
    ip: str | None = None
    device_fingerprint: str | None = None
    email: str | None = None
    utm: dict[str, str] | None = None


@attrs.frozen
class ReferralAttempt:
    """What ``check_referral`` plugins see, before anything is stored (all validated)."""

    code: str
    referrer_id: str
    referred_id: str
    ip: str | None
    device_fingerprint: str | None
    email: str | None
    utm: dict[str, str] | None
    at: datetime


@attrs.frozen
class MilestoneReward:
    """A referral milestone the referrer reached (paid once): ``referrals`` converted ones."""

    user_id: str
    tier: str
    name: str
    referrals: int
    currency: str
    points: int
    title: str | None
    reached_at: datetime


@attrs.frozen
class ReferralConversion:
    """``g.referrals.convert``: the converted referral, what it paid the referrer, and any
    milestones it reached."""

    referral: Referral
    points: int
    milestones: tuple[MilestoneReward, ...] = ()


@attrs.frozen
class ReferralStats:
    """A referrer's standing. ``counts`` has every status (flagged ones are ``pending``);
    ``converted`` counts referrals that ever converted, which is what milestones count.
    ``earned`` is per currency everything referrals paid the user (as referrer, as the new
    user, and milestones). ``tier`` is the highest milestone reached; ``referrals_to_next``
    how many more conversions reach ``next_tier``."""

    user_id: str
    code: str | None
    counts: dict[str, int]
    flagged: int
    converted: int
    earned: dict[str, int]
    tier: str | None
    next_tier: str | None
    referrals_to_next: int | None
    milestones: tuple[MilestoneReward, ...] = ()


@attrs.frozen
class TierRewardStatus:
    """One tier reward of a battle pass as a user sees it.

    ``state``: ``claimed`` (paid; ``auto`` when the season-end job granted it),
    ``claimable`` (tier reached, premium owned for the premium track, season still on) or
    ``locked``.
    """

    tier: int
    track: str
    state: str
    points: dict[str, int] = attrs.field(factory=dict)
    items: dict[str, int] = attrs.field(factory=dict)
    titles: tuple[str, ...] = ()
    achievements: tuple[str, ...] = ()
    claimed_at: datetime | None = None
    auto: bool = False


@attrs.frozen
class BattlePass:
    """A user's battle pass in one season (seed 002's battle-pass response).

    ``tier`` is the tier reached (0 to ``total_tiers``), ``season_xp`` the XP earned in the
    season plus tier boosts, ``xp_into_tier`` how far into the next tier (0 at the last
    tier) and ``xp_to_next_tier`` what is missing. ``active``: the season runs at the moment
    asked about and is not archived; ``archived``: the season-end job archived it.
    ``free_rewards`` and ``premium_rewards`` list the tiers that have a reward, in order.
    """

    user_id: str
    season: str
    name: str | None
    number: int | None
    starts_at: datetime
    ends_at: datetime
    active: bool
    archived: bool
    tier: int
    total_tiers: int
    season_xp: int
    xp_into_tier: int
    xp_per_tier: int
    xp_to_next_tier: int
    premium: bool
    premium_price: int
    premium_currency: str
    tier_boosts_used: int
    free_rewards: tuple[TierRewardStatus, ...] = ()
    premium_rewards: tuple[TierRewardStatus, ...] = ()


@attrs.frozen
class TierClaim:
    """A paid tier reward: what it granted (``achievements`` newly unlocked by it) and the
    ledger ``transaction_ids`` of its points. ``auto``: granted by the season-end job."""

    user_id: str
    season: str
    track: str
    tier: int
    claimed_at: datetime
    points: dict[str, int] = attrs.field(factory=dict)
    items: dict[str, int] = attrs.field(factory=dict)
    titles: tuple[str, ...] = ()
    achievements: tuple[str, ...] = ()
    transaction_ids: tuple[int, ...] = ()
    auto: bool = False


@attrs.frozen
class PremiumPurchase:
    """``battle_pass.buy_premium``: the season's premium pass, paid by ledger ``transaction_id``."""

    user_id: str
    season: str
    currency: str
    price: int
    transaction_id: int
    purchased_at: datetime


@attrs.frozen
class TierBoostUse:
    """``battle_pass.use_tier_boost``: ``quantity`` tier_boost items used, ``xp`` season XP
    added (one tier each), the tier before and after, and the tier_boost items left."""

    user_id: str
    season: str
    quantity: int
    xp: int
    tier_before: int
    tier_after: int
    boosts_left: int
    used_at: datetime


@attrs.frozen
class SeasonClose:
    """One season archived by ``battle_pass.close_seasons``: ``users`` with progress
    archived, ``rewards_granted`` unclaimed reached rewards it paid them."""

    season: str
    users: int
    rewards_granted: int
    archived_at: datetime


@attrs.frozen
class UserDeletion:
    """What ``g.privacy.delete`` did: rows deleted per table, ledger entries anonymised, balances
    forfeited per currency. ``pseudonym`` replaces the user in the ledger and referrals."""

    user_id: str
    pseudonym: str
    deleted_at: datetime
    rows_deleted: dict[str, int]
    entries_anonymised: int
    forfeited: dict[str, int]
