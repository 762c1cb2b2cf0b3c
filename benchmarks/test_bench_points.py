"""Points ledger benchmarks: one committed transaction per call, on a file database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gamification_sdk import Gamification, HistoryPage, Transaction

Bench = Callable[[Callable[[], Any]], Any]  # the ``bench`` fixture of conftest.py


def test_award_points(
    bench: Bench,
    seeded: Gamification,
    next_user: Callable[[], str],
    next_key: Callable[[], str],
) -> None:
    result: Transaction = bench(
        lambda: seeded.award_points(
            next_user(), 10, currency="points", source="bench", idempotency_key=next_key()
        )
    )
    assert result.type == "earned" and result.amount == 10


def test_spend_points(
    bench: Bench,
    seeded: Gamification,
    next_user: Callable[[], str],
    next_key: Callable[[], str],
) -> None:
    result: Transaction = bench(
        lambda: seeded.spend_points(
            next_user(), 10, currency="points", source="bench", idempotency_key=next_key()
        )
    )
    assert result.type == "spent" and result.amount == -10


def test_transfer_points(
    bench: Bench,
    seeded: Gamification,
    users: list[str],
    next_key: Callable[[], str],
) -> None:
    pairs = iter(range(10**9))

    def call() -> Transaction:
        i = next(pairs)
        sender, receiver = users[i % len(users)], users[(i + 1) % len(users)]
        return seeded.transfer_points(
            sender, receiver, 3, currency="points", idempotency_key=next_key()
        )

    result: Transaction = bench(call)
    assert result.type == "transfer" and result.amount == -3


def test_reserve_and_commit(
    bench: Bench, seeded: Gamification, next_user: Callable[[], str]
) -> None:
    def pair() -> Transaction:
        hold = seeded.reserve_points(next_user(), 7, currency="points", ttl=60)
        return seeded.commit_reservation(hold.id)

    result: Transaction = bench(pair)
    assert result.type == "purchase" and result.amount == -7


def test_history_page(bench: Bench, seeded: Gamification, users: list[str]) -> None:
    reader = users[0]
    with seeded.batch():
        for i in range(200):
            seeded.award_points(reader, 1 + i, currency="points", source="bench")
    page: HistoryPage = bench(lambda: seeded.history(reader, limit=50))
    assert len(page.transactions) == 50 and page.next_before is not None
