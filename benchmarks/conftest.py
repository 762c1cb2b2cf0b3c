"""Fixtures for the pytest-benchmark cases: engines on a file database under a temp dir.

Every engine uses the defaults the library ships (WAL, ``synchronous=NORMAL``) and the
system clock, opened with ``load_entrypoints=False`` so installed plugins cannot skew a run.
Cases go through the ``bench`` fixture: ``benchmark.pedantic`` with a fixed number of
rounds of one call each, so a run is bounded; under ``--benchmark-disable`` each case runs
its function once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from gamification_sdk import Config, Gamification, LevelsConfig

USERS = 1_000
FUNDS = 1_000_000
CURRENCY = "points"
ROUNDS = 1_000
WARMUP = 50

Bench = Callable[[Callable[[], Any]], Any]


def _open(path: Path, config: Config | None = None) -> Gamification:
    return Gamification.open(path, config=config, load_entrypoints=False)


@pytest.fixture
def bench(benchmark: BenchmarkFixture) -> Bench:
    """``bench(fn)``: time ``fn`` for ROUNDS rounds of one call after WARMUP warm-up calls."""

    def run(fn: Callable[[], Any]) -> Any:
        return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP)

    return run


@pytest.fixture
def users() -> list[str]:
    return [f"user{i:04d}" for i in range(USERS)]


@pytest.fixture
def next_user(users: list[str]) -> Callable[[], str]:
    """The next user of a round-robin over the 1,000 users."""
    it = itertools.cycle(users)
    return lambda: next(it)


@pytest.fixture
def next_key() -> Callable[[], str]:
    """Unique, time-ordered idempotency keys: ``k000000000000``, ``k000000000001``, ..."""
    counter = itertools.count()
    return lambda: f"k{next(counter):012d}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Gamification]:
    """An empty engine on a file database."""
    g = _open(tmp_path / "bench.db")
    yield g
    g.close()


@pytest.fixture
def seeded(engine: Gamification, users: list[str]) -> Gamification:
    """1,000 existing users (1 XP each), each funded with 1,000,000 points."""
    with engine.batch():
        for user in users:
            engine.award_xp(user, 1, source="seed")
            engine.award_points(user, FUNDS, currency=CURRENCY, source="seed")
    return engine


@pytest.fixture
def leveling(tmp_path: Path, users: list[str]) -> Iterator[Gamification]:
    """A linear curve of 10 XP a level (up to 10,000) paying a points bonus at every level.

    Each user starts with 1 XP, so every further award of 10 XP crosses exactly one level
    and credits the bonus: for 1,000 users that is ~10 million level-ups before the cap.
    """
    config = Config(
        levels=LevelsConfig(curve="linear", base=10, max_level=10_000, level_up_bonus={CURRENCY: 5})
    )
    g = _open(tmp_path / "leveling.db", config)
    with g.batch():
        for user in users:
            g.award_xp(user, 1, source="seed")
    yield g
    g.close()
