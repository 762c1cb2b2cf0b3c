"""Seed 002's endpoints under ``/api/gamification``, each a thin call into the SDK.

Who the user is comes from the request, where seed 002 puts it: the ``userId`` path segment,
query parameter or body field. There is no authentication in this example; a real server
takes the user from its session or token and refuses a ``userId`` that is not theirs.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Response, current_app, jsonify, request

from gamification_sdk import Gamification

from . import shapes
from .catalogue import CURRENCY, EARN_XP_SOURCES, POINT_REWARDS
from .errors import ApiError
from .inputs import (
    idempotency_key,
    int_arg,
    invalid,
    json_body,
    object_field,
    optional_text,
    required_text,
)
from .unlocks import UnlockCollector

__all__ = ["API_PREFIX", "api"]

API_PREFIX = "/api/gamification"
JOIN_URL = "https://swanstudios.example/join"
PREMIUM_PASS = "battle_pass_premium"  # seed 002's itemType for the battle pass
CONVERSIONS = {"first_purchase": "first_purchase", "first_training_session": "first_session"}
SCOPES = {"global": "global", "friends": "friends", "gym": "group"}
DIFFICULTIES = ("easy", "medium", "hard", "legendary")

api = Blueprint("gamification", __name__, url_prefix=API_PREFIX)


def _engine() -> Gamification:
    return cast(Gamification, current_app.extensions["gamification"])


def _ok(data: dict[str, Any]) -> Response:
    return jsonify({"success": True, "data": data})


# -- profile and XP -----------------------------------------------------------------------


@api.get("/profile/<user_id>")
def profile(user_id: str) -> Response:
    g = _engine()
    return _ok(shapes.profile(g.profile(user_id), g.social.privacy(user_id)))


@api.post("/profile/earn-xp")
def earn_xp() -> Response:
    """Track the activity; its rule decides the XP (``xpAmount`` is only the client's
    suggestion and is not used). ``metadata.duration`` (minutes) is the event's value, which
    duration challenges add up; the other metadata fields are kept with it."""
    g = _engine()
    body = json_body()
    user = required_text(body, "userId")
    source = required_text(body, "source")
    if source not in EARN_XP_SOURCES:
        raise invalid("source", f"expected one of {', '.join(EARN_XP_SOURCES)}")
    metadata = object_field(body, "metadata")
    duration = (metadata or {}).get("duration", 1)
    if type(duration) not in (int, float) or not duration > 0:
        raise invalid("metadata.duration", "expected a number of minutes above 0")
    result = g.track(user, source, value=duration, metadata=metadata,
                     idempotency_key=idempotency_key(body))  # fmt: skip
    award = result.xp
    if award is None:  # the rule's daily limit was reached: tracked, but no XP
        now = g.profile(user)
        total, level, leveled_up, level_bonus = now.xp, now.level, False, 0
    else:
        total, level, leveled_up = award.total_xp, award.new_level, award.leveled_up
        level_bonus = sum(r.points.get(CURRENCY, 0) for r in award.rewards)
    rule_points = sum(t.amount for t in result.points if t.currency == CURRENCY)
    return _ok({
        "xpEarned": award.amount if award else 0,
        "newTotalXP": total,
        "levelUp": leveled_up,
        "newLevel": level,
        "pointsAwarded": level_bonus + rule_points,
        "newPointBalance": g.balance(user, CURRENCY),
        "achievementsUnlocked": shapes.unlocks(result.unlocked),
        "rewarded": result.rewarded,
    })  # fmt: skip


# -- challenges ---------------------------------------------------------------------------


@api.get("/challenges/available")
def challenges() -> Response:
    user = required_text(request.args, "userId")
    category = optional_text(request.args, "category")
    difficulty = optional_text(request.args, "difficulty")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise invalid("difficulty", f"expected one of {', '.join(DIFFICULTIES)}")
    board = _engine().quests.list(user, category=category)

    def shown(group: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [shapes.challenge(q) for q in group if difficulty in (None, q.difficulty)]

    return _ok({"daily": shown(board.daily), "weekly": shown(board.weekly),
                "monthly": shown(board.monthly), "special": shown(board.special)})  # fmt: skip


@api.post("/challenges/complete")
def complete_challenge() -> Response:
    """Server-validated: the SDK pays the challenge's own rewards when the server's tracked
    progress meets its criteria. ``progressData`` and ``verificationData`` are stored with
    the completion as evidence (a ``verify_quest`` plugin may judge them)."""
    g = _engine()
    body = json_body()
    user = required_text(body, "userId")
    challenge = required_text(body, "challengeId")
    evidence = {name: body[name] for name in ("progressData", "verificationData")
                if object_field(body, name) is not None}  # fmt: skip
    key = idempotency_key(body)
    collector = cast(UnlockCollector, current_app.extensions["gamification.unlocks"])
    with collector.collect() as unlocked:
        done = g.quests.complete(user, challenge, evidence=evidence or None, idempotency_key=key)
    return _ok({
        "challengeCompleted": True,
        "challengeId": done.key,
        "period": done.period,
        "xpEarned": done.xp,
        "pointsEarned": done.points.get(CURRENCY, 0),
        "newTotalXP": g.profile(user).xp,
        # What this request unlocked: a replay pays nothing again, so it lists none.
        "achievementsUnlocked": shapes.unlocks(unlocked),
    })  # fmt: skip


# -- points: purchases and history --------------------------------------------------------


@api.post("/points/purchase")
def purchase() -> Response:
    """Seed 002's two-phase purchase through ``g.shop.purchase``: the price is held, the shop's
    order service (``fulfill_order``) creates the order, then the hold becomes the charge;
    if the shop fails, the hold is released and nothing is charged. ``pointCost`` is checked
    against the server's price, never charged as sent."""
    g = _engine()
    body = json_body()
    user = required_text(body, "userId")
    item = required_text(body, "itemId")
    item_type = optional_text(body, "itemType")
    quantity = body.get("quantity", 1)
    cost = body.get("pointCost")
    key = idempotency_key(body)
    if item_type == PREMIUM_PASS or item == PREMIUM_PASS:
        _check_cost(cost, g.battle_pass.get(user).premium_price)
        bought = g.battle_pass.buy_premium(user, idempotency_key=key)
        return _ok({
            "transactionId": bought.transaction_id, "orderId": None, "itemId": PREMIUM_PASS,
            "seasonId": bought.season, "pointsSpent": bought.price,
            "newBalance": g.balance(user, CURRENCY), "message": "Purchase successful!",
        })  # fmt: skip
    listing = next((i for i in g.shop.list(user) if i.key == item), None)
    if listing is not None:  # an unknown item is the SDK's NotFound, below
        if item_type is not None and item_type != listing.category:
            raise invalid("itemType", f"{item!r} is a {listing.category} item")
        if type(quantity) is int:
            _check_cost(cost, listing.price.get(CURRENCY, 0) * quantity)
    order = g.shop.purchase(user, item, quantity=quantity, idempotency_key=key)
    return _ok({
        "transactionId": order.transaction_ids[0] if order.transaction_ids else None,
        "orderId": order.id,
        "externalOrderId": order.external_reference,
        "itemId": order.item,
        "quantity": order.quantity,
        "pointsSpent": order.price.get(CURRENCY, 0),
        "newBalance": g.balance(user, CURRENCY),
        "granted": {"items": order.items, "title": order.title},
        "message": "Purchase successful!",
    })  # fmt: skip


