"""The points ledger through the public API: currencies, double entry, spending, transfers,
admin adjustments, refunds, balances, history and the ledger's plugin hooks.

Raw SQL is only used to inspect rows (the ``entries`` of a transaction, the stored accounts).
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path

import pytest
from conftest import START, unchanged

import gamification_sdk
from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    PointsService,
    Transaction,
    errors,
)

MULTI = Config(
    currencies=(
        CurrencyConfig("coins"),
        CurrencyConfig("gems", spendable=False),
        CurrencyConfig("tokens", max_award=500),
    )
)


@pytest.fixture
def m(make_engine: Callable[..., Gamification]) -> Gamification:
    """An engine with three currencies: coins, gems (not spendable), tokens (max_award 500)."""
    return make_engine(config=MULTI)


Entry = tuple[int, str | None, int, int, int]


def entries(engine: Gamification, transaction_id: int) -> list[Entry]:
    """(account_id, holder, amount, balance_before, balance_after) of one transaction; the
    holder is the user of a user's account and None for a system account, whichever way the
    backend books system legs (see ``stored_legs``)."""
    return engine.db.conn.execute(
        "SELECT e.account_id, CASE WHEN a.system_name IS NULL THEN a.user_id END, e.amount, "
        "e.balance_before, e.balance_after FROM entries e JOIN accounts a ON a.id = e.account_id "
        "WHERE e.transaction_id = ? ORDER BY e.account_id",
        (transaction_id,),
    ).fetchall()


def stored_legs(engine: Gamification, transaction_id: int) -> list[tuple[object, ...]]:
    """(entries.user_id, accounts.user_id, accounts.system_name, amount) of one transaction,
    as stored: SQLite books a system leg on one shared account (user_id NULL on both rows),
    PostgreSQL on the system account row of the transaction's owner, and there every entry's
    user_id is the transaction's owner."""
    return sorted(
        engine.db.conn.execute(
            "SELECT e.user_id, a.user_id, a.system_name, e.amount FROM entries e "
            "JOIN accounts a ON a.id = e.account_id WHERE e.transaction_id = ?",
            (transaction_id,),
        ).fetchall(),
        # User legs first, by holder; then the system legs.
        key=lambda leg: (leg[2] is not None, str(leg[1]), str(leg[2])),
    )


def assert_double_entry(engine: Gamification, transaction_id: int) -> None:
    rows = entries(engine, transaction_id)
    assert len(rows) >= 2, f"transaction {transaction_id} has {len(rows)} entries"
    assert sum(row[2] for row in rows) == 0, rows
    for _, _, amount, before, after in rows:
        assert amount != 0
        assert after == before + amount, rows


def assert_every_transaction_balanced(engine: Gamification) -> None:
    ids = [row[0] for row in engine.db.conn.execute("SELECT id FROM transactions ORDER BY id")]
    assert ids, "expected some transactions"
    for transaction_id in ids:
        assert_double_entry(engine, transaction_id)


def user_entry(engine: Gamification, transaction_id: int, user_id: str) -> tuple[int, int, int]:
    """(amount, balance_before, balance_after) of ``user_id``'s entry in a transaction."""
    rows = [row for row in entries(engine, transaction_id) if row[1] == user_id]
    assert len(rows) == 1, rows
    return rows[0][2], rows[0][3], rows[0][4]


def count(engine: Gamification, table: str) -> int:
    return engine.db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# -- currencies -----------------------------------------------------------------------------


# The facade's quick calls and the g.points methods they stand for.
QUICK = {
    "award_points": "award",
    "spend_points": "spend",
    "transfer_points": "transfer",
    "refund": "refund",
    "balance": "balance",
    "history": "history",
    "reserve_points": "reserve",
    "commit_reservation": "commit",
    "release_reservation": "release",
    "verify_ledger": "verify",
}


@pytest.mark.parametrize(("quick", "name"), QUICK.items())
def test_a_quick_call_has_its_service_methods_signature_and_docstring(
    quick: str, name: str
) -> None:
    facade, service = getattr(Gamification, quick), getattr(PointsService, name)
    assert inspect.signature(facade) == inspect.signature(service)
    assert facade.__doc__ == service.__doc__


def test_the_points_namespace_does_what_the_quick_calls_do(g: Gamification) -> None:
    g.points.award("alice", 100, currency="points", source="quest")
    spent = g.points.spend("alice", 30, currency="points", source="shop")
    g.points.transfer("alice", "bob", 20, currency="points")
    g.points.refund(spent.id, amount=10)
    hold = g.points.reserve("alice", 5, currency="points", ttl=60)
    g.points.commit(hold.id)
    released = g.points.release(g.points.reserve("alice", 5, currency="points", ttl=60).id)
    assert released.status == "released"
    assert g.points.balance("alice", "points") == g.balance("alice", "points") == 55
    assert g.points.history("alice") == g.history("alice")
    assert not g.points.verify() and not g.verify_ledger()


def test_default_config_has_the_single_points_currency(g: Gamification) -> None:
    assert g.config.currency_names == ("points",)
    assert set(g.points.balances("alice")) == {"points"}
    t = g.award_points("alice", 10, currency="points", source="quest")
    assert t.currency == "points"
    assert g.balance("alice", "points") == 10


