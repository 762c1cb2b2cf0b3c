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
    check_amount,
    check_at,
    check_id,
    check_key,
    check_metadata,
    check_row_id,
    check_signed_amount,
    check_text,
    load_json,
)
from .economy.inventory import Items
from .economy.ledger import BATTLE_PASS, CREDIT_TYPES, SHOP_ORDER, SPEND_TYPES, Ledger, Posting
from .economy.ratelimits import PURCHASE, QUEST_COMPLETE, RateLimits
from .economy.referrals import (
    Referrals,
    check_code,
    check_email,
    check_fingerprint,
    check_ip,
    check_kind,
    check_name,
    check_referral_ref,
    check_revenue,
    check_settable_status,
    check_utm,
)
from .economy.reservations import Reservations
from .economy.shop import Shop
from .errors import (
    ConfigError,
    InvalidInput,
    NotFound,
    ReferralRejected,
    StaleConfig,
)
from .models import (
    AchievementStatus,
    Balance,
    BattlePass,
    HistoryPage,
    Inventory,
    LedgerReport,
    LoadReport,
    Order,
    PremiumPurchase,
    Profile,
    QuestBoard,
    QuestCompletion,
    RateLimitStatus,
    ReevaluateReport,
    Referral,
    ReferralConversion,
    ReferralStats,
    Reservation,
    ScoredEvent,
    SeasonClose,
    ShopListing,
    Stats,
    StreakStatus,
    SweepReport,
    TierBoostUse,
    TierClaim,
    TrackResult,
    Transaction,
    XPAward,
    XPBoost,
    XPEntry,
)
from .ops import audit
from .ops.jobs import collect_jobs
from .ops.jobs_service import JobsService
from .ops.notifications import Notifications
from .ops.notifications_service import NotificationsService
from .ops.privacy import Privacy as PrivacyData
from .ops.privacy_service import PrivacyService
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
from .runtime.idempotency import Idempotency, fingerprint, json_codec
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


def _check_reference(reference: object) -> tuple[str, str] | None:
    if reference is None:
        return None
    if (
        not isinstance(reference, tuple | list)
        or len(reference) != 2
        or not all(isinstance(part, str) for part in reference)
    ):
        raise InvalidInput("reference", "expected a (type, id) pair of str, e.g. ('order', '42')")
    if reference[0] == SHOP_ORDER:
        raise InvalidInput("reference", f"{SHOP_ORDER!r} is reserved for purchase()")
    if reference[0] == BATTLE_PASS:
        raise InvalidInput("reference", f"{BATTLE_PASS!r} is reserved for the battle pass")
    check_text(reference[0], "reference[0]", max_length=100)
    check_text(reference[1], "reference[1]")
    return (reference[0], reference[1])


MAX_TTL = timedelta(days=366)


def _check_ttl(ttl: object) -> timedelta:
    if isinstance(ttl, timedelta):
        span = ttl
    elif type(ttl) in (int, float) and math.isfinite(ttl):  # type: ignore[arg-type]
        if not 0 < ttl <= MAX_TTL.total_seconds():  # type: ignore[operator]
            raise InvalidInput("ttl", f"must be over 0 and at most {MAX_TTL.days} days: {ttl!r}")
        span = timedelta(seconds=ttl)  # type: ignore[arg-type]
    else:
        raise InvalidInput("ttl", f"expected a timedelta or seconds, got {ttl!r}")
    if not timedelta(0) < span <= MAX_TTL:
        raise InvalidInput("ttl", f"must be over 0 and at most {MAX_TTL.days} days, got {span}")
    return span


