"""Leaderboards at scale: top-100, rank and around-me latency, award upkeep, memory, open time.

    .venv/bin/python benchmarks/leaderboards.py --users 1000000

Builds (once, cached in benchmarks/results/) a database of N users with heavy-tailed XP, lets
the engine start its ``xp`` board from those totals, then measures in fresh processes:

- p50/p99 of ``leaderboard("xp")`` (top 100), ``rank(user)`` and ``around(user, n=5)`` for
  random users, and the same rank as a plain ``COUNT(*) WHERE score > ?`` over an index;
- award_xp (keyed, one transaction each, on random users) with no board, and with the
  all-time, daily, weekly and monthly boards kept: the upkeep as a share of award_xp;
- resident memory after the reads, and the time to open an engine on the file.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gamification_sdk import (  # noqa: E402
    BoardConfig,
    Config,
    FakeClock,
    Gamification,
    LeaderboardsConfig,
)

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)
PUBLIC = LeaderboardsConfig(visibility="public", show_on_global=True)
NO_BOARDS = Config(leaderboards=LeaderboardsConfig(boards=()))


def config() -> Config:
    # One board definition throughout: a different one would make each open rebuild it.
    board = BoardConfig("xp", periods=("all_time", "daily", "weekly", "monthly"))
    return Config(leaderboards=LeaderboardsConfig(
        boards=(board,), visibility="public", show_on_global=True
    ))  # fmt: skip


def build(path: Path, users: int) -> float:
    """N profiles with Pareto-distributed XP, then the board started from them."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    Gamification.open(path, config=NO_BOARDS, load_entrypoints=False).close()
    rnd = random.Random(7)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    stamp = NOW.isoformat(timespec="microseconds")
    conn.executemany(
        "INSERT INTO profiles (user_id, xp, level, created_at, updated_at) VALUES (?, ?, 1, ?, ?)",
        (
            (f"user-{i:07d}", int(rnd.paretovariate(1.1) * 100), stamp,
             f"2026-11-{1 + i % 17:02d}T{i % 24:02d}:00:00.{i % 1_000_000:06d}+00:00")
            for i in range(users)
        ),
    )  # fmt: skip
    conn.execute("COMMIT")
    conn.close()
    start = time.perf_counter()
    Gamification.open(path, config=config(), load_entrypoints=False).close()
    return time.perf_counter() - start


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(len(ordered) * 0.99)] * 1e3


def reads(path: Path, users: int, samples: int) -> dict[str, object]:
    started = time.perf_counter()
    g = Gamification.open(
        path, config=config(), clock=FakeClock(NOW), load_entrypoints=False
    )
    opened = time.perf_counter() - started
    rnd = random.Random(11)
    picks = [f"user-{rnd.randrange(users):07d}" for _ in range(samples)]
    out: dict[str, object] = {"open_s": opened}
    for name, call in (
        ("top100", lambda u: g.leaderboard("xp")),
        ("rank", lambda u: g.rank(u, "xp")),
        ("around", lambda u: g.around(u, "xp", n=5)),
    ):
        for user in picks[:50]:
            call(user)
        times = []
        for user in picks:
            t0 = time.perf_counter()
            call(user)
            times.append(time.perf_counter() - t0)
        out[name] = percentiles(times)
    # The engine's memory, before the comparison below builds an index in this process.
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Spot-check exactness against COUNT(*) and time that naive rank for comparison.
    conn = sqlite3.connect(path)
    conn.execute("CREATE INDEX IF NOT EXISTS bench_xp ON profiles (xp)")
    naive = []
    for user in picks[: min(300, samples)]:
        entry = g.rank(user, "xp")
        assert entry is not None
        t0 = time.perf_counter()
        (higher,) = conn.execute(
            "SELECT COUNT(*) FROM profiles WHERE xp > ?", (entry.score,)
        ).fetchone()
        naive.append(time.perf_counter() - t0)
        assert entry.rank == higher + 1, (user, entry.rank, higher + 1)
    out["naive_count_rank"] = percentiles(naive)
    conn.execute("DROP INDEX bench_xp")
    conn.close()
    g.close()
    return out


