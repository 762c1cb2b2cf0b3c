"""The one place where the SDK's typed errors become seed 002's error responses.

Every error body has seed 002's shape::

    {"success": false, "error": {"code": "INSUFFICIENT_POINTS", "message": "...", "details": {...}}}

``STATUS`` maps each SDK error class to an HTTP status and a code; the most specific class
wins (``QuestLocked`` before ``QuestUnavailable``), so a new SDK subclass falls back to its
parent's entry. ``details`` adds what a client can act on, never internals.
"""

from __future__ import annotations

import re
from typing import Any

from gamification_sdk import errors

__all__ = ["STATUS", "ApiError", "describe"]


class ApiError(Exception):
    """An error the web layer raises itself (a missing field, a bad body)."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


STATUS: dict[type[errors.GamificationError], tuple[int, str]] = {
    errors.GamificationError: (500, "INTERNAL_ERROR"),
    errors.InvalidInput: (400, "VALIDATION_ERROR"),
    errors.UnknownUser: (404, "USER_NOT_FOUND"),
    errors.NotFound: (404, "NOT_FOUND"),
    errors.UnknownReferralCode: (404, "INVALID_REFERRAL_CODE"),
    errors.UnknownSeason: (404, "SEASON_NOT_FOUND"),
    errors.InsufficientFunds: (402, "INSUFFICIENT_POINTS"),
    errors.IdempotencyConflict: (409, "IDEMPOTENCY_CONFLICT"),
    errors.Rejected: (422, "REJECTED"),
    errors.RateLimited: (429, "RATE_LIMITED"),
    errors.Busy: (503, "BUSY"),
    errors.QuestUnavailable: (422, "CHALLENGE_UNAVAILABLE"),
    errors.QuestLocked: (403, "CHALLENGE_LOCKED"),
    errors.QuestExpired: (422, "CHALLENGE_EXPIRED"),
    errors.QuestAlreadyCompleted: (409, "CHALLENGE_ALREADY_COMPLETED"),
    errors.QuestNotVerified: (422, "CHALLENGE_NOT_VERIFIED"),
    errors.PurchaseRefused: (422, "PURCHASE_REFUSED"),
    errors.OutOfStock: (409, "OUT_OF_STOCK"),
    errors.NotOnSale: (422, "NOT_ON_SALE"),
    errors.PurchaseLimitReached: (409, "PURCHASE_LIMIT_REACHED"),
    errors.FulfillmentFailed: (502, "ORDER_FAILED"),
    errors.PurchasePending: (409, "PURCHASE_PENDING"),
    errors.ReferralRejected: (422, "INVALID_REFERRAL"),
    errors.ReferralUnavailable: (409, "REFERRAL_UNAVAILABLE"),
    errors.ReferralAlreadyConverted: (409, "REFERRAL_ALREADY_CONVERTED"),
    errors.BattlePassRefused: (422, "BATTLE_PASS_REFUSED"),
    errors.NoActiveSeason: (404, "NO_ACTIVE_SEASON"),
    errors.SeasonNotStarted: (422, "SEASON_NOT_STARTED"),
    errors.SeasonEnded: (422, "SEASON_ENDED"),
    errors.NoTierReward: (404, "NO_TIER_REWARD"),
    errors.TierNotReached: (422, "TIER_NOT_REACHED"),
    errors.PremiumRequired: (403, "PREMIUM_REQUIRED"),
    errors.RewardAlreadyClaimed: (409, "REWARD_ALREADY_CLAIMED"),
    errors.PremiumAlreadyOwned: (409, "PREMIUM_ALREADY_OWNED"),
    errors.NotEnoughTierBoosts: (422, "NOT_ENOUGH_TIER_BOOSTS"),
    errors.MaxTierReached: (422, "MAX_TIER_REACHED"),
}

# Anti-fraud reasons are not told to the client (it would teach a fraudster which rule to
# dodge): seed 002 answers "Invalid referral", or "Suspicious activity" for velocity.
_SUSPICIOUS = {"ip_velocity", "device_seen"}

# SDK argument names that differ from the request fields a client sent.
_FIELDS = {"item_key": "itemId", "quest_key": "challengeId", "tier": "tierId",
           "code": "referralCode", "new_user_id": "newUserId", "kind": "conversionType",
           "revenue": "revenueGenerated", "value": "metadata.duration", "viewer": "userId",
           "group": "gymId", "ip": "ipAddress", "email": "newUserEmail"}  # fmt: skip


def _field(name: str) -> str:
    if name in _FIELDS:
        return _FIELDS[name]
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _status(exc: errors.GamificationError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise AssertionError("GamificationError is in STATUS")


def _message_and_details(exc: errors.GamificationError) -> tuple[str, dict[str, Any] | None]:
    if isinstance(exc, errors.InsufficientFunds):
        # Seed 002: "You need 97,600 more points", details {required, current, shortfall}.
        return (f"You need {exc.shortfall:,} more {exc.currency}",
                {**exc.details(), "currency": exc.currency})  # fmt: skip
    if isinstance(exc, errors.ReferralRejected):
        suspicious = exc.reason in _SUSPICIOUS
        return ("Suspicious activity" if suspicious else "Invalid referral"), None
    if isinstance(exc, errors.RateLimited):
        return str(exc), {"action": exc.action, "limit": exc.limit, "windowSeconds": exc.window,
                          "retryAfterSeconds": exc.retry_after_seconds}  # fmt: skip
    if isinstance(exc, errors.ConfigError):
        return str(exc), {"problems": exc.problems}
    if isinstance(exc, errors.InvalidInput):
        return str(exc), {"field": _field(exc.field), "problem": exc.problem}
    if isinstance(exc, errors.QuestUnavailable):
        return str(exc), {"challengeId": exc.quest, "reason": exc.reason}
    if isinstance(exc, errors.PurchaseRefused):
        return str(exc), {"itemId": exc.item, "reason": exc.reason}
    if isinstance(exc, errors.FulfillmentFailed):
        return str(exc), {"orderId": exc.order_id, "itemId": exc.item}
    if isinstance(exc, errors.BattlePassRefused):
        return str(exc), {"seasonId": exc.season, "tierId": exc.tier, "track": exc.track}
    if isinstance(exc, errors.ReferralUnavailable):
        return str(exc), {"referralId": exc.referral_id, "status": exc.status}
    if isinstance(exc, errors.NotFound):
        return str(exc), {"what": _field(exc.what), "key": exc.key}
    if isinstance(exc, errors.IdempotencyConflict):
        return str(exc), {"idempotencyKey": exc.key}
    return str(exc), None


Described = tuple[int, dict[str, Any], dict[str, str]]


def describe(exc: ApiError | errors.GamificationError) -> Described:
    """The status, the JSON body and the extra headers for an error."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        status, code, message, details = exc.status, exc.code, exc.message, exc.details
    else:
        status, code = _status(exc)
        message, details = _message_and_details(exc)
        if isinstance(exc, errors.RateLimited):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        elif getattr(exc, "retryable", False):
            headers["Retry-After"] = "1"
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return status, {"success": False, "error": error}, headers
