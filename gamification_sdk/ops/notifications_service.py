"""``g.notifications``: a user's notifications, marking them read, and which kinds they get."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.checks import check_limit
from ..core.clock import to_text
from ..core.validation import check_id, check_row_id
from ..errors import InvalidInput
from ..models import Notification
from ..progression.profiles import Profiles
from ..runtime.outbox import Notifications, check_preferences
from ..runtime.runtime import Runtime

__all__ = ["NotificationsService"]


class NotificationsService:
    """What the engine told each user (level-ups, unlocks, streaks...) and their preferences."""

    def __init__(self, rt: Runtime, notifications: Notifications, profiles: Profiles) -> None:
        self._rt = rt
        self._notifications = notifications
        self._profiles = profiles

    def list(
        self, user_id: str, *, unread_only: bool = True, limit: int = 50
    ) -> list[Notification]:
        """The user's notifications, newest first."""
        check_id(user_id)
        check_limit(limit)
        if type(unread_only) is not bool:
            raise InvalidInput("unread_only", "expected True or False")
        with self._rt.store.read():
            return self._notifications.recent(user_id, unread_only=unread_only, limit=limit)

    def mark_read(self, user_id: str, ids: Iterable[int] | None = None) -> int:
        """Mark the user's notifications ``ids`` (or all) read; returns how many changed."""
        check_id(user_id)
        chosen = None
        if ids is not None:
            chosen = list(ids)
            for i in chosen:
                check_row_id(i, "ids")
        at_text = to_text(self._rt.now())
        with self._rt.store.write():
            return self._notifications.mark_read(user_id, chosen, at_text)

    def preferences(self, user_id: str) -> dict[str, bool]:
        check_id(user_id)
        with self._rt.store.read():
            return self._notifications.preferences(user_id)

    def set_preferences(self, user_id: str, **kinds: bool) -> dict[str, bool]:
        """Switch notification kinds on or off, e.g. ``level_up=False``; returns them all."""
        check_id(user_id)
        changes = check_preferences(kinds)
        at_text = to_text(self._rt.now())
        with self._rt.store.write():
            self._profiles.ensure(user_id, at_text)
            self._notifications.set_preferences(user_id, changes)
            return self._notifications.preferences(user_id)
