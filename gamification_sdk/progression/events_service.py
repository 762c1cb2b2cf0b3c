"""``g.events``: tracking what users do, and the definitions that turn it into rewards."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.checks import check_event, check_value
from ..core.clock import to_text
from ..core.validation import check_id, check_key, check_metadata, check_text
from ..economy.shop import Shop
from ..errors import InvalidInput
from ..models import LoadReport, ReevaluateReport, TrackResult
from ..runtime.idempotency import Codec, fingerprint
from ..runtime.runtime import Runtime
from .achievements import Achievements
from .events import Tracker, reevaluate
from .loader import Loader
from .profiles import Profiles

__all__ = ["EventsService"]

_VALID_EVENTS = 4096  # a bound: event names come from callers


class EventsService:
    def __init__(
        self,
        rt: Runtime,
        tracker: Tracker,
        track_codec: Codec[TrackResult],
        loader: Loader,
        achievements: Achievements,
        profiles: Profiles,
        shop: Shop,
    ) -> None:
        self._rt = rt
        self._store = rt.store
        self._tracker = tracker
        self._track_codec = track_codec
        self._loader = loader
        self._achievements = achievements
        self._profiles = profiles
        self._shop = shop
        # Event names that passed check_event (a pure check of the str): a few names are
        # tracked over and over, and each check costs several calls.
        self._valid_events: set[str] = set()

    def track(
        self,
        user_id: str,
        event: str,
        *,
        value: float = 1,
        at: datetime | None = None,
        idempotency_key: str | None = None,
        metadata: Any = None,
    ) -> TrackResult:
        """Record what a user did: metrics, the event's rule rewards, and due achievements."""
        check_id(user_id)
        if type(event) is not str or event not in self._valid_events:
            check_event(event)
            if len(self._valid_events) < _VALID_EVENTS:
                self._valid_events.add(event)
        check_value(value)
        key = check_key(idempotency_key)
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "track",
            key,
            lambda: fingerprint(user_id, event, value, meta, explicit),
            self._track_codec,
            at_text,
            lambda tx: self._tracker.track(
                tx, user_id, event, value, at=moment, at_text=at_text, key=key, metadata=meta
            ),
            confirms=True,
            user_id=user_id,
            ahead=(
                (lambda tx: self._tracker.read_ahead(tx, user_id, event, value, moment, at_text))
                if self._rt.queues
                else None
            ),
        )

    def load(
        self, source: str | Path | Mapping[str, Any], *, name: str | None = None
    ) -> LoadReport:
        """Load a definition set (TOML/JSON path or mapping) as a whole, or raise ``ConfigError``.

        ``name`` identifies the set (default: the file's name); loading a set again updates
        what changed and retires what it no longer holds.
        """
        if name is None:
            if not isinstance(source, str | Path):
                raise InvalidInput("name", "name a definition set given as a mapping")
            name = Path(source).name
        check_text(name, "name", max_length=200)
        if not isinstance(source, str | Path | Mapping):
            kind = type(source).__name__
            raise InvalidInput("source", f"expected a path or a mapping, got {kind}")
        at_text = to_text(self._rt.now())
        with self._store.write():
            report = self._loader.load(source, name, at_text)
            self._shop.sync_stock()
        self._achievements.catalogue = self._loader.catalogue()
        return report

    def refresh(self) -> None:
        """Re-read definitions another process loaded into the same file."""
        with self._store.read():
            self._achievements.catalogue = self._loader.catalogue()

    def reevaluate(
        self,
        user_ids: Iterable[str] | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 200,
    ) -> ReevaluateReport:
        """Award what users already meet under new or changed definitions, exactly once.

        Runs ``chunk`` users per transaction. A run over all users records where it got to,
        so after an interruption the next call resumes there (if the definitions are the
        same). ``progress(done, total)`` is called after each chunk.
        """
        if type(chunk) is not int or not 1 <= chunk <= 10_000:
            raise InvalidInput("chunk", f"expected an int from 1 to 10000, got {chunk!r}")
        if progress is not None and not callable(progress):
            raise InvalidInput("progress", "expected a callable(done, total) or None")
        ids = None if user_ids is None else [check_id(u, "user_ids[]") for u in user_ids]
        return reevaluate(self._rt, self._profiles, self._achievements, ids, progress, chunk)
