"""One plugin manager per engine: default plugins, entry points, then the host's plugins."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pluggy

from . import hookspecs

__all__ = ["DEFAULT_PLUGINS", "ENTRY_POINT_GROUP", "get_plugin_manager"]

ENTRY_POINT_GROUP = "gamification_sdk"
DEFAULT_PLUGINS = (
    "gamification_sdk.default_plugins.curves",
    "gamification_sdk.default_plugins.boosts",
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
