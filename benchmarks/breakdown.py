#!/usr/bin/env python3
"""Where the microseconds of one hot-path call go: SQLite statement by statement, and the
engine's own Python function by function.

For each path the same calls run three ways, on copies of one seeded file:

1. **engine**: the public call, timed (the figure a user sees);
2. **recorded**: the same calls through a ``sqlite3.Connection`` subclass that records every
   statement and its parameters;
3. **replayed**: those statements, in order, on raw ``sqlite3`` with the engine's pragmas
   and checkpointer, each one timed. Their sum is the SQLite share; engine minus replay is
   the Python share.

The Python share is then split with ``cProfile`` (self time per function, sqlite3's own
methods left out), scaled to the measured Python share: cProfile slows Python code by a
roughly constant factor per call, so its proportions hold while its totals do not.
Engine and replay run in alternating rounds, so machine noise hits both.

    python benchmarks/breakdown.py            # every path, to results/breakdown-latest.md
    python benchmarks/breakdown.py --path xp  # one path
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ratio import (
    BARE_CONFIG,
    BENCH_CONFIG,
    CURRENCY,
    FUNDS,
    call_award_points,
    call_award_xp,
    call_spend_points,
    call_track,
    catalogue,
    environment,
    ordered_keys,
    user_ids,
)
from replay import Replay, recording, temp_setup

from gamification_sdk import Config, Gamification

RESULTS = Path(__file__).resolve().parent / "results" / "breakdown-latest.md"
PACKAGE = str(Path(__file__).resolve().parent.parent / "gamification_sdk")

Call = Callable[[Gamification, str, str], object]


@attrs.frozen
class Path_:
    """One hot path: how its file is prepared and the call timed on it."""

    name: str
    title: str
    config: Config | None
    definitions: dict[str, object] | None
    call: Call


PATHS = {
    p.name: p
    for p in (
        Path_("xp", "keyed award_xp, no board", BARE_CONFIG, None, call_award_xp),
        Path_("xp-default", "keyed award_xp, default config (XP board)", BENCH_CONFIG, None,
              call_award_xp),
        Path_("points", "keyed award_points", BARE_CONFIG, None, call_award_points),
        Path_("spend", "keyed spend_points", BARE_CONFIG, None, call_spend_points),
        Path_("track", "keyed track(), 50 achievements watching the event", BENCH_CONFIG,
              catalogue(50, 0, unlocking=False), call_track),
    )
}  # fmt: skip


def seed(path: Path, spec: Path_, users: list[str]) -> None:
    g = Gamification.open(path, config=spec.config, load_entrypoints=False)
    if spec.definitions is not None:
        g.events.load(spec.definitions, name="bench")
    with g.batch():
        for user in users:
            g.award_xp(user, 1, source="seed")
            g.award_points(user, FUNDS, currency=CURRENCY, source="seed")
    g.close()


def split_calls(log: list[tuple[str, Any, bool]], call: Callable[[], object]) -> list[Any]:
    """Run ``call`` and give the statements it ran."""
    mark = len(log)
    call()
    return log[mark:]


def _place(filename: str, line: int, function: str) -> str:
    if filename.startswith(PACKAGE):
        return f"{filename[len(PACKAGE) + 1 :]}:{function}"
    if filename == "~":
        return function
    return f"{Path(filename).parent.name}/{Path(filename).name}:{function}"


def python_share(spec: Path_, path: Path, users: list[str], n: int) -> list[tuple[str, float]]:
    """Self time per engine function under cProfile, sqlite3's C methods left out, as
    shares of the whole Python time."""
    g = Gamification.open(path, config=spec.config, load_entrypoints=False)
    key, user = ordered_keys("prof"), itertools.cycle(users)
    for _ in range(200):
        spec.call(g, next(user), key())
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        spec.call(g, next(user), key())
    profile.disable()
    g.close()
    stats = pstats.Stats(profile)
    by_name: dict[str, float] = defaultdict(float)
    for (filename, line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        if filename == "~" and "sqlite3" in function:
            continue  # SQLite's own work: measured exactly by the replay instead
        if filename == "~":
            # A builtin is named with its busiest caller: "any" alone says nothing.
            callers = row[4]
            caller = max(callers, key=lambda c: callers[c][2]) if callers else None
            name = function.strip("<>").replace("built-in method ", "").replace("method ", "")
            where = (
                f"{name.split(' of ')[0].strip(chr(39))} in {_place(*caller)}" if caller else name
            )
        else:
            where = _place(filename, line, function)
        by_name[where] += own
    whole = sum(by_name.values())
    return sorted(((k, v / whole) for k, v in by_name.items()), key=lambda kv: -kv[1])


def measure(spec: Path_, workdir: Path, n: int, rounds: int, users: list[str]) -> dict[str, Any]:
    base = workdir / f"{spec.name}-seed.db"
    seed(base, spec, users)
    for copy in ("engine", "record", "replay", "profile"):
        shutil.copy(base, workdir / f"{spec.name}-{copy}.db")
    # Record every call of every round first, so the replay runs exactly those statements.
    with recording() as log:
        g = Gamification.open(
            workdir / f"{spec.name}-record.db", config=spec.config, load_entrypoints=False
        )
        setup = temp_setup(log)
        key, user = ordered_keys("rec"), itertools.cycle(users)
        recorded = [
            [split_calls(log, lambda: spec.call(g, next(user), key())) for _ in range(n)]
            for _ in range(rounds)
        ]
        g.close()
    g = Gamification.open(
        workdir / f"{spec.name}-engine.db", config=spec.config, load_entrypoints=False
    )
    replay = Replay(workdir / f"{spec.name}-replay.db", setup)
    key, user = ordered_keys("eng"), itertools.cycle(users)
    engine_times: list[float] = []
    replay_times: list[float] = []

    def engine_round() -> None:
        start = time.perf_counter()
        for _ in range(n):
            spec.call(g, next(user), key())
        engine_times.append((time.perf_counter() - start) / n)

    for index, calls in enumerate(recorded):
        # The order flips every round so that neither side always runs on a warmer machine.
        if index % 2:
            engine_round()
        replay_times.append(replay.run(calls) / n)
        if not index % 2:
            engine_round()
    g.close()
    per_statement = {
        sql: (replay.spent[sql] / 1e3 / (n * rounds), replay.seen[sql] / (n * rounds))
        for sql in replay.spent
    }
    replay.close()
    return {
        "engine": statistics.median(engine_times) * 1e6,
        "sql": statistics.median(replay_times) * 1e6,
        "statements": per_statement,
        "python": python_share(spec, workdir / f"{spec.name}-profile.db", users, n),
    }


def short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 90 else text[:87] + "..."


def render(spec: Path_, found: dict[str, Any], top: int = 12) -> str:
    engine, sql = found["engine"], found["sql"]
    python = engine - sql
    lines = [
        f"### {spec.title}",
        "",
        f"One call: **{engine:.1f} µs**: SQLite {sql:.1f} µs ({sql / engine:.0%}), "
        f"the engine's Python {python:.1f} µs ({python / engine:.0%}).",
        "",
        "| SQLite statement | runs per call | µs per call |",
        "| --- | ---: | ---: |",
    ]
    for text, (micro, runs) in sorted(found["statements"].items(), key=lambda kv: -kv[1][0]):
        lines.append(f"| `{short(text)}` | {runs:.2f} | {micro:.1f} |")
    lines += [
        "",
        "| Python (self time; cProfile's shares scaled to the Python total) | µs per call |",
        "| --- | ---: |",
    ]
    shown = found["python"][:top]
    for where, share in shown:
        lines.append(f"| `{where}` | {share * python:.1f} |")
    rest = 1 - sum(share for _, share in shown)
    lines += [f"| everything else ({len(found['python']) - len(shown)} functions) | "
              f"{rest * python:.1f} |", ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", choices=sorted(PATHS), action="append")
    parser.add_argument("--calls", type=int, default=2_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    users = user_ids()
    names = args.path or list(PATHS)
    parts = ["# Where the time of a hot-path call goes", ""]
    parts += [f"- {k}: {v}" for k, v in environment().items()]
    parts += [f"- {args.rounds} alternating rounds of {args.calls:,} calls, medians; "
              "1,000 users on a file (WAL, synchronous=NORMAL)", ""]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            spec = PATHS[name]
            print(f"profiling {spec.title} ...", file=sys.stderr)
            found = measure(spec, Path(tmp), args.calls, args.rounds, users)
            section = render(spec, found)
            print(section)
            parts.append(section)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(parts) + "\n")
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
