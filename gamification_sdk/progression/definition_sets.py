"""Loading one definition set: every entry structured on its own, then the checks across
entries (prerequisites, collections, cycles, quests, the shop), every problem reported at once
in one ``ConfigError`` that names the set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config.convert import load_mapping
from ..core.validation import check_metadata
from ..errors import ConfigError, InvalidInput
from .definition_checks import cycle_problems, parse_set
from .definitions import (
    _HHMM,
    _KEY,
    _SECTIONS,
    MAX_TARGET,
    AllOf,
    AnyOf,
    Collection,
    Custom,
    DefinitionSet,
    Level,
    PointsEarned,
    Quest,
    Rewards,
    ShopItem,
    Streak,
    TimeOfDay,
    Window,
)

__all__ = ["load_set"]


class _Checker:
    """Semantic checks cattrs cannot express; collects every problem with its path."""

    def __init__(
        self,
        currencies: Iterable[str],
        max_level: int,
        custom_names: Iterable[str],
        known_keys: Iterable[str],
    ) -> None:
        self.currencies = set(currencies)
        self.max_level = max_level
        self.custom_names = set(custom_names)
        self.known_keys = set(known_keys)
        self.problems: list[str] = []

    def add(self, path: str, problem: str) -> None:
        self.problems.append(f"{path}: {problem}")

    def text(self, path: str, value: str, limit: int = 100, *, empty: bool = False) -> None:
        if (not empty and not value.strip()) or len(value) > limit:
            self.add(path, f"expected text of {0 if empty else 1}-{limit} characters")
        elif any(ord(c) < 32 or ord(c) == 127 for c in value):
            self.add(path, "must not contain control characters")

    def amount(self, path: str, value: int, *, zero: bool = False) -> None:
        if not (0 if zero else 1) <= value <= MAX_TARGET:
            self.add(path, f"expected an int from {0 if zero else 1} to 2**53, got {value}")

    def points(self, path: str, points: Mapping[str, int]) -> None:
        for name, value in points.items():
            if name not in self.currencies:
                self.add(f"{path}['{name}']", "unknown currency; configure it in currencies")
            self.amount(f"{path}['{name}']", value)

    def rewards(self, path: str, rewards: Rewards) -> None:
        self.amount(f"{path}.xp", rewards.xp, zero=True)
        self.points(f"{path}.points", rewards.points)
        if rewards.title is not None:
            self.text(f"{path}.title", rewards.title)
        for item, quantity in rewards.items.items():
            self.text(f"{path}.items['{item}']", item)
            self.amount(f"{path}.items['{item}']", quantity)

    def criterion(self, path: str, c: Any, *, tiered: bool, keys: set[str]) -> None:
        if isinstance(c, AllOf | AnyOf):
            if not c.criteria:
                self.add(f"{path}.criteria", "expected at least one criterion")
            if tiered:
                self.add(f"{path}.type", f"{c.type} cannot be tiered; tiers need one metric")
            for i, inner in enumerate(c.criteria):
                self.criterion(f"{path}.criteria[{i}]", inner, tiered=False, keys=keys)
            return
        if hasattr(c, "event"):
            self.text(f"{path}.event", c.event)
        if isinstance(c, Collection):
            if not c.keys:
                self.add(f"{path}.keys", "expected at least one achievement key")
            for i, key in enumerate(c.keys):
                if key not in keys:
                    self.add(f"{path}.keys[{i}]", f"unknown achievement {key!r}")
            if tiered:
                self.add(f"{path}.type", "collection cannot be tiered")
            return
        if isinstance(c, PointsEarned) and c.currency not in self.currencies:
            self.add(f"{path}.currency", f"unknown currency {c.currency!r}")
        if isinstance(c, Window):
            if (c.days is None) == (c.period is None):
                self.add(path, "give exactly one of days (rolling) or period (calendar)")
            elif c.days is not None and not 1 <= c.days <= 366:
                self.add(f"{path}.days", f"expected 1 to 366 days, got {c.days}")
        if isinstance(c, TimeOfDay):
            for name in ("start", "end"):
                if not _HHMM.match(getattr(c, name)):
                    self.add(f"{path}.{name}", f"expected HH:MM, got {getattr(c, name)!r}")
            if c.start == c.end:
                self.add(f"{path}.end", "must differ from start")
        if isinstance(c, Streak):
            for i, event in enumerate(c.events):
                self.text(f"{path}.events[{i}]", event)
        if isinstance(c, Custom):
            if c.name not in self.custom_names:
                known = ", ".join(sorted(self.custom_names)) or "none registered"
                self.add(f"{path}.name", f"no plugin registered criterion {c.name!r} ({known})")
            for i, event in enumerate(c.events):
                self.text(f"{path}.events[{i}]", event)
        if tiered:
            if c.type == "first_time":
                self.add(f"{path}.type", "first_time cannot be tiered")
            elif c.target is not None and c.type != "custom":
                self.add(f"{path}.target", "give targets in tiers, not here, for a tiered one")
            return
        if c.target is None:
            self.add(f"{path}.target", "required field missing")
        else:
            self.target(f"{path}.target", c, c.target)

    def target(self, path: str, c: Any, target: int) -> None:
        self.amount(path, target)
        if isinstance(c, Level) and target > self.max_level:
            self.add(path, f"level {target} is above max_level {self.max_level}: impossible")
        if isinstance(c, Window) and c.stat == "count" and c.period == "day" and target > 10**6:
            self.add(path, f"{target} events in one day is not a reachable target")


def _cycles(graph: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """Every prerequisite cycle, each reported once, found by depth-first search."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt in graph and not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node)
    return found


