"""Earned points multiplied: the ``points_multiplier`` plugins' factors and the held status
tier's (the built-in plugin), applied by the ledger to a direct earned award (see
``Ledger.credit``): rewards, bonuses and adjustments are paid as configured."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pluggy

from ..core.multiply import apply_multiplier, check_factors
from ..errors import InvalidInput
from ..runtime.plugins import BUILTIN_MULTIPLIERS
from .ledger import Posting

__all__ = ["PointsMultipliers"]


class PointsMultipliers:
    """Called with an earned award's posting inside its transaction; the amount to credit."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        facade: Any,
        tier_factor: Callable[[str, str], float | None] | None,
        max_award: dict[str, int | None],
    ) -> None:
        self._pm = pm
        self._hook = pm.hook.points_multiplier
        # Whether only the built-in plugin answers, and the registrations it was decided at.
        self._builtin_only = True
        self._seen: int | None = None
        self._facade = facade
        self._tier_factor = tier_factor
        self._max_award = max_award

    def __call__(self, posting: Posting) -> int:
        factors = self._factors(posting)
        if not factors:
            return posting.amount
        check_factors(factors, "points_multiplier")
        amount, product = apply_multiplier(posting.amount, factors, math.inf)
        if amount < 1:
            raise InvalidInput(
                "amount", f"{posting.amount} x {product:g} rounds to {amount}; award more"
            )
        cap = self._max_award.get(posting.currency)
        if cap is not None and amount > cap:
            raise InvalidInput(
                "amount",
                f"{posting.amount} x {product:g} = {amount} is above {posting.currency}'s "
                f"max_award {cap}",
            )
        return amount

    def _refresh(self) -> None:
        generation = getattr(self._pm, "generation", None)
        if generation is None or generation != self._seen:
            impls = self._hook.get_hookimpls()
            self._builtin_only = all(impl.plugin_name in BUILTIN_MULTIPLIERS for impl in impls)
            self._seen = generation

    def idle(self) -> bool:
        """Nothing multiplies a direct award (no plugin, no tier factor): it credits what
        was asked, whatever the user's rows say."""
        self._refresh()
        return self._builtin_only and self._tier_factor is None

    def _factors(self, posting: Posting) -> list[float]:
        self._refresh()
        if self._builtin_only:
            # Only the built-in tier plugin answers: ask the tiers directly, same answer.
            if self._tier_factor is None:
                return []
            factor = self._tier_factor(posting.user_id, posting.currency)
            return [] if factor is None else [factor]
        metadata = None if posting.metadata is None else json.loads(posting.metadata)
        found = self._hook(
            engine=self._facade,
            user_id=posting.user_id,
            currency=posting.currency,
            source=posting.source,
            base_amount=posting.amount,
            at=posting.at,
            metadata=metadata,
        )
        return [factor for factor in found if factor is not None]
