"""``stats()``: one user's progression, achievements by rarity, recent XP and daily activity."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta

from ..core.clock import to_text
from ..models import DailyActivity, Stats
from ..progression.achievements import Achievements, Context
from ..progression.metrics import ACTIVE, day_bounds, local_day
from ..progression.profiles import Profiles
from ..storage.stats import POINTS_SINCE, UNLOCKS, XP_SINCE

__all__ = ["user_stats"]


def user_stats(
    conn: sqlite3.Connection,
    profiles: Profiles,
    achievements: Achievements,
    ctx: Context,
    days: int,
) -> Stats:
    profile = profiles.read(ctx.user_id)
    first_day = ctx.day - timedelta(days=days - 1)
    # The UTC instant the first local day begins: rows from then on are in range.
    since = to_text(day_bounds(first_day, ctx.timezone, ctx.start_hour)[0])
    xp_by_day: dict[str, int] = defaultdict(int)
    points_by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    unlocks_by_day: dict[str, int] = defaultdict(int)

    def day_of(text: str) -> str:
        return local_day(datetime.fromisoformat(text), ctx.timezone, ctx.start_hour)[0].isoformat()

    for amount, created in conn.execute(XP_SINCE, (ctx.user_id, since)):
        xp_by_day[day_of(created)] += amount
    for currency, amount, created in conn.execute(POINTS_SINCE, (ctx.user_id, since)):
        points_by_day[day_of(created)][currency] += amount
    by_rarity: dict[str, int] = defaultdict(int)
    achievement_points = 0
    for rarity, points, unlocked_at in conn.execute(UNLOCKS, (ctx.user_id,)):
        by_rarity[rarity] += 1
        achievement_points += points
        if unlocked_at >= since:
            unlocks_by_day[day_of(unlocked_at)] += 1
    keys = set(ctx.unlocks)
    daily = []
    for offset in range(days):
        day = (first_day + timedelta(days=offset)).isoformat()
        daily.append(
            DailyActivity(day, xp_by_day[day], dict(points_by_day[day]), unlocks_by_day[day])
        )
    assert achievements.xp is not None
    recent = tuple(achievements.xp.history(ctx.user_id, limit=10, before=None))
    total = sum(1 for e in achievements.catalogue.active() if not e.definition.hidden)
    return Stats(
        user_id=ctx.user_id,
        level=profile.level,
        xp=profile.xp,
        progress=profile.progress,
        achievements_unlocked=len(keys),
        achievements_total=total,
        achievement_points=achievement_points,
        by_rarity=dict(by_rarity),
        recent_xp=recent,
        daily=tuple(daily),
        days_active=int(ctx.metric(ACTIVE)[3]),
    )
