"""The battle pass (seed 002): season tiers filled by XP, free and premium reward tracks.

- *Progress.* ``battle_pass_progress`` holds one row per (season, user): the season XP
  (every XP award made while the season is active, plus tier boosts), the tier boosts
  used and when premium was bought. ``XP.award`` adds to it with one upsert in the award's
  own transaction; with no season active it runs no statement at all. The tier is derived:
  ``min(total_tiers, season_xp // xp_per_tier)``.
- *Claims.* ``battle_pass_claims`` has one row per (season, user, track, tier), so a reward
  is paid at most once; its points go through the ledger under a key derived from that
  same row, which the ledger keeps unique too.
- *Season end.* ``close`` (the ``battle_pass_close`` job) first marks the season closed in
  ``battle_pass_seasons``: from then on no XP, claim, purchase or boost reaches it. It
  then archives each user's row (``final_tier``, ``archived_at``) and grants the rewards
  of the tiers they reached that they had not claimed (premium ones only with premium),
  marked ``auto``. It works in batches of users, each its own transaction, and picks up
  where it stopped if a run dies.

Every refusal comes before the first write, so a refused call writes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from ..config import Config
from ..config.seasons import TRACKS, Season, TierReward
from ..economy.inventory import Items
from ..economy.ledger import BATTLE_PASS, Ledger, Posting
from ..errors import (
    InvalidInput,
    MaxTierReached,
    NoActiveSeason,
    NotEnoughTierBoosts,
    NotFound,
    NoTierReward,
    PremiumAlreadyOwned,
    PremiumRequired,
    RewardAlreadyClaimed,
    SeasonEnded,
    SeasonNotStarted,
    TierNotReached,
    UnknownSeason,
)
from ..models import (
    BattlePass,
    PremiumPurchase,
    SeasonClose,
    TierBoostUse,
    TierClaim,
    TierRewardStatus,
)
from ..storage.battlepass import (
    ADD_BOOSTS,
    ADD_XP,
    ARCHIVE_USER,
    CLOSE_SEASON,
    FINISH_SEASON,
    FINISHED_SEASON,
    HELD_QUANTITY,
    IS_CLAIMED,
    NEW_CLAIM,
    SEASON_STATE,
    SET_PREMIUM,
    USE_ITEMS,
    USER_CLAIMS,
    USER_PROGRESS,
    USERS_TO_ARCHIVE,
)
from ..storage.store import Tx
from .achievements import Achievements

__all__ = ["TIER_BOOST", "BattlePasses"]

# The inventory item a ``tier_boost`` shop item grants and ``battle_pass.use_tier_boost`` consumes.
TIER_BOOST = "tier_boost"
SOURCE = "battle_pass"
# Users archived per transaction by the season-end job.
CLOSE_BATCH = 200


class BattlePasses:
    """Battle pass progress, claims, premium passes, tier boosts and season ends."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        ledger: Ledger,
        items: Items,
        achievements: Achievements,
    ) -> None:
        self._conn = conn
        self._ledger = ledger
        self._items = items
        self._achievements = achievements
        self.seasons = config.battle_pass_seasons
        self._by_key = {season.key: season for season in self.seasons}
        self._default_currency = config.currency_names[0]
        self._last: Season | None = None  # the season found last: awards come in runs

    # -- seasons ---------------------------------------------------------------------------

    def season_at(self, at: datetime) -> Season | None:
        """The battle-pass season whose ``[starts_at, ends_at)`` holds ``at``, if any."""
        last = self._last
        if last is not None and last.starts_at <= at < last.ends_at:
            return last
        for season in self.seasons:
            if season.starts_at <= at < season.ends_at:
                self._last = season
                return season
        return None

    def season(self, key: str | None, at: datetime) -> Season:
        """Season ``key`` (``UnknownSeason``), or with None the one active at ``at``."""
        if key is None:
            found = self.season_at(at)
            if found is None:
                raise NoActiveSeason(None)
            return found
        season = self._by_key.get(key)
        if season is None:
            raise UnknownSeason(key)
        return season

    def open_season(self, key: str | None, at: datetime) -> Season:
        """The season a write at ``at`` goes to; refused unless it runs and is not closed."""
        season = self.season(key, at)
        if at < season.starts_at:
            raise SeasonNotStarted(season.key)
        if at >= season.ends_at or self._state(season.key) is not None:
            raise SeasonEnded(season.key)
        return season

    def _state(self, key: str) -> tuple[str, str | None] | None:
        row = self._conn.execute(SEASON_STATE, (key,)).fetchone()
        return None if row is None else (row[0], row[1])

    def currency(self, season: Season) -> str:
        return season.premium_currency or self._default_currency

    # -- progress --------------------------------------------------------------------------

    def add_xp(self, user_id: str, amount: int, at: datetime, at_text: str) -> None:
        """Count an XP award toward the tier of the season active at ``at`` (the hot path)."""
        season = self.season_at(at)
        if season is not None:
            self._conn.execute(ADD_XP, (season.key, user_id, amount, at_text))

    def _progress(self, key: str, user_id: str) -> tuple[int, int, str | None]:
        row = self._conn.execute(USER_PROGRESS, (key, user_id)).fetchone()
        return (0, 0, None) if row is None else (row[0], row[1], row[2])

    def view(self, user_id: str, key: str | None, at: datetime) -> BattlePass:
        season = self.season(key, at)
        xp, boosts, premium_at = self._progress(season.key, user_id)
        state = self._state(season.key)
        active = season.starts_at <= at < season.ends_at and state is None
        claims = {
            (track, tier): (claimed_at, bool(auto))
            for track, tier, claimed_at, auto in self._conn.execute(
                USER_CLAIMS, (season.key, user_id)
            )
        }
        tier = season.tier_of(xp)
        per = season.xp_per_tier
        into = 0 if tier >= season.total_tiers else xp - tier * per
        premium = premium_at is not None

        def status(track: str, reward: TierReward) -> TierRewardStatus:
            claimed = claims.get((track, reward.tier))
            if claimed is not None:
                state, at_text, auto = "claimed", claimed[0], claimed[1]
            else:
                at_text, auto = None, False
                ready = reward.tier <= tier and (track == "free" or premium) and active
                state = "claimable" if ready else "locked"
            return TierRewardStatus(
                tier=reward.tier, track=track, state=state, points=dict(reward.points),
                items=dict(reward.items), titles=reward.titles,
                achievements=reward.achievements,
                claimed_at=None if at_text is None else datetime.fromisoformat(at_text),
                auto=auto,
            )  # fmt: skip

        def track_of(track: str) -> tuple[TierRewardStatus, ...]:
            rewards = sorted(season.rewards(track), key=lambda r: r.tier)
            return tuple(status(track, reward) for reward in rewards)

        return BattlePass(
            user_id=user_id, season=season.key, name=season.name, number=season.number,
            starts_at=season.starts_at, ends_at=season.ends_at, active=active,
            archived=state is not None and state[1] is not None, tier=tier,
            total_tiers=season.total_tiers, season_xp=xp, xp_into_tier=into, xp_per_tier=per,
            xp_to_next_tier=0 if tier >= season.total_tiers else per - into,
            premium=premium, premium_price=season.premium_price,
            premium_currency=self.currency(season), tier_boosts_used=boosts,
            free_rewards=track_of("free"), premium_rewards=track_of("premium"),
        )  # fmt: skip

    # -- claims ----------------------------------------------------------------------------

    def claim(
        self,
        tx: Tx,
        user_id: str,
        key: str | None,
        track: str,
        tier: int,
        at: datetime,
        at_text: str,
    ) -> TierClaim:
        season = self.open_season(key, at)
        if tier > season.total_tiers:
            raise InvalidInput(
                "tier", f"season {season.key!r} has {season.total_tiers} tiers, not {tier}"
            )
        reward = season.reward(track, tier)
        if reward is None:
            raise NoTierReward(season.key, tier=tier, track=track)
        xp, _, premium_at = self._progress(season.key, user_id)
        if season.tier_of(xp) < tier:
            raise TierNotReached(season.key, tier=tier, track=track)
        if track == "premium" and premium_at is None:
            raise PremiumRequired(season.key, tier=tier, track=track)
        if self._conn.execute(IS_CLAIMED, (season.key, user_id, track, tier)).fetchone():
            raise RewardAlreadyClaimed(season.key, tier=tier, track=track)
        self._check_achievements(reward)
        return self._pay(tx, season, user_id, track, reward, at, at_text, auto=False)

    def _check_achievements(self, reward: TierReward) -> None:
        for key in reward.achievements:
            if not self._achievements.grantable(key):
                raise NotFound("achievement", key)

    def _pay(
        self,
        tx: Tx,
        season: Season,
        user_id: str,
        track: str,
        reward: TierReward,
        at: datetime,
        at_text: str,
        *,
        auto: bool,
    ) -> TierClaim:
        """Pay one tier reward; the caller checked that it may (nothing here refuses)."""
        label = season.name or season.key
        transaction_ids = []
        for currency, amount in sorted(reward.points.items()):
            posting = Posting(
                "bonus", currency, amount, user_id, SOURCE, at, at_text,
                reference=(BATTLE_PASS, f"{season.key}:{track}:{reward.tier}"),
                description=f"{label}: tier {reward.tier} ({track})",
                key=f"battle-pass:{season.key}:{user_id}:{track}:{reward.tier}:{currency}",
            )  # fmt: skip
            credited = self._ledger.credit(tx, posting, origin="battle_pass")
            self._achievements.after_points(tx, credited, at, at_text)
            transaction_ids.append(credited.id)
        for item, quantity in sorted(reward.items.items()):
            self._items.grant_item(user_id, item, quantity, at_text)
        for title in reward.titles:
            self._items.grant_title(user_id, title, f"{SOURCE}:{season.key}", at_text)
        unlocked: list[str] = []
        if reward.achievements:
            ctx = self._achievements.context(user_id, at, at_text)
            for key in reward.achievements:
                if any(u.key == key for u in self._achievements.grant(tx, ctx, key)):
                    unlocked.append(key)
        granted = {"points": dict(reward.points), "items": dict(reward.items),
                   "titles": reward.titles, "achievements": unlocked}  # fmt: skip
        self._conn.execute(
            NEW_CLAIM,
            (
                season.key, user_id, track, reward.tier, json.dumps(granted, sort_keys=True),
                json.dumps(transaction_ids), int(auto), at_text,
            ),
        )  # fmt: skip
        return TierClaim(
            user_id=user_id, season=season.key, track=track, tier=reward.tier,
            claimed_at=datetime.fromisoformat(at_text), points=dict(reward.points),
            items=dict(reward.items), titles=reward.titles, achievements=tuple(unlocked),
            transaction_ids=tuple(transaction_ids), auto=auto,
        )  # fmt: skip

    # -- premium and boosts ----------------------------------------------------------------

    def buy_premium(self, tx: Tx, user_id: str, at: datetime, at_text: str) -> PremiumPurchase:
        season = self.open_season(None, at)
        if self._progress(season.key, user_id)[2] is not None:
            raise PremiumAlreadyOwned(season.key)
        currency = self.currency(season)
        posting = Posting(
            "purchase", currency, season.premium_price, user_id, SOURCE, at, at_text,
            reference=(BATTLE_PASS, f"{season.key}:premium"),
            description=f"{season.name or season.key}: premium pass",
            key=f"battle-pass-premium:{season.key}:{user_id}",
        )  # fmt: skip
        # debit refuses (InsufficientFunds) before it writes anything.
        paid = self._ledger.debit(tx, posting)
        self._conn.execute(SET_PREMIUM, (season.key, user_id, at_text, paid.id, at_text))
        return PremiumPurchase(
            user_id=user_id, season=season.key, currency=currency, price=season.premium_price,
            transaction_id=paid.id, purchased_at=datetime.fromisoformat(at_text),
        )  # fmt: skip

    def use_boosts(
        self, tx: Tx, user_id: str, quantity: int, at: datetime, at_text: str
    ) -> TierBoostUse:
        season = self.open_season(None, at)
        row = self._conn.execute(HELD_QUANTITY, (user_id, TIER_BOOST)).fetchone()
        held = 0 if row is None else int(row[0])
        if held < quantity:
            raise NotEnoughTierBoosts(season.key)
        xp = self._progress(season.key, user_id)[0]
        before = season.tier_of(xp)
        if before + quantity > season.total_tiers:
            raise MaxTierReached(season.key, tier=before)
        added = quantity * season.xp_per_tier
        used = self._conn.execute(USE_ITEMS, (quantity, at_text, user_id, TIER_BOOST, quantity))
        assert used.rowcount == 1
        self._conn.execute(ADD_BOOSTS, (season.key, user_id, added, quantity, at_text))
        return TierBoostUse(
            user_id=user_id, season=season.key, quantity=quantity, xp=added, tier_before=before,
            tier_after=season.tier_of(xp + added), boosts_left=held - quantity,
            used_at=datetime.fromisoformat(at_text),
        )  # fmt: skip

    # -- season end ------------------------------------------------------------------------

    def due(self, now: datetime) -> list[Season]:
        """Seasons that ended by ``now`` and are not archived yet."""
        due = []
        for season in self.seasons:
            if season.ends_at <= now:
                state = self._state(season.key)
                if state is None or state[1] is None:
                    due.append(season)
        return due

    def close(self, tx: Tx, season: Season, at: datetime, at_text: str) -> SeasonClose | None:
        """Close ``season`` (once), archive up to ``CLOSE_BATCH`` users and grant their
        unclaimed reached rewards; returns the result once no user is left, else None (call
        again)."""
        batch = CLOSE_BATCH
        self._conn.execute(CLOSE_SEASON, (season.key, at_text))
        rows = self._conn.execute(USERS_TO_ARCHIVE, (season.key, batch)).fetchall()
        for user_id, xp, premium_at in rows:
            tier = season.tier_of(xp)
            self._grant_unclaimed(tx, season, user_id, tier, premium_at is not None, at, at_text)
            self._conn.execute(ARCHIVE_USER, (tier, at_text, season.key, user_id))
        if len(rows) == batch:
            return None
        row = self._conn.execute(FINISHED_SEASON, (season.key,)).fetchone()
        if row[2] is not None:
            users, granted, archived_text = row
        else:
            users, granted = self._conn.execute(FINISH_SEASON, (at_text, season.key)).fetchone()
            archived_text = at_text
        return SeasonClose(season.key, users, granted, datetime.fromisoformat(archived_text))

    def _grant_unclaimed(
        self,
        tx: Tx,
        season: Season,
        user_id: str,
        tier: int,
        premium: bool,
        at: datetime,
        at_text: str,
    ) -> None:
        claimed = {
            (track, claimed_tier)
            for track, claimed_tier, _, _ in self._conn.execute(USER_CLAIMS, (season.key, user_id))
        }
        for track in TRACKS:
            if track == "premium" and not premium:
                continue
            for reward in sorted(season.rewards(track), key=lambda r: r.tier):
                if reward.tier <= tier and (track, reward.tier) not in claimed:
                    self._check_achievements(reward)
                    self._pay(tx, season, user_id, track, reward, at, at_text, auto=True)


def check_track(track: Any) -> str:
    if track not in TRACKS:
        raise InvalidInput("track", f"expected 'free' or 'premium', got {track!r}")
    return str(track)
