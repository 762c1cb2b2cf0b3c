"""Per-action rate limits: an exact sliding log of calls per (action, user), in SQLite.

A call at ``t`` counts against its action's limit until ``t + window``. A call at ``at`` is
allowed while fewer than ``max`` calls are counted, that is, recorded later than
``at - window`` (calls recorded with a later ``at`` included, so a call that arrives out of
time order is never judged more leniently). Calls in the same microsecond share a row.

Everything runs inside the caller's write transaction (``BEGIN IMMEDIATE``): processes
sharing the file serialise on it and count each other's calls, and a call recorded for a
write that fails afterwards rolls back with that write.

A user's rows are pruned as they write, and everyone's by ``prune``, once they are two
windows old. The extra window means a call up to one window out of time order (clock
skew between processes, a retry that passes its original ``at``) is still judged against
every call it could share a window with.

Engine code that wires a built-in limit (``PURCHASE``, ``QUEST_COMPLETE``,
``REFERRAL_TRACK``) into a write calls, inside the write's ``body(tx)``, ``check`` before
the write changes anything and ``record`` once nothing can refuse it any more; or ``hit``,
which does both at once, when nothing after it can refuse. That order keeps a refused call
inside ``batch()`` from leaving a changed row behind (which would doom the batch).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import attrs

from ..config import Config, RateLimit
from ..core.clock import to_text
from ..errors import InvalidInput, RateLimited
from ..models import RateLimitStatus
from ..storage.ratelimits import (
    COUNTED,
    FORGET,
    FORGET_LAST,
    PRUNE,
    PRUNE_USER,
    RECORD,
    WINDOW,
)

__all__ = ["PURCHASE", "QUEST_COMPLETE", "REFERRAL_TRACK", "RateLimits"]

# The built-in actions (seed 002); their defaults are in config.DEFAULT_RATE_LIMITS.
PURCHASE = "purchase"
QUEST_COMPLETE = "quest_complete"
REFERRAL_TRACK = "referral_track"

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _shift(moment: datetime, seconds: int) -> datetime:
    try:
        return moment + timedelta(seconds=seconds)
    except OverflowError:
        return _EARLIEST if seconds < 0 else _LATEST


class RateLimits:
    """Checks and records calls against ``Config.rate_limits``; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self._conn = conn
        self._limits = config.rate_limits

    def rule(self, action: object) -> RateLimit | None:
        """The action's limit, or None if it is turned off; ``InvalidInput`` if unknown."""
        if type(action) is not str:
            raise InvalidInput("action", f"expected a str, got {type(action).__name__}")
        try:
            return self._limits[action]
        except KeyError:
            known = ", ".join(sorted(self._limits)) or "none"
            raise InvalidInput(
                "action", f"no rate limit is configured for {action!r}; configured: {known}"
            ) from None

    def status(self, action: str, user_id: str, at: datetime) -> RateLimitStatus:
        """Where ``user_id`` stands against ``action``'s limit at ``at`` (a UTC datetime)."""
        rule = self.rule(action)
        if rule is None:
            return RateLimitStatus(action, user_id, None, None, 0, None, None)
        since = to_text(_shift(at, -rule.seconds))
        used, oldest = self._conn.execute(WINDOW, (action, user_id, since)).fetchone()
        remaining = max(0, rule.max - used)
        if used == 0:
            resets_at = None
        elif used <= rule.max:
            resets_at = _shift(datetime.fromisoformat(oldest), rule.seconds)
        else:
            # Over the limit (it was lowered): wait until enough calls have left the window.
            resets_at = self._free_at(action, user_id, since, used - rule.max + 1, rule.seconds)
        return RateLimitStatus(action, user_id, rule.max, rule.seconds, used, remaining, resets_at)

    def _free_at(self, action: str, user_id: str, since: str, drop: int, seconds: int) -> datetime:
        gone = 0
        for at_text, hits in self._conn.execute(COUNTED, (action, user_id, since)):
            gone += hits
            if gone >= drop:
                return _shift(datetime.fromisoformat(at_text), seconds)
        raise AssertionError("the window holds fewer calls than it counted")

    def check(self, action: str, user_id: str, at: datetime) -> RateLimitStatus:
        """``RateLimited`` if a call at ``at`` is over the limit, else the status. Reads only."""
        status = self.status(action, user_id, at)
        if status.remaining == 0:
            assert status.limit is not None and status.window is not None
            assert status.resets_at is not None
            retry_after = max(status.resets_at - at, timedelta(microseconds=1))
            raise RateLimited(
                action, user_id, status.limit, status.window, status.resets_at, retry_after
            )
        return status

    def record(self, action: str, user_id: str, at: datetime, at_text: str) -> None:
        """Count one call at ``at`` (stored as ``at_text``); prunes this user's old rows."""
        rule = self.rule(action)
        if rule is None:
            return
        self._conn.execute(PRUNE_USER, (action, user_id, to_text(_shift(at, -2 * rule.seconds))))
        self._conn.execute(RECORD, (action, user_id, at_text))

    def forget(self, action: str, user_id: str, at_text: str) -> None:
        """Take back one call recorded at ``at_text`` (a purchase whose fulfilment failed)."""
        args = (action, user_id, at_text)
        if self._conn.execute(FORGET, args).rowcount == 0:
            self._conn.execute(FORGET_LAST, args)

    def hit(self, action: str, user_id: str, at: datetime, at_text: str) -> RateLimitStatus:
        """``check`` then ``record``: raises ``RateLimited`` (writing nothing) or counts the call.

        Call it inside the write's transaction. Returns the status after this call.
        """
        status = self.check(action, user_id, at)
        if status.limit is None or status.window is None or status.remaining is None:
            return status
        self.record(action, user_id, at, at_text)
        leaves = _shift(at, status.window)
        return attrs.evolve(
            status,
            used=status.used + 1,
            remaining=status.remaining - 1,
            resets_at=leaves if status.resets_at is None else min(status.resets_at, leaves),
        )

    def prune(self, at: datetime) -> int:
        """Delete every configured action's rows two windows older than ``at``; returns how many."""
        deleted = 0
        for action, rule in sorted(self._limits.items()):
            if rule is not None:
                since = to_text(_shift(at, -2 * rule.seconds))
                deleted += self._conn.execute(PRUNE, (action, since)).rowcount
        return deleted
