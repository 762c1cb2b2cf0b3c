"""Where the engine gets the time from: a callable returning an aware datetime."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "FakeClock", "system_clock", "to_text"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(UTC)


_MINUTE = timedelta(minutes=1)
_SECONDS = tuple(f"{second:02d}." for second in range(60))
# The minutes of the last few moments written out: (its start, its end, its text up to the
# seconds) each, newest first. ``isoformat`` formats each field through C's printf, about
# 14,000 instructions (a twentieth of a keyed award_xp); the moments of a busy engine mostly
# share a minute, and the rest of the text is two small integers. A few, because one write
# often stores moments a minute or an hour apart (a hold and its expiry, a rate limit's
# window start): with one cached minute, they evicted each other on every call. One tuple,
# replaced whole: safe across threads.
_KEPT = 4
_last_minutes: list[tuple[tuple[datetime, datetime, str], ...]] = [()]


def to_text(moment: datetime) -> str:
    """Store times as fixed-width UTC ISO-8601 text, so text order is time order."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # A subclass (pandas, freezegun) may write itself out differently: its own isoformat.
    if type(moment) is not datetime:
        return moment.isoformat(timespec="microseconds")
    kept = _last_minutes[0]
    for cached in kept:
        if cached[0] <= moment < cached[1]:
            break
    else:
        start = moment.replace(second=0, microsecond=0)
        try:
            end = start + _MINUTE
        except OverflowError:  # the last minute of year 9999
            return moment.isoformat(timespec="microseconds")
        cached = (start, end, start.isoformat()[:17])
        _last_minutes[0] = (cached, *kept[: _KEPT - 1])
    return f"{cached[2]}{_SECONDS[moment.second]}{moment.microsecond:06d}+00:00"


class FakeClock:
    """A clock that only moves when told to; for tests, imports and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start: must be an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._now = self._now + step
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (an aware datetime)."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("moment: must be an aware datetime")
        with self._lock:
            self._now = moment
