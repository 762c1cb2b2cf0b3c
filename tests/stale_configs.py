"""What the stale-configuration tests share: the configurations two engines disagree on,
and a file's whole content, to show a refused write left it as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs

from gamification_sdk import Config, LeaderboardsConfig

PUBLIC = LeaderboardsConfig(visibility="public", show_on_global=True)
NO_BOARD = Config(leaderboards=attrs.evolve(PUBLIC, boards=()))
XP_BOARD = Config(leaderboards=PUBLIC)


def file_dump(path: Path) -> str:
    """Every statement that would rebuild the file: equal dumps, equal content."""
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()
