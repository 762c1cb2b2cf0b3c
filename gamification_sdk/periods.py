"""Leaderboard periods: the key and bounds of the day, week, month or season holding a moment.

Keys read the way people write them: ``2026-11-21``, ``2026-W47``, ``2026-11``, ``all``, or
the season's key. A week that starts on another day than Monday is named after the ISO week
of the Monday inside it, so every seven-day window has exactly one name.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from .leaderboard_config import WEEKDAYS, Season
from .metrics import zone

__all__ = ["ALL_TIME", "BoardPeriod", "Calendar", "check_key"]

ALL_TIME = "all"
_FORMATS = {
    "daily": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "weekly": re.compile(r"^\d{4}-W\d{2}$"),
    "monthly": re.compile(r"^\d{4}-\d{2}$"),
    "all_time": re.compile(r"^all$"),
}


class BoardPeriod(NamedTuple):
    period: str
    key: str
    starts_at: datetime | None
    ends_at: datetime | None


def check_key(period: str, key: str) -> bool:
    """Whether ``key`` is shaped like a key of ``period`` (seasons: any season key)."""
    pattern = _FORMATS.get(period)
    return pattern is None or bool(pattern.match(key))


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
        return f"{year}-W{week:02d}"

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
                f"{day.year}-{day.month:02d}",
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
