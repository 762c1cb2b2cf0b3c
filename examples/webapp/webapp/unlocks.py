"""Which achievements one request unlocked, heard through the SDK's after-commit hook."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from gamification_sdk import hookimpl
from gamification_sdk.models import Unlock

__all__ = ["UnlockCollector"]


class UnlockCollector:
    """Hears the achievements a request unlocks. ``quests.complete`` returns the completion
    but not the badges it unlocked; the SDK calls ``on_achievement_unlocked`` after commit,
    in the thread that made the call, so a thread-local list catches exactly this request's."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def collect(self) -> Iterator[list[Unlock]]:
        found: list[Unlock] = []
        self._local.found = found
        try:
            yield found
        finally:
            self._local.found = None

    @hookimpl
    def on_achievement_unlocked(self, unlock: Unlock) -> None:
        found = getattr(self._local, "found", None)
        if found is not None:
            found.append(unlock)