def _check_cost(sent: object, price: int) -> None:
    if sent is None:
        return
    if sent != price or type(sent) is not int:
        raise ApiError(409, "PRICE_MISMATCH", f"The price is {price:,} points",
                       {"pointCost": sent, "price": price})  # fmt: skip


@api.get("/points/history/<user_id>")
def history(user_id: str) -> Response:
    """Newest first; pass ``nextBefore`` as ``before`` for the next page."""
    limit = int_arg("limit", 50)
    before = int_arg("before", None)
    assert limit is not None
    page = _engine().history(user_id, currency=CURRENCY, limit=limit, before=before)
    totals = page.totals.get(CURRENCY)
    return _ok({
        "transactions": [shapes.transaction(t) for t in page.transactions],
        "summary": {
            "totalEarned": totals.earned if totals else 0,
            "totalSpent": totals.spent if totals else 0,
            "netBalance": totals.net if totals else 0,
        },
        "nextBefore": page.next_before,
    })  # fmt: skip


# -- referrals ----------------------------------------------------------------------------


@api.post("/referrals/generate-code")
def generate_code() -> Response:
    """The user's code, made once and the same ever after, so no idempotency key is needed.
    The caller's address is recorded for the same-IP fraud rule."""
    g = _engine()
    body = json_body()
    user = required_text(body, "userId")
    name = optional_text(body, "firstName")
    ip = optional_text(body, "ipAddress") or request.remote_addr
    code = g.referrals.code(user, name=name or user, ip=ip)
    bonus = g.config.referrals.referred_reward
    return _ok({
        "referralCode": code,
        "referralUrl": f"{JOIN_URL}?ref={code}",
        "sharingMessage": f"Join me at SwanStudios and get {bonus:,} bonus points! "
                          f"Use code {code}",
    })  # fmt: skip


@api.post("/referrals/track")
def track_referral() -> Response:
    """A signup with a code. Anti-fraud runs first; a refused referral is kept on record
    (flagged, unpaid) and answered with seed 002's vague "Invalid referral"."""
    g = _engine()
    body = json_body()
    code = required_text(body, "referralCode")
    new_user = required_text(body, "newUserId")
    utm = {
        part: value
        for part in ("source", "medium", "campaign")
        if (value := optional_text(body, f"utm{part.title()}")) is not None
    }
    referral = g.referrals.track(
        code, new_user,
        ip=optional_text(body, "ipAddress"),
        device_fingerprint=optional_text(body, "deviceFingerprint"),
        email=optional_text(body, "newUserEmail"),
        utm=utm or None,
        idempotency_key=idempotency_key(body),
    )  # fmt: skip
    return _ok({
        "referralId": referral.id,
        "status": referral.status,
        "referrerReward": {"points": referral.referrer_points},
        "refereeReward": {"points": referral.referred_points},
    })  # fmt: skip


