"""What the package exports: every type a user meets in the engine's signatures, and every
configuration class, imports from ``gamification_sdk`` itself."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator

import attrs

import gamification_sdk
from gamification_sdk import Config, Gamification


def _types_in(hint: object) -> Iterator[type]:
    """The classes a type hint names, through generics, unions and callables."""
    if isinstance(hint, type):
        yield hint
    origin = typing.get_origin(hint)
    if isinstance(origin, type):
        yield origin
    for arg in typing.get_args(hint):
        if isinstance(arg, list):  # Callable[[A, B], C]
            for item in arg:
                yield from _types_in(item)
        else:
            yield from _types_in(arg)


def _namespaces() -> set[type]:
    """The classes of the engine's namespaces (``g.xp``, ``g.quests``...), from the facade's
    class annotations."""
    hints = typing.get_type_hints(Gamification, localns=vars(gamification_sdk))
    return {hint for name, hint in hints.items() if not name.startswith("_")}


def _hints(cls: type) -> Iterator[tuple[str, object]]:
    """(where, hint) for the fields of an attrs class, the facade's namespaces, and for the
    parameters and results of a class's public methods, properties and constructor."""
    names = vars(gamification_sdk)  # for names imported only under TYPE_CHECKING
    if attrs.has(cls) or cls is Gamification:
        for name, hint in typing.get_type_hints(cls, localns=names).items():
            if not name.startswith("_"):
                yield f"{cls.__name__}.{name}", hint
    for name, member in inspect.getmembers(cls):
        # An engine is made by Gamification.open(): its __init__ takes the internal Store, and
        # builds its namespaces from internal parts. An attrs class's __init__ takes its
        # fields, walked above.
        constructor = (
            name == "__init__"
            and cls is not Gamification
            and cls not in _namespaces()
            and not attrs.has(cls)
        )
        if name.startswith("_") and not constructor:
            continue
        static = inspect.getattr_static(cls, name)
        function = static.fget if isinstance(static, property) else member
        if not inspect.isfunction(function) and not inspect.ismethod(function):
            continue
        for param, hint in typing.get_type_hints(function, localns=names).items():
            yield f"{cls.__name__}.{name} ({param})", hint


def _project_types(roots: list[type]) -> dict[type, str]:
    """Every class defined in the package reachable from ``roots`` through signatures and
    fields, with where it was first met."""
    found: dict[type, str] = {root: "root" for root in roots}
    queue = list(roots)
    while queue:
        cls = queue.pop(0)
        for where, hint in _hints(cls):
            for tp in _types_in(hint):
                if tp.__module__.startswith("gamification_sdk") and tp not in found:
                    found[tp] = where
                    queue.append(tp)
    return found


def test_every_type_in_a_public_signature_is_exported() -> None:
    found = _project_types([Gamification, Config, *_namespaces()])
    # The walk reaches the models, the level table, the configuration classes and the
    # namespaces' signatures.
    names = {cls.__name__ for cls in found}
    assert {"TrackResult", "LevelTable", "Progress", "AchievementsConfig", "TierReward"} <= names
    assert {
        "XPService",
        "QuestsService",
        "BattlePassService",
        "PointsService",
        "ShopService",
        "BoardsService",
        "JobsService",
        "PeriodClose",
        "JobsReport",
        "Privacy",
    } <= names
    missing = [
        f"{cls.__module__}.{cls.__name__} (in {where})"
        for cls, where in found.items()
        if getattr(gamification_sdk, cls.__name__, None) is not cls
        or cls.__name__ not in gamification_sdk.__all__
    ]
    assert missing == []


def test_every_configuration_class_is_exported() -> None:
    from gamification_sdk import config
    from gamification_sdk.config import leaderboards as leaderboard_config
    from gamification_sdk.config import seasons

    for module in (config, leaderboard_config, seasons):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and attrs.has(value):
                assert getattr(gamification_sdk, name) is value, name
                assert name in gamification_sdk.__all__


def test_all_is_sorted_and_importable() -> None:
    assert gamification_sdk.__all__ == sorted(set(gamification_sdk.__all__))
    for name in gamification_sdk.__all__:
        assert hasattr(gamification_sdk, name), name
