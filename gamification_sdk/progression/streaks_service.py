"""``g.streaks``: a user's streak, activity without events, rest days, freezes, the sweep."""

from __future__ import annotations

from datetime import date, datetime

from ..core.clock import to_text
from ..core.validation import check_at, check_id, check_key
from ..economy.inventory import Items
from ..errors import InvalidInput
from ..models import StreakStatus, SweepReport
from ..runtime.idempotency import fingerprint, json_codec
from ..runtime.runtime import Runtime
from ..storage.store import Tx
from .events import Tracker
from .profiles import Profiles
from .streaks import FREEZE, Streaks

__all__ = ["StreaksService"]


class StreaksService:
    def __init__(
        self,
        rt: Runtime,
        streaks: Streaks,
        tracker: Tracker,
        profiles: Profiles,
        items: Items,
    ) -> None:
        self._rt = rt
        self._store = rt.store
        self._streaks = streaks
        self._tracker = tracker
        self._profiles = profiles
        self._items = items

    def get(self, user_id: str, *, at: datetime | None = None) -> StreakStatus:
        """The user's streak as of ``at`` (default now), missed days settled on read."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return self._streaks.status(user_id, moment)

    def record_activity(
        self, user_id: str, *, at: datetime | None = None, idempotency_key: str | None = None
    ) -> StreakStatus:
        """Count the user's local day of ``at`` as active (for apps that track no events)."""
        check_id(user_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> StreakStatus:
            self._tracker.activity(tx, user_id, at=moment, at_text=at_text)
            return self._streaks.status(user_id, moment)

        return self._rt.write(
            "record_activity",
            key,
            lambda: fingerprint(user_id, explicit),
            json_codec(StreakStatus),
            at_text,
            body,
            user_id=user_id,
        )

    def schedule_rest_day(
        self, user_id: str, day: date, *, at: datetime | None = None
    ) -> StreakStatus:
        """Plan a rest day (today or later, at most ``rest_days_per_week`` per ISO week):
        it neither breaks nor extends the streak. Scheduling the same day again is a no-op."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        at_text = to_text(moment)
        with self._store.write():
            chosen, booked = self._streaks.check_rest_day(user_id, day, moment)
            if not booked:
                self._profiles.ensure(user_id, at_text)
                self._streaks.add_rest_day(user_id, chosen, at_text)
            return self._streaks.status(user_id, moment)

    def cancel_rest_day(
        self, user_id: str, day: date, *, at: datetime | None = None
    ) -> StreakStatus:
        """Drop a scheduled rest day that has not begun; a no-op if none was scheduled."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.write():
            self._streaks.cancel_rest_day(user_id, day, moment)
            return self._streaks.status(user_id, moment)

    def grant_freezes(
        self,
        user_id: str,
        count: int,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> StreakStatus:
        """Give the user ``count`` streak freezes (a reward or a purchase the host made)."""
        check_id(user_id)
        if type(count) is not int or not 1 <= count <= 1000:
            raise InvalidInput("count", f"expected an int from 1 to 1000, got {count!r}")
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> StreakStatus:
            self._profiles.ensure(user_id, at_text)
            # Days already over are settled with the freezes held then, not with these.
            self._streaks.settle_user(tx, user_id, moment, at_text)
            self._items.grant_item(user_id, FREEZE, count, at_text)
            return self._streaks.status(user_id, moment)

        return self._rt.write(
            "grant_streak_freezes",
            key,
            lambda: fingerprint(user_id, count, explicit),
            json_codec(StreakStatus),
            at_text,
            body,
            user_id=user_id,
        )

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Write down broken and frozen streaks of users whose day ended, and send "streak at
        risk" warnings. Safe to run any number of times: a second run finds nothing to do."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        failures: list[tuple[str, BaseException]] = []
        report = self._streaks.sweep(
            self._store,
            moment,
            lambda tx: self._rt.dispatch(tx, None, failures),
            lambda user_id: self._rt.frame(user_id=user_id),
            each_user=self._rt.locks_users,
        )
        self._rt.raise_hook_errors(failures, report)
        return report
