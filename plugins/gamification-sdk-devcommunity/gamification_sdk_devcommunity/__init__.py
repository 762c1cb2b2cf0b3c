"""Seed 004's developer-community catalogue: projects, battles, community, engagement, milestones.

The engine finds the package through the ``gamification_sdk`` entry-point group, and an engine
whose ``Config(packs=...)`` names ``devcommunity`` loads ``definitions.toml`` as that set. The
engine's ``Config`` must have the ``points`` currency (the default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gamification_sdk import hookimpl

__all__ = ["DEFINITIONS", "NAME"]

NAME = "devcommunity"
DEFINITIONS = Path(__file__).with_name("definitions.toml")


@hookimpl
def register_definitions(register: Callable[..., None]) -> None:
    register(DEFINITIONS, name=NAME)
