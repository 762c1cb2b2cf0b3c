"""One plugin manager per engine: default plugins, entry points, then the host's plugins."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

import pluggy

from .. import hookspecs
from ..errors import ConfigError, Rejected

__all__ = [
    "BUILTIN_BOOSTS", "BUILTIN_MULTIPLIERS", "BUILTIN_TIERS", "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP", "Implementations", "PluginManager", "announce_stored",
    "call_after_commit", "collect_postgres_migrations", "get_plugin_manager", "run_vetoes",
]  # fmt: skip

log = logging.getLogger("gamification_sdk")

ENTRY_POINT_GROUP = "gamification_sdk"
# Registered under these names: a module below the plugins knows the built-in boosts plugin by
# its name, without importing it (the layers import downwards only).
BUILTIN_BOOSTS = "gamification_sdk.default_plugins.boosts"
BUILTIN_TIERS = "gamification_sdk.default_plugins.tiers"
# The built-in xp_multiplier plugins: while they are the only ones, XP calls what they
# would answer directly (progression/xp.py), without pluggy's dispatch.
BUILTIN_MULTIPLIERS = frozenset({BUILTIN_BOOSTS, BUILTIN_TIERS})
DEFAULT_PLUGINS = (
    "gamification_sdk.default_plugins.curves",
    BUILTIN_BOOSTS,
    "gamification_sdk.default_plugins.jobs",
    BUILTIN_TIERS,
)


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, counting registrations: a hot path that asks "only the built-in
    plugins?" decides again only when ``generation`` moved (a host may register later)."""

    generation = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        self.generation += 1
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        removed = super().unregister(plugin, name)
        self.generation += 1
        return removed

    def add_hookspecs(self, module_or_class: ModuleType | type) -> None:
        super().add_hookspecs(module_or_class)
        self.generation += 1


class Implementations:
    """Each hook's caller and implementations, asked of pluggy again only when a plugin was
    registered or unregistered since (``PluginManager.generation``): every write dispatches
    its after-commit hooks, and most find none."""

    __slots__ = ("_found", "_pm", "_seen")

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        self._seen: int | None = None
        self._found: dict[str, tuple[pluggy.HookCaller, list[pluggy.HookImpl]]] = {}

    def __call__(self, name: str) -> tuple[pluggy.HookCaller, list[pluggy.HookImpl]]:
        generation = getattr(self._pm, "generation", None)
        if generation != self._seen or generation is None:
            self._found.clear()
            self._seen = generation
        found = self._found.get(name)
        if found is None:
            hook = getattr(self._pm.hook, name)
            found = (hook, hook.get_hookimpls())
            if generation is not None:
                self._found[name] = found
        return found


def get_plugin_manager(
    plugins: Iterable[object] = (), *, load_entrypoints: bool = True
) -> pluggy.PluginManager:
    """A fresh manager: built-in behaviour first, then installed packages, then ``plugins``."""
    pm = PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in plugins:
        pm.register(plugin)
    # A misspelt hook name would otherwise be silently ignored.
    pm.check_pending()
    return pm


PluginMigrations = tuple[str, tuple[tuple[int, str, str], ...]]
"""A plugin's own migrations on PostgreSQL: its name, then ``(version, name, SQL)`` in order."""


