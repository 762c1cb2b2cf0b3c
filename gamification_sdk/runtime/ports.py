"""What one capability asks of another, typed here below both and filled in by assembly.

A follow-up effect travels as a domain event (``bus.py``); a question that needs an answer
before the caller goes on cannot, so the asker holds a ``Protocol`` from this module and
``assembly.py`` hands it the object that answers. No capability imports the other for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..models import StreakStatus
from ..storage.store import Tx

__all__ = ["StreakFreezes"]


class StreakFreezes(Protocol):
    """What the shop needs of the streaks (``progression/streaks.py``) when it sells or takes
    back streak freezes: days already missed are settled with the freezes held then."""

    def status(self, user_id: str, at: datetime) -> StreakStatus:
        """The streak as of ``at``, missed days settled in memory (its ``freezes`` held)."""

    def settle_user(self, tx: Tx, user_id: str, at: datetime, at_text: str) -> object:
        """Settle the user's missed days up to yesterday, before their freezes change."""
