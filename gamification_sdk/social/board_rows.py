"""What boards hand out and the small arithmetic their writes share: entries in board order
(``Row``), moments as microseconds (``micros``), summing a batch's deltas (``add_up``), and
what a board's stored scores depend on (``fingerprint``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from ..config.leaderboards import BoardConfig

__all__ = ["REMOVED", "Row", "add_up", "fingerprint", "micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """``moment`` as whole microseconds since 1970: exact, and ordered like the moments."""
    return (moment - _EPOCH) // _MICRO


class Row(NamedTuple):
    """One listed entry in board order: 0-based ``position`` and competition ``rank``."""

    position: int
    rank: int
    user_id: str
    score: float
    reached: int


def add_up(
    totals: dict[tuple[str, tuple[int, ...]], list[int]],
    ident: tuple[str, tuple[int, ...]],
    delta: int,
    reached: int,
) -> None:
    """Add ``delta`` to ``ident``'s total in ``totals``, keeping the latest ``reached``."""
    found = totals.get(ident)
    if found is None:
        totals[ident] = [delta, reached]
    else:
        found[0] += delta
        found[1] = max(found[1], reached)


# The fingerprint of a board no longer configured: never equal to a configured board's.
REMOVED = "removed"


def fingerprint(board: BoardConfig) -> str:
    """What a board's stored scores depend on: change any of it and they are rebuilt."""
    return json.dumps([board.source_key, sorted(board.periods)], separators=(",", ":"))
