"""Keyed ledger writes keep their key in their own transaction row (m017_ledger_keys).

A keyed award, spend, transfer, adjustment or refund stores its operation and the fingerprint
of its arguments on the transaction row that already holds ``call:<key>``, instead of a row
in ``idempotency_keys``. These tests pin what must not change with that: a replay returns the
identical result and writes nothing, the same key with other arguments (or another operation)
is refused, keys written by older versions (in the registry) still replay after the
migration, and random keyed sequences with repeated keys apply each key once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import FakeClock, Gamification, Transaction, errors

KEY = "ledger-7"
Make = Callable[..., Gamification]


def _registry(g: Gamification) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in g.db.execute("SELECT key, operation FROM idempotency_keys")]


def _row_keys(g: Gamification) -> list[tuple[str, str | None, bool]]:
    """(stored key, operation, has a fingerprint) of every keyed transaction row."""
    return [
        (r[0], r[1], r[2] is not None)
        for r in g.db.execute(
            "SELECT idempotency_key, operation, fingerprint FROM transactions "
            "WHERE idempotency_key IS NOT NULL ORDER BY id"
        )
    ]


def _changes(g: Gamification) -> int:
    return g.db.conn.total_changes


def _funded(g: Gamification) -> Transaction:
    return g.award_points("alice", 100, currency="points", source="seed")


# name -> (the keyed call, the same key with one argument changed)
CALLS: dict[str, Callable[[Gamification], tuple[Callable[[], Any], Callable[[], Any]]]] = {
    "award_points": lambda g: (
        lambda: g.award_points("alice", 5, currency="points", source="q", idempotency_key=KEY),
        lambda: g.award_points("alice", 6, currency="points", source="q", idempotency_key=KEY),
    ),
    "spend_points": lambda g: (
        lambda: g.spend_points("alice", 5, currency="points", source="s", idempotency_key=KEY),
        lambda: g.spend_points("alice", 5, currency="points", source="t", idempotency_key=KEY),
    ),
    "transfer_points": lambda g: (
        lambda: g.points.transfer("alice", "bob", 5, currency="points", idempotency_key=KEY),
        lambda: g.points.transfer("alice", "carol", 5, currency="points", idempotency_key=KEY),
    ),
    "adjust_points": lambda g: (
        lambda: g.points.adjust("alice", -5, currency="points", reason="r", idempotency_key=KEY),
        lambda: g.points.adjust("alice", 5, currency="points", reason="r", idempotency_key=KEY),
    ),
    "refund": lambda g: (
        lambda: g.points.refund(_spent(g), amount=2, idempotency_key=KEY),
        lambda: g.points.refund(_spent(g), amount=3, idempotency_key=KEY),
    ),
}


def _spent(g: Gamification) -> int:
    """The id of alice's one spend (made by the refund case's setup)."""
    return int(g.db.execute("SELECT id FROM transactions WHERE type = 'spent'").fetchone()[0])


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_a_keyed_ledger_write_keeps_its_key_in_its_transaction_row(
    g: Gamification, clock: FakeClock, operation: str
) -> None:
    _funded(g)
    if operation == "refund":
        g.spend_points("alice", 10, currency="points", source="shop")
    call, changed = CALLS[operation](g)
    first = call()
    assert _registry(g) == []
    assert _row_keys(g)[-1] == (f"call:{KEY}", operation, True)
    clock.advance(minutes=5)
    changes = _changes(g)
    with unchanged(g):
        again = call()
        with pytest.raises(errors.IdempotencyConflict) as info:
            changed()
    assert _changes(g) == changes  # the replay and the refusal wrote nothing at all
    assert again == first and type(again) is type(first)
    assert (info.value.operation, info.value.original_operation) == (operation, operation)
    assert not g.verify_ledger()


def test_a_replay_runs_no_write_statement(g: Gamification, backend: str) -> None:
    """On PostgreSQL the award's first write goes in the key lookup's round trip (Runtime.write's
    ``ahead``): a replay then rolls it back, unseen, instead of committing."""
    _funded(g)
    first = g.award_points("alice", 5, currency="points", source="q", idempotency_key=KEY)
    seen: list[str] = []
    g.db.conn.set_trace_callback(seen.append)
    try:
        with unchanged(g):
            again = g.award_points("alice", 5, currency="points", source="q", idempotency_key=KEY)
    finally:
        g.db.conn.set_trace_callback(None)
    assert again == first
    writes = [s for s in seen if s.split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}]
    if backend == "postgresql":
        assert [s.split()[0] for s in writes] == ["UPDATE"]
        ends = [s for s in seen[seen.index(writes[0]) :] if s in ("COMMIT", "ROLLBACK")]
        assert ends[0] == "ROLLBACK"
    else:
        assert writes == []


def test_ledger_keys_share_one_namespace_with_every_other_write(g: Gamification) -> None:
    _funded(g)
    g.award_points("alice", 5, currency="points", source="q", idempotency_key=KEY)
    with unchanged(g), pytest.raises(errors.IdempotencyConflict) as info:
        g.spend_points("alice", 5, currency="points", source="q", idempotency_key=KEY)
    assert (info.value.operation, info.value.original_operation) == (
        "spend_points",
        "award_points",
    )
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.award_xp("alice", 5, source="q", idempotency_key=KEY)
    g.award_xp("alice", 5, source="q", idempotency_key="xp-key")
    with unchanged(g), pytest.raises(errors.IdempotencyConflict) as info:
        g.award_points("alice", 5, currency="points", source="q", idempotency_key="xp-key")
    assert info.value.original_operation == "award_xp"
    g.points.reserve("alice", 5, currency="points", ttl=60, idempotency_key="hold")
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.spend_points("alice", 5, currency="points", source="q", idempotency_key="hold")


def test_a_refused_write_does_not_claim_its_key(g: Gamification) -> None:
    with unchanged(g), pytest.raises(errors.InsufficientFunds):
        g.spend_points("alice", 5, currency="points", source="q", idempotency_key=KEY)
    g.award_points("alice", 5, currency="points", source="q")
    spent = g.spend_points("alice", 5, currency="points", source="q", idempotency_key=KEY)
    assert spent.balance_after == 0
    assert _row_keys(g) == [(f"call:{KEY}", "spend_points", True)]


def test_deleting_a_user_forgets_the_keys_in_their_rows(g: Gamification) -> None:
    g.award_points("zed", 5, currency="points", source="q", idempotency_key="zed-award")
    g.award_points("bob", 5, currency="points", source="q", idempotency_key="bob-award")
    g.privacy.delete("zed")
    assert [k for k, _, _ in _row_keys(g)] == ["call:bob-award"]
    again = g.award_points("zed", 5, currency="points", source="q", idempotency_key="zed-award")
    assert again.balance_after == 5  # a new call: the old one is forgotten with the user
    assert not g.verify_ledger()


def test_ledger_keys_from_before_the_transaction_row_kept_them_still_replay(
    clock: FakeClock, db_path: Path
) -> None:
    import sqlite_utils

    from gamification_sdk.runtime.idempotency import fingerprint
    from gamification_sdk.storage.schema import migrations

    # A file as versions before m017 wrote it: an award and a spend, keys in the registry.
    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m017_ledger_keys")
    when = START.isoformat(timespec="microseconds")
    db.execute(
        "INSERT INTO profiles (user_id, xp, level, created_at, updated_at) "
        "VALUES ('veteran', 0, 1, ?, ?)", [when, when],
    )  # fmt: skip
    db.execute(
        "INSERT INTO accounts (id, system_name, currency, balance, created_at) VALUES "
        "(1, 'issuance', 'points', -10, ?), (2, 'sink', 'points', 4, ?)", [when, when],
    )  # fmt: skip
    db.execute(
        "INSERT INTO accounts (id, user_id, currency, balance, lifetime_earned, lifetime_spent, "
        "created_at) VALUES (3, 'veteran', 'points', 6, 10, 4, ?)", [when],
    )  # fmt: skip
    db.execute(
        "INSERT INTO transactions (id, type, currency, amount, user_id, source, "
        "idempotency_key, created_at) VALUES "
        "(1, 'earned', 'points', 10, 'veteran', 'q', 'call:old-award', ?), "
        "(2, 'spent', 'points', 4, 'veteran', 's', 'call:old-spend', ?)", [when, when],
    )  # fmt: skip
    db.execute(
        "INSERT INTO entries (transaction_id, account_id, user_id, amount, balance_before, "
        "balance_after) VALUES (1, 3, 'veteran', 10, 0, 10), (1, 1, NULL, -10, 0, -10), "
        "(2, 3, 'veteran', -4, 10, 6), (2, 2, NULL, 4, 0, 4)"
    )
    award = fingerprint("veteran", 10, "points", "q", None, None, None, None, "earned")
    spend = fingerprint("veteran", 4, "points", "s", None, None, None, None, "spent")
    db.execute(
        "INSERT INTO idempotency_keys (key, operation, fingerprint, result, created_at) VALUES "
        "('old-award', 'award_points', ?, '[\"veteran\",1]', ?), "
        "('old-spend', 'spend_points', ?, '[\"veteran\",2]', ?)", [award, when, spend, when],
    )  # fmt: skip
    db.conn.commit()
    db.close()
    clock.advance(days=3)
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        assert not g.verify_ledger()
        with unchanged(g):
            old_award = g.award_points(
                "veteran", 10, currency="points", source="q", idempotency_key="old-award"
            )
            old_spend = g.spend_points(
                "veteran", 4, currency="points", source="s", idempotency_key="old-spend"
            )
            assert (old_award.id, old_award.balance_after, old_award.created_at) == (1, 10, START)
            assert (old_spend.id, old_spend.balance_before, old_spend.balance_after) == (2, 10, 6)
            assert old_spend.idempotency_key == "old-spend"
            with pytest.raises(errors.IdempotencyConflict):
                g.award_points(
                    "veteran", 11, currency="points", source="q", idempotency_key="old-award"
                )
            with pytest.raises(errors.IdempotencyConflict):
                g.award_points(
                    "veteran", 4, currency="points", source="s", idempotency_key="old-spend"
                )
        new = g.award_points("veteran", 1, currency="points", source="q", idempotency_key="new")
        assert new.balance_after == 7
        assert _row_keys(g) == [
            ("call:old-award", None, False),
            ("call:old-spend", None, False),
            ("call:new", "award_points", True),
        ]
        assert _registry(g) == [("old-award", "award_points"), ("old-spend", "spend_points")]
        assert not g.verify_ledger()


# -- random keyed sequences with repeated keys ------------------------------------------------

USERS = ("alice", "bob")
KEYS = ("k1", "k2", "k3", "k4")
steps = st.lists(
    st.tuples(
        st.sampled_from(("award", "spend", "transfer", "refund")),
        st.sampled_from(USERS),
        st.integers(min_value=1, max_value=40),
        st.sampled_from(KEYS) | st.none(),
    ),
    max_size=30,
)
EXPECTED = (
    errors.IdempotencyConflict,
    errors.InsufficientFunds,
    errors.NotRefundable,
    errors.NotFound,
)


def _step(g: Gamification, kind: str, user: str, amount: int, key: str | None) -> Transaction:
    if kind == "award":
        return g.award_points(user, amount, currency="points", source="p", idempotency_key=key)
    if kind == "spend":
        return g.spend_points(user, amount, currency="points", source="p", idempotency_key=key)
    if kind == "transfer":
        other = USERS[1 - USERS.index(user)]
        return g.points.transfer(user, other, amount, currency="points", idempotency_key=key)
    return g.points.refund(amount, amount=1, idempotency_key=key)


def _latest_spend(g: Gamification, user: str) -> int:
    """The id of the user's latest spend, or one no transaction has (NotFound)."""
    row = g.db.execute(
        "SELECT MAX(id) FROM transactions WHERE user_id = ? AND type = 'spent'", [user]
    ).fetchone()
    return int(row[0] or 10**9)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=steps)