def test_default_config_refuses_other_currencies(g: Gamification) -> None:
    with unchanged(g), pytest.raises(errors.UnknownCurrency) as info:
        g.award_points("alice", 10, currency="coins", source="quest")
    assert info.value.currency == "coins"
    assert info.value.field == "currency"


def test_multiple_currencies_are_independent(m: Gamification) -> None:
    m.award_points("alice", 100, currency="coins", source="quest")
    m.award_points("alice", 7, currency="gems", source="quest")
    m.award_points("alice", 300, currency="tokens", source="quest")
    m.spend_points("alice", 40, currency="coins", source="shop")
    assert m.balance("alice", "coins") == 60
    assert m.balance("alice", "gems") == 7
    assert m.balance("alice", "tokens") == 300
    balances = m.points.balances("alice")
    assert [b.balance for b in balances.values()] == [60, 7, 300]
    # Each currency has its own system accounts: a coins award never touches the gems ones.
    rows = m.db.conn.execute(
        "SELECT a.currency, t.currency FROM entries e JOIN accounts a ON a.id = e.account_id "
        "JOIN transactions t ON t.id = e.transaction_id"
    ).fetchall()
    assert rows and all(account == tx for account, tx in rows)
    assert_every_transaction_balanced(m)


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.award_points("alice", 1, currency="diamonds", source="quest"),
        lambda e: e.spend_points("alice", 1, currency="diamonds", source="shop"),
        lambda e: e.transfer_points("alice", "bob", 1, currency="diamonds"),
        lambda e: e.points.adjust("alice", 1, currency="diamonds", reason="fix"),
        lambda e: e.reserve_points("alice", 1, currency="diamonds", ttl=60),
        lambda e: e.balance("alice", "diamonds"),
        lambda e: e.history("alice", currency="diamonds"),
        lambda e: e.award_points("alice", 1, currency="COINS", source="quest"),
        lambda e: e.award_points("alice", 1, currency=None, source="quest"),
    ],
    ids=["award", "spend", "transfer", "adjust", "reserve", "balance", "history", "case", "none"],
)
def test_unknown_currency_raises_and_writes_nothing(
    m: Gamification, call: Callable[[Gamification], object]
) -> None:
    m.award_points("alice", 50, currency="coins", source="quest")
    with unchanged(m), pytest.raises(errors.UnknownCurrency) as info:
        call(m)
    assert isinstance(info.value, errors.InvalidInput)
    assert info.value.field == "currency"


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.spend_points("alice", 1, currency="gems", source="shop"),
        lambda e: e.transfer_points("alice", "bob", 1, currency="gems"),
        lambda e: e.reserve_points("alice", 1, currency="gems", ttl=60),
    ],
    ids=["spend", "transfer", "reserve"],
)
def test_non_spendable_currency_cannot_leave_the_account(
    m: Gamification, call: Callable[[Gamification], object]
) -> None:
    m.award_points("alice", 50, currency="gems", source="quest")
    with unchanged(m), pytest.raises(errors.NotSpendable) as info:
        call(m)
    assert info.value.currency == "gems"
    assert isinstance(info.value, errors.InvalidInput)
    assert m.balance("alice", "gems") == 50


def test_non_spendable_currency_can_be_awarded_and_adjusted(m: Gamification) -> None:
    m.award_points("alice", 50, currency="gems", source="quest")
    t = m.points.adjust("alice", -20, currency="gems", reason="cheating")
    assert t.balance_after == 30
    assert m.balance("alice", "gems") == 30


def test_max_award_caps_a_single_award(m: Gamification) -> None:
    assert m.award_points("alice", 500, currency="tokens", source="quest").balance_after == 500
    with unchanged(m), pytest.raises(errors.InvalidInput) as info:
        m.award_points("alice", 501, currency="tokens", source="quest")
    assert info.value.field == "amount"
    # The cap is per award and per currency: coins have none.
    m.award_points("alice", 500, currency="tokens", source="quest")
    m.award_points("alice", 10_000, currency="coins", source="quest")
    assert m.balance("alice", "tokens") == 1000


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10", True, None, 2**53 + 1])
def test_award_rejects_bad_amounts(g: Gamification, amount: object) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.award_points("alice", amount, currency="points", source="quest")  # type: ignore[arg-type]
    assert info.value.field == "amount"


# -- award_points and double entry ---------------------------------------------------------


def test_award_returns_the_transaction(g: Gamification) -> None:
    at = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    t = g.award_points(
        "alice",
        100,
        currency="points",
        source="order_completed",
        reference=("order", "42"),
        description="Order #42",
        metadata={"sku": "A-1", "qty": 2},
        at=at,
    )
    assert isinstance(t, Transaction)
    assert isinstance(t.id, int) and t.id >= 1
    assert t.type == "earned"
    assert t.user_id == "alice"
    assert t.currency == "points"
    assert t.amount == 100
    assert (t.balance_before, t.balance_after) == (0, 100)
    assert t.source == "order_completed"
    assert (t.reference_type, t.reference_id) == ("order", "42")
    assert t.description == "Order #42"
    assert t.metadata == {"sku": "A-1", "qty": 2}
    assert t.created_at == at
    assert t.counterparty is None
    assert t.refund_of is None
    assert t.idempotency_key is None

    t2 = g.award_points("alice", 25, currency="points", source="quest", transaction_type="bonus")
    assert t2.type == "bonus"
    assert t2.id > t.id
    assert (t2.balance_before, t2.balance_after) == (100, 125)
    assert t2.created_at == START
    # The history reads back what the award returned.
    assert g.history("alice").transactions == (t2, t)


