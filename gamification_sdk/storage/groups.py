"""The statements of social/groups.py: groups, friends, and the privacy settings of profiles."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ADD_FRIEND",
    "FRIENDS",
    "GROUP_KIND",
    "JOIN_GROUP",
    "LEAVE_GROUP",
    "MEMBERS",
    "NEW_GROUP",
    "PRIVACY",
    "READ_SALT",
    "SAVE_SALT",
    "UNFRIEND",
    "USER_GROUPS",
    "people_sql",
    "set_privacy_sql",
]

SAVE_SALT = (
    "INSERT INTO lb_settings (name, value) VALUES ('anonymous_salt', ?) "
    "ON CONFLICT (name) DO NOTHING"
)
READ_SALT = "SELECT value FROM lb_settings WHERE name = 'anonymous_salt'"
PRIVACY = (
    "SELECT visibility, show_on_global, display_name_type, real_name, username FROM profiles "
    "WHERE user_id = ?"
)
_PEOPLE = (
    "SELECT user_id, level, real_name, username, visibility, show_on_global, display_name_type "
    "FROM profiles WHERE user_id IN ({marks})"
)


def people_sql(users: int) -> str:
    """What boards show of ``users`` users (their ids bound in order)."""
    return _PEOPLE.format(marks=", ".join("?" * users))


def set_privacy_sql(columns: Iterable[str]) -> str:
    """Set the profile's privacy ``columns`` (checked names, bound in order), then
    ``updated_at`` and the user id."""
    assignments = ", ".join(f"{name} = ?" for name in columns)
    return f"UPDATE profiles SET {assignments}, updated_at = ? WHERE user_id = ?"


# -- groups ------------------------------------------------------------------------------------

GROUP_KIND = "SELECT kind FROM groups WHERE group_id = ?"
NEW_GROUP = (
    "INSERT INTO groups (group_id, kind, created_at) VALUES (?, ?, ?) "
    "ON CONFLICT (group_id) DO NOTHING"
)
JOIN_GROUP = (
    "INSERT INTO group_members (group_id, user_id, joined_at) VALUES (?, ?, ?) "
    "ON CONFLICT (group_id, user_id) DO NOTHING"
)
LEAVE_GROUP = "DELETE FROM group_members WHERE group_id = ? AND user_id = ?"
MEMBERS = "SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id"
USER_GROUPS = (
    "SELECT m.group_id, g.kind FROM group_members m JOIN groups g "
    "ON g.group_id = m.group_id WHERE m.user_id = ? ORDER BY m.group_id"
)

# -- friends: one row per direction --------------------------------------------------------------

# The service refuses a user befriending themselves, so only the key can conflict.
ADD_FRIEND = (
    "INSERT INTO friends (user_id, friend_id, created_at) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, friend_id) DO NOTHING"
)
UNFRIEND = (
    "DELETE FROM friends WHERE (user_id = ?1 AND friend_id = ?2) "
    "OR (user_id = ?2 AND friend_id = ?1)"
)
FRIENDS = "SELECT friend_id FROM friends WHERE user_id = ?"
