"""Run synthetic users through a real engine, day by day, on a fake clock.

Each simulated day: users churn or come back per their profile, their sessions are drawn
(times, events, shop visits), every action of every user is sorted by time and run through
the engine's public calls in ``batch()`` transactions, then the clock moves to the next day
and the scheduled jobs run (streak sweep, quest rollover, leaderboard closes and their
rewards). A day-end snapshot reads levels, streaks and the ledger's system accounts.
"""

from __future__ import annotations

import bisect
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from .. import errors
from ..config import Config
from ..core.clock import FakeClock, to_text
from ..economy.ledger import BREAKAGE, ISSUANCE, SINK
from ..engine import Gamification
from ..hookspecs import hookimpl
from ..models import Order
from ..progression.definitions import ShopItem
from ..storage.simulator import (
    FIRST_UNLOCKS,
    LEVELS,
    LIFETIMES,
    PROGRESS,
    STREAKS_FROM,
    SYSTEM_BALANCES,
)
from .catalogue import read_plan
from .profiles import PROFILES, ActivityProfile, population
from .report import STREAK_THRESHOLDS, Observations, SimulationReport, build_report

__all__ = ["DEFAULT_CONFIG", "DEFAULT_DEFINITIONS", "DEFAULT_START", "simulate"]

DEFAULT_CONFIG = Path(__file__).with_name("default_config.toml")
DEFAULT_DEFINITIONS = Path(__file__).with_name("default_definitions.toml")
DEFAULT_START = date(2026, 1, 5)  # a Monday, so weeks in the report are ISO weeks
MAX_USERS = 1_000_000
MAX_DAYS = 3_650
CHUNK = 5_000  # actions per transaction: large enough that commits cost little

Progress = Callable[[int, int], None]


class SimulatedFulfilment:
    """Stands in for the host's order service: simulated orders must never reach a real one.

    Registered after every other plugin, so it answers ``fulfill_order`` first.
    """

    @hookimpl
    def fulfill_order(self, order: Order, item: ShopItem) -> str | None:
        return f"simulated-{order.id}" if item.kind == "external" else None


@attrs.frozen
class _Action:
    moment: datetime
    seq: int
    kind: str  # "track", "activity" or "shop"
    user: int
    event: str = ""
    metadata: dict[str, Any] | None = None


