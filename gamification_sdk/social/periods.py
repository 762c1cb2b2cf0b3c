"""Leaderboard periods: the key and bounds of the day, week, month or season holding a moment.

Keys read the way people write them: ``2026-11-21``, ``2026-W47``, ``2026-11``, ``all``, or
the season's key. A week that starts on another day than Monday is named after the ISO week
of the Monday inside it, so every seven-day window has exactly one name.
"""

from __future__ import annotations

import re
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, timedelta
from typing import NamedTuple

from ..config.leaderboards import WEEKDAYS, Season
from ..progression.metrics import zone

__all__ = ["ALL_TIME", "BoardPeriod", "Calendar", "day_in", "key_problem"]

ALL_TIME = "all"
# ASCII digits only: ``\d`` would take other scripts' digits, and ``$`` a trailing newline,
# and either would let a key through that names no stored period.
_FORMATS = {
    "daily": (re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"), "YYYY-MM-DD, such as 2026-11-21"),
    "weekly": (re.compile(r"([0-9]{4})-W([0-9]{2})"), "YYYY-Www, such as 2026-W47"),
    "monthly": (re.compile(r"([0-9]{4})-([0-9]{2})"), "YYYY-MM, such as 2026-11"),
}


class BoardPeriod(NamedTuple):
    period: str
    key: str
    starts_at: datetime | None
    ends_at: datetime | None


def day_in(period: str, key: str) -> date:
    """A day inside the daily, weekly or monthly period named ``key``: the day itself, the
    Monday a week is named for, the first of the month. ``ValueError`` says why no period
    has that name: the shape, or a day, week or month that does not exist."""
    found = _FORMATS.get(period)
    if found is None:
        raise ValueError(f"{period} periods are not named by a date")
    pattern, shape = found
    match = pattern.fullmatch(key)
    if match is None:
        raise ValueError(f"a {period} key reads {shape}, got {key!r:.50}")
    year, number = int(match[1]), int(match[2])
    if not MINYEAR <= year <= MAXYEAR:
        raise ValueError(f"{key!r}: year {year} is out of range")
    if period == "weekly":
        # 28 December is always in the last ISO week of its year: 52 or 53.
        weeks = date(year, 12, 28).isocalendar().week
        if not 1 <= number <= weeks:
            raise ValueError(f"{key!r}: {year} has ISO weeks 1 to {weeks}, not {number}")
        return date.fromisocalendar(year, number, 1)
    if not 1 <= number <= 12:
        raise ValueError(f"{key!r}: month {number} is not in 1 to 12")
    if period == "monthly":
        return date(year, number, 1)
    try:
        return date(year, number, int(match[3]))
    except ValueError as error:
        raise ValueError(f"{key!r} is not a date: {error}") from None


def key_problem(period: str, key: object) -> str | None:
    """Why ``key`` names no period of kind ``period`` (None if it could name one). Season
    keys are whatever seasons are configured: the caller checks those."""
    if not isinstance(key, str):
        return f"expected a {period} key (a string), got {key!r:.50}"
    if period == "all_time":
        return None if key == ALL_TIME else f"the all_time key is {ALL_TIME!r}, got {key!r:.50}"
    if period not in _FORMATS:
        return None
    try:
        day_in(period, key)
    except ValueError as error:
        return str(error)
    return None


class Calendar:
    """Periods in one time zone, with weeks starting on ``week_start``."""

    def __init__(self, timezone: str, week_start: str, seasons: tuple[Season, ...]) -> None:
        self.timezone = timezone
        self._zone = zone(timezone)
        self._week_start = WEEKDAYS.index(week_start)
        self._seasons = tuple(sorted(seasons, key=lambda s: s.starts_at))
        # The last local day looked up: (first instant, first instant after, its periods).
        self._day: tuple[datetime, datetime, dict[str, BoardPeriod]] | None = None

    def _midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self._zone).astimezone(UTC)

    def _week_start_of(self, day: date) -> date:
        return day - timedelta(days=(day.weekday() - self._week_start) % 7)

    def week_key(self, day: date) -> str:
        start = self._week_start_of(day)
        monday = start + timedelta(days=(-self._week_start) % 7)
        year, week, _ = monday.isocalendar()
        # Four-digit years, as date.isoformat() writes them: one spelling per period.
        return f"{year:04d}-W{week:02d}"

    def _periods_of_day(self, day: date) -> dict[str, BoardPeriod]:
        week = self._week_start_of(day)
        month = day.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        return {
            "all_time": BoardPeriod("all_time", ALL_TIME, None, None),
            "daily": BoardPeriod(
                "daily",
                day.isoformat(),
                self._midnight(day),
                self._midnight(day + timedelta(days=1)),
            ),
            "weekly": BoardPeriod(
                "weekly",
                self.week_key(day),
                self._midnight(week),
                self._midnight(week + timedelta(days=7)),
            ),
            "monthly": BoardPeriod(
                "monthly",
                f"{day.year:04d}-{day.month:02d}",
                self._midnight(month),
                self._midnight(next_month),
            ),
        }

    def at(self, moment: datetime) -> dict[str, BoardPeriod]:
        """Every period holding ``moment`` (a season only while one is active)."""
        cached = self._day
        if cached is None or not cached[0] <= moment < cached[1]:
            day = moment.astimezone(self._zone).date()
            periods = self._periods_of_day(day)
            daily = periods["daily"]
            assert daily.starts_at is not None and daily.ends_at is not None
            cached = self._day = (daily.starts_at, daily.ends_at, periods)
        periods = cached[2]
        season = self.season_at(moment)
        if season is None:
            return periods
        bounds = BoardPeriod("season", season.key, season.starts_at, season.ends_at)
        return {**periods, "season": bounds}

    def season_at(self, moment: datetime) -> Season | None:
        for season in self._seasons:
            if season.starts_at <= moment < season.ends_at:
                return season
        return None

    def season_before(self, key: str) -> Season | None:
        previous = None
        for season in self._seasons:
            if season.key == key:
                return previous
            previous = season
        return None

    def season(self, key: str) -> Season | None:
        for season in self._seasons:
            if season.key == key:
                return season
        return None
