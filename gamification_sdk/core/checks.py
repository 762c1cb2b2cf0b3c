"""Argument checks the capability services share, run before a call opens its transaction.

Plain functions: each raises ``InvalidInput`` naming the argument, or returns the value to use.
"""

from __future__ import annotations

import math
from datetime import timedelta

from ..errors import InvalidInput
from .validation import check_row_id, check_text

__all__ = ["MAX_TTL", "call_key", "check_before", "check_limit", "check_ttl", "optional_text"]

MAX_TTL = timedelta(days=366)


def check_limit(limit: object) -> int:
    if type(limit) is not int or not 1 <= limit <= 1000:
        raise InvalidInput("limit", f"expected an int from 1 to 1000, got {limit!r}")
    return limit


def check_before(before: object) -> int | None:
    return None if before is None else check_row_id(before, "before")


def check_ttl(ttl: object) -> timedelta:
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


def optional_text(value: object, field: str, max_length: int = 1000) -> str | None:
    return None if value is None else check_text(value, field, max_length=max_length)
