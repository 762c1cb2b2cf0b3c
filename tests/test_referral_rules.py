"""Referral cycles and existing users (issue 23): neither can be referred into a signup bonus."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification, Referral, ReferralsConfig, errors
from gamification_sdk.economy.referrals import REASONS

Make = Callable[..., Gamification]
NO_LIMIT: dict[str, Any] = {"referral_track": None}


def engine(make: Make, *, path: str | Path = ":memory:", **fields: Any) -> Gamification:
    """An engine with these ReferralsConfig fields and the tracking rate limit off."""
    return make(path, config=Config(referrals=ReferralsConfig(**fields), rate_limits=NO_LIMIT))


@pytest.fixture
def r(make_engine: Make) -> Gamification:
    return engine(make_engine)


def rejected(call: Callable[[], Any]) -> errors.ReferralRejected:
    with pytest.raises(errors.ReferralRejected) as info:
        call()
    return info.value


def points(g: Gamification, user: str) -> int:
    return g.balance(user, "points")


def tables_written(g: Gamification, call: Callable[[], Any]) -> set[str]:
    """The tables whose rows ``call`` added, changed or removed."""
    before = set(g.dump().splitlines())
    with contextlib.suppress(errors.ReferralRejected):
        call()
    after = set(g.dump().splitlines())
    # A line of the dump names its table: SQLite's SQL text, PostgreSQL's "table (row)".
    return {
        re.sub(r'^(?:INSERT INTO "([^"]+)"|(\w+) \().*', r"\1\2", line) for line in before ^ after
    }


# -- cycles ----------------------------------------------------------------------------------


def test_the_reported_two_cycle_is_refused(r: Gamification) -> None:
    # The report: Jon, referred by Ivy, refers Ivy back; both were paid 500 more.
    ivy = r.referrals.code("ivy", name="Ivy", ip="203.0.113.80")
    r.referrals.track(ivy, "jon", ip="198.51.103.1", device_fingerprint="fp-jon")
    jon = r.referrals.code("jon", name="Jon", ip="198.51.103.1")
    exc = rejected(
        lambda: r.referrals.track(jon, "ivy", ip="198.51.103.2", device_fingerprint="fp-ivy")
    )
    assert exc.reason == "referral_cycle"
    stored = r.referrals.get(exc.referral_id)
    assert (stored.referrer_id, stored.referred_id, stored.flagged) == ("jon", "ivy", True)
    assert (stored.status, stored.referrer_points, stored.referred_points) == ("pending", 0, 0)
    assert (points(r, "ivy"), points(r, "jon")) == (500, 500)
    assert r.referrals.stats("jon").earned == {"points": 500}
    assert not r.verify_ledger()


def test_longer_cycles_are_refused_too(r: Gamification) -> None:
    # a -> b -> c -> d; d refers a (4-cycle), c refers a (3-cycle): both close a ring.
    users = ["a", "b", "c", "d"]
    for referrer, referred in itertools.pairwise(users):
        r.referrals.track(r.referrals.code(referrer), referred)
    before = {u: points(r, u) for u in users}
    for closer in ("d", "c"):
        with pytest.raises(errors.ReferralRejected) as info:
            r.referrals.track(r.referrals.code(closer), "a")
        assert info.value.reason == "referral_cycle"
    assert {u: points(r, u) for u in users} == before


def test_a_cycle_is_named_before_the_other_rules_it_breaks(r: Gamification) -> None:
    # b was referred (referred_twice) and is active (existing_user): the ring is the reason.
    r.referrals.track(r.referrals.code("a"), "b")
    r.referrals.track(r.referrals.code("b"), "c")
    r.referrals.track(r.referrals.code("c"), "d")
    assert rejected(lambda: r.referrals.track(r.referrals.code("d"), "b")).reason == (
        "referral_cycle"
    )
    assert REASONS.index("self_referral") < REASONS.index("referral_cycle")
    assert REASONS.index("referral_cycle") < REASONS.index("referred_twice")


def test_referring_sideways_in_the_tree_is_not_a_cycle(r: Gamification) -> None:
    # a referred b and c; b refers a brand-new user, and c's friend is nobody's ancestor.
    code = r.referrals.code("a")
    r.referrals.track(code, "b")
    r.referrals.track(code, "c")
    assert r.referrals.track(r.referrals.code("b"), "e").status == "signed_up"
    assert r.referrals.track(r.referrals.code("c"), "f").status == "signed_up"


def test_flagged_referrals_are_not_edges_of_the_graph(r: Gamification) -> None:
    # b's referral by a was flagged: b refers a later, and that closes no ring of paid ones.
    code = r.referrals.code("a", ip="192.0.2.1")
    rejected(lambda: r.referrals.track(code, "b", ip="192.0.2.1"))
    assert r.referrals.track(r.referrals.code("b"), "a").status == "signed_up"


def test_cycle_rule_switched_off(make_engine: Make) -> None:
    def two_cycle(g: Gamification) -> Callable[[], Referral]:
        g.referrals.track(g.referrals.code("ivy"), "jon")
        return lambda: g.referrals.track(g.referrals.code("jon"), "ivy")

    # Ivy was paid as referrer: the existing-user rule still refuses her.
    g = engine(make_engine, reject_referral_cycle=False)
    assert rejected(two_cycle(g)).reason == "existing_user"
    # Both off: the ring pays again, as before these rules.
    g = engine(make_engine, reject_referral_cycle=False, reject_existing_user=False)
    assert two_cycle(g)().status == "signed_up"
    assert (points(g, "ivy"), points(g, "jon")) == (1000, 1000)


def test_a_cycle_stored_before_the_rule_does_not_trap_the_walk(
    make_engine: Make, db_path: Path
) -> None:
    old = engine(make_engine, path=db_path, reject_referral_cycle=False,
                 reject_existing_user=False)  # fmt: skip
    old.referrals.track(old.referrals.code("a"), "b")
    old.referrals.track(old.referrals.code("b"), "a")
    g = old
    g.settings.apply(engine(make_engine).config)  # the rules switched on, as by default
    assert g.referrals.track(g.referrals.code("a"), "new").status == "signed_up"
    assert rejected(lambda: g.referrals.track(g.referrals.code("new"), "b")).reason == (
        "referral_cycle"
    )


# -- existing users --------------------------------------------------------------------------


ACTIVITY = [
    pytest.param(lambda g: g.award_xp("amy", 10, source="lesson"), id="xp"),
    pytest.param(lambda g: g.award_points("amy", 5, currency="points", source="seed"), id="points"),
    pytest.param(lambda g: g.track("amy", "workout"), id="event"),
    pytest.param(lambda g: g.streaks.record_activity("amy"), id="active-day"),
    pytest.param(
        lambda g: g.referrals.track(g.referrals.code("amy"), "bob"), id="referred-someone"
    ),
]


@pytest.mark.parametrize("activity", ACTIVITY)
def test_an_existing_user_cannot_be_referred(
    r: Gamification, activity: Callable[[Gamification], Any]
) -> None:
    code = r.referrals.code("sean")
    activity(r)
    before = points(r, "amy")
    exc = rejected(lambda: r.referrals.track(code, "amy"))
    assert exc.reason == "existing_user"
    assert r.referrals.get(exc.referral_id).flagged
    assert (points(r, "sean"), points(r, "amy")) == (0, before)
    assert r.notifications.list("sean") == []


@pytest.mark.parametrize("activity", ACTIVITY)
def test_existing_user_rule_switched_off(
    make_engine: Make, activity: Callable[[Gamification], Any]
) -> None:
    g = engine(make_engine, reject_existing_user=False)
    code = g.referrals.code("sean")
    activity(g)
    before = points(g, "amy")
    assert g.referrals.track(code, "amy").status == "signed_up"
    assert points(g, "amy") == before + 500
    assert not g.verify_ledger()


def test_a_profile_without_activity_can_be_referred(r: Gamification) -> None:
    # A code (or a timezone) makes a profile, not activity: the host may create one first.
    r.referrals.code("amy")
    r.users.set_timezone("amy", "Europe/Paris")
    assert r.referrals.track(r.referrals.code("sean"), "amy").status == "signed_up"


def test_activity_counts_up_to_the_referral_time(r: Gamification, clock: FakeClock) -> None:
    code = r.referrals.code("sean")
    clock.advance(hours=1)
    r.award_xp("amy", 10, source="lesson")  # an hour after START
    # Recorded late with at=: amy was not active yet when she signed up.
    assert r.referrals.track(code, "amy", at=START).status == "signed_up"
    r.award_xp("bob", 10, source="lesson", at=START)
    # Activity at the very moment of the referral came first: it counts.
    assert rejected(lambda: r.referrals.track(code, "bob", at=START)).reason == "existing_user"
    r.award_xp("cy", 10, source="lesson", at=START + timedelta(minutes=5))
    assert rejected(lambda: r.referrals.track(code, "cy")).reason == "existing_user"


# -- refusals write what the other rules' refusals write, replays still replay ---------------


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        pytest.param(lambda g: g.referrals.track(g.referrals.code("amy"), "sean"),
                     "referral_cycle", id="cycle"),
        pytest.param(lambda g: g.award_xp("amy", 10, source="lesson"), "existing_user",
                     id="existing"),
    ],
)  # fmt: skip
def test_a_refusal_writes_only_the_flagged_row_and_its_rate_limit_hit(
    g: Gamification, setup: Callable[[Gamification], Any], reason: str
) -> None:
    code = g.referrals.code("sean")
    setup(g)
    self_referral = tables_written(g, lambda: g.referrals.track(code, "sean"))
    assert self_referral == {"referrals", "rate_limit_hits"}
    assert tables_written(g, lambda: g.referrals.track(code, "amy")) == self_referral
    assert g.referrals.list("sean")[0].reason == reason


def test_replays_of_a_refusal_raise_it_again_and_write_nothing(
    r: Gamification, clock: FakeClock
) -> None:
    r.referrals.track(r.referrals.code("ivy"), "jon")
    jon = r.referrals.code("jon")
    first = rejected(lambda: r.referrals.track(jon, "ivy", idempotency_key="signup-ivy"))
    clock.advance(minutes=5)
    with unchanged(r):
        again = rejected(lambda: r.referrals.track(jon, "ivy", idempotency_key="signup-ivy"))
    assert (again.reason, again.referral_id) == (first.reason, first.referral_id)


def test_a_paid_referral_replays_after_the_new_user_became_active(
    r: Gamification, clock: FakeClock
) -> None:
    code = r.referrals.code("sean")
    paid = r.referrals.track(code, "amy", idempotency_key="signup-amy")
    r.award_xp("amy", 10, source="lesson")  # the welcome bonus made her active anyway
    clock.advance(minutes=5)
    with unchanged(r):
        assert r.referrals.track(code, "amy", idempotency_key="signup-amy") == paid


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reject_referral_cycle", "reject_existing_user"])
def test_the_switches_are_bools_on_by_default(field: str) -> None:
    assert getattr(ReferralsConfig(), field) is True
    with pytest.raises(errors.ConfigError) as info:
        bad: dict[str, Any] = {field: 1}
        Config(referrals=ReferralsConfig(**bad))
    assert [p for p in info.value.problems if p.startswith(f"referrals.{field}:")]
    loaded = Config.from_dict({"referrals": {field: False}})
    assert getattr(loaded.referrals, field) is False
    assert Config.from_dict(loaded.to_dict()) == loaded


# -- a property: random attempts among a few users, checked against a model ------------------

USERS = ["u0", "u1", "u2", "u3"]
ATTEMPTS = st.lists(
    st.one_of(
        st.tuples(st.just("track"), st.integers(0, 3), st.integers(0, 3),
                  st.sampled_from([None, None, "k1", "k2"])),
        st.tuples(st.just("active"), st.integers(0, 3)),
        st.tuples(st.just("convert"), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=30,
)  # fmt: skip


def expected_reason(
    referrer: str, referred: str, referred_by: dict[str, str], tried: set[str], active: set[str]
) -> str | None:
    """The reason the rules give, in their order, for what the model knows."""
    if referrer == referred:
        return "self_referral"
    upstream: set[str] = set()
    user = referrer
    while user in referred_by:
        user = referred_by[user]
        upstream.add(user)
    if referred in upstream:
        return "referral_cycle"
    if referred in tried:
        return "referred_twice"
    if referred in active:
        return "existing_user"
    return None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=ATTEMPTS)
def test_random_attempts_never_pay_a_cycle_and_refer_each_user_once(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    backend: str,
    ops: list[Any],
) -> None:
    config = Config(referrals=ReferralsConfig(), rate_limits=NO_LIMIT)
    with fresh_engine(config=config, clock=FakeClock(START)) as g:
        codes = {user: g.referrals.code(user) for user in USERS}  # profiles, not activity
        referred_by: dict[str, str] = {}  # the paid referrals
        tried: set[str] = set()  # every referred user, flagged attempts included
        active: set[str] = set()
        converted: set[str] = set()
        # (scope, key) -> the pair and outcome: one namespace in the file, one per user (the
        # referred user, who owns the referral) on PostgreSQL.
        keys: dict[tuple[str, str | None], tuple[tuple[str, str], str | None]] = {}
        for op in ops:
            if op[0] == "track":
                _, i, j, step_key = op
                pair = (USERS[i], USERS[j])
                key = (pair[1] if backend == "postgresql" else "", step_key)
                if key in keys and keys[key][0] != pair:
                    with pytest.raises(errors.IdempotencyConflict):
                        g.referrals.track(codes[pair[0]], pair[1], idempotency_key=step_key)
                    continue
                replay = key in keys
                want = (
                    keys[key][1] if replay else expected_reason(*pair, referred_by, tried, active)
                )
                if want is None:
                    referral = g.referrals.track(codes[pair[0]], pair[1], idempotency_key=step_key)
                    assert referral.status == "signed_up"
                else:
                    with pytest.raises(errors.ReferralRejected) as info:
                        g.referrals.track(codes[pair[0]], pair[1], idempotency_key=step_key)
                    assert info.value.reason == want
                if replay:
                    continue
                if step_key is not None:
                    keys[key] = (pair, want)
                tried.add(pair[1])
                if want is None:
                    referred_by[pair[1]] = pair[0]
                    active.update(pair)
            elif op[0] == "active":
                g.award_xp(USERS[op[1]], 10, source="lesson")
                active.add(USERS[op[1]])
            else:
                user = USERS[op[1]]
                if user in referred_by and user not in converted:
                    g.referrals.convert(user, kind="first_purchase")
                    converted.add(user)
                else:
                    with pytest.raises((errors.NotFound, errors.ReferralUnavailable)):
                        g.referrals.convert(user, kind="first_purchase")
        # What the database says, whatever the model thought.
        paid = [x for u in USERS for x in g.referrals.list(u, limit=100) if not x.flagged]
        parent = {x.referred_id: x.referrer_id for x in paid}
        assert len(parent) == len(paid)  # each user referred (paid) at most once
        for user in USERS:
            seen, step = {user}, user
            while step in parent:  # no paid referral closes a ring: every walk up ends
                step = parent[step]
                assert step not in seen
                seen.add(step)
            history = g.history(user, limit=1000).transactions
            assert sum(t.description == "Welcome bonus" for t in history) <= 1
            conversions = [t for t in history if t.description == "Referral conversion bonus"]
            assert len({t.reference_id for t in conversions}) == len(conversions)
        assert parent == referred_by
        assert not g.verify_ledger()
