"""What the PostgreSQL benchmarks share: running one worker function in N processes at once
for a while and counting what they did, and a server to run against."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["rate", "server"]


def rate(
    worker: Callable[[str, str, int, float, Any], None],
    url: str,
    kind: str,
    processes: int,
    seconds: float,
) -> float:
    """Operations per second of ``processes`` spawned ``worker(url, kind, who, seconds,
    done)`` calls together, each putting its count on ``done``."""
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    workers = [
        context.Process(target=worker, args=(url, kind, who, seconds, done))
        for who in range(processes)
    ]
    for process in workers:
        process.start()
    total = sum(done.get() for _ in workers)
    for process in workers:
        process.join()
    return total / seconds


@contextmanager
def server(url: str | None) -> Iterator[str]:
    """``url``, or a throwaway cluster (tests/pg_cluster.py) for the duration."""
    if url is not None:
        yield url
        return
    import pg_cluster

    cluster = pg_cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()
