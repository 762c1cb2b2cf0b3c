"""The sections of ``Config``: levels, currencies, achievements, streaks, rate limits, the
scheduler and referrals, with the converters that make their tables read-only."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Literal

import attrs

from ..core.readonly import ReadOnlyTables, mapping_repr, read_only
from .convert import converter
from .seasons import Season

CurveName = Literal["quadratic", "exponential", "linear", "table", "custom"]
CURVES = ("quadratic", "exponential", "linear", "table", "custom")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_AMOUNT = 2**53


def _frozen_dict(value: Mapping[str, int] | None) -> Mapping[str, int]:
    return read_only(value)


# Typed converters: with a bare ``tuple`` mypy cannot infer what __init__ accepts.
def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _ints(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _rewards(value: Iterable[LevelReward]) -> tuple[LevelReward, ...]:
    return tuple(value)


def _currencies(value: Iterable[CurrencyConfig]) -> tuple[CurrencyConfig, ...]:
    return tuple(value)


def _season_list(value: Iterable[Season]) -> tuple[Season, ...]:
    return tuple(value)


@attrs.frozen
class LevelReward(ReadOnlyTables):
    """What reaching ``level`` grants, once per user (per prestige)."""

    level: int
    points: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_dict, repr=mapping_repr)
    titles: tuple[str, ...] = attrs.field(default=(), converter=_strs)


@attrs.frozen
class LevelsConfig(ReadOnlyTables):
    """The level curve and what each level pays.

    ``quadratic``: total XP for level L is ``base * (L-1)**2``.
    ``exponential``: going from level n to n+1 takes ``floor(base * growth**(n-1))`` XP.
    ``linear``: total XP for level L is ``base * (L-1)``.
    ``table``: ``table[i]`` is the total XP for level i+1; it starts at 0.
    ``custom``: a plugin's ``level_curve`` hook answers for the name in ``custom``.
    """

    curve: CurveName = "quadratic"
    max_level: int = 100
    base: int = 100
    growth: float = 1.5
    table: tuple[int, ...] = attrs.field(default=(), converter=_ints)
    custom: str | None = None
    rewards: tuple[LevelReward, ...] = attrs.field(default=(), converter=_rewards)
    level_up_bonus: Mapping[str, int] = attrs.field(
        factory=dict, converter=_frozen_dict, repr=mapping_repr
    )


@attrs.frozen
class CurrencyConfig:
    """A points currency. ``max_award`` caps a single award; ``None`` means no cap.

    Expiry (docs/guides/expiring-points.md): each credit opens a lot that expires
    ``expire_after_days`` days after it, or at the end of the next ``expire_on`` day
    ("MM-DD") in ``expire_timezone`` (None: ``Config.default_timezone``); set one or neither.
    ``expiry_notice_days``: a "points expiring soon" notification goes out this many days
    before a lot expires (None: none).
    """

    name: str
    spendable: bool = True
    max_award: int | None = None
    description: str = ""
    expire_after_days: int | None = None
    expire_on: str | None = None
    expire_timezone: str | None = None
    expiry_notice_days: int | None = None

    @property
    def expires(self) -> bool:
        return self.expire_after_days is not None or self.expire_on is not None


RARITY_XP = {"common": 1, "uncommon": 1.5, "rare": 2, "epic": 3, "legendary": 5, "mythic": 10}
RARITY_POINTS = {
    "common": 10, "uncommon": 25, "rare": 50, "epic": 100, "legendary": 250, "mythic": 1000,
}  # fmt: skip


def _with_xp_defaults(value: Mapping[str, float] | None) -> Mapping[str, float]:
    return read_only({**RARITY_XP, **(value or {})})


def _with_point_defaults(value: Mapping[str, int] | None) -> Mapping[str, int]:
    return read_only({**RARITY_POINTS, **(value or {})})


@attrs.frozen
class AchievementsConfig(ReadOnlyTables):
    """Per rarity: the multiplier on an achievement's XP reward, and its achievement points.

    Give only the rarities you change; the others keep seed 000's values.
    """

    rarity_xp_multipliers: Mapping[str, float] = attrs.field(
        factory=dict, converter=_with_xp_defaults, repr=mapping_repr
    )
    rarity_points: Mapping[str, int] = attrs.field(
        factory=dict, converter=_with_point_defaults, repr=mapping_repr
    )


def _events(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class StreaksConfig:
    """Daily streaks (docs/guides/streaks.md).

    ``activity_events``: the tracked events that keep a streak alive; ``None`` means every
    event (``streaks.record_activity`` always counts). From the second day of a streak each
    new active day pays ``min(streak * bonus_xp_per_day, bonus_xp_cap)`` XP (seed 000).
    ``freeze_every``: a streak reaching each multiple of this many days earns a freeze, while
    the user holds fewer than ``max_earned_freezes`` (0 turns earning off). ``at_risk_hours``
    before the user's day ends, a live streak not yet extended today gets a warning.
    """

    activity_events: tuple[str, ...] | None = attrs.field(default=None, converter=_events)
    bonus_xp_per_day: int = 0
    bonus_xp_cap: int = 100
    freeze_every: int = 0
    max_earned_freezes: int = 2
    rest_days_per_week: int = 2
    at_risk_hours: int = 4


@attrs.frozen
class RateLimit:
    """At most ``max`` calls of an action per user in any ``seconds`` long stretch of time.

    A sliding window: each call counts until ``seconds`` after it was made.
    """

    max: int
    seconds: int

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.seconds)


HOUR = 3_600
DAY = 86_400
MAX_RATE_LIMIT = 100_000
MAX_RATE_WINDOW = 366 * DAY
# Seed 002: quest completions 10 per day, purchases 5 per hour, referral tracking 3 per day.
DEFAULT_RATE_LIMITS: Mapping[str, RateLimit | None] = MappingProxyType(
    {
        "quest_complete": RateLimit(max=10, seconds=DAY),
        "purchase": RateLimit(max=5, seconds=HOUR),
        "referral_track": RateLimit(max=3, seconds=DAY),
    }
)


def _with_rate_limit_defaults(
    value: Mapping[str, RateLimit | None] | None,
) -> Mapping[str, RateLimit | None]:
    return read_only({**DEFAULT_RATE_LIMITS, **(value or {})})


def _structure_rate_limit(value: object, _: type) -> RateLimit | None:
    # TOML has no null: ``false`` turns a limit off there (``None``/``null`` in Python/JSON).
    if value is None or value is False:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(
            f"expected a table like {{max = 5, seconds = 3600}}, or false to turn the "
            f"limit off, got {type(value).__name__} {value!r}"
        )
    return converter.structure(value, RateLimit)


converter.register_structure_hook(RateLimit | None, _structure_rate_limit)


@attrs.frozen
class SchedulerConfig:
    """Scheduled jobs (``g.jobs.start``, ``g.jobs.run_due``) and the built-in ones.

    ``tick_seconds``: how often the background scheduler looks for due jobs.
    ``lease_seconds``: how long a process that stopped answering keeps the right to run jobs;
    it must be longer than a tick plus the longest job.
    ``streak_sweep_minutes``, ``quest_rollover_minutes``: the periods of the ``streak_sweep``
    and ``quest_rollover`` jobs (None: off; 30 catches every zone's day end, half-hour zones
    included).
    ``reservation_expiry_minutes``: the period of the ``expire_reservations`` job (None: off).
    ``ledger_audit_at``: local "HH:MM" of the nightly ``ledger_audit`` job (None: off), in
    ``ledger_audit_timezone`` (None: ``Config.default_timezone``).
    ``leaderboard_close_minutes``: the period of the ``leaderboard_close`` job, which archives
    the boards' ended periods and pays their rank rewards (None: off).
    ``battle_pass_close_minutes``: the period of the ``battle_pass_close`` job, which archives
    the battle pass of each ended season and grants its unclaimed reached rewards (None: off).
    ``points_expiry_minutes``: the period of the ``expire_points`` job, which expires the
    lots of expiring currencies that are due and sends their "expiring soon" notices.
    ``tier_requalify_minutes``: the period of the ``tier_requalify`` job, which downgrades
    status tiers whose requalification date and grace have passed (None: off).
    ``key_expiry_minutes``: the period of the ``expire_keys`` job, which forgets the
    idempotency keys older than ``Config.idempotency.keep_days`` (None: off; the job does
    nothing while ``keep_days`` is None).
    ``history_days``: finished ``job_runs`` rows older than this are deleted (the latest
    period of each job is always kept).
    """

    tick_seconds: float = 30.0
    lease_seconds: float = 300.0
    streak_sweep_minutes: int | None = 30
    quest_rollover_minutes: int | None = 30
    reservation_expiry_minutes: int | None = 5
    ledger_audit_at: str | None = "03:30"
    ledger_audit_timezone: str | None = None
    leaderboard_close_minutes: int | None = 15
    battle_pass_close_minutes: int | None = 15
    points_expiry_minutes: int | None = 60
    tier_requalify_minutes: int | None = 30
    key_expiry_minutes: int | None = 60
    history_days: int = 30


@attrs.frozen
class IdempotencyConfig:
    """How long idempotency keys are kept (docs/guides/idempotency.md).

    ``keep_days``: a key replays for at least this many days after its call; the
    ``expire_keys`` job then forgets the ``idempotency_keys`` rows older than that, and a
    reuse of a forgotten key runs as a new call. None (the default) keeps every key forever.
    Keys the ledger and the XP log keep in their own rows are part of those rows and are
    never forgotten.
    """

    keep_days: int | None = None


@attrs.frozen
class ReferralTier:
    """A referral milestone: the referrer's ``referrals``-th converted referral pays ``points``
    once (in the referral currency) and grants ``title`` if set. ``tier`` is its key."""

    tier: str
    name: str
    referrals: int
    points: int = 0
    title: str | None = None


# Seed 002's referral_milestones rows.
SEED_REFERRAL_TIERS = (
    ReferralTier("bronze", "Bronze Recruiter", 1, 500),
    ReferralTier("silver", "Silver Recruiter", 5, 3_000),
    ReferralTier("gold", "Gold Recruiter", 10, 8_000),
    ReferralTier("platinum", "Platinum Recruiter", 25, 25_000),
    ReferralTier("diamond", "Diamond Recruiter", 50, 75_000),
)
# No look-alikes: 0/O, 1/I/L are left out.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _tiers(value: Iterable[ReferralTier]) -> tuple[ReferralTier, ...]:
    return tuple(value)


@attrs.frozen
class ReferralsConfig:
    """Referral codes, rewards, anti-fraud rules and milestones (see docs/guides/referrals.md).

    ``code_format``: literal text (A-Z, 0-9, ``-``, ``_``) with ``{random}`` once and
    ``{name}`` at most once; ``{random}`` is ``code_length`` characters of ``code_alphabet``,
    ``{name}`` the ``name`` given to ``g.referrals.code`` (``default_name`` without one).
    ``currency``: what rewards pay in (None: the first configured currency). Amounts of 0 pay
    nothing. Each anti-fraud rule switches off on its own; ``max_referrals_per_ip`` 0 is off.
    """

    code_format: str = "{name}-{random}"
    code_length: int = 4
    code_alphabet: str = CODE_ALPHABET
    default_name: str = "FRIEND"
    currency: str | None = None
    referrer_reward: int = 500
    referred_reward: int = 500
    conversion_reward: int = 2_000
    milestones: tuple[ReferralTier, ...] = attrs.field(
        default=SEED_REFERRAL_TIERS, converter=_tiers
    )
    reject_self_referral: bool = True
    reject_same_ip: bool = True
    max_referrals_per_ip: int = 3
    ip_window_days: int = 7
    reject_seen_device: bool = True
    reject_referred_twice: bool = True
    # Flags `referral_cycle`: the new user is the referrer's referrer, or theirs... (any ring).
    reject_referral_cycle: bool = True
    # Flags `existing_user`: the new user had XP, points or events by the referral's time.
    reject_existing_user: bool = True