def test_award_rejects_a_debit_transaction_type(g: Gamification) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.award_points("alice", 5, currency="points", source="quest", transaction_type="spent")


@pytest.mark.parametrize("reference", [("order",), ("order", 42), "order:42", ("", "1")])
def test_award_rejects_bad_references(g: Gamification, reference: object) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.award_points("alice", 5, currency="points", source="quest", reference=reference)  # type: ignore[arg-type]


def test_every_transaction_is_double_entry(g: Gamification) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    g.award_points("bob", 50, currency="points", source="quest")
    spent = g.spend_points("alice", 30, currency="points", source="shop")
    g.transfer_points("alice", "bob", 20, currency="points")
    g.points.adjust("bob", -5, currency="points", reason="typo")
    g.points.adjust("bob", 8, currency="points", reason="goodwill")
    g.refund(spent.id, amount=10)
    r = g.reserve_points("bob", 40, currency="points", ttl=60)
    g.commit_reservation(r.id)
    assert count(g, "transactions") == 8
    assert_every_transaction_balanced(g)
    # Each user entry is the transaction seen from that user's side.
    for t in g.history("alice").transactions + g.history("bob").transactions:
        amount, before, after = user_entry(g, t.id, t.user_id)
        assert (amount, before, after) == (t.amount, t.balance_before, t.balance_after)
        assert after == before + amount
    # Every currency's entries sum to zero over all accounts, system ones included.
    (total,) = g.db.conn.execute("SELECT SUM(amount) FROM entries").fetchone()
    assert total == 0
    assert not g.verify_ledger()


def test_award_entries_credit_the_user_and_debit_issuance(g: Gamification, backend: str) -> None:
    g.award_points("alice", 30, currency="points", source="quest")
    t = g.award_points("alice", 70, currency="points", source="quest")
    rows = entries(g, t.id)
    assert len(rows) == 2
    user = [row for row in rows if row[1] == "alice"]
    system = [row for row in rows if row[1] is None]
    assert [(r[2], r[3], r[4]) for r in user] == [(70, 30, 100)]
    assert [(r[2], r[3], r[4]) for r in system] == [(-70, -30, -100)]
    # The issuance leg: the one shared account on SQLite, alice's own issuance row on
    # PostgreSQL (so its running balance is hers alone there, too: -30 -> -100).
    owner = "alice" if backend == "postgresql" else None
    assert stored_legs(g, t.id) == [
        ("alice", "alice", None, 70),
        (owner, owner, "issuance", -70),
    ]


# -- spend_points ---------------------------------------------------------------------------


def test_spend_reduces_the_balance(g: Gamification) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    t = g.spend_points("alice", 30, currency="points", source="shop", reference=("order", "7"))
    assert t.type == "spent"
    assert t.amount == -30
    assert (t.balance_before, t.balance_after) == (100, 70)
    assert (t.reference_type, t.reference_id) == ("order", "7")
    assert g.balance("alice", "points") == 70
    assert_double_entry(g, t.id)
    # Spending everything is allowed; the balance reaches exactly zero.
    assert g.spend_points("alice", 70, currency="points", source="shop").balance_after == 0


def test_spend_with_too_little_raises_insufficient_funds(g: Gamification) -> None:
    g.award_points("alice", 50, currency="points", source="quest")
    with unchanged(g), pytest.raises(errors.InsufficientFunds) as info:
        g.spend_points("alice", 80, currency="points", source="shop")
    exc = info.value
    assert (exc.required, exc.available, exc.shortfall) == (80, 50, 30)
    assert exc.currency == "points"
    assert exc.details() == {"required": 80, "current": 50, "shortfall": 30}
    assert exc.code == "INSUFFICIENT_POINTS"
    assert isinstance(exc, errors.GamificationError)
    assert g.balance("alice", "points") == 50


def test_spend_by_a_user_with_no_account(g: Gamification) -> None:
    with unchanged(g), pytest.raises(errors.InsufficientFunds) as info:
        g.spend_points("nobody", 1, currency="points", source="shop")
    assert info.value.details() == {"required": 1, "current": 0, "shortfall": 1}


def test_spend_rejects_a_credit_transaction_type(g: Gamification) -> None:
    g.award_points("alice", 50, currency="points", source="quest")
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.spend_points("alice", 5, currency="points", source="shop", transaction_type="earned")


# -- transfer_points ------------------------------------------------------------------------


