"""Domain events: what a capability publishes inside a write transaction, and the other
capabilities' subscribers that react to it in the same transaction, in a declared order.

A publisher knows the event it publishes, never who listens: XP does not call the boards or
the battle pass, it publishes ``XPAwarded``. The subscriptions are made when an engine's parts
are wired (``assembly.py``) for a configuration, so a capability that nothing follows costs
nothing: ``publisher()`` gives ``None`` and the publisher skips building the event.

After the commit, plugins still hear of what happened through the after-commit hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import attrs

from ..models import MilestoneReward, Transaction
from ..storage.store import Tx

__all__ = [
    "SUBSCRIBERS",
    "AchievementUnlocked",
    "Bus",
    "EventTracked",
    "PointsAwarded",
    "PointsIssued",
    "ReferralConverted",
    "ReferralSignedUp",
    "XPAwarded",
]

# Who reacts first when several subscribe to one event. Boards come after achievements and
# quests so that a board never lags behind what those add in the same call.
SUBSCRIBERS = (
    "achievements", "quests", "boards", "battle_pass", "streaks", "tiers", "outbox",
)  # fmt: skip


@attrs.frozen(slots=True)
class XPAwarded:
    """XP added to a user's total (after multipliers)."""

    user_id: str
    amount: int
    at: datetime
    at_text: str


@attrs.frozen(slots=True)
class PointsIssued:
    """New points credited to a user (awards, bonuses, rewards; not transfers)."""

    user_id: str
    currency: str
    amount: int
    at: datetime


@attrs.frozen(slots=True)
class PointsAwarded:
    """Points awarded directly (``g.award_points``), as ``transaction``; ``tx`` is the write
    it happened in. Points a rule, a reward or a referral pays are not: whoever pays them
    moves the badges they concern itself."""

    tx: Tx
    transaction: Transaction
    at: datetime
    at_text: str


@attrs.frozen(slots=True)
class AchievementUnlocked:
    """An achievement (or a tier, or a repeat of one) unlocked, worth ``points``."""

    user_id: str
    key: str
    points: int
    at: datetime


@attrs.frozen(slots=True)
class EventTracked:
    """An event tracked for a user, with its value and metadata (JSON text)."""

    user_id: str
    event: str
    value: float
    metadata: str | None
    at: datetime


@attrs.frozen(slots=True)
class ReferralSignedUp:
    """A referral signed up and paid: ``referrer_points`` to the referrer, then
    ``referred_points`` to the referred user, in ``currency`` (0: not paid). ``tx`` is the
    write it happened in, for what the subscribers queue until the commit."""

    tx: Tx
    referral_id: int
    referrer_id: str
    referred_id: str
    currency: str
    referrer_points: int
    referred_points: int
    at: datetime
    at_text: str


@attrs.frozen(slots=True)
class ReferralConverted:
    """A referral converted: ``points`` paid to the referrer in ``currency`` (0: none), then
    each milestone it reached paid in turn."""

    tx: Tx
    referral_id: int
    referrer_id: str
    currency: str
    points: int
    milestones: tuple[MilestoneReward, ...]
    at: datetime
    at_text: str


E = TypeVar("E")


class Bus:
    """The subscriptions of one engine configuration."""

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[tuple[int, int, Callable[[Any], None]]]] = {}

    def subscribe(self, event: type[E], subscriber: str, handler: Callable[[E], None]) -> None:
        """Call ``handler`` with every ``event`` published, in ``SUBSCRIBERS`` order."""
        if subscriber not in SUBSCRIBERS:
            raise ValueError(f"subscriber: {subscriber!r} is not one of {', '.join(SUBSCRIBERS)}")
        entries = self._handlers.setdefault(event, [])
        entries.append((SUBSCRIBERS.index(subscriber), len(entries), handler))
        entries.sort(key=lambda entry: entry[:2])

    def publisher(self, event: type[E]) -> Callable[[E], None] | None:
        """What a publisher calls with each ``event``; ``None`` when nothing subscribes, so
        the publisher can skip building it."""
        handlers = tuple(handler for _, _, handler in self._handlers.get(event, ()))
        if not handlers:
            return None
        if len(handlers) == 1:
            return handlers[0]

        def publish(value: E) -> None:
            for handler in handlers:
                handler(value)

        return publish

    def subscribers(self, event: type[Any]) -> list[str]:
        """Who reacts to ``event``, in order (for tests and introspection)."""
        return [SUBSCRIBERS[rank] for rank, _, _ in self._handlers.get(event, ())]
