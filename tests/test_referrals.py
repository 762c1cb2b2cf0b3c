"""Referrals (issue 7): codes, anti-fraud rules, rewards, conversions, statuses, milestones."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    Referral,
    ReferralAttempt,
    ReferralsConfig,
    ReferralTier,
    errors,
    hookimpl,
)
from gamification_sdk.config import CODE_ALPHABET

Make = Callable[..., Gamification]
NO_LIMIT: dict[str, Any] = {"referral_track": None}


def engine(
    make: Make, *, path: str | Path = ":memory:", plugins: tuple[object, ...] = (), **fields: Any
) -> Gamification:
    """An engine with these ReferralsConfig fields and the tracking rate limit off."""
    config = Config(referrals=ReferralsConfig(**fields), rate_limits=NO_LIMIT)
    return make(path, config=config, plugins=plugins)


@pytest.fixture
def r(make_engine: Make) -> Gamification:
    return engine(make_engine)


def points(g: Gamification, user: str) -> int:
    return g.balance(user, "points")


def rejected(call: Callable[[], Any]) -> errors.ReferralRejected:
    with pytest.raises(errors.ReferralRejected) as info:
        call()
    return info.value


# -- codes -----------------------------------------------------------------------------------


def test_code_is_made_once_and_stays(r: Gamification) -> None:
    code = r.referrals.code("sean", name="Seán")
    assert re.fullmatch(rf"SEAN-[{CODE_ALPHABET}]{{4}}", code)
    with unchanged(r):
        assert r.referrals.code("sean") == code
        assert r.referrals.code("sean", name="Someone Else") == code
    assert r.referrals.stats("sean").code == code
    assert r.profile("sean").created_at is not None  # a code belongs to a profile


def test_codes_avoid_look_alikes_and_differ(r: Gamification) -> None:
    codes = {r.referrals.code(f"user-{i}") for i in range(300)}
    assert len(codes) == 300
    for code in codes:
        assert code.startswith("FRIEND-")
        assert not set(code.removeprefix("FRIEND-")) & set("0O1IL")


def test_code_collisions_draw_again_then_grow(
    r: Gamification, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a "random" source that always draws the same character, every draw collides.
    monkeypatch.setattr("gamification_sdk.economy.referrals.secrets.choice", lambda chars: chars[0])
    assert r.referrals.code("a") == "FRIEND-2222"
    assert r.referrals.code("b") == "FRIEND-22222"  # 16 collisions later, one longer
    assert r.referrals.code("c") == "FRIEND-222222"


def test_code_format_is_configurable(make_engine: Make) -> None:
    g = engine(make_engine, code_format="{name}-swan-{random}", code_length=6, default_name="PAL")
    assert re.fullmatch(rf"SEAN-SWAN-[{CODE_ALPHABET}]{{6}}", g.referrals.code("s", name="sean"))
    assert re.fullmatch(rf"PAL-SWAN-[{CODE_ALPHABET}]{{6}}", g.referrals.code("t"))
    g2 = engine(make_engine, code_format="{random}", code_alphabet="ABCDEFGHJKMNPQRS")
    assert re.fullmatch(r"[A-HJKMNP-S]{4}", g2.referrals.code("u"))


def test_codes_are_case_insensitive_when_tracked(r: Gamification) -> None:
    code = r.referrals.code("sean")
    assert r.referrals.track(f"  {code.lower()} ", "amy").code == code


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"code_format": "{name}-APP"}, "referrals.code_format"),
        ({"code_format": "{random}-{who}"}, "referrals.code_format"),
        ({"code_format": "A B-{random}"}, "referrals.code_format"),
        ({"code_length": 3}, "referrals.code_length"),
        ({"code_alphabet": "ABC"}, "referrals.code_alphabet"),
        ({"code_alphabet": "abcdefghjkmnpqrs"}, "referrals.code_alphabet"),
        ({"default_name": "pal"}, "referrals.default_name"),
        ({"currency": "gems"}, "referrals.currency"),
        ({"referrer_reward": -1}, "referrals.referrer_reward"),
        ({"conversion_reward": 1.5}, "referrals.conversion_reward"),
        ({"reject_same_ip": 1}, "referrals.reject_same_ip"),
        ({"max_referrals_per_ip": -1}, "referrals.max_referrals_per_ip"),
        ({"ip_window_days": 0}, "referrals.ip_window_days"),
        ({"milestones": [ReferralTier("Gold", "Gold", 3)]}, "referrals.milestones[0].tier"),
        (
            {"milestones": [ReferralTier("a", "A", 3), ReferralTier("b", "B", 3)]},
            "referrals.milestones[1].referrals",
        ),
        ({"milestones": [ReferralTier("a", "A", 0)]}, "referrals.milestones[0].referrals"),
        ({"milestones": [ReferralTier("a", "A", 1, -5)]}, "referrals.milestones[0].points"),
        ({"milestones": [ReferralTier("a", "A", 1, title="")]}, "referrals.milestones[0].title"),
    ],
)
def test_bad_referral_config_names_the_field(fields: dict[str, Any], path: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        Config(referrals=ReferralsConfig(**fields))
    assert [p for p in info.value.problems if p.startswith(f"{path}:")], info.value.problems


def test_referral_config_loads_from_a_file_shape() -> None:
    config = Config.from_dict(
        {"referrals": {"code_format": "{name}-SWAN-{random}", "max_referrals_per_ip": 0,
                       "milestones": [{"tier": "first", "name": "First", "referrals": 1,
                                       "points": 10, "title": "Recruiter"}]}}
    )  # fmt: skip
    assert config.referrals.milestones == (ReferralTier("first", "First", 1, 10, "Recruiter"),)
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(errors.ConfigError) as info:
        Config.from_dict({"referrals": {"referrer_reward": "500"}})
    assert info.value.problems[0].startswith("referrals.referrer_reward:")


# -- signing up ------------------------------------------------------------------------------


def test_signup_pays_both_sides_through_the_ledger(r: Gamification) -> None:
    code = r.referrals.code("sean")
    referral = r.referrals.track(
        code, "amy", ip="203.0.113.7", device_fingerprint="fp-1", email="amy@example.com",
        utm={"source": "instagram", "campaign": "spring"},
    )  # fmt: skip
    assert (referral.status, referral.flagged, referral.reason) == ("signed_up", False, None)
    assert (referral.referrer_id, referral.referred_id, referral.code) == ("sean", "amy", code)
    assert (referral.referrer_points, referral.referred_points) == (500, 500)
    assert referral.signed_up_at == START
    assert referral.utm == {"campaign": "spring", "source": "instagram"}
    assert (points(r, "sean"), points(r, "amy")) == (500, 500)
    (txn,) = r.history("amy").transactions
    assert (txn.type, txn.description) == ("referral_reward", "Welcome bonus")
    assert (txn.reference_type, txn.reference_id) == ("referral", str(referral.id))
    (note,) = r.notifications.list("sean")
    assert note.kind == "referral_signed_up" and note.data["referred_id"] == "amy"
    assert r.referrals.get("amy") == r.referrals.get(referral.id) == referral
    assert r.referrals.list("sean") == [referral]
    assert not r.verify_ledger()


def test_rewards_are_configurable(make_engine: Make) -> None:
    config = Config(
        currencies=[CurrencyConfig("coins"), CurrencyConfig("gems")],
        referrals=ReferralsConfig(
            currency="gems", referrer_reward=100, referred_reward=0, conversion_reward=7,
            milestones=[ReferralTier("first", "First friend", 1, 0, title="Recruiter")],
        ),
        rate_limits=NO_LIMIT,
    )  # fmt: skip
    g = make_engine(config=config)
    g.referrals.track(g.referrals.code("sean"), "amy")
    assert g.balance("sean", "gems") == 100 and g.history("amy").transactions == ()
    done = g.referrals.convert("amy", kind="first_session")
    assert done.points == 7 and g.balance("sean", "gems") == 107
    assert [m.tier for m in done.milestones] == ["first"]
    assert g.users.inventory("sean").titles == ("Recruiter",)
    assert g.referrals.stats("sean").earned == {"gems": 107}


def test_first_currency_is_the_default(make_engine: Make) -> None:
    g = make_engine(config=Config(currencies=[CurrencyConfig("coins")], rate_limits=NO_LIMIT))
    g.referrals.track(g.referrals.code("sean"), "amy")
    assert g.balance("amy", "coins") == 500


# -- anti-fraud rules, each on and off -------------------------------------------------------


def _self_referral(g: Gamification) -> Callable[[], Referral]:
    code = g.referrals.code("sean")
    return lambda: g.referrals.track(code, "sean")


def _same_ip_as_code(g: Gamification) -> Callable[[], Referral]:
    code = g.referrals.code("sean", ip="198.51.100.4")
    return lambda: g.referrals.track(code, "amy", ip="198.51.100.4")


def _same_ip_as_own_signup(g: Gamification) -> Callable[[], Referral]:
    # The referrer joined through someone else's code from this IP (IPv4-mapped is the same).
    g.referrals.track(g.referrals.code("zed"), "sean", ip="198.51.100.4")
    code = g.referrals.code("sean")
    return lambda: g.referrals.track(code, "amy", ip="::ffff:198.51.100.4")


def _ip_velocity(g: Gamification) -> Callable[[], Referral]:
    for i in range(3):
        g.referrals.track(g.referrals.code(f"ref-{i}"), f"new-{i}", ip="192.0.2.1")
    code = g.referrals.code("sean")
    return lambda: g.referrals.track(code, "amy", ip="192.0.2.1")


def _device_seen(g: Gamification) -> Callable[[], Referral]:
    code = g.referrals.code("sean")
    g.referrals.track(code, "amy", device_fingerprint="phone-1")
    return lambda: g.referrals.track(code, "bob", device_fingerprint="phone-1")


def _referred_twice_after_flag(g: Gamification) -> Callable[[], Referral]:
    # amy's first referral was flagged (self-made IP); a second referrer tries again.
    rejected(lambda: g.referrals.track(g.referrals.code("sean", ip="192.0.2.9"), "amy",
                                      ip="192.0.2.9"))  # fmt: skip
    code = g.referrals.code("zed")
    return lambda: g.referrals.track(code, "amy")


RULES = [
    pytest.param(_self_referral, "reject_self_referral", False, "self_referral", id="self"),
    pytest.param(_same_ip_as_code, "reject_same_ip", False, "same_ip", id="same-ip-code"),
    pytest.param(_same_ip_as_own_signup, "reject_same_ip", False, "same_ip", id="same-ip-signup"),
    pytest.param(_ip_velocity, "max_referrals_per_ip", 0, "ip_velocity", id="ip-velocity"),
    pytest.param(_device_seen, "reject_seen_device", False, "device_seen", id="device"),
    pytest.param(
        _referred_twice_after_flag, "reject_referred_twice", False, "referred_twice", id="twice"
    ),
]


@pytest.mark.parametrize(("scenario", "field", "off", "reason"), RULES)
def test_each_rule_flags_when_on(
    make_engine: Make, scenario: Any, field: str, off: object, reason: str
) -> None:
    g = engine(make_engine)
    call = scenario(g)
    before = {u: points(g, u) for u in ("sean", "amy", "bob", "zed")}
    exc = rejected(call)
    assert exc.reason == reason
    stored = g.referrals.get(exc.referral_id)
    assert (stored.flagged, stored.reason, stored.status) == (True, reason, "pending")
    assert (stored.referrer_points, stored.referred_points) == (0, 0)
    assert {u: points(g, u) for u in before} == before  # nothing paid
    assert not g.verify_ledger()


@pytest.mark.parametrize(("scenario", "field", "off", "reason"), RULES)
def test_each_rule_can_be_switched_off(
    make_engine: Make, scenario: Any, field: str, off: object, reason: str
) -> None:
    # The other rules stay on: only this one is switched off.
    g = engine(make_engine, **{field: off})
    referral = scenario(g)()
    assert referral.status == "signed_up" and not referral.flagged
    assert points(g, referral.referred_id) >= 500
    assert not g.verify_ledger()


def test_a_user_is_welcomed_once_whatever_the_rules(make_engine: Make) -> None:
    g = engine(make_engine, reject_referred_twice=False)
    g.referrals.track(g.referrals.code("sean"), "amy")
    assert rejected(lambda: g.referrals.track(g.referrals.code("zed"), "amy")).reason == (
        "referred_twice"
    )
    assert points(g, "amy") == 500 and points(g, "zed") == 0


def test_ip_window_is_seven_days_and_counts_flagged_attempts(
    r: Gamification, clock: FakeClock
) -> None:
    code = r.referrals.code("sean")
    rejected(lambda: r.referrals.track(code, "sean", ip="192.0.2.1"))  # flagged, still counted
    r.referrals.track(code, "a", ip="192.0.2.1")
    clock.advance(days=3)
    r.referrals.track(code, "b", ip="192.0.2.1")
    assert rejected(lambda: r.referrals.track(code, "c", ip="192.0.2.1")).reason == "ip_velocity"
    clock.advance(days=4)  # the first two are 7 days old: out of the window
    assert r.referrals.track(code, "d", ip="192.0.2.1").status == "signed_up"


def test_rules_are_checked_in_order(r: Gamification) -> None:
    code = r.referrals.code("sean", ip="192.0.2.5")
    # Self-referral from the referrer's own IP: the first rule names it.
    assert rejected(lambda: r.referrals.track(code, "sean", ip="192.0.2.5")).reason == (
        "self_referral"
    )


# -- flagged rows persist, replays repeat the rejection --------------------------------------


def test_flagged_referral_is_stored_and_pays_nothing(r: Gamification) -> None:
    code = r.referrals.code("sean")
    before = r.dump()
    exc = rejected(lambda: r.referrals.track(code, "sean", ip="192.0.2.1", email="s@x.io"))
    assert r.dump() != before  # the flagged row committed despite the exception
    assert str(exc).startswith("referral rejected: self_referral")
    assert r.history("sean").transactions == ()
    assert r.referrals.list("sean")[0].email == "s@x.io"
    stats = r.referrals.stats("sean")
    assert (stats.flagged, stats.counts["pending"], stats.counts["signed_up"]) == (1, 1, 0)
    assert stats.earned == {}
    with pytest.raises(errors.NotFound):
        r.referrals.get("nobody")  # flagged rows are not found by the new user's id
    assert r.notifications.list("sean") == []


def test_replay_of_a_rejection_raises_it_again_and_writes_nothing(
    r: Gamification, clock: FakeClock, backend: str
) -> None:
    code = r.referrals.code("sean")
    first = rejected(lambda: r.referrals.track(code, "sean", idempotency_key="signup-1"))
    clock.advance(minutes=5)
    with unchanged(r):
        again = rejected(lambda: r.referrals.track(code, "sean", idempotency_key="signup-1"))
    assert (again.reason, again.referral_id) == (first.reason, first.referral_id)
    if backend == "postgresql":
        # Keys are per user there, the referred user's: sean's key, another referrer.
        other = r.referrals.code("amy")
        with unchanged(r), pytest.raises(errors.IdempotencyConflict):
            r.referrals.track(other, "sean", idempotency_key="signup-1")
        assert r.referrals.track(code, "amy", idempotency_key="signup-1").status == "signed_up"
        return
    with pytest.raises(errors.IdempotencyConflict):
        r.referrals.track(code, "amy", idempotency_key="signup-1")


def test_flagged_referral_inside_a_batch_commits_with_it(r: Gamification) -> None:
    code = r.referrals.code("sean")
    with r.batch():
        r.referrals.track(code, "amy")
        rejected(lambda: r.referrals.track(code, "sean"))
    assert [x.flagged for x in r.referrals.list("sean")] == [True, False]
    assert points(r, "sean") == 500


def test_unknown_code_writes_nothing(r: Gamification) -> None:
    r.referrals.code("sean")
    with unchanged(r), pytest.raises(errors.UnknownReferralCode) as info:
        r.referrals.track("NOPE-2345", "amy")
    assert isinstance(info.value, errors.NotFound) and info.value.code == "NOPE-2345"


def test_unknown_users_with_auto_create_off(make_engine: Make, db_path: Path) -> None:
    g = engine(make_engine, path=db_path)
    code = g.referrals.code("sean", ip="192.0.2.1")
    g.settings.apply(attrs.evolve(g.config, auto_create_profiles=False))
    with unchanged(g):
        with pytest.raises(errors.UnknownUser):
            g.referrals.code("ghost")
        with pytest.raises(errors.UnknownUser):
            g.referrals.track(code, "ghost")
    # A flagged referral needs no profile: it is stored all the same.
    rejected(lambda: g.referrals.track(code, "ghost", ip="192.0.2.1"))
    assert g.referrals.list("sean")[0].reason == "same_ip"


# -- the rate limit --------------------------------------------------------------------------


def test_tracking_is_rate_limited_per_referrer(g: Gamification, clock: FakeClock) -> None:
    code = g.referrals.code("sean")
    for i in range(3):
        g.referrals.track(code, f"new-{i}")
    with unchanged(g), pytest.raises(errors.RateLimited) as info:
        g.referrals.track(code, "new-3")
    assert (info.value.action, info.value.user_id) == ("referral_track", "sean")
    g.referrals.track(g.referrals.code("zed"), "new-3")  # another referrer has their own limit
    clock.advance(days=1)
    assert g.referrals.track(code, "new-4").status == "signed_up"


def test_refused_call_inside_a_batch_does_not_doom_it(g: Gamification) -> None:
    code = g.referrals.code("sean")
    with g.batch():
        for i in range(3):
            g.referrals.track(code, f"new-{i}")
        with pytest.raises(errors.RateLimited):
            g.referrals.track(code, "new-3")
        with pytest.raises(errors.UnknownReferralCode):
            g.referrals.track("NOPE-2345", "new-3")
    assert points(g, "sean") == 1500


# -- conversion ------------------------------------------------------------------------------


def test_conversion_pays_the_referrer_once(r: Gamification, clock: FakeClock) -> None:
    code = r.referrals.code("sean")
    referral = r.referrals.track(code, "amy")
    done = r.referrals.convert(referral.id, kind="first_purchase", revenue=49.99,
                              idempotency_key="order-1")  # fmt: skip
    assert done.points == 2000 and done.referral.status == "converted"
    assert (done.referral.conversion_kind, done.referral.revenue) == ("first_purchase", 49.99)
    assert [m.tier for m in done.milestones] == ["bronze"]  # 1 conversion: Bronze, 500
    assert points(r, "sean") == 500 + 2000 + 500
    clock.advance(minutes=5)
    with unchanged(r):
        assert r.referrals.convert(referral.id, kind="first_purchase", revenue=49.99,
                                  idempotency_key="order-1") == done  # fmt: skip
    # A second conversion (another key, another kind) is refused: it pays once.
    with unchanged(r), pytest.raises(errors.ReferralAlreadyConverted) as info:
        r.referrals.convert("amy", kind="first_session", idempotency_key="session-1")
    assert (info.value.referral_id, info.value.status) == (referral.id, "converted")
    assert [n.kind for n in r.notifications.list("sean")][:2] == [
        "referral_milestone",
        "referral_converted",
    ]
    assert not r.verify_ledger()


def test_flagged_or_unknown_referrals_do_not_convert(r: Gamification) -> None:
    code = r.referrals.code("sean")
    exc = rejected(lambda: r.referrals.track(code, "sean"))
    with unchanged(r):
        with pytest.raises(errors.ReferralUnavailable):
            r.referrals.convert(exc.referral_id, kind="first_purchase")
        with pytest.raises(errors.NotFound):
            r.referrals.convert("sean", kind="first_purchase")
        with pytest.raises(errors.NotFound):
            r.referrals.convert(999, kind="first_purchase")


# -- statuses --------------------------------------------------------------------------------


def test_statuses_move_as_documented(r: Gamification) -> None:
    code = r.referrals.code("sean")
    for user in ("a", "b", "c"):
        r.referrals.track(code, user)
    with unchanged(r), pytest.raises(errors.ReferralUnavailable):
        r.referrals.set_status("a", "paid_client")  # not converted yet
    r.referrals.convert("a", kind="first_purchase")
    assert r.referrals.set_status("a", "paid_client").status == "paid_client"
    assert r.referrals.set_status("b", "churned").status == "churned"
    with unchanged(r):
        assert r.referrals.set_status("b", "churned").status == "churned"  # no-op
    # A churned referral that never converted can still convert.
    assert r.referrals.convert("b", kind="first_session").referral.status == "converted"
    stats = r.referrals.stats("sean")
    assert stats.counts == {"pending": 0, "signed_up": 1, "converted": 1, "paid_client": 1,
                            "churned": 0}  # fmt: skip
    assert stats.converted == 2
    r.referrals.set_status("a", "churned")
    assert r.referrals.stats("sean").converted == 2  # milestones never go back
    flagged = rejected(lambda: r.referrals.track(code, "sean")).referral_id
    with unchanged(r), pytest.raises(errors.ReferralUnavailable):
        r.referrals.set_status(flagged, "churned")


# -- milestones ------------------------------------------------------------------------------


def test_milestone_boundaries_pay_each_tier_once(r: Gamification) -> None:
    code = r.referrals.code("sean")
    for i in range(6):
        r.referrals.track(code, f"friend-{i}")
    paid = []
    for i in range(6):
        before = points(r, "sean")
        done = r.referrals.convert(f"friend-{i}", kind="first_purchase")
        paid.append((points(r, "sean") - before, [m.tier for m in done.milestones]))
        stats = r.referrals.stats("sean")
        assert stats.converted == i + 1
    assert paid == [
        (2000 + 500, ["bronze"]),
        (2000, []),
        (2000, []),
        (2000, []),  # 4 conversions: still Bronze
        (2000 + 3000, ["silver"]),  # the 5th: Silver, once
        (2000, []),  # the 6th: nothing more until Gold at 10
    ]
    stats = r.referrals.stats("sean")
    assert (stats.tier, stats.next_tier, stats.referrals_to_next) == ("silver", "gold", 4)
    assert [m.tier for m in stats.milestones] == ["bronze", "silver"]
    assert stats.earned == {"points": 6 * 500 + 6 * 2000 + 500 + 3000}
    assert stats.earned["points"] == points(r, "sean")
    milestone_txns = [t for t in r.history("sean", limit=100).transactions
                      if t.reference_type == "referral_milestone"]  # fmt: skip
    assert sorted(t.reference_id for t in milestone_txns) == ["bronze", "silver"]
    assert not r.verify_ledger()


def test_signups_alone_reach_no_milestone(r: Gamification) -> None:
    code = r.referrals.code("sean")
    for i in range(5):
        r.referrals.track(code, f"friend-{i}")
    stats = r.referrals.stats("sean")
    assert (stats.counts["signed_up"], stats.converted, stats.tier) == (5, 0, None)
    assert (stats.next_tier, stats.referrals_to_next) == ("bronze", 1)


def test_milestone_badge_as_an_achievement(r: Gamification) -> None:
    r.events.load(
        {"achievements": [{"key": "silver_recruiter", "name": "Silver Recruiter",
                           "criteria": {"type": "count", "event": "~referrals:converted",
                                        "target": 5}}]},
        name="badges",
    )  # fmt: skip
    code = r.referrals.code("sean")
    for i in range(5):
        r.referrals.track(code, f"friend-{i}")
        r.referrals.convert(f"friend-{i}", kind="first_purchase")
        assert r.achievements.get("sean", "silver_recruiter").unlocked == (i == 4)
    assert r.users.stats("sean").days_active == 0  # referrals are not the referrer's activity


# -- the check_referral hook -----------------------------------------------------------------


class DisposableEmails:
    def __init__(self) -> None:
        self.seen: list[ReferralAttempt] = []

    @hookimpl
    def check_referral(self, engine: Gamification, referral: ReferralAttempt) -> str | None:
        assert isinstance(engine, Gamification)
        self.seen.append(referral)
        if referral.email is not None and referral.email.endswith("@spam.test"):
            return "disposable email"
        return None


def test_check_referral_plugin_flags(make_engine: Make) -> None:
    plugin = DisposableEmails()
    g = engine(make_engine, plugins=(plugin,))
    code = g.referrals.code("sean")
    exc = rejected(lambda: g.referrals.track(code, "amy", email="amy@spam.test", at=START))
    assert exc.reason == "disposable email"
    assert g.referrals.get(exc.referral_id).reason == "disposable email"
    assert g.referrals.track(code, "bob", email="bob@example.com").status == "signed_up"
    assert plugin.seen[0] == ReferralAttempt(
        code, "sean", "amy", None, None, "amy@spam.test", None, START
    )
    # A referral a built-in rule flags never reaches the plugins.
    rejected(lambda: g.referrals.track(code, "sean"))
    assert len(plugin.seen) == 2


# -- a property: whatever happens, no tier pays twice and the ledger balances ----------------

# Mostly clean signups (so tiers are reached), some that break a rule, replays by key.
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("track"), st.integers(0, 2), st.integers(0, 7),
                  st.sampled_from([None, None, None, "192.0.2.1"]),
                  st.sampled_from([None, None, None, "d1"]),
                  st.sampled_from([None, None, "k1", "k2"])),
        st.tuples(st.just("convert"), st.integers(0, 7),
                  st.sampled_from([None, None, "c1", "c2"])),
        st.tuples(st.just("convert"), st.integers(0, 7), st.just(None)),
        st.tuples(st.just("status"), st.integers(0, 7),
                  st.sampled_from(["paid_client", "churned"])),
    ),
    min_size=10,
    max_size=50,
)  # fmt: skip
TIERS = (ReferralTier("one", "One", 1, 100), ReferralTier("two", "Two", 2, 200),
         ReferralTier("three", "Three", 3, 300))  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_random_referral_sequences_never_pay_a_tier_twice(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]], ops: list[Any]
) -> None:
    fields = ReferralsConfig(milestones=TIERS, max_referrals_per_ip=2)
    with fresh_engine(
        config=Config(referrals=fields, rate_limits=NO_LIMIT), clock=FakeClock(START)
    ) as g:
        referrers = [f"ref-{i}" for i in range(3)]
        codes = [g.referrals.code(user) for user in referrers]
        expected_errors = (
            errors.ReferralRejected, errors.ReferralUnavailable, errors.NotFound,
            errors.IdempotencyConflict,
        )  # fmt: skip
        for op in ops:
            try:
                if op[0] == "track":
                    _, who, new, ip, device, key = op
                    g.referrals.track(codes[who], f"new-{new}", ip=ip, device_fingerprint=device,
                                     idempotency_key=key)  # fmt: skip
                elif op[0] == "convert":
                    g.referrals.convert(
                        f"new-{op[1]}", kind="first_purchase", idempotency_key=op[2]
                    )
                else:
                    g.referrals.set_status(f"new-{op[1]}", op[2])
            except expected_errors:
                pass
        assert not g.verify_ledger()
        for user in referrers:
            stats = g.referrals.stats(user)
            tiers = [m.tier for m in stats.milestones]
            assert tiers == [t.tier for t in TIERS if t.referrals <= stats.converted]
            history = g.history(user, limit=1000).transactions
            paid = [t.reference_id for t in history if t.reference_type == "referral_milestone"]
            assert sorted(paid) == sorted(tiers)  # each reached tier paid exactly once
            assert stats.earned.get("points", 0) == points(g, user)
        welcomed = [t.user_id for u in range(8) for t in g.history(f"new-{u}").transactions]
        assert len(welcomed) == len(set(welcomed))  # a new user is welcomed at most once


def test_two_processes_sharing_a_file_welcome_a_user_once(make_engine: Make, db_path: Path) -> None:
    first = engine(make_engine, path=db_path)
    second = engine(make_engine, path=db_path)
    first.referrals.track(first.referrals.code("sean"), "amy")
    assert rejected(lambda: second.referrals.track(second.referrals.code("zed"), "amy")).reason == (
        "referred_twice"
    )
    assert (second.balance("amy", "points"), second.balance("zed", "points")) == (500, 0)
    assert not second.verify_ledger()