@api.post("/referrals/convert")
def convert_referral() -> Response:
    """The referred user's first purchase or training session: pays the referrer once, and
    every milestone tier (seed 002's Bronze to Diamond Recruiter) the conversion reaches."""
    g = _engine()
    body = json_body()
    referral = body.get("referralId")
    if isinstance(referral, bool) or not isinstance(referral, int | str) or referral == "":
        raise invalid("referralId", "required: the referral's id, or the new user's id")
    kind = required_text(body, "conversionType")
    if kind not in CONVERSIONS:
        raise invalid("conversionType", f"expected one of {', '.join(CONVERSIONS)}")
    revenue = body.get("revenueGenerated")
    done = g.referrals.convert(referral, kind=CONVERSIONS[kind], revenue=revenue,
                              idempotency_key=idempotency_key(body))  # fmt: skip
    what = "purchase" if kind == "first_purchase" else "training session"
    milestones = [
        {"name": m.name, "tier": m.tier, "totalReferrals": m.referrals, "pointReward": m.points}
        for m in done.milestones
    ]
    return _ok({
        "referralId": done.referral.id,
        "referrerReward": {"points": done.points,
                           "message": f"Your referral made their first {what}!"},
        "milestoneAchieved": milestones[-1] if milestones else None,
        "milestonesAchieved": milestones,
    })  # fmt: skip


# -- achievements and leaderboards --------------------------------------------------------


@api.get("/achievements")
def achievements() -> Response:
    """Every badge with the user's progress; secret ones only once unlocked."""
    user = required_text(request.args, "userId")
    listed = _engine().achievements.list(user)
    return _ok({
        "total": len(listed),
        "unlocked": sum(a.unlocked for a in listed),
        "achievements": [shapes.achievement(a, POINT_REWARDS.get(a.key)) for a in listed],
    })  # fmt: skip


@api.get("/leaderboards/<scope>")
def leaderboard(scope: str) -> Response:
    """The XP board. ``gym`` ranks the members of ``gymId`` (default: the user's gym);
    privacy settings decide who is listed and under which name."""
    g = _engine()
    if scope not in SCOPES:
        raise invalid("scope", f"expected one of {', '.join(SCOPES)}")
    user = (optional_text if scope == "global" else required_text)(request.args, "userId")
    period = optional_text(request.args, "period") or "all_time"
    limit = int_arg("limit", 100)
    assert limit is not None
    gym = optional_text(request.args, "gymId")
    if scope == "gym" and gym is None:
        assert user is not None
        gyms = [name for name, kind in g.social.groups(user).items() if kind == "gym"]
        if not gyms:
            raise invalid("gymId", "the user belongs to no gym; name one")
        gym = gyms[0]
    board = g.boards.get("xp", period=period, scope=SCOPES[scope], group=gym, limit=limit,
                          viewer=user)  # fmt: skip
    viewer = board.viewer
    return _ok({
        "scope": scope,
        "period": period,
        "periodKey": board.period_key,
        "gymId": gym,
        "total": board.total,
        "userPosition": None if viewer is None else {**shapes.ranking(viewer),
                                                     "isListed": not viewer.hidden},
        "rankings": [shapes.ranking(e) for e in board.entries],
    })  # fmt: skip


# -- battle pass --------------------------------------------------------------------------


@api.get("/battle-pass/<user_id>")
def battle_pass(user_id: str) -> Response:
    season = optional_text(request.args, "seasonId")
    return _ok(shapes.battle_pass(_engine().battle_pass.get(user_id, season=season)))


@api.post("/battle-pass/claim")
def claim_tier() -> Response:
    """Claim one tier reward. ``seasonId`` pins the season the client showed, so a claim
    made as a season ends cannot land in the next one."""
    g = _engine()
    body = json_body()
    user = required_text(body, "userId")
    track = required_text(body, "track")
    tier = cast(int, body.get("tierId"))  # the SDK checks it is an int from 1 to the last tier
    claim = g.battle_pass.claim(
        user, tier, track=track,
        season=optional_text(body, "seasonId"), idempotency_key=idempotency_key(body),
    )  # fmt: skip
    return _ok({
        "seasonId": claim.season,
        "tierId": claim.tier,
        "track": claim.track,
        "pointsAwarded": claim.points.get(CURRENCY, 0),
        "items": claim.items,
        "titles": list(claim.titles),
        "newBalance": g.balance(user, CURRENCY),
        "claimedAt": shapes.iso(claim.claimed_at),
    })  # fmt: skip
