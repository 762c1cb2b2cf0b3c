"""Seasons: one configured list, read by season leaderboards and by the battle pass.

A ``Season`` is a key and ``[starts_at, ends_at)``; at most one is active at a time. The
battle-pass fields (tiers, XP per tier, the free and premium tracks, the premium price)
have seed 002's defaults, and a season runs a battle pass only when it has at least one
tier reward, so a plain leaderboard season stays just that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import pairwise

import attrs

from ..core.readonly import ReadOnlyTables, mapping_repr, read_only
from ..core.validation import EARLIEST, LATEST, in_range

__all__ = ["MAX_TIERS", "TRACKS", "Season", "TierReward", "season_problems"]

TRACKS = ("free", "premium")
MAX_TIERS = 1_000
MAX_XP_PER_TIER = 2**40  # tiers x XP per tier stays below 2**53
MAX_AMOUNT = 2**53
_KEY = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


def _amounts(value: Mapping[str, int] | None) -> Mapping[str, int]:
    return read_only(value)


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _rewards(value: Iterable[TierReward]) -> tuple[TierReward, ...]:
    return tuple(value)


@attrs.frozen
class TierReward(ReadOnlyTables):
    """What reaching ``tier`` pays on one track of a season's battle pass, once per user.

    ``points`` per currency (through the ledger), inventory ``items`` by quantity,
    ``titles``, and ``achievements``: keys of defined achievements, each unlocked (its first
    tier, with that achievement's own rewards) if the user has not unlocked it yet.
    """

    tier: int
    points: Mapping[str, int] = attrs.field(factory=dict, converter=_amounts, repr=mapping_repr)
    items: Mapping[str, int] = attrs.field(factory=dict, converter=_amounts, repr=mapping_repr)
    titles: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    achievements: tuple[str, ...] = attrs.field(default=(), converter=_strs)


@attrs.frozen
class Season:
    """A season ``[starts_at, ends_at)``: boards with a ``season`` period rank within it, and
    with tier rewards it runs a battle pass. One season is active at a time.

    Battle pass (seed 002): XP earned while the season is active fills ``total_tiers`` tiers
    of ``xp_per_tier`` XP each. ``free_rewards`` pay everyone who reaches their tier;
    ``premium_rewards`` pay those who also bought the premium pass for ``premium_price``
    points of ``premium_currency`` (None: the first configured currency).
    """

    key: str
    starts_at: datetime
    ends_at: datetime
    name: str | None = None
    number: int | None = None
    total_tiers: int = 50
    xp_per_tier: int = 500
    free_rewards: tuple[TierReward, ...] = attrs.field(default=(), converter=_rewards)
    premium_rewards: tuple[TierReward, ...] = attrs.field(default=(), converter=_rewards)
    premium_price: int = 30_000
    premium_currency: str | None = None

    @property
    def battle_pass(self) -> bool:
        """Whether the season runs a battle pass: it has at least one tier reward."""
        return bool(self.free_rewards or self.premium_rewards)

    def rewards(self, track: str) -> tuple[TierReward, ...]:
        return self.free_rewards if track == "free" else self.premium_rewards

    def reward(self, track: str, tier: int) -> TierReward | None:
        for reward in self.rewards(track):
            if reward.tier == tier:
                return reward
        return None

    def tier_of(self, xp: int) -> int:
        """The tier ``xp`` season XP reaches (0 until the first ``xp_per_tier``)."""
        return min(self.total_tiers, xp // self.xp_per_tier)


def _is_int(value: object) -> bool:
    return type(value) is int


def _text_ok(value: object, longest: int = 100) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= longest


def _reward_problems(
    where: str, reward: object, total_tiers: object, currencies: Mapping[str, bool]
) -> list[str]:
    if not isinstance(reward, TierReward):
        return [f"{where}: expected a TierReward"]
    p: list[str] = []
    if not _is_int(reward.tier) or reward.tier < 1:
        p.append(f"{where}.tier: expected an int >= 1, got {reward.tier!r}")
    elif _is_int(total_tiers) and 1 <= total_tiers < reward.tier:  # type: ignore[operator]
        p.append(f"{where}.tier: {reward.tier} is above total_tiers {total_tiers}")
    for currency, amount in reward.points.items():
        if currency not in currencies:
            p.append(f"{where}.points['{currency}']: unknown currency; configure it in currencies")
        if not _is_int(amount) or not 0 < amount <= MAX_AMOUNT:
            p.append(f"{where}.points['{currency}']: expected an int from 1 to 2**53")
    for item, quantity in reward.items.items():
        if not _text_ok(item):
            p.append(f"{where}.items: expected item names of 1-100 characters, got {item!r}")
        if not _is_int(quantity) or not 0 < quantity <= 1_000_000:
            p.append(f"{where}.items['{item}']: expected an int from 1 to 1000000")
    for i, title in enumerate(reward.titles):
        if not _text_ok(title):
            p.append(f"{where}.titles[{i}]: expected a title of 1-100 characters")
    for i, key in enumerate(reward.achievements):
        if not _text_ok(key):
            p.append(f"{where}.achievements[{i}]: expected an achievement key")
    if not (reward.points or reward.items or reward.titles or reward.achievements):
        p.append(f"{where}: pays nothing; give points, items, titles or achievements")
    return p


def _pass_problems(where: str, season: Season, currencies: Mapping[str, bool]) -> list[str]:
    p: list[str] = []
    tiers = season.total_tiers
    if not _is_int(tiers) or not 1 <= tiers <= MAX_TIERS:
        p.append(f"{where}.total_tiers: expected an int from 1 to {MAX_TIERS}, got {tiers!r}")
    per = season.xp_per_tier
    if not _is_int(per) or not 1 <= per <= MAX_XP_PER_TIER:
        p.append(f"{where}.xp_per_tier: expected an int from 1 to 2**40, got {per!r}")
    for track in TRACKS:
        field = f"{track}_rewards"
        seen: set[int] = set()
        for i, reward in enumerate(season.rewards(track)):
            p.extend(_reward_problems(f"{where}.{field}[{i}]", reward, tiers, currencies))
            if isinstance(reward, TierReward) and _is_int(reward.tier):
                if reward.tier in seen:
                    p.append(f"{where}.{field}[{i}].tier: tier {reward.tier} has two rewards")
                seen.add(reward.tier)
    price = season.premium_price
    if not _is_int(price) or not 1 <= price <= MAX_AMOUNT:
        p.append(f"{where}.premium_price: expected an int from 1 to 2**53, got {price!r}")
    currency = season.premium_currency
    if currency is not None and currency not in currencies:
        p.append(
            f"{where}.premium_currency: unknown currency {currency!r}; configure it in "
            "currencies (or leave it unset for the first one)"
        )
    elif currency is not None and not currencies[currency]:
        p.append(f"{where}.premium_currency: {currency!r} is not spendable")
    elif currency is None and season.battle_pass and not next(iter(currencies.values()), True):
        p.append(f"{where}.premium_currency: the first currency is not spendable; name one")
    return p


def season_problems(
    seasons: tuple[Season, ...], field: str, currencies: Mapping[str, bool]
) -> list[str]:
    """Every fault in the configured seasons, each named from ``field`` (``seasons`` or
    ``leaderboards.seasons``). ``currencies`` maps each configured currency to whether it
    is spendable, in configured order."""
    p: list[str] = []
    keys: set[str] = set()
    numbers: set[int] = set()
    spans: list[tuple[datetime, datetime, int]] = []
    for i, season in enumerate(seasons):
        where = f"{field}[{i}]"
        if not isinstance(season, Season):
            p.append(f"{where}: expected a Season")
            continue
        if not isinstance(season.key, str) or not _KEY.match(season.key):
            p.append(f"{where}.key: expected a lowercase key (a-z, 0-9, _, -; up to 64)")
        elif season.key in keys:
            p.append(f"{where}.key: {season.key!r} is configured twice")
        keys.add(season.key)
        if season.name is not None and not _text_ok(season.name):
            p.append(f"{where}.name: expected a name of 1-100 characters or null")
        if season.number is not None:
            if not _is_int(season.number) or season.number < 1:
                p.append(f"{where}.number: expected an int >= 1 or null, got {season.number!r}")
            elif season.number in numbers:
                p.append(f"{where}.number: season number {season.number} is configured twice")
            else:
                numbers.add(season.number)
        bounds = (season.starts_at, season.ends_at)
        if not all(isinstance(b, datetime) and b.utcoffset() is not None for b in bounds):
            p.append(f"{where}: starts_at and ends_at must be aware datetimes")
        elif not all(in_range(b) for b in bounds):
            p.append(
                f"{where}: starts_at and ends_at must lie from {EARLIEST:%Y-%m-%d} to "
                f"{LATEST:%Y-%m-%d} UTC"
            )
        elif season.ends_at <= season.starts_at:
            p.append(f"{where}.ends_at: must be after starts_at")
        else:
            spans.append((season.starts_at, season.ends_at, i))
        p.extend(_pass_problems(where, season, currencies))
    spans.sort()
    for (_, end, i), (start, _, j) in pairwise(spans):
        if start < end:
            p.append(f"{field}[{j}]: overlaps {field}[{i}]; one season is active at a time")
    return p
