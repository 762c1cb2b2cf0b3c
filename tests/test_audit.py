"""verify_ledger(): empty on a healthy database, and each kind of corruption is reported.

Every corruption is made by hand with raw SQL on a fresh engine, bypassing the schema's
CHECK constraints (``PRAGMA ignore_check_constraints``) and foreign keys where needed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LedgerReport,
    LevelReward,
    LevelsConfig,
)

CONFIG = Config(
    currencies=(CurrencyConfig("coins"), CurrencyConfig("gems", spendable=False)),
    levels=LevelsConfig(
        curve="linear",
        base=100,
        max_level=10,
        rewards=(LevelReward(level=2, points={"coins": 25}, titles=("Novice",)),),
        level_up_bonus={"gems": 3},
    ),
)


@pytest.fixture
def e(make_engine: Callable[..., Gamification], clock: FakeClock) -> Gamification:
    """An engine with a bit of every kind of activity."""
    engine = make_engine(config=CONFIG)
    engine.award_points("alice", 500, currency="coins", source="quest")
    engine.award_points("bob", 100, currency="coins", source="quest")
    engine.award_points("alice", 40, currency="gems", source="quest")
    spend = engine.spend_points("alice", 120, currency="coins", source="shop")
    engine.transfer_points("alice", "bob", 60, currency="coins")
    engine.points.adjust("bob", -10, currency="coins", reason="typo")
    engine.points.adjust("carol", 15, currency="coins", reason="welcome")
    engine.award_xp("alice", 250, source="quest")  # two level-ups: rewards in coins and gems
    engine.award_xp("bob", 30, source="quest")
    committed = engine.reserve_points("alice", 50, currency="coins", ttl=60)
    engine.commit_reservation(committed.id)
    released = engine.reserve_points("bob", 20, currency="coins", ttl=60)
    engine.release_reservation(released.id)
    engine.reserve_points("bob", 5, currency="coins", ttl=30)  # will expire
    engine.reserve_points("alice", 70, currency="coins", ttl=3600)  # stays active
    clock.advance(seconds=45)
    assert len(engine.points.expire_reservations()) == 1
    engine.refund(spend.id, amount=20)
    return engine


def one(engine: Gamification, sql: str, *args: object) -> tuple:  # type: ignore[type-arg]
    row = engine.db.conn.execute(sql, args).fetchone()
    assert row is not None, sql
    return tuple(row)


@contextmanager
def tampering(engine: Gamification) -> Iterator[sqlite3.Connection]:
    """The raw connection with CHECK constraints and foreign keys off, for one corruption.

    PostgreSQL cannot switch CHECK constraints off: the engine's schema (this test's own)
    loses them for good, and foreign keys are off while the session replicates."""
    conn = engine.db.conn
    if not isinstance(conn, sqlite3.Connection):
        checks = conn.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'c' AND connamespace = current_schema()::regnamespace"
        ).fetchall()
        for table, name in checks:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        conn.execute("SET session_replication_role = replica")
        try:
            yield conn  # type: ignore[misc]
        finally:
            conn.execute("SET session_replication_role = DEFAULT")
        return
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        yield conn
    finally:
        conn.execute("PRAGMA ignore_check_constraints = OFF")
        conn.execute("PRAGMA foreign_keys = ON")


def report_of(engine: Gamification, kind: str) -> LedgerReport:
    report = engine.verify_ledger()
    assert report, "a corrupted ledger was reported as healthy"
    assert not report.ok
    assert len(report) == len(report.problems) >= 1
    assert kind in report.kinds(), report
    for problem in report.problems:
        assert problem.kind in report.kinds()
        assert problem.detail
    return report


def problems(report: LedgerReport, kind: str) -> list:  # type: ignore[type-arg]
    return [p for p in report.problems if p.kind == kind]


def account(engine: Gamification, user: str, currency: str = "coins") -> int:
    return int(
        one(
            engine,
            "SELECT id FROM accounts WHERE user_id = ? AND currency = ? AND system_name IS NULL",
            user,
            currency,
        )[0]
    )


# -- healthy ----------------------------------------------------------------------------------


def test_healthy_ledger_is_empty(e: Gamification) -> None:
    report = e.verify_ledger()
    assert not report
    assert report.ok
    assert len(report) == 0
    assert report.problems == ()
    assert report.kinds() == set()
    assert report.checked_transactions == one(e, "SELECT COUNT(*) FROM transactions")[0]
    assert report.checked_accounts == one(e, "SELECT COUNT(*) FROM accounts")[0]
    assert report.checked_transactions >= 12
    # The fixture really did exercise what it claims.
    types = {row[0] for row in e.db.conn.execute("SELECT DISTINCT type FROM transactions")}
    assert types >= {"earned", "spent", "transfer", "admin_adjustment", "purchase", "refund"}
    statuses = {row[0] for row in e.db.conn.execute("SELECT status FROM reservations")}
    assert statuses == {"active", "committed", "released", "expired"}
    assert e.profile("alice").level == 3
    assert e.points.balances("alice")["gems"].balance == 40 + 3 + 3


def test_a_fresh_engine_is_healthy(g: Gamification) -> None:
    report = g.verify_ledger()
    assert report.ok and not report
    assert report.checked_transactions == 0


def test_verify_is_read_only(e: Gamification) -> None:
    before = e.dump()
    e.verify_ledger()
    assert e.dump() == before


# -- one corruption at a time -----------------------------------------------------------------


def test_unbalanced_transaction(e: Gamification) -> None:
    tid, acc = one(
        e,
        "SELECT transaction_id, account_id FROM entries WHERE user_id = 'alice' "
        "ORDER BY transaction_id LIMIT 1",
    )
    with tampering(e) as conn:
        # The entry's own arithmetic still holds; only the transaction no longer sums to 0.
        conn.execute(
            "UPDATE entries SET amount = amount + 7, balance_after = balance_after + 7 "
            "WHERE transaction_id = ? AND account_id = ?",
            (tid, acc),
        )
    report = report_of(e, "unbalanced_transaction")
    found = problems(report, "unbalanced_transaction")
    assert [p.transaction_id for p in found] == [tid]
    assert "bad_entry_arithmetic" not in report.kinds()


def test_balance_mismatch(e: Gamification) -> None:
    acc = account(e, "bob")
    with tampering(e) as conn:
        # lifetime_earned moves with it, so only the stored balance disagrees with the entries.
        conn.execute(
            "UPDATE accounts SET balance = balance + 5, lifetime_earned = lifetime_earned + 5 "
            "WHERE id = ?",
            (acc,),
        )
    report = report_of(e, "balance_mismatch")
    found = problems(report, "balance_mismatch")
    assert [(p.account_id, p.user_id) for p in found] == [(acc, "bob")]
    assert report.kinds() == {"balance_mismatch"}


def test_balance_mismatch_on_a_system_account(e: Gamification) -> None:
    acc = one(e, "SELECT id FROM accounts WHERE system_name = 'sink' AND currency = 'coins'")[0]
    with tampering(e) as conn:
        conn.execute("UPDATE accounts SET balance = balance - 1 WHERE id = ?", (acc,))
    found = problems(report_of(e, "balance_mismatch"), "balance_mismatch")
    assert [p.account_id for p in found] == [acc]


def test_broken_chain(e: Gamification) -> None:
    acc = account(e, "alice")
    # An entry in the middle of alice's chain: shift both ends by the same amount, so the
    # entry's arithmetic, its transaction's sum and the account's sum of amounts all hold.
    tid = one(
        e,
        "SELECT transaction_id FROM entries WHERE account_id = ? "
        "ORDER BY transaction_id LIMIT 1 OFFSET 2",
        acc,
    )[0]
    with tampering(e) as conn:
        conn.execute(
            "UPDATE entries SET balance_before = balance_before + 3, "
            "balance_after = balance_after + 3 WHERE transaction_id = ? AND account_id = ?",
            (tid, acc),
        )
    report = report_of(e, "broken_chain")
    assert report.kinds() == {"broken_chain"}
    found = problems(report, "broken_chain")
    # The tampered entry does not follow its predecessor, and its successor does not follow it.
    assert {p.account_id for p in found} == {acc}
    assert tid in {p.transaction_id for p in found}
    assert len(found) == 2


def test_negative_balance(e: Gamification) -> None:
    acc = account(e, "carol")
    with tampering(e) as conn:
        conn.execute(
            "UPDATE accounts SET balance = -5, lifetime_earned = lifetime_earned - 20 WHERE id = ?",
            (acc,),
        )
    report = report_of(e, "negative_balance")
    found = problems(report, "negative_balance")
    assert [(p.account_id, p.user_id) for p in found] == [(acc, "carol")]


def test_negative_balance_in_an_entry(e: Gamification) -> None:
    acc = account(e, "carol")
    tid = one(e, "SELECT transaction_id FROM entries WHERE account_id = ?", acc)[0]
    with tampering(e) as conn:
        conn.execute(
            "UPDATE entries SET balance_before = balance_before - 100, "
            "balance_after = balance_after - 100 WHERE account_id = ?",
            (acc,),
        )
    found = problems(report_of(e, "negative_balance"), "negative_balance")
    assert [(p.transaction_id, p.user_id) for p in found] == [(tid, "carol")]


def test_held_mismatch(e: Gamification) -> None:
    acc = account(e, "bob")  # bob has no active hold
    with tampering(e) as conn:
        conn.execute("UPDATE accounts SET held = held + 1 WHERE id = ?", (acc,))
    report = report_of(e, "held_mismatch")
    assert report.kinds() == {"held_mismatch"}
    assert [p.account_id for p in problems(report, "held_mismatch")] == [acc]


def test_held_mismatch_when_an_active_hold_is_dropped(e: Gamification) -> None:
    acc = account(e, "alice")
    with tampering(e) as conn:
        conn.execute("UPDATE reservations SET status = 'released' WHERE status = 'active'")
    found = problems(report_of(e, "held_mismatch"), "held_mismatch")
    assert [p.account_id for p in found] == [acc]


def test_held_above_balance(e: Gamification) -> None:
    acc = account(e, "alice")
    balance = one(e, "SELECT balance FROM accounts WHERE id = ?", acc)[0]
    with tampering(e) as conn:
        conn.execute("UPDATE accounts SET held = ? WHERE id = ?", (balance + 1, acc))
        conn.execute("UPDATE reservations SET amount = ? WHERE status = 'active'", (balance + 1,))
    found = problems(report_of(e, "held_mismatch"), "held_mismatch")
    assert [p.account_id for p in found] == [acc]


def test_lifetime_mismatch(e: Gamification) -> None:
    acc = account(e, "alice", "gems")
    with tampering(e) as conn:
        conn.execute("UPDATE accounts SET lifetime_spent = lifetime_spent + 1 WHERE id = ?", (acc,))
    report = report_of(e, "lifetime_mismatch")
    assert report.kinds() == {"lifetime_mismatch"}
    assert [p.account_id for p in problems(report, "lifetime_mismatch")] == [acc]


def test_refund_mismatch(e: Gamification) -> None:
    spend = one(e, "SELECT id FROM transactions WHERE type = 'spent'")[0]
    with tampering(e) as conn:
        conn.execute("UPDATE transactions SET refunded = refunded + 1 WHERE id = ?", (spend,))
    report = report_of(e, "refund_mismatch")
    assert report.kinds() == {"refund_mismatch"}
    assert [p.transaction_id for p in problems(report, "refund_mismatch")] == [spend]


def test_refund_mismatch_when_refunded_exceeds_the_amount(e: Gamification) -> None:
    purchase = one(e, "SELECT id, amount FROM transactions WHERE type = 'purchase'")
    with tampering(e) as conn:
        conn.execute(
            "UPDATE transactions SET refunded = ? WHERE id = ?", (purchase[1] + 1, purchase[0])
        )
    found = problems(report_of(e, "refund_mismatch"), "refund_mismatch")
    assert [p.transaction_id for p in found] == [purchase[0]]


def test_xp_mismatch(e: Gamification) -> None:
    with tampering(e) as conn:
        conn.execute("UPDATE profiles SET xp = xp + 1 WHERE user_id = 'bob'")
    report = report_of(e, "xp_mismatch")
    assert report.kinds() == {"xp_mismatch"}
    assert [p.user_id for p in problems(report, "xp_mismatch")] == ["bob"]


def test_xp_mismatch_on_a_profile_without_xp_history(e: Gamification) -> None:
    with tampering(e) as conn:
        conn.execute("UPDATE profiles SET xp = 10 WHERE user_id = 'carol'")
    found = problems(report_of(e, "xp_mismatch"), "xp_mismatch")
    assert [p.user_id for p in found] == ["carol"]


def test_too_few_entries(e: Gamification) -> None:
    tid = one(e, "SELECT id FROM transactions WHERE type = 'transfer'")[0]
    with tampering(e) as conn:
        # bob's side, by his account: on PostgreSQL both entries carry the sender's user_id.
        conn.execute(
            "DELETE FROM entries WHERE transaction_id = ? AND account_id = ?",
            (tid, account(e, "bob")),
        )
    report = report_of(e, "too_few_entries")
    assert [p.transaction_id for p in problems(report, "too_few_entries")] == [tid]
    assert "unbalanced_transaction" in report.kinds()


def test_currency_mismatch(e: Gamification) -> None:
    tid = one(e, "SELECT id FROM transactions WHERE type = 'spent'")[0]
    with tampering(e) as conn:
        conn.execute("UPDATE transactions SET currency = 'gems' WHERE id = ?", (tid,))
    report = report_of(e, "currency_mismatch")
    assert {p.transaction_id for p in problems(report, "currency_mismatch")} == {tid}


def test_bad_entry_arithmetic(e: Gamification) -> None:
    tid, acc = one(
        e,
        "SELECT transaction_id, account_id FROM entries WHERE user_id = 'bob' "
        "ORDER BY transaction_id DESC LIMIT 1",
    )
    with tampering(e) as conn:
        conn.execute(
            "UPDATE entries SET balance_after = balance_after + 1 "
            "WHERE transaction_id = ? AND account_id = ?",
            (tid, acc),
        )
    report = report_of(e, "bad_entry_arithmetic")
    found = problems(report, "bad_entry_arithmetic")
    assert [(p.transaction_id, p.account_id) for p in found] == [(tid, acc)]


def test_several_corruptions_are_all_reported(e: Gamification) -> None:
    with tampering(e) as conn:
        conn.execute("UPDATE profiles SET xp = xp + 1 WHERE user_id = 'alice'")
        conn.execute(
            "UPDATE accounts SET lifetime_spent = lifetime_spent + 1 "
            "WHERE user_id = 'carol' AND system_name IS NULL"
        )
        conn.execute("UPDATE transactions SET refunded = 0 WHERE type = 'spent'")
    assert e.verify_ledger().kinds() == {"xp_mismatch", "lifetime_mismatch", "refund_mismatch"}


def test_the_schema_refuses_the_corruptions_on_its_own(e: Gamification) -> None:
    """Without the pragma, the CHECK constraints stop a negative balance or held > balance."""
    conn = e.db.conn
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE accounts SET balance = -1 WHERE user_id = 'carol'")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE accounts SET held = balance + 1 WHERE user_id = 'bob'")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE entries SET balance_after = balance_after + 1 WHERE user_id = 'bob'")
    assert not e.verify_ledger()


# -- scale ------------------------------------------------------------------------------------


TUPLES_READ = (
    "SELECT COALESCE(SUM(seq_tup_read + COALESCE(idx_tup_fetch, 0)), 0) "
    "FROM pg_stat_xact_user_tables"
)


def audit_steps(make_engine: Callable[..., Gamification], transactions: int) -> int:
    """SQLite VM steps (in thousands) one verify_ledger() takes on a ledger of this size; on
    PostgreSQL, the rows its plans read (the transaction's own table statistics).

    Counted rather than timed, so the measure is deterministic.
    """
    engine = make_engine()
    with engine.batch():
        for i in range(transactions // 2):
            engine.award_points(f"u{i % 10}", 5, currency="points", source="quest")
            engine.spend_points(f"u{i % 10}", 3, currency="points", source="shop")
    if not isinstance(engine.db.conn, sqlite3.Connection):
        # In one transaction, whose statistics count only what it read.
        with engine.batch():
            (before,) = engine.db.execute(TUPLES_READ).fetchone()
            assert engine.verify_ledger().ok
            (after,) = engine.db.execute(TUPLES_READ).fetchone()
        return int(after - before)
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    engine.db.conn.set_progress_handler(tick, 1000)
    try:
        assert engine.verify_ledger().ok
    finally:
        engine.db.conn.set_progress_handler(None, 0)
    return ticks


def test_verify_ledger_scales_linearly(make_engine: Callable[..., Gamification]) -> None:
    small = audit_steps(make_engine, 1000)
    large = audit_steps(make_engine, 2000)
    # Twice the ledger should cost about twice the work (~2.0); a full scan per
    # transaction costs four times as much.
    assert large < 3 * small, (small, large)
