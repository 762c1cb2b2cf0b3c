"""``g.achievements``: every achievement with a user's progress, or one of them."""

from __future__ import annotations

from ..core.checks import optional_text
from ..core.clock import to_text
from ..core.validation import check_id, check_text
from ..errors import InvalidInput, NotFound
from ..models import AchievementStatus
from ..runtime.runtime import Runtime
from .achievements import Achievements

__all__ = ["AchievementsService"]


class AchievementsService:
    def __init__(self, rt: Runtime, achievements: Achievements) -> None:
        self._rt = rt
        self._store = rt.store
        self._achievements = achievements

    def list(
        self, user_id: str, *, include_hidden: bool = False, category: str | None = None
    ) -> list[AchievementStatus]:
        """Every achievement with the user's progress; hidden ones only once unlocked."""
        check_id(user_id)
        optional_text(category, "category", 50)
        if type(include_hidden) is not bool:
            raise InvalidInput("include_hidden", "expected True or False")
        moment = self._rt.now()
        with self._store.read():
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            return self._achievements.listing(ctx, include_hidden=include_hidden, category=category)

    def get(self, user_id: str, key: str) -> AchievementStatus:
        """One achievement with the user's progress; ``NotFound`` if unknown (or still secret)."""
        check_id(user_id)
        check_text(key, "key", max_length=100)
        moment = self._rt.now()
        with self._store.read():
            entry = self._achievements.catalogue.entries.get(key)
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            earned = ctx.unlocked(key)
            if entry is None or ((entry.retired or entry.definition.hidden) and not earned):
                raise NotFound("key", key)
            return self._achievements.status(ctx, entry)
