"""One plugin manager per engine: default plugins, entry points, then the host's plugins."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from . import hookspecs
from .errors import Rejected

__all__ = ["DEFAULT_PLUGINS", "ENTRY_POINT_GROUP", "get_plugin_manager", "run_vetoes"]

ENTRY_POINT_GROUP = "gamification_sdk"
DEFAULT_PLUGINS = (
    "gamification_sdk.default_plugins.curves",
    "gamification_sdk.default_plugins.boosts",
    "gamification_sdk.default_plugins.jobs",
)


def get_plugin_manager(
    plugins: Iterable[object] = (), *, load_entrypoints: bool = True
) -> pluggy.PluginManager:
    """A fresh manager: built-in behaviour first, then installed packages, then ``plugins``."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
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


def run_vetoes(pm: pluggy.PluginManager, engine: Any, request: Callable[[], Any]) -> None:
    """Raise ``Rejected`` with the first reason any ``validate_award`` plugin gives.

    ``request`` builds the ``AwardRequest`` only when some plugin will look at it.
    """
    hook = pm.hook.validate_award
    if hook.get_hookimpls():
        for reason in hook(engine=engine, award=request()):
            if reason:
                raise Rejected(str(reason))
