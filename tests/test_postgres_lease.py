"""The scheduler's lease (ops/jobs.py ``Lease``) on a real PostgreSQL server, taken by many
app servers at once: one statement decides, so exactly one wins each race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gamification_sdk.ops.jobs import Lease
from gamification_sdk.storage.backend import Backend
from gamification_sdk.storage.postgres import open_backend

SERVERS = 6
NOW = datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)
TTL = timedelta(minutes=5)


@pytest.fixture
def servers(postgres_url: str, pg_schema: str) -> Iterator[list[Backend]]:
    backends = [open_backend(postgres_url, schema=pg_schema) for _ in range(SERVERS)]
    yield backends
    for backend in backends:
        backend.close()


def race(servers: list[Backend], name: str, now: datetime) -> list[str | None]:
    """Every server asks for the lease at the same moment; what each got back."""
    results: list[str | None] = [None] * len(servers)
    start = threading.Barrier(len(servers))

    def take(i: int) -> None:
        start.wait()
        results[i] = Lease(servers[i], name).acquire(f"server-{i}", now, TTL)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_one_server_wins_each_race_and_the_others_name_it(servers: list[Backend]) -> None:
    for round_ in range(15):
        results = race(servers, f"race-{round_}", NOW)
        winners = [i for i, result in enumerate(results) if result is None]
        assert len(winners) == 1, results
        assert {result for result in results if result is not None} == {f"server-{winners[0]}"}
        assert Lease(servers[0], f"race-{round_}").holder(NOW) == f"server-{winners[0]}"


def test_an_expired_lease_goes_to_one_server_and_its_holder_renews(
    servers: list[Backend],
) -> None:
    lease = Lease(servers[0], "expiry")
    assert lease.acquire("server-0", NOW, TTL) is None
    assert lease.acquire("server-0", NOW + TTL / 2, TTL) is None  # renewed to NOW + 1.5 TTL
    assert Lease(servers[1], "expiry").acquire("server-1", NOW + TTL, TTL) == "server-0"
    later = NOW + 2 * TTL
    results = race(servers, "expiry", later)
    assert results.count(None) == 1
    assert Lease(servers[2], "expiry").holder(later) in {f"server-{i}" for i in range(SERVERS)}
    winner = f"server-{results.index(None)}"
    assert not Lease(servers[0], "expiry").release("nobody")
    assert Lease(servers[0], "expiry").release(winner)
    assert Lease(servers[3], "expiry").acquire("server-3", later, TTL) is None
