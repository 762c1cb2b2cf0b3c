"""SDK values in seed 002's response shapes (camelCase JSON, ISO 8601 times in UTC)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gamification_sdk.models import (
    AchievementStatus,
    BattlePass,
    LeaderboardEntry,
    Privacy,
    Profile,
    QuestStatus,
    TierRewardStatus,
    Transaction,
    Unlock,
)

from .catalogue import CURRENCY

__all__ = [
    "achievement",
    "battle_pass",
    "challenge",
    "iso",
    "number",
    "profile",
    "ranking",
    "transaction",
    "unlocks",
]


def iso(moment: datetime | None) -> str | None:
    """``2025-11-02T09:30:00Z``, as in seed 002."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def number(value: float) -> float | int:
    """Whole numbers as ints: progress is counted in workouts and minutes."""
    return int(value) if float(value).is_integer() else value


def profile(p: Profile, privacy: Privacy) -> dict[str, Any]:
    balance = p.balances.get(CURRENCY)
    streak = p.streak
    return {
        "userId": p.user_id,
        "level": p.level,
        "currentXP": p.xp_into_level,
        "nextLevelXP": p.xp_for_next_level,
        "totalLifetimeXP": p.xp,
        "xpProgress": p.progress,
        "points": balance.balance if balance else 0,
        "availablePoints": balance.available if balance else 0,
        "lifetimePointsEarned": balance.lifetime_earned if balance else 0,
        "lifetimePointsSpent": balance.lifetime_spent if balance else 0,
        "currentStreak": streak.current if streak else 0,
        "longestStreak": streak.longest if streak else 0,
        "streakFreezesAvailable": streak.freezes if streak else 0,
        "titles": list(p.titles),
        "timezone": p.timezone,
        "privacySettings": {
            "leaderboardVisibility": privacy.visibility,
            "showOnGlobalLeaderboard": privacy.show_on_global,
            "displayNameType": privacy.display_name_type,
        },
    }


def unlocks(found: Iterable[Unlock]) -> list[dict[str, Any]]:
    return [
        {"id": u.key, "name": u.name, "rarity": u.rarity, "tier": u.tier,
         "pointReward": u.points.get(CURRENCY, 0), "xpReward": u.xp}
        for u in found
    ]  # fmt: skip


def challenge(q: QuestStatus) -> dict[str, Any]:
    """One available challenge. With one objective, ``userProgress`` is its current and
    target (minutes, workouts, days); with several, objectives done out of all."""
    objectives = q.objectives
    if len(objectives) == 1:
        current, target = number(objectives[0].current), objectives[0].target
    else:
        current, target = sum(o.done for o in objectives), len(objectives)
    return {
        "id": q.key,
        "name": q.name,
        "description": q.description,
        "category": q.category,
        "difficulty": q.difficulty,
        "recurrence": q.recurrence,
        "xpReward": q.xp,
        "pointReward": q.points.get(CURRENCY, 0),
        "completionCriteria": {
            "logic": q.logic,
            "objectives": [
                {"type": o.type, "event": o.event, "target": o.target,
                 "description": o.description}
                for o in objectives
            ],
        },
        "userProgress": {
            "current": current,
            "target": target,
            "isCompleted": q.completed,
            "completions": q.completions,
            "maxCompletions": q.max_completions,
        },
        "expiresAt": iso(q.expires_at),
    }  # fmt: skip


def transaction(t: Transaction) -> dict[str, Any]:
    return {
        "id": t.id,
        "amount": t.amount,
        "balanceBefore": t.balance_before,
        "balanceAfter": t.balance_after,
        "type": t.type,
        "source": t.source,
        "description": t.description,
        "referenceType": t.reference_type,
        "referenceId": t.reference_id,
        "createdAt": iso(t.created_at),
    }


def achievement(a: AchievementStatus, point_reward: int | None) -> dict[str, Any]:
    return {
        "id": a.key,
        "name": a.name,
        "description": a.description,
        "category": a.category,
        "rarity": a.rarity,
        "badgeImageUrl": a.icon or None,
        "pointReward": point_reward,
        "isUnlocked": a.unlocked,
        "unlockedAt": iso(a.unlocked_at),
        "isSecret": a.hidden,
        "tiersUnlocked": list(a.tiers_unlocked),
        "nextTier": a.next_tier,
        "progress": {"current": number(a.current), "target": a.target, "percent": a.percent},
    }


def ranking(e: LeaderboardEntry) -> dict[str, Any]:
    """One line of a board. User ids are not shown: the display name follows the user's
    privacy settings (an anonymous user must stay anonymous)."""
    line = {"rank": e.rank, "displayName": e.display_name, "level": e.level,
            "xp": number(e.score)}  # fmt: skip
    if e.movement is not None:
        line["movement"] = e.movement
    return line


def _tier_reward(r: TierRewardStatus) -> dict[str, Any]:
    return {
        "tier": r.tier,
        "points": r.points.get(CURRENCY, 0),
        "items": r.items,
        "titles": list(r.titles),
        "claimed": r.state == "claimed",
        "claimable": r.state == "claimable",
        "locked": r.state == "locked",
        "claimedAt": iso(r.claimed_at),
    }


def battle_pass(bp: BattlePass) -> dict[str, Any]:
    return {
        "seasonId": bp.season,
        "seasonName": bp.name,
        "startsAt": iso(bp.starts_at),
        "endsAt": iso(bp.ends_at),
        "isActive": bp.active,
        "currentTier": bp.tier,
        "totalTiers": bp.total_tiers,
        "hasPremium": bp.premium,
        "premiumPrice": bp.premium_price,
        "currentTierXP": bp.xp_into_tier,
        "xpPerTier": bp.xp_per_tier,
        "xpToNextTier": bp.xp_to_next_tier,
        "seasonXP": bp.season_xp,
        "freeRewards": [_tier_reward(r) for r in bp.free_rewards],
        "premiumRewards": [_tier_reward(r) for r in bp.premium_rewards],
    }