def _check_int(value: object, field: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise errors.InvalidInput(field, f"expected an int from {low:,} to {high:,}, got {value!r}")
    return value


def _load_config(config: Config | str | Path | None) -> Config:
    if config is None:
        return Config.from_file(DEFAULT_CONFIG)
    if isinstance(config, Config):
        return config
    if isinstance(config, str | Path):
        return Config.from_file(config)
    kind = type(config).__name__
    raise errors.InvalidInput("config", f"expected a Config or a file path, got {kind}")


@contextmanager
def _database(database: str | Path | None) -> Iterator[str]:
    if database is None:
        with tempfile.TemporaryDirectory(prefix="gamification-simulate-") as folder:
            yield str(Path(folder) / "simulation.db")
        return
    if str(database) == ":memory:":
        yield ":memory:"
        return
    path = Path(database)
    if path.exists():
        raise errors.InvalidInput("database", f"{database} exists: a simulation needs a new file")
    try:
        yield str(path)
    except BaseException:
        # A refused or failed run leaves nothing behind; the file was new, so it is ours.
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        raise


def simulate(
    *,
    users: int,
    days: int,
    profile: str = "mixed",
    seed: int = 0,
    config: Config | str | Path | None = None,
    definitions: str | Path | Mapping[str, Any] | None = None,
    events: Mapping[str, float] | None = None,
    start: date = DEFAULT_START,
    database: str | Path | None = None,
    load_entrypoints: bool = False,
    plugins: Iterable[object] = (),
    profiles: Mapping[str, ActivityProfile] | None = None,
    progress: Progress | None = None,
) -> SimulationReport:
    """Simulate ``users`` synthetic users for ``days`` days and report on the economy.

    ``profile``: ``casual``, ``core``, ``whale`` or ``mixed`` (70/25/5). ``config``: a
    ``Config`` or a TOML/JSON file (default: the bundled community economy).
    ``definitions``: a definition set (file or mapping) loaded into the engine; without one,
    the bundled catalogue, unless the config names ``packs``. ``events``: event -> weight,
    replacing the mix derived from the definitions. ``database``: where the engine lives
    (default: a temporary file, removed afterwards; ``":memory:"`` works for small runs).
    ``load_entrypoints``: load installed plugins (off by default, so simulated users cannot
    trigger a host's real notifications). ``profiles`` replaces activity models by name
    (``{"core": attrs.evolve(PROFILES["core"], churn=0.01)}``). ``progress(day, days)`` is
    called after each day.
    The same arguments and seed give the same report.
    """
    _check_int(users, "users", 1, MAX_USERS)
    _check_int(days, "days", 1, MAX_DAYS)
    if type(seed) is not int:
        raise errors.InvalidInput("seed", f"expected an int, got {seed!r}")
    if type(start) is not date:
        raise errors.InvalidInput("start", f"expected a date, got {start!r}")
    shares = population(profile)
    models = _models(profiles)
    cfg = _load_config(config)
    if cfg.levels.max_level < 2:
        raise errors.InvalidInput("levels.max_level", "1 leaves no level to reach")
    # One audit at the end instead of the nightly job: a daily full audit of a growing ledger
    # would dominate the run time.
    cfg = attrs.evolve(cfg, scheduler=attrs.evolve(cfg.scheduler, ledger_audit_at=None))
    catalogue = _catalogue_name(definitions, cfg)
    with _database(database) as path:
        sim = _Simulation(
            path, cfg, shares, seed, start, days, users, load_entrypoints, [*plugins], models
        )
        try:
            sim.load(definitions, events)
            sim.run(progress)
            return sim.report(profile, catalogue)
        finally:
            sim.g.close()


def _models(profiles: Mapping[str, ActivityProfile] | None) -> dict[str, ActivityProfile]:
    models = dict(PROFILES)
    for name, model in (profiles or {}).items():
        if name not in PROFILES:
            raise errors.InvalidInput(
                "profiles", f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}"
            )
        if not isinstance(model, ActivityProfile):
            kind = type(model).__name__
            raise errors.InvalidInput(
                "profiles", f"{name}: expected an ActivityProfile, got {kind}"
            )
        models[name] = model
    return models


def _catalogue_name(definitions: str | Path | Mapping[str, Any] | None, cfg: Config) -> str:
    if definitions is None:
        return f"packs {', '.join(cfg.packs)}" if cfg.packs else "built-in (seeds 000, 002, 004)"
    if isinstance(definitions, str | Path):
        return Path(definitions).name
    return "a mapping"


