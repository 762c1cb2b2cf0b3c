"""Loading a definition set entry by entry, and the checks that span its entries.

Each entry is structured on its own, so a type error in one entry hides none of the other
problems of the set (an unknown prerequisite, a cycle, a duplicate key elsewhere): ``load_set``
reports them all in one ``ConfigError``. An entry that does not load still counts as defined
for the references and duplicates of the others: they are not blamed for its problems.

Dependency cycles run through collections as well as prerequisites: an achievement that needs
itself unlocked first, directly or through others, can never unlock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from itertools import pairwise
from typing import Any

from ..config.convert import structure
from ..errors import ConfigError

__all__ = ["Parsed", "cycle_problems", "needed_keys", "parse_set"]

Graph = Mapping[str, tuple[str, ...]]
_ENTRY = re.compile(r"^(rules|achievements|quests|shop)\[(\d+)\]")


class Parsed:
    """What loaded of a set: per section its entries and their positions, and the problems."""

    def __init__(self) -> None:
        self.entries: dict[str, list[Any]] = {}
        self.positions: dict[str, list[int]] = {}
        self.problems: list[str] = []
        self.broken: dict[str, set[str]] = {}  # section -> keys of entries that did not load

    def relocate(self, problems: Iterable[str]) -> list[str]:
        """Problems of the loaded entries, renumbered from their list to their set's."""

        def position(found: re.Match[str]) -> str:
            section, index = found.group(1), int(found.group(2))
            return f"{section}[{self.positions[section][index]}]"

        return [_ENTRY.sub(position, problem, count=1) for problem in problems]


def parse_set(
    data: object, sections: Mapping[str, type], taken: Mapping[str, Collection[str]]
) -> Parsed:
    """Structure every entry of every section of ``data``; never raises for its content.

    ``taken``: per section, the keys other definition sets already define."""
    parsed = Parsed()
    for section in sections:
        parsed.entries[section], parsed.positions[section] = [], []
        parsed.broken[section] = set()
    if not isinstance(data, Mapping):
        parsed.problems.append("(top level): expected a table/object")
        return parsed
    unknown = sorted(str(name) for name in data if name not in sections)
    if unknown:
        parsed.problems.append(f"(top level): unknown field(s): {', '.join(unknown)}")
    for section, cls in sections.items():
        items = data.get(section, [])
        if not isinstance(items, list | tuple):
            problem = f"{section}: expected a list, got {type(items).__name__}"
            parsed.problems.append(problem)
            continue
        field = "event" if section == "rules" else "key"
        first: dict[str, int] = {}
        loaded: set[int] = set()
        for i, item in enumerate(items):
            where = f"{section}[{i}]"
            if not isinstance(item, Mapping):
                kind = type(item).__name__
                parsed.problems.append(f"{where}: expected a table/object, got {kind}")
                continue
            key = item.get(field)
            try:
                parsed.entries[section].append(structure(item, cls, root=where))
                parsed.positions[section].append(i)
                loaded.add(i)
            except ConfigError as exc:
                parsed.problems.extend(exc.problems)
                if isinstance(key, str):
                    parsed.broken[section].add(key)
            if not isinstance(key, str):
                continue
            # Between two entries that loaded, the semantic checks report these.
            earlier = first.setdefault(key, i)
            if earlier != i and not (i in loaded and earlier in loaded):
                parsed.problems.append(f"{where}.{field}: {_twice(section, key)}")
            elif earlier == i and i not in loaded and key in taken.get(section, ()):
                parsed.problems.append(f"{where}.{field}: {_elsewhere(section, key)}")
    return parsed


def _twice(section: str, key: str) -> str:
    return f"two rules for {key!r}" if section == "rules" else f"duplicate key {key!r}"


def _elsewhere(section: str, key: str) -> str:
    if section == "rules":
        return f"{key!r} has a rule in another definition set"
    return f"{key!r} is already defined by another definition set"


def needed_keys(c: Any) -> tuple[str, ...]:
    """The achievements that must be unlocked before ``c`` can be met, whichever way."""
    kind = c.type
    if kind == "collection":
        return tuple(sorted(set(c.keys)))
    if kind == "all":
        return tuple(sorted(set().union(*(needed_keys(inner) for inner in c.criteria))))
    if kind == "any" and c.criteria:
        # Only what every alternative needs: one free alternative breaks the cycle.
        found = [set(needed_keys(inner)) for inner in c.criteria]
        return tuple(sorted(set.intersection(*found)))
    return ()


def cycle_problems(
    achievements: Iterable[Any],
    prerequisites: Graph,
    needs: Graph,
    find: Callable[[Graph], list[list[str]]],
) -> list[tuple[str, str]]:
    """``(path, problem)`` for each dependency cycle through one of ``achievements``.

    ``prerequisites`` and ``needs`` hold the other sets' live achievements; ``find`` lists
    the cycles of a graph (key -> the keys it depends on)."""
    index: dict[str, int] = {}
    prereqs, collections = dict(prerequisites), dict(needs)
    for i, a in enumerate(achievements):
        index[a.key] = i
        prereqs[a.key] = a.prerequisites
        collections[a.key] = needed_keys(a.criteria)
    graph = {
        key: tuple(dict.fromkeys((*prereqs.get(key, ()), *collections.get(key, ()))))
        for key in prereqs.keys() | collections.keys()
    }
    found: list[tuple[str, str]] = []
    for cycle in find(graph):
        edges = list(pairwise(cycle))
        mine = [(a, b) for a, b in edges if a in index]
        if not mine:
            continue
        a, b = mine[0]
        field = "prerequisites" if b in prereqs.get(a, ()) else "criteria"
        where = f"achievements[{index[a]}].{field}"
        if all(b in prereqs.get(a, ()) for a, b in edges):
            found.append((where, f"prerequisite cycle: {' -> '.join(cycle)}"))
        else:
            names = ", ".join(repr(key) for key in dict.fromkeys(cycle))
            found.append((where, f"collection cycle: {' -> '.join(cycle)}: {names} can never "
                                 "unlock"))  # fmt: skip
    return found
