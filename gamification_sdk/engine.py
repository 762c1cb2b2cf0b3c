"""The facade a host app calls. It validates, opens the transaction, and delegates."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pluggy
import sqlite_utils

from .config import Config
from .core.clock import Clock, system_clock, to_text
from .core.validation import (
    check_at,
)
from .economy.inventory import Items
from .economy.ledger import Ledger
from .economy.points_service import PointsService
from .economy.rate_limits_service import RateLimitsService
from .economy.ratelimits import RateLimits
from .economy.referrals import (
    Referrals,
)
from .economy.referrals_service import ReferralsService
from .economy.reservations import Reservations
from .economy.shop import Shop
from .economy.shop_service import ShopService
from .errors import (
    ConfigError,
    InvalidInput,
    StaleConfig,
)
from .models import (
    HistoryPage,
    LedgerReport,
    Profile,
    Reservation,
    ScoredEvent,
    TrackResult,
    Transaction,
    XPAward,
)
from .ops import audit
from .ops.jobs import collect_jobs
from .ops.jobs_service import JobsService
from .ops.notifications import Notifications
from .ops.notifications_service import NotificationsService
from .ops.privacy import Privacy as PrivacyData
from .ops.privacy_service import PrivacyService
from .progression.achievements import Achievements
from .progression.achievements_service import AchievementsService
from .progression.battle_pass_service import BattlePassService
from .progression.battlepass import BattlePasses
from .progression.bulk import BulkXP
from .progression.events import Tracker, track_codec
from .progression.events_service import EventsService
from .progression.levels import LevelCurve, LevelTable
from .progression.loader import Loader
from .progression.metrics import Metrics
from .progression.profiles import Profiles
from .progression.quests import Quests
from .progression.quests_service import QuestsService
from .progression.streaks import Streaks
from .progression.streaks_service import StreaksService
from .progression.users_service import UsersService
from .progression.xp import KEY_HOME, XP
from .progression.xp_service import XPService
from .runtime.idempotency import Idempotency
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
from .social.boards_service import BoardsService
from .social.groups import Social
from .social.leaderboards import Leaderboards
from .social.social_service import SocialService
from .storage.schema import migrations
from .storage.store import Store

__all__ = ["Gamification"]

log = logging.getLogger("gamification_sdk")
T = TypeVar("T")


class Gamification:
    """One engine on one SQLite file. Safe to share between threads; open one per process.

    Use :meth:`open` to make one; it is a context manager.
    """

    # The namespaces: one capability service each, rebuilt by _compose with the configuration.
    xp: XPService
    users: UsersService
    events: EventsService
    achievements: AchievementsService
    quests: QuestsService
    streaks: StreaksService
    battle_pass: BattlePassService
    points: PointsService
    shop: ShopService
    referrals: ReferralsService
    rate_limits: RateLimitsService
    boards: BoardsService
    social: SocialService
    notifications: NotificationsService
    jobs: JobsService
    privacy: PrivacyService

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
        # Built once, not by _compose: it keeps its lease holder id and background thread
        # across configuration changes (jobs are collected at open).
        self.jobs = JobsService(self._rt, collect_jobs(pm, config))
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
        self._xp = XP(conn, config, self._table, self._profiles, self._ledger, pm, self._rt.facade)
        self._metrics = Metrics(conn)
        self._notifications = self._xp.notifications = Notifications(conn)
        self._items = Items(conn)
        self._achievements = Achievements(
            conn,
            config,
            self._metrics,
            self._ledger,
            self._items,
            self._notifications,
            self._rt.facade,
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
        # -- services: progression --
        rt = self._rt
        self.xp = XPService(
            rt, self._xp, self._table, self._bulk, self._profiles, self._streaks, self._achievements
        )
        self.users = UsersService(
            rt, self._profiles, self._streaks, self._items, self._achievements
        )
        self.events = EventsService(
            rt, self._tracker, self._track_codec, self._loader, self._achievements, self._profiles,
            self._shop,
        )  # fmt: skip
        self.achievements = AchievementsService(rt, self._achievements)
        self.quests = QuestsService(
            rt, self._quests, self._achievements, self._profiles, self._limits
        )
        self.streaks = StreaksService(rt, self._streaks, self._tracker, self._profiles, self._items)
        self.battle_pass = BattlePassService(rt, self._battle_pass)
        # -- services: economy --
        self.points = PointsService(
            rt, self._ledger, self._reservations, self._limits, self._profiles,
            self._achievements, self._shop, audit.verify,
        )  # fmt: skip
        self.shop = ShopService(rt, self._shop)
        self.referrals = ReferralsService(rt, self._referrals)
        self.rate_limits = RateLimitsService(rt, self._limits)
        # -- services: social --
        self.boards = BoardsService(rt, self._leaderboards)
        self.social = SocialService(rt, self._social, self._profiles, self._boards)
        self.notifications = NotificationsService(rt, self._notifications, self._profiles)
        self.privacy = PrivacyService(rt, self._privacy, self._profiles)
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
        self.jobs.stop()
        self._store.close()

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils ``Database``, for introspection (not for hot paths)."""
        return self._store.db

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

    # -- quick calls: profiles, XP and events (g.users, g.xp and g.events hold the rest) ---

    def profile(self, user_id: str, *, at: datetime | None = None) -> Profile:
        """The user's level, XP, progress, prestige, balances, titles, time zone and streak."""
        return self.users.get(user_id, at=at)

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
        return self.xp.award(
            user_id,
            amount,
            source=source,
            idempotency_key=idempotency_key,
            metadata=metadata,
            at=at,
        )

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
        return self.events.track(
            user_id, event, value=value, at=at, idempotency_key=idempotency_key, metadata=metadata
        )

    # -- points ---------------------------------------------------------------------------

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

    # -- two-phase purchases --------------------------------------------------------------

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

    # -- what plugins register: scorers, criteria, definition packs ------------------------

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
            self.events.load(offered[name], name=name)
        self._achievements.catalogue = self._loader.catalogue()

    # -- rate limits ----------------------------------------------------------------------

    # -- leaderboards ---------------------------------------------------------------------

    # -- scheduled jobs -------------------------------------------------------------------

    # -- referrals ------------------------------------------------------------------------

    # -- shop -----------------------------------------------------------------------------

    # -- privacy --------------------------------------------------------------------------

    # -- audit ----------------------------------------------------------------------------

    def verify_ledger(self) -> LedgerReport:
        """Recompute sums, balances, chains, holds and XP totals; empty when all agree."""
        return self.points.verify()
