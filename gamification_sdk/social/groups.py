"""Groups, friends and privacy: who is on which board, under which name."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Callable, Iterable

from ..config import Config
from ..models import Privacy
from ..storage.groups import (
    ADD_FRIEND,
    FRIENDS,
    GROUP_KIND,
    JOIN_GROUP,
    LEAVE_GROUP,
    MEMBERS,
    NEW_GROUP,
    PRIVACY,
    READ_SALT,
    SAVE_SALT,
    UNFRIEND,
    USER_GROUPS,
    people_sql,
    set_privacy_sql,
)

__all__ = ["Person", "Social"]

FriendsOf = Callable[[str], Iterable[str] | None]


class Person:
    """What a board shows of a user, and who may see them."""

    __slots__ = ("display_name", "level", "visibility")

    def __init__(self, display_name: str, level: int, visibility: str) -> None:
        self.display_name = display_name
        self.level = level
        self.visibility = visibility


class Social:
    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self._conn = conn
        settings = config.leaderboards
        self._visibility = settings.visibility
        self._on_global = settings.show_on_global
        self._style = settings.display_name
        self._salt = b""
        # Set by the engine when a plugin answers friends_of: the host owns the graph.
        self.friends_of: FriendsOf | None = None

    def setup(self) -> None:
        """Make (once) and load the secret that keeps anonymous numbers unguessable."""
        self._conn.execute(SAVE_SALT, (secrets.token_hex(16),))
        (salt,) = self._conn.execute(READ_SALT).fetchone()
        self._salt = salt.encode()

    def anonymous_name(self, user_id: str) -> str:
        """``Anonymous #1234``: the same for a user every time, not derivable from the id."""
        digest = hashlib.blake2b(user_id.encode(), key=self._salt, digest_size=8).digest()
        return f"Anonymous #{int.from_bytes(digest, 'big') % 10_000:04d}"

    # -- privacy -----------------------------------------------------------------------------

    def privacy(self, user_id: str) -> Privacy:
        row = self._conn.execute(PRIVACY, (user_id,)).fetchone()
        visibility, on_global, style, real_name, username = row or (None,) * 5
        return Privacy(
            visibility=visibility or self._visibility,
            show_on_global=self._on_global if on_global is None else bool(on_global),
            display_name_type=style or self._style,
            real_name=real_name,
            username=username,
        )

    @staticmethod
    def listed(privacy: Privacy) -> bool:
        """Whether global boards show the user: public, and opted in."""
        return privacy.visibility == "public" and privacy.show_on_global

    def set_privacy(self, user_id: str, changes: dict[str, object], at_text: str) -> None:
        self._conn.execute(set_privacy_sql(changes), (*changes.values(), at_text, user_id))

    def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        ids = list(dict.fromkeys(user_ids))
        found: dict[str, Person] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = people_sql(len(chunk))
            for user_id, level, real_name, username, visibility, _, style in self._conn.execute(
                sql, chunk
            ):
                found[user_id] = Person(
                    self._name(user_id, style or self._style, real_name, username),
                    level,
                    visibility or self._visibility,
                )
        return found

    def _name(self, user_id: str, style: str, real_name: str | None, username: str | None) -> str:
        if style == "anonymous":
            return self.anonymous_name(user_id)
        if style == "real_name" and real_name:
            return real_name
        return username or user_id

    # -- groups ------------------------------------------------------------------------------

    def group_kind(self, group: str) -> str | None:
        row = self._conn.execute(GROUP_KIND, (group,)).fetchone()
        return None if row is None else str(row[0])

    def join(self, user_id: str, group: str, kind: str, at_text: str) -> bool:
        self._conn.execute(NEW_GROUP, (group, kind, at_text))
        cursor = self._conn.execute(JOIN_GROUP, (group, user_id, at_text))
        return cursor.rowcount == 1

    def leave(self, user_id: str, group: str) -> bool:
        cursor = self._conn.execute(LEAVE_GROUP, (group, user_id))
        return cursor.rowcount == 1

    def members(self, group: str) -> list[str]:
        return [user_id for (user_id,) in self._conn.execute(MEMBERS, (group,))]

    def groups(self, user_id: str) -> dict[str, str]:
        """The user's groups: group -> kind."""
        return dict(self._conn.execute(USER_GROUPS, (user_id,)).fetchall())

    # -- friends -----------------------------------------------------------------------------

    def befriend(self, user_id: str, friend_id: str, at_text: str) -> bool:
        """Friendship is mutual: one call makes both edges."""
        added = 0
        for a, b in ((user_id, friend_id), (friend_id, user_id)):
            cursor = self._conn.execute(ADD_FRIEND, (a, b, at_text))
            added += cursor.rowcount
        return added > 0

    def unfriend(self, user_id: str, friend_id: str) -> bool:
        cursor = self._conn.execute(UNFRIEND, (user_id, friend_id))
        return cursor.rowcount > 0

    def friends(self, user_id: str) -> set[str]:
        """The user's friends: the ``friends_of`` plugin's answer, or the stored edges."""
        if self.friends_of is not None:
            answer = self.friends_of(user_id)
            if answer is not None:
                return {friend for friend in answer if friend != user_id}
        return {friend for (friend,) in self._conn.execute(FRIENDS, (user_id,))}
