"""``g.social``: groups, friends, and how a user appears on boards."""

from __future__ import annotations

from datetime import datetime

from ..core.clock import to_text
from ..core.validation import check_id, check_text
from ..errors import InvalidInput, UnknownGroup
from ..models import Privacy
from ..progression.profiles import Profiles
from ..runtime.runtime import Runtime
from .boards import Boards
from .groups import Social

__all__ = ["SocialService"]


class SocialService:
    """Groups (gyms, schools, teams...), friendships and privacy settings."""

    def __init__(self, rt: Runtime, social: Social, profiles: Profiles, boards: Boards) -> None:
        self._rt = rt
        self._social = social
        self._profiles = profiles
        self._boards = boards

    def join_group(
        self, user_id: str, group: str, *, kind: str, at: datetime | None = None
    ) -> bool:
        """Add the user to ``group`` (made on first join, with its ``kind``: gym, school,
        class, team...); False if they were in it already. Joining twice changes nothing."""
        check_id(user_id)
        check_id(group, "group")
        check_text(kind, "kind", max_length=50)
        _, at_text, _ = self._rt.moment(at)
        with self._rt.store.write():
            existing = self._social.group_kind(group)
            if existing is not None and existing != kind:
                raise InvalidInput("kind", f"group {group!r} is a {existing!r}, not {kind!r}")
            self._profiles.ensure(user_id, at_text)
            return self._social.join(user_id, group, kind, at_text)

    def leave_group(self, user_id: str, group: str) -> bool:
        """Take the user out of ``group``; False if they were not in it."""
        check_id(user_id)
        check_id(group, "group")
        with self._rt.store.write():
            if self._social.group_kind(group) is None:
                raise UnknownGroup(group)
            return self._social.leave(user_id, group)

    def groups(self, user_id: str) -> dict[str, str]:
        """The user's groups and their kinds."""
        check_id(user_id)
        with self._rt.store.read():
            return self._social.groups(user_id)

    def add_friend(self, user_id: str, friend_id: str, *, at: datetime | None = None) -> bool:
        """Make two users friends (both ways); False if they were already."""
        check_id(user_id)
        check_id(friend_id, "friend_id")
        if friend_id == user_id:
            raise InvalidInput("friend_id", "a user cannot be their own friend")
        _, at_text, _ = self._rt.moment(at)
        with self._rt.store.write():
            self._profiles.ensure(user_id, at_text)
            self._profiles.ensure(friend_id, at_text)
            return self._social.befriend(user_id, friend_id, at_text)

    def remove_friend(self, user_id: str, friend_id: str) -> bool:
        """End a friendship (both ways); False if there was none."""
        check_id(user_id)
        check_id(friend_id, "friend_id")
        if friend_id == user_id:
            raise InvalidInput("friend_id", "a user cannot be their own friend")
        with self._rt.store.write():
            return self._social.unfriend(user_id, friend_id)

    def friends(self, user_id: str) -> list[str]:
        """The user's friends (the ``friends_of`` plugin's, when one answers)."""
        check_id(user_id)
        with self._rt.store.read():
            return sorted(self._social.friends(user_id))

    def privacy(self, user_id: str) -> Privacy:
        """How the user appears on boards."""
        check_id(user_id)
        with self._rt.store.read():
            return self._social.privacy(user_id)

    def set_privacy(
        self,
        user_id: str,
        *,
        visibility: str | None = None,
        show_on_global: bool | None = None,
        display_name_type: str | None = None,
        real_name: str | None = None,
        username: str | None = None,
    ) -> Privacy:
        """Change how the user appears on boards (arguments left None stay as they are).

        ``visibility``: public, friends_only or private. ``show_on_global``: whether global
        boards list them (only when public). ``display_name_type``: real_name, username or
        anonymous (a stable "Anonymous #1234").
        """
        check_id(user_id)
        changes: dict[str, object] = {}
        for name, value, allowed in (
            ("visibility", visibility, ("public", "friends_only", "private")),
            ("display_name_type", display_name_type, ("real_name", "username", "anonymous")),
        ):
            if value is not None:
                if value not in allowed:
                    raise InvalidInput(name, f"expected one of {', '.join(allowed)}, got {value!r}")
                changes[name] = value
        if show_on_global is not None:
            if type(show_on_global) is not bool:
                raise InvalidInput("show_on_global", f"expected bool, got {show_on_global!r}")
            changes["show_on_global"] = int(show_on_global)
        for name, text in (("real_name", real_name), ("username", username)):
            if text is not None:
                changes[name] = check_text(text, name, max_length=100)
        at_text = to_text(self._rt.now())
        with self._rt.store.write():
            self._profiles.ensure(user_id, at_text)
            before = self._social.listed(self._social.privacy(user_id))
            if changes:
                self._social.set_privacy(user_id, changes, at_text)
            privacy = self._social.privacy(user_id)
            if self._social.listed(privacy) != before:
                self._boards.set_listed(user_id, not before)
            return privacy
