"""The facade a host app calls. It validates, opens the transaction, and delegates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pluggy
import sqlite_utils

from .assembly import Parts, new_runtime, rebuild
from .config import Config
from .core.clock import Clock, system_clock
from .core.validation import check_id
from .economy.points_service import PointsService
from .economy.rate_limits_service import RateLimitsService
from .economy.referrals_service import ReferralsService
from .economy.shop_service import ShopService
from .errors import InvalidInput
from .models import (
    HistoryPage,
    LedgerReport,
    Profile,
    Reservation,
    TrackResult,
    Transaction,
    XPAward,
)
from .ops.jobs import collect_jobs
from .ops.jobs_service import JobsService
from .ops.notifications_service import NotificationsService
from .ops.privacy_service import PrivacyService
from .progression.achievements_service import AchievementsService
from .progression.battle_pass_service import BattlePassService
from .progression.events_service import EventsService
from .progression.quests_service import QuestsService
from .progression.streaks_service import StreaksService
from .progression.tiers_service import TiersService
from .progression.users_service import UsersService
from .progression.xp_service import XPService
from .runtime.opening import migrate, open_store
from .runtime.plugins import get_plugin_manager
from .runtime.runtime import retrying
from .runtime.stored_config import Settings, StoredConfig
from .social.boards_service import BoardsService
from .social.social_service import SocialService
from .storage.store import Store

__all__ = ["Gamification"]


class Gamification:
    """One engine on one SQLite file. Safe to share between threads; open one per process.

    Use :meth:`open` to make one; it is a context manager.
    """

    # The namespaces: one capability service each, rebuilt with the configuration (Parts).
    xp: XPService
    users: UsersService
    events: EventsService
    achievements: AchievementsService
    quests: QuestsService
    streaks: StreaksService
    battle_pass: BattlePassService
    tiers: TiersService
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
        self._rt = new_runtime(store, clock, pm, config, facade=self)
        self._use(Parts(self._rt, config))
        # Through the current parts: rebuilt parts must not leave a stale listener behind.
        store.rollback_listeners.append(lambda: self._parts.boards.forget_ids())

        def setup() -> None:
            with store.write():
                migrate(store)
                self._parts.setup()

        # App servers starting together write the same set-up rows (PostgreSQL).
        retrying(setup)
        self._parts.register_plugin_definitions()
        # Built once, not with the parts: it keeps its lease holder id and background thread
        # across configuration changes (jobs are collected at open).
        self.jobs = JobsService(self._rt, collect_jobs(pm, config))
        self.settings = Settings(
            store, StoredConfig(store.conn), lambda: self.config, self._reconfigure,
            self._rt.now, config_version,
        )  # fmt: skip
        if not store.memory:
            # Another process may change the stored configuration: each write checks.
            store.watch = self.settings.watch

    def _use(self, parts: Parts) -> None:
        """Run on ``parts`` from now on: the namespaces are their services."""
        self._parts = parts
        self.config = parts.config
        self.xp = parts.xp_service
        self.users = parts.users_service
        self.events = parts.events_service
        self.achievements = parts.achievements_service
        self.quests = parts.quests_service
        self.streaks = parts.streaks_service
        self.battle_pass = parts.battle_pass_service
        self.tiers = parts.tiers_service
        self.points = parts.points_service
        self.shop = parts.shop_service
        self.referrals = parts.referrals_service
        self.rate_limits = parts.rate_limits_service
        self.boards = parts.boards_service
        self.social = parts.social_service
        self.notifications = parts.notifications_service
        self.privacy = parts.privacy_service

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
        schema: str | None = None,
    ) -> Gamification:
        """Open (creating and migrating as needed) an engine on ``path`` or ``":memory:"``.

        The parts of ``config`` that shape stored data are kept in the database: with no
        ``config`` the engine adopts the stored one; a ``config`` that differs from it
        raises ``ConfigMismatch`` and writes nothing (see ``settings``). ``adopt=True``
        takes only ``config``'s process-local fields (durability, busy_timeout, ...) and
        the stored rest.

        ``path`` may instead be a ``postgresql://`` URL or a ``psycopg_pool.ConnectionPool``:
        the engine then keeps its tables in the PostgreSQL schema ``schema`` (default
        ``gamification``), created and migrated as needed (docs/postgresql.md).
        """
        if config is not None and not isinstance(config, Config):
            raise InvalidInput("config", f"expected a Config, got {type(config).__name__}")
        pm = get_plugin_manager(plugins, load_entrypoints=load_entrypoints)
        clock = clock or system_clock
        store, resolved, version = open_store(path, config, clock, adopt, schema, pm)
        try:
            return cls(store, resolved, clock, pm, config_version=version)
        except BaseException:
            store.close()
            raise

    def _reconfigure(self, config: Config, tx_body: Callable[[], None] | None) -> None:
        """Run on ``config`` from now on: every part is rebuilt. ``tx_body`` runs in the
        same transaction as the new parts' setup; on any failure nothing changes."""
        self._use(rebuild(self._rt, self._parts, config, tx_body))

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
    def batch(self, *, user_id: str | None = None) -> Iterator[None]:
        """Run many writes in one transaction: all of them commit, or none do.

        After-commit hooks run once the batch commits. A write that is refused before it
        changes anything (bad input, ``InsufficientFunds``, a veto of a direct award, a
        conflict) can be caught and the batch goes on. A write that fails after changing rows
        (a veto of what it pays through rules or rewards, too) dooms the batch: it rolls back
        and raises ``BatchAborted``. A nested ``batch()`` is a
        savepoint, so a write wrapped in one can fail without dooming the outer batch.

        ``user_id``: the user the batch's calls are about. On PostgreSQL the batch then runs
        as one of that user's writes (READ COMMITTED under the user's lock), queued with
        their other writes on every server; a call about another user inside it takes that
        user's lock too. Without it the batch runs READ COMMITTED as well, each call taking
        its user's lock as it comes, so it queues with the single writes of those users. Two
        batches locking users in opposite orders deadlock: the server breaks it, the batch
        raises ``WriteConflict``, and the caller runs it again whole (its calls keyed). On
        SQLite, one writer at a time, it changes nothing.
        """
        if user_id is not None:
            check_id(user_id)
        # Plain XP awards of the outermost batch are buffered (see bulk.py); ``nested`` is
        # read once the write has begun.
        with (
            self._rt.frame(savepoint=True, user_id=user_id or "", users=True) as tx,
            nullcontext() if self._store.nested else self._parts.bulk.buffering(),
        ):
            yield
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
        expires_at: datetime | None = None,
    ) -> Transaction:
        """Issue points to a user; returns the transaction with the new balance.

        ``expires_at``: when these points expire, instead of the currency's rule (later or
        sooner); only for a currency that expires, and after the award's moment."""
        return self.points.award(
            user_id, amount, currency=currency, source=source, idempotency_key=idempotency_key,
            reference=reference, description=description, metadata=metadata, at=at,
            transaction_type=transaction_type, expires_at=expires_at
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
            transaction_type=transaction_type
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
            idempotency_key=idempotency_key, description=description, metadata=metadata, at=at
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
            idempotency_key=idempotency_key, at=at
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
            idempotency_key=idempotency_key, at=at
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

    # -- audit ----------------------------------------------------------------------------

    def verify_ledger(self) -> LedgerReport:
        """Recompute sums, balances, chains, holds and XP totals; empty when all agree."""
        return self.points.verify()
