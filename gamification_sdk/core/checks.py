"""Argument checks the capability services share, beyond ``validation``'s: page sizes and
cursors, optional text, event names, metric values and season keys. Each raises
``InvalidInput`` naming the field."""

from __future__ import annotations

import math

from ..errors import InvalidInput
from .validation import check_row_id, check_text

__all__ = [
    "check_before",
    "check_event",
    "check_limit",
    "check_season",
    "check_value",
    "optional_text",
]


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
