"""Leaderboard configuration: which boards exist, their periods, privacy defaults.

``Season`` lives in ``seasons`` (the battle pass reads the same list) and is re-exported here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ..core.readonly import ReadOnlyTables, mapping_repr, read_only
from .seasons import Season

__all__ = ["BoardConfig", "LeaderboardsConfig", "RankReward", "Season"]

Source = Literal["xp", "points", "achievements", "achievement_points", "metric", "custom"]
SOURCES = ("xp", "points", "achievements", "achievement_points", "metric", "custom")
PERIODS = ("all_time", "daily", "weekly", "monthly", "season")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
VISIBILITIES = ("public", "friends_only", "private")
NAME_STYLES = ("real_name", "username", "anonymous")
_KEY = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _ints(value: Iterable[int] | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(value)


def _points(value: Mapping[str, int] | None) -> Mapping[str, int]:
    return read_only(value)


def _rewards(value: Iterable[RankReward]) -> tuple[RankReward, ...]:
    return tuple(value)


def _boards(value: Iterable[BoardConfig]) -> tuple[BoardConfig, ...]:
    return tuple(value)


def _seasons(value: Iterable[Season]) -> tuple[Season, ...]:
    return tuple(value)


@attrs.frozen
class RankReward(ReadOnlyTables):
    """What a closed period pays by final rank, once: ranks ``[first, last]`` or the best
    ``top_percent`` of the ranked users (by rank, so ties share). ``periods`` limits it to
    some period kinds (default: every kind that closes)."""

    ranks: tuple[int, ...] | None = attrs.field(default=None, converter=_ints)
    top_percent: float | None = None
    points: Mapping[str, int] = attrs.field(factory=dict, converter=_points, repr=mapping_repr)
    title: str | None = None
    items: Mapping[str, int] = attrs.field(factory=dict, converter=_points, repr=mapping_repr)
    periods: tuple[str, ...] = attrs.field(default=(), converter=_strs)


@attrs.frozen
class BoardConfig:
    """One leaderboard: what it scores, over which periods, in which time zone.

    ``source``: ``xp``; ``points`` (points of ``currency`` issued to the user: awards,
    bonuses and rewards, not gifts or admin corrections); ``achievements`` (unlocks);
    ``achievement_points``; ``metric`` (the ``count`` or ``sum`` of the tracked event
    ``metric``); ``custom`` (a plugin's scorer named ``scorer``, see ``register_scorers``).
    """

    key: str
    source: Source = "xp"
    currency: str | None = None
    metric: str | None = None
    aggregate: Literal["count", "sum"] = "sum"
    scorer: str | None = None
    periods: tuple[str, ...] = attrs.field(
        default=("all_time", "daily", "weekly", "monthly"), converter=_strs
    )
    timezone: str | None = None
    name: str | None = None
    rewards: tuple[RankReward, ...] = attrs.field(default=(), converter=_rewards)

    @property
    def source_key(self) -> str:
        """The name of the score stream the board follows (``points:coins``, ``metric:sum:run``)."""
        if self.source == "points":
            return f"points:{self.currency}"
        if self.source == "metric":
            return f"metric:{self.aggregate}:{self.metric}"
        if self.source == "custom":
            return f"custom:{self.scorer}"
        return self.source


@attrs.frozen
class LeaderboardsConfig:
    """Boards, their period boundaries (``timezone``, ``week_start``) and privacy defaults.

    The privacy defaults are seed 002's: visible to friends only, off global boards, shown
    by username. A user's own settings (``g.social.set_privacy``) override them.
    """

    boards: tuple[BoardConfig, ...] = attrs.field(default=(BoardConfig("xp"),), converter=_boards)
    timezone: str = "UTC"
    week_start: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"
    visibility: Literal["public", "friends_only", "private"] = "friends_only"
    show_on_global: bool = False
    display_name: Literal["real_name", "username", "anonymous"] = "username"
    seasons: tuple[Season, ...] = attrs.field(default=(), converter=_seasons)

    def board(self, key: str) -> BoardConfig | None:
        for board in self.boards:
            if board.key == key:
                return board
        return None


def _zone_ok(name: object) -> bool:
    try:
        ZoneInfo(name)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def _reward_problems(where: str, reward: object, currencies: set[str]) -> list[str]:
    if not isinstance(reward, RankReward):
        return [f"{where}: expected a RankReward"]
    p: list[str] = []
    ranks, top = reward.ranks, reward.top_percent
    if (ranks is None) == (top is None):
        p.append(f"{where}: give exactly one of ranks = [first, last] or top_percent")
    if ranks is not None and (
        len(ranks) != 2 or not all(type(r) is int for r in ranks) or not 1 <= ranks[0] <= ranks[1]
    ):
        p.append(f"{where}.ranks: expected [first, last] with 1 <= first <= last, got {ranks!r}")
    if top is not None and (
        type(top) not in (int, float) or not math.isfinite(top) or not 0 < top <= 100
    ):
        p.append(f"{where}.top_percent: expected a number over 0, at most 100, got {top!r}")
    for name, table in (("points", reward.points), ("items", reward.items)):
        for key, amount in table.items():
            if name == "points" and key not in currencies:
                p.append(f"{where}.points['{key}']: unknown currency; configure it in currencies")
            if type(amount) is not int or not 0 < amount <= 2**53:
                p.append(f"{where}.{name}['{key}']: expected an int from 1 to 2**53")
    if reward.title is not None and (
        not isinstance(reward.title, str) or not reward.title.strip() or len(reward.title) > 100
    ):
        p.append(f"{where}.title: expected a title of 1-100 characters")
    if not (reward.points or reward.items or reward.title):
        p.append(f"{where}: pays nothing; give points, items or a title")
    for period in reward.periods:
        if period not in PERIODS or period == "all_time":
            p.append(
                f"{where}.periods: {period!r} never closes; use daily, weekly, monthly or season"
            )
    return p


def _board_problems(where: str, board: object, currencies: set[str]) -> list[str]:
    if not isinstance(board, BoardConfig):
        return [f"{where}: expected a BoardConfig"]
    p: list[str] = []
    if not isinstance(board.key, str) or not _KEY.match(board.key):
        p.append(f"{where}.key: expected a lowercase key (a-z, 0-9, _, -; up to 64)")
    if board.source not in SOURCES:
        p.append(f"{where}.source: expected one of {', '.join(SOURCES)}, got {board.source!r}")
    if board.source == "points" and board.currency not in currencies:
        p.append(f"{where}.currency: a points board needs a configured currency")
    if board.source == "metric":
        if not isinstance(board.metric, str) or not board.metric.strip():
            p.append(f"{where}.metric: a metric board names the tracked event it follows")
        if board.aggregate not in ("count", "sum"):
            p.append(f"{where}.aggregate: expected count or sum, got {board.aggregate!r}")
    if board.source == "custom" and (not isinstance(board.scorer, str) or not board.scorer):
        p.append(f"{where}.scorer: a custom board names the plugin scorer it follows")
    if not board.periods:
        p.append(f"{where}.periods: give at least one period")
    for period in board.periods:
        if period not in PERIODS:
            p.append(f"{where}.periods: expected some of {', '.join(PERIODS)}, got {period!r}")
    if len(set(board.periods)) != len(board.periods):
        p.append(f"{where}.periods: a period is listed twice")
    if board.timezone is not None and not _zone_ok(board.timezone):
        p.append(f"{where}.timezone: {board.timezone!r} is not an IANA time zone")
    for i, reward in enumerate(board.rewards):
        p.extend(_reward_problems(f"{where}.rewards[{i}]", reward, currencies))
    return p


def leaderboard_problems(config: object, currencies: set[str]) -> list[str]:
    """Every fault in ``Config.leaderboards``, each naming its field. Its ``seasons`` are
    checked with ``Config.seasons`` (the same list), by ``seasons.season_problems``."""
    if not isinstance(config, LeaderboardsConfig):
        return ["leaderboards: expected a LeaderboardsConfig"]
    p: list[str] = []
    keys: set[str] = set()
    for i, board in enumerate(config.boards):
        where = f"leaderboards.boards[{i}]"
        p.extend(_board_problems(where, board, currencies))
        if isinstance(board, BoardConfig):
            if board.key in keys:
                p.append(f"{where}.key: {board.key!r} is configured twice")
            keys.add(board.key)
            if "season" in board.periods and not config.seasons:
                p.append(f"{where}.periods: a season board needs seasons (Config.seasons)")
    if not _zone_ok(config.timezone):
        p.append(f"leaderboards.timezone: {config.timezone!r} is not an IANA time zone")
    for name, value, allowed in (
        ("week_start", config.week_start, WEEKDAYS),
        ("visibility", config.visibility, VISIBILITIES),
        ("display_name", config.display_name, NAME_STYLES),
    ):
        if value not in allowed:
            p.append(f"leaderboards.{name}: expected one of {', '.join(allowed)}, got {value!r}")
    if type(config.show_on_global) is not bool:
        p.append("leaderboards.show_on_global: expected bool")
    return p
