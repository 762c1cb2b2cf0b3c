"""The facade a host app calls. It validates, opens the transaction, and delegates."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfoNotFoundError

import attrs
import pluggy
import sqlite_utils

from .config import Config
from .config.seasons import MAX_TIERS
from .core.clock import Clock, system_clock, to_text
from .core.validation import (
    MAX_TOTAL,
    check_amount,
    check_at,
    check_id,
    check_key,
    check_metadata,
    check_row_id,
    check_text,
    load_json,
)
from .economy.inventory import Items
from .economy.ledger import Ledger
from .economy.points_service import PointsService
from .economy.rate_limits_service import RateLimitsService
from .economy.ratelimits import QUEST_COMPLETE, RateLimits
from .economy.referrals import Referrals
from .economy.referrals_service import ReferralsService
from .economy.reservations import Reservations
from .economy.shop import Shop
from .economy.shop_service import ShopService
from .errors import (
    ConfigError,
    InvalidInput,
    NotFound,
    StaleConfig,
    UnknownGroup,
    UnknownUser,
)
from .models import (
    AchievementStatus,
    BattlePass,
    HistoryPage,
    Inventory,
    Leaderboard,
    LeaderboardEntry,
    LedgerReport,
    LoadReport,
    Notification,
    PeriodClose,
    PremiumPurchase,
    Privacy,
    Profile,
    QuestBoard,
    QuestCompletion,
    ReevaluateReport,
    Reservation,
    ScoredEvent,
    SeasonClose,
    Stats,
    StreakStatus,
    SweepReport,
    TierBoostUse,
    TierClaim,
    TrackResult,
    Transaction,
    UserDeletion,
    XPAward,
    XPBoost,
    XPEntry,
)
from .ops import audit
from .ops.jobs import Job, JobsReport, Scheduler, collect_jobs
from .ops.notifications import Notifications, check_preferences
from .ops.privacy import Privacy as PrivacyData
from .ops.stats import user_stats
from .progression.achievements import Achievements
from .progression.battlepass import BattlePasses, check_track
from .progression.bulk import BulkXP
from .progression.events import Tracker, reevaluate, track_codec
from .progression.levels import LevelCurve, LevelTable
from .progression.loader import Loader
from .progression.metrics import Metrics, zone
from .progression.profiles import Profiles
from .progression.quests import Quests
from .progression.streaks import FREEZE, Streaks
from .progression.xp import KEY_HOME, XP
from .runtime.idempotency import Codec, Idempotency, fingerprint, json_codec
from .runtime.plugins import get_plugin_manager, run_vetoes
from .runtime.runtime import Runtime
from .runtime.stored_config import (
    ConfigChange,
    Settings,
    StoredConfig,
    differences,
    local_part,
    stored_part,
)
from .social.boards import Boards
from .social.groups import Social
from .social.leaderboards import Leaderboards, Target
from .storage.schema import migrations
from .storage.store import Store, Tx

__all__ = ["Gamification"]

log = logging.getLogger("gamification_sdk")
T = TypeVar("T")


def _check_limit(limit: object) -> int:
    if type(limit) is not int or not 1 <= limit <= 1000:
        raise InvalidInput("limit", f"expected an int from 1 to 1000, got {limit!r}")
    return limit


def _check_before(before: object) -> int | None:
    return None if before is None else check_row_id(before, "before")


def _encode_deletion(result: UserDeletion) -> str:
    return json_codec(UserDeletion).encode(attrs.evolve(result, user_id=""))


_DELETION_CODEC = Codec(_encode_deletion, json_codec(UserDeletion).decode)


def _optional_text(value: object, field: str, max_length: int = 1000) -> str | None:
    return None if value is None else check_text(value, field, max_length=max_length)


def _check_event(event: object) -> str:
    check_text(event, "event", max_length=100)
    assert isinstance(event, str)
    if event.startswith("~") or "@" in event:
        raise InvalidInput("event", "must not start with '~' or contain '@' (reserved)")
    return event


def _check_season(season: object) -> str | None:
    if season is None:
        return None
    check_text(season, "season", max_length=64)
    assert isinstance(season, str)
    return season


def _check_value(value: object) -> float:
    """An int, or a finite float, from 0 to 2**53: metrics only grow."""
    if type(value) is not int and (type(value) is not float or not math.isfinite(value)):
        raise InvalidInput("value", f"expected an int or a finite number, got {value!r}")
    if not 0 <= value <= 2**53:
        raise InvalidInput("value", f"must be from 0 to 2**53, got {value!r}")
    return value


class Gamification:
    """One engine on one SQLite file. Safe to share between threads; open one per process.

    Use :meth:`open` to make one; it is a context manager.
    """

    # The capability services, one namespace each (built by _compose).
    points: PointsService
    shop: ShopService
    referrals: ReferralsService
    rate_limits: RateLimitsService

    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Clock,
        pm: pluggy.PluginManager,
        *,
        config_version: int = 0,
    ) -> None:
        self.clock = clock
        self.pm = pm
        self._store = store
        self._rt = Runtime(store, clock, pm, Idempotency(store.conn, homes=(KEY_HOME,)), config)
        self._rt.facade = self
        self._stored = StoredConfig(store.conn)
        self._config_version = config_version
        self._compose(config)
        store.rollback_listeners.append(self._boards.forget_ids)
        with store.write():
            migrations.apply(store.db)
            self._setup()
        self._register_plugin_definitions()
        self._jobs = Scheduler(
            self, store, config.scheduler, self._rt.now, collect_jobs(pm, config)
        )
        self.settings = Settings(
            store, self._stored, self._apply_config, lambda: self._config_version
        )
        if not store.memory:
            # Another process may change the stored configuration: each write checks.
            store.watch = self._watch

    def _compose(self, config: Config) -> None:
        """Build every service for ``config``; writes nothing."""
        self.config = config
        store = self._store
        pm = self.pm
        conn = store.conn
        self._table = LevelTable(self._curve(pm, config), config.levels.max_level)
        self._idempotency = self._rt.idempotency
        self._rt.config = config
        self._profiles = Profiles(conn, config, self._table)
        self._ledger = Ledger(conn, config, self._profiles)
        self._ledger.vet = lambda request: run_vetoes(pm, self, request)
        self._reservations = Reservations(conn, self._ledger)
        self._limits = RateLimits(conn, config)
        self._xp = XP(conn, config, self._table, self._profiles, self._ledger, pm, self)
        self._metrics = Metrics(conn)
        self._notifications = self._xp.notifications = Notifications(conn)
        self._items = Items(conn)
        self._achievements = Achievements(
            conn, config, self._metrics, self._ledger, self._items, self._notifications, self
        )
        self._achievements.xp = self._xp
        self._loader = Loader(conn, config)
        self._track_codec = track_codec(self._xp.codec, self._ledger.codec)
        self._streaks = Streaks(conn, config, self._items, self._notifications)
        self._streaks.xp = self._xp
        self._streaks.moved_xp = self._achievements.moved_xp
        self._quests = Quests(
            conn, config, self._metrics, self._items, self._notifications, self._achievements
        )
        if pm.hook.verify_quest.get_hookimpls():
            self._quests.verify = pm.hook.verify_quest
        self._referrals = Referrals(
            conn, config, self._profiles, self._ledger, self._achievements, self._metrics,
            self._items, self._notifications, self._limits, pm, self._rt.facade,
        )  # fmt: skip
        self._shop = Shop(
            store, self._ledger, self._reservations, self._items, self._streaks, self._limits,
            self._idempotency, pm, self._rt.facade, self._rt.dispatch, self._rt.now,
        )  # fmt: skip
        self._tracker = Tracker(
            self._profiles, self._metrics, self._xp, self._achievements, self._streaks,
            self._quests, config.streaks.activity_events,
        )  # fmt: skip
        self._boards = Boards(conn, config)
        self._social = Social(conn, config)
        self._leaderboards = Leaderboards(
            conn, config, self._boards, self._social, self._ledger, self._items,
            self._notifications,
        )  # fmt: skip
        self._ledger.boards = self._achievements.boards = self._boards
        # Boards are fixed at open: an award needs no call at all when none follows XP.
        self._xp.boards = self._boards if self._boards.follows("xp") else None
        self._battle_pass = BattlePasses(
            conn, config, self._ledger, self._items, self._achievements
        )
        if self._battle_pass.seasons:
            self._xp.battle_pass = self._battle_pass
        self._tracker.boards = self._boards
        self._bulk = BulkXP(
            store, self._xp, self._table, self._idempotency, self._achievements, self._boards, pm
        )
        self._privacy = PrivacyData(conn, self._ledger, self._reservations, self._boards)
        # -- services: economy --
        self.points = PointsService(
            self._rt, self._ledger, self._reservations, self._limits, self._profiles,
            self._achievements, self._shop, audit.verify,
        )  # fmt: skip
        self.shop = ShopService(self._rt, self._shop)
        self.referrals = ReferralsService(self._rt, self._referrals)
        self.rate_limits = RateLimitsService(self._rt, self._limits)
        self._register_scorers()
        if pm.hook.friends_of.get_hookimpls():
            self._social.friends_of = lambda user_id: pm.hook.friends_of(
                engine=self, user_id=user_id
            )

    def _setup(self) -> None:
        """What each service keeps in the file for its configuration (inside a write)."""
        now = self._rt.now()
        self._ledger.setup(to_text(now))
        self._social.setup()
        self._boards.setup(now)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        config: Config | None = None,
        clock: Clock | None = None,
        plugins: Iterable[object] = (),
        load_entrypoints: bool = True,
        adopt: bool = False,
    ) -> Gamification:
        """Open (creating and migrating as needed) an engine on ``path`` or ``":memory:"``.

        The parts of ``config`` that shape stored data are kept in the database: with no
        ``config`` the engine adopts the stored one; a ``config`` that differs from it
        raises ``ConfigMismatch`` and writes nothing (see ``settings``). ``adopt=True``
        takes only ``config``'s process-local fields (durability, busy_timeout, ...) and
        the stored rest.
        """
        if config is not None and not isinstance(config, Config):
            raise InvalidInput("config", f"expected a Config, got {type(config).__name__}")
        local = config if config is not None else Config()
        pm = get_plugin_manager(plugins, load_entrypoints=load_entrypoints)
        store = Store(
            str(path),
            durability=local.durability,
            busy_timeout=local.busy_timeout,
            cache_size_mb=local.cache_size_mb,
            checkpoint=local.checkpoint,
        )
        clock = clock or system_clock
        try:
            with store.write():
                fresh = "profiles" not in store.db.table_names()
                migrations.apply(store.db)
                at_text = to_text(check_at(clock(), "clock()"))
                resolved, version = StoredConfig(store.conn).resolve(config, at_text, fresh, adopt)
            return cls(store, resolved, clock, pm, config_version=version)
        except BaseException:
            store.close()
            raise

    def _watch(self) -> Callable[[], None] | None:
        """Inside a write, after another connection committed: has the stored configuration
        moved on? If so, the store rolls back and calls what this returns."""
        if self._stored.version() == self._config_version:
            return None
        found = self._stored.latest(self.config)
        assert found is not None

        def reread() -> None:
            self._reconfigure(found.config)
            self._config_version = found.version
            raise StaleConfig(found.version)

        return reread

    def _reconfigure(self, config: Config, tx_body: Callable[[], None] | None = None) -> None:
        """Run on ``config`` from now on: every service is rebuilt. ``tx_body`` runs in the
        same transaction as the services' setup; on any failure nothing changes."""
        store = self._store
        saved = dict(self.__dict__)
        store.rollback_listeners.remove(self._boards.forget_ids)
        try:
            self._compose(config)
            store.rollback_listeners.append(self._boards.forget_ids)
            with store.write():
                if tx_body is not None:
                    tx_body()
                self._setup()
                self._register_plugin_definitions()
        except BaseException:
            if self._boards.forget_ids in store.rollback_listeners:
                store.rollback_listeners.remove(self._boards.forget_ids)
            self.__dict__.clear()
            self.__dict__.update(saved)
            self._rt.config = self.config  # the runtime is shared, not copied: put it back
            store.rollback_listeners.append(self._boards.forget_ids)
            raise

    def _apply_config(self, config: Config) -> ConfigChange:
        """Store ``config``'s stored parts as the next version and run on it, in one
        transaction with the boards it adds (back-filled) and removes."""
        if not isinstance(config, Config):
            raise InvalidInput("config", f"expected a Config, got {type(config).__name__}")
        merged = Config.from_dict({**stored_part(config), **local_part(self.config)})
        with self._store.read():
            current = self._stored.latest(self.config)
        expected = 0 if current is None else current.version
        before = self.config if current is None else current.config
        changes = tuple(path for path, _ in differences(stored_part(before), stored_part(merged)))
        if not changes and current is not None:
            return ConfigChange(current.version, ())
        at_text = to_text(self._rt.now())
        written: list[int] = []

        def store_version() -> None:
            if self._stored.version() != expected:  # another process applied one meanwhile
                raise StaleConfig(self._stored.version())
            written.append(self._stored.store(merged, at_text, "apply"))

        self._reconfigure(merged, store_version)
        self._config_version = written[0]
        return ConfigChange(written[0], changes)

    @staticmethod
    def _curve(pm: pluggy.PluginManager, config: Config) -> LevelCurve:
        curve = pm.hook.level_curve(levels=config.levels)
        if curve is None:
            name = config.levels.custom if config.levels.curve == "custom" else config.levels.curve
            raise ConfigError([f"levels.curve: no plugin provides the curve {name!r}"])
        if not isinstance(curve, LevelCurve):
            raise ConfigError(["levels.curve: the plugin's curve has no total_xp_for(level)"])
        return curve

    def __enter__(self) -> Gamification:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the scheduler if it runs, then close the database connection.

        The engine cannot be used afterwards.
        """
        self._jobs.stop()
        self._store.close()

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils ``Database``, for introspection (not for hot paths)."""
        return self._store.db

    @property
    def level_table(self) -> LevelTable:
        return self._table

    def dump(self) -> str:
        """Every row as SQL text; equal dumps mean an unchanged database."""
        return self._store.dump()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run many writes in one transaction: all of them commit, or none do.

        After-commit hooks run once the batch commits. A write that is refused before it
        changes anything (bad input, ``InsufficientFunds``, a veto of a direct award, a
        conflict) can be caught and the batch goes on. A write that fails after changing rows
        (a veto of what it pays through rules or rewards, too) dooms the batch: it rolls back
        and raises ``BatchAborted``. A nested ``batch()`` is a
        savepoint, so a write wrapped in one can fail without dooming the outer batch.
        """
        with self._store.write(savepoint=True) as tx:
            # Plain XP awards of the outermost batch are buffered (see bulk.py).
            bulk = None if self._store.nested else self._bulk
            if bulk is None:
                yield
            else:
                bulk.start()
                try:
                    yield
                    bulk.flush()
                finally:
                    bulk.stop()
        if tx.committed:
            self._rt.dispatch(tx, None)

    # -- profiles, XP and levels ----------------------------------------------------------

    def profile(self, user_id: str, *, at: datetime | None = None) -> Profile:
        """The user's level, XP, progress, prestige, balances, titles, time zone and streak."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return self._read_profile(user_id, moment)

    def _read_profile(self, user_id: str, moment: datetime) -> Profile:
        profile = self._profiles.read(user_id)
        return attrs.evolve(profile, streak=self._streaks.status(user_id, moment))

    def set_timezone(self, user_id: str, timezone: str) -> Profile:
        """Set the user's IANA time zone (``"Europe/Berlin"``); their days follow it from now."""
        check_id(user_id)
        check_text(timezone, "timezone", max_length=100)
        try:
            zone(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("timezone", f"{timezone!r} is not an IANA time zone") from None
        moment = self._rt.now()
        at_text = to_text(moment)
        with self._store.write():
            self._profiles.ensure(user_id, at_text)
            self._profiles.set_timezone(user_id, timezone, at_text)
            return self._read_profile(user_id, moment)

    def award_xp(
        self,
        user_id: str,
        amount: int,
        *,
        source: str,
        idempotency_key: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
    ) -> XPAward:
        """Award XP (times any active multipliers); level-ups pay each crossed level once."""
        check_id(user_id)
        check_amount(amount)
        check_text(source, "source", max_length=100)
        key = check_key(idempotency_key)
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        if self._bulk.active:
            bulk = self._bulk.award(user_id, amount, source, meta, key, moment, at_text, explicit)
            if bulk is not None:
                return bulk
        # Kept in the award's own row (xp.key_in_row), so computed here, not by _write.
        signature = None if key is None else fingerprint(user_id, amount, source, meta, explicit)
        return self._rt.write(
            "award_xp",
            key,
            lambda: signature,
            self._xp.codec,
            at_text,
            lambda tx: self._achievements.after_xp(
                tx,
                self._xp.award(
                    tx,
                    user_id,
                    amount,
                    source=source,
                    metadata=meta,
                    key=key,
                    at=moment,
                    at_text=at_text,
                    origin="direct",
                    signature=signature,
                ),
                moment,
                at_text,
            ),
        )

    def add_xp_boost(
        self,
        user_id: str,
        factor: float,
        *,
        expires_at: datetime,
        source: str,
        starts_at: datetime | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> XPBoost:
        """A time-limited XP multiplier; active boosts multiply together.

        See docs/guides/profiles-xp-levels.md.
        """
        check_id(user_id)
        if type(factor) not in (int, float) or not math.isfinite(factor) or factor <= 0:
            raise InvalidInput("factor", f"expected a positive finite number, got {factor!r}")
        if factor > self.config.max_xp_multiplier:
            raise InvalidInput(
                "factor", f"{factor} is above max_xp_multiplier {self.config.max_xp_multiplier}"
            )
        check_text(source, "source", max_length=100)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        start = moment if starts_at is None else check_at(starts_at, "starts_at")
        end = check_at(expires_at, "expires_at")
        if end <= start:
            raise InvalidInput("expires_at", "must be after starts_at (or now)")

        def body(tx: Tx) -> XPBoost:
            self._profiles.ensure(user_id, at_text)
            return self._xp.add_boost(
                user_id,
                float(factor),
                source=source,
                starts_at=start,
                expires_at=end,
                at_text=at_text,
            )

        return self._rt.write(
            "add_xp_boost",
            key,
            lambda: fingerprint(
                user_id,
                float(factor),
                source,
                to_text(start) if starts_at else None,
                to_text(end),
                explicit,
            ),
            json_codec(XPBoost),
            at_text,
            body,
        )

    def prestige(
        self, user_id: str, *, idempotency_key: str | None = None, at: datetime | None = None
    ) -> Profile:
        """At max level: back to level 1, prestige + 1, and a permanent XP boost."""
        check_id(user_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> Profile:
            self._xp.prestige(user_id, at_text)
            return self._read_profile(user_id, moment)

        return self._rt.write(
            "prestige",
            key,
            lambda: fingerprint(user_id, explicit),
            json_codec(Profile),
            at_text,
            body,
        )

    def xp_history(
        self, user_id: str, *, limit: int = 50, before: int | None = None
    ) -> list[XPEntry]:
        """XP changes, newest first. Pass the last entry's ``id`` as ``before`` for more."""
        check_id(user_id)
        _check_limit(limit)
        _check_before(before)
        with self._store.read():
            return self._xp.history(user_id, limit=limit, before=before)

    # -- points: quick calls of g.points ---------------------------------------------------

    def award_points(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        source: str,
        idempotency_key: str | None = None,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
        transaction_type: str = "earned",
    ) -> Transaction:
        """Issue points to a user; returns the transaction with the new balance."""
        return self.points.award(
            user_id, amount, currency=currency, source=source, idempotency_key=idempotency_key,
            reference=reference, description=description, metadata=metadata, at=at,
            transaction_type=transaction_type,
        )  # fmt: skip

    def spend_points(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        source: str,
        idempotency_key: str | None = None,
        reference: tuple[str, str] | None = None,
        description: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
        transaction_type: str = "spent",
    ) -> Transaction:
        """Spend available points; ``InsufficientFunds`` (and no write) if there are too few."""
        return self.points.spend(
            user_id, amount, currency=currency, source=source, idempotency_key=idempotency_key,
            reference=reference, description=description, metadata=metadata, at=at,
            transaction_type=transaction_type,
        )  # fmt: skip

    def transfer_points(
        self,
        from_user: str,
        to_user: str,
        amount: int,
        *,
        currency: str,
        source: str = "gift",
        idempotency_key: str | None = None,
        description: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
    ) -> Transaction:
        """Give points to another user; returns the sender's side of the transaction."""
        return self.points.transfer(
            from_user, to_user, amount, currency=currency, source=source,
            idempotency_key=idempotency_key, description=description, metadata=metadata, at=at,
        )  # fmt: skip

    def refund(
        self,
        transaction_id: int,
        *,
        amount: int | None = None,
        user_id: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Transaction:
        """Give back all or part of a spend; refunds never add up to more than the original.

        Pass ``user_id`` to have the call refused if the transaction is someone else's.
        """
        return self.points.refund(
            transaction_id, amount=amount, user_id=user_id, description=description,
            idempotency_key=idempotency_key, at=at,
        )  # fmt: skip

    def balance(self, user_id: str, currency: str) -> int:
        """The user's balance in ``currency``, held points included (0 if none)."""
        return self.points.balance(user_id, currency)

    def history(
        self,
        user_id: str,
        *,
        currency: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> HistoryPage:
        """Points transactions newest first, with per-currency totals (earned, spent, net)."""
        return self.points.history(user_id, currency=currency, limit=limit, before=before)

    def reserve_points(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        ttl: timedelta | float,
        source: str = "purchase",
        reference: tuple[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Reservation:
        """Hold points for a purchase until ``ttl`` runs out; commit or release it after."""
        return self.points.reserve(
            user_id, amount, currency=currency, ttl=ttl, source=source, reference=reference,
            idempotency_key=idempotency_key, at=at,
        )  # fmt: skip

    def commit_reservation(
        self,
        reservation_id: int,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Transaction:
        """Turn a hold into a ``purchase``; refused once released, expired or committed."""
        return self.points.commit(
            reservation_id, description=description, idempotency_key=idempotency_key, at=at
        )

    def release_reservation(
        self,
        reservation_id: int,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Reservation:
        """Free a hold: the balance is exactly as it was before the reservation."""
        return self.points.release(reservation_id, idempotency_key=idempotency_key, at=at)

    # -- definitions, events and achievements ---------------------------------------------

    def _register_scorers(self) -> None:
        wanted = {
            board.scorer for board in self.config.leaderboards.boards if board.source == "custom"
        }
        scorers: dict[str, Callable[[ScoredEvent], float | None]] = {}

        def add_scorer(name: str, scorer: Callable[[ScoredEvent], float | None]) -> None:
            if type(name) is not str or not name.strip() or not callable(scorer):
                raise ConfigError([f"register_scorers: need (name, callable), got {name!r}"])
            if name in scorers:
                raise ConfigError([f"register_scorers: {name!r} is registered twice"])
            scorers[name] = scorer

        self.pm.hook.register_scorers(register=add_scorer)
        missing = sorted(str(name) for name in wanted if name not in scorers)
        if missing:
            raise ConfigError(
                [f"leaderboards.boards: no plugin registers the scorer {n!r}" for n in missing]
            )
        self._boards.scorers = {name: scorers[name] for name in sorted(str(n) for n in wanted)}

    def _register_plugin_definitions(self) -> None:
        evaluators: dict[str, Callable[..., Any]] = {}

        def add_criterion(name: str, evaluate: Callable[..., Any]) -> None:
            if type(name) is not str or not name.strip() or not callable(evaluate):
                raise ConfigError([f"register_criteria: need (name, callable), got {name!r}"])
            if name in evaluators:
                raise ConfigError([f"register_criteria: {name!r} is registered twice"])
            evaluators[name] = evaluate

        self.pm.hook.register_criteria(register=add_criterion)
        self._achievements.evaluators = evaluators
        self._loader.custom_names = set(evaluators)
        offered: dict[str, Any] = {}

        def add_definitions(source: Any, name: str) -> None:
            if type(name) is not str or not name.strip():
                raise ConfigError([f"register_definitions: name the pack, got {name!r}"])
            if name in offered:
                raise ConfigError([f"register_definitions: two plugins offer the pack {name!r}"])
            offered[name] = source

        self.pm.hook.register_definitions(register=add_definitions)
        missing = [name for name in self.config.packs if name not in offered]
        if missing:
            raise ConfigError(
                [f"packs: no installed plugin offers {name!r} (offered: "
                 f"{', '.join(sorted(offered)) or 'none'})" for name in missing]
            )  # fmt: skip
        for name in self.config.packs:
            self.load_definitions(offered[name], name=name)
        self._achievements.catalogue = self._loader.catalogue()

    def load_definitions(
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

    def refresh_definitions(self) -> None:
        """Re-read definitions another process loaded into the same file."""
        with self._store.read():
            self._achievements.catalogue = self._loader.catalogue()

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
        _check_event(event)
        _check_value(value)
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
        )

    def achievements(
        self, user_id: str, *, include_hidden: bool = False, category: str | None = None
    ) -> list[AchievementStatus]:
        """Every achievement with the user's progress; hidden ones only once unlocked."""
        check_id(user_id)
        _optional_text(category, "category", 50)
        if type(include_hidden) is not bool:
            raise InvalidInput("include_hidden", "expected True or False")
        moment = self._rt.now()
        with self._store.read():
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            return self._achievements.listing(ctx, include_hidden=include_hidden, category=category)

    def achievement(self, user_id: str, key: str) -> AchievementStatus:
        """One achievement with the user's progress; ``NotFound`` if unknown (or still secret)."""
        check_id(user_id)
        check_text(key, "key", max_length=100)
        moment = self._rt.now()
        with self._store.read():
            entry = self._achievements.catalogue.entries.get(key)
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            earned = ctx.unlocked(key)
            if entry is None or ((entry.retired or entry.definition.hidden) and not earned):
                raise NotFound("key", key)
            return self._achievements.status(ctx, entry)

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
        return reevaluate(self, self._store, self._achievements, ids, progress, chunk)

    def notifications(
        self, user_id: str, *, unread_only: bool = True, limit: int = 50
    ) -> list[Notification]:
        """The user's notifications, newest first."""
        check_id(user_id)
        _check_limit(limit)
        if type(unread_only) is not bool:
            raise InvalidInput("unread_only", "expected True or False")
        with self._store.read():
            return self._notifications.recent(user_id, unread_only=unread_only, limit=limit)

    def mark_read(self, user_id: str, ids: Iterable[int] | None = None) -> int:
        """Mark the user's notifications ``ids`` (or all) read; returns how many changed."""
        check_id(user_id)
        chosen = None
        if ids is not None:
            chosen = list(ids)
            for i in chosen:
                check_row_id(i, "ids")
        at_text = to_text(self._rt.now())
        with self._store.write():
            return self._notifications.mark_read(user_id, chosen, at_text)

    def notification_preferences(self, user_id: str) -> dict[str, bool]:
        check_id(user_id)
        with self._store.read():
            return self._notifications.preferences(user_id)

    def set_notification_preferences(self, user_id: str, **kinds: bool) -> dict[str, bool]:
        """Switch notification kinds on or off, e.g. ``level_up=False``; returns them all."""
        check_id(user_id)
        changes = check_preferences(kinds)
        at_text = to_text(self._rt.now())
        with self._store.write():
            self._profiles.ensure(user_id, at_text)
            self._notifications.set_preferences(user_id, changes)
            return self._notifications.preferences(user_id)

    def inventory(self, user_id: str) -> Inventory:
        """Titles (and the equipped one) and items the user owns."""
        check_id(user_id)
        with self._store.read():
            return self._items.read(user_id)

    def equip_title(self, user_id: str, title: str | None) -> Inventory:
        """Show an owned ``title`` (``NotFound`` otherwise), or none with ``None``."""
        check_id(user_id)
        if title is not None:
            check_text(title, "title", max_length=100)
        with self._store.write():
            if not self._profiles.exists(user_id):
                raise NotFound("user", user_id)
            self._items.equip_title(user_id, title)
            return self._items.read(user_id)

    def stats(self, user_id: str, *, days: int = 30) -> Stats:
        """Level, achievements by rarity, recent XP and per-day activity (getUserStats)."""
        check_id(user_id)
        if type(days) is not int or not 1 <= days <= 366:
            raise InvalidInput("days", f"expected an int from 1 to 366, got {days!r}")
        moment = self._rt.now()
        with self._store.read():
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            return user_stats(self._store.conn, self._profiles, self._achievements, ctx, days)

    # -- quests ---------------------------------------------------------------------------

    def quests(
        self, user_id: str, *, category: str | None = None, at: datetime | None = None
    ) -> QuestBoard:
        """The quests open to the user, grouped daily, weekly, monthly and special, each with
        this period's progress and when it expires."""
        check_id(user_id)
        _optional_text(category, "category", 50)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            ctx = self._achievements.context(user_id, moment, to_text(moment))
            return self._quests.board(ctx, category)

    def complete_quest(
        self,
        user_id: str,
        quest_key: str,
        *,
        idempotency_key: str,
        evidence: Any = None,
        at: datetime | None = None,
    ) -> QuestCompletion:
        """Complete a quest that needs verification on the server: the ``verify_quest`` hook
        decides on ``evidence`` (with no plugin answering, the tracked objectives must be
        met). Pays the quest's rewards once; refused (typed, nothing written) when the quest
        is unknown, closed, locked, expired, already completed this period or not verified."""
        check_id(user_id)
        check_text(quest_key, "quest_key", max_length=100)
        if idempotency_key is None:
            raise InvalidInput("idempotency_key", "required: a completion must be retry-safe")
        key = check_key(idempotency_key)
        proof = check_metadata(evidence, "evidence")
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> QuestCompletion:
            # Every refusal (seed 002's 10 a day included) comes before the first write, so
            # a refused call changes no row: inside a batch() it must not doom the batch.
            ctx = self._achievements.context(user_id, moment, at_text)
            self._limits.check(QUEST_COMPLETE, user_id, moment)
            checked = self._quests.verified(ctx, quest_key, proof and load_json(proof), self)
            if not ctx.exists:
                self._profiles.create(user_id, at_text)
            completion = self._quests.complete(tx, ctx, checked, proof)
            self._limits.record(QUEST_COMPLETE, user_id, moment, at_text)
            return completion

        return self._rt.write(
            "complete_quest",
            key,
            lambda: fingerprint(user_id, quest_key, proof, explicit),
            json_codec(QuestCompletion),
            at_text,
            body,
        )

    def close_quest_periods(self, now: datetime | None = None) -> int:
        """Mark the unfinished progress of ended quest periods expired (the rollover job);
        returns how many rows changed. Running it again changes nothing."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        with self._store.write():
            return self._quests.close_periods(to_text(moment))

    # -- streaks --------------------------------------------------------------------------

    def streak(self, user_id: str, *, at: datetime | None = None) -> StreakStatus:
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

    def grant_streak_freezes(
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
        )

    def sweep_streaks(self, now: datetime | None = None) -> SweepReport:
        """Write down broken and frozen streaks of users whose day ended, and send "streak at
        risk" warnings. Safe to run any number of times: a second run finds nothing to do."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        failures: list[tuple[str, BaseException]] = []
        report = self._streaks.sweep(
            self._store, moment, lambda tx: self._rt.dispatch(tx, None, failures)
        )
        self._rt.raise_hook_errors(failures, report)
        return report

    # -- leaderboards ---------------------------------------------------------------------

    def _target(
        self, board: object, period: object, period_key: object, at: object
    ) -> tuple[Target, datetime]:
        if not isinstance(board, str):
            raise InvalidInput("board", f"expected a board key, got {board!r}")
        if not isinstance(period, str):
            raise InvalidInput("period", f"expected a period name, got {period!r}")
        moment = self._rt.now() if at is None else check_at(at)
        target = self._leaderboards.target(board, period, period_key, moment)  # type: ignore[arg-type]
        return target, moment

    def leaderboard(
        self,
        board: str,
        *,
        period: str = "all_time",
        scope: str = "global",
        group: str | None = None,
        limit: int = 100,
        offset: int = 0,
        viewer: str | None = None,
        period_key: str | None = None,
        at: datetime | None = None,
    ) -> Leaderboard:
        """A page of ``board`` for the period holding ``at`` (or ``period_key``, such as
        ``"2026-W47"``), with ``viewer``'s own line even when the board hides them."""
        _check_limit(limit)
        if type(offset) is not int or not 0 <= offset <= MAX_TOTAL:
            raise InvalidInput("offset", f"expected an int from 0 to 2**63 - 1, got {offset!r:.50}")
        if viewer is not None:
            check_id(viewer, "viewer")
        with self._store.read():
            target, _ = self._target(board, period, period_key, at)
            self._leaderboards.check_scope(scope, group, viewer)
            return self._leaderboards.leaderboard(target, scope, group, limit, offset, viewer)

    def rank(
        self,
        user_id: str,
        board: str,
        *,
        period: str = "all_time",
        scope: str = "global",
        group: str | None = None,
        period_key: str | None = None,
        at: datetime | None = None,
    ) -> LeaderboardEntry | None:
        """The user's line on ``board`` (None if they have no score in the period); a user the
        board hides gets the rank they would have, marked ``hidden``."""
        check_id(user_id)
        with self._store.read():
            target, _ = self._target(board, period, period_key, at)
            self._leaderboards.check_scope(scope, group, user_id)
            return self._leaderboards.rank(target, user_id, scope, group)

    def around(
        self,
        user_id: str,
        board: str,
        *,
        period: str = "all_time",
        n: int = 5,
        scope: str = "global",
        group: str | None = None,
        period_key: str | None = None,
        at: datetime | None = None,
    ) -> Leaderboard:
        """The ``n`` lines above and below the user on ``board``, the user's own included."""
        check_id(user_id)
        if type(n) is not int or not 1 <= n <= 100:
            raise InvalidInput("n", f"expected an int from 1 to 100, got {n!r}")
        with self._store.read():
            target, _ = self._target(board, period, period_key, at)
            self._leaderboards.check_scope(scope, group, user_id)
            return self._leaderboards.around(target, user_id, n, scope, group)

    def close_leaderboard_periods(self, now: datetime | None = None) -> list[PeriodClose]:
        """Archive every board period that ended by ``now`` (the ``leaderboard_close`` job),
        with movement against the period before, and pay rank rewards once. Each period
        closes in its own transaction; running it again closes nothing twice."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        with self._store.read():
            due = self._leaderboards.due(moment)
        closed = []
        failures: list[tuple[str, BaseException]] = []
        for period_id in due:
            with self._store.write() as tx:
                result = self._leaderboards.close(tx, period_id, moment)
            if result is not None:
                closed.append(result)
            if tx.committed:
                self._rt.dispatch(tx, result, failures)
        self._rt.raise_hook_errors(failures, closed)
        return closed

    def join_group(
        self, user_id: str, group: str, *, kind: str, at: datetime | None = None
    ) -> bool:
        """Add the user to ``group`` (made on first join, with its ``kind``: gym, school,
        class, team...); False if they were in it already. Joining twice changes nothing."""
        check_id(user_id)
        check_id(group, "group")
        check_text(kind, "kind", max_length=50)
        _, at_text, _ = self._rt.moment(at)
        with self._store.write():
            existing = self._social.group_kind(group)
            if existing is not None and existing != kind:
                raise InvalidInput("kind", f"group {group!r} is a {existing!r}, not {kind!r}")
            self._profiles.ensure(user_id, at_text)
            return self._social.join(user_id, group, kind, at_text)

    def leave_group(self, user_id: str, group: str) -> bool:
        """Take the user out of ``group``; False if they were not in it."""
        check_id(user_id)
        check_id(group, "group")
        with self._store.write():
            if self._social.group_kind(group) is None:
                raise UnknownGroup(group)
            return self._social.leave(user_id, group)

    def groups(self, user_id: str) -> dict[str, str]:
        """The user's groups and their kinds."""
        check_id(user_id)
        with self._store.read():
            return self._social.groups(user_id)

    def add_friend(self, user_id: str, friend_id: str, *, at: datetime | None = None) -> bool:
        """Make two users friends (both ways); False if they were already."""
        check_id(user_id)
        check_id(friend_id, "friend_id")
        if friend_id == user_id:
            raise InvalidInput("friend_id", "a user cannot be their own friend")
        _, at_text, _ = self._rt.moment(at)
        with self._store.write():
            self._profiles.ensure(user_id, at_text)
            self._profiles.ensure(friend_id, at_text)
            return self._social.befriend(user_id, friend_id, at_text)

    def remove_friend(self, user_id: str, friend_id: str) -> bool:
        """End a friendship (both ways); False if there was none."""
        check_id(user_id)
        check_id(friend_id, "friend_id")
        if friend_id == user_id:
            raise InvalidInput("friend_id", "a user cannot be their own friend")
        with self._store.write():
            return self._social.unfriend(user_id, friend_id)

    def friends(self, user_id: str) -> list[str]:
        """The user's friends (the ``friends_of`` plugin's, when one answers)."""
        check_id(user_id)
        with self._store.read():
            return sorted(self._social.friends(user_id))

    def privacy(self, user_id: str) -> Privacy:
        """How the user appears on boards."""
        check_id(user_id)
        with self._store.read():
            return self._social.privacy(user_id)

    def set_privacy(
        self,
        user_id: str,
        *,
        visibility: str | None = None,
        show_on_global: bool | None = None,
        display_name_type: str | None = None,
        real_name: str | None = None,
        username: str | None = None,
    ) -> Privacy:
        """Change how the user appears on boards (arguments left None stay as they are).

        ``visibility``: public, friends_only or private. ``show_on_global``: whether global
        boards list them (only when public). ``display_name_type``: real_name, username or
        anonymous (a stable "Anonymous #1234").
        """
        check_id(user_id)
        changes: dict[str, object] = {}
        for name, value, allowed in (
            ("visibility", visibility, ("public", "friends_only", "private")),
            ("display_name_type", display_name_type, ("real_name", "username", "anonymous")),
        ):
            if value is not None:
                if value not in allowed:
                    raise InvalidInput(name, f"expected one of {', '.join(allowed)}, got {value!r}")
                changes[name] = value
        if show_on_global is not None:
            if type(show_on_global) is not bool:
                raise InvalidInput("show_on_global", f"expected bool, got {show_on_global!r}")
            changes["show_on_global"] = int(show_on_global)
        for name, text in (("real_name", real_name), ("username", username)):
            if text is not None:
                changes[name] = check_text(text, name, max_length=100)
        at_text = to_text(self._rt.now())
        with self._store.write():
            self._profiles.ensure(user_id, at_text)
            before = self._social.listed(self._social.privacy(user_id))
            if changes:
                self._social.set_privacy(user_id, changes, at_text)
            privacy = self._social.privacy(user_id)
            if self._social.listed(privacy) != before:
                self._boards.set_listed(user_id, not before)
            return privacy

    # -- scheduled jobs -------------------------------------------------------------------

    @property
    def jobs(self) -> tuple[Job, ...]:
        """The scheduled jobs plugins registered (``register_jobs``), in the order they run."""
        return self._jobs.jobs

    def run_due_jobs(self, now: datetime | None = None, *, keep_lease: bool = False) -> JobsReport:
        """Run each job's latest period due at ``now`` (default: the clock) if it has not run.

        Takes the scheduler lease first: while another live process (or another thread of
        this engine) holds it, runs nothing and says who in ``blocked_by``. Gives the lease
        back afterwards unless ``keep_lease`` (what the background scheduler does).
        """
        moment = self._rt.now() if now is None else check_at(now, "now")
        if type(keep_lease) is not bool:
            raise InvalidInput("keep_lease", "expected True or False")
        return self._jobs.run_due(moment, keep_lease=keep_lease)

    def start_scheduler(self) -> bool:
        """Run due jobs every ``scheduler.tick_seconds`` in an APScheduler background thread.

        Returns False, changing nothing, if this engine's scheduler already runs.
        """
        return self._jobs.start()

    def stop_scheduler(self) -> bool:
        """Stop the background scheduler (waiting for a running job) and give the lease back.

        Returns False if it was not running. ``close()`` calls it. Not from inside a job: it
        would wait for itself.
        """
        return self._jobs.stop()

    # -- battle pass ----------------------------------------------------------------------

    def battle_pass(
        self, user_id: str, *, season: str | None = None, at: datetime | None = None
    ) -> BattlePass:
        """The user's battle pass in the season active at ``at`` (default: now), or in
        ``season``: tier, XP into it, premium, and every tier reward with its state.

        ``errors.NoActiveSeason`` if no battle-pass season runs at ``at`` (and none is named),
        ``errors.UnknownSeason`` for a key that is not a battle-pass season.
        """
        check_id(user_id)
        key = _check_season(season)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return self._battle_pass.view(user_id, key, moment)

    def buy_premium_pass(
        self, user_id: str, *, idempotency_key: str | None = None, at: datetime | None = None
    ) -> PremiumPurchase:
        """Buy the active season's premium pass: its price is spent through the ledger.

        Refused, writing nothing: ``NoActiveSeason``, ``SeasonEnded`` (archived),
        ``PremiumAlreadyOwned``, ``InsufficientFunds``.
        """
        check_id(user_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "buy_premium_pass",
            key,
            lambda: fingerprint(user_id, explicit),
            json_codec(PremiumPurchase),
            at_text,
            lambda tx: self._battle_pass.buy_premium(tx, user_id, moment, at_text),
        )

    def claim_tier_reward(
        self,
        user_id: str,
        tier: int,
        *,
        track: str,
        season: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> TierClaim:
        """Pay the reward of ``tier`` on ``track`` (``"free"`` or ``"premium"``), once.

        ``season`` pins the season the client showed (default: the one active at ``at``).
        Refused, writing nothing: ``NoActiveSeason``, ``UnknownSeason``, ``SeasonNotStarted``,
        ``SeasonEnded``, ``NoTierReward``, ``TierNotReached``, ``PremiumRequired``,
        ``RewardAlreadyClaimed``; ``NotFound`` if a rewarded achievement is not defined.
        """
        check_id(user_id)
        if type(tier) is not int or not 1 <= tier <= MAX_TIERS:
            raise InvalidInput("tier", f"expected an int from 1 to {MAX_TIERS}, got {tier!r}")
        chosen = check_track(track)
        name = _check_season(season)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "claim_tier_reward",
            key,
            lambda: fingerprint(user_id, tier, chosen, name, explicit),
            json_codec(TierClaim),
            at_text,
            lambda tx: self._battle_pass.claim(tx, user_id, name, chosen, tier, moment, at_text),
        )

    def use_tier_boost(
        self,
        user_id: str,
        *,
        quantity: int = 1,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> TierBoostUse:
        """Use ``quantity`` ``tier_boost`` items (bought in the shop): each adds one tier's XP
        to the active season's progress (not to the user's lifetime XP).

        Refused, writing nothing: ``NoActiveSeason``, ``SeasonEnded``, ``NotEnoughTierBoosts``,
        ``MaxTierReached`` (a boost would go past the last tier).
        """
        check_id(user_id)
        if type(quantity) is not int or not 1 <= quantity <= MAX_TIERS:
            raise InvalidInput(
                "quantity", f"expected an int from 1 to {MAX_TIERS}, got {quantity!r}"
            )
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "use_tier_boost",
            key,
            lambda: fingerprint(user_id, quantity, explicit),
            json_codec(TierBoostUse),
            at_text,
            lambda tx: self._battle_pass.use_boosts(tx, user_id, quantity, moment, at_text),
        )

    def close_battle_pass_seasons(self, now: datetime | None = None) -> list[SeasonClose]:
        """Archive every battle-pass season that ended by ``now`` (the ``battle_pass_close``
        job): close it to XP, claims, purchases and boosts, record each user's final tier,
        and grant the rewards of reached tiers nobody claimed. Works in batches of users,
        each its own transaction; running it again archives nothing twice."""
        moment = self._rt.now() if now is None else check_at(now, "now")
        at_text = to_text(moment)
        with self._store.read():
            due = self._battle_pass.due(moment)
        closed = []
        failures: list[tuple[str, BaseException]] = []
        for season in due:
            while True:
                with self._store.write() as tx:
                    result = self._battle_pass.close(tx, season, moment, at_text)
                if tx.committed:
                    self._rt.dispatch(tx, result, failures)
                if result is not None:
                    closed.append(result)
                    break
        self._rt.raise_hook_errors(failures, closed)
        return closed

    # -- privacy --------------------------------------------------------------------------

    def export_user(self, user_id: str, *, at: datetime | None = None) -> dict[str, Any]:
        """Every row about the user, by table, ready for ``json.dumps`` (a GDPR export)."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            if not self._profiles.exists(user_id):
                raise UnknownUser(user_id, "nothing is stored about this user")
            return self._privacy.export(user_id, moment)

    def delete_user(
        self,
        user_id: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> UserDeletion:
        """Erase the user: forfeit balances, anonymise ledger and referral history under a
        random pseudonym, delete every other row about them. ``verify_ledger()`` stays empty."""
        check_id(user_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> UserDeletion:
            if not self._profiles.exists(user_id):
                raise UnknownUser(user_id, "nothing is stored about this user")
            return self._privacy.delete(tx, user_id, moment, at_text)

        result = self._rt.write(
            "delete_user", key, lambda: fingerprint(user_id, explicit), _DELETION_CODEC,
            at_text, body,
        )  # fmt: skip
        # The stored result leaves the id out, or the record would keep what was erased.
        return attrs.evolve(result, user_id=user_id)

    # -- audit ----------------------------------------------------------------------------

    def verify_ledger(self) -> LedgerReport:
        """Recompute sums, balances, chains, holds and XP totals; empty when all agree."""
        return self.points.verify()
