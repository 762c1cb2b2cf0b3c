"""Seed 002's SwanStudios fitness catalogue: workout, streak, level and referral achievements.

The engine finds the package through the ``gamification_sdk`` entry-point group, and an engine
whose ``Config(packs=...)`` names ``fitness`` loads ``definitions.toml`` as that set. The engine's
``Config`` must have the ``points`` currency (the default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gamification_sdk import hookimpl

__all__ = ["DEFINITIONS", "NAME"]

NAME = "fitness"
DEFINITIONS = Path(__file__).with_name("definitions.toml")


@hookimpl
def register_definitions(register: Callable[..., None]) -> None:
    register(DEFINITIONS, name=NAME)
