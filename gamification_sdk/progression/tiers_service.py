"""``g.tiers``: a user's status tier, its history, the tier board, and requalification."""

from __future__ import annotations

from datetime import datetime

from ..core.checks import check_limit
from ..core.validation import check_at, check_id
from ..models import TierChange, TierStanding, TierStatus
from ..runtime.runtime import Runtime
from .tiers import StatusTiers

__all__ = ["TiersService"]

# Users requalified per transaction: a long run never holds the write lock for long.
BATCH = 500


class TiersService:
    def __init__(self, rt: Runtime, tiers: StatusTiers) -> None:
        self._rt = rt
        self._store = rt.store
        self._tiers = tiers

    def status(self, user_id: str, *, at: datetime | None = None) -> TierStatus:
        """The user's tier at ``at`` (default: now), what the window holds, what the next
        tier needs and when the tier is next requalified."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return self._tiers.status(user_id, moment)

    def history(self, user_id: str, *, limit: int = 50) -> list[TierChange]:
        """The user's tier changes, newest first."""
        check_id(user_id)
        check_limit(limit)
        with self._store.read():
            return self._tiers.history(user_id, limit)

    def board(self, *, limit: int = 10) -> list[TierStanding]:
        """Users by tier, highest first, then by who reached their tier first."""
        check_limit(limit)
        with self._store.read():
            return self._tiers.board(limit)

    def xp_factor(self, user_id: str) -> float | None:
        """The XP multiplier of the user's tier, or None (what the built-in plugin returns
        to the ``xp_multiplier`` hook, inside the award's transaction)."""
        return self._tiers.xp_factor(user_id)

    def points_factor(self, user_id: str, currency: str) -> float | None:
        """The multiplier of earned ``currency`` of the user's tier, or None (what the
        built-in plugin returns to the ``points_multiplier`` hook, inside the transaction)."""
        return self._tiers.points_factor(user_id, currency)

    def requalify(self, now: datetime | None = None) -> list[TierChange]:
        """Requalify every tier whose requalification date and grace passed by ``now`` (the
        ``tier_requalify`` job): downgrade those the window ending then leaves short, move
        the others' dates a window on. Batches of users, each its own transaction; running
        it again (or in two processes at once) downgrades nobody twice."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        changes: list[TierChange] = []
        failures: list[tuple[str, BaseException]] = []
        if not self._tiers.on:
            return changes
        while True:
            (batch, seen), tx = self._rt.job(lambda tx: self._tiers.requalify(tx, moment, BATCH))
            if tx.committed:
                self._rt.dispatch(tx, batch, failures)
            changes.extend(batch)
            if seen < BATCH:
                break
        self._rt.raise_hook_errors(failures, changes)
        return changes
