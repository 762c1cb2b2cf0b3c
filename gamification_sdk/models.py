"""The frozen values the engine returns. All are attrs classes; ``attrs.asdict`` works on each."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import attrs

__all__ = [
    "AchievementStatus",
    "AwardRequest",
    "Balance",
    "BattlePass",
    "DailyActivity",
    "HistoryPage",
    "Inventory",
    "Leaderboard",
    "LeaderboardEntry",
    "LedgerProblem",
    "LedgerReport",
    "LevelUpReward",
    "LoadReport",
    "MilestoneReward",
    "Notification",
    "ObjectiveProgress",
    "Order",
    "PeriodClose",
    "PremiumPurchase",
    "Privacy",
    "Profile",
    "QuestBoard",
    "QuestCompletion",
    "QuestStatus",
    "RateLimitStatus",
    "ReevaluateReport",
    "Referral",
    "ReferralAttempt",
    "ReferralConversion",
    "ReferralStats",
    "Reservation",
    "ScoredEvent",
    "SeasonClose",
    "ShopListing",
    "Stats",
    "StreakStatus",
    "SweepReport",
    "TierBoostUse",
    "TierClaim",
    "TierRewardStatus",
    "Totals",
    "TrackResult",
    "Transaction",
    "Unlock",
    "UserDeletion",
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


@attrs.frozen
class Transaction:
    """A ledger transaction seen from ``user_id``'s side: ``amount`` is signed for that user.

    ``balance_before``/``balance_after`` are that user's balance around it.
    """

    id: int
    type: str
    user_id: str
    currency: str
    amount: int
    balance_before: int
    balance_after: int
    source: str
    created_at: datetime
    counterparty: str | None = None
    reference_type: str | None = None
    reference_id: str | None = None
    description: str | None = None
    metadata: Any = None
    refund_of: int | None = None
    idempotency_key: str | None = None


@attrs.frozen
class Totals:
    """Per-currency summary: ``net == earned - spent`` is the current balance."""

    earned: int
    spent: int
    net: int


@attrs.frozen
class HistoryPage:
    """A page of history, newest first; pass ``next_before`` as ``before`` for the next page."""

    transactions: tuple[Transaction, ...]
    totals: dict[str, Totals]
    next_before: int | None


@attrs.frozen
class Reservation:
    """Points held for a two-phase purchase. ``status``: active, committed, released, expired."""

    id: int
    user_id: str
    currency: str
    amount: int
    status: str
    source: str
    created_at: datetime
    expires_at: datetime
    reference_type: str | None = None
    reference_id: str | None = None
    transaction_id: int | None = None


@attrs.frozen
class Order:
    """One shop purchase. ``status``: pending (points held while ``fulfill_order`` runs),
    completed, failed (fulfilment raised or refused), expired (the hold ran out first) or
    refunded. ``price`` is the total charged per currency (unit price x quantity);
    ``items`` and ``title`` what was granted; ``transaction_ids`` the ``purchase``
    transactions and ``refund_transaction_ids`` their refunds.
    """

    id: int
    user_id: str
    item: str
    kind: str
    quantity: int
    price: dict[str, int]
    status: str
    created_at: datetime
    version: int = 1
    items: dict[str, int] = attrs.field(factory=dict)
    title: str | None = None
    external_reference: str | None = None
    failure: str | None = None
    reservation_ids: tuple[int, ...] = ()
    transaction_ids: tuple[int, ...] = ()
    refund_transaction_ids: tuple[int, ...] = ()
    completed_at: datetime | None = None
    closed_at: datetime | None = None
    idempotency_key: str | None = None


@attrs.frozen
class ShopListing:
    """One live shop item as a user sees it at a moment.

    ``price`` is per unit; ``stock`` the units left (None: unlimited) and ``sold`` those sold.
    With a user: ``bought`` counts their units (pending and completed orders) and
    ``remaining_for_user`` what the per-user limit still allows (None: no limit).
    ``available`` says whether one unit can be bought now, and if not, ``reason`` why.
    """

    key: str
    name: str
    kind: str
    price: dict[str, int]
    description: str
    category: str
    icon: str
    stock: int | None
    sold: int
    per_user_limit: int | None
    available_from: datetime | None
    available_until: datetime | None
    available: bool
    reason: str | None = None
    bought: int | None = None
    remaining_for_user: int | None = None
    units: int = 1
    metadata: dict[str, Any] = attrs.field(factory=dict)
    version: int = 1


@attrs.frozen
class RateLimitStatus:
    """One user's standing against one action's rate limit at a moment.

    ``used`` calls count in the current sliding window of ``window`` seconds and
    ``remaining`` more are allowed now. ``resets_at`` is the next moment ``remaining`` goes
    up (the oldest counted call leaves the window), or None when nothing is counted. With
    the action's limit turned off, ``limit``, ``window`` and ``remaining`` are None.
    """

    action: str
    user_id: str
    limit: int | None
    window: int | None
    used: int
    remaining: int | None
    resets_at: datetime | None


@attrs.frozen
class LedgerProblem:
    """One fault ``verify_ledger`` found; ``kind`` names the check that failed."""

    kind: str
    detail: str
    transaction_id: int | None = None
    account_id: int | None = None
    user_id: str | None = None


@attrs.frozen
class LedgerReport:
    """The audit result. Empty (falsy, ``ok``) on a healthy database."""

    problems: tuple[LedgerProblem, ...]
    checked_transactions: int
    checked_accounts: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def __len__(self) -> int:
        return len(self.problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def kinds(self) -> set[str]:
        return {problem.kind for problem in self.problems}


@attrs.frozen
class Unlock:
    """One achievement unlock: ``tier`` names the tier (None if untiered), ``seq`` counts
    repeats from 1. ``xp`` and ``points`` are what it paid, after the rarity multiplier."""

    user_id: str
    key: str
    name: str
    rarity: str
    tier: str | None
    seq: int
    unlocked_at: datetime
    xp: int
    points: dict[str, int]
    title: str | None
    items: dict[str, int]
    achievement_points: int
    version: int


@attrs.frozen
class AchievementStatus:
    """A user's standing on one achievement: progress toward the next unlock, and unlocks.

    ``current``/``target``/``percent`` describe the next tier (or the repeat in progress);
    once nothing is left to earn, ``percent`` is 100.
    """

    key: str
    name: str
    description: str
    icon: str
    category: str
    rarity: str
    hidden: bool
    current: float
    target: int
    percent: float
    unlocked: bool
    unlocked_at: datetime | None
    times_unlocked: int
    tiers_unlocked: tuple[str, ...]
    next_tier: str | None
    retired: bool = False


@attrs.frozen
class ObjectiveProgress:
    """One objective of a quest in the current period."""

    description: str
    type: str
    event: str | None
    current: float
    target: int
    done: bool


@attrs.frozen
class QuestStatus:
    """A quest as a user sees it now: its rewards, this period's progress, when it expires.

    ``completed`` means no more completions this period (``completions == max_completions``).
    ``expires_at`` is when this period ends (``None`` for a one-time quest).
    """

    key: str
    name: str
    description: str
    category: str
    difficulty: str
    recurrence: str
    xp: int
    points: dict[str, int]
    objectives: tuple[ObjectiveProgress, ...]
    logic: str
    completions: int
    max_completions: int
    completed: bool
    needs_verification: bool
    period_start: datetime | None
    expires_at: datetime | None


@attrs.frozen
class QuestBoard:
    """``quests()``: the quests open to a user, grouped like seed 002's available challenges."""

    daily: tuple[QuestStatus, ...] = ()
    weekly: tuple[QuestStatus, ...] = ()
    monthly: tuple[QuestStatus, ...] = ()
    special: tuple[QuestStatus, ...] = ()


