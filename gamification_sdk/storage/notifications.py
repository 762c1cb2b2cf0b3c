"""The statements of runtime/outbox.py: the notifications outbox and users' preferences."""

from __future__ import annotations

__all__ = [
    "ADD",
    "MARK_ALL_READ",
    "MARK_READ",
    "PREFERENCES",
    "RECENT",
    "RECENT_UNREAD",
    "SET_PREFERENCE",
]

# Stored unless the user switched the kind off, in one statement (a sweep stores thousands):
# the cursor's rowcount says which, its lastrowid the number (PostgreSQL's text returns it).
ADD = (
    "INSERT INTO notifications (user_id, kind, message, data, created_at) "
    "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM notification_preferences "
    "WHERE user_id = ? AND kind = ? AND enabled = 0)"
)
_LIST = (
    "SELECT id, user_id, kind, message, data, created_at, read_at FROM notifications "
    "WHERE user_id = ? {unread} ORDER BY id DESC LIMIT ?"
)
RECENT = _LIST.format(unread="")
RECENT_UNREAD = _LIST.format(unread="AND read_at IS NULL")
MARK_ALL_READ = "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL"
MARK_READ = "UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL"
PREFERENCES = "SELECT kind, enabled FROM notification_preferences WHERE user_id = ?"
SET_PREFERENCE = (
    "INSERT INTO notification_preferences (user_id, kind, enabled) VALUES (?, ?, ?) "
    "ON CONFLICT (user_id, kind) DO UPDATE SET enabled = excluded.enabled"
)