def test_transfer_moves_points_between_users(g: Gamification, backend: str) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    g.award_points("bob", 5, currency="points", source="quest")
    sent = g.transfer_points("alice", "bob", 30, currency="points", description="thanks")
    assert sent.type == "transfer"
    assert sent.user_id == "alice"
    assert sent.amount == -30
    assert (sent.balance_before, sent.balance_after) == (100, 70)
    assert sent.counterparty == "bob"
    assert sent.source == "gift"
    assert g.balance("alice", "points") == 70
    assert g.balance("bob", "points") == 35

    received = g.history("bob").transactions[0]
    assert received.id == sent.id
    assert received.type == "transfer"
    assert received.user_id == "bob"
    assert received.amount == 30
    assert (received.balance_before, received.balance_after) == (5, 35)
    assert received.counterparty == "alice"
    assert received.description == "thanks"
    assert g.history("alice").transactions[0] == sent

    rows = entries(g, sent.id)
    assert sorted((r[1], r[2]) for r in rows) == [("alice", -30), ("bob", 30)]
    # A transfer belongs to its sender: on PostgreSQL both entries carry the sender's
    # user_id (they live on the sender's shard); the recipient's names bob's account.
    bobs_entry = "alice" if backend == "postgresql" else "bob"
    assert stored_legs(g, sent.id) == [
        ("alice", "alice", None, -30),
        (bobs_entry, "bob", None, 30),
    ]
    assert_double_entry(g, sent.id)
    # lifetime totals move too, so earned - spent stays the balance on both sides.
    assert g.points.balances("alice")["points"].lifetime_spent == 30
    assert g.points.balances("bob")["points"].lifetime_earned == 35


def test_transfer_to_a_new_user_opens_their_account(g: Gamification) -> None:
    g.award_points("alice", 10, currency="points", source="quest")
    g.transfer_points("alice", "carol", 10, currency="points")
    assert g.balance("carol", "points") == 10
    assert g.balance("alice", "points") == 0
    assert g.profile("carol").balances["points"].balance == 10


def test_transfer_to_self_is_rejected(g: Gamification) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.transfer_points("alice", "alice", 10, currency="points")
    assert info.value.field == "to_user"


def test_transfer_with_too_little_writes_nothing(g: Gamification) -> None:
    g.award_points("alice", 20, currency="points", source="quest")
    with unchanged(g), pytest.raises(errors.InsufficientFunds) as info:
        g.transfer_points("alice", "bob", 21, currency="points")
    assert info.value.details() == {"required": 21, "current": 20, "shortfall": 1}
    # The receiver was not created on the way.
    assert g.profile("bob").created_at is None


# -- points.adjust -------------------------------------------------------------------------


def test_adjust_positive_and_negative(g: Gamification) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    up = g.points.adjust("alice", 25, currency="points", reason="support ticket 9")
    assert up.type == "admin_adjustment"
    assert up.amount == 25
    assert (up.balance_before, up.balance_after) == (100, 125)
    assert up.description == "support ticket 9"
    down = g.points.adjust("alice", -40, currency="points", reason="duplicate award")
    assert down.type == "admin_adjustment"
    assert down.amount == -40
    assert (down.balance_before, down.balance_after) == (125, 85)
    assert down.description == "duplicate award"
    assert g.balance("alice", "points") == 85
    assert_double_entry(g, up.id)
    assert_double_entry(g, down.id)
    b = g.points.balances("alice")["points"]
    assert b.lifetime_earned - b.lifetime_spent == b.balance == 85
    assert [t.description for t in g.history("alice").transactions[:2]] == [
        "duplicate award",
        "support ticket 9",
    ]


def test_adjust_positive_on_a_new_user(g: Gamification) -> None:
    t = g.points.adjust("newbie", 10, currency="points", reason="welcome")
    assert (t.balance_before, t.balance_after) == (0, 10)


@pytest.mark.parametrize("reason", ["", "   ", None, 5])
def test_adjust_requires_a_reason(g: Gamification, reason: object) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.points.adjust("alice", 10, currency="points", reason=reason)  # type: ignore[arg-type]
    assert info.value.field == "reason"


def test_adjust_rejects_zero(g: Gamification) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.points.adjust("alice", 0, currency="points", reason="nothing")


def test_negative_adjust_beyond_available_raises(g: Gamification) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    with unchanged(g), pytest.raises(errors.InsufficientFunds) as info:
        g.points.adjust("alice", -101, currency="points", reason="too much")
    assert info.value.details() == {"required": 101, "current": 100, "shortfall": 1}
    # Held points are not available to take back either.
    g.reserve_points("alice", 60, currency="points", ttl=60)
    with unchanged(g), pytest.raises(errors.InsufficientFunds):
        g.points.adjust("alice", -41, currency="points", reason="too much")
    assert g.points.adjust("alice", -40, currency="points", reason="ok").balance_after == 60


# -- refund ---------------------------------------------------------------------------------


@pytest.fixture
def spent(g: Gamification) -> Transaction:
    g.award_points("alice", 100, currency="points", source="quest")
    return g.spend_points("alice", 60, currency="points", source="shop")


def test_full_refund(g: Gamification, spent: Transaction) -> None:
    r = g.refund(spent.id, description="order cancelled")
    assert r.type == "refund"
    assert r.refund_of == spent.id
    assert r.amount == 60
    assert (r.balance_before, r.balance_after) == (40, 100)
    assert r.user_id == "alice"
    assert r.description == "order cancelled"
    assert g.balance("alice", "points") == 100
    assert_double_entry(g, r.id)
    with unchanged(g), pytest.raises(errors.NotRefundable):
        g.refund(spent.id)
    with unchanged(g), pytest.raises(errors.NotRefundable):
        g.refund(spent.id, amount=1)


