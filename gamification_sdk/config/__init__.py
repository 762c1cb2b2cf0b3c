"""Engine configuration: frozen attrs classes, loadable from TOML or JSON with strict types."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import attrs

from ..core.readonly import ReadOnlyTables, mapping_repr
from ..core.validation import is_zone
from ..errors import ConfigError
from .convert import converter, load_mapping, structure
from .leaderboards import LeaderboardsConfig, leaderboard_problems
from .seasons import Season, season_problems
from .tiers import StatusTier, StatusTiersConfig, status_tier_problems

__all__ = [
    "CODE_ALPHABET",
    "DEFAULT_RATE_LIMITS",
    "RARITY_XP",
    "AchievementsConfig",
    "Config",
    "CurrencyConfig",
    "IdempotencyConfig",
    "LevelReward",
    "LevelsConfig",
    "RateLimit",
    "ReferralTier",
    "ReferralsConfig",
    "SchedulerConfig",
    "StatusTier",
    "StatusTiersConfig",
    "StreaksConfig",
]

from .sections import (
    _NAME,
    CLOCK_TIME,
    CODE_ALPHABET,
    CURVES,
    DEFAULT_RATE_LIMITS,
    MAX_AMOUNT,
    MAX_RATE_LIMIT,
    MAX_RATE_WINDOW,
    RARITY_XP,
    AchievementsConfig,
    CurrencyConfig,
    IdempotencyConfig,
    LevelReward,
    LevelsConfig,
    RateLimit,
    ReferralsConfig,
    ReferralTier,
    SchedulerConfig,
    StreaksConfig,
    _currencies,
    _season_list,
    _strs,
    _with_rate_limit_defaults,
)


@attrs.frozen
class Config(ReadOnlyTables):
    """Everything an engine is configured with. Build it in Python or with ``from_file``.

    ``seasons`` and ``leaderboards.seasons`` are one list under two names: give it in either
    place (or the same list in both) and both read it.
    """

    levels: LevelsConfig = attrs.field(factory=LevelsConfig)
    achievements: AchievementsConfig = attrs.field(factory=AchievementsConfig)
    currencies: tuple[CurrencyConfig, ...] = attrs.field(
        default=(CurrencyConfig("points"),), converter=_currencies
    )
    default_timezone: str = "UTC"
    # The hour (local) a user's day starts: 0 is midnight; 4 keeps a late night in "today".
    day_start_hour: int = 0
    streaks: StreaksConfig = attrs.field(factory=StreaksConfig)
    # Definition sets plugins offer (register_definitions) that this engine loads, by name:
    # installing a catalogue package changes nothing until you choose it here.
    packs: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    durability: Literal["normal", "full"] = "normal"
    # Where WAL checkpoints run: on a thread of their own, or inside the commit that fills
    # the WAL (SQLite's default). See checkpoints.py.
    checkpoint: Literal["background", "inline"] = "background"
    auto_create_profiles: bool = True
    max_xp_multiplier: float = 10.0
    prestige_boost: float = 0.10
    busy_timeout: float = 5.0
    hook_errors: Literal["log", "raise"] = "log"
    cache_size_mb: int = 64
    # Per action: a RateLimit, or None to turn the action's limit off. Give only the actions
    # you add or change; seed 002's three defaults stay unless you override them.
    rate_limits: Mapping[str, RateLimit | None] = attrs.field(
        factory=dict, converter=_with_rate_limit_defaults, repr=mapping_repr
    )
    scheduler: SchedulerConfig = attrs.field(factory=SchedulerConfig)
    leaderboards: LeaderboardsConfig = attrs.field(factory=LeaderboardsConfig)
    referrals: ReferralsConfig = attrs.field(factory=ReferralsConfig)
    # Seasons for season boards and the battle pass; the same list as leaderboards.seasons.
    seasons: tuple[Season, ...] = attrs.field(default=(), converter=_season_list)
    # Status tiers by what a user earned in a rolling window (none: off).
    tiers: StatusTiersConfig = attrs.field(factory=StatusTiersConfig)
    # How long idempotency keys replay before the expire_keys job forgets them (None: forever).
    idempotency: IdempotencyConfig = attrs.field(factory=IdempotencyConfig)

    def __attrs_post_init__(self) -> None:
        field, clash = self._share_seasons()
        problems = _problems(self, field)
        if clash:
            problems.append(
                "seasons: differs from leaderboards.seasons; they are one list, give it once"
            )
        if problems:
            raise ConfigError(problems)

    def _share_seasons(self) -> tuple[str, bool]:
        """Make ``seasons`` and ``leaderboards.seasons`` the same list; returns the field to
        name in problems and whether two different lists were given."""
        boards = self.leaderboards
        if not isinstance(boards, LeaderboardsConfig):
            return "seasons", False
        if self.seasons and not boards.seasons:
            object.__setattr__(self, "leaderboards", attrs.evolve(boards, seasons=self.seasons))
            return "seasons", False
        if boards.seasons and not self.seasons:
            object.__setattr__(self, "seasons", boards.seasons)
            return "leaderboards.seasons", False
        return "seasons", self.seasons != boards.seasons

    @property
    def battle_pass_seasons(self) -> tuple[Season, ...]:
        """The seasons that run a battle pass (they have tier rewards), by start."""
        return tuple(sorted((s for s in self.seasons if s.battle_pass), key=lambda s: s.starts_at))

    @property
    def currency_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.currencies)

    def currency(self, name: str) -> CurrencyConfig | None:
        for currency in self.currencies:
            if currency.name == name:
                return currency
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Config:
        """Load from a dict shaped like the TOML file; raises ``ConfigError`` with every fault."""
        return structure(data, cls, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> Config:
        """Load a ``.toml`` or ``.json`` file; raises ``ConfigError`` with every fault."""
        return cls.from_dict(load_mapping(path), source=str(path))

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = converter.unstructure(self)
        return result


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _check_points(path: str, points: Mapping[str, int], currencies: set[str]) -> list[str]:
    problems = []
    for name, amount in points.items():
        if name not in currencies:
            problems.append(f"{path}['{name}']: unknown currency; configure it in currencies")
        if not _is_int(amount) or not 0 < amount <= MAX_AMOUNT:
            problems.append(f"{path}['{name}']: expected an int from 1 to 2**53, got {amount!r}")
    return problems


def _level_problems(levels: LevelsConfig, currencies: set[str]) -> list[str]:
    p: list[str] = []
    if levels.curve not in CURVES:
        p.append(f"levels.curve: expected one of {', '.join(CURVES)}, got {levels.curve!r}")
    if not _is_int(levels.max_level) or not 1 <= levels.max_level <= 10_000:
        p.append(f"levels.max_level: expected an int from 1 to 10000, got {levels.max_level!r}")
    if not _is_int(levels.base) or levels.base <= 0:
        p.append(f"levels.base: expected a positive int, got {levels.base!r}")
    if not _is_number(levels.growth) or levels.growth < 1:
        p.append(f"levels.growth: expected a number >= 1, got {levels.growth!r}")
    if levels.curve == "table":
        table = levels.table
        if not table or table[0] != 0:
            p.append("levels.table: must start with 0 (the XP for level 1)")
        if any(not _is_int(x) for x in table):
            p.append("levels.table: expected a list of ints")
        elif any(b <= a for a, b in pairwise(table)):
            p.append("levels.table: thresholds must strictly increase")
        if _is_int(levels.max_level) and len(table) < levels.max_level:
            p.append(
                f"levels.table: has {len(table)} thresholds but max_level is "
                f"{levels.max_level}; give one per level"
            )
    if levels.curve == "custom" and not levels.custom:
        p.append("levels.custom: name the plugin curve to use when curve is custom")
    seen: set[int] = set()
    for i, reward in enumerate(levels.rewards):
        where = f"levels.rewards[{i}]"
        if not isinstance(reward, LevelReward):
            p.append(f"{where}: expected a LevelReward")
            continue
        if not _is_int(reward.level) or reward.level < 2:
            p.append(f"{where}.level: expected an int >= 2, got {reward.level!r}")
        elif _is_int(levels.max_level) and reward.level > levels.max_level:
            p.append(f"{where}.level: {reward.level} is above max_level {levels.max_level}")
        elif reward.level in seen:
            p.append(f"{where}.level: level {reward.level} has two rewards")
        else:
            seen.add(reward.level)
        p.extend(_check_points(f"{where}.points", reward.points, currencies))
        for j, title in enumerate(reward.titles):
            if not isinstance(title, str) or not title.strip() or len(title) > 100:
                p.append(f"{where}.titles[{j}]: expected a title of 1-100 characters")
    p.extend(_check_points("levels.level_up_bonus", levels.level_up_bonus, currencies))
    return p


# A century: longer is "forever", which None says; the cut-off stays a valid datetime.
MAX_KEEP_DAYS = 36_500
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _expiry_problems(where: str, currency: CurrencyConfig) -> list[str]:
    p: list[str] = []
    days, on = currency.expire_after_days, currency.expire_on
    if days is not None and (not _is_int(days) or not 1 <= days <= 36_500):
        p.append(
            f"{where}.expire_after_days: expected an int from 1 to 36500 or null, got {days!r}"
        )
    if on is not None:
        match = _MONTH_DAY.match(on) if isinstance(on, str) else None
        # 02-29 would expire some years' points almost four years late: refused.
        if match is None or int(match[2]) > _MONTH_DAYS[int(match[1]) - 1]:
            p.append(f"{where}.expire_on: expected a day of every year 'MM-DD' or null, got {on!r}")
    if days is not None and on is not None:
        p.append(f"{where}.expire_on: set expire_after_days or expire_on, not both")
    zone = currency.expire_timezone
    if zone is not None and not is_zone(zone):
        p.append(f"{where}.expire_timezone: {zone!r} is not an IANA time zone")
    notice = currency.expiry_notice_days
    if notice is not None and (not _is_int(notice) or not 1 <= notice <= 365):
        p.append(
            f"{where}.expiry_notice_days: expected an int from 1 to 365 or null, got {notice!r}"
        )
    if (notice is not None or zone is not None) and not currency.expires:
        p.append(
            f"{where}: expiry_notice_days and expire_timezone need expire_after_days or expire_on"
        )
    return p


def _problems(config: Config, seasons_field: str = "seasons") -> list[str]:
    p: list[str] = []
    names: list[str] = []
    spendable: dict[str, bool] = {}
    for i, currency in enumerate(config.currencies):
        if not isinstance(currency, CurrencyConfig):
            p.append(f"currencies[{i}]: expected a CurrencyConfig")
            continue
        if not isinstance(currency.name, str) or not _NAME.match(currency.name):
            p.append(
                f"currencies[{i}].name: expected a lowercase identifier "
                f"(a-z, 0-9, _; up to 32), got {currency.name!r}"
            )
        elif currency.name in names:
            p.append(f"currencies[{i}].name: {currency.name!r} is configured twice")
        names.append(currency.name)
        if isinstance(currency.name, str):
            spendable.setdefault(currency.name, currency.spendable is True)
        if currency.max_award is not None and (
            not _is_int(currency.max_award) or currency.max_award <= 0
        ):
            p.append(f"currencies[{i}].max_award: expected a positive int or null")
        if type(currency.spendable) is not bool:
            p.append(f"currencies[{i}].spendable: expected bool")
        p.extend(_expiry_problems(f"currencies[{i}]", currency))
    if not config.currencies:
        p.append("currencies: configure at least one currency")
    if isinstance(config.levels, LevelsConfig):
        p.extend(_level_problems(config.levels, set(names)))
    else:
        p.append("levels: expected a LevelsConfig")
    if not is_zone(config.default_timezone):
        p.append(f"default_timezone: {config.default_timezone!r} is not an IANA time zone")
    if not _is_int(config.day_start_hour) or not 0 <= config.day_start_hour <= 23:
        p.append(f"day_start_hour: expected an int from 0 to 23, got {config.day_start_hour!r}")
    p.extend(_achievement_problems(config.achievements))
    p.extend(_streak_problems(config.streaks))
    for i, pack in enumerate(config.packs):
        if not isinstance(pack, str) or not pack.strip():
            p.append(f"packs[{i}]: expected a pack name")
    if config.durability not in ("normal", "full"):
        p.append(f"durability: expected one of normal, full, got {config.durability!r}")
    if config.checkpoint not in ("background", "inline"):
        p.append(f"checkpoint: expected one of background, inline, got {config.checkpoint!r}")
    if config.hook_errors not in ("log", "raise"):
        p.append(f"hook_errors: expected one of log, raise, got {config.hook_errors!r}")
    if type(config.auto_create_profiles) is not bool:
        p.append("auto_create_profiles: expected bool")
    if not _is_number(config.max_xp_multiplier) or config.max_xp_multiplier < 1:
        p.append(f"max_xp_multiplier: expected a number >= 1, got {config.max_xp_multiplier!r}")
    if not _is_number(config.prestige_boost) or config.prestige_boost < 0:
        p.append(f"prestige_boost: expected a number >= 0, got {config.prestige_boost!r}")
    # SQLite takes both as 32-bit ints (milliseconds, KiB): a day and a terabyte are far past
    # any real need and far below where they would overflow.
    if not _is_number(config.busy_timeout) or not 0 <= config.busy_timeout <= 86_400:
        p.append(f"busy_timeout: expected seconds from 0 to 86400, got {config.busy_timeout!r:.50}")
    if not _is_int(config.cache_size_mb) or not 1 <= config.cache_size_mb <= 1_000_000:
        p.append(
            f"cache_size_mb: expected an int from 1 to 1000000, got {config.cache_size_mb!r:.50}"
        )
    p.extend(_rate_limit_problems(config.rate_limits))
    if isinstance(config.scheduler, SchedulerConfig):
        p.extend(_scheduler_problems(config.scheduler))
    else:
        p.append("scheduler: expected a SchedulerConfig")
    p.extend(leaderboard_problems(config.leaderboards, set(names)))
    p.extend(season_problems(config.seasons, seasons_field, spendable))
    if isinstance(config.referrals, ReferralsConfig):
        p.extend(_referral_problems(config.referrals, names))
    else:
        p.append("referrals: expected a ReferralsConfig")
    p.extend(status_tier_problems(config.tiers, set(names)))
    p.extend(_idempotency_problems(config.idempotency))
    return p


def _idempotency_problems(config: IdempotencyConfig) -> list[str]:
    if not isinstance(config, IdempotencyConfig):
        return ["idempotency: expected an IdempotencyConfig"]
    days = config.keep_days
    if days is not None and (not _is_int(days) or not 1 <= days <= MAX_KEEP_DAYS):
        return [
            f"idempotency.keep_days: expected an int from 1 to {MAX_KEEP_DAYS} or null "
            f"(keep forever), got {days!r:.50}"
        ]
    return []


def _rate_limit_problems(limits: Mapping[str, RateLimit | None]) -> list[str]:
    p: list[str] = []
    for action, limit in limits.items():
        where = f"rate_limits['{action}']"
        if not isinstance(action, str) or not _NAME.match(action):
            p.append(
                f"{where}: expected an action name that is a lowercase identifier "
                f"(a-z, 0-9, _; up to 32)"
            )
        if limit is None:
            continue
        if not isinstance(limit, RateLimit):
            p.append(f"{where}: expected a RateLimit, or None to turn the limit off")
            continue
        if not _is_int(limit.max) or not 1 <= limit.max <= MAX_RATE_LIMIT:
            p.append(
                f"{where}.max: expected an int from 1 to {MAX_RATE_LIMIT}, got {limit.max!r}"
                " (turn a limit off with None, or false in TOML)"
            )
        if not _is_int(limit.seconds) or not 1 <= limit.seconds <= MAX_RATE_WINDOW:
            p.append(
                f"{where}.seconds: expected an int from 1 to {MAX_RATE_WINDOW} (366 days), "
                f"got {limit.seconds!r}"
            )
    return p


def _scheduler_problems(config: SchedulerConfig) -> list[str]:
    p: list[str] = []
    tick, lease = config.tick_seconds, config.lease_seconds
    if not _is_number(tick) or not 0 < tick <= 86_400:
        p.append(f"scheduler.tick_seconds: expected seconds over 0, at most 86400, got {tick!r}")
    if not _is_number(lease) or lease <= 0:
        p.append(f"scheduler.lease_seconds: expected seconds over 0, got {lease!r}")
    elif _is_number(tick) and lease <= tick:
        p.append(f"scheduler.lease_seconds: must be longer than tick_seconds ({tick}), got {lease}")
    for name in (
        "streak_sweep_minutes",
        "quest_rollover_minutes",
        "reservation_expiry_minutes",
        "leaderboard_close_minutes",
        "battle_pass_close_minutes",
        "points_expiry_minutes",
        "tier_requalify_minutes",
        "key_expiry_minutes",
    ):
        minutes = getattr(config, name)
        if minutes is not None and (not _is_int(minutes) or not 1 <= minutes <= 1440):
            p.append(f"scheduler.{name}: expected an int from 1 to 1440 or null, got {minutes!r}")
    at = config.ledger_audit_at
    if at is not None and (not isinstance(at, str) or not CLOCK_TIME.match(at)):
        p.append(f"scheduler.ledger_audit_at: expected a local time 'HH:MM' or null, got {at!r}")
    zone = config.ledger_audit_timezone
    if zone is not None and not is_zone(zone):
        p.append(f"scheduler.ledger_audit_timezone: {zone!r} is not an IANA time zone")
    if not _is_int(config.history_days) or config.history_days < 1:
        p.append(f"scheduler.history_days: expected a positive int, got {config.history_days!r}")
    return p


def _achievement_problems(config: AchievementsConfig) -> list[str]:
    p: list[str] = []
    rarities = tuple(RARITY_XP)
    for name, table in (
        ("rarity_xp_multipliers", config.rarity_xp_multipliers),
        ("rarity_points", config.rarity_points),
    ):
        for rarity, value in table.items():
            where = f"achievements.{name}['{rarity}']"
            if rarity not in rarities:
                p.append(f"{where}: unknown rarity; expected one of {', '.join(rarities)}")
            elif name == "rarity_points":
                if not _is_int(value) or value < 0:
                    p.append(f"{where}: expected an int >= 0, got {value!r}")
            elif not _is_number(value) or value <= 0:
                p.append(f"{where}: expected a number > 0, got {value!r}")
    return p


def _streak_problems(config: StreaksConfig) -> list[str]:
    if not isinstance(config, StreaksConfig):
        return ["streaks: expected a StreaksConfig"]
    p: list[str] = []
    for name, low, high in (
        ("bonus_xp_per_day", 0, MAX_AMOUNT),
        ("bonus_xp_cap", 0, MAX_AMOUNT),
        ("freeze_every", 0, 3660),
        ("max_earned_freezes", 0, 1000),
        ("rest_days_per_week", 0, 7),
        ("at_risk_hours", 0, 23),
    ):
        value = getattr(config, name)
        if not _is_int(value) or not low <= value <= high:
            p.append(f"streaks.{name}: expected an int from {low} to {high}, got {value!r}")
    for i, event in enumerate(config.activity_events or ()):
        if not isinstance(event, str) or not event.strip() or len(event) > 100:
            p.append(f"streaks.activity_events[{i}]: expected an event name, got {event!r}")
    return p


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_CODE_TEXT = re.compile(r"^[A-Za-z0-9_-]*$")
_CODE_CHARS = re.compile(r"^[A-Z0-9]+$")


def _code_format_problems(fmt: object) -> list[str]:
    where = "referrals.code_format"
    if not isinstance(fmt, str):
        return [f"{where}: expected str, got {fmt!r}"]
    p: list[str] = []
    tokens = _PLACEHOLDER.findall(fmt)
    unknown = sorted({t for t in tokens if t not in ("{name}", "{random}")})
    if unknown:
        p.append(f"{where}: unknown placeholder(s) {', '.join(unknown)}; use {{name}}, {{random}}")
    if tokens.count("{random}") != 1:
        p.append(f"{where}: must hold {{random}} exactly once, got {fmt!r}")
    if tokens.count("{name}") > 1:
        p.append(f"{where}: may hold {{name}} at most once, got {fmt!r}")
    literal = _PLACEHOLDER.sub("", fmt)
    if not _CODE_TEXT.match(literal) or len(literal) > 20:
        p.append(
            f"{where}: text outside placeholders must be at most 20 of A-Z, 0-9, '-', '_', "
            f"got {fmt!r}"
        )
    return p


def _referral_problems(config: ReferralsConfig, currencies: list[str]) -> list[str]:
    p = _code_format_problems(config.code_format)
    if not _is_int(config.code_length) or not 4 <= config.code_length <= 16:
        p.append(f"referrals.code_length: expected an int from 4 to 16, got {config.code_length!r}")
    alphabet = config.code_alphabet
    if (
        not isinstance(alphabet, str)
        or not _CODE_CHARS.match(alphabet)
        or len(set(alphabet)) != len(alphabet)
        or len(alphabet) < 16
    ):
        p.append(
            "referrals.code_alphabet: expected at least 16 distinct characters of A-Z and 0-9, "
            f"got {alphabet!r}"
        )
    name = config.default_name
    if not isinstance(name, str) or not _CODE_CHARS.match(name) or len(name) > 12:
        p.append(f"referrals.default_name: expected 1-12 of A-Z and 0-9, got {name!r}")
    if config.currency is not None and config.currency not in currencies:
        p.append(
            f"referrals.currency: unknown currency {config.currency!r}; configure it in "
            "currencies (or leave it unset for the first one)"
        )
    for field in ("referrer_reward", "referred_reward", "conversion_reward"):
        value = getattr(config, field)
        if not _is_int(value) or not 0 <= value <= MAX_AMOUNT:
            p.append(f"referrals.{field}: expected an int from 0 to 2**53, got {value!r}")
    for field in (
        "reject_self_referral", "reject_same_ip", "reject_seen_device", "reject_referred_twice",
        "reject_referral_cycle", "reject_existing_user",
    ):  # fmt: skip
        if type(getattr(config, field)) is not bool:
            p.append(f"referrals.{field}: expected bool")
    per_ip = config.max_referrals_per_ip
    if not _is_int(per_ip) or not 0 <= per_ip <= 1_000_000:
        p.append(
            f"referrals.max_referrals_per_ip: expected an int from 0 (off) to 1000000, "
            f"got {per_ip!r}"
        )
    days = config.ip_window_days
    if not _is_int(days) or not 1 <= days <= 366:
        p.append(f"referrals.ip_window_days: expected an int from 1 to 366, got {days!r}")
    p.extend(_tier_problems(config.milestones))
    return p


def _tier_problems(tiers: tuple[ReferralTier, ...]) -> list[str]:
    p: list[str] = []
    keys: set[str] = set()
    thresholds: set[int] = set()
    for i, tier in enumerate(tiers):
        where = f"referrals.milestones[{i}]"
        if not isinstance(tier, ReferralTier):
            p.append(f"{where}: expected a ReferralTier")
            continue
        if not isinstance(tier.tier, str) or not _NAME.match(tier.tier):
            p.append(f"{where}.tier: expected a lowercase identifier, got {tier.tier!r}")
        elif tier.tier in keys:
            p.append(f"{where}.tier: {tier.tier!r} is configured twice")
        else:
            keys.add(tier.tier)
        if not isinstance(tier.name, str) or not tier.name.strip() or len(tier.name) > 100:
            p.append(f"{where}.name: expected a name of 1-100 characters")
        if not _is_int(tier.referrals) or not 1 <= tier.referrals <= 1_000_000:
            p.append(
                f"{where}.referrals: expected an int from 1 to 1000000, got {tier.referrals!r}"
            )
        elif tier.referrals in thresholds:
            p.append(f"{where}.referrals: two tiers need {tier.referrals} referrals")
        else:
            thresholds.add(tier.referrals)
        if not _is_int(tier.points) or not 0 <= tier.points <= MAX_AMOUNT:
            p.append(f"{where}.points: expected an int from 0 to 2**53, got {tier.points!r}")
        title = tier.title
        if title is not None and (
            not isinstance(title, str) or not title.strip() or len(title) > 100
        ):
            p.append(f"{where}.title: expected a title of 1-100 characters or null")
    return p
