"""The example web app through Flask's test client: every endpoint's happy path, seed 002's
error shapes, idempotent retries, and that a refused request writes nothing."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from webapp import API_PREFIX, ShopService, create_app, fresh_demo, open_engine, seed_demo
from webapp.errors import STATUS, describe
from werkzeug.test import TestResponse

from gamification_sdk import FakeClock, Gamification, errors

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday; the season runs March to May
README = Path(__file__).resolve().parent / "README.md"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def shop() -> ShopService:
    return ShopService()


@pytest.fixture
def g(clock: FakeClock, shop: ShopService) -> Iterator[Gamification]:
    engine = open_engine(":memory:", clock=clock, shop=shop, load_entrypoints=False)
    yield engine
    engine.close()


@pytest.fixture
def client(g: Gamification) -> FlaskClient:
    return create_app(g).test_client()


@contextmanager
def unchanged(engine: Gamification) -> Iterator[None]:
    """Assert the block leaves every row of the database exactly as it was."""
    before = engine.dump()
    yield
    assert engine.dump() == before, "a refused request changed the database"


def get(client: FlaskClient, path: str) -> TestResponse:
    return client.get(API_PREFIX + path)


def post(client: FlaskClient, path: str, body: Any, key: str | None = None) -> TestResponse:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(API_PREFIX + path, json=body, headers=headers)


def data(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.json
    assert response.json is not None and response.json["success"] is True
    return response.json["data"]


def error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.json
    body = response.json
    assert body is not None and body["success"] is False and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def workout(client: FlaskClient, user: str, key: str, minutes: int = 45,
            kind: str = "cardio") -> Any:  # fmt: skip
    body = {
        "userId": user,
        "source": "workout",
        "xpAmount": 9999,
        "metadata": {"workoutId": key, "duration": minutes, "workoutType": kind},
    }
    return data(post(client, "/profile/earn-xp", body, key))


# -- profile and earn-xp ------------------------------------------------------------------


def test_profile_of_a_new_user_has_seed_002_defaults(client: FlaskClient) -> None:
    profile = data(get(client, "/profile/ada"))
    assert profile == {
        "userId": "ada", "level": 1, "currentXP": 0, "nextLevelXP": 100, "totalLifetimeXP": 0,
        "xpProgress": 0.0, "points": 0, "availablePoints": 0, "lifetimePointsEarned": 0,
        "lifetimePointsSpent": 0, "currentStreak": 0, "longestStreak": 0,
        "streakFreezesAvailable": 0, "titles": [], "timezone": "UTC",
        "privacySettings": {"leaderboardVisibility": "friends_only",
                            "showOnGlobalLeaderboard": False, "displayNameType": "username"},
    }  # fmt: skip


def test_earn_xp_takes_the_rule_not_the_client_and_levels_up(client: FlaskClient) -> None:
    earned = workout(client, "ada", "w-1")
    assert earned == {
        "xpEarned": 150, "newTotalXP": 150, "levelUp": True, "newLevel": 2,
        "pointsAwarded": 200, "newPointBalance": 250, "rewarded": True,
        "achievementsUnlocked": [{"id": "first_steps", "name": "First Steps", "rarity": "common",
                                  "tier": None, "pointReward": 50, "xpReward": 0}],
    }  # fmt: skip
    profile = data(get(client, "/profile/ada"))
    assert (profile["level"], profile["totalLifetimeXP"], profile["points"]) == (2, 150, 250)
    assert (profile["currentXP"], profile["nextLevelXP"], profile["currentStreak"]) == (50, 300, 1)


def test_earn_xp_past_the_daily_limit_tracks_but_pays_nothing(client: FlaskClient) -> None:
    for n in range(3):
        workout(client, "ada", f"w-{n}")
    fourth = workout(client, "ada", "w-3")
    assert (fourth["xpEarned"], fourth["rewarded"], fourth["newTotalXP"]) == (0, False, 450)


def test_earn_xp_retry_replays_and_a_changed_body_conflicts(
    client: FlaskClient, g: Gamification
) -> None:
    body = {"userId": "ada", "source": "daily_login", "idempotencyKey": "login-1"}
    first = post(client, "/profile/earn-xp", body)
    again = post(client, "/profile/earn-xp", body, key="login-1")  # header and body agree
    assert data(again) == data(first) and data(first)["xpEarned"] == 10
    assert g.profile("ada").xp == 10
    with unchanged(g):
        conflict = post(client, "/profile/earn-xp", {**body, "source": "workout"})
        assert error(conflict, 409, "IDEMPOTENCY_CONFLICT")["details"] == {
            "idempotencyKey": "login-1"
        }


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "field"),
    [
        ({"userId": "ada", "source": "workout"}, {}, 400, "MISSING_IDEMPOTENCY_KEY", None),
        ({"userId": "ada", "source": "nap"}, {"Idempotency-Key": "k"}, 400,
         "VALIDATION_ERROR", "source"),
        ({"source": "workout"}, {"Idempotency-Key": "k"}, 400, "VALIDATION_ERROR", "userId"),
        ({"userId": 7, "source": "workout"}, {"Idempotency-Key": "k"}, 400,
         "VALIDATION_ERROR", "userId"),
        ({"userId": "ada", "source": "workout", "metadata": {"duration": -5}},
         {"Idempotency-Key": "k"}, 400, "VALIDATION_ERROR", "metadata.duration"),
        ({"userId": "ada", "source": "workout", "metadata": [1]}, {"Idempotency-Key": "k"},
         400, "VALIDATION_ERROR", "metadata"),
        ({"userId": "ada", "source": "workout", "idempotencyKey": "a"},
         {"Idempotency-Key": "b"}, 400, "VALIDATION_ERROR", "idempotencyKey"),
        ({"userId": "x" * 300, "source": "workout"}, {"Idempotency-Key": "k"}, 400,
         "VALIDATION_ERROR", "userId"),
        (["not", "an", "object"], {"Idempotency-Key": "k"}, 400, "VALIDATION_ERROR", "body"),
    ],
)  # fmt: skip
def test_earn_xp_refusals_write_nothing(
    client: FlaskClient, g: Gamification, body: Any, headers: dict[str, str], status: int,
    code: str, field: str | None,
) -> None:  # fmt: skip
    with unchanged(g):
        response = client.post(API_PREFIX + "/profile/earn-xp", json=body, headers=headers)
        err = error(response, status, code)
    if field is not None:
        assert err["details"]["field"] == field


def test_one_engine_serves_concurrent_requests(g: Gamification) -> None:
    app = create_app(g)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            client = app.test_client()  # one client per thread, as a threaded server has
            body = {"userId": f"user-{n}", "source": "workout"}
            for i in range(3):
                assert post(client, "/profile/earn-xp", body, f"t{n}-{i}").status_code == 200
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert [g.profile(f"user-{n}").xp for n in range(8)] == [450] * 8
    assert not g.verify_ledger()


# -- challenges ---------------------------------------------------------------------------


def test_available_challenges_show_progress_by_recurrence(client: FlaskClient) -> None:
    workout(client, "ada", "w-1", minutes=20)
    board = data(get(client, "/challenges/available?userId=ada"))
    assert [c["id"] for c in board["daily"]] == ["morning_cardio"]
    assert [c["id"] for c in board["weekly"]] == ["five_a_week", "streak_master"]
    assert [c["id"] for c in board["special"]] == ["season_kickoff"]
    assert board["monthly"] == []  # Century Club needs level 5: not available yet
    cardio = board["daily"][0]
    assert cardio["userProgress"] == {"current": 20, "target": 30, "isCompleted": False,
                                      "completions": 0, "maxCompletions": 1}  # fmt: skip
    assert cardio["completionCriteria"]["objectives"] == [
        {"type": "sum", "event": "workout", "target": 30, "description": "minutes of cardio"}
    ]
    assert (cardio["xpReward"], cardio["expiresAt"]) == (15, "2026-03-03T00:00:00Z")
    hard = data(get(client, "/challenges/available?userId=ada&difficulty=hard"))
    assert [c["id"] for c in hard["weekly"]] == ["five_a_week"] and hard["daily"] == []
    streaks = data(get(client, "/challenges/available?userId=ada&category=streak"))
    assert [c["id"] for c in streaks["weekly"]] == ["streak_master"]


def test_available_challenges_refuse_bad_queries(client: FlaskClient) -> None:
    assert (
        error(get(client, "/challenges/available"), 400, "VALIDATION_ERROR")["details"]["field"]
        == "userId"
    )
    bad = get(client, "/challenges/available?userId=ada&difficulty=brutal")
    assert error(bad, 400, "VALIDATION_ERROR")["details"]["field"] == "difficulty"


def test_complete_challenge_pays_once_on_the_servers_own_record(
    client: FlaskClient, g: Gamification
) -> None:
    workout(client, "ada", "w-1", minutes=30)
    body = {"userId": "ada", "challengeId": "morning_cardio",
            "progressData": {"duration": 30}, "idempotencyKey": "cardio-0302"}  # fmt: skip
    done = data(post(client, "/challenges/complete", body))
    assert done == {
        "challengeCompleted": True, "challengeId": "morning_cardio", "period": "2026-03-02",
        "xpEarned": 15, "pointsEarned": 0, "newTotalXP": 165,
        "achievementsUnlocked": [{"id": "challenger", "name": "Challenger", "rarity": "common",
                                  "tier": None, "pointReward": 50, "xpReward": 0}],
    }  # fmt: skip
    replay = data(post(client, "/challenges/complete", body))
    assert replay == {**done, "achievementsUnlocked": []}  # nothing unlocked by the replay
    assert g.profile("ada").xp == 165
    with unchanged(g):
        again = post(client, "/challenges/complete", {**body, "idempotencyKey": "cardio-b"})
        assert error(again, 409, "CHALLENGE_ALREADY_COMPLETED")["details"] == {
            "challengeId": "morning_cardio",
            "reason": "was already completed 1 time(s) this period (the maximum)",
        }


def test_complete_challenge_refusals_write_nothing(client: FlaskClient, g: Gamification) -> None:
    workout(client, "ada", "w-1", minutes=20, kind="strength")

    def complete(challenge: str, **extra: Any) -> TestResponse:
        body = {"userId": "ada", "challengeId": challenge, **extra}
        return post(client, "/challenges/complete", body, key=f"c-{challenge}")

    with unchanged(g):
        # The client claims 30 minutes; the server tracked 20 of strength: not verified.
        claimed = complete("morning_cardio", progressData={"duration": 30})
        assert error(claimed, 422, "CHALLENGE_NOT_VERIFIED")["details"]["challengeId"] == (
            "morning_cardio"
        )
        error(complete("century_club"), 403, "CHALLENGE_LOCKED")
        missing = error(complete("moon_walk"), 404, "NOT_FOUND")
        assert missing["details"] == {"what": "challengeId", "key": "moon_walk"}
        bad = complete("morning_cardio", verificationData="trainer said so")
        assert error(bad, 400, "VALIDATION_ERROR")["details"]["field"] == "verificationData"
        nokey = post(client, "/challenges/complete", {"userId": "ada", "challengeId": "x"})
        error(nokey, 400, "MISSING_IDEMPOTENCY_KEY")


# -- points: purchase and history ---------------------------------------------------------


def fund(g: Gamification, user: str, points: int) -> None:
    g.award_points(user, points, currency="points", source="admin", transaction_type="bonus")


def test_purchase_of_an_internal_item_and_its_retry(client: FlaskClient, g: Gamification) -> None:
    fund(g, "ada", 2_400)
    body = {"userId": "ada", "itemId": "streak_freeze", "itemType": "streak",
            "pointCost": 1_000, "quantity": 2}  # fmt: skip
    bought = data(post(client, "/points/purchase", body, key="buy-1"))
    assert bought == {
        "transactionId": bought["transactionId"], "orderId": 1, "externalOrderId": None,
        "itemId": "streak_freeze", "quantity": 2, "pointsSpent": 1_000, "newBalance": 1_400,
        "granted": {"items": {"streak_freeze": 2}, "title": None},
        "message": "Purchase successful!",
    }  # fmt: skip
    assert data(post(client, "/points/purchase", body, key="buy-1")) == bought
    assert g.balance("ada", "points") == 1_400
    assert data(get(client, "/profile/ada"))["streakFreezesAvailable"] == 2


def test_purchase_of_an_external_item_goes_through_the_shop(
    client: FlaskClient, g: Gamification, shop: ShopService
) -> None:
    fund(g, "ada", 102_400)
    body = {"userId": "ada", "itemId": "training_session", "itemType": "training_session",
            "pointCost": 100_000}  # fmt: skip
    bought = data(post(client, "/points/purchase", body, key="pt-1"))
    assert (bought["externalOrderId"], bought["pointsSpent"], bought["newBalance"]) == (
        "SHOP-000001",
        100_000,
        2_400,
    )
    assert shop.orders == [("ada", "training_session", 1)]


def test_purchase_without_enough_points_has_seed_002s_error(
    client: FlaskClient, g: Gamification
) -> None:
    fund(g, "ada", 2_400)
    with unchanged(g):
        response = post(
            client, "/points/purchase", {"userId": "ada", "itemId": "training_session"}, key="pt-1"
        )
        err = error(response, 402, "INSUFFICIENT_POINTS")
    assert err == {
        "code": "INSUFFICIENT_POINTS", "message": "You need 97,600 more points",
        "details": {"required": 100_000, "current": 2_400, "shortfall": 97_600,
                    "currency": "points"},
    }  # fmt: skip


def test_purchase_when_the_shop_fails_charges_nothing(
    client: FlaskClient, g: Gamification, shop: ShopService
) -> None:
    fund(g, "ada", 10_000)
    shop.available = False
    response = post(client, "/points/purchase", {"userId": "ada", "itemId": "protein_sample"},
                    key="ps-1")  # fmt: skip
    err = error(response, 502, "ORDER_FAILED")
    assert err["details"] == {"orderId": 1, "itemId": "protein_sample"}
    balance = g.points.balances("ada")["points"]
    assert (balance.balance, balance.available) == (10_000, 10_000)
    shop.available = True  # the failed order did not use the key up
    assert data(post(client, "/points/purchase", {"userId": "ada", "itemId": "protein_sample"},
                     key="ps-1"))["newBalance"] == 5_000  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"itemId": "streak_freeze", "pointCost": 1}, 409, "PRICE_MISMATCH"),
        ({"itemId": "streak_freeze", "itemType": "gear"}, 400, "VALIDATION_ERROR"),
        ({"itemId": "golden_dumbbell"}, 404, "NOT_FOUND"),
        ({"itemId": "streak_freeze", "quantity": 4}, 409, "PURCHASE_LIMIT_REACHED"),
        ({"itemId": "streak_freeze", "quantity": "2"}, 400, "VALIDATION_ERROR"),
        ({"itemType": "gear"}, 400, "VALIDATION_ERROR"),
    ],
)
def test_purchase_refusals_write_nothing(
    client: FlaskClient, g: Gamification, body: dict[str, Any], status: int, code: str
) -> None:
    fund(g, "ada", 10_000)
    with unchanged(g):
        error(post(client, "/points/purchase", {"userId": "ada", **body}, key="k"), status, code)


def test_purchase_rate_limit_is_seed_002s_five_an_hour(
    client: FlaskClient, g: Gamification
) -> None:
    fund(g, "ada", 10_000)
    for n in range(5):
        data(post(client, "/points/purchase", {"userId": "ada", "itemId": "tier_boost"},
                  key=f"b-{n}"))  # fmt: skip
    with unchanged(g):
        response = post(client, "/points/purchase", {"userId": "ada", "itemId": "tier_boost"},
                        key="b-5")  # fmt: skip
        err = error(response, 429, "RATE_LIMITED")
    assert response.headers["Retry-After"] == "3600"
    assert err["details"] == {"action": "purchase", "limit": 5, "windowSeconds": 3600,
                              "retryAfterSeconds": 3600}  # fmt: skip


def test_points_history_is_newest_first_with_a_summary(
    client: FlaskClient, g: Gamification
) -> None:
    fund(g, "ada", 1_000)
    workout(client, "ada", "w-1")  # a 200-point level-up bonus, then 50 for First Steps
    data(post(client, "/points/purchase", {"userId": "ada", "itemId": "streak_freeze"}, "b-1"))
    page = data(get(client, "/points/history/ada?limit=2"))
    lines = [(t["type"], t["source"], t["amount"], t["balanceBefore"], t["balanceAfter"])
             for t in page["transactions"]]  # fmt: skip
    assert lines == [("purchase", "shop", -500, 1_250, 750),
                     ("bonus", "achievement:first_steps", 50, 1_200, 1_250)]  # fmt: skip
    assert page["summary"] == {"totalEarned": 1_250, "totalSpent": 500, "netBalance": 750}
    assert page["transactions"][0]["createdAt"] == "2026-03-02T12:00:00Z"
    rest = data(get(client, f"/points/history/ada?before={page['nextBefore']}"))
    assert [t["source"] for t in rest["transactions"]] == ["level_up", "admin"]
    assert rest["nextBefore"] is None
    for query, field in (("limit=lots", "limit"), ("limit=0", "limit"), ("before=-1", "before")):
        bad = get(client, f"/points/history/ada?{query}")
        assert error(bad, 400, "VALIDATION_ERROR")["details"]["field"] == field


def test_premium_pass_is_bought_with_points(client: FlaskClient, g: Gamification) -> None:
    body = {"userId": "ada", "itemId": "premium", "itemType": "battle_pass_premium",
            "pointCost": 30_000}  # fmt: skip
    with unchanged(g):
        err = error(post(client, "/points/purchase", body, key="bp-1"), 402,
                    "INSUFFICIENT_POINTS")  # fmt: skip
        assert err["details"]["shortfall"] == 30_000
    fund(g, "ada", 31_000)
    bought = data(post(client, "/points/purchase", body, key="bp-1"))
    assert (bought["seasonId"], bought["pointsSpent"], bought["newBalance"]) == (
        "shred-2026-03",
        30_000,
        1_000,
    )
    assert data(post(client, "/points/purchase", body, key="bp-1")) == bought
    assert data(get(client, "/battle-pass/ada"))["hasPremium"] is True
    with unchanged(g):
        error(post(client, "/points/purchase", body, key="bp-2"), 409, "PREMIUM_ALREADY_OWNED")
        error(post(client, "/points/purchase", {**body, "pointCost": 100}, key="bp-3"), 409,
              "PRICE_MISMATCH")  # fmt: skip


# -- referrals ----------------------------------------------------------------------------


def test_referral_signup_and_conversion(client: FlaskClient, g: Gamification) -> None:
    made = data(post(client, "/referrals/generate-code",
                     {"userId": "sean", "firstName": "Sean"}))  # fmt: skip
    code = made["referralCode"]
    assert code.startswith("SEAN-SWAN-") and len(code) == len("SEAN-SWAN-X7Y2")
    assert made["referralUrl"].endswith(f"/join?ref={code}")
    assert made["sharingMessage"] == (
        f"Join me at SwanStudios and get 500 bonus points! Use code {code}"
    )
    assert data(post(client, "/referrals/generate-code", {"userId": "sean"})) == made

    signup = {"referralCode": code.lower(), "newUserId": "amy", "newUserEmail": "amy@example.com",
              "ipAddress": "198.51.100.7", "deviceFingerprint": "fp-amy",
              "utmSource": "instagram"}  # fmt: skip
    joined = data(post(client, "/referrals/track", signup, key="signup-amy"))
    assert joined == {
        "referralId": joined["referralId"],
        "status": "signed_up",
        "referrerReward": {"points": 500},
        "refereeReward": {"points": 500},
    }
    assert data(post(client, "/referrals/track", signup, key="signup-amy")) == joined
    assert (g.balance("sean", "points"), g.balance("amy", "points")) == (500, 500)

    conversion = {"referralId": joined["referralId"], "conversionType": "first_purchase",
                  "revenueGenerated": 49.0}  # fmt: skip
    converted = data(post(client, "/referrals/convert", conversion, key="conv-amy"))
    bronze = {"name": "Bronze Recruiter", "tier": "bronze", "totalReferrals": 1,
              "pointReward": 500}  # fmt: skip
    assert converted == {
        "referralId": joined["referralId"],
        "referrerReward": {"points": 2_000, "message": "Your referral made their first purchase!"},
        "milestoneAchieved": bronze, "milestonesAchieved": [bronze],
    }  # fmt: skip
    assert g.balance("sean", "points") == 500 + 2_000 + 500
    with unchanged(g):
        again = post(
            client,
            "/referrals/convert",
            {**conversion, "conversionType": "first_training_session"},
            key="conv-2",
        )
        error(again, 409, "REFERRAL_ALREADY_CONVERTED")
    badges = data(get(client, "/achievements?userId=sean"))["achievements"]
    assert {a["id"]: a["isUnlocked"] for a in badges}["bronze_recruiter"] is True


def test_referral_fraud_is_refused_without_saying_which_rule(
    client: FlaskClient, g: Gamification
) -> None:
    # The test client calls from 127.0.0.1, recorded as the referrer's address.
    code = data(post(client, "/referrals/generate-code", {"userId": "sean"}))["referralCode"]
    same_ip = {"referralCode": code, "newUserId": "bot-1", "ipAddress": "127.0.0.1"}
    err = error(post(client, "/referrals/track", same_ip, key="r-1"), 422, "INVALID_REFERRAL")
    assert err == {"code": "INVALID_REFERRAL", "message": "Invalid referral"}
    first = {"referralCode": code, "newUserId": "amy", "ipAddress": "198.51.100.7",
             "deviceFingerprint": "fp-1"}  # fmt: skip
    data(post(client, "/referrals/track", first, key="r-2"))
    reused = {**first, "newUserId": "bot-2", "ipAddress": "203.0.113.5"}
    err = error(post(client, "/referrals/track", reused, key="r-3"), 422, "INVALID_REFERRAL")
    assert err["message"] == "Suspicious activity"  # the device was seen before
    # Refused referrals are kept on record, flagged and unpaid (the SDK's anti-fraud trail).
    assert g.referrals.stats("sean").flagged == 2 and g.balance("bot-2", "points") == 0


def test_referral_refusals_that_write_nothing(client: FlaskClient, g: Gamification) -> None:
    data(post(client, "/referrals/generate-code", {"userId": "sean"}))
    with unchanged(g):
        unknown = post(
            client,
            "/referrals/track",
            {"referralCode": "NOPE-SWAN-2222", "newUserId": "amy"},
            key="r-1",
        )
        assert error(unknown, 404, "INVALID_REFERRAL_CODE")["details"]["what"] == ("referralCode")
        error(post(client, "/referrals/track", {"referralCode": "X", "newUserId": "amy"}),
              400, "MISSING_IDEMPOTENCY_KEY")  # fmt: skip
        bad_ip = post(
            client,
            "/referrals/track",
            {"referralCode": "X", "newUserId": "amy", "ipAddress": "home"},
            key="r-2",
        )
        assert error(bad_ip, 400, "VALIDATION_ERROR")["details"]["field"] == "ipAddress"
        kind = post(
            client,
            "/referrals/convert",
            {"referralId": "amy", "conversionType": "first_hug"},
            key="c-1",
        )
        assert error(kind, 400, "VALIDATION_ERROR")["details"]["field"] == "conversionType"
        nobody = post(
            client,
            "/referrals/convert",
            {"referralId": "amy", "conversionType": "first_purchase"},
            key="c-2",
        )
        error(nobody, 404, "NOT_FOUND")


# -- achievements and leaderboards --------------------------------------------------------


def test_achievements_list_progress_and_rewards(client: FlaskClient) -> None:
    for n in range(3):
        workout(client, "ada", f"w-{n}")
    listed = data(get(client, "/achievements?userId=ada"))
    assert (listed["total"], listed["unlocked"]) == (7, 2)
    first, legend = listed["achievements"][:2]
    assert first == {
        "id": "first_steps", "name": "First Steps", "description": "Complete your first workout",
        "category": "workout_milestone", "rarity": "common",
        "badgeImageUrl": "https://cdn.example.com/badges/first_steps-v1.png",
        "pointReward": 50, "isUnlocked": True, "unlockedAt": "2026-03-02T12:00:00Z",
        "isSecret": False, "tiersUnlocked": [], "nextTier": None,
        "progress": {"current": 3, "target": 1, "percent": 100.0},
    }  # fmt: skip
    assert (legend["name"], legend["isUnlocked"], legend["pointReward"]) == (
        "100 Workout Legend",
        False,
        5_000,
    )
    assert legend["progress"] == {"current": 3, "target": 100, "percent": 3.0}
    assert error(get(client, "/achievements"), 400, "VALIDATION_ERROR")["details"] == {
        "field": "userId",
        "problem": "required",
    }


def test_leaderboards_follow_scope_and_privacy(client: FlaskClient, g: Gamification) -> None:
    seed_demo(g)
    top = data(get(client, "/leaderboards/global?userId=amy&period=all_time&limit=2"))
    assert [(r["rank"], r["displayName"]) for r in top["rankings"]] == [
        (1, "FitnessBeast"),
        (2, "IronWarrior"),
    ]
    # amy keeps seed 002's default (friends only): off the global board, still told her rank
    assert top["userPosition"] == {"rank": 4, "displayName": "AmyLifts", "level": 2,
                                   "xp": 150, "isListed": False}  # fmt: skip
    assert (top["total"], top["periodKey"]) == (3, "all")
    friends = data(get(client, "/leaderboards/friends?userId=sean"))
    assert [r["displayName"] for r in friends["rankings"]] == ["FitnessBeast", "SwanWarrior"]
    gym = data(get(client, "/leaderboards/gym?userId=jon"))
    assert gym["gymId"] == "swan-downtown" and len(gym["rankings"]) == 3  # amy: friends only
    weekly = data(get(client, "/leaderboards/global?period=weekly"))
    assert weekly["periodKey"] == "2026-W10" and weekly["userPosition"] is None
    assert weekly["rankings"] == []  # the demo's workouts were all last week


def test_leaderboard_refusals(client: FlaskClient) -> None:
    error(get(client, "/leaderboards/galaxy"), 400, "VALIDATION_ERROR")
    assert (
        error(get(client, "/leaderboards/friends"), 400, "VALIDATION_ERROR")["details"]["field"]
        == "userId"
    )
    assert (
        error(get(client, "/leaderboards/gym?userId=ada"), 400, "VALIDATION_ERROR")["details"][
            "field"
        ]
        == "gymId"
    )
    assert (
        error(get(client, "/leaderboards/global?period=yearly"), 400, "VALIDATION_ERROR")[
            "details"
        ]["field"]
        == "period"
    )
    assert (
        error(get(client, "/leaderboards/global?limit=5000"), 400, "VALIDATION_ERROR")["details"][
            "field"
        ]
        == "limit"
    )


# -- battle pass --------------------------------------------------------------------------


def test_battle_pass_progress_and_claims(
    client: FlaskClient, g: Gamification, clock: FakeClock
) -> None:
    for n in range(3):
        workout(client, "ada", f"w-{n}")
    clock.advance(days=1)
    workout(client, "ada", "w-3")  # 600 XP this season: tier 1
    bp = data(get(client, "/battle-pass/ada"))
    assert (bp["seasonId"], bp["seasonName"], bp["currentTier"], bp["totalTiers"]) == (
        "shred-2026-03",
        "Shred Season March 2026",
        1,
        50,
    )
    assert (bp["currentTierXP"], bp["xpPerTier"], bp["hasPremium"]) == (100, 500, False)
    assert bp["freeRewards"][0] == {"tier": 1, "points": 100, "items": {}, "titles": [],
                                    "claimed": False, "claimable": True, "locked": False,
                                    "claimedAt": None}  # fmt: skip
    assert [r["locked"] for r in bp["premiumRewards"]] == [True, True, True]

    body = {"userId": "ada", "seasonId": "shred-2026-03", "tierId": 1, "track": "free"}
    claim = data(post(client, "/battle-pass/claim", body, key="claim-1"))
    balance = g.balance("ada", "points")
    assert claim == {"seasonId": "shred-2026-03", "tierId": 1, "track": "free",
                     "pointsAwarded": 100, "items": {}, "titles": [], "newBalance": balance,
                     "claimedAt": "2026-03-03T12:00:00Z"}  # fmt: skip
    assert data(post(client, "/battle-pass/claim", body, key="claim-1")) == claim
    assert data(get(client, "/battle-pass/ada"))["freeRewards"][0]["claimed"] is True
    with unchanged(g):
        error(post(client, "/battle-pass/claim", body, key="claim-2"), 409,
              "REWARD_ALREADY_CLAIMED")  # fmt: skip
        premium = post(client, "/battle-pass/claim", {**body, "track": "premium"}, key="c-3")
        assert error(premium, 403, "PREMIUM_REQUIRED")["details"] == {
            "seasonId": "shred-2026-03",
            "tierId": 1,
            "track": "premium",
        }
        error(post(client, "/battle-pass/claim", {**body, "tierId": 5}, key="c-4"), 422,
              "TIER_NOT_REACHED")  # fmt: skip
        error(post(client, "/battle-pass/claim", {**body, "tierId": 2}, key="c-5"), 404,
              "NO_TIER_REWARD")  # fmt: skip
        for bad, field in (({"tierId": "1"}, "tierId"), ({"track": "gold"}, "track")):
            response = post(client, "/battle-pass/claim", {**body, **bad}, key="c-6")
            assert error(response, 400, "VALIDATION_ERROR")["details"]["field"] == field
        old = post(client, "/battle-pass/claim", {**body, "seasonId": "shred-1999"}, key="c-7")
        error(old, 404, "SEASON_NOT_FOUND")


def test_battle_pass_outside_any_season(client: FlaskClient, clock: FakeClock) -> None:
    clock.set(datetime(2026, 7, 1, tzinfo=UTC))
    error(get(client, "/battle-pass/ada"), 404, "NO_ACTIVE_SEASON")
    ended = data(get(client, "/battle-pass/ada?seasonId=shred-2026-03"))
    assert ended["isActive"] is False


# -- the app itself -----------------------------------------------------------------------


def test_unknown_routes_and_methods_answer_in_the_error_shape(client: FlaskClient) -> None:
    error(get(client, "/nowhere"), 404, "NOT_FOUND")
    error(client.delete(API_PREFIX + "/profile/ada"), 405, "METHOD_NOT_ALLOWED")


def test_create_app_opens_a_database_path(tmp_path: Path) -> None:
    app = create_app(tmp_path / "app.db")
    engine = app.extensions["gamification"]
    try:
        assert data(app.test_client().get(API_PREFIX + "/profile/ada"))["level"] == 1
        assert isinstance(engine, Gamification)
    finally:
        engine.close()


def test_the_demo_database_is_made_afresh_and_seeded(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    path.write_bytes(b"not a database")  # an old file is replaced, not opened
    engine = fresh_demo(str(path))  # on the real clock: only day-independent facts below
    try:
        client = create_app(engine).test_client()
        sean = data(client.get(API_PREFIX + "/profile/sean"))
        # 3 workouts: 450 XP, two 200-point level-ups, First Steps, the demo's welcome bonus
        assert (sean["totalLifetimeXP"], sean["points"]) == (450, 120_450)
        board = data(client.get(API_PREFIX + "/leaderboards/global"))
        assert [r["xp"] for r in board["rankings"]] == [4_500, 1_800, 450]
    finally:
        engine.close()


def test_every_sdk_error_has_a_status_and_retryable_ones_say_when() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert any(base in STATUS for base in cls.__mro__), name
    status, body, headers = describe(errors.Busy())
    assert (status, body["error"]["code"], headers) == (503, "BUSY", {"Retry-After": "1"})
    status, body, headers = describe(errors.PurchasePending(7))
    assert (status, body["error"]["code"], headers) == (409, "PURCHASE_PENDING",
                                                        {"Retry-After": "1"})  # fmt: skip


def test_readme_lists_every_error_code_and_its_status() -> None:
    text = README.read_text("utf-8")
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| (\d{3}) \| (.*)$", text, flags=re.M)}
    for status, code in STATUS.values():
        assert f"`{code}`" in rows[status], (status, code)


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # it opens swan.db
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(block, str(README), "exec"), namespace)
    try:
        assert data(namespace["app"].test_client().get(API_PREFIX + "/profile/ada"))["level"] == 1
    finally:
        namespace["engine"].close()


def test_reopening_a_file_next_month_keeps_its_stored_season(tmp_path: Path) -> None:
    # The configuration is built from "today"; a file opened again a month later must keep
    # the season it stores instead of being refused as a different configuration.
    path = tmp_path / "app.db"
    first = open_engine(path, clock=FakeClock(START), load_entrypoints=False)
    season = first.config.seasons[0].key
    first.close()
    later = datetime(START.year + 1, 1, 15, tzinfo=UTC)
    again = open_engine(path, clock=FakeClock(later), load_entrypoints=False)
    try:
        assert again.config.seasons[0].key == season
        assert again.settings.version == 1
    finally:
        again.close()
