"""Argument checks the capability services share, run before a call opens its transaction,
beyond ``validation``'s: page sizes and cursors, optional text, event names, metric values,
season keys and hold lifetimes. Each raises ``InvalidInput`` naming the argument, or returns
the value to use."""

from __future__ import annotations

import math
from datetime import timedelta

from ..errors import InvalidInput
from .validation import check_row_id, check_text

__all__ = [
    "MAX_TTL",
    "call_key",
    "check_before",
    "check_event",
    "check_limit",
    "check_season",
    "check_ttl",
    "check_value",
    "optional_text",
]

MAX_TTL = timedelta(days=366)


def check_limit(limit: object) -> int:
    """A page size from 1 to 1000."""
    if type(limit) is not int or not 1 <= limit <= 1000:
        raise InvalidInput("limit", f"expected an int from 1 to 1000, got {limit!r}")
    return limit


def check_before(before: object) -> int | None:
    """A page cursor: the last row id of the previous page, or None for the first."""
    return None if before is None else check_row_id(before, "before")


def optional_text(value: object, field: str, max_length: int = 1000) -> str | None:
    return None if value is None else check_text(value, field, max_length=max_length)


def check_event(event: object) -> str:
    """An event name a caller may track: ``~`` and ``@`` mark the engine's own."""
    check_text(event, "event", max_length=100)
    assert isinstance(event, str)
    if event.startswith("~") or "@" in event:
        raise InvalidInput("event", "must not start with '~' or contain '@' (reserved)")
    return event


def check_season(season: object) -> str | None:
    if season is None:
        return None
    check_text(season, "season", max_length=64)
    assert isinstance(season, str)
    return season


def check_value(value: object) -> float:
    """An int, or a finite float, from 0 to 2**53: metrics only grow."""
    if type(value) is not int and (type(value) is not float or not math.isfinite(value)):
        raise InvalidInput("value", f"expected an int or a finite number, got {value!r}")
    if not 0 <= value <= 2**53:
        raise InvalidInput("value", f"must be from 0 to 2**53, got {value!r}")
    return value


def check_ttl(ttl: object) -> timedelta:
    """A hold's lifetime: a timedelta or seconds, over 0 and at most ``MAX_TTL``."""
    if isinstance(ttl, timedelta):
        span = ttl
    elif type(ttl) in (int, float) and math.isfinite(ttl):  # type: ignore[arg-type]
        if not 0 < ttl <= MAX_TTL.total_seconds():  # type: ignore[operator]
            raise InvalidInput("ttl", f"must be over 0 and at most {MAX_TTL.days} days: {ttl!r}")
        span = timedelta(seconds=ttl)  # type: ignore[arg-type]
    else:
        raise InvalidInput("ttl", f"expected a timedelta or seconds, got {ttl!r}")
    if not timedelta(0) < span <= MAX_TTL:
        raise InvalidInput("ttl", f"must be over 0 and at most {MAX_TTL.days} days, got {span}")
    return span


def call_key(key: str | None) -> str | None:
    # Caller keys live under "call:" in transactions so none can collide with a derived key.
    return None if key is None else f"call:{key}"
