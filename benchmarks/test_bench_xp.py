"""XP benchmarks: one committed transaction per call, on a file database."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from gamification_sdk import Gamification, Profile, XPAward

Bench = Callable[[Callable[[], Any]], Any]  # the ``bench`` fixture of conftest.py


def test_award_xp_new_user(bench: Bench, engine: Gamification) -> None:
    counter = itertools.count()

    def call() -> XPAward:
        return engine.award_xp(f"new{next(counter):09d}", 10, source="bench")

    award = bench(call)
    assert award.total_xp == 10 and not award.leveled_up


def test_award_xp_existing_user(
    bench: Bench, seeded: Gamification, next_user: Callable[[], str]
) -> None:
    award = bench(lambda: seeded.award_xp(next_user(), 1, source="bench"))
    assert award.total_xp >= 2


def test_award_xp_level_up(
    bench: Bench, leveling: Gamification, next_user: Callable[[], str]
) -> None:
    award = bench(lambda: leveling.award_xp(next_user(), 10, source="bench"))
    assert award.leveled_up and award.new_level == award.old_level + 1
    assert award.rewards and award.rewards[0].transaction_ids


def test_award_xp_with_key(
    bench: Bench,
    seeded: Gamification,
    next_user: Callable[[], str],
    next_key: Callable[[], str],
) -> None:
    award = bench(
        lambda: seeded.award_xp(next_user(), 1, source="bench", idempotency_key=next_key())
    )
    assert award.idempotency_key is not None


def test_award_xp_idempotent_repeat(bench: Bench, seeded: Gamification) -> None:
    first = seeded.award_xp("user0000", 5, source="bench", idempotency_key="repeat")
    again = bench(lambda: seeded.award_xp("user0000", 5, source="bench", idempotency_key="repeat"))
    assert again == first
    assert seeded.profile("user0000").xp == first.total_xp


def test_profile_read(bench: Bench, seeded: Gamification, next_user: Callable[[], str]) -> None:
    profile: Profile = bench(lambda: seeded.profile(next_user()))
    assert profile.xp >= 1 and profile.balances["points"].balance > 0