@attrs.frozen
class QuestCompletion:
    """One paid completion: ``seq`` counts completions of the quest within ``period``."""

    user_id: str
    key: str
    name: str
    period: str
    seq: int
    completed_at: datetime
    xp: int
    points: dict[str, int]
    title: str | None = None
    items: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class TrackResult:
    """What one ``track()`` did: the rule's XP and points, unlocks, and progress that moved."""

    user_id: str
    event: str
    value: float
    at: datetime
    xp: XPAward | None
    points: tuple[Transaction, ...]
    unlocked: tuple[Unlock, ...]
    progress: tuple[AchievementStatus, ...]
    rewarded: bool
    idempotency_key: str | None = None
    quests: tuple[QuestCompletion, ...] = ()


@attrs.frozen
class Notification:
    id: int
    user_id: str
    kind: str
    message: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None


@attrs.frozen
class Inventory:
    """Owned titles (with the equipped one) and items with their quantities."""

    user_id: str
    titles: tuple[str, ...]
    equipped_title: str | None
    items: dict[str, int]


@attrs.frozen
class DailyActivity:
    """One local day of a user: XP and points earned, achievements unlocked."""

    date: str
    xp: int
    points: dict[str, int]
    achievements: int


@attrs.frozen
class Stats:
    """``getUserStats``: progression, achievement totals by rarity, recent XP, daily activity."""

    user_id: str
    level: int
    xp: int
    progress: float
    achievements_unlocked: int
    achievements_total: int
    achievement_points: int
    by_rarity: dict[str, int]
    recent_xp: tuple[XPEntry, ...]
    daily: tuple[DailyActivity, ...]
    days_active: int


@attrs.frozen
class LoadReport:
    """What ``events.load`` changed: keys added, updated (version bumped), retired."""

    source: str
    added: tuple[str, ...]
    updated: tuple[str, ...]
    retired: tuple[str, ...]
    unchanged: tuple[str, ...]


@attrs.frozen
class ReevaluateReport:
    """What ``events.reevaluate`` did: users checked and unlocks granted (this run only)."""

    users: int
    unlocked: tuple[Unlock, ...]
    resumed_after: str | None


@attrs.frozen
class ScoredEvent:
    """A tracked event as a custom board's scorer sees it."""

    user_id: str
    event: str
    value: float
    metadata: Any
    at: datetime


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