def test_partial_refunds_never_exceed_the_original(g: Gamification, spent: Transaction) -> None:
    assert g.refund(spent.id, amount=20).balance_after == 60
    assert g.refund(spent.id, amount=25).balance_after == 85
    with unchanged(g), pytest.raises(errors.NotRefundable) as info:
        g.refund(spent.id, amount=16)
    assert isinstance(info.value, errors.InvalidInput)
    assert info.value.field == "amount"
    # Without an amount, the rest is refunded: exactly 15.
    rest = g.refund(spent.id)
    assert rest.amount == 15
    assert g.balance("alice", "points") == 100
    with unchanged(g), pytest.raises(errors.NotRefundable):
        g.refund(spent.id, amount=1)
    refunds = [t for t in g.history("alice").transactions if t.refund_of == spent.id]
    assert sum(t.amount for t in refunds) == 60


def test_refund_of_a_refund_is_rejected(g: Gamification, spent: Transaction) -> None:
    r = g.refund(spent.id, amount=10)
    with unchanged(g), pytest.raises(errors.NotRefundable) as info:
        g.refund(r.id)
    assert info.value.field == "transaction_id"


@pytest.mark.parametrize("kind", ["award", "transfer", "adjust"])
def test_refund_of_a_credit_or_transfer_is_rejected(g: Gamification, kind: str) -> None:
    t = g.award_points("alice", 100, currency="points", source="quest")
    if kind == "transfer":
        t = g.transfer_points("alice", "bob", 10, currency="points")
    elif kind == "adjust":
        t = g.points.adjust("alice", -10, currency="points", reason="fix")
    with unchanged(g), pytest.raises(errors.NotRefundable) as info:
        g.refund(t.id)
    assert info.value.field == "transaction_id"


def test_refund_with_the_wrong_user_is_rejected(g: Gamification, spent: Transaction) -> None:
    with unchanged(g), pytest.raises(errors.NotRefundable) as info:
        g.refund(spent.id, user_id="mallory")
    assert info.value.field == "user_id"
    assert g.refund(spent.id, user_id="alice").amount == 60


def test_refund_of_an_unknown_transaction(g: Gamification, spent: Transaction) -> None:
    with unchanged(g), pytest.raises(errors.NotFound):
        g.refund(spent.id + 1000)


@pytest.mark.parametrize("bad", [0, -1, "1", 1.0, None])
def test_refund_rejects_bad_ids(g: Gamification, spent: Transaction, bad: object) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.refund(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -5, "5"])
def test_refund_rejects_bad_amounts(g: Gamification, spent: Transaction, amount: object) -> None:
    with unchanged(g), pytest.raises(errors.InvalidInput) as info:
        g.refund(spent.id, amount=amount)  # type: ignore[arg-type]
    assert info.value.field == "amount"


def test_refund_is_idempotent_with_a_key(g: Gamification, spent: Transaction) -> None:
    first = g.refund(spent.id, amount=10, idempotency_key="refund-1")
    with unchanged(g):
        again = g.refund(spent.id, amount=10, idempotency_key="refund-1")
    assert again == first
    assert first.idempotency_key == "refund-1"
    assert g.balance("alice", "points") == 50


# -- balances, profile, lifetime totals -----------------------------------------------------


def test_balance_of_an_unknown_user_is_zero(m: Gamification) -> None:
    with unchanged(m):
        assert m.balance("ghost", "coins") == 0
        balances = m.points.balances("ghost")
    assert list(balances) == ["coins", "gems", "tokens"]
    for name, b in balances.items():
        assert b.currency == name
        assert (b.balance, b.held, b.available, b.lifetime_earned, b.lifetime_spent) == (0,) * 5


def test_balances_lists_every_configured_currency(m: Gamification) -> None:
    m.award_points("alice", 100, currency="coins", source="quest")
    m.reserve_points("alice", 30, currency="coins", ttl=60)
    balances = m.points.balances("alice")
    assert list(balances) == ["coins", "gems", "tokens"]
    coins = balances["coins"]
    assert (coins.balance, coins.held, coins.available) == (100, 30, 70)
    assert balances["gems"].balance == 0
    assert balances["tokens"].balance == 0


def test_lifetime_earned_is_not_the_balance(g: Gamification) -> None:
    g.award_points("alice", 100, currency="points", source="quest")
    spent = g.spend_points("alice", 30, currency="points", source="shop")
    b = g.profile("alice").balances["points"]
    assert (b.balance, b.lifetime_earned, b.lifetime_spent) == (70, 100, 30)
    g.refund(spent.id, amount=10)
    b = g.profile("alice").balances["points"]
    assert (b.balance, b.lifetime_earned, b.lifetime_spent) == (80, 100, 20)
    assert b.lifetime_earned - b.lifetime_spent == b.balance
    assert g.points.balances("alice")["points"] == b


