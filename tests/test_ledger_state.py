"""A stateful property test of the points ledger against a plain-Python model.

Random sequences of award, spend, transfer, adjust, reserve, commit, release, expire (the
fake clock moves), refund, and retries of earlier keyed calls. The model predicts every
outcome: a success must match it, an expected error must leave the database unchanged.
After every step the ledger's invariants are checked with raw SQL and ``verify_ledger``.

``GAMIFICATION_LONG=1`` (``./run test-long``) also runs a much bigger variant.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime, timedelta
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
)

from gamification_sdk import Config, CurrencyConfig, FakeClock, Gamification, errors

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
USERS = ("alice", "bob", "carol")
CURRENCIES = ("coins", "gems")  # gems are not spendable
# The purchase rate limit (5 an hour) is off: this machine checks ledger state, and random
# sequences would otherwise hit it (tests/test_ratelimits.py covers the limit).
CONFIG = Config(
    currencies=(CurrencyConfig("coins"), CurrencyConfig("gems", spendable=False)),
    rate_limits={"purchase": None},
)
LONG = os.environ.get("GAMIFICATION_LONG") == "1"

users = st.sampled_from(USERS)
currencies = st.sampled_from(CURRENCIES)
# Spending and holding try the spendable currency most of the time, gems now and then.
spendable = st.sampled_from(("coins", "coins", "coins", "gems"))
amounts = st.integers(min_value=1, max_value=150)
small = st.integers(min_value=1, max_value=60)
keyed = st.booleans()


def near(limit: int) -> st.SearchStrategy[int]:
    """A small amount, or exactly ``limit`` or one more: the edges where outcomes flip."""
    return small | st.sampled_from(sorted({max(1, limit), limit + 1}))


# Mostly two different users; now and then the same one (refused).
pairs = st.sampled_from([(a, b) for a in USERS for b in USERS if a != b] + [("bob", "bob")])


@attrs.define
class Account:
    balance: int = 0
    held: int = 0
    earned: int = 0
    spent: int = 0

    @property
    def available(self) -> int:
        return self.balance - self.held


@attrs.define
class Hold:
    user: str
    currency: str
    amount: int
    expires_at: datetime
    status: str = "active"


@attrs.define
class Spend:
    user: str
    currency: str
    amount: int
    refunded: int = 0


@attrs.define
class Call:
    """A successful keyed call: repeating it must replay ``result`` and change nothing."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any


OPEN: list[tuple[Callable[..., AbstractContextManager[Gamification]], str]] = []
"""How the machine opens its engine: ``fresh_engine`` (tests/conftest.py), and the backend."""


