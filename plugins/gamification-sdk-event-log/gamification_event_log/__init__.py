"""Log each committed gamification event as one JSON line on ``gamification_sdk.events``."""

from __future__ import annotations

import json
import logging
from typing import Any

import attrs

from gamification_sdk import hookimpl

log = logging.getLogger("gamification_sdk.events")


def _line(event: str, **fields: Any) -> str:
    return json.dumps({"event": event, **fields}, default=str, sort_keys=True)


@hookimpl
def on_xp_awarded(award: Any) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info(_line("xp_awarded", **attrs.asdict(award, recurse=True)))


@hookimpl
def on_level_up(user_id: str, old_level: int, new_level: int) -> None:
    log.info(_line("level_up", user_id=user_id, old_level=old_level, new_level=new_level))


@hookimpl
def on_points_changed(transaction: Any) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info(_line("points_changed", **attrs.asdict(transaction, recurse=True)))