def load_set(
    source: str | Path | Mapping[str, Any],
    *,
    currencies: Iterable[str],
    max_level: int,
    custom_names: Iterable[str] = (),
    other_keys: Mapping[str, tuple[str, ...]] | None = None,
    label: str | None = None,
    other_rules: Iterable[str] = (),
    other_quests: Mapping[str, str | None] | None = None,
    spendable: Iterable[str] | None = None,
    other_items: Iterable[str] = (),
    other_needs: Mapping[str, tuple[str, ...]] | None = None,
) -> DefinitionSet:
    """Load and check one definition set; raise ``ConfigError`` listing every problem.

    ``other_keys``: achievement key -> prerequisites of definitions already active from other
    sources, ``other_needs`` key -> what their collections need, for references and cycles
    across sources; ``other_quests`` the same for quests (key -> the quest it comes ``after``),
    ``other_items`` shop item keys; ``spendable`` the currencies a price may use (default: all).
    """
    others = dict(other_keys or {})
    if isinstance(source, str | Path):
        label = label or str(source)
        try:
            data: Any = load_mapping(source)
        except ConfigError as exc:
            raise _located(exc.problems, label) from None
    else:
        data = source
    elsewhere = {"achievements": others, "rules": set(other_rules),
                 "quests": dict(other_quests or {}), "shop": set(other_items)}  # fmt: skip
    parsed = parse_set(data, _SECTIONS, elsewhere)
    defs = DefinitionSet(**parsed.entries)
    check = _Checker(currencies, max_level, custom_names, others)
    keys = {a.key for a in defs.achievements} | set(others) | parsed.broken["achievements"]
    seen: set[str] = set()
    for i, a in enumerate(defs.achievements):
        path = f"achievements[{i}]"
        if not _KEY.match(a.key):
            check.add(f"{path}.key", "expected 1-100 of A-Z a-z 0-9 _ . : - (no spaces)")
        if a.key in seen:
            check.add(f"{path}.key", f"duplicate key {a.key!r}")
        elif a.key in others:
            check.add(f"{path}.key", f"{a.key!r} is already defined by another definition set")
        seen.add(a.key)
        check.text(f"{path}.name", a.name)
        check.text(f"{path}.description", a.description, 1000, empty=True)
        check.text(f"{path}.category", a.category, 50)
        check.rewards(f"{path}.rewards", a.rewards)
        check.criterion(f"{path}.criteria", a.criteria, tiered=bool(a.tiers), keys=keys)
        for j, pre in enumerate(a.prerequisites):
            if pre not in keys:
                check.add(f"{path}.prerequisites[{j}]", f"unknown achievement {pre!r}")
            elif pre == a.key:
                check.add(f"{path}.prerequisites[{j}]", "an achievement cannot require itself")
        if a.available_from and a.available_until and a.available_until <= a.available_from:
            check.add(f"{path}.available_until", "must be after available_from")
        if a.repeatable is not None:
            if a.repeatable.max is not None and a.repeatable.max < 1:
                check.add(f"{path}.repeatable.max", "expected an int >= 1 or null")
            if a.repeatable.cooldown_days < 0:
                check.add(f"{path}.repeatable.cooldown_days", "expected a number >= 0")
            if a.tiers:
                check.add(f"{path}.repeatable", "a tiered achievement cannot also repeat")
        previous = 0
        names: set[str] = set()
        for j, tier in enumerate(a.tiers):
            where = f"{path}.tiers[{j}]"
            check.text(f"{where}.name", tier.name, 50)
            if tier.name in names:
                check.add(f"{where}.name", f"duplicate tier {tier.name!r}")
            names.add(tier.name)
            check.target(f"{where}.target", a.criteria, tier.target)
            if tier.target <= previous:
                check.add(f"{where}.target", "tier targets must strictly increase")
            previous = tier.target
            check.rewards(f"{where}.rewards", tier.rewards)
    rules: set[str] = set()
    taken = set(other_rules)
    for i, rule in enumerate(defs.rules):
        path = f"rules[{i}]"
        check.text(f"{path}.event", rule.event)
        if rule.event in rules:
            check.add(f"{path}.event", f"two rules for {rule.event!r}")
        elif rule.event in taken:
            check.add(f"{path}.event", f"{rule.event!r} has a rule in another definition set")
        rules.add(rule.event)
        check.amount(f"{path}.xp", rule.xp, zero=True)
        check.points(f"{path}.points", rule.points)
        if rule.daily_limit is not None:
            check.amount(f"{path}.daily_limit", rule.daily_limit)
        if not rule.xp and not rule.points:
            check.add(path, "a rule must give xp or points")
    for path, problem in cycle_problems(defs.achievements, others, other_needs or {}, _cycles):
        check.add(path, problem)
    _check_quests(check, defs.quests, keys, dict(other_quests or {}), parsed.broken["quests"])
    spend = check.currencies if spendable is None else set(spendable)
    _check_shop(check, defs.shop, spend, set(other_items))
    problems = parsed.problems + parsed.relocate(check.problems)
    if problems:
        raise _located(problems, label)
    return defs