def _call_key(key: str | None) -> str | None:
    # Caller keys live under "call:" in transactions so none can collide with a derived key.
    return None if key is None else f"call:{key}"


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
        self.jobs: JobsService = JobsService(self._rt, collect_jobs(pm, config))
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
            self._items, self._notifications, self._limits, pm, self,
        )  # fmt: skip
        self._shop = Shop(
            store, self._ledger, self._reservations, self._items, self._streaks, self._limits,
            self._idempotency, pm, self, self._rt.dispatch, self._rt.now,
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
        # -- services: social --
        self.boards: BoardsService = BoardsService(self._rt, self._leaderboards)
        self.social: SocialService = SocialService(
            self._rt, self._social, self._profiles, self._boards
        )
        self.notifications: NotificationsService = NotificationsService(
            self._rt, self._notifications, self._profiles
        )
        self.privacy: PrivacyService = PrivacyService(self._rt, self._privacy, self._profiles)
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
        cur = self._ledger.currency(currency)
        if type(amount) is int and cur.max_award is not None and amount > cur.max_award:
            raise InvalidInput(
                "amount", f"{amount} is above {currency}'s max_award {cur.max_award}"
            )
        posting, key, digest = self._points_call(
            CREDIT_TYPES, transaction_type, user_id, amount, currency, source,
            idempotency_key, reference, description, metadata, at,
        )  # fmt: skip

        def body(tx: Tx) -> Transaction:
            # credit() asks the validate_award plugins first.
            result = self._ledger.credit(tx, posting, origin="direct")
            self._achievements.after_points(tx, result, posting.at, posting.at_text)
            return result

        return self._rt.write(
            "award_points", key, digest, self._ledger.codec, posting.at_text, body
        )

    def _points_call(
        self,
        allowed_types: frozenset[str],
        transaction_type: str,
        user_id: str,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str | None,
        reference: tuple[str, str] | None,
        description: str | None,
        metadata: Any,
        at: datetime | None,
    ) -> tuple[Posting, str | None, Callable[[], bytes]]:
        """Check a one-user points call; returns its posting, key and fingerprint."""
        check_id(user_id)
        check_amount(amount)
        check_text(source, "source", max_length=100)
        if transaction_type not in allowed_types:
            raise InvalidInput(
                "transaction_type", f"expected one of {', '.join(sorted(allowed_types))}"
            )
        key = check_key(idempotency_key)
        ref = _check_reference(reference)
        text = _optional_text(description, "description")
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        posting = Posting(
            transaction_type, currency, amount, user_id, source, moment, at_text,
            reference=ref, description=text, metadata=meta, key=_call_key(key),
        )  # fmt: skip
        return (
            posting,
            key,
            lambda: fingerprint(
                user_id, amount, currency, source, ref, text, meta, explicit, transaction_type
            ),
        )

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
        self._ledger.spendable(currency)
        posting, key, digest = self._points_call(
            SPEND_TYPES, transaction_type, user_id, amount, currency, source,
            idempotency_key, reference, description, metadata, at,
        )  # fmt: skip
        if transaction_type != "purchase":
            return self._rt.write(
                "spend_points",
                key,
                digest,
                self._ledger.codec,
                posting.at_text,
                lambda tx: self._ledger.debit(tx, posting),
            )

        def purchase(tx: Tx) -> Transaction:
            # Refused (RateLimited) before the debit writes; counted only once it succeeded.
            self._limits.check(PURCHASE, user_id, posting.at)
            result = self._ledger.debit(tx, posting)
            self._limits.record(PURCHASE, user_id, posting.at, posting.at_text)
            return result

        return self._rt.write(
            "spend_points", key, digest, self._ledger.codec, posting.at_text, purchase
        )

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
        check_id(from_user, "from_user")
        check_id(to_user, "to_user")
        if from_user == to_user:
            raise InvalidInput("to_user", "cannot transfer to the same user")
        check_amount(amount)
        self._ledger.spendable(currency)
        check_text(source, "source", max_length=100)
        key = check_key(idempotency_key)
        text = _optional_text(description, "description")
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        posting = Posting(
            "transfer",
            currency,
            amount,
            from_user,
            source,
            moment,
            at_text,
            counterparty=to_user,
            description=text,
            metadata=meta,
            key=_call_key(key),
        )
        return self._rt.write(
            "transfer_points",
            key,
            lambda: fingerprint(from_user, to_user, amount, currency, source, text, meta, explicit),
            self._ledger.codec,
            at_text,
            lambda tx: self._ledger.transfer(tx, posting),
        )

    def adjust_points(
        self,
        user_id: str,
        amount: int,
        *,
        currency: str,
        reason: str,
        idempotency_key: str | None = None,
        metadata: Any = None,
        at: datetime | None = None,
    ) -> Transaction:
        """An admin correction, positive or negative; ``reason`` is required and recorded."""
        check_id(user_id)
        check_signed_amount(amount)
        self._ledger.currency(currency)
        check_text(reason, "reason", max_length=1000)
        key = check_key(idempotency_key)
        meta = check_metadata(metadata)
        moment, at_text, explicit = self._rt.moment(at)
        posting = Posting(
            "admin_adjustment",
            currency,
            abs(amount),
            user_id,
            "admin",
            moment,
            at_text,
            description=reason,
            metadata=meta,
            key=_call_key(key),
        )
        return self._rt.write(
            "adjust_points",
            key,
            lambda: fingerprint(user_id, amount, currency, reason, meta, explicit),
            self._ledger.codec,
            at_text,
            lambda tx: self._ledger.adjust(tx, posting, amount),
        )

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
        check_row_id(transaction_id, "transaction_id")
        if amount is not None:
            check_amount(amount)
        if user_id is not None:
            check_id(user_id)
        text = _optional_text(description, "description")
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> Transaction:
            owner, currency, size = self._ledger.refundable(transaction_id, amount, user_id)
            posting = Posting(
                "refund",
                currency,
                size,
                owner,
                "refund",
                moment,
                at_text,
                description=text,
                refund_of=transaction_id,
                key=_call_key(key),
            )
            return self._ledger.refund(tx, posting)

        return self._rt.write(
            "refund",
            key,
            lambda: fingerprint(transaction_id, amount, user_id, text, explicit),
            self._ledger.codec,
            at_text,
            body,
        )

    def balance(self, user_id: str, currency: str) -> int:
        """The user's balance in ``currency``, held points included (0 if none)."""
        check_id(user_id)
        self._ledger.currency(currency)
        with self._store.read():
            account = self._ledger.user_account(user_id, currency)
        return 0 if account is None else account[1]

    def balances(self, user_id: str) -> dict[str, Balance]:
        """Every configured currency: balance, held, available, lifetime earned and spent."""
        check_id(user_id)
        with self._store.read():
            found = self._profiles.balances(user_id)
        return {
            name: found.get(name) or Balance(name, 0, 0, 0, 0, 0)
            for name in self.config.currency_names
        }

    def history(
        self,
        user_id: str,
        *,
        currency: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> HistoryPage:
        """Points transactions newest first, with per-currency totals (earned, spent, net)."""
        check_id(user_id)
        if currency is not None:
            self._ledger.currency(currency)
        _check_limit(limit)
        _check_before(before)
        with self._store.read():
            return self._ledger.history(user_id, currency=currency, limit=limit, before=before)

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
        check_id(user_id)
        check_amount(amount)
        self._ledger.spendable(currency)
        span = _check_ttl(ttl)
        check_text(source, "source", max_length=100)
        ref = _check_reference(reference)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> Reservation:
            # The purchase rate limit counts here, when a purchase starts, not at commit.
            self._limits.check(PURCHASE, user_id, moment)
            result = self._reservations.reserve(
                user_id,
                amount,
                currency=currency,
                source=source,
                expires_at=moment + span,
                reference=ref,
                at=moment,
                at_text=at_text,
            )
            self._limits.record(PURCHASE, user_id, moment, at_text)
            return result

        return self._rt.write(
            "reserve_points",
            key,
            lambda: fingerprint(
                user_id, amount, currency, span.total_seconds(), source, ref, explicit
            ),
            json_codec(Reservation),
            at_text,
            body,
        )

    def commit_reservation(
        self,
        reservation_id: int,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Transaction:
        """Turn a hold into a ``purchase``; refused once released, expired or committed."""
        rid = self._check_reservation_id(reservation_id)
        text = _optional_text(description, "description")
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "commit_reservation",
            key,
            lambda: fingerprint(rid, text, explicit),
            self._ledger.codec,
            at_text,
            lambda tx: self._reservations.commit(
                tx, rid, description=text, at=moment, at_text=at_text, key=_call_key(key)
            ),
        )

    def release_reservation(
        self,
        reservation_id: int,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Reservation:
        """Free a hold: the balance is exactly as it was before the reservation."""
        rid = self._check_reservation_id(reservation_id)
        key = check_key(idempotency_key)
        _, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "release_reservation",
            key,
            lambda: fingerprint(rid, explicit),
            json_codec(Reservation),
            at_text,
            lambda tx: self._reservations.release(rid, status="released", at_text=at_text),
        )

    def expire_reservations(self, now: datetime | None = None) -> list[Reservation]:
        """Release every hold whose time ran out by ``now``; safe to run any number of times.

        Shop orders whose holds these were close as ``expired``, their stock put back.
        """
        moment = self._rt.now() if now is None else check_at(now, "now")
        at_text = to_text(moment)
        with self._store.write():
            released = self._reservations.expire(at_text)
            self._shop.expired(released, at_text)
            return released

    def reservation(self, reservation_id: int) -> Reservation:
        rid = self._check_reservation_id(reservation_id)
        with self._store.read():
            return self._reservations.get(rid)

    @staticmethod
    def _check_reservation_id(reservation_id: object) -> int:
        return check_row_id(reservation_id, "reservation_id")

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

    # -- rate limits ----------------------------------------------------------------------

    def rate_limit(
        self,
        user_id: str,
        action: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> RateLimitStatus:
        """Count one call of ``action`` (a key of ``Config.rate_limits``) for ``user_id``.

        Over the limit it raises ``errors.RateLimited`` (with ``retry_after``) and writes
        nothing; otherwise it returns the status after this call. An action whose limit is
        turned off (None) is not counted. The engine counts its built-in actions itself
        (``purchase`` in ``reserve_points`` and purchase spends): call this for your own.
        """
        check_id(user_id)
        self._limits.rule(action)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "rate_limit",
            key,
            lambda: fingerprint(user_id, action, explicit),
            json_codec(RateLimitStatus),
            at_text,
            lambda tx: self._limits.hit(action, user_id, moment, at_text),
        )

    def rate_limit_status(
        self, user_id: str, action: str, *, at: datetime | None = None
    ) -> RateLimitStatus:
        """How many calls of ``action`` ``user_id`` has used and has left; writes nothing."""
        check_id(user_id)
        self._limits.rule(action)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return self._limits.status(action, user_id, moment)

    def prune_rate_limits(self, now: datetime | None = None) -> int:
        """Delete counted calls too old to matter (users prune their own as they call).

        Safe to run any number of times, e.g. daily; returns how many rows went.
        """
        moment = self._rt.now() if now is None else check_at(now, "now")
        with self._store.write():
            return self._limits.prune(moment)

    # -- referrals ------------------------------------------------------------------------

    def referral_code(self, user_id: str, *, name: str | None = None, ip: str | None = None) -> str:
        """The user's referral code, made on first call and the same ever after.

        ``name`` fills ``{name}`` in ``ReferralsConfig.code_format`` when the code is made
        (later calls ignore it). ``ip``, the address the user is using, is recorded as the
        referrer's IP for the same-IP fraud rule (the latest one given counts).
        """
        check_id(user_id)
        label = check_name(name)
        address = check_ip(ip)
        at_text = to_text(self._rt.now())
        with self._store.write():
            return self._referrals.code(user_id, label, address, at_text)

    def track_referral(
        self,
        code: str,
        new_user_id: str,
        *,
        ip: str | None = None,
        device_fingerprint: str | None = None,
        email: str | None = None,
        utm: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Referral:
        """Record that ``new_user_id`` signed up with ``code``, and pay both sides.

        A referral that breaks an anti-fraud rule or that a ``check_referral`` plugin refuses
        is stored flagged with its reason, pays nothing, and raises ``errors.ReferralRejected``
        (``.reason``, ``.referral_id``). An unknown code raises ``errors.UnknownReferralCode``
        and the ``referral_track`` rate limit (per referrer) ``errors.RateLimited``; those
        write nothing.
        """
        code = check_code(code)
        check_id(new_user_id, "new_user_id")
        address = check_ip(ip)
        device = check_fingerprint(device_fingerprint)
        mail = check_email(email)
        source = check_utm(utm)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        referral = self._rt.write(
            "track_referral",
            key,
            lambda: fingerprint(code, new_user_id, address, device, mail, source, explicit),
            json_codec(Referral),
            at_text,
            lambda tx: self._referrals.track(
                tx, code, new_user_id, ip=address, device=device, email=mail, utm=source,
                at=moment, at_text=at_text,
            ),
        )  # fmt: skip
        if referral.flagged:
            # The flagged row is committed (the write returned); the caller learns why.
            assert referral.reason is not None
            raise ReferralRejected(referral.reason, referral.id)
        return referral

    def convert_referral(
        self,
        referral: int | str,
        *,
        kind: str,
        revenue: float | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> ReferralConversion:
        """The referred user's first purchase or first session (``kind``): pays the referrer
        the conversion reward and every milestone this conversion reaches, once.

        ``referral`` is the referral id or the new user's id. A referral converts once: a
        second conversion raises ``errors.ReferralAlreadyConverted`` and a flagged one
        ``errors.ReferralUnavailable``; neither writes anything.
        """
        ref = check_referral_ref(referral)
        chosen = check_kind(kind)
        amount = check_revenue(revenue)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "convert_referral",
            key,
            lambda: fingerprint(ref, chosen, amount, explicit),
            json_codec(ReferralConversion),
            at_text,
            lambda tx: self._referrals.convert(tx, ref, chosen, amount, moment, at_text),
        )

    def set_referral_status(
        self,
        referral: int | str,
        status: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Referral:
        """Mark a referral ``paid_client`` (after it converted) or ``churned``; setting the
        status it has is a no-op. Pays nothing; flagged referrals cannot change."""
        ref = check_referral_ref(referral)
        chosen = check_settable_status(status)
        key = check_key(idempotency_key)
        _, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "set_referral_status",
            key,
            lambda: fingerprint(ref, chosen, explicit),
            json_codec(Referral),
            at_text,
            lambda tx: self._referrals.set_status(ref, chosen, at_text),
        )

    def referral(self, referral: int | str) -> Referral:
        """One referral by id, flagged ones included, or by the new user's id (their unflagged
        referral); ``errors.NotFound`` if there is none."""
        ref = check_referral_ref(referral)
        with self._store.read():
            return self._referrals.get(ref)

    def referrals(
        self, user_id: str, *, limit: int = 50, before: int | None = None
    ) -> list[Referral]:
        """The referrals made with the user's code, newest first (flagged ones included); pass
        the last one's ``id`` as ``before`` for the next page."""
        check_id(user_id)
        _check_limit(limit)
        _check_before(before)
        with self._store.read():
            return self._referrals.listing(user_id, limit, before)

    def referral_stats(self, user_id: str) -> ReferralStats:
        """Counts by status, converted referrals, points earned, the milestone tier reached
        and how many conversions the next one needs."""
        check_id(user_id)
        with self._store.read():
            return self._referrals.stats(user_id)

    # -- shop -----------------------------------------------------------------------------

    def shop(self, user_id: str | None = None, *, at: datetime | None = None) -> list[ShopListing]:
        """The live shop items with price, stock and whether one can be bought at ``at``; with
        ``user_id``, also what they bought and what the per-user limit still allows."""
        if user_id is not None:
            check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._store.read():
            return self._shop.listing(user_id, moment)

    def purchase(
        self,
        user_id: str,
        item_key: str,
        *,
        quantity: int = 1,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Order:
        """Buy ``quantity`` of a shop item: hold the price, fulfil, then charge and grant.

        Refused, writing nothing: ``NotFound`` (unknown item), ``NotOnSale``, ``OutOfStock``,
        ``PurchaseLimitReached``, ``RateLimited``, ``InsufficientFunds``. An ``external``
        item is fulfilled by the ``fulfill_order`` hook outside any transaction; if it
        raises or refuses, the hold is released and ``FulfillmentFailed`` raised.
        """
        check_id(user_id)
        check_text(item_key, "item_key", max_length=100)
        if type(quantity) is not int or not 1 <= quantity <= 1000:
            raise InvalidInput("quantity", f"expected an int from 1 to 1000, got {quantity!r}")
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        digest = None if key is None else fingerprint(user_id, item_key, quantity, explicit)
        return self._shop.purchase(
            user_id, item_key, quantity, key, digest, moment, at_text, explicit is not None
        )

    def refund_purchase(
        self, order_id: int, *, idempotency_key: str | None = None, at: datetime | None = None
    ) -> Order:
        """Refund a completed order whole: points back through the ledger, granted items
        and titles taken back, stock returned. ``NotRefundable`` if it is not completed or
        its items were used (a spent streak freeze)."""
        oid = self._check_order_id(order_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "refund_purchase",
            key,
            lambda: fingerprint(oid, explicit),
            self._shop.codec,
            at_text,
            lambda tx: self._shop.refund(tx, oid, moment, at_text),
        )

    def orders(self, user_id: str, *, limit: int = 50, before: int | None = None) -> list[Order]:
        """The user's shop orders, newest first; pass the last ``id`` as ``before`` for more."""
        check_id(user_id)
        _check_limit(limit)
        _check_before(before)
        with self._store.read():
            return self._shop.orders(user_id, limit, before)

    def order(self, order_id: int) -> Order:
        """One shop order (``NotFound`` if there is none)."""
        oid = self._check_order_id(order_id)
        with self._store.read():
            return self._shop.order(oid)

    @staticmethod
    def _check_order_id(order_id: object) -> int:
        return check_row_id(order_id, "order_id")

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

    # -- audit ----------------------------------------------------------------------------

    def verify_ledger(self) -> LedgerReport:
        """Recompute sums, balances, chains, holds and XP totals; empty when all agree."""
        with self._store.read() as conn:
            return audit.verify(conn)
