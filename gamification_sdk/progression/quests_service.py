"""``g.quests``: the quest board, server-verified completions and the period rollover."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core.checks import optional_text
from ..core.clock import to_text
from ..core.validation import check_at, check_id, check_key, check_metadata, check_text, load_json
from ..economy.ratelimits import QUEST_COMPLETE, RateLimits
from ..errors import InvalidInput
from ..models import QuestBoard, QuestCompletion
from ..runtime.idempotency import fingerprint, json_codec
from ..runtime.runtime import Runtime
from ..storage.store import Tx
from .achievements import Achievements
from .profiles import Profiles
from .quests import Quests

__all__ = ["QuestsService"]


class QuestsService:
    def __init__(
        self,
        rt: Runtime,
        quests: Quests,
        achievements: Achievements,
        profiles: Profiles,
        limits: RateLimits,
    ) -> None:
        self._rt = rt
        self._store = rt.store
        self._quests = quests
        self._achievements = achievements
        self._profiles = profiles
        self._limits = limits

    def list(
        self, user_id: str, *, category: str | None = None, at: datetime | None = None
    ) -> QuestBoard:
        """The quests open to the user, grouped daily, weekly, monthly and special, each with
        this period's progress and when it expires."""
        check_id(user_id)
        optional_text(category, "category", 50)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            return self._quests.board(ctx, category)

    def complete(
        self,
        user_id: str,
        quest_key: str,
        *,
        idempotency_key: str,
        evidence: Any = None,
        at: datetime | None = None,
    ) -> QuestCompletion:
        """Complete a quest that needs verification on the server: the ``verify_quest`` hook
        decides on ``evidence`` (with no plugin answering, the tracked objectives must be
        met). Pays the quest's rewards once; refused (typed, nothing written) when the quest
        is unknown, closed, locked, expired, already completed this period or not verified."""
        check_id(user_id)
        check_text(quest_key, "quest_key", max_length=100)
        if idempotency_key is None:
            raise InvalidInput("idempotency_key", "required: a completion must be retry-safe")
        key = check_key(idempotency_key)
        proof = check_metadata(evidence, "evidence")
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> QuestCompletion:
            # Every refusal (seed 002's 10 a day included) comes before the first write, so
            # a refused call changes no row: inside a batch() it must not doom the batch.
            ctx = self._achievements.context(user_id, moment, at_text)
            self._limits.check(QUEST_COMPLETE, user_id, moment)
            checked = self._quests.verified(
                ctx, quest_key, proof and load_json(proof), self._rt.facade
            )
            if not ctx.exists:
                self._profiles.create(user_id, at_text)
            completion = self._quests.complete(tx, ctx, checked, proof)
            self._limits.record(QUEST_COMPLETE, user_id, moment, at_text)
            return completion

        return self._rt.write(
            "complete_quest",
            key,
            lambda: fingerprint(user_id, quest_key, proof, explicit),
            json_codec(QuestCompletion),
            at_text,
            body,
            user_id=user_id,
        )

    def close_periods(self, now: datetime | None = None) -> int:
        """Mark the unfinished progress of ended quest periods expired (the rollover job);
        returns how many rows changed. Running it again changes nothing."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        return self._rt.job(lambda tx: self._quests.close_periods(to_text(moment)))[0]
