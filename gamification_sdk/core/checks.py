"""Argument checks the namespace services share, moved out of the facade with the methods that
use them. Plain functions; each raises ``InvalidInput`` naming the field."""

from __future__ import annotations

from ..errors import InvalidInput

__all__ = ["check_limit"]


def check_limit(limit: object) -> int:
    """A page size: an int from 1 to 1000."""
    if type(limit) is not int or not 1 <= limit <= 1000:
        raise InvalidInput("limit", f"expected an int from 1 to 1000, got {limit!r}")
    return limit