def test_lifetime_invariant_holds_for_every_kind_of_write(m: Gamification) -> None:
    m.award_points("alice", 500, currency="coins", source="quest")
    m.award_points("bob", 50, currency="coins", source="quest")
    s = m.spend_points("alice", 120, currency="coins", source="shop")
    m.transfer_points("alice", "bob", 80, currency="coins")
    m.transfer_points("bob", "alice", 15, currency="coins")
    m.points.adjust("alice", -30, currency="coins", reason="fix")
    m.points.adjust("bob", 12, currency="coins", reason="fix")
    m.refund(s.id, amount=50)
    r = m.reserve_points("alice", 40, currency="coins", ttl=60)
    m.commit_reservation(r.id)
    m.reserve_points("bob", 10, currency="coins", ttl=60)
    for user in ("alice", "bob"):
        for b in m.profile(user).balances.values():
            assert b.lifetime_earned - b.lifetime_spent == b.balance
            assert b.available == b.balance - b.held
            assert b.lifetime_earned >= 0 and b.lifetime_spent >= 0
    assert m.balance("alice", "coins") == 500 - 120 - 80 + 15 - 30 + 50 - 40
    assert m.balance("bob", "coins") == 50 + 80 - 15 + 12


def test_balance_and_balances_validate_input(g: Gamification) -> None:
    for bad in ("", None, 5, "x" * 256, "bad\nid"):
        with pytest.raises(errors.InvalidInput):
            g.balance(bad, "points")  # type: ignore[arg-type]
        with pytest.raises(errors.InvalidInput):
            g.points.balances(bad)  # type: ignore[arg-type]


# -- history --------------------------------------------------------------------------------


def test_history_is_newest_first_with_totals(m: Gamification) -> None:
    ids = []
    ids.append(m.award_points("alice", 100, currency="coins", source="quest").id)
    ids.append(m.award_points("alice", 9, currency="gems", source="quest").id)
    ids.append(m.spend_points("alice", 30, currency="coins", source="shop").id)
    ids.append(m.award_points("bob", 1, currency="coins", source="quest").id)  # not alice's
    ids.append(m.transfer_points("alice", "bob", 5, currency="coins").id)
    page = m.history("alice")
    assert [t.id for t in page.transactions] == [ids[4], ids[2], ids[1], ids[0]]
    assert [t.amount for t in page.transactions] == [-5, -30, 9, 100]
    assert page.next_before is None
    assert page.totals["coins"].earned == 100
    assert page.totals["coins"].spent == 35
    assert page.totals["coins"].net == 65
    assert page.totals["gems"].earned == 9
    assert page.totals["gems"].spent == 0
    assert page.totals["gems"].net == 9

    coins = m.history("alice", currency="coins")
    assert [t.id for t in coins.transactions] == [ids[4], ids[2], ids[0]]
    assert set(coins.totals) == {"coins"}
    assert all(t.currency == "coins" for t in coins.transactions)


def test_history_pages_yield_every_transaction_once(m: Gamification) -> None:
    expected = []
    gems = []
    for i in range(7):
        expected.append(m.award_points("alice", 10 + i, currency="coins", source="quest").id)
        gems.append(m.award_points("alice", 1 + i, currency="gems", source="quest").id)
        expected.append(gems[-1])
        if i % 2:
            expected.append(m.spend_points("alice", 3, currency="coins", source="shop").id)
        m.award_points("bob", 1, currency="coins", source="quest")
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        page = m.history("alice", limit=2, before=before)
        pages += 1
        assert len(page.transactions) <= 2
        seen.extend(t.id for t in page.transactions)
        if page.next_before is None:
            break
        assert page.next_before == page.transactions[-1].id
        before = page.next_before
    assert seen == sorted(expected, reverse=True)
    assert len(set(seen)) == len(seen) == 17
    assert pages == 9

    seen_gems: list[int] = []
    before = None
    while True:
        page = m.history("alice", currency="gems", limit=2, before=before)
        seen_gems.extend(t.id for t in page.transactions)
        if page.next_before is None:
            break
        before = page.next_before
    assert seen_gems == sorted(gems, reverse=True)
    assert len(seen_gems) == 7


def test_history_exact_page_has_no_next(g: Gamification) -> None:
    for _ in range(4):
        g.award_points("alice", 1, currency="points", source="quest")
    first = g.history("alice", limit=2)
    assert first.next_before is not None
    second = g.history("alice", limit=2, before=first.next_before)
    assert len(second.transactions) == 2
    assert second.next_before is None
    assert g.history("alice", limit=4).next_before is None


def test_history_of_an_unknown_user_is_empty(g: Gamification) -> None:
    page = g.history("ghost")
    assert page.transactions == ()
    assert page.next_before is None


@pytest.mark.parametrize(
    "kwargs", [{"limit": 0}, {"limit": 1001}, {"limit": "2"}, {"before": 0}, {"before": "9"}]
)
def test_history_validates_paging(g: Gamification, kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidInput):
        g.history("alice", **kwargs)  # type: ignore[arg-type]


# -- idempotency ----------------------------------------------------------------------------


def test_award_with_a_key_happens_once(g: Gamification, clock: FakeClock) -> None:
    first = g.award_points("alice", 10, currency="points", source="quest", idempotency_key="k1")
    assert first.idempotency_key == "k1"
    clock.advance(seconds=30)
    with unchanged(g):
        again = g.award_points("alice", 10, currency="points", source="quest", idempotency_key="k1")
    assert again == first
    assert g.balance("alice", "points") == 10
    (stored,) = g.db.conn.execute("SELECT idempotency_key FROM transactions").fetchone()
    assert stored == "call:k1"