def awards(path: Path, users: int, count: int) -> dict[str, float]:
    """µs per keyed award_xp of 1-50 XP: ``first`` awards are each user's first in the day,
    week and month (rows are created); ``steady`` ones come after (the usual award of an
    active user)."""
    out: dict[str, float] = {}
    rnd = random.Random(13)
    run = time.time_ns()  # keys unique to this run: a rerun on the cached file must not replay
    for label, cfg in (("none", NO_BOARDS), ("boards", config()), ("none2", NO_BOARDS),
                       ("boards2", config())):  # fmt: skip
        g = Gamification.open(path, config=cfg, clock=FakeClock(NOW), load_entrypoints=False)
        group = [f"user-{rnd.randrange(users):07d}" for _ in range(count // 4)]
        amounts = [rnd.randint(1, 50) for _ in group]
        for round_no in range(4):
            t0 = time.perf_counter()
            for i, user in enumerate(group):
                g.award_xp(
                    user, amounts[i - round_no], source="bench",
                    idempotency_key=f"{run}-{label}-{round_no}-{i}",
                )  # fmt: skip
            spent = (time.perf_counter() - t0) / len(group) * 1e6
            phase = "first" if round_no == 0 else "steady"
            out[f"{label}:{phase}"] = out.get(f"{label}:{phase}", 0) + (
                spent if phase == "first" else spent / 3
            )
        g.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--awards", type=int, default=5000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--part", choices=("all", "reads", "awards"), default="all")
    args = parser.parse_args()
    path = HERE / "results" / f"leaderboards-{args.users}.db"
    path.parent.mkdir(exist_ok=True)
    if args.part != "all":
        result = reads(path, args.users, args.samples) if args.part == "reads" else awards(
            path, args.users, args.awards)  # fmt: skip
        print(json.dumps(result))
        return
    if args.rebuild or not path.exists():
        seconds = build(path, args.users)
        print(f"built {args.users:,} users; the board started from them in {seconds:.1f} s")
    # Each part in a fresh process: memory and open time are what a new process sees.
    found = {}
    for part in ("reads", "awards"):
        run = subprocess.run(
            [sys.executable, __file__, "--users", str(args.users), "--samples",
             str(args.samples), "--awards", str(args.awards), "--part", part],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        found.update(json.loads(run.stdout.strip().splitlines()[-1]))
    print(f"\nleaderboards at {args.users:,} users on one board")
    print(f"{'measure':<34}{'p50 ms':>10}{'p99 ms':>10}   target")
    targets = (
        ("top100", "p99 <= 1 ms"),
        ("rank", "p99 <= 1 ms"),
        ("around", "p99 <= 2 ms"),
        ("naive_count_rank", "(for comparison)"),
    )
    for name, target in targets:
        p50, p99 = found[name]
        print(f"{name:<34}{p50:>10.3f}{p99:>10.3f}   {target}")
    for phase in ("steady", "first"):
        none = (found[f"none:{phase}"] + found[f"none2:{phase}"]) / 2
        kept = (found[f"boards:{phase}"] + found[f"boards2:{phase}"]) / 2
        print(f"{'award_xp ' + phase + ', no board (us)':<34}{none:>10.1f}")
        print(
            f"{'award_xp ' + phase + ', 4 periods (us)':<34}{kept:>10.1f}   "
            f"upkeep {kept / none - 1:+.0%} (<= +30%)"
        )
    print(f"{'open engine (s)':<34}{found['open_s']:>10.3f}   <= 2 s")
    print(f"{'resident memory (MB)':<34}{found['rss_mb']:>10.0f}   <= 200 MB")


if __name__ == "__main__":
    main()
