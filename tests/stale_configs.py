"""What the stale-configuration tests share: the configurations two engines disagree on,
and a file's whole content, to show a refused write left it as it was."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from gamification_sdk import Config, LeaderboardsConfig
from gamification_sdk.errors import StaleConfig

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


def refused_as_stale(path: Path, call: Callable[[], object]) -> StaleConfig:
    """Run ``call``, which must raise ``StaleConfig`` and leave the file at ``path`` as it was."""
    before = file_dump(path)
    with pytest.raises(StaleConfig) as caught:
        call()
    assert file_dump(path) == before
    return caught.value