def test_a_key_reused_with_other_arguments_conflicts(g: Gamification) -> None:
    g.award_points("alice", 10, currency="points", source="quest", idempotency_key="k1")
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.award_points("alice", 11, currency="points", source="quest", idempotency_key="k1")
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.spend_points("alice", 10, currency="points", source="quest", idempotency_key="k1")


def test_a_failed_call_does_not_burn_its_key(g: Gamification) -> None:
    with pytest.raises(errors.InsufficientFunds):
        g.spend_points("alice", 10, currency="points", source="shop", idempotency_key="s1")
    g.award_points("alice", 10, currency="points", source="quest")
    t = g.spend_points("alice", 10, currency="points", source="shop", idempotency_key="s1")
    assert t.balance_after == 0


def test_every_kind_of_call_replays_exactly(g: Gamification, clock: FakeClock) -> None:
    """A retry returns what the first call returned, every field, long after and unchanged."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rich = {"x": [1, 2.5, None], "y": "\u00e9t\u00e9", "z": {"deep": True}}
    calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = [
        (
            "award_points",
            ("alice", 100),
            dict(
                currency="points",
                source="quest",
                reference=("order", "1"),
                description="d",
                metadata=rich,
                at=at,
                transaction_type="bonus",
            ),
        ),
        ("award_points", ("bob", 50), dict(currency="points", source="quest")),
        (
            "spend_points",
            ("alice", 10),
            dict(
                currency="points",
                source="shop",
                reference=("order", "2"),
                description="dd",
                metadata=[1, 2],
                transaction_type="purchase",
            ),
        ),
        (
            "transfer_points",
            ("alice", "bob", 5),
            dict(currency="points", description="gift", metadata={"m": 1}, source="friend"),
        ),
        ("points.adjust", ("bob", -3), dict(currency="points", reason="r", metadata=True)),
        (
            "reserve_points",
            ("alice", 7),
            dict(currency="points", ttl=60, reference=("cart", "9"), source="shop"),
        ),
    ]
    results = [
        attrgetter(name)(g)(*args, idempotency_key=f"k{i}", **kwargs)
        for i, (name, args, kwargs) in enumerate(calls)
    ]
    hold = results[-1].id
    calls.append(("commit_reservation", (hold,), {"description": "buy"}))
    results.append(g.commit_reservation(hold, description="buy", idempotency_key="k6"))
    spend = results[2].id
    calls.append(("refund", (spend,), {"amount": 4, "description": "back", "user_id": "alice"}))
    results.append(
        g.refund(spend, amount=4, description="back", user_id="alice", idempotency_key="k7")
    )
    hold2 = g.reserve_points("bob", 2, currency="points", ttl=60).id
    calls.append(("release_reservation", (hold2,), {}))
    results.append(g.release_reservation(hold2, idempotency_key="k8"))

    clock.advance(seconds=3600)
    g.award_points("alice", 1, currency="points", source="quest")
    g.spend_points("bob", 1, currency="points", source="shop")
    for i, ((name, args, kwargs), first) in enumerate(zip(calls, results, strict=True)):
        with unchanged(g):
            again = attrgetter(name)(g)(*args, idempotency_key=f"k{i}", **kwargs)
        assert again == first, name
    assert results[0].metadata == rich
    assert results[3].counterparty == "bob"


# -- plugins: validate_award and on_points_changed ------------------------------------------


class CapPlugin:
    def __init__(self) -> None:
        self.seen: list[object] = []

    @gamification_sdk.hookimpl
    def validate_award(self, award: object) -> str | None:
        self.seen.append(award)
        return "no" if award.amount > 1000 else None  # type: ignore[attr-defined]


def test_validate_award_vetoes_points(make_engine: Callable[..., Gamification]) -> None:
    plugin = CapPlugin()
    e = make_engine(plugins=(plugin,))
    e.award_points("alice", 1000, currency="points", source="quest")
    with unchanged(e), pytest.raises(errors.Rejected) as info:
        e.award_points("alice", 1001, currency="points", source="quest", metadata={"a": 1})
    assert info.value.reason == "no"
    assert e.balance("alice", "points") == 1000
    request = plugin.seen[-1]
    assert request.kind == "points"  # type: ignore[attr-defined]
    assert request.user_id == "alice"  # type: ignore[attr-defined]
    assert request.currency == "points"  # type: ignore[attr-defined]
    assert request.metadata == {"a": 1}  # type: ignore[attr-defined]
    # A vetoed award does not create the user either.
    with unchanged(e), pytest.raises(errors.Rejected):
        e.award_points("bob", 5000, currency="points", source="quest")
    assert e.profile("bob").created_at is None
    # The key of a vetoed call is not burnt.
    with pytest.raises(errors.Rejected):
        e.award_points("bob", 5000, currency="points", source="quest", idempotency_key="v")
    assert e.award_points("bob", 5, currency="points", source="q", idempotency_key="v").amount == 5


class Recorder:
    """Records every on_points_changed call and what a separate connection saw at the time."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.calls: list[tuple[Transaction, int | None]] = []

    @gamification_sdk.hookimpl
    def on_points_changed(self, transaction: Transaction) -> None:
        committed = None
        if self.path is not None:
            conn = sqlite3.connect(self.path)
            try:
                row = conn.execute(
                    "SELECT balance FROM accounts WHERE user_id = ? AND currency = ?",
                    (transaction.user_id, transaction.currency),
                ).fetchone()
            finally:
                conn.close()
            committed = None if row is None else row[0]
        self.calls.append((transaction, committed))


