"""XP: awards with multipliers, level-ups that pay each crossed level once, boosts, prestige.

XP is not a ledger currency: it is never spent or moved between users, so a double-entry
pair per award would double the writes on the hottest path for no audit value. It has a
log of its own (``xp_awards``) whose amounts always sum to ``profiles.xp``, and
``verify_ledger`` checks that too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..config.convert import converter
from ..core.clock import to_text
from ..core.multiply import apply_multiplier, check_factors
from ..core.validation import MAX_TOTAL
from ..economy.ledger import Ledger, Posting
from ..errors import InvalidInput, PrestigeUnavailable
from ..models import AwardRequest, LevelUpReward, XPAward, XPBoost, XPEntry
from ..runtime.bus import XPAwarded
from ..runtime.idempotency import Codec
from ..runtime.outbox import Notifications
from ..runtime.plugins import BUILTIN_MULTIPLIERS, run_vetoes
from ..storage.backend import one_cursor
from ..storage.store import Tx
from ..storage.xp import (
    ACTIVE_BOOSTS,
    AWARD_STATE,
    BOOST_STATE,
    EXTEND_BOOSTS,
    GRANT_LEVEL,
    GRANT_TITLE,
    HISTORY,
    KEY_HOME,
    NEW_AWARD,
    NEW_BOOST,
    NEW_PRESTIGE,
    NEW_UNSIGNED,
    ONE_AWARD,
    PRESTIGE,
    PRESTIGE_STATE,
    SET_XP,
)
from .levels import LevelTable
from .profiles import Profiles

if TYPE_CHECKING:
    import pluggy


# KEY_HOME (the statement that finds a key in the XP log) is exported here too: the engine
# hands it to Idempotency with XP.
__all__ = ["KEY_HOME", "XP", "key_in_row"]


def _entry(row: tuple[Any, ...]) -> XPEntry:
    return XPEntry(
        id=row[0],
        user_id=row[1],
        base_amount=row[2],
        multiplier=row[3],
        amount=row[4],
        total_xp=row[5],
        level_before=row[6],
        level_after=row[7],
        source=row[8],
        metadata=None if row[9] is None else json.loads(row[9]),
        idempotency_key=row[10],
        created_at=datetime.fromisoformat(row[11]),
    )


# What json.dumps gives a str (ensure_ascii), without its two Python-level calls: a keyed
# award's and a keyed track's stored result name the user with it.
_json_text: Callable[[str], str] = encode_basestring_ascii


def _no_confirm(version: int | None) -> None:
    """Until the parts are wired, nothing to confirm."""


def key_in_row(award: XPAward) -> bool:
    """Whether a keyed award_xp keeps its key in its log row: unless it levelled up."""
    return not award.leveled_up


class XP:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        table: LevelTable,
        profiles: Profiles,
        ledger: Ledger,
        pm: pluggy.PluginManager,
        facade: Any,
    ) -> None:
        self._conn = conn
        # The award's own three statements (its state, its log row, the profile update).
        self._execute = one_cursor(conn)
        self._config = config
        self._table = table
        self._profiles = profiles
        self._ledger = ledger
        self._pm = pm
        self._hook = pm.hook
        # Whether only the built-in plugins answer xp_multiplier, whether any plugin vets
        # awards, and the registrations (PluginManager.generation) that was decided at:
        # decided again only when they move.
        self._builtin_only = True
        self._vetoes = False
        self._seen: int | None = None
        # The facade only to pass plugins as engine= (runtime.facade): never called here.
        self._facade = facade
        self._rewards = {reward.level: reward for reward in config.levels.rewards}
        self._bonus = dict(config.levels.level_up_bonus)
        # (user_id, prestige, boosts_until) of the award in progress: the default multiplier
        # plugin reads it instead of querying the row award() has just read.
        self._current: tuple[str, int, str | None] | None = None
        self.notifications: Notifications | None = None
        # Set when the parts are wired: what follows XP (boards, the battle pass) subscribes.
        self.publish_xp: Callable[[XPAwarded], None] | None = None
        # When the boards are the only ones following XPAwarded: the call that adds many
        # awards to them at once (user, amount, at), for batch() (see bulk.py).
        self.boards_only: Callable[[list[tuple[str, int, datetime]]], None] | None = None
        # When a board keeps its scores in the profile row (social/board_slots.py): the call
        # that writes the award's profile update with them, (user, xp, level, updated_at,
        # amount, at, the periods the slots hold), in place of SET_XP: one statement, no
        # page of the board's own.
        self.write_xp: (
            Callable[[str, int, int, str, int, datetime, tuple[int | None, ...]], None] | None
        ) = None
        # When status tiers are configured: the held tier's XP multiplier (what the built-in
        # tiers plugin answers), asked directly while only the built-in plugins multiply.
        self.tier_factor: Callable[[str], float | None] | None = None
        self.codec = Codec(self._encode, self._decode, key_in_row)
        # Store.confirm: award() hands it the configuration version its first read returns.
        self.confirm: Callable[[int | None], None] = _no_confirm
        # How many awards, boosts and prestiges have begun: a row read of a user's XP state
        # (track()'s, Context.award_state) stands for award() only while this has not moved
        # since it was read, so nothing (a quest's reward, a plugin) wrote XP in between.
        self.writes = 0

    def boost_factor(self, user_id: str, at: datetime) -> float | None:
        """The built-in multiplier: every active boost times the permanent prestige boost."""
        current = self._current
        if current is not None and current[0] == user_id:
            prestige, boosts_until = current[1], current[2]
        else:
            row = self._conn.execute(BOOST_STATE, (user_id,)).fetchone()
            if row is None:
                return None
            prestige, boosts_until = row
        factors: list[float] = []
        # boosts_until is the latest expiry of any boost: past it, there is nothing to query.
        if boosts_until is not None:
            at_text = to_text(at)
            if boosts_until > at_text:
                factors = [
                    r[0] for r in self._conn.execute(ACTIVE_BOOSTS, (user_id, at_text, at_text))
                ]
        if prestige:
            factors.append(1.0 + self._config.prestige_boost * prestige)
        if not factors:
            return None
        product = 1.0
        for factor in factors:
            product *= factor
        return product

    def only_builtin_multiplier(self) -> bool:
        """Whether the built-in plugins (boosts, status tiers) are the only
        ``xp_multiplier``s: then what they answer is asked directly (pluggy's dispatch costs
        about a quarter of a batched award)."""
        generation = getattr(self._pm, "generation", None)
        if generation is None or generation != self._seen:
            self._decide(generation)
        return self._builtin_only

    def _decide(self, generation: int | None) -> None:
        impls = self._hook.xp_multiplier.get_hookimpls()
        self._builtin_only = all(impl.plugin_name in BUILTIN_MULTIPLIERS for impl in impls)
        self._vetoes = bool(self._hook.validate_award.get_hookimpls())
        self._seen = generation

    def _vet(
        self, user_id: str, base: int, source: str, metadata: Any, at: datetime, origin: str
    ) -> None:
        run_vetoes(
            self._pm,
            self._facade,
            lambda: AwardRequest("xp", user_id, base, source, None, metadata, at, origin=origin),
        )
        # A vetting plugin may register or unregister plugins: the multiplier check that
        # follows sees them, as when it asked pluggy after the vetoes on every award.
        generation = getattr(self._pm, "generation", None)
        if generation is None or generation != self._seen:
            self._decide(generation)

    def read_ahead(self, tx: Tx, user_id: str) -> bool:
        """Queue ``award``'s read of the user (Runtime.write's ``ahead``); writes nothing."""
        tx.queue_ahead(self._conn, AWARD_STATE, (user_id,))
        return False

    def award(
        self,
        tx: Tx,
        user_id: str,
        base: int,
        *,
        source: str,
        metadata: str | None,
        key: str | None,
        at: datetime,
        at_text: str,
        origin: str,
        signature: bytes | None = None,
        state: tuple[Any, ...] | None = None,
        seen: int = -1,
    ) -> XPAward:
        """``signature``: a direct award_xp's fingerprint, kept in its row (``key_in_row``).

        ``origin`` is what pays the award, for ``validate_award`` (``AwardRequest.origin``).

        ``state``: the user's row as AWARD_STATE reads it, read in this transaction when
        ``writes`` was ``seen`` (track()'s first read); taken only if it still is.
        """
        execute = self._execute
        writes = self.writes
        self.writes = writes + 1
        if state is not None and seen == writes:
            row: Any = state
        else:
            queued = tx.take(AWARD_STATE, (user_id,)) if tx.ahead else None
            row = (queued or execute(AWARD_STATE, (user_id,))).fetchone()
        held: tuple[int | None, ...] = (None, None, None)
        if row is None:
            self._profiles.refuse_unknown(user_id)
            xp, old_level, prestige, xp_at_prestige, boosts_until, last_id = 0, 1, 0, 0, None, 0
        else:
            xp, old_level, prestige, xp_at_prestige, boosts_until, last_id = row[:6]
            held = row[6:9]
            if row is not state:  # a handed-over row's version was confirmed as it was read
                self.confirm(row[9])
        self._current = (user_id, prestige, boosts_until)
        metadata_value: Any = None if metadata is None else json.loads(metadata)
        generation = getattr(self._pm, "generation", None)
        if generation is None or generation != self._seen:
            self._decide(generation)
        if self._vetoes:
            self._vet(user_id, base, source, metadata_value, at, origin)
        try:
            if self._builtin_only:
                # Only the built-in plugin answers: call it directly, same result.
                if boosts_until is None and not prestige:
                    factors = []
                else:
                    only = self.boost_factor(user_id, at)
                    factors = [] if only is None else [only]
                if self.tier_factor is not None:
                    tier = self.tier_factor(user_id)
                    if tier is not None:
                        factors.append(tier)
            else:
                factors = [
                    f
                    for f in self._hook.xp_multiplier(
                        engine=self._facade,
                        user_id=user_id,
                        source=source,
                        base_amount=base,
                        at=at,
                        metadata=metadata_value,
                    )
                    if f is not None
                ]
        finally:
            self._current = None
        if factors:
            check_factors(factors, "xp_multiplier")
            amount, multiplier = apply_multiplier(base, factors, self._config.max_xp_multiplier)
        else:
            amount, multiplier = base, 1.0
        total = xp + amount
        if total > MAX_TOTAL:
            raise InvalidInput("amount", f"would push total XP past {MAX_TOTAL}")
        new_level = self._table.level_for(total - xp_at_prestige)
        # The profile is created only now: every refusal above comes before any write, so a
        # refused award inside a batch leaves nothing behind (see Store.write).
        if row is None:
            self._profiles.create(user_id, at_text)
        # Award ids count per user: the log is clustered by (user_id, id), so an award
        # touches one page of it instead of a table page plus an index page, and the
        # next id is one seek on that same page.
        award_id = (last_id or 0) + 1
        row_values = (
            user_id,
            award_id,
            base,
            multiplier,
            amount,
            total,
            old_level,
            new_level,
            source,
            "" if metadata is None else metadata,  # NULL: see NEW_AWARD
            "" if key is None else key,
            at_text,
        )
        if signature is None or new_level > old_level:
            execute(NEW_UNSIGNED, row_values)
        else:
            # A bytearray: the sqlite3 module binds it directly, where bytes go through its
            # adapter lookup first (about 0.5 µs); the stored blob is the same.
            execute(NEW_AWARD, (*row_values, bytearray(signature)))
        if amount and self.write_xp is not None:
            self.write_xp(user_id, total, new_level, at_text, amount, at, held)
        else:
            execute(SET_XP, (total, new_level, at_text, user_id))
        if amount and self.publish_xp is not None:
            self.publish_xp(XPAwarded(user_id, amount, at, at_text))
        rewards: tuple[LevelUpReward, ...] = ()
        if new_level > old_level:
            rewards = self._level_rewards(
                tx, user_id, prestige, old_level, new_level, award_id, at, at_text
            )
        result = XPAward(
            id=award_id,
            user_id=user_id,
            base_amount=base,
            multiplier=multiplier,
            amount=amount,
            total_xp=total,
            old_level=old_level,
            new_level=new_level,
            leveled_up=new_level > old_level,
            rewards=rewards,
            source=source,
            created_at=at,
            idempotency_key=key,
        )
        tx.emit("on_xp_awarded", award=result)
        if new_level > old_level:
            if self.notifications is not None:
                self.notifications.add(
                    tx, user_id, "level_up", f"Level up! You reached level {new_level}",
                    {"old_level": old_level, "new_level": new_level, "award_id": award_id},
                    at, at_text,
                )  # fmt: skip
            tx.emit(
                "on_level_up",
                user_id=user_id,
                old_level=old_level,
                new_level=new_level,
                award=result,
            )
        return result

    def _level_rewards(
        self,
        tx: Tx,
        user_id: str,
        prestige: int,
        old_level: int,
        new_level: int,
        award_id: int,
        at: datetime,
        at_text: str,
    ) -> tuple[LevelUpReward, ...]:
        granted = []
        for level in range(old_level + 1, new_level + 1):
            # Once per (user, prestige, level), whatever path led here.
            cursor = self._conn.execute(GRANT_LEVEL, (user_id, prestige, level, award_id, at_text))
            if cursor.rowcount == 0:
                continue
            reward = self._rewards.get(level)
            points = dict(self._bonus)
            titles: tuple[str, ...] = ()
            if reward is not None:
                for currency, amount in reward.points.items():
                    points[currency] = points.get(currency, 0) + amount
                titles = reward.titles
            transaction_ids = []
            for currency, amount in sorted(points.items()):
                posting = Posting(
                    "bonus",
                    currency,
                    amount,
                    user_id,
                    "level_up",
                    at,
                    at_text,
                    reference=("level", str(level)),
                    description=f"Level {level - 1} \u2192 {level} bonus",
                    key=f"level-reward:{user_id}:{prestige}:{level}:{currency}",
                )
                transaction = self._ledger.credit(tx, posting, origin="level_up")
                transaction_ids.append(transaction.id)
            for title in titles:
                self._conn.execute(GRANT_TITLE, (user_id, title, f"level:{level}", at_text))
            if points or titles:
                granted.append(LevelUpReward(level, points, titles, tuple(transaction_ids)))
        return tuple(granted)

    def add_boost(
        self,
        user_id: str,
        factor: float,
        *,
        source: str,
        starts_at: datetime,
        expires_at: datetime,
        at_text: str,
    ) -> XPBoost:
        self.writes += 1  # boosts_until moves (see ``writes``)
        cursor = self._conn.execute(
            NEW_BOOST,
            (user_id, factor, source, to_text(starts_at), to_text(expires_at), at_text),
        )
        self._conn.execute(EXTEND_BOOSTS, (to_text(expires_at), user_id))
        return XPBoost(int(cursor.lastrowid or 0), user_id, factor, source, starts_at, expires_at)

    def prestige(self, user_id: str, at_text: str) -> int:
        self.writes += 1  # prestige, xp_at_prestige and level move (see ``writes``)
        row = self._conn.execute(PRESTIGE_STATE, (user_id,)).fetchone()
        if row is None:
            self._profiles.refuse_unknown(user_id)
            raise PrestigeUnavailable(user_id, 1, self._table.max_level)
        xp, level, prestige = row[0], row[1], row[2]
        if level < self._table.max_level:
            raise PrestigeUnavailable(user_id, level, self._table.max_level)
        prestige += 1
        self._conn.execute(PRESTIGE, (prestige, at_text, user_id))
        self._conn.execute(NEW_PRESTIGE, (user_id, prestige, xp, at_text))
        return int(prestige)

    def history(self, user_id: str, *, limit: int, before: int | None) -> list[XPEntry]:
        cursor = self._conn.execute(
            HISTORY, (user_id, before if before is not None else 2**63 - 1, limit)
        )
        return [_entry(row) for row in cursor]

    def _encode(self, award: XPAward) -> str:
        # The award row holds everything but the rewards, which are stored only when paid.
        if not award.rewards:
            return f"[{_json_text(award.user_id)},{award.id}]"
        rewards = converter.unstructure(award.rewards)
        return json.dumps([award.user_id, award.id, rewards], separators=(",", ":"))

    def _decode(self, text: str) -> XPAward:
        stored = json.loads(text)
        row = self._conn.execute(ONE_AWARD, (stored[0], stored[1])).fetchone()
        entry = _entry(row)
        rewards = (
            converter.structure(stored[2], tuple[LevelUpReward, ...]) if len(stored) > 2 else ()
        )
        return XPAward(
            id=entry.id,
            user_id=entry.user_id,
            base_amount=entry.base_amount,
            multiplier=entry.multiplier,
            amount=entry.amount,
            total_xp=entry.total_xp,
            old_level=entry.level_before,
            new_level=entry.level_after,
            leveled_up=entry.level_after > entry.level_before,
            rewards=rewards,
            source=entry.source,
            created_at=entry.created_at,
            idempotency_key=entry.idempotency_key,
        )
