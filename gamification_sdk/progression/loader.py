"""Definition sets stored in the database: added, updated with a version, retired, reloaded.

Each set has a source name (a file path, ``plugin:<name>``, or one you choose). Loading a
set again replaces that source's previous content: unchanged definitions stay as they are,
changed ones get the next version, and ones no longer present are retired. Retired
achievements stay earned by whoever earned them; they unlock for nobody new. The same holds
for a tier removed from an achievement: tiers are known by name, each with a number for good.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Config
from ..models import LoadReport
from ..storage.loader import (
    DEFINITIONS,
    NEW_DEFINITION,
    NEW_TIER_NUMBER,
    RETIRE_DEFINITION,
    TIER_NUMBERS,
    TIER_NUMBERS_OF,
    UPDATE_DEFINITION,
)
from .catalogue import Catalogue, _time_of_day
from .definition_checks import needed_keys
from .definition_sets import load_set
from .definitions import (
    Achievement,
    Quest,
    Rule,
    TimeOfDay,
    structure_achievement,
    structure_quest,
    structure_rule,
)
from .definitions import unstructure as unstructure_definition
from .metrics import Metrics, whole_hours

__all__ = ["Loader"]


class Loader:
    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self._conn = conn
        self._config = config
        self._metrics = Metrics(conn)
        self.custom_names: set[str] = set()

    def catalogue(self) -> Catalogue:
        achievements: list[tuple[Achievement, int, bool]] = []
        rules: list[Rule] = []
        quests: list[tuple[Quest, int, bool]] = []
        for kind, _, _, version, _, body, retired_at in self._conn.execute(DEFINITIONS):
            data = json.loads(body)
            if kind == "achievement":
                achievements.append((structure_achievement(data), version, retired_at is not None))
            elif kind == "quest":
                quests.append((structure_quest(data), version, retired_at is not None))
            elif kind == "rule" and retired_at is None:
                rules.append(structure_rule(data))
        numbers: dict[str, dict[str, int]] = {}
        for key, name, tier in self._conn.execute(TIER_NUMBERS):
            numbers.setdefault(key, {})[name] = tier
        return Catalogue(achievements, rules, quests, numbers)

    def load(self, source: str | Path | Mapping[str, Any], name: str, at_text: str) -> LoadReport:
        """Check the whole set first (raises ``ConfigError``), then write it (inside a write)."""
        existing: dict[tuple[str, str], tuple[str, int, str, str | None]] = {}
        others: dict[str, tuple[str, ...]] = {}  # other sets' live achievements: prerequisites
        other_needs: dict[str, tuple[str, ...]] = {}  # ... and what their collections need
        other_rules: set[str] = set()
        other_quests: dict[str, str | None] = {}
        other_items: set[str] = set()
        kept: set[str] = set()  # time-of-day metrics live achievements keep now
        windows: dict[str, TimeOfDay] = {}  # ... and those they keep after this load
        for kind, key, src, version, digest, body, was_retired in self._conn.execute(DEFINITIONS):
            existing[(kind, key)] = (src, version, digest, was_retired)
            if was_retired is not None:
                continue
            if kind == "achievement":
                live = structure_achievement(json.loads(body))
                found = {tod.metric: tod for tod in _time_of_day(live.criteria)}
                kept.update(found)
                if src != name:
                    others[key], other_needs[key] = live.prerequisites, needed_keys(live.criteria)
                    windows.update(found)
            elif src == name:
                continue
            elif kind == "quest":
                other_quests[key] = structure_quest(json.loads(body)).after
            elif kind == "shop":
                other_items.add(key)
            else:
                other_rules.add(key)
        defs = load_set(
            source,
            currencies=self._config.currency_names,
            max_level=self._config.levels.max_level,
            custom_names=self.custom_names,
            other_keys=others,
            label=name,
            other_rules=other_rules,
            other_quests=other_quests,
            spendable=[c.name for c in self._config.currencies if c.spendable],
            other_items=other_items,
            other_needs=other_needs,
        )
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        present: set[tuple[str, str]] = set()
        items: list[tuple[str, str, Any]] = [("achievement", a.key, a) for a in defs.achievements]
        items += [("rule", r.event, r) for r in defs.rules]
        items += [("quest", q.key, q) for q in defs.quests]
        items += [("shop", i.key, i) for i in defs.shop]
        for kind, key, definition in items:
            present.add((kind, key))
            body = json.dumps(unstructure_definition(definition), sort_keys=True, default=str)
            digest = _digest(body)
            label = key if kind == "achievement" else f"{kind}:{key}"
            old = existing.get((kind, key))
            if old is None:
                self._conn.execute(NEW_DEFINITION, (kind, key, name, digest, body, at_text))
                added.append(label)
            elif old[2] == digest and old[3] is None and old[0] == name:
                unchanged.append(label)
            else:
                # A change, a move between sources or a comeback after retirement.
                self._conn.execute(UPDATE_DEFINITION, (name, digest, body, at_text, kind, key))
                updated.append(label)
        for a in defs.achievements:
            self._number_tiers(a)
            windows.update({tod.metric: tod for tod in _time_of_day(a.criteria)})
        for metric, tod in sorted(windows.items()):
            if metric not in kept:  # counted from now on: first count the past
                hours = whole_hours(tod.start, tod.end)
                self._metrics.from_hours(metric, tod.event, hours, at_text)
        retired: list[str] = []
        for (kind, key), (src, _, _, was_retired) in existing.items():
            if src == name and was_retired is None and (kind, key) not in present:
                self._conn.execute(RETIRE_DEFINITION, (at_text, kind, key))
                retired.append(key if kind == "achievement" else f"{kind}:{key}")
        return LoadReport(name, tuple(added), tuple(updated), tuple(retired), tuple(unchanged))

    def _number_tiers(self, a: Achievement) -> None:
        """Give each tier name the achievement never had the next number, for good: unlock
        rows keep tiers by number, so earned tiers stay what they were whatever the list."""
        known = dict(self._conn.execute(TIER_NUMBERS_OF, (a.key,)).fetchall())
        for tier in a.tiers:
            if tier.name not in known:
                known[tier.name] = max(known.values(), default=-1) + 1
                self._conn.execute(NEW_TIER_NUMBER, (a.key, known[tier.name], tier.name))


def _digest(body: str) -> str:
    return hashlib.blake2b(body.encode(), digest_size=12).hexdigest()
