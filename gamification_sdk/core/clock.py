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


def to_text(moment: datetime) -> str:
    """Store times as fixed-width UTC ISO-8601 text, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


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