class _Simulation:
    def __init__(
        self,
        path: str,
        config: Config,
        shares: Mapping[str, float],
        seed: int,
        start: date,
        days: int,
        users: int,
        load_entrypoints: bool,
        plugins: list[object],
        models: Mapping[str, ActivityProfile],
    ) -> None:
        self.config = config
        self.models = models
        self.seed = seed
        self.start = start
        self.days = days
        self.zone = ZoneInfo(config.default_timezone)
        self.day_starts = [self._day_start(d) for d in range(days + 1)]
        self.clock = FakeClock(self.day_starts[0])
        self.g = Gamification.open(
            path,
            config=config,
            clock=self.clock,
            plugins=[*plugins, SimulatedFulfilment()],
            load_entrypoints=load_entrypoints,
        )
        self.rng = random.Random(f"{seed}:activity")
        self.shop_rng = random.Random(f"{seed}:shop")
        names = list(shares)
        cum = list(accumulate(shares[n] for n in names))
        self.segments = [self.rng.choices(names, cum_weights=cum)[0] for _ in range(users)]
        self.profiles = [models[s] for s in self.segments]
        width = max(5, len(str(users)))
        self.ids = [f"sim-{i:0{width}d}" for i in range(users)]
        self.index = {user_id: i for i, user_id in enumerate(self.ids)}
        self.alive = [True] * users
        self.exhausted: list[set[str]] = [set() for _ in range(users)]
        self.obs = Observations(segments=self.segments, days=days)
        self.reached = [1] * users
        self.system: dict[tuple[str, str], int] = {}

    def _day_start(self, day: int) -> datetime:
        local = datetime.combine(self.start + timedelta(days=day), time(self.config.day_start_hour))
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    # -- setup --------------------------------------------------------------------------------

    def load(
        self, definitions: str | Path | Mapping[str, Any] | None, events: Mapping[str, float] | None
    ) -> None:
        if definitions is None:
            if not self.config.packs:
                self.g.events.load(DEFAULT_DEFINITIONS, name="simulator-default")
        elif isinstance(definitions, str | Path):
            self.g.events.load(definitions)
        elif isinstance(definitions, Mapping):
            self.g.events.load(definitions, name="simulation")
        else:
            kind = type(definitions).__name__
            raise errors.InvalidInput(
                "definitions", f"expected a file path or a mapping, got {kind}"
            )
        plan = read_plan(self.g, self.config, events)
        if not plan.login_events and not plan.mix.events:
            raise errors.InvalidInput(
                "definitions", "no rule, quest or achievement names an event to track"
            )
        if not plan.pays_xp:
            raise errors.InvalidInput(
                "definitions",
                "nothing pays XP (no rule, quest or event achievement with xp, no streak "
                "bonus): no level above 1 is reachable",
            )
        self.plan = plan
        self.cum_weights = {
            name: list(accumulate(plan.mix.weights_for(p.cheap_bias)))
            for name, p in self.models.items()
        }
        self.balances_before = self._system_balances()

    # -- the days -----------------------------------------------------------------------------

    def run(self, progress: Progress | None) -> None:
        for day in range(self.days):
            actions, active = self._plan_day(day)
            self.obs.daily_active.append(active)
            self._execute(actions)
            self.clock.set(self.day_starts[day + 1] + timedelta(minutes=1))
            self.g.jobs.run_due()
            self._snapshot(day)
            if progress is not None:
                progress(day + 1, self.days)
        self.ledger_ok = self.g.verify_ledger().ok

    def _plan_day(self, day: int) -> tuple[list[_Action], int]:
        rng = self.rng
        actions: list[_Action] = []
        active = 0
        day_start = self.day_starts[day]
        for user, p in enumerate(self.profiles):
            if not self.alive[user]:
                continue
            if day > 0 and rng.random() < p.churn:
                self.alive[user] = False
                continue
            if rng.random() >= p.active_chance:
                continue
            active += 1
            sessions = sorted(
                self._session_start(day_start, p, rng) for _ in range(rng.randint(*p.sessions))
            )
            moment = sessions[0]
            for event in self.plan.login_events:
                actions.append(_Action(moment, len(actions), "track", user, event))
            if not self.plan.login_events:
                actions.append(_Action(moment, len(actions), "activity", user))
            for session in sessions:
                moment = session
                count = rng.randint(*p.events_per_session)
                if not self.plan.mix.events:
                    continue
                picks = rng.choices(
                    self.plan.mix.events,
                    cum_weights=self.cum_weights[self.segments[user]],
                    k=count,
                )
                for event in picks:
                    moment += timedelta(seconds=rng.randint(20, 300))
                    choices = self.plan.metadata.get(event)
                    meta = rng.choice(choices) if choices else None
                    actions.append(_Action(moment, len(actions), "track", user, event, meta))
            if self.plan.shop and rng.random() < p.shop_chance:
                actions.append(_Action(moment + timedelta(minutes=1), len(actions), "shop", user))
        actions.sort(key=lambda a: (a.moment, a.seq))
        return actions, active

    def _session_start(
        self, day_start: datetime, p: ActivityProfile, rng: random.Random
    ) -> datetime:
        # Offsets from the user's day start (``day_start_hour`` local): night sessions fall
        # between 00:00 and 05:00 local, day sessions between 07:00 and 23:00.
        hour0 = self.config.day_start_hour
        if rng.random() < p.night_share:
            low, high = (0, 5) if hour0 == 0 else (24 - hour0, 24 - hour0 + min(5, hour0))
        else:
            low, high = max(7, hour0) - hour0, 23 - hour0
            low = min(low, high - 1)
        local = day_start.astimezone(self.zone).replace(tzinfo=None)
        wall = local + timedelta(seconds=rng.randint(low * 3600, high * 3600 - 1))
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def _execute(self, actions: list[_Action]) -> None:
        g = self.g
        i = 0
        while i < len(actions):
            external: tuple[_Action, ShopItem] | None = None
            with g.batch():
                end = min(len(actions), i + CHUNK)
                while i < end:
                    action = actions[i]
                    i += 1
                    self.clock.set(action.moment)
                    item = self._run(action)
                    if item is not None:
                        external = (action, item)
                        break
            if external is not None:
                # External goods are fulfilled between two transactions, never in a batch.
                self._buy(external[0].user, external[1])

    def _run(self, action: _Action) -> ShopItem | None:
        user_id = self.ids[action.user]
        if action.kind == "track":
            # A validate_award plugin may veto an event: nothing is written, the day goes on.
            with suppress(errors.Rejected):
                self.g.track(user_id, action.event, metadata=action.metadata)
            return None
        if action.kind == "activity":
            self.g.streaks.record_activity(user_id)
            return None
        return self._visit_shop(action.user)

    # -- spending -----------------------------------------------------------------------------

    def _visit_shop(self, user: int) -> ShopItem | None:
        """Claim battle-pass rewards, maybe buy premium, then buy one affordable item.

        Returns an external item to buy outside the batch, or None.
        """
        p = self.profiles[user]
        user_id = self.ids[user]
        season_active = self._battle_pass(user_id, p)
        available = {name: b.available for name, b in self.g.points.balances(user_id).items()}
        budget = {name: int(amount * p.budget_share) for name, amount in available.items()}
        candidates = [
            item for item in self.plan.shop
            if item.key not in self.exhausted[user]
            and (item.kind != "tier_boost" or season_active)
            and all(budget.get(c, 0) >= amount for c, amount in item.price.items())
        ]  # fmt: skip
        if not candidates:
            return None
        if p.preference == "cheapest":
            item = min(candidates, key=lambda x: sum(x.price.values()))
        elif p.preference == "priciest":
            item = max(candidates, key=lambda x: sum(x.price.values()))
        else:
            item = self.shop_rng.choice(candidates)
        if item.kind == "external":
            return item
        self._buy(user, item)
        return None

    def _buy(self, user: int, item: ShopItem) -> None:
        user_id = self.ids[user]
        try:
            self.g.shop.purchase(user_id, item.key)
        except (errors.PurchaseLimitReached, errors.OutOfStock):
            self.exhausted[user].add(item.key)
            return
        except (
            errors.NotOnSale, errors.InsufficientFunds, errors.RateLimited,
            errors.FulfillmentFailed, errors.NotFound,
        ):  # fmt: skip
            return
        if item.kind == "tier_boost":
            with suppress(errors.BattlePassRefused):
                self.g.battle_pass.use_tier_boost(user_id)

    def _battle_pass(self, user_id: str, p: ActivityProfile) -> bool:
        now = self.clock()
        if not any(s.starts_at <= now < s.ends_at for s in self.config.battle_pass_seasons):
            return False
        bp = self.g.battle_pass.get(user_id)
        if p.buys_premium and not bp.premium:
            balance = self.g.points.balances(user_id).get(bp.premium_currency)
            if balance is not None and balance.available >= bp.premium_price:
                try:
                    self.g.battle_pass.buy_premium(user_id)
                    bp = self.g.battle_pass.get(user_id)
                except (errors.BattlePassRefused, errors.InsufficientFunds):
                    pass
        for reward in (*bp.free_rewards, *bp.premium_rewards):
            if reward.state == "claimable":
                with suppress(errors.BattlePassRefused, errors.NotFound):
                    self.g.battle_pass.claim(user_id, reward.tier, track=reward.track)
        return True

    # -- observing ----------------------------------------------------------------------------

    def _system_balances(self) -> dict[tuple[str, str], int]:
        rows = self.g.db.execute(SYSTEM_BALANCES).fetchall()
        return {(name, currency): balance for name, currency, balance in rows}

    def _snapshot(self, day: int) -> None:
        db = self.g.db
        index = self.index
        for user_id, level in db.execute(LEVELS).fetchall():
            user = index.get(user_id)
            if user is None or level <= self.reached[user]:
                continue
            for reached in range(self.reached[user] + 1, level + 1):
                self.obs.level_days.setdefault(reached, []).append(day + 1)
            self.reached[user] = level
        counts = dict.fromkeys(STREAK_THRESHOLDS, 0)
        rows = db.execute(STREAKS_FROM, (min(STREAK_THRESHOLDS),)).fetchall()
        for user_id, current in rows:
            if user_id in index:
                for n in STREAK_THRESHOLDS:
                    counts[n] += current >= n
        for n in STREAK_THRESHOLDS:
            self.obs.streak_counts[n].append(counts[n])
        now = self._system_balances()
        before = self.balances_before
        for currency in self.config.currency_names:
            issuance = now.get((ISSUANCE, currency), 0)
            sink = now.get((SINK, currency), 0)
            issued = before.get((ISSUANCE, currency), 0) - issuance
            spent = sink - before.get((SINK, currency), 0)
            breakage = now.get((BREAKAGE, currency), 0)
            expired = breakage - before.get((BREAKAGE, currency), 0)
            # Users hold what left issuance and reached neither the sink nor breakage (expired
            # points): the ledger sums to 0.
            held = -issuance - sink - breakage
            self.obs.flows.setdefault(currency, []).append((issued, spent, held, expired))
        self.balances_before = now

    def report(self, profile: str, catalogue: str) -> SimulationReport:
        db = self.g.db
        users = len(self.ids)
        levels = [1] * users
        xp = [0] * users
        for user_id, level, total in db.execute(PROGRESS):
            if user_id in self.index:
                levels[self.index[user_id]] = level
                xp[self.index[user_id]] = total
        earned: list[dict[str, int]] = [{} for _ in range(users)]
        spent: list[dict[str, int]] = [{} for _ in range(users)]
        for user_id, currency, got, gave in db.execute(LIFETIMES):
            if user_id in self.index:
                earned[self.index[user_id]][currency] = got
                spent[self.index[user_id]][currency] = gave
        day_texts = [to_text(moment) for moment in self.day_starts]
        unlocks = []
        for user_id, key, first in db.execute(FIRST_UNLOCKS):
            if user_id in self.index:
                day = min(self.days, max(1, bisect.bisect_right(day_texts, first)))
                unlocks.append((self.index[user_id], key, day))
        self.obs.final_levels = levels
        self.obs.final_xp = xp
        self.obs.retained = list(self.alive)
        self.obs.earned = earned
        self.obs.spent = spent
        self.obs.unlocks = unlocks
        return build_report(
            self.obs,
            profile=profile,
            seed=self.seed,
            start=self.start,
            timezone=self.config.default_timezone,
            catalogue=catalogue,
            ledger_ok=self.ledger_ok,
            currencies=self.config.currency_names,
            achievement_names=self.plan.achievement_names,
        )
