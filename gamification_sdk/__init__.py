"""gamification-sdk: XP, levels, a double-entry points ledger and plugins in one SQLite file."""

from . import errors
from .clock import FakeClock
from .config import Config, CurrencyConfig, LevelReward, LevelsConfig, RateLimit
from .engine import Gamification
from .hookspecs import hookimpl
from .models import (
    Balance,
    HistoryPage,
    LedgerReport,
    Profile,
    RateLimitStatus,
    Reservation,
    Transaction,
    XPAward,
)

__all__ = [
    "Balance",
    "Config",
    "CurrencyConfig",
    "FakeClock",
    "Gamification",
    "HistoryPage",
    "LedgerReport",
    "LevelReward",
    "LevelsConfig",
    "Profile",
    "RateLimit",
    "RateLimitStatus",
    "Reservation",
    "Transaction",
    "XPAward",
    "errors",
    "hookimpl",
]
