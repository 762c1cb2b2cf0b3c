"""The statements of cli/state.py: the command line's checks on the database it opened."""

from __future__ import annotations

__all__ = ["USER_EXISTS"]

USER_EXISTS = "SELECT 1 FROM profiles WHERE user_id = ?"
