"""gamification-sdk: XP, levels, a double-entry points ledger and plugins in one SQLite file."""

from . import errors
from .clock import FakeClock
from .config import (
    Config,
    CurrencyConfig,
    LevelReward,
    LevelsConfig,
    RateLimit,
    ReferralsConfig,
    ReferralTier,
    SchedulerConfig,
)
from .engine import Gamification
from .hookspecs import hookimpl
from .jobs import Job, JobRun, JobSkip, JobsReport, period_of
from .models import (
    Balance,
    HistoryPage,
    LedgerReport,
    MilestoneReward,
    Order,
    Profile,
    RateLimitStatus,
    Referral,
    ReferralAttempt,
    ReferralConversion,
    ReferralStats,
    Reservation,
    ShopListing,
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
    "Job",
    "JobRun",
    "JobSkip",
    "JobsReport",
    "LedgerReport",
    "LevelReward",
    "LevelsConfig",
    "MilestoneReward",
    "Order",
    "Profile",
    "RateLimit",
    "RateLimitStatus",
    "Referral",
    "ReferralAttempt",
    "ReferralConversion",
    "ReferralStats",
    "ReferralTier",
    "ReferralsConfig",
    "Reservation",
    "SchedulerConfig",
    "ShopListing",
    "Transaction",
    "XPAward",
    "errors",
    "hookimpl",
    "period_of",
]