def test_random_keyed_writes_apply_each_key_once(
    fresh_engine: Callable[..., AbstractContextManager[Gamification]],
    backend: str,
    steps: list[tuple[str, str, int, str | None]],
) -> None:
    with fresh_engine(clock=FakeClock(START)) as g:
        # (scope, key) -> the arguments and result of the call that applied it. The file has
        # one namespace of keys; PostgreSQL one per user, the owner of the call (the sender,
        # the refunded spend's user), and "" for a call by an id that names no row.
        applied: dict[tuple[str, str], tuple[tuple[object, ...], Transaction]] = {}
        for kind, user, amount, step_key in steps:
            if kind == "refund":  # one point back from the user's latest spend
                amount = _latest_spend(g, user)
            args = (kind, user, amount)
            owner = "" if kind == "refund" and amount == 10**9 else user
            key = None if step_key is None else (owner if backend == "postgresql" else "", step_key)
            changes = _changes(g)
            try:
                result: Transaction | type[Exception] = _step(g, kind, user, amount, step_key)
            except EXPECTED as exc:
                result = type(exc)
                assert _changes(g) == changes  # a refused call wrote nothing
            if key is None:
                continue
            if key not in applied:
                if isinstance(result, Transaction):
                    applied[key] = (args, result)
                continue
            # The key was applied: the same call replays it exactly, anything else conflicts.
            earlier_args, earlier = applied[key]
            if args == earlier_args:
                assert result == earlier
            else:
                assert result is errors.IdempotencyConflict
        stored = [
            r[0]
            for r in g.db.execute(
                "SELECT idempotency_key FROM transactions WHERE idempotency_key LIKE 'call:%'"
            )
        ]
        assert sorted(stored) == sorted(f"call:{k}" for _, k in applied)  # each key once
        assert _registry(g) == []
        mismatched = g.db.execute(
            "SELECT a.id FROM accounts a LEFT JOIN entries e ON e.account_id = a.id "
            "GROUP BY a.id, a.balance HAVING a.balance <> COALESCE(SUM(e.amount), 0)"
        ).fetchall()
        assert mismatched == []
        assert not g.verify_ledger()


