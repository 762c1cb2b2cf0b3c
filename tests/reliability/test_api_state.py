"""Random sequences of calls across the whole public API, with valid and invalid arguments.

A hypothesis state machine drives most of the facade on the shared game: XP and points,
reservations, refunds, tracked events, streaks, quests, the shop, the battle pass,
referrals, boards, groups and friends, privacy, rate limits, jobs, deletion, batches,
reads, retries of keyed calls and reused keys, while a fake clock moves. Arguments are
mostly valid and sometimes not (wrong types, out of range, unknown names, hostile text).

After every call: a call that raised raised a typed ``GamificationError`` and left
``iterdump()`` exactly as it was (the one documented exception: ``ReferralRejected`` stores
the flagged referral); a read wrote nothing. After every step the invariants of the
issues hold: ``verify_ledger()`` is empty, each balance is lifetime earned minus spent,
``0 <= held <= balance`` and held is the sum of active holds, XP is the sum of the XP log
and the level the curve's, stock is never negative, each unlock, tier claim and quest
completion happens at most once.

``GAMIFICATION_LONG=1`` (``./run test-long``) runs many more and longer sequences.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import timedelta
from operator import attrgetter
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gamification_sdk import FakeClock, Gamification, errors

from .children import LONG
from .figures import FIGURES
from .game import START, USERS, open_game

# What the machine saw, over all its examples: the test checks it reached far enough.
SUCCEEDED: Counter[str] = Counter()
REFUSED: Counter[str] = Counter()

# Refusals that write, as documented: a flagged referral is stored.
WRITES_WHEN_REFUSED = (errors.ReferralRejected,)
READS = {
    "profile", "points.balances", "balance", "history", "xp.history", "boards.get",
    "boards.rank", "boards.around", "achievements.list", "achievements.get", "quests.list",
    "shop.list", "shop.orders", "shop.order", "battle_pass.get", "streaks.get", "users.stats",
    "notifications.list", "notifications.preferences", "users.inventory", "privacy.export",
    "points.reservation", "referrals.get", "referrals.list", "referrals.stats", "social.groups",
    "social.friends", "social.privacy", "rate_limits.status", "verify_ledger",
}  # fmt: skip

BAD_IDS = ["", 5, None, "a\x00b", "x" * 256, "a\ud800"]
users = st.sampled_from([*USERS * 8, *BAD_IDS])
good_users = st.sampled_from(USERS)
amounts = st.integers(1, 300) | st.sampled_from([0, -3, 1.5, math.nan, 2**60, "10", True])
# Spending and holding mostly ask for little, so they mostly succeed.
small = st.integers(1, 40) | amounts
currencies = st.sampled_from(["points"] * 5 + ["stars", "gems", ""])
keyed = st.booleans()
maybe = st.sampled_from([None, None, None, 0, 2**70, -1])


def typed_name(exc: BaseException) -> str:
    return type(exc).__name__


@attrs.define
class Keyed:
    """A keyed call that succeeded: repeating it must return ``result`` and write nothing."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any


class APIMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        self.g: Gamification = open_game(clock=self.clock)
        self.last = self.g.dump()
        self.keys = itertools.count()
        self.keyed: list[Keyed] = []
        self.transactions: list[int] = []
        self.reservations: list[int] = []
        self.orders: list[int] = []
        self.codes: list[str] = []
        self.new_users = itertools.count()

    def teardown(self) -> None:
        self.g.close()

    @initialize()
    def seed(self) -> None:
        """Some XP (tier 2 of the season) and points each, so most calls can succeed."""
        for user in USERS:
            self.call("award_xp", user, 250, source="seed")
            self.call("award_points", user, 500, currency="points", source="seed")

    # -- the one way calls are made ---------------------------------------------------------

    def call(self, name: str, *args: Any, key: bool = False, **kwargs: Any) -> Any:
        """Call ``g.<name>`` (a dotted name reaches a namespace: ``"xp.prestige"``); check what
        a refusal or a read may (not) write."""
        if key:
            kwargs["idempotency_key"] = f"key-{next(self.keys)}"
        FIGURES.add(operations=1)
        try:
            result = attrgetter(name)(self.g)(*args, **kwargs)
        except errors.GamificationError as exc:
            REFUSED[f"{name}:{typed_name(exc)}"] += 1
            if isinstance(exc, errors.InvalidInput):
                assert exc.field and exc.problem, exc
            now = self.g.dump()
            if not isinstance(exc, WRITES_WHEN_REFUSED):
                assert now == self.last, f"a refused {name} ({exc!r:.200}) changed the database"
            self.last = now
            return None
        except Exception as exc:
            raise AssertionError(
                f"{name}{args}{kwargs} raised {type(exc).__module__}.{type(exc).__qualname__}, "
                f"not a GamificationError: {exc!s:.300}"
            ) from exc
        SUCCEEDED[name] += 1
        now = self.g.dump()
        if name in READS:
            assert now == self.last, f"the read {name} wrote to the database"
        self.last = now
        if key:
            self.keyed.append(Keyed(name, args, kwargs, result))
        return result

    # -- XP and points ----------------------------------------------------------------------

    @rule(user=users, amount=amounts, key=keyed)
    def award_xp(self, user: Any, amount: Any, key: bool) -> None:
        self.call("award_xp", user, amount, source="play", key=key)

    @rule(
        user=good_users,
        factor=st.sampled_from([1.5, 2.0, 0, -1, math.inf, 50.0]),
        hours=st.integers(-2, 48),
    )
    def add_xp_boost(self, user: str, factor: float, hours: int) -> None:
        self.call(
            "xp.add_boost",
            user,
            factor,
            expires_at=self.clock() + timedelta(hours=hours),
            source="event",
        )

    @rule(user=users, key=keyed)
    def prestige(self, user: Any, key: bool) -> None:
        self.call("xp.prestige", user, key=key)

    @rule(user=users, amount=amounts, currency=currencies, key=keyed)
    def award_points(self, user: Any, amount: Any, currency: str, key: bool) -> None:
        t = self.call("award_points", user, amount, currency=currency, source="play", key=key)
        if t is not None:
            self.transactions.append(t.id)

    @rule(user=users, amount=small, currency=currencies, key=keyed)
    def spend_points(self, user: Any, amount: Any, currency: str, key: bool) -> None:
        t = self.call("spend_points", user, amount, currency=currency, source="shop", key=key)
        if t is not None:
            self.transactions.append(t.id)

    @rule(sender=users, receiver=users, amount=small, key=keyed)
    def transfer_points(self, sender: Any, receiver: Any, amount: Any, key: bool) -> None:
        self.call("transfer_points", sender, receiver, amount, currency="points", key=key)

    @rule(user=users, amount=st.integers(-200, 200) | amounts, key=keyed)
    def adjust_points(self, user: Any, amount: Any, key: bool) -> None:
        self.call("points.adjust", user, amount, currency="points", reason="support", key=key)

    @rule(data=st.data(), amount=st.none() | amounts, key=keyed)
    def refund(self, data: st.DataObject, amount: Any, key: bool) -> None:
        tid = data.draw(st.sampled_from(self.transactions) if self.transactions else maybe)
        self.call("refund", tid, amount=amount, key=key)

    @rule(
        user=users, amount=small, ttl=st.sampled_from([60, 3600, 3600, 0, -5, math.nan]), key=keyed
    )
    def reserve_points(self, user: Any, amount: Any, ttl: Any, key: bool) -> None:
        r = self.call("reserve_points", user, amount, currency="points", ttl=ttl, key=key)
        if r is not None:
            self.reservations.append(r.id)

    @precondition(lambda self: self.reservations)
    @rule(data=st.data(), commit=st.booleans(), key=keyed)
    def close_reservation(self, data: st.DataObject, commit: bool, key: bool) -> None:
        rid = data.draw(st.sampled_from(self.reservations) | maybe)
        self.call("commit_reservation" if commit else "release_reservation", rid, key=key)

    @rule()
    def expire_reservations(self) -> None:
        self.call("points.expire_reservations")

    # -- events, streaks, quests ------------------------------------------------------------

    @rule(
        user=users,
        event=st.sampled_from(["workout", "workout", "post", "swim", "~x", ""]),
        value=st.sampled_from([1, 1, 5, 0, -1, math.nan, 2**60]),
        key=keyed,
    )
    def track(self, user: Any, event: str, value: Any, key: bool) -> None:
        self.call("track", user, event, value=value, key=key)

    @rule(user=users, key=keyed)
    def record_activity(self, user: Any, key: bool) -> None:
        self.call("streaks.record_activity", user, key=key)

    @rule(user=good_users, count=st.sampled_from([1, 2, 0, 1001, True]), key=keyed)
    def grant_streak_freezes(self, user: str, count: Any, key: bool) -> None:
        self.call("streaks.grant_freezes", user, count, key=key)

    @rule(
        user=users,
        quest=st.sampled_from(["checkin", "checkin", "posts", "nope"]),
        evidence=st.sampled_from([{"ok": True}, {"ok": True}, {"ok": False}, None]),
    )
    def complete_quest(self, user: Any, quest: str, evidence: Any) -> None:
        self.call("quests.complete", user, quest, evidence=evidence, key=True)

    # -- shop and battle pass ---------------------------------------------------------------

    @rule(
        user=users,
        item=st.sampled_from(["hat", "freeze", "boost", "hat", "nope"]),
        quantity=st.sampled_from([1, 1, 2, 0, 1001, 1.0]),
        key=keyed,
    )
    def purchase(self, user: Any, item: str, quantity: Any, key: bool) -> None:
        order = self.call("shop.purchase", user, item, quantity=quantity, key=key)
        if order is not None:
            self.orders.append(order.id)
            self.transactions.extend(order.transaction_ids)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), key=keyed)
    def refund_purchase(self, data: st.DataObject, key: bool) -> None:
        self.call("shop.refund", data.draw(st.sampled_from(self.orders) | maybe), key=key)

    @rule(
        user=users,
        tier=st.sampled_from([1, 1, 2, 2, 3, 5, 0, 21, "1"]),
        track=st.sampled_from(["free", "free", "free", "premium", "gold"]),
        key=keyed,
    )
    def claim_tier_reward(self, user: Any, tier: Any, track: str, key: bool) -> None:
        self.call("battle_pass.claim", user, tier, track=track, key=key)

    @rule(user=users, key=keyed)
    def buy_premium_pass(self, user: Any, key: bool) -> None:
        self.call("battle_pass.buy_premium", user, key=key)

    @rule(user=users, quantity=st.sampled_from([1, 1, 2, 0, 25]), key=keyed)
    def use_tier_boost(self, user: Any, quantity: Any, key: bool) -> None:
        self.call("battle_pass.use_tier_boost", user, quantity=quantity, key=key)

    # -- referrals, social, privacy, limits -------------------------------------------------

    @rule(user=users)
    def referral_code(self, user: Any) -> None:
        code = self.call("referrals.code", user)
        if code is not None:
            self.codes.append(code)

    @rule(data=st.data(), existing=st.booleans(), key=keyed)
    def track_referral(self, data: st.DataObject, existing: bool, key: bool) -> None:
        code = data.draw(st.sampled_from(self.codes) if self.codes else st.just("NOPE-0000"))
        new = data.draw(good_users) if existing else f"new{next(self.new_users)}"
        self.call("referrals.track", code, new, ip=f"10.0.0.{next(self.new_users) % 250}", key=key)

    @rule(
        user=users, kind=st.sampled_from(["first_purchase", "first_session", "refund"]), key=keyed
    )
    def convert_referral(self, user: Any, kind: str, key: bool) -> None:
        self.call("referrals.convert", user, kind=kind, key=key)

    @rule(user=users, friend=users)
    def add_friend(self, user: Any, friend: Any) -> None:
        self.call("social.add_friend", user, friend)

    @rule(
        user=users,
        group=st.sampled_from(["team", "club", ""]),
        kind=st.sampled_from(["gym", "gym", "school"]),
    )
    def join_group(self, user: Any, group: str, kind: str) -> None:
        self.call("social.join_group", user, group, kind=kind)

    @rule(user=users, visibility=st.sampled_from(["public", "friends_only", "private", "all"]))
    def set_privacy(self, user: Any, visibility: str) -> None:
        self.call("social.set_privacy", user, visibility=visibility, show_on_global=True)

    @rule(user=users, zone=st.sampled_from(["Europe/Paris", "Asia/Tokyo", "Mars/Olympus"]))
    def set_timezone(self, user: Any, zone: str) -> None:
        self.call("users.set_timezone", user, zone)

    @rule(
        user=users, action=st.sampled_from(["referral_track", "quest_complete", "fly"]), key=keyed
    )
    def rate_limit(self, user: Any, action: str, key: bool) -> None:
        self.call("rate_limits.hit", user, action, key=key)

    @rule(user=users)
    def mark_read(self, user: Any) -> None:
        self.call("notifications.mark_read", user)

    @rule(user=users, key=keyed)
    def delete_user(self, user: Any, key: bool) -> None:
        if self.call("privacy.delete", user, key=key) is not None:
            # Their calls' records went with them: a retry of one is a new call now.
            self.keyed = [k for k in self.keyed if repr(user) not in repr((k.args, k.result))]

    # -- time and jobs ----------------------------------------------------------------------

    @rule(hours=st.sampled_from([1, 6, 20, 30, 24 * 8]))
    def advance(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    @rule(
        job=st.sampled_from(
            [
                "boards.close_periods",
                "quests.close_periods",
                "streaks.sweep",
                "battle_pass.close_seasons",
                "jobs.run_due",
                "rate_limits.prune",
            ]
        )
    )
    def job(self, job: str) -> None:
        self.call(job)

    # -- reads ------------------------------------------------------------------------------

    @rule(user=users, read=st.sampled_from([
        "profile", "points.balances", "history", "xp.history", "achievements.list", "quests.list",
        "shop.orders", "battle_pass.get", "streaks.get", "users.stats", "notifications.list",
        "users.inventory", "privacy.export", "referrals.stats", "referrals.list", "social.groups",
        "social.friends", "social.privacy", "notifications.preferences",
    ]))  # fmt: skip
    def read_user(self, user: Any, read: str) -> None:
        self.call(read, user)

    @rule(
        board_read=st.sampled_from(["boards.get", "boards.rank", "boards.around"]),
        period=st.sampled_from(["all_time", "daily", "weekly", "monthly", "hourly"]),
        user=good_users,
    )
    def read_board(self, board_read: str, period: str, user: str) -> None:
        args: tuple[Any, ...] = ("xp",) if board_read == "boards.get" else (user, "xp")
        self.call(board_read, *args, period=period)

    @rule(data=st.data())
    def read_by_id(self, data: st.DataObject) -> None:
        read, pool = data.draw(
            st.sampled_from(
                [
                    ("shop.order", self.orders),
                    ("points.reservation", self.reservations),
                    ("referrals.get", []),
                ]
            )
        )
        self.call(read, data.draw(st.sampled_from(pool) | maybe if pool else maybe))

    # -- batches, retries, reused keys ------------------------------------------------------

    @rule(user=good_users, amounts_=st.lists(amounts, min_size=1, max_size=3))
    def batch(self, user: str, amounts_: list[Any]) -> None:
        """Several writes in one transaction: all of them, or (a refusal escaping) none."""
        FIGURES.add(operations=1)
        try:
            with self.g.batch():
                for amount in amounts_:
                    self.g.award_points(user, amount, currency="points", source="batch")
                    self.g.spend_points(user, 1, currency="points", source="batch")
        except errors.GamificationError as exc:
            REFUSED[f"batch:{typed_name(exc)}"] += 1
            assert self.g.dump() == self.last, "a refused batch changed the database"
            return
        SUCCEEDED["batch"] += 1
        self.last = self.g.dump()

    @precondition(lambda self: self.keyed)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """A keyed call repeated exactly replays its result and writes nothing."""
        call = data.draw(st.sampled_from(self.keyed))
        FIGURES.add(operations=1)
        again = attrgetter(call.name)(self.g)(*call.args, **call.kwargs)
        if call.name != "privacy.delete":  # its pseudonym is not part of the stored result
            assert again == call.result, call.name
        assert self.g.dump() == self.last, f"a retried {call.name} wrote"
        SUCCEEDED["retry"] += 1

    @precondition(lambda self: self.keyed)
    @rule(data=st.data())
    def reuse_key(self, data: st.DataObject) -> None:
        """An earlier key with other arguments: a conflict, and nothing written."""
        call = data.draw(st.sampled_from(self.keyed))
        key = call.kwargs["idempotency_key"]
        self.call("award_xp", "u0", 7, source="other", idempotency_key=key)
        assert REFUSED["award_xp:IdempotencyConflict"] > 0

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def ledger_is_sound(self) -> None:
        report = self.g.verify_ledger()
        assert report.ok, report.problems

    @invariant()
    def balances_add_up(self) -> None:
        conn = self.g.db.conn
        for user, currency, balance, held, earned, spent, holds in conn.execute(
            "SELECT a.user_id, a.currency, a.balance, a.held, a.lifetime_earned, "
            "a.lifetime_spent, (SELECT COALESCE(SUM(r.amount), 0) FROM reservations r "
            "WHERE r.account_id = a.id AND r.status = 'active') "
            "FROM accounts a WHERE a.user_id IS NOT NULL"
        ):
            where = (user, currency)
            assert balance == earned - spent, where
            assert 0 <= held <= balance, where
            assert held == holds, where

    @invariant()
    def xp_and_levels_follow_the_log_and_the_curve(self) -> None:
        conn = self.g.db.conn
        max_level = self.g.config.levels.max_level
        for user, xp, level, at_prestige, logged in conn.execute(
            "SELECT p.user_id, p.xp, p.level, p.xp_at_prestige, "
            "(SELECT COALESCE(SUM(amount), 0) FROM xp_awards x WHERE x.user_id = p.user_id) "
            "FROM profiles p"
        ):
            assert xp == logged, user
            # The default quadratic curve: level L from 100 * (L - 1)**2 XP.
            assert level == min(max_level, math.isqrt((xp - at_prestige) // 100) + 1), user

    @invariant()
    def nothing_happens_twice(self) -> None:
        conn = self.g.db.conn
        stock = conn.execute("SELECT item FROM shop_stock WHERE stock < 0").fetchall()
        assert stock == []
        for listing in self.g.shop.list():
            assert listing.stock is None or listing.stock >= 0, listing
        twice = conn.execute(
            "SELECT user_id, key, tier FROM achievement_unlocks "
            "GROUP BY user_id, key, tier HAVING COUNT(*) > 1"
        ).fetchall()
        assert twice == [], "a non-repeatable achievement unlocked twice"
        claims = conn.execute(
            "SELECT reference_id FROM transactions WHERE reference_type = 'battle_pass' "
            "AND type = 'bonus' GROUP BY user_id, reference_id, currency HAVING COUNT(*) > 1"
        ).fetchall()
        assert claims == [], "a tier reward was paid twice"
        completions = conn.execute(
            "SELECT user_id, quest FROM quest_completions "
            "GROUP BY user_id, quest, period_start HAVING COUNT(*) > 1"
        ).fetchall()
        assert completions == [], "a quest paid twice in one period"
        assert conn.execute("SELECT 1 FROM inventory WHERE quantity < 0").fetchall() == []


COMMON = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def test_random_calls_across_the_public_api_keep_every_invariant() -> None:
    SUCCEEDED.clear()
    REFUSED.clear()
    # Derandomised: the same sequences every run, so the reach checked below cannot flake;
    # the long run draws fresh ones.
    run_state_machine_as_test(
        APIMachine,
        settings=settings(max_examples=40, stateful_step_count=100, derandomize=True, **COMMON),
    )
    # The sequences reached most of the API, both ways.
    refused = {name.split(":")[0] for name in REFUSED}
    missing = [name for name in ("award_xp", "award_points", "spend_points", "transfer_points",
                                 "track", "shop.purchase", "battle_pass.claim", "quests.complete",
                                 "reserve_points", "batch", "retry", "privacy.delete")
               if not SUCCEEDED[name]]  # fmt: skip
    assert missing == [], (missing, SUCCEEDED)
    assert len(SUCCEEDED) >= 35, SUCCEEDED
    assert len(refused) >= 25, REFUSED


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="set GAMIFICATION_LONG=1 (./run test-long)")
def test_random_calls_across_the_public_api_keep_every_invariant_long() -> None:
    run_state_machine_as_test(
        APIMachine, settings=settings(max_examples=400, stateful_step_count=120, **COMMON)
    )


def test_the_machine_checks_can_fail() -> None:
    """A refusal that wrote, or XP out of step with its log, would be caught."""
    machine = APIMachine()
    try:
        machine.seed()
        machine.g.award_xp("u0", 5, source="sneak")  # behind the machine's back
        with pytest.raises(AssertionError, match="changed the database"):
            machine.call("award_xp", "u0", 0, source="play")
        machine.g.db.conn.execute("UPDATE profiles SET xp = xp + 1 WHERE user_id = 'u1'")
        with pytest.raises(AssertionError, match="u1"):
            machine.xp_and_levels_follow_the_log_and_the_curve()
    finally:
        machine.teardown()