def collect_postgres_migrations(pm: pluggy.PluginManager) -> tuple[PluginMigrations, ...]:
    """What the ``register_postgres_migrations`` hook registers, checked: ``ConfigError`` for
    a name registered twice, a step that is not ``(version, name, SQL)`` or versions that do
    not go up."""
    found: dict[str, tuple[tuple[int, str, str], ...]] = {}

    def register(name: object, migrations: object) -> None:
        where = f"register_postgres_migrations: {name!r}"
        if not isinstance(name, str) or not name.strip():
            raise ConfigError([f"{where}: expected a plugin's name (a non-empty string)"])
        if name in found:
            raise ConfigError([f"{where} is registered twice"])
        if isinstance(migrations, str | bytes) or not isinstance(migrations, Iterable):
            raise ConfigError([f"{where}: expected a sequence of (version, name, SQL)"])
        steps: list[tuple[int, str, str]] = []
        for step in migrations:
            if not (
                isinstance(step, tuple)
                and len(step) == 3
                and type(step[0]) is int
                and isinstance(step[1], str)
                and isinstance(step[2], str)
            ):
                raise ConfigError([f"{where}: expected (version, name, SQL), got {step!r}"])
            if step[0] < 1 or (steps and step[0] <= steps[-1][0]):
                raise ConfigError([f"{where}: versions must be positive and go up, at {step[0]}"])
            steps.append(step)
        found[name] = tuple(steps)

    pm.hook.register_postgres_migrations(register=register)
    return tuple(found.items())


def run_vetoes(pm: pluggy.PluginManager, engine: Any, request: Callable[[], Any]) -> None:
    """Raise ``Rejected`` with the first reason any ``validate_award`` plugin gives.

    ``request`` builds the ``AwardRequest`` only when some plugin will look at it.
    """
    hook = pm.hook.validate_award
    if hook.get_hookimpls():
        for reason in hook(engine=engine, award=request()):
            if reason:
                raise Rejected(str(reason))


def announce_stored(pm: pluggy.PluginManager, engine: Any, notification: Any) -> None:
    """The ``notification_stored`` hook, inside the transaction that stored ``notification``."""
    hook = pm.hook.notification_stored
    if hook.get_hookimpls():
        hook(engine=engine, notification=notification)


def call_after_commit(
    pm: pluggy.PluginManager,
    hook: pluggy.HookCaller,
    impls: list[pluggy.HookImpl],
    kwargs: Mapping[str, object],
    failures: list[tuple[str, BaseException]],
) -> None:
    """Call an after-commit hook through pluggy, every plugin even if one raises.

    pluggy stops a call at the first implementation that raises, so each plain
    implementation runs in a stand-in that logs its error and adds it to ``failures``; the
    stand-ins replace the plain implementations in one ordinary call (``subset_hook_caller``
    without their plugins, ``call_extra`` with the stand-ins, in the same order), so the
    host's wrappers and pluggy's tracing and monitoring see the call and its results. An
    error a wrapper raises ends the call, as pluggy does; it is reported the same way.
    ``impls`` is ``hook.get_hookimpls()``, which the caller has found not empty.
    """
    name = hook.name
    plain = [impl for impl in impls if not (impl.wrapper or impl.hookwrapper)]
    stand_ins = [_isolated(impl, name, kwargs, failures) for impl in plain]
    caller = pm.subset_hook_caller(name, {impl.plugin for impl in plain})
    try:
        caller.call_extra(stand_ins, kwargs)
    except Exception as exc:
        wrappers = "+".join(i.plugin_name for i in impls if i.wrapper or i.hookwrapper)
        log.exception("a wrapper (%s) of %s failed (write was committed)", wrappers, name)
        failures.append((f"{wrappers}.{name}" if wrappers else name, exc))


def _isolated(
    impl: pluggy.HookImpl,
    name: str,
    kwargs: Mapping[str, object],
    failures: list[tuple[str, BaseException]],
) -> Callable[[], object]:
    """``impl`` called with this call's arguments; an error is logged and recorded, not raised."""
    args = {arg: kwargs[arg] for arg in impl.argnames}
    args.update((arg, kwargs[arg]) for arg in impl.kwargnames if arg in kwargs)

    # No parameters: pluggy passes it nothing, the arguments are bound here.
    def call() -> object:
        try:
            return impl.function(**args)
        except Exception as exc:
            log.exception("plugin %s failed in %s (write was committed)", impl.plugin_name, name)
            failures.append((f"{impl.plugin_name}.{name}", exc))
            return None

    return call
