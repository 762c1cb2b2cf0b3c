"""Seed 000's "Sparkle" community catalogue: XP rules and 33 achievements as one definition set.

The engine finds the package through the ``gamification_sdk`` entry-point group, and an engine
whose ``Config(packs=...)`` names ``sparkle`` loads ``definitions.toml`` as that set. The engine's
``Config`` must have the ``sparkle`` currency.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gamification_sdk import hookimpl

__all__ = ["DEFINITIONS", "NAME"]

NAME = "sparkle"
DEFINITIONS = Path(__file__).with_name("definitions.toml")


@hookimpl
def register_definitions(register: Callable[..., None]) -> None:
    register(DEFINITIONS, name=NAME)
