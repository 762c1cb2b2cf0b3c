"""Bad arguments raise InvalidInput naming the field and write nothing; odd text round-trips."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import START, deep_list, unchanged
from hypothesis import given
from hypothesis import strategies as st

from gamification_sdk import Gamification, errors
from gamification_sdk.core.validation import check_id, check_key, check_text

NAIVE = datetime(2026, 3, 2, 12, 0)

Award = Callable[..., Any]


def award_xp(g: Gamification, **kwargs: Any) -> Any:
    return g.award_xp(**kwargs)


def award_points(g: Gamification, **kwargs: Any) -> Any:
    return g.award_points(currency="points", **kwargs)


AWARDS = [pytest.param(award_xp, id="award_xp"), pytest.param(award_points, id="award_points")]

BAD = [
    pytest.param({"amount": 0}, "amount", id="amount-0"),
    pytest.param({"amount": -5}, "amount", id="amount-negative"),
    pytest.param({"amount": 1.5}, "amount", id="amount-float"),
    pytest.param({"amount": 10.0}, "amount", id="amount-integral-float"),
    pytest.param({"amount": True}, "amount", id="amount-True"),
    pytest.param({"amount": float("nan")}, "amount", id="amount-nan"),
    pytest.param({"amount": float("inf")}, "amount", id="amount-inf"),
    pytest.param({"amount": "10"}, "amount", id="amount-str"),
    pytest.param({"amount": None}, "amount", id="amount-None"),
    pytest.param({"amount": 2**53 + 1}, "amount", id="amount-2**53+1"),
    pytest.param({"amount": 2**64}, "amount", id="amount-2**64"),
    pytest.param({"user_id": ""}, "user_id", id="user-empty"),
    pytest.param({"user_id": 5}, "user_id", id="user-int"),
    pytest.param({"user_id": None}, "user_id", id="user-None"),
    pytest.param({"user_id": b"alice"}, "user_id", id="user-bytes"),
    pytest.param({"user_id": "x" * 256}, "user_id", id="user-256"),
    pytest.param({"user_id": "a\x00b"}, "user_id", id="user-nul"),
    pytest.param({"user_id": "a\nb"}, "user_id", id="user-newline"),
    pytest.param({"user_id": "a\x7fb"}, "user_id", id="user-del"),
    pytest.param({"source": ""}, "source", id="source-empty"),
    pytest.param({"source": "   "}, "source", id="source-blank"),
    pytest.param({"source": 5}, "source", id="source-int"),
    pytest.param({"source": "s" * 101}, "source", id="source-101"),
    pytest.param({"source": "a\tb"}, "source", id="source-tab"),
    pytest.param({"metadata": {"x": object()}}, "metadata", id="metadata-object"),
    pytest.param({"metadata": {"x": b"bytes"}}, "metadata", id="metadata-bytes"),
    pytest.param({"metadata": {"x": "y" * (64 * 1024)}}, "metadata", id="metadata-64KiB"),
    pytest.param({"metadata": {"x": float("nan")}}, "metadata", id="metadata-nan"),
    pytest.param({"metadata": [1, float("inf")]}, "metadata", id="metadata-inf"),
    pytest.param({"idempotency_key": ""}, "idempotency_key", id="key-empty"),
    pytest.param({"idempotency_key": "k" * 256}, "idempotency_key", id="key-256"),
    pytest.param({"idempotency_key": 42}, "idempotency_key", id="key-int"),
    pytest.param({"at": NAIVE}, "at", id="at-naive"),
    pytest.param({"at": "2026-03-02T12:00:00+00:00"}, "at", id="at-str"),
    pytest.param({"at": 1772452800}, "at", id="at-int"),
]


@pytest.fixture
def seeded(g: Gamification) -> Gamification:
    """Some data in the database, so that an unchanged dump means something."""
    g.award_xp("alice", 150, source="seed", idempotency_key="seed-xp")
    g.award_points("alice", 100, currency="points", source="seed", idempotency_key="seed-pts")
    g.spend_points("alice", 30, currency="points", source="shop")
    return g


@pytest.mark.parametrize(("bad", "field"), BAD)
@pytest.mark.parametrize("award", AWARDS)
def test_bad_input_names_field_and_writes_nothing(
    seeded: Gamification, award: Award, bad: dict[str, Any], field: str
) -> None:
    kwargs = {"user_id": "alice", "amount": 10, "source": "quest", **bad}
    with unchanged(seeded), pytest.raises(errors.InvalidInput) as info:
        award(seeded, **kwargs)
    exc = info.value
    assert isinstance(exc, ValueError)
    assert exc.field == field
    assert str(exc).startswith(f"{field}: ")
    assert exc.problem


@pytest.mark.parametrize("award", AWARDS)
def test_the_valid_baseline_call_does_write(seeded: Gamification, award: Award) -> None:
    """The control for the test above: without the bad argument the same call writes."""
    before = seeded.dump()
    award(
        seeded,
        user_id="alice",
        amount=10,
        source="quest",
        metadata={"ok": 1},
        idempotency_key="k" * 255,
        at=START - timedelta(days=1),
    )
    assert seeded.dump() != before


@pytest.mark.parametrize("award", AWARDS)
def test_limits_are_inclusive(seeded: Gamification, award: Award) -> None:
    award(seeded, user_id="u" * 255, amount=2**53, source="s" * 100)
    award(seeded, user_id="m", amount=1, source="m", metadata={"x": "y" * (64 * 1024 - 20)})
    if award is award_xp:
        assert seeded.profile("u" * 255).xp == 2**53
    else:
        assert seeded.balance("u" * 255, "points") == 2**53
    assert not seeded.verify_ledger()


def test_unknown_currency_names_currency(seeded: Gamification) -> None:
    with unchanged(seeded), pytest.raises(errors.InvalidInput) as info:
        seeded.award_points("alice", 10, currency="gems", source="quest")
    assert info.value.field == "currency"
    assert isinstance(info.value, errors.UnknownCurrency)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(
            lambda g: g.spend_points("alice", 0, currency="points", source="s"),
            "amount",
            id="spend-amount",
        ),
        pytest.param(
            lambda g: g.spend_points("alice", 5, currency="points", source="s", at=NAIVE),
            "at",
            id="spend-at",
        ),
        pytest.param(
            lambda g: g.transfer_points("alice", "", 5, currency="points"),
            "to_user",
            id="transfer-to",
        ),
        pytest.param(
            lambda g: g.transfer_points("alice", "alice", 5, currency="points"),
            "to_user",
            id="transfer-self",
        ),
        pytest.param(
            lambda g: g.transfer_points("a\nb", "bob", 5, currency="points"),
            "from_user",
            id="transfer-from",
        ),
        pytest.param(
            lambda g: g.points.adjust("alice", 0, currency="points", reason="x"),
            "amount",
            id="adjust-zero",
        ),
        pytest.param(
            lambda g: g.points.adjust("alice", 5, currency="points", reason=""),
            "reason",
            id="adjust-reason",
        ),
        pytest.param(
            lambda g: g.points.adjust(
                "alice", 5, currency="points", reason="x", metadata={"n": float("nan")}
            ),
            "metadata",
            id="adjust-metadata",
        ),
        pytest.param(
            lambda g: g.reserve_points("alice", 5, currency="points", ttl=0),
            "ttl",
            id="reserve-ttl",
        ),
        pytest.param(
            lambda g: g.reserve_points("alice", 5, currency="points", ttl=60, idempotency_key=""),
            "idempotency_key",
            id="reserve-key",
        ),
        pytest.param(
            lambda g: g.xp.add_boost("alice", 2.0, expires_at=NAIVE, source="e"),
            "expires_at",
            id="boost-naive",
        ),
        pytest.param(lambda g: g.refund(True), "transaction_id", id="refund-bool"),
        pytest.param(lambda g: g.xp.prestige("", idempotency_key="k"), "user_id", id="prestige"),
        pytest.param(lambda g: g.commit_reservation(0), "reservation_id", id="commit-id"),
        pytest.param(lambda g: g.profile(""), "user_id", id="profile"),
        pytest.param(lambda g: g.points.balances(7), "user_id", id="balances"),
        pytest.param(lambda g: g.history("alice", limit=0), "limit", id="history-limit"),
        pytest.param(lambda g: g.profile("alice", at=NAIVE), "at", id="profile-at"),
        pytest.param(lambda g: g.streaks.get("alice", at=NAIVE), "at", id="streak-at"),
        pytest.param(
            lambda g: g.users.set_timezone("alice", "Moon/Base"), "timezone", id="timezone"
        ),
        pytest.param(lambda g: g.users.set_timezone("alice", 5), "timezone", id="timezone-int"),
        pytest.param(
            lambda g: g.streaks.record_activity("alice", at=NAIVE), "at", id="activity-at"
        ),
        pytest.param(
            lambda g: g.streaks.record_activity("", idempotency_key="k"),
            "user_id",
            id="activity-user",
        ),
        pytest.param(lambda g: g.streaks.grant_freezes("alice", 0), "count", id="freezes-0"),
        pytest.param(lambda g: g.streaks.grant_freezes("alice", True), "count", id="freezes-bool"),
        pytest.param(
            lambda g: g.streaks.schedule_rest_day("alice", "2026-03-05"), "day", id="rest-day-str"
        ),
        pytest.param(
            lambda g: g.streaks.cancel_rest_day("alice", START), "day", id="cancel-datetime"
        ),
        pytest.param(lambda g: g.streaks.sweep(NAIVE), "now", id="sweep-now"),
        pytest.param(lambda g: g.quests.close_periods(NAIVE), "now", id="rollover-now"),
        pytest.param(
            lambda g: g.quests.list("alice", category=""), "category", id="quests-category"
        ),
        pytest.param(
            lambda g: g.quests.complete("alice", "q", idempotency_key=""),
            "idempotency_key",
            id="quest-key",
        ),
        pytest.param(
            lambda g: g.quests.complete(
                "alice", "q", idempotency_key="k", evidence={"x": float("nan")}
            ),
            "evidence",
            id="quest-evidence",
        ),
        pytest.param(lambda g: g.referrals.code("alice", ip="999.1.1.1"), "ip", id="code-ip"),
        pytest.param(lambda g: g.referrals.code("alice", name=""), "name", id="code-name"),
        pytest.param(lambda g: g.referrals.code(""), "user_id", id="code-user"),
        pytest.param(lambda g: g.referrals.track("", "bob"), "code", id="referral-code"),
        pytest.param(lambda g: g.referrals.track(5, "bob"), "code", id="referral-code-int"),
        pytest.param(
            lambda g: g.referrals.track("X-2345", ""), "new_user_id", id="referral-new-user"
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", ip=3232235777), "ip", id="referral-ip-int"
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", ip="10.0.0"), "ip", id="referral-ip-bad"
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", device_fingerprint=""),
            "device_fingerprint",
            id="referral-device",
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", email="bob"), "email", id="referral-email"
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", email=["b@x.io"]),
            "email",
            id="referral-email-list",
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", utm="ig"), "utm", id="referral-utm-str"
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", utm={"src": "ig"}),
            "utm",
            id="referral-utm-key",
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", utm={"source": 5}),
            "utm",
            id="referral-utm-value",
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", at=NAIVE), "at", id="referral-at"
        ),
        pytest.param(
            lambda g: g.referrals.track("X-2345", "bob", idempotency_key=""),
            "idempotency_key",
            id="referral-key",
        ),
        pytest.param(
            lambda g: g.referrals.convert(0, kind="first_purchase"), "referral", id="convert-id"
        ),
        pytest.param(
            lambda g: g.referrals.convert(True, kind="first_purchase"),
            "referral",
            id="convert-bool",
        ),
        pytest.param(
            lambda g: g.referrals.convert("bob", kind="refund"), "kind", id="convert-kind"
        ),
        pytest.param(
            lambda g: g.referrals.convert("bob", kind="first_purchase", revenue=-1),
            "revenue",
            id="convert-revenue",
        ),
        pytest.param(
            lambda g: g.referrals.convert("bob", kind="first_purchase", revenue=float("nan")),
            "revenue",
            id="convert-revenue-nan",
        ),
        pytest.param(
            lambda g: g.referrals.set_status("bob", "converted"), "status", id="referral-status"
        ),
        pytest.param(lambda g: g.referrals.get(-1), "referral", id="referral-read"),
        pytest.param(lambda g: g.referrals.list("alice", limit=0), "limit", id="referrals-limit"),
        pytest.param(lambda g: g.referrals.stats(""), "user_id", id="referral-stats"),
        pytest.param(
            lambda g: g.shop.purchase("alice", "hat", quantity=0),
            "quantity",
            id="purchase-quantity-0",
        ),
        pytest.param(
            lambda g: g.shop.purchase("alice", "hat", quantity=-2),
            "quantity",
            id="purchase-quantity-negative",
        ),
        pytest.param(
            lambda g: g.shop.purchase("alice", "hat", quantity=True),
            "quantity",
            id="purchase-quantity-bool",
        ),
        pytest.param(
            lambda g: g.shop.purchase("alice", "hat", quantity=1.0),
            "quantity",
            id="purchase-quantity-float",
        ),
        pytest.param(
            lambda g: g.shop.purchase("alice", "hat", quantity=1001),
            "quantity",
            id="purchase-quantity-1001",
        ),
        pytest.param(lambda g: g.shop.purchase("alice", ""), "item_key", id="purchase-item"),
        pytest.param(lambda g: g.shop.purchase("", "hat"), "user_id", id="purchase-user"),
        pytest.param(
            lambda g: g.shop.purchase("alice", "hat", idempotency_key=""),
            "idempotency_key",
            id="purchase-key",
        ),
        pytest.param(lambda g: g.shop.purchase("alice", "hat", at=NAIVE), "at", id="purchase-at"),
        pytest.param(lambda g: g.shop.refund(0), "order_id", id="refund-purchase-id"),
        pytest.param(lambda g: g.shop.refund(True), "order_id", id="refund-purchase-bool"),
        pytest.param(lambda g: g.shop.refund(1, at=NAIVE), "at", id="refund-purchase-at"),
        pytest.param(lambda g: g.shop.order("1"), "order_id", id="order-id"),
        pytest.param(lambda g: g.shop.orders("alice", limit=0), "limit", id="orders-limit"),
        pytest.param(lambda g: g.shop.orders("", before=None), "user_id", id="orders-user"),
        pytest.param(lambda g: g.shop.list(""), "user_id", id="shop-user"),
        pytest.param(lambda g: g.shop.list(at=NAIVE), "at", id="shop-at"),
        pytest.param(
            lambda g: g.spend_points(
                "alice", 5, currency="points", source="s", reference=("shop_order", "1")
            ),
            "reference",
            id="spend-shop-reference",
        ),
        pytest.param(
            lambda g: g.spend_points(
                "alice", 5, currency="points", source="s", reference=("battle_pass", "s1:premium")
            ),
            "reference",
            id="spend-battle-pass-reference",
        ),
        pytest.param(lambda g: g.battle_pass.get(""), "user_id", id="battle-pass-user"),
        pytest.param(lambda g: g.battle_pass.get("alice", at=NAIVE), "at", id="battle-pass-at"),
        pytest.param(
            lambda g: g.battle_pass.get("alice", season=""), "season", id="battle-pass-season"
        ),
        pytest.param(lambda g: g.battle_pass.buy_premium(""), "user_id", id="premium-user"),
        pytest.param(lambda g: g.battle_pass.buy_premium("alice", at=NAIVE), "at", id="premium-at"),
        pytest.param(
            lambda g: g.battle_pass.buy_premium("alice", idempotency_key=""),
            "idempotency_key",
            id="premium-key",
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("alice", 0, track="free"), "tier", id="claim-tier-0"
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("alice", True, track="free"), "tier", id="claim-tier-bool"
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("alice", "1", track="free"), "tier", id="claim-tier-str"
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("alice", 1001, track="free"), "tier", id="claim-tier-1001"
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("alice", 1, track="gold"), "track", id="claim-track"
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("alice", 1, track="free", season=5),
            "season",
            id="claim-season-int",
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("", 1, track="free"), "user_id", id="claim-user"
        ),
        pytest.param(
            lambda g: g.battle_pass.claim("alice", 1, track="free", at=NAIVE), "at", id="claim-at"
        ),
        pytest.param(lambda g: g.privacy.export(""), "user_id", id="export-user"),
        pytest.param(lambda g: g.privacy.export("alice", at=NAIVE), "at", id="export-at"),
        pytest.param(lambda g: g.privacy.delete(7), "user_id", id="delete-user-int"),
        pytest.param(
            lambda g: g.privacy.delete("alice", idempotency_key=""),
            "idempotency_key",
            id="delete-key",
        ),
        pytest.param(lambda g: g.privacy.delete("alice", at=NAIVE), "at", id="delete-at"),
        pytest.param(
            lambda g: g.battle_pass.use_tier_boost("alice", quantity=0),
            "quantity",
            id="boost-quantity-0",
        ),
        pytest.param(
            lambda g: g.battle_pass.use_tier_boost("alice", quantity=True),
            "quantity",
            id="boost-quantity-bool",
        ),
        pytest.param(
            lambda g: g.battle_pass.use_tier_boost("alice", quantity=1001),
            "quantity",
            id="boost-quantity-1001",
        ),
        pytest.param(
            lambda g: g.battle_pass.use_tier_boost("alice", idempotency_key=""),
            "idempotency_key",
            id="boost-key",
        ),
        pytest.param(lambda g: g.battle_pass.close_seasons(NAIVE), "now", id="close-seasons-now"),
    ],
)
def test_other_methods_validate_too(
    seeded: Gamification, call: Callable[[Gamification], Any], field: str
) -> None:
    with unchanged(seeded), pytest.raises(errors.InvalidInput) as info:
        call(seeded)
    assert info.value.field == field


SHOP = {"shop": [
    {"key": "hat", "name": "Hat", "kind": "cosmetic", "price": {"points": 20}, "stock": 1},
    {"key": "pin", "name": "Pin", "kind": "cosmetic", "price": {"points": 500}},
    {"key": "cap", "name": "Cap", "kind": "cosmetic", "price": {"points": 5},
     "per_user_limit": 1},
    {"key": "egg", "name": "Egg", "kind": "cosmetic", "price": {"points": 5},
     "available_from": "2027-01-01T00:00:00+00:00"},
    {"key": "tee", "name": "Tee", "kind": "external", "price": {"points": 5}},
]}  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(
            lambda g: g.shop.purchase("alice", "nope"), errors.NotFound, id="unknown-item"
        ),
        pytest.param(
            lambda g: g.shop.purchase("alice", "hat", quantity=2),
            errors.OutOfStock,
            id="out-of-stock",
        ),
        pytest.param(lambda g: g.shop.purchase("alice", "egg"), errors.NotOnSale, id="not-on-sale"),
        pytest.param(
            lambda g: g.shop.purchase("alice", "cap"),
            errors.PurchaseLimitReached,
            id="per-user-limit",
        ),
        pytest.param(
            lambda g: g.shop.purchase("alice", "pin"),
            errors.InsufficientFunds,
            id="insufficient-funds",
        ),
        pytest.param(
            lambda g: g.shop.purchase("alice", "tee"),
            errors.FulfillmentFailed,
            id="no-fulfilment-plugin",
        ),
        pytest.param(lambda g: g.shop.refund(99), errors.NotFound, id="refund-unknown"),
        pytest.param(lambda g: g.shop.order(99), errors.NotFound, id="order-unknown"),
    ],
)
def test_shop_refusals_are_typed_and_write_nothing(
    seeded: Gamification, call: Callable[[Gamification], Any], error: type[Exception]
) -> None:
    seeded.events.load(SHOP, name="shop")
    seeded.shop.purchase("alice", "cap")
    with unchanged(seeded), pytest.raises(error):
        call(seeded)


# -- hostile but valid text is stored verbatim -----------------------------------------------

ODD = [
    "Robert'); DROP TABLE profiles;--",
    "用户🎮",
    "Ω≈ç√",
    "' OR '1'='1",
    '"; DELETE FROM xp_awards; --',
    "%_\\*?[]",
    "e\u0301\u200d\U0001f468\u200d\U0001f469",
    "call:level-reward:x",
]


@pytest.mark.parametrize("text", ODD)
def test_odd_text_round_trips_through_xp(g: Gamification, text: str) -> None:
    metadata = {text: [text, {"nested": text}], "plain": text}
    award = g.award_xp(text, 10, source=text, idempotency_key=text, metadata=metadata)
    assert (award.user_id, award.source, award.idempotency_key) == (text, text, text)
    (entry,) = g.xp.history(text)
    assert (entry.user_id, entry.source, entry.idempotency_key) == (text, text, text)
    assert entry.metadata == metadata
    assert g.profile(text).xp == 10
    # The replay finds the same key.
    assert g.award_xp(text, 10, source=text, idempotency_key=text, metadata=metadata) == award
    assert g.profile(text).xp == 10
    assert not g.verify_ledger()


@pytest.mark.parametrize("text", ODD)
def test_odd_text_round_trips_through_points(g: Gamification, text: str) -> None:
    metadata = {text: text}
    sent = g.award_points(
        text,
        10,
        currency="points",
        source=text,
        idempotency_key=text,
        metadata=metadata,
        reference=(text, text),
        description=text,
    )
    (txn,) = g.history(text).transactions
    assert txn == sent
    assert (txn.user_id, txn.source, txn.idempotency_key, txn.description) == (
        text,
        text,
        text,
        text,
    )
    assert (txn.reference_type, txn.reference_id) == (text, text)
    assert txn.metadata == metadata
    assert g.balance(text, "points") == 10
    g.transfer_points(text, "bob", 4, currency="points", source=text, idempotency_key=text + "!")
    assert g.history("bob").transactions[0].counterparty == text
    assert g.balance(text, "points") == 6
    assert not g.verify_ledger()


def test_odd_text_does_not_touch_the_schema(g: Gamification) -> None:
    tables_before = g.db.table_names()
    for text in ODD:
        g.award_xp(text, 10, source=text, metadata={"sql": text})
    assert g.db.table_names() == tables_before
    assert {g.profile(text).xp for text in ODD} == {10}


def test_distinct_odd_users_are_distinct(g: Gamification) -> None:
    # Visually similar or normalisation-equivalent ids are not merged.
    g.award_xp("e\u0301", 10, source="s")
    g.award_xp("\u00e9", 20, source="s")
    assert (g.profile("e\u0301").xp, g.profile("\u00e9").xp) == (10, 20)
    g.award_xp("Alice", 1, source="s")
    assert g.profile("alice").xp == 0


# -- inputs the checks above let through -----------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        pytest.param({"user_id": "a\ud800"}, "user_id", id="user"),
        pytest.param({"source": "s\udfff"}, "source", id="source"),
        pytest.param({"idempotency_key": "k\ud800"}, "idempotency_key", id="key"),
    ],
)
@pytest.mark.parametrize("award", AWARDS)
def test_lone_surrogates_are_invalid_input(
    seeded: Gamification, award: Award, bad: dict[str, Any], field: str
) -> None:
    with unchanged(seeded), pytest.raises(errors.InvalidInput) as info:
        award(seeded, **{"user_id": "alice", "amount": 10, "source": "quest", **bad})
    assert info.value.field == field


@pytest.mark.parametrize(
    "at",
    [
        pytest.param(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), id="min+5h"),
        pytest.param(datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))), id="max-5h"),
    ],
)
@pytest.mark.parametrize("award", AWARDS)
def test_at_out_of_range_in_utc_is_invalid_input(
    seeded: Gamification, award: Award, at: datetime
) -> None:
    with unchanged(seeded), pytest.raises(errors.InvalidInput) as info:
        award(seeded, user_id="alice", amount=10, source="quest", at=at)
    assert info.value.field == "at"


@pytest.mark.parametrize("award", AWARDS)
def test_deeply_nested_metadata_is_invalid_input(seeded: Gamification, award: Award) -> None:
    with unchanged(seeded), pytest.raises(errors.InvalidInput) as info:
        award(seeded, user_id="alice", amount=10, source="quest", metadata=deep_list(100_000))
    assert info.value.field == "metadata"


# -- text checks ------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain_problem(value: str) -> str | None:
    """The rule check_id and check_text apply, spelled out as the regex it was written as."""
    if _CONTROL.search(value):
        return "must not contain control characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogates)"
    return None


# Every category, surrogates and control characters included; ASCII ones often.
_TEXT = st.text(st.characters(exclude_categories=()), min_size=1, max_size=40) | st.text(
    st.characters(max_codepoint=127), min_size=1, max_size=40
)


@given(_TEXT.filter(str.strip))
def test_ids_and_texts_are_refused_exactly_for_control_characters_and_surrogates(
    value: str,
) -> None:
    """ASCII text is checked without the regex (``isprintable``): the same verdicts."""
    expected = _plain_problem(value)
    for check in (check_id, lambda v: check_text(v, "user_id")):
        if expected is None:
            assert check(value) == value
        else:
            with pytest.raises(errors.InvalidInput) as info:
                check(value)
            assert info.value.field == "user_id"
            assert expected in str(info.value)
    if value.isascii():  # keys refuse nothing ASCII
        assert check_key(value) == value