def _check_quests(
    check: _Checker,
    quests: tuple[Quest, ...],
    achievement_keys: set[str],
    others: dict[str, str | None],
    broken: set[str],
) -> None:
    keys = {q.key for q in quests} | set(others) | broken
    seen: set[str] = set()
    for i, q in enumerate(quests):
        path = f"quests[{i}]"
        if not _KEY.match(q.key):
            check.add(f"{path}.key", "expected 1-100 of A-Z a-z 0-9 _ . : - (no spaces)")
        if q.key in seen:
            check.add(f"{path}.key", f"duplicate key {q.key!r}")
        elif q.key in others:
            check.add(f"{path}.key", f"{q.key!r} is already defined by another definition set")
        seen.add(q.key)
        check.text(f"{path}.name", q.name)
        check.text(f"{path}.description", q.description, 1000, empty=True)
        check.text(f"{path}.category", q.category, 50)
        check.rewards(f"{path}.rewards", q.rewards)
        if q.reset_time is not None and not _HHMM.match(q.reset_time):
            check.add(f"{path}.reset_time", f"expected HH:MM, got {q.reset_time!r}")
        if not 1 <= q.min_level <= check.max_level:
            check.add(f"{path}.min_level", f"expected 1 to max_level {check.max_level}")
        if not 1 <= q.max_completions <= 1000:
            check.add(f"{path}.max_completions", "expected an int from 1 to 1000")
        if q.requires_achievement is not None and q.requires_achievement not in achievement_keys:
            problem = f"unknown achievement {q.requires_achievement!r}"
            check.add(f"{path}.requires_achievement", problem)
        if q.after is not None and q.after not in keys:
            check.add(f"{path}.after", f"unknown quest {q.after!r}")
        elif q.after == q.key:
            check.add(f"{path}.after", "a quest cannot come after itself")
        if q.available_from and q.available_until and q.available_until <= q.available_from:
            check.add(f"{path}.available_until", "must be after available_from")
        if q.recurrence == "event" and (q.available_from is None or q.available_until is None):
            problem = "an event quest needs available_from and available_until"
            check.add(f"{path}.recurrence", problem)
        if not q.objectives and not q.verification:
            check.add(f"{path}.objectives", "expected at least one (or verification = true)")
        for j, o in enumerate(q.objectives):
            where = f"{path}.objectives[{j}]"
            check.amount(f"{where}.target", o.target)
            check.text(f"{where}.description", o.description, 1000, empty=True)
            if o.type == "streak":
                if o.event is not None or o.filters:
                    check.add(where, "a streak objective takes no event or filters")
                continue
            if o.event is None:
                check.add(f"{where}.event", "required field missing")
            else:
                check.text(f"{where}.event", o.event)
            for name, value in o.filters.items():
                if type(value) not in (str, int, bool):
                    check.add(f"{where}.filters['{name}']", "expected a str, int or bool")
    chains = {**{k: (v,) if v else () for k, v in others.items()},
              **{q.key: (q.after,) if q.after else () for q in quests}}  # fmt: skip
    for cycle in _cycles(chains):
        if any(key in seen for key in cycle):
            check.add("quests", f"chain cycle: {' -> '.join(cycle)}")