def test_on_points_changed_fires_after_commit(
    make_engine: Callable[..., Gamification], db_path: Path
) -> None:
    rec = Recorder(db_path)
    e = make_engine(db_path, plugins=(rec,))
    award = e.award_points("alice", 100, currency="points", source="quest")
    assert e.award_points("bob", 10, currency="points", source="quest")
    spend = e.spend_points("alice", 30, currency="points", source="shop")
    sent = e.transfer_points("alice", "bob", 20, currency="points")
    refund = e.refund(spend.id, amount=5)
    r = e.reserve_points("bob", 25, currency="points", ttl=60)
    purchase = e.commit_reservation(r.id)
    fix = e.points.adjust("alice", -1, currency="points", reason="typo")
    calls = [(t.id, t.user_id, t.amount, t.type) for t, _ in rec.calls]
    assert calls == [
        (award.id, "alice", 100, "earned"),
        (award.id + 1, "bob", 10, "earned"),
        (spend.id, "alice", -30, "spent"),
        (sent.id, "alice", -20, "transfer"),
        (sent.id, "bob", 20, "transfer"),
        (refund.id, "alice", 5, "refund"),
        (purchase.id, "bob", -25, "purchase"),
        (fix.id, "alice", -1, "admin_adjustment"),
    ]
    assert rec.calls[0][0] == award
    assert rec.calls[3][0] == sent
    assert rec.calls[4][0].counterparty == "alice"
    assert rec.calls[6][0] == purchase
    # Another connection already saw each write when its hook ran: it was committed.
    for t, committed in rec.calls:
        assert committed == t.balance_after, (t, committed)


def test_on_points_changed_skips_rejected_calls_and_replays(g: Gamification) -> None:
    rec = Recorder()
    g.pm.register(rec)
    g.award_points("alice", 10, currency="points", source="quest", idempotency_key="a")
    g.award_points("alice", 10, currency="points", source="quest", idempotency_key="a")
    with pytest.raises(errors.InsufficientFunds):
        g.spend_points("alice", 11, currency="points", source="shop")
    r = g.reserve_points("alice", 5, currency="points", ttl=60)
    g.release_reservation(r.id)
    assert len(rec.calls) == 1


def test_on_points_changed_fires_once_a_batch_commits(g: Gamification) -> None:
    rec = Recorder()
    g.pm.register(rec)
    with g.batch():
        g.award_points("alice", 10, currency="points", source="quest")
        g.award_points("bob", 10, currency="points", source="quest")
        assert rec.calls == []
    assert [t.user_id for t, _ in rec.calls] == ["alice", "bob"]
    with pytest.raises(RuntimeError), g.batch():
        g.award_points("carol", 10, currency="points", source="quest")
        raise RuntimeError("host failure")
    assert len(rec.calls) == 2
    assert g.balance("carol", "points") == 0


# -- limits ---------------------------------------------------------------------------------


def test_a_balance_overflow_is_refused(g: Gamification) -> None:
    big = 2**53
    with g.batch():
        for _ in range(1023):
            g.award_points("alice", big, currency="points", source="quest")
    assert g.balance("alice", "points") == 1023 * big  # 2**63 - 2**53: one more overflows
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.award_points("alice", big, currency="points", source="quest")
    assert type(g.balance("alice", "points")) is int
    assert not g.verify_ledger()


def test_awards_up_to_the_limit_stay_exact(g: Gamification) -> None:
    big = 2**53
    with g.batch():
        for _ in range(1000):
            g.award_points("alice", big, currency="points", source="quest")
    assert g.balance("alice", "points") == 1000 * big
    assert type(g.balance("alice", "points")) is int
    assert not g.verify_ledger()


def test_a_transfer_into_a_full_account_is_refused(g: Gamification) -> None:
    big = 2**53
    with g.batch():
        for _ in range(1023):
            g.award_points("alice", big, currency="points", source="quest")
    g.award_points("bob", big, currency="points", source="quest")
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.transfer_points("bob", "alice", big, currency="points")
    assert g.balance("bob", "points") == big
    assert not g.verify_ledger()


def test_issuance_cannot_overflow_across_users(g: Gamification, backend: str) -> None:
    """The system account runs negative by what is outstanding: it has a floor of -2**63.

    On PostgreSQL the issuance account is one row per user, each with that floor, so what is
    outstanding across users may pass 2**63: the award is booked and the audit, which sums
    the rows, still balances."""
    big = 2**53
    with g.batch():
        for i in range(1024):
            g.award_points(f"u{i}", big, currency="points", source="quest")
    if backend == "postgresql":
        g.award_points("one-more", big, currency="points", source="quest")
        (total,) = g.db.conn.execute(
            "SELECT SUM(balance) FROM accounts WHERE system_name = 'issuance'"
        ).fetchone()
        assert total == -1025 * big
        assert not g.verify_ledger()
        return
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.award_points("one-too-many", big, currency="points", source="quest")
    assert not g.verify_ledger()
