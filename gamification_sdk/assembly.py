"""How one engine is wired: every capability's domain objects and namespace services for one
configuration, and what plugins register into them (scorers, criteria, definition packs).

The facade builds a ``Parts`` when it opens and again when the stored configuration changes;
it exposes the services as its namespaces. Nothing here imports the facade: what plugins get
as ``engine=`` is the runtime's ``facade``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pluggy

from .config import Config
from .core.clock import Clock, to_text
from .economy.inventory import Items
from .economy.ledger import KEY_HOME as LEDGER_KEY_HOME
from .economy.ledger import Ledger
from .economy.multipliers import PointsMultipliers
from .economy.points_service import PointsService
from .economy.rate_limits_service import RateLimitsService
from .economy.ratelimits import RateLimits
from .economy.referrals import Referrals
from .economy.referrals_service import ReferralsService
from .economy.reservations import Reservations
from .economy.shop import Shop
from .economy.shop_service import ShopService
from .errors import ConfigError
from .models import ScoredEvent
from .ops import audit
from .ops.notifications_service import NotificationsService
from .ops.privacy import Privacy
from .ops.privacy_service import PrivacyService
from .ops.stats import user_stats
from .progression.achievements import Achievements
from .progression.achievements_service import AchievementsService
from .progression.battle_pass_service import BattlePassService
from .progression.battlepass import BattlePasses
from .progression.bulk import BulkXP
from .progression.events import Tracker, paid_points, track_codec
from .progression.events_service import EventsService
from .progression.levels import LevelCurve, LevelTable
from .progression.loader import Loader
from .progression.metrics import Metrics
from .progression.profiles import Profiles
from .progression.quests import Quests
from .progression.quests_service import QuestsService
from .progression.referral_progress import ReferralProgress
from .progression.streaks import Streaks
from .progression.streaks_service import StreaksService
from .progression.tiers import StatusTiers
from .progression.tiers_service import TiersService
from .progression.users_service import UsersService
from .progression.xp import KEY_HOME, XP
from .progression.xp_service import XPService
from .runtime.bus import (
    AchievementUnlocked,
    Bus,
    EventTracked,
    PointsAwarded,
    PointsIssued,
    ReferralConverted,
    ReferralSignedUp,
    XPAwarded,
)
from .runtime.idempotency import Idempotency
from .runtime.outbox import Notifications
from .runtime.plugins import announce_stored, run_vetoes
from .runtime.runtime import Runtime
from .social.boards import Boards
from .social.boards_service import BoardsService
from .social.groups import Social
from .social.leaderboards import Leaderboards
from .social.social_service import SocialService
from .storage.store import Store

__all__ = ["Parts", "level_curve", "new_runtime", "rebuild"]


def new_runtime(
    store: Store, clock: Clock, pm: pluggy.PluginManager, config: Config, *, facade: object
) -> Runtime:
    """What every service of one engine shares; ``facade`` is what plugins get as ``engine=``."""
    per_user = store.dialect.name != "sqlite"
    homes = (KEY_HOME, LEDGER_KEY_HOME)
    rt = Runtime(store, clock, pm, Idempotency(store.conn, homes, per_user=per_user), config)
    rt.facade = facade
    return rt


def level_curve(pm: pluggy.PluginManager, config: Config) -> LevelCurve:
    """The level curve a plugin provides for ``config.levels`` (the built-in ones included)."""
    curve = pm.hook.level_curve(levels=config.levels)
    if curve is None:
        name = config.levels.custom if config.levels.curve == "custom" else config.levels.curve
        raise ConfigError([f"levels.curve: no plugin provides the curve {name!r}"])
    if not isinstance(curve, LevelCurve):
        raise ConfigError(["levels.curve: the plugin's curve has no total_xp_for(level)"])
    return curve


class Parts:
    """Every domain object and namespace service of one engine, built for ``config``.

    Building writes nothing; ``setup()`` writes what the configuration keeps in the file
    (inside the caller's write), ``register_plugin_definitions()`` loads the packs it names.
    """

    def __init__(self, rt: Runtime, config: Config) -> None:
        self.config = config
        self._rt = rt
        store, pm, conn, facade = rt.store, rt.pm, rt.store.conn, rt.facade
        rt.config = config
        self.table = LevelTable(level_curve(pm, config), config.levels.max_level)
        self.profiles = Profiles(conn, config, self.table)
        self.ledger = Ledger(
            conn, config, self.profiles, system_per_user=store.dialect.name != "sqlite"
        )
        self.ledger.vet = lambda request: run_vetoes(pm, facade, request)
        self.ledger.confirm = rt.store.confirm
        self._max_award = {c.name: c.max_award for c in config.currencies}
        self.reservations = Reservations(conn, self.ledger)
        self.limits = RateLimits(conn, config)
        self.xp = XP(conn, config, self.table, self.profiles, self.ledger, pm, facade)
        self.xp.confirm = rt.store.confirm
        self.metrics = Metrics(conn, writing_ctes=store.dialect.name != "sqlite")
        self.notifications = self.xp.notifications = Notifications(conn)
        self.notifications.stored = partial(announce_stored, rt.implementations, facade)
        self.items = Items(conn)
        self.achievements = Achievements(
            conn, config, self.metrics, self.ledger, self.items, self.notifications, facade
        )
        self.achievements.xp = self.xp
        self.achievements.confirm = rt.store.confirm
        self.loader = Loader(conn, config)
        self.streaks = Streaks(conn, config, self.items, self.notifications)
        self.streaks.xp = self.xp
        self.streaks.moved_xp = self.achievements.moved_xp
        self.quests = Quests(
            conn, config, self.metrics, self.items, self.notifications, self.achievements
        )
        if pm.hook.verify_quest.get_hookimpls():
            self.quests.verify = pm.hook.verify_quest
        self.referrals = Referrals(
            conn, config, self.profiles, self.ledger, self.items, self.notifications,
            self.limits, pm, facade,
        )  # fmt: skip
        self.shop = Shop(
            store, self.ledger, self.reservations, self.items, self.streaks, self.limits,
            rt.idempotency, pm, facade, rt.dispatch, rt.now,
            lambda user_id: rt.frame(user_id=user_id),
        )  # fmt: skip
        self.tracker = Tracker(
            self.profiles, self.metrics, self.xp, self.achievements, self.streaks,
            self.quests, config.streaks.activity_events,
        )  # fmt: skip
        self.tracker.day_rule = (config.default_timezone, config.day_start_hour)
        self.boards = Boards(conn, config, connection_triggers=store.dialect.name == "sqlite")
        self.social = Social(conn, config)
        self.leaderboards = Leaderboards(
            conn, config, self.boards, self.social, self.ledger, self.items, self.notifications
        )
        self.battle_pass = BattlePasses(conn, config, self.ledger, self.items, self.achievements)
        self.tiers = StatusTiers(
            conn, config, self.items, self.notifications, lambda: store.current
        )
        self.bus = self._subscribe()
        self.bulk = BulkXP(store, self.xp, self.table, rt.idempotency, self.achievements, pm)
        self.privacy = Privacy(
            conn,
            self.ledger,
            self.reservations,
            self.boards,
            moves_rows=store.dialect.name != "sqlite",
        )
        self._register_scorers()
        if pm.hook.friends_of.get_hookimpls():
            self.social.friends_of = lambda user_id: pm.hook.friends_of(
                engine=facade, user_id=user_id
            )
        self._services()

    def _subscribe(self) -> Bus:
        """Who reacts to what, for this configuration; publishers get ``None`` for an event
        nothing follows, and skip it."""
        bus, boards = Bus(), self.boards
        self.xp.write_xp = None
        if boards.follows("xp"):
            # The board kept in the profile row is written by award_xp's own update
            # (write_xp); the subscription adds the other XP boards.
            held = boards.slots is not None
            # With only that board, nothing is left for the event to do: no subscription,
            # so award_xp builds and publishes no XPAwarded (a few µs an award).
            if not held or boards.follows_beyond_slots("xp"):
                bus.subscribe(
                    XPAwarded,
                    "boards",
                    lambda e: boards.add("xp", e.user_id, e.amount, e.at, slots=not held),
                )
            self.xp.write_xp = boards.write_xp if held else None
        if self.battle_pass.seasons:  # only while a season runs a battle pass
            fill = self.battle_pass.add_xp
            bus.subscribe(
                XPAwarded, "battle_pass", lambda e: fill(e.user_id, e.amount, e.at, e.at_text)
            )
        if boards.follows_points():
            bus.subscribe(
                PointsIssued,
                "boards",
                lambda e: boards.add(f"points:{e.currency}", e.user_id, e.amount, e.at),
            )
        if boards.follows("achievements") or boards.follows("achievement_points"):

            def unlocked(e: AchievementUnlocked) -> None:
                boards.add("achievements", e.user_id, 1, e.at)
                boards.add("achievement_points", e.user_id, e.points, e.at)

            bus.subscribe(AchievementUnlocked, "boards", unlocked)
        if boards.follows_events():
            bus.subscribe(
                EventTracked,
                "boards",
                lambda e: boards.on_event(e.user_id, e.event, e.value, e.metadata, e.at),
            )
        self._subscribe_tiers(bus)
        # Always, as badges can be loaded later: after_points checks what they watch first.
        after_points = self.achievements.after_points
        bus.subscribe(
            PointsAwarded,
            "achievements",
            lambda e: after_points(e.tx, e.transaction, e.at, e.at_text),
        )
        # Always: the referral metrics are kept whether or not a badge watches them yet.
        referred = ReferralProgress(self.achievements, self.metrics)
        bus.subscribe(ReferralSignedUp, "achievements", referred.signed_up)
        bus.subscribe(ReferralConverted, "achievements", referred.converted)
        self.xp.publish_xp = bus.publisher(XPAwarded)
        following = bus.subscribers(XPAwarded)
        if following == ["boards"] or (not following and boards.follows("xp")):
            # A batch's buffered awards reach the boards, the slotted one included, at once.
            self.xp.boards_only = lambda adds: boards.add_many("xp", adds)
        self.ledger.publish_issued = bus.publisher(PointsIssued)
        self.achievements.publish_unlocked = bus.publisher(AchievementUnlocked)
        self.tracker.publish_tracked = bus.publisher(EventTracked)
        self.referrals.publish_signed_up = bus.publisher(ReferralSignedUp)
        self.referrals.publish_converted = bus.publisher(ReferralConverted)
        return bus

    def _subscribe_tiers(self, bus: Bus) -> None:
        """Status tiers follow the one measure they are configured with (none: nothing)."""
        tiers = self.tiers
        self.xp.tier_factor = None
        tier_points = tiers.points_factor if tiers.points_currencies else None
        multiply = self.ledger.multiply = PointsMultipliers(
            self._rt.pm, self._rt.facade, tier_points, self._max_award
        )
        self.ledger.plain = multiply.plain
        if not tiers.on:
            return
        self.xp.tier_factor = tiers.xp_factor
        measure = tiers.config.measure
        if measure == "xp":
            bus.subscribe(XPAwarded, "tiers", lambda e: tiers.earn(e.user_id, e.amount, e.at))
        elif measure.startswith("points:"):
            currency = measure.removeprefix("points:")

            def issued(e: PointsIssued) -> None:
                if e.currency == currency:
                    tiers.earn(e.user_id, e.amount, e.at)

            bus.subscribe(PointsIssued, "tiers", issued)
        else:
            event = measure.removeprefix("event:")

            def tracked(e: EventTracked) -> None:
                if e.event == event:
                    tiers.earn(e.user_id, e.value, e.at)

            bus.subscribe(EventTracked, "tiers", tracked)

    def _services(self) -> None:
        rt = self._rt
        # progression
        self.xp_service = XPService(
            rt, self.xp, self.table, self.bulk, self.profiles, self.streaks, self.achievements
        )
        self.users_service = UsersService(
            rt, self.profiles, self.streaks, self.items, self.achievements,
            partial(user_stats, rt.store.conn, self.profiles, self.achievements),
        )  # fmt: skip
        rt.idempotency.kept_with_rows["track"] = paid_points
        self.events_service = EventsService(
            rt, self.tracker, track_codec(self.xp.codec, self.ledger.codec), self.loader,
            self.achievements, self.profiles, self.shop,
        )  # fmt: skip
        self.achievements_service = AchievementsService(rt, self.achievements)
        self.quests_service = QuestsService(
            rt, self.quests, self.achievements, self.profiles, self.limits
        )
        self.streaks_service = StreaksService(
            rt, self.streaks, self.tracker, self.profiles, self.items
        )
        self.battle_pass_service = BattlePassService(rt, self.battle_pass)
        self.tiers_service = TiersService(rt, self.tiers)
        # economy
        self.points_service = PointsService(
            rt, self.ledger, self.reservations, self.limits, self.profiles.balances,
            self.shop, audit.verify, self.notifications,
        )  # fmt: skip
        self.points_service.publish_awarded = self.bus.publisher(PointsAwarded)
        if self.bus.subscribers(PointsAwarded) == ["achievements"]:
            # Achievements.after_points acts only on a currency a badge watches (a catalogue
            # loaded later replaces achievements.catalogue: read on each award).
            achievements = self.achievements
            self.points_service.awarded_followed = lambda currency: (
                f"points:{currency}" in achievements.catalogue.watched
            )
        self.shop_service = ShopService(rt, self.shop)
        self.referrals_service = ReferralsService(rt, self.referrals)
        self.rate_limits_service = RateLimitsService(rt, self.limits)
        # social and ops
        self.boards_service = BoardsService(rt, self.leaderboards)
        self.social_service = SocialService(rt, self.social, self.profiles, self.boards)
        self.notifications_service = NotificationsService(rt, self.notifications, self.profiles)
        self.privacy_service = PrivacyService(rt, self.privacy, self.profiles)

    def setup(self) -> None:
        """What each capability keeps in the file for its configuration (inside a write)."""
        now = self._rt.now()
        self.ledger.setup(to_text(now))
        self.social.setup()
        self.boards.setup(now)

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

        self._rt.pm.hook.register_scorers(register=add_scorer)
        missing = sorted(str(name) for name in wanted if name not in scorers)
        if missing:
            raise ConfigError(
                [f"leaderboards.boards: no plugin registers the scorer {n!r}" for n in missing]
            )
        self.boards.scorers = {name: scorers[name] for name in sorted(str(n) for n in wanted)}

    def register_plugin_definitions(self) -> None:
        """Custom criteria from plugins, and the definition packs the configuration names."""
        pm = self._rt.pm
        evaluators: dict[str, Callable[..., Any]] = {}

        def add_criterion(name: str, evaluate: Callable[..., Any]) -> None:
            if type(name) is not str or not name.strip() or not callable(evaluate):
                raise ConfigError([f"register_criteria: need (name, callable), got {name!r}"])
            if name in evaluators:
                raise ConfigError([f"register_criteria: {name!r} is registered twice"])
            evaluators[name] = evaluate

        pm.hook.register_criteria(register=add_criterion)
        self.achievements.evaluators = evaluators
        self.loader.custom_names = set(evaluators)
        offered: dict[str, Any] = {}

        def add_definitions(source: Any, name: str) -> None:
            if type(name) is not str or not name.strip():
                raise ConfigError([f"register_definitions: name the pack, got {name!r}"])
            if name in offered:
                raise ConfigError([f"register_definitions: two plugins offer the pack {name!r}"])
            offered[name] = source

        pm.hook.register_definitions(register=add_definitions)
        missing = [name for name in self.config.packs if name not in offered]
        if missing:
            raise ConfigError(
                [f"packs: no installed plugin offers {name!r} (offered: "
                 f"{', '.join(sorted(offered)) or 'none'})" for name in missing]
            )  # fmt: skip
        for name in self.config.packs:
            self.events_service.load(offered[name], name=name)
        self.achievements.catalogue = self.loader.catalogue()


def rebuild(rt: Runtime, old: Parts, config: Config, tx_body: Callable[[], None] | None) -> Parts:
    """New parts for ``config``, set up in one write with ``tx_body``; on any failure the
    runtime is back on ``old``'s configuration and nothing changed."""
    try:
        parts = Parts(rt, config)
        with rt.store.write():
            if tx_body is not None:
                tx_body()
            parts.setup()
            parts.register_plugin_definitions()
    except BaseException:
        rt.config = old.config  # the new parts had switched the shared runtime
        raise
    return parts
