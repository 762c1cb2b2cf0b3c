"""``g.battle_pass``: a season's tiers, the premium pass, tier rewards, tier boosts and the
season close."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from ..config.seasons import MAX_TIERS
from ..core.checks import check_season
from ..core.clock import to_text
from ..core.validation import check_at, check_id, check_key
from ..errors import InvalidInput
from ..models import BattlePass, PremiumPurchase, SeasonClose, TierBoostUse, TierClaim
from ..runtime.idempotency import fingerprint, json_codec
from ..runtime.runtime import Runtime
from .battlepass import BattlePasses, check_track

__all__ = ["BattlePassService"]


class BattlePassService:
    def __init__(self, rt: Runtime, battle_pass: BattlePasses) -> None:
        self._rt = rt
        self._store = rt.store
        self._battle_pass = battle_pass

    def get(
        self, user_id: str, *, season: str | None = None, at: datetime | None = None
    ) -> BattlePass:
        """The user's battle pass in the season active at ``at`` (default: now), or in
        ``season``: tier, XP into it, premium, and every tier reward with its state.

        ``errors.NoActiveSeason`` if no battle-pass season runs at ``at`` (and none is named),
        ``errors.UnknownSeason`` for a key that is not a battle-pass season.
        """
        check_id(user_id)
        key = check_season(season)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return self._battle_pass.view(user_id, key, moment)

    def buy_premium(
        self, user_id: str, *, idempotency_key: str | None = None, at: datetime | None = None
    ) -> PremiumPurchase:
        """Buy the active season's premium pass: its price is spent through the ledger.

        Refused, writing nothing: ``NoActiveSeason``, ``SeasonEnded`` (archived),
        ``PremiumAlreadyOwned``, ``InsufficientFunds``.
        """
        check_id(user_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "buy_premium_pass",
            key,
            lambda: fingerprint(user_id, explicit),
            json_codec(PremiumPurchase),
            at_text,
            lambda tx: self._battle_pass.buy_premium(tx, user_id, moment, at_text),
            user_id=user_id,
        )

    def claim(
        self,
        user_id: str,
        tier: int,
        *,
        track: str,
        season: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> TierClaim:
        """Pay the reward of ``tier`` on ``track`` (``"free"`` or ``"premium"``), once.

        ``season`` pins the season the client showed (default: the one active at ``at``).
        Refused, writing nothing: ``NoActiveSeason``, ``UnknownSeason``, ``SeasonNotStarted``,
        ``SeasonEnded``, ``NoTierReward``, ``TierNotReached``, ``PremiumRequired``,
        ``RewardAlreadyClaimed``; ``NotFound`` if a rewarded achievement is not defined.
        """
        check_id(user_id)
        if type(tier) is not int or not 1 <= tier <= MAX_TIERS:
            raise InvalidInput("tier", f"expected an int from 1 to {MAX_TIERS}, got {tier!r}")
        chosen = check_track(track)
        name = check_season(season)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "claim_tier_reward",
            key,
            lambda: fingerprint(user_id, tier, chosen, name, explicit),
            json_codec(TierClaim),
            at_text,
            lambda tx: self._battle_pass.claim(tx, user_id, name, chosen, tier, moment, at_text),
            user_id=user_id,
        )

    def use_tier_boost(
        self,
        user_id: str,
        *,
        quantity: int = 1,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> TierBoostUse:
        """Use ``quantity`` ``tier_boost`` items (bought in the shop): each adds one tier's XP
        to the active season's progress (not to the user's lifetime XP).

        Refused, writing nothing: ``NoActiveSeason``, ``SeasonEnded``, ``NotEnoughTierBoosts``,
        ``MaxTierReached`` (a boost would go past the last tier).
        """
        check_id(user_id)
        if type(quantity) is not int or not 1 <= quantity <= MAX_TIERS:
            raise InvalidInput(
                "quantity", f"expected an int from 1 to {MAX_TIERS}, got {quantity!r}"
            )
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "use_tier_boost",
            key,
            lambda: fingerprint(user_id, quantity, explicit),
            json_codec(TierBoostUse),
            at_text,
            lambda tx: self._battle_pass.use_boosts(tx, user_id, quantity, moment, at_text),
            user_id=user_id,
        )

    def close_seasons(self, now: datetime | None = None) -> list[SeasonClose]:
        """Archive every battle-pass season that ended by ``now`` (the ``battle_pass_close``
        job): close it to XP, claims, purchases and boosts, record each user's final tier,
        and grant the rewards of reached tiers nobody claimed. Works in batches of users,
        each its own transaction; running it again archives nothing twice."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        at_text = to_text(moment)
        with self._store.read():
            due = self._battle_pass.due(moment)
        closed = []
        failures: list[tuple[str, BaseException]] = []
        for season in due:
            while True:
                result, tx = self._rt.job(
                    partial(self._battle_pass.close, season=season, at=moment, at_text=at_text)
                )
                if tx.committed:
                    self._rt.dispatch(tx, result, failures)
                if result is not None:
                    closed.append(result)
                    break
        self._rt.raise_hook_errors(failures, closed)
        return closed
