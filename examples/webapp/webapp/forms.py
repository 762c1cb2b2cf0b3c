"""What the HTML pages share: form idempotency keys, field errors, and local times.

Every write form carries a hidden ``key``, made when the form is rendered. The page hands it
to the SDK as the write's idempotency key, so a form submitted twice (a double click, a
browser retry, the back button) is applied once: the second submission replays the first.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from flask import current_app, request

from gamification_sdk import Gamification
from gamification_sdk.errors import InvalidInput

__all__ = ["engine", "form_key", "local", "new_key", "time_left", "whole_number"]


def engine() -> Gamification:
    return cast(Gamification, current_app.extensions["gamification"])


def new_key() -> str:
    """A fresh idempotency key for one rendered form."""
    return secrets.token_urlsafe(16)


def form_key() -> str:
    """The submitted form's key; a form without one was not rendered by us."""
    key = request.form.get("key", "")
    if not key:
        raise InvalidInput("key", "required: reload the page and submit the form again")
    return key


def whole_number(field: str, low: int, high: int) -> int:
    """An integer form field, refused in the SDK's words before anything is written."""
    raw = request.form.get(field, "").strip()
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(field, f"expected an int from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(field, f"expected an int from {low} to {high}, got {value}")
    return value


def local(moment: datetime | None, zone: str) -> str:
    """``Fri 4 Dec, 18:00 (Europe/Paris)``: a time on the user's own clock."""
    if moment is None:
        return "never"
    return f"{moment.astimezone(ZoneInfo(zone)):%a %d %b, %H:%M} ({zone})"


def time_left(until: datetime | None, now: datetime) -> str:
    """``2 d 5 h left``: what a quest period or a hold has to run."""
    if until is None:
        return "no end"
    seconds = int((until - now).total_seconds())
    if seconds <= 0:
        return "ended"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        return f"{days} d {hours} h left"
    if hours:
        return f"{hours} h {rest // 60} min left"
    return f"{max(1, rest // 60)} min left"
