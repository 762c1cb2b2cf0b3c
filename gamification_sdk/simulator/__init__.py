"""The economy simulator: seeded synthetic users driven through a real engine on a fake clock.

``simulate(users=..., days=..., profile=...)`` returns a ``SimulationReport`` (time to each
level, the level distribution, achievement unlock rates, points issued vs spent per day,
streak survival), rendered with ``to_markdown()`` and ``to_json()``; ``write_plots`` draws it
(needs matplotlib: ``pip install 'gamification-sdk[plots]'``). The ``simulate`` click command
is in ``gamification_sdk.simulator.command``.
"""

from .driver import DEFAULT_CONFIG, DEFAULT_DEFINITIONS, DEFAULT_START, simulate
from .plots import plots_available, write_plots
from .profiles import POPULATIONS, PROFILES, ActivityProfile
from .report import (
    AchievementRate,
    AchievementSummary,
    CurrencyFlow,
    DailyFlow,
    LevelCount,
    LevelTiming,
    SegmentSummary,
    SimulationReport,
    StreakCurve,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_DEFINITIONS",
    "DEFAULT_START",
    "POPULATIONS",
    "PROFILES",
    "AchievementRate",
    "AchievementSummary",
    "ActivityProfile",
    "CurrencyFlow",
    "DailyFlow",
    "LevelCount",
    "LevelTiming",
    "SegmentSummary",
    "SimulationReport",
    "StreakCurve",
    "plots_available",
    "simulate",
    "write_plots",
]