def test_award_and_spend_rows_hold_their_arguments_whichever_columns_they_leave_out(
    g: Gamification, backend: str
) -> None:
    """SQLite writes an award's or a spend's row with no reference, description or metadata
    (most of them) by a statement that names fewer columns (storage/ledger.py
    NEW_KEYED_TRANSACTION, NEW_PLAIN_TRANSACTION): the rows, their fingerprints and their
    entries are what the full statement writes."""
    from gamification_sdk.runtime.idempotency import fingerprint

    keyed = g.award_points("alice", 7, currency="points", source="q", idempotency_key="k1")
    plain = g.award_points("alice", 3, currency="points", source="q")
    spent = g.spend_points("alice", 2, currency="points", source="s", idempotency_key="k2")
    full = g.award_points(
        "alice", 4, currency="points", source="q", idempotency_key="k3",
        reference=("order", "9"), description="thanks", metadata={"a": 1},
    )  # fmt: skip
    rows = {
        r[0]: r[1:]
        for r in g.db.execute(
            "SELECT id, idempotency_key, operation, fingerprint, counterparty_id, reference_type, "
            "reference_id, description, metadata, refund_of FROM transactions"
        )
    }
    nothing = (None,) * 6
    assert rows[keyed.id][:2] == ("call:k1", "award_points") and rows[keyed.id][3:] == nothing
    assert bytes(rows[keyed.id][2]) == fingerprint(
        "alice", 7, "points", "q", None, None, None, None, "earned"
    )
    assert rows[plain.id] == (None, None, None, *nothing)
    assert rows[spent.id][:2] == ("call:k2", "spend_points") and rows[spent.id][3:] == nothing
    assert bytes(rows[spent.id][2]) == fingerprint(
        "alice", 2, "points", "s", None, None, None, None, "spent"
    )
    assert rows[full.id][3:] == (None, "order", "9", "thanks", '{"a":1}', None)
    # The system legs' entries have no owner on SQLite, the posting's owner on PostgreSQL.
    owners = {
        r[0]
        for r in g.db.execute(
            "SELECT e.user_id FROM entries e JOIN accounts a ON a.id = e.account_id "
            "WHERE a.system_name IS NOT NULL"
        )
    }
    assert owners == ({"alice"} if backend == "postgresql" else {None})
    with unchanged(g):
        again = g.award_points("alice", 7, currency="points", source="q", idempotency_key="k1")
        assert again == keyed
        assert (
            g.spend_points("alice", 2, currency="points", source="s", idempotency_key="k2") == spent
        )
    assert not g.verify_ledger()
