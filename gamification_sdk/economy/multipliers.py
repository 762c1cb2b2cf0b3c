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
    """Called with an earned award's posting inside its transaction; the amount to credit.

    Also what a credit asks of the plugins at all, decided once per registrations
    (``PluginManager.generation``): ``vetoes`` (a ``validate_award`` plugin is registered)
    and ``idle`` (nothing multiplies). ``Ledger.credit`` reads them, and ``seen`` against
    the manager's generation, inline: asking pluggy on every award cost a dozen calls."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        facade: Any,
        tier_factor: Callable[[str, str], float | None] | None,
        max_award: dict[str, int | None],
    ) -> None:
        self.pm = pm
        self._hook = pm.hook.points_multiplier
        self._vetoes_hook = pm.hook.validate_award
        # Whether only the built-in plugin answers, whether a plugin vets awards, whether
        # nothing multiplies, and the registrations that was decided at (None: not yet, or a
        # manager that does not count them, which is then asked on every call).
        self._builtin_only = True
        self.vetoes = True
        self.idle = False
        self.seen: int | None = None
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

    def refresh(self) -> None:
        """Decide ``vetoes`` and ``idle`` again if plugins were registered or unregistered."""
        generation = getattr(self.pm, "generation", None)
        if generation is None or generation != self.seen:
            impls = self._hook.get_hookimpls()
            self._builtin_only = all(impl.plugin_name in BUILTIN_MULTIPLIERS for impl in impls)
            self.vetoes = bool(self._vetoes_hook.get_hookimpls())
            # Nothing multiplies a direct award (no plugin, no tier factor): it credits what
            # was asked, whatever the user's rows say.
            self.idle = self._builtin_only and self._tier_factor is None
            self.seen = generation

    def plain(self) -> bool:
        """No plugin vets or multiplies a credit now (``Ledger.plain``)."""
        self.refresh()
        return not self.vetoes and self.idle

    def _factors(self, posting: Posting) -> list[float]:
        self.refresh()
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
