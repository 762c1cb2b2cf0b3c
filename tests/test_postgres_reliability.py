"""The reliability suite's ideas on a PostgreSQL server: the server restarted while writers
run, and a client process killed in the middle of a transaction. Each on a throwaway
cluster of its own, since it stops the server or kills its clients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gamification_sdk import Gamification
from gamification_sdk.errors import DatabaseUnreachable

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "gamification"


@pytest.fixture
def own_cluster(postgres_url: str) -> Iterator[object]:
    """A throwaway cluster of these tests' own, which they may restart or whose clients they
    kill, also when the suite runs against your server (``postgres_url`` first: psycopg)."""
    import pg_cluster

    try:
        cluster = pg_cluster.start()
    except pg_cluster.ClusterUnavailable as exc:
        pytest.skip(f"no PostgreSQL server binaries to start a cluster of our own: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


def test_every_acknowledged_write_survives_a_restart_under_writers(own_cluster: object) -> None:
    """Three app servers award with keys while the server restarts. A write that raised
    ``DatabaseUnreachable`` is retried with its key until it is acknowledged; afterwards
    every acknowledged award is there exactly once and the ledger verifies."""
    cluster: object = own_cluster
    url: str = cluster.url  # type: ignore[attr-defined]
    Gamification.open(url, load_entrypoints=False).close()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []
    interrupted: list[str] = []

    def writer(n: int) -> None:
        try:
            with Gamification.open(url, load_entrypoints=False) as g:
                i = 0
                while not stop.is_set() or i < 30:
                    key = f"w{n}-{i}"
                    for _ in range(400):  # the server is back within seconds
                        try:
                            g.award_points(
                                f"u{n}", 1, currency="points", source="t", idempotency_key=key
                            )
                            break
                        except DatabaseUnreachable:
                            with lock:
                                interrupted.append(key)
                            time.sleep(0.01)
                    else:
                        raise AssertionError(f"{key} never went through")
                    with lock:
                        acknowledged.append(key)
                    i += 1
        except BaseException as exc:  # reported on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    cluster.restart()  # type: ignore[attr-defined]
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert not failures, failures[0]
    assert interrupted, "the restart cut no write short: the test proved nothing"
    with Gamification.open(url, load_entrypoints=False) as g:
        for n in range(3):
            mine = [key for key in acknowledged if key.startswith(f"w{n}-")]
            assert g.balance(f"u{n}", "points") == len(mine) == len(set(mine))
        assert g.verify_ledger().ok


KILLED_CLIENT = """
import sys, time
from gamification_sdk import Gamification
g = Gamification.open(sys.argv[1], load_entrypoints=False)
with g.batch():
    for i in range(20):
        g.award_points("ada", 5, currency="points", source="t", idempotency_key=f"k{i}")
        g.award_xp("ada", 5, source="t")
    print("inside", flush=True)
    time.sleep(60)
"""


def test_a_client_killed_mid_transaction_leaves_nothing(own_cluster: object) -> None:
    url: str = own_cluster.url  # type: ignore[attr-defined]
    with Gamification.open(url, load_entrypoints=False) as g:
        g.award_points("ada", 1, currency="points", source="t", idempotency_key="before")
    client = subprocess.Popen(
        [sys.executable, "-c", KILLED_CLIENT, url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "inside"
        client.send_signal(signal.SIGKILL)
    finally:
        client.wait(timeout=30)
    with Gamification.open(url, load_entrypoints=False) as g:
        # The server rolled the open transaction back when its session went away.
        for _ in range(200):
            if g.balance("ada", "points") == 1 and g.profile("ada").xp == 0:
                break
            time.sleep(0.01)
        assert g.balance("ada", "points") == 1
        assert g.profile("ada").xp == 0
        # The keys of the lost batch are free: the same calls now write once.
        g.award_points("ada", 5, currency="points", source="t", idempotency_key="k0")
        g.award_points("ada", 5, currency="points", source="t", idempotency_key="k0")
        assert g.balance("ada", "points") == 6
        assert g.verify_ledger().ok