def _check_shop(
    check: _Checker, items: tuple[ShopItem, ...], spendable: set[str], others: set[str]
) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"shop[{i}]"
        if not _KEY.match(item.key):
            check.add(f"{path}.key", "expected 1-100 of A-Z a-z 0-9 _ . : - (no spaces)")
        if item.key in seen:
            check.add(f"{path}.key", f"duplicate key {item.key!r}")
        elif item.key in others:
            check.add(f"{path}.key", f"{item.key!r} is already defined by another definition set")
        seen.add(item.key)
        check.text(f"{path}.name", item.name)
        check.text(f"{path}.description", item.description, 1000, empty=True)
        check.text(f"{path}.category", item.category, 50)
        check.text(f"{path}.icon", item.icon, 1000, empty=True)
        if not item.price:
            check.add(f"{path}.price", "expected at least one currency, e.g. { points = 500 }")
        check.points(f"{path}.price", item.price)
        for name in item.price:
            if name in check.currencies and name not in spendable:
                check.add(f"{path}.price['{name}']", f"{name!r} is not spendable")
        if item.stock is not None:
            check.amount(f"{path}.stock", item.stock, zero=True)
        if item.per_user_limit is not None:
            check.amount(f"{path}.per_user_limit", item.per_user_limit)
        start, end = item.available_from, item.available_until
        if start and end and end <= start:
            check.add(f"{path}.available_until", "must be after available_from")
        if not 1 <= item.units <= 1000:
            check.add(f"{path}.units", f"expected an int from 1 to 1000, got {item.units}")
        if not 1 <= item.hold_seconds <= 86_400:
            problem = f"expected 1 to 86400 seconds, got {item.hold_seconds}"
            check.add(f"{path}.hold_seconds", problem)
        if item.item is not None:
            if item.kind != "cosmetic":
                check.add(f"{path}.item", f"only a cosmetic names an item (this is {item.kind})")
            else:
                check.text(f"{path}.item", item.item)
        if item.title is not None:
            if item.kind != "title":
                problem = f"only a title item grants a title (this is {item.kind})"
                check.add(f"{path}.title", problem)
            else:
                check.text(f"{path}.title", item.title)
        if item.kind == "title":
            if item.units != 1:
                check.add(f"{path}.units", "a title is owned once: units must be 1")
            if item.per_user_limit not in (None, 1):
                check.add(f"{path}.per_user_limit", "a title is owned once: 1 or none")
        elif item.kind == "external" and item.units != 1:
            check.add(f"{path}.units", "external goods grant nothing in the engine: units is 1")
        try:
            check_metadata(item.metadata, f"{path}.metadata")
        except InvalidInput as exc:
            check.add(f"{path}.metadata", f"expected JSON data: {exc.problem}")


def _located(problems: list[str], label: str | None) -> ConfigError:
    """Each problem names its file (or set name) as well as its path."""
    if label is None:
        return ConfigError(problems)
    return ConfigError([f"{label}: {p}" for p in problems], label)