@pytest.fixture(autouse=True)
def _open_on_the_backend(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]], backend: str
) -> Iterator[None]:
    OPEN.append((fresh_engine, backend))
    yield
    OPEN.pop()


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        self.opened = ExitStack()
        fresh, self.backend = OPEN[-1]
        self.g = self.opened.enter_context(fresh(config=CONFIG, clock=self.clock))
        self.accounts = {(u, c): Account() for u in USERS for c in CURRENCIES}
        self.holds: dict[int, Hold] = {}
        self.spends: dict[int, Spend] = {}
        self.unrefundable: list[int] = []  # awards, transfers, adjustments, refunds
        self.calls: list[Call] = []
        self.keys = itertools.count()

    def teardown(self) -> None:
        self.opened.close()

    # -- plumbing ---------------------------------------------------------------------------

    def call(
        self, expected: type[Exception] | None, name: str, *args: Any, key: bool, **kwargs: Any
    ) -> Any:
        """Call ``engine.name``; an expected error must leave every row as it was."""
        if key:
            kwargs["idempotency_key"] = f"k{next(self.keys)}"
        method: Callable[..., Any] = attrgetter(name)(self.g)
        if expected is not None:
            before = self.g.dump()
            with pytest.raises(expected):
                method(*args, **kwargs)
            assert self.g.dump() == before, f"a refused {name} changed the database"
            return None
        result = method(*args, **kwargs)
        if key:
            self.calls.append(Call(name, args, dict(kwargs), result))
        return result

    def acct(self, user: str, currency: str) -> Account:
        return self.accounts[(user, currency)]

    # -- writes -----------------------------------------------------------------------------

    @initialize(coins=st.lists(st.integers(0, 300), min_size=3, max_size=3))
    def seed(self, coins: list[int]) -> None:
        """Start with some coins, so spends, holds and refunds mostly succeed."""
        for user, amount in zip(USERS, coins, strict=True):
            if amount:
                self.award(user, "coins", amount, key=False)

    @rule(user=users, currency=currencies, amount=amounts, key=keyed)
    def award(self, user: str, currency: str, amount: int, key: bool) -> None:
        a = self.acct(user, currency)
        t = self.call(
            None, "award_points", user, amount, currency=currency, source="quest", key=key
        )
        assert (t.balance_before, t.balance_after) == (a.balance, a.balance + amount)
        a.balance += amount
        a.earned += amount
        self.unrefundable.append(t.id)

    @rule(data=st.data(), user=users, currency=spendable, key=keyed)
    def spend(self, data: st.DataObject, user: str, currency: str, key: bool) -> None:
        a = self.acct(user, currency)
        amount = data.draw(near(a.available), label="amount")
        if currency == "gems":
            expected: type[Exception] | None = errors.NotSpendable
        elif a.available < amount:
            expected = errors.InsufficientFunds
        else:
            expected = None
        t = self.call(
            expected, "spend_points", user, amount, currency=currency, source="shop", key=key
        )
        if t is not None:
            assert (t.amount, t.balance_after) == (-amount, a.balance - amount)
            a.balance -= amount
            a.spent += amount
            self.spends[t.id] = Spend(user, currency, amount)

    @rule(data=st.data(), pair=pairs, currency=spendable, key=keyed)
    def transfer(
        self, data: st.DataObject, pair: tuple[str, str], currency: str, key: bool
    ) -> None:
        sender, receiver = pair
        a, b = self.acct(sender, currency), self.acct(receiver, currency)
        amount = data.draw(near(a.available), label="amount")
        if sender == receiver:
            expected: type[Exception] | None = errors.InvalidInput
        elif currency == "gems":
            expected = errors.NotSpendable
        elif a.available < amount:
            expected = errors.InsufficientFunds
        else:
            expected = None
        t = self.call(
            expected, "transfer_points", sender, receiver, amount, currency=currency, key=key
        )
        if t is not None:
            assert (t.amount, t.balance_after, t.counterparty) == (
                -amount,
                a.balance - amount,
                receiver,
            )
            a.balance -= amount
            a.spent += amount
            b.balance += amount
            b.earned += amount
            self.unrefundable.append(t.id)

    @rule(data=st.data(), user=users, currency=currencies, up=st.booleans(), key=keyed)
    def adjust(self, data: st.DataObject, user: str, currency: str, up: bool, key: bool) -> None:
        a = self.acct(user, currency)
        amount = data.draw(amounts if up else near(a.available).map(lambda n: -n), label="amount")
        expected = errors.InsufficientFunds if amount < 0 and a.available < -amount else None
        t = self.call(
            expected, "points.adjust", user, amount, currency=currency, reason="support", key=key
        )
        if t is not None:
            assert (t.amount, t.balance_after) == (amount, a.balance + amount)
            a.balance += amount
            a.earned += amount
            self.unrefundable.append(t.id)

    @rule(data=st.data(), user=users, currency=spendable, ttl=st.integers(1, 300), key=keyed)
    def reserve(self, data: st.DataObject, user: str, currency: str, ttl: int, key: bool) -> None:
        a = self.acct(user, currency)
        amount = data.draw(near(a.available), label="amount")
        if currency == "gems":
            expected: type[Exception] | None = errors.NotSpendable
        elif a.available < amount:
            expected = errors.InsufficientFunds
        else:
            expected = None
        r = self.call(expected, "reserve_points", user, amount, currency=currency, ttl=ttl, key=key)
        if r is not None:
            expires = self.clock() + timedelta(seconds=ttl)
            assert (r.status, r.amount, r.expires_at) == ("active", amount, expires)
            a.held += amount
            self.holds[r.id] = Hold(user, currency, amount, expires)

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), key=keyed)
    def commit(self, data: st.DataObject, key: bool) -> None:
        rid = data.draw(st.sampled_from(sorted(self.holds)), label="reservation")
        h = self.holds[rid]
        if h.status != "active":
            expected: type[Exception] | None = errors.ReservationClosed
        elif self.clock() >= h.expires_at:
            expected = errors.ReservationExpired
        else:
            expected = None
        t = self.call(expected, "commit_reservation", rid, key=key)
        if t is not None:
            a = self.acct(h.user, h.currency)
            assert (t.type, t.amount, t.balance_after) == (
                "purchase",
                -h.amount,
                a.balance - h.amount,
            )
            a.balance -= h.amount
            a.held -= h.amount
            a.spent += h.amount
            h.status = "committed"
            self.spends[t.id] = Spend(h.user, h.currency, h.amount)

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), key=keyed)
    def release(self, data: st.DataObject, key: bool) -> None:
        rid = data.draw(st.sampled_from(sorted(self.holds)), label="reservation")
        h = self.holds[rid]
        expected = errors.ReservationClosed if h.status != "active" else None
        r = self.call(expected, "release_reservation", rid, key=key)
        if r is not None:
            assert (r.id, r.status) == (rid, "released")
            self.acct(h.user, h.currency).held -= h.amount
            h.status = "released"

    @rule(seconds=st.integers(0, 400))
    def advance(self, seconds: int) -> None:
        """Time passes without anyone expiring holds: commits may now be too late."""
        self.clock.advance(seconds=seconds)

    @rule(seconds=st.integers(0, 400))
    def expire(self, seconds: int) -> None:
        now = self.clock.advance(seconds=seconds)
        due = sorted(
            rid for rid, h in self.holds.items() if h.status == "active" and h.expires_at <= now
        )
        before = self.g.dump()
        expired = self.g.points.expire_reservations()
        assert sorted(r.id for r in expired) == due
        assert all(r.status == "expired" for r in expired)
        if not due:
            assert self.g.dump() == before
        for rid in due:
            h = self.holds[rid]
            h.status = "expired"
            self.acct(h.user, h.currency).held -= h.amount
        # Running it again at once finds nothing and changes nothing.
        again = self.g.dump()
        assert self.g.points.expire_reservations() == []
        assert self.g.dump() == again

    @rule(data=st.data(), who=st.sampled_from(["none", "none", "owner", "other"]), key=keyed)
    def refund(self, data: st.DataObject, who: str, key: bool) -> None:
        unknown = 10_000 + len(self.spends)
        pools = [sorted(self.spends)] * 4 + [self.unrefundable, [unknown]]
        tid = data.draw(
            st.sampled_from([pool for pool in pools if pool]).flatmap(st.sampled_from),
            label="transaction",
        )
        s = self.spends.get(tid)
        # Around what is left to refund, so both partial refunds and too-big ones happen.
        left = 0 if s is None else s.amount - s.refunded
        amount = data.draw(st.none() | near(left), label="amount")
        user = None
        if s is not None and who != "none":
            user = s.user if who == "owner" else next(u for u in USERS if u != s.user)
        expected: type[Exception] | None = None
        if tid == unknown:
            expected = errors.NotFound
        elif (
            s is None  # an award, transfer, adjustment or refund
            or (user is not None and user != s.user)
            or s.refunded == s.amount
            or (amount is not None and amount > s.amount - s.refunded)
        ):
            expected = errors.NotRefundable
        t = self.call(expected, "refund", tid, amount=amount, user_id=user, key=key)
        if t is not None:
            assert s is not None
            give = s.amount - s.refunded if amount is None else amount
            a = self.acct(s.user, s.currency)
            assert (t.type, t.refund_of, t.amount, t.balance_after) == (
                "refund",
                tid,
                give,
                a.balance + give,
            )
            a.balance += give
            a.spent -= give
            s.refunded += give
            self.unrefundable.append(t.id)

    @precondition(lambda self: self.calls)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """Repeat an earlier keyed call exactly: the stored result, and nothing written."""
        call = data.draw(st.sampled_from(self.calls), label="call")
        before = self.g.dump()
        again = attrgetter(call.name)(self.g)(*call.args, **call.kwargs)
        assert again == call.result
        assert self.g.dump() == before, f"a retried {call.name} changed the database"

    @precondition(lambda self: self.calls)
    @rule(data=st.data())
    def reuse_key(self, data: st.DataObject) -> None:
        """An earlier key with other arguments is a conflict, whatever the operation. The
        file's keys are one namespace; PostgreSQL's are per user: the call's owner there."""
        call = data.draw(st.sampled_from(self.calls), label="call")
        before = self.g.dump()
        with pytest.raises(errors.IdempotencyConflict):
            self.g.award_points(
                call.result.user_id if self.backend == "postgresql" else "alice",
                1,
                currency="coins",
                source="other",
                idempotency_key=call.kwargs["idempotency_key"],
            )
        assert self.g.dump() == before

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def entries_sum_to_zero_per_currency(self) -> None:
        rows = self.g.db.conn.execute(
            "SELECT a.currency, SUM(e.amount) FROM entries e JOIN accounts a "
            "ON a.id = e.account_id GROUP BY a.currency"
        ).fetchall()
        assert all(total == 0 for _, total in rows), rows
        unbalanced = self.g.db.conn.execute(
            "SELECT transaction_id FROM entries GROUP BY transaction_id "
            "HAVING SUM(amount) <> 0 OR COUNT(*) < 2"
        ).fetchall()
        assert unbalanced == []

    @invariant()
    def stored_balances_are_the_sum_of_entries(self) -> None:
        rows = self.g.db.conn.execute(
            "SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) FROM accounts a "
            "LEFT JOIN entries e ON e.account_id = a.id GROUP BY a.id, a.balance"
        ).fetchall()
        assert all(balance == total for _, balance, total in rows), rows

    @invariant()
    def user_accounts_are_sane(self) -> None:
        rows = self.g.db.conn.execute(
            "SELECT user_id, currency, balance, held FROM accounts WHERE system_name IS NULL"
        ).fetchall()
        for row in rows:
            _, _, balance, held = row
            assert balance >= 0, row
            assert 0 <= held <= balance, row

    @invariant()
    def model_matches_engine(self) -> None:
        for user in USERS:
            balances = self.g.points.balances(user)
            assert list(balances) == list(CURRENCIES)
            for currency in CURRENCIES:
                want = self.acct(user, currency)
                got = balances[currency]
                assert (got.balance, got.held, got.available) == (
                    want.balance,
                    want.held,
                    want.available,
                ), (user, currency)
                assert (got.lifetime_earned, got.lifetime_spent) == (want.earned, want.spent)
                assert self.g.balance(user, currency) == want.balance
        for rid, h in self.holds.items():
            assert self.g.points.reservation(rid).status == h.status

    @invariant()
    def audit_is_clean(self) -> None:
        report = self.g.verify_ledger()
        assert report.ok, report.problems


COMMON = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

TestLedgerState = LedgerMachine.TestCase
TestLedgerState.settings = settings(max_examples=60, stateful_step_count=30, **COMMON)


@pytest.mark.slow
@pytest.mark.skipif(not LONG, reason="set GAMIFICATION_LONG=1 (./run test-long)")
class TestLedgerStateLong(LedgerMachine.TestCase):  # type: ignore[misc,valid-type]
    settings = settings(max_examples=1500, stateful_step_count=80, **COMMON)
