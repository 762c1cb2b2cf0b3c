"""``g.rate_limits``: count a host action against ``Config.rate_limits``, read where a user
stands, and prune old counts."""

from __future__ import annotations

from datetime import datetime

from ..core.validation import check_at, check_id, check_key
from ..models import RateLimitStatus
from ..runtime.idempotency import fingerprint, json_codec
from ..runtime.runtime import Runtime
from .ratelimits import RateLimits

__all__ = ["RateLimitsService"]


class RateLimitsService:
    """Rate limits, as ``g.rate_limits``."""

    def __init__(self, rt: Runtime, limits: RateLimits) -> None:
        self._rt = rt
        self._limits = limits

    def hit(
        self,
        user_id: str,
        action: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> RateLimitStatus:
        """Count one call of ``action`` (a key of ``Config.rate_limits``) for ``user_id``.

        Over the limit it raises ``errors.RateLimited`` (with ``retry_after``) and writes
        nothing; otherwise it returns the status after this call. An action whose limit is
        turned off (None) is not counted. The engine counts its built-in actions itself
        (``purchase`` in ``reserve_points`` and purchase spends): call this for your own.
        """
        check_id(user_id)
        self._limits.rule(action)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "rate_limit",
            key,
            lambda: fingerprint(user_id, action, explicit),
            json_codec(RateLimitStatus),
            at_text,
            lambda tx: self._limits.hit(action, user_id, moment, at_text),
            user_id=user_id,
        )

    def status(self, user_id: str, action: str, *, at: datetime | None = None) -> RateLimitStatus:
        """How many calls of ``action`` ``user_id`` has used and has left; writes nothing."""
        check_id(user_id)
        self._limits.rule(action)
        moment = self._rt.now() if at is None else check_at(at)
        with self._rt.store.read():
            return self._limits.status(action, user_id, moment)

    def prune(self, now: datetime | None = None) -> int:
        """Delete counted calls too old to matter (users prune their own as they call).

        Safe to run any number of times, e.g. daily; returns how many rows went.
        """
        moment = self._rt.now() if now is None else check_at(now, "now")
        with self._rt.store.write():
            return self._limits.prune(moment)
