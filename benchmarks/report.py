#!/usr/bin/env python3
"""Every hot path against its physical limit, in one run on one machine.

    ./run report            # the full run (about 10 minutes; more the first time)
    ./run report --quick    # a short, noisier run

Runs ``ratio.py`` (award, spend, track, batch, quest and streak-sweep rows against raw
``sqlite3`` doing the same writes) and ``leaderboards.py`` (top-100, rank and around-me at
1,000,000 users against an in-memory sorted list, award upkeep, memory, open time), then
times the naive designs the seeds sketch for contrast: a cached list re-sorted on every
award, and a weekly board computed by ``GROUP BY`` over an event log of the same users.
Then the PostgreSQL section (``pg_report.py``): keyed awards from 1, 2, 4 and 8 processes
against raw psycopg, ``synchronous_commit`` on and off, engines on one pool, and the board's
reads at the same size beside SQLite's, on ``--postgres-url`` or a throwaway cluster; where
no server can be had, the section says why (``--no-postgres`` leaves it out, and says so).

Prints one table (on a terminal MISS is red and PASS green), writes it as Markdown to
``benchmarks/results/report-latest.md`` and charts to ``report-latest.png`` and
``report-latest-postgresql.png`` beside it. The
1,000,000-user board and event log are built once and cached in ``benchmarks/results/``
(about 3 minutes the first time). Nothing here asserts speed: the exit code is 0 when a
target is missed; the report says so, and why.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import leaderboards  # noqa: E402
import pg_render  # noqa: E402
import pg_report  # noqa: E402
import ratio  # noqa: E402
from ratio import Row  # noqa: E402

RESULTS = HERE / "results" / "report-latest.md"
HEADER = ("name", "measured", "baseline", "ratio", "target", "result")
CONTRAST_HEADER = ("engine vs naive design", "engine", "naive", "engine faster")


@dataclass(frozen=True)
class Settings:
    """How much work a run does: ``ratio`` for ratio.py's rows; for the boards, ``users`` on
    the board, ``samples`` timed reads, ``awards`` timed award_xp calls, ``resorts`` awards on
    the re-sorted list and ``queries`` of the weekly GROUP BY."""

    mode: str
    ratio: ratio.Settings
    users: int = 1_000_000
    samples: int = 2_000
    awards: int = 5_000
    resorts: int = 30
    queries: int = 3
    postgres: pg_report.Settings = pg_report.FULL


FULL = Settings("full", ratio.FULL)
QUICK = Settings(
    "quick", ratio.QUICK, samples=500, awards=1_000, resorts=10, queries=1,
    postgres=pg_report.QUICK,
)  # fmt: skip


@dataclass(frozen=True)
class Contrast:
    """The engine against a naive design doing the same job, both in milliseconds."""

    name: str
    engine_ms: float
    naive_ms: float

    @property
    def speedup(self) -> float:
        return self.naive_ms / self.engine_ms

    def cells(self) -> tuple[str, str, str, str]:
        return (
            self.name, f"{ratio.number(self.engine_ms)} ms", f"{ratio.number(self.naive_ms)} ms",
            f"{ratio.number(self.speedup)}x",
        )  # fmt: skip


@dataclass
class Findings:
    """A run: ratio.py's report (rows, notes, every round) plus the boards' rows, the
    contrasts with naive designs, the SQLite board's measures and the PostgreSQL section."""

    report: ratio.Report = field(default_factory=ratio.Report)
    contrasts: list[Contrast] = field(default_factory=list)
    boards: dict[str, object] = field(default_factory=dict)
    # The board's reads run on their own, first: no write of the report before them.
    reads_alone: dict[str, object] = field(default_factory=dict)
    postgres: pg_report.Section = field(
        default_factory=lambda: pg_report.Section(unavailable="not run (--no-postgres)")
    )


# Why a target is missed, by the start of the row's name: the causes measured and argued in
# benchmarks/README.md and the README's leaderboard section, shown under a missed row.
WHY = {
    "award_xp, unique key, default config": (
        "the board's periods ride in the profile's UPDATE (no extra page, a wider statement: "
        "about 3 us more), and Python finds the award's periods and picks the statement for "
        "the slots it holds (a few us): on top of the keyed award of the row above "
        "(benchmarks/README.md, the breakdown)"
    ),
    "award_xp, unique key": (
        "a keyed award dirties about 3.7 WAL pages per commit (profile, XP log and its key "
        "index; page splits of the log, clustered by user) against the baseline's ~3.2, and "
        "runs 6 statements to its 4 (the key lookup, the profile read): its SQL alone takes "
        "about 32 us a call to the baseline's 21 on a machine whose commit is as fast as this "
        "one's; the engine's Python (validation, fingerprint, result, hooks) adds about 11 us "
        "(`./run breakdown --path xp`)"
    ),
    "award_points": (
        "double entry: raw sqlite3 doing only the writes the ledger's design requires (the "
        "double-entry floor row) already runs below 0.5 of the baseline. Against the floor, "
        "the engine runs 7 statements to its 7 (the key lookup over the key's three homes in "
        "place of a second entry INSERT: both entries go in one) and dirties about 6.6 WAL "
        "pages to its 4.4 (wider account and entry rows); validation, the fingerprint, the "
        "posting's bookkeeping and the result add Python"
    ),
    "spend_points": "the same double-entry floor as award_points (the balance check is free)",
    "batch()": (
        "with the commit shared, what is left is each award's Python work (validation, the "
        "level lookup, the statements, the result object)"
    ),
    "track()": (
        "the rule's keyed XP award with the XP board's periods, the event's metric row and "
        "day bucket (a page the baseline does not write), the call's key and stored result (a "
        "registry row): 10 statements to the baseline's 5, about 7.7 WAL frames a commit, and "
        "the engine's Python, about 45 us spread over some 130 functions (benchmarks/README.md: "
        "where the time of one track() goes)"
    ),
    "award_xp with the four periodic boards kept vs none @ 20,000": (
        "any page beyond the award's own costs about 0.3x at this size (the raw floor rows): "
        "score rows in a table of their own, one per period or one per board, and their "
        "change log cannot fit in +30%; only periods kept in the profile row the award "
        "already rewrites can, and that design is the engine's: compare with its raw floor "
        "row (the periods in the profile row and one change row), measured in the same run. "
        "The engine logs a listed user's change as four rows (one per period) where that "
        "floor writes one"
    ),
    "award_xp with the four periodic boards": (
        "the award writes its score rows (one page, clustered by user) and appends four "
        "change rows to the board's log; the raw floor row of that design (plain sqlite3 "
        "writing the same rows and log) shows what is left"
    ),
    "leaderboard top-100": (
        "tail latency: p99 includes the machine's other work; the in-memory limit needs no "
        "page reads at all"
    ),
    "rank(user)": "tail latency: p99 includes the machine's other work",
    "around(user": "tail latency: p99 includes the machine's other work",
    "resident memory": "the period's order in memory and the page cache SQLite keeps",
    "opening an engine": "opening runs the migrations check and starts new boards",
    "first board read": "the first read builds the period's order from its rows",
    "PostgreSQL: keyed award_points": (
        "from one process both sides wait on the same round trips; from two on, the clients "
        "and the server share the machine's cores, and the engine's Python per award is what "
        "raw psycopg does not pay (the CPU rows of the PostgreSQL section): a keyed "
        "award_points runs about twice the Python of a keyed award_xp"
    ),
    "PostgreSQL: keyed award_xp": (
        "from two processes on, the clients' Python and the server share the machine's "
        "cores (the CPU rows of the PostgreSQL section); the engine's Python per award is "
        "what raw psycopg does not pay"
    ),
    "PostgreSQL: ": (
        "each read is a transaction of its own: BEGIN, the period's id, the user's score, the "
        "change log since the last read, the page's names, COMMIT, each a round trip (the "
        "plans in the PostgreSQL section are index probes); the order itself is in memory as "
        "on SQLite"
    ),
}


def why(row: Row, rows: Sequence[Row] = ()) -> str:
    """The cause of a missed target; where ``rows`` holds the row's ceiling (the engine's
    own statements replayed by raw sqlite3, no Python), first what that ceiling says."""
    reason = next(
        (text for prefix, text in WHY.items() if row.name.startswith(prefix)),
        "no cause recorded yet: see benchmarks/README.md",
    )
    bound = ceiling(row, rows)
    return f"{bound}. {reason[0].upper()}{reason[1:]}" if bound else reason


def ceiling(row: Row, rows: Sequence[Row]) -> str:
    """Whether the engine's design (its SQL with no Python: the row's ceiling row, measured
    in the same rounds) could meet the row's target, or its Python is the gap; and, where
    the row's least-Python row was measured (the same SQL with the least Python a call
    needs, least.py), what a Python engine of this design could reach at best."""
    name = ratio.CEILING_OF.get(row.name)
    found = next((r for r in rows if r.name == name), None)
    target = row.target_ratio
    if found is None or target is None or not row.baseline or not row.value:
        return ""
    # Both rows are per second: the ceiling against this row's own baseline.
    reach, share = found.value / row.baseline, row.value / found.value
    row_cited = f"the row '{found.name}'"
    # The ceiling checkpoints off the commit path, as the engine does; the baseline in it.
    like = next((r for r in rows if r.name == ratio.LIKE_FOR_LIKE.get(row.name)), None)
    fair = found.value / like.value if like is not None and like.value else None
    checkpoints = (
        "; the ceiling, like the engine, checkpoints on a background thread, the baseline inside "
        "its commits"
        if fair is None
        else f"; against this baseline checkpointing on a background thread as the ceiling "
        f"does, {fair:.2f}"
    )
    measured = (
        f"the engine's own statements replayed by raw sqlite3 with no Python reach {reach:.2f} "
        f"of this baseline ({row_cited}), {'below' if reach < target else 'above'} the target "
        f"{target:g}{checkpoints}"
    )
    if reach < target:
        return f"a design limit: {measured}; no cut of Python can meet it, only different SQL"
    python = f"the engine runs at {share:.2f} of its ceiling and would need {target / reach:.2f}"
    if fair is not None and fair < target:
        return (
            f"a design limit once checkpoints are alike: {measured}, below the target: the "
            f"ceiling passes only by checkpointing off the commit path, which the baseline "
            f"does not; {python} of it against this baseline"
        )
    least = next((r for r in rows if r.name == ratio.LEAST_OF.get(row.name)), None)
    if least is None or not least.value:
        return f"the engine's Python is the gap: {measured}; {python} of it"
    floor = least.value / row.baseline
    with_least = (
        f"with the least Python a call needs (its checks, clock, fingerprint and result: "
        f"the row '{least.name}') they reach {floor:.2f}"
    )
    if floor < target:
        return (
            f"a limit for any engine in Python: {measured}, but {with_least}, below the target: "
            f"no engine in Python running these statements meets it; {python} of it"
        )
    # Microseconds a call may spend beyond the least Python and still meet the target.
    room = (1 / (target * row.baseline) - 1 / least.value) * 1e6
    spent = (1 / row.value - 1 / least.value) * 1e6
    return (
        f"the engine's Python is the gap: {measured}; {with_least}, so an engine in Python "
        f"meeting the target may spend {room:.1f} µs a call beyond that least (its lock, "
        f"statement parameters, hooks and choices), where this engine spends {spent:.1f}; "
        f"{python} of it"
    )


Log = ratio.Log


def board_file(directory: Path, s: Settings, log: Log, found: Findings) -> Path:
    """The cached board of ``s.users`` users, built on first use."""
    size = f"{s.users:,}"
    path = leaderboards.db_path(s.users, directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        log(f"building the {size}-user board (cached in {path})")
        seconds = leaderboards.build(path, s.users)
        found.report.notes.append(f"built the {size}-user board; it started in {seconds:.1f} s")
    return path


def measure_reads_alone(directory: Path, s: Settings, log: Log, found: Findings) -> None:
    """The board's reads before anything else of the report: the targets' read benchmark run
    on its own (a fresh process, the file's pages written back first)."""
    path = board_file(directory, s, log, found)
    log(f"board reads on their own ({s.samples:,} random users), a fresh process")
    found.reads_alone = leaderboards.measure_reads(path, s.users, s.samples)


def measure_boards(directory: Path, s: Settings, log: Log, found: Findings) -> None:
    """The board rows at ``s.users`` users, and the contrasts with the naive designs."""
    report = found.report
    size = f"{s.users:,}"
    path = board_file(directory, s, log, found)
    log(f"board reads ({s.samples:,} random users) and {s.awards:,} awards, fresh processes")
    engine = leaderboards.measure(path, s.users, s.samples, s.awards)
    log("the same reads on an in-memory sorted list")
    limit = leaderboards.sorted_reads(path, s.users, s.samples)
    steady = leaderboards.upkeep(engine, "steady")
    first = leaderboards.upkeep(engine, "first")
    floor = leaderboards.upkeep(engine, "steady", "floor ")
    logged = leaderboards.upkeep(engine, "steady", "floor ", "logged")
    small = leaderboards.upkeep(engine, "steady", "small ")
    small_logged = leaderboards.upkeep(engine, "steady", "small floor ", "logged")
    small_wide = leaderboards.upkeep(engine, "steady", "small floor ", "wide")
    small_profile = leaderboards.upkeep(engine, "steady", "small floor ", "profile")
    few = f"{leaderboards.SMALL:,}"
    alone = found.reads_alone or engine
    report.rows += [
        Row(f"leaderboard top-100 p99 @ {size} users, reads run on their own (baseline: "
            "sorted list in memory)", alone["top100"][1], limit["top100"][1], unit="ms",
            limit=1.0),
        Row(f"rank(user) p99 @ {size} users, reads run on their own (baseline: bisect in "
            "memory)", alone["rank"][1], limit["rank"][1], unit="ms", limit=1.0),
        Row(f"around(user, n=5) p99 @ {size} users, reads run on their own (baseline: sorted "
            "list in memory)", alone["around"][1], limit["around"][1], unit="ms", limit=2.0),
        Row(f"leaderboard top-100 p99 @ {size} users in the report run's tail (after its "
            "writes)", engine["top100"][1], unit="ms"),
        Row(f"rank(user) p99 @ {size} users in the report run's tail", engine["rank"][1],
            unit="ms"),
        Row(f"around(user, n=5) p99 @ {size} users in the report run's tail",
            engine["around"][1], unit="ms"),
        Row(f"award_xp with the four periodic boards kept vs none @ {few} users "
            "(time ratio)", small[1] / small[0], unit="x", limit=1.3),
        Row(f"raw floor @ {few} users: a raw keyed award writing four score rows and their "
            "change log vs none (time ratio)", small_logged[1] / small_logged[0], unit="x"),
        Row(f"raw floor @ {few} users, one row per user and board with the periods side by "
            "side and one change row, vs none (time ratio)", small_wide[1] / small_wide[0],
            unit="x"),
        Row(f"raw floor @ {few} users, the periods in the profile row the award rewrites and "
            "one change row, vs none (time ratio)", small_profile[1] / small_profile[0],
            unit="x"),
        Row(f"award_xp with the four periodic boards kept vs none @ {size} users "
            "(time ratio)", steady[1] / steady[0], unit="x", limit=1.5),
        Row("award_xp with the four boards vs none, each user's first award of the period",
            first[1] / first[0], unit="x"),
        Row(f"raw floor @ {size} users: a raw keyed award writing four score rows and their "
            "change log vs none (time ratio)", logged[1] / logged[0], unit="x"),
        Row(f"raw @ {size} users: a raw keyed award keeping four periods under a plain "
            "score index vs none (time ratio)", floor[1] / floor[0], unit="x"),
        Row(f"resident memory after the reads @ {size} users", engine["rss_mb"], unit="MB",
            limit=200),
        Row(f"opening an engine on the {size}-user file", engine["open_s"], unit="s", limit=2),
        Row(f"first board read @ {size} users (the period's order built in memory)",
            engine["first_read_s"], unit="s"),
    ]  # fmt: skip
    found.boards = engine
    for name in ("top100", "rank", "around"):
        report.notes.append(
            f"{name} p50: engine {ratio.number(engine[name][0])} ms, sorted list in memory "
            f"{ratio.number(limit[name][0])} ms"
        )
    report.notes.append(
        f"keyed award_xp @ {size} users: {steady[0]:.0f} us with no board, {steady[1]:.0f} us "
        f"with the four periods kept (first award of the period: {first[0]:.0f} / "
        f"{first[1]:.0f} us)"
    )
    report.notes.append(
        f"raw floor @ {size} users: {floor[0]:.0f} us per keyed raw award with no board, "
        f"{floor[1]:.0f} us keeping four periods under a plain (period, score, reached) index"
    )
    log(f"naive: a cached list of {size} users re-sorted on each of {s.resorts} awards")
    resorted = leaderboards.resort_awards(path, s.users, s.resorts)
    events = leaderboards.event_log_path(s.users, directory)
    if not events.exists():
        log(f"building the event log of {size} users (cached in {events})")
        rows, seconds = leaderboards.build_event_log(events, s.users)
        report.notes.append(f"built an event log of {rows:,} events this week in {seconds:.1f} s")
    log(f"naive: the weekly top-100 by GROUP BY over the event log, {s.queries} queries")
    weekly, rows = leaderboards.weekly_group_by(events, s.queries)
    found.contrasts += [
        Contrast(f"rank @ {size} users: rank() vs COUNT(*) WHERE xp > ? over an index (p50)",
                 engine["rank"][0], engine["naive_count_rank"][0]),
        Contrast(f"award + rank read @ {size} users: award_xp keeping four boards + rank() "
                 "vs a cached list re-sorted on every award",
                 steady[1] / 1e3 + engine["rank"][0], resorted),
        Contrast(f"weekly top-100 @ {size} users: the board (p50) vs GROUP BY over the week's "
                 f"{rows:,} events", engine["top100"][0], weekly),
    ]  # fmt: skip


def run(
    s: Settings, workdir: Path, boards: Path, log: Log, *, postgres: bool = False,
    postgres_url: str | None = None,
) -> Findings:  # fmt: skip
    """Every row; with ``postgres``, the PostgreSQL section too, on the server at
    ``postgres_url`` or on a throwaway cluster (the section says why when there is none)."""
    workdir.mkdir(parents=True, exist_ok=True)
    found = Findings()
    measure_reads_alone(boards, s, log, found)
    notes = found.report.notes
    found.report = ratio.run(s.ratio, workdir, log)
    found.report.notes[:0] = notes
    measure_boards(boards, s, log, found)
    if postgres:
        found.postgres = pg_report.measure(
            postgres_url, s.postgres, s.users, s.samples, found.boards, log
        )
        found.report.rows += pg_render.rows(found.postgres)
    return found


# -- output -----------------------------------------------------------------------------------


def render_contrasts(contrasts: Sequence[Contrast]) -> str:
    table = [CONTRAST_HEADER, *(c.cells() for c in contrasts)]
    widths = [max(len(line[i]) for line in table) for i in range(len(CONTRAST_HEADER))]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                  for i, cell in enumerate(line))
        for line in table
    ]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


MARK = {"PASS": "🟢 PASS", "MISS": "🔴 MISS", "info": "info"}


def render_markdown(
    found: Findings, s: Settings, where: Path, elapsed: float | None = None, chart: str = "",
    postgres_chart: str = "",
) -> str:  # fmt: skip
    env = ratio.environment(where)
    r = s.ratio
    out = [
        "# Every hot path against its limit",
        "",
        f"- date (UTC): {env['date (UTC)']}",
        f"- machine: {env['CPU']}, {env['CPUs']} cores, {env['platform']}",
        f"- Python {env['python']}, SQLite {env['sqlite']}",
        f"- filesystem: {env['filesystem']}",
        f"- command: `./run report{' --quick' if s.mode == 'quick' else ''}` (mode {s.mode}: "
        f"{r.rounds} interleaved rounds of {r.n:,} engine calls / {r.raw_n:,} raw "
        f"transactions, median; batch {r.batch:,}; ledger {r.fill:,} transactions; board "
        f"{s.users:,} users, {s.samples:,} timed reads, {s.awards:,} timed awards)",
    ]
    if elapsed is not None:
        out.append(f"- run time: {elapsed:.0f} s")
    if chart:
        out += ["", f"![ratios and targets]({chart})"]
    rows = found.report.rows
    out += [
        "",
        "## Against the limits and the targets",
        "",
        "Ratio: the engine's speed as a share of the baseline's (1 = as fast as the limit). "
        "Values are per second unless a unit is shown.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join(["---"] + ["---:"] * 5) + "|",
    ]
    for row in rows:
        cells = list(row.cells())
        cells[-1] = MARK[row.status]
        out.append("| " + " | ".join(cells) + " |")
    missed = [row for row in rows if row.status == "MISS"]
    if missed:
        out += ["", "## Why a target is missed", ""]
        out += [f"- {row.name}: {why(row, rows)}." for row in missed]
    out += [
        "",
        "## Engine vs naive designs",
        "",
        "| " + " | ".join(CONTRAST_HEADER) + " |",
        "|---|---:|---:|---:|",
    ]
    out += ["| " + " | ".join(c.cells()) + " |" for c in found.contrasts]
    out += pg_render.markdown(found.postgres, postgres_chart)
    out += ["", "## Notes", "", *(f"- {note}" for note in found.report.notes)]
    out += [
        "",
        "Every row and its baseline are described in [benchmarks/README.md](../README.md).",
    ]
    if found.report.samples:
        out += ["", "Every round of ratio.py's rows (per second, in run order):", ""]
        out += [
            f"- {name}: " + ", ".join(f"{v:,.0f}" for v in values)
            for name, values in found.report.samples.items()
        ]
    out.append("")
    return "\n".join(out)


COLOURS = {"PASS": "#2e7d32", "MISS": "#c62828", "info": "#9e9e9e"}


def chart(found: Findings, path: Path, title: str) -> bool:
    """A horizontal bar chart in three panels: ratios to the limits (with the target ratio
    marked), absolute targets as measured/target (1 = on target), and the engine's speed-up
    over the naive designs. False when matplotlib is missing (``pip install '.[plots]'``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = found.report.rows
    ratios = [row for row in rows if row.ratio is not None and row.target_abs is None]
    against = [row for row in rows if row.target_abs is not None or row.limit is not None]
    panels = [
        ("Ratio to the physical limit (raw sqlite3, or in memory); | marks the target", ratios),
        ("Absolute targets: how far inside the target (1 = exactly on it; right is better)",
         against),
        ("Engine vs naive design: times faster", found.contrasts),
    ]  # fmt: skip
    panels = [(name, items) for name, items in panels if items]
    heights = [max(len(items), 1) * 0.5 + 0.9 for _, items in panels]
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(13, sum(heights) + 0.8),
        gridspec_kw={"height_ratios": heights}, squeeze=False,
    )  # fmt: skip
    figure.suptitle(title, fontsize=12, x=0.01, ha="left")
    for ax, (name, items) in zip(axes[:, 0], panels, strict=True):
        labels, values, colours, texts = [], [], [], []
        for item in items:
            if isinstance(item, Contrast):
                labels.append(item.name)
                values.append(item.speedup)
                colours.append("#1565c0")
                texts.append(f"{ratio.number(item.speedup)}x")
                continue
            labels.append(item.name)
            judged = items is not ratios or item.target_ratio is not None
            colours.append(COLOURS[item.status if judged else "info"])
            if items is ratios:
                value = item.ratio or 0.0
                texts.append(f"{value:.3g}")
            elif item.target_abs is not None:
                value = item.value / item.target_abs
                texts.append(f"{item.value:,.0f}/s (target {item.target[3:]})")
            else:
                assert item.limit is not None
                value = item.limit / item.value
                texts.append(f"{item.shown(item.value)} (target {item.target})")
            values.append(value)
        ys = range(len(items))[::-1]
        ax.barh(list(ys), values, color=colours, height=0.62)
        ax.set_xscale("log")
        ax.set_yticks(list(ys), [textwrap.fill(label, 62) for label in labels], fontsize=8)
        ax.set_title(name, fontsize=10, loc="left")
        ax.grid(axis="x", which="both", alpha=0.25)
        for y, value, text, item in zip(ys, values, texts, items, strict=True):
            # Past the target mark when there is one, so the two do not overlap.
            mark = item.target_ratio if items is ratios and isinstance(item, Row) else None
            ax.annotate(
                text, (max(value, mark or 0.0), y), xytext=(6, 0), textcoords="offset points",
                va="center", fontsize=7.5,
            )  # fmt: skip
        if items is ratios:
            for y, item in zip(ys, items, strict=True):
                if isinstance(item, Row) and item.target_ratio is not None:
                    ax.plot([item.target_ratio], [y], marker="|", color="black",
                            markersize=16, markeredgewidth=2)  # fmt: skip
        # Log scales: the values span from thousandths (ranks against bisect) to hundreds
        # (naive designs); room on the right for the labels.
        ax.axvline(1.0, color="black", linewidth=0.8)
        positive = [v for v in values if v > 0] or [1.0]
        ax.set_xlim(min(min(positive) / 2, 0.1), max(max(positive) * 8, 10))
    handles = [
        matplotlib.patches.Patch(color=COLOURS["PASS"], label="target met"),
        matplotlib.patches.Patch(color=COLOURS["MISS"], label="target missed"),
        matplotlib.patches.Patch(color=COLOURS["info"], label="no target"),
    ]
    figure.legend(handles=handles, loc="upper right", fontsize=8, ncols=3)
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def publish(
    found: Findings, s: Settings, out: Path, where: Path, elapsed: float, *, color: bool
) -> None:
    """Print the tables (MISS in red on a terminal) and write the Markdown and the chart;
    ``where`` is the directory the run's databases were in (its filesystem is reported)."""
    print(ratio.render_text(found.report.rows, color=color, header=HEADER))
    red = ("\033[31m", "\033[0m") if color else ("", "")
    for row in found.report.rows:
        if row.status == "MISS":
            print(f"  {red[0]}MISS{red[1]} {row.name}: {why(row, found.report.rows)}")
    print()
    print(render_contrasts(found.contrasts))
    print(pg_render.text(found.postgres))
    print()
    for note in found.report.notes:
        print(note)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_suffix(".png")
    env = ratio.environment(where)
    title = (
        f"gamification-sdk, {env['date (UTC)']} UTC, {env['CPU']} ({env['CPUs']} cores), "
        f"Python {env['python']}, SQLite {env['sqlite']}, {s.mode} run"
    )
    drawn = chart(found, png, title)
    pg_png = out.with_name(f"{out.stem}-postgresql.png")
    pg_drawn = pg_render.chart(found.postgres, pg_png, title.replace(", SQLite", ", PostgreSQL"))
    out.write_text(
        render_markdown(found, s, where, elapsed, png.name if drawn else "",
                        pg_png.name if pg_drawn else ""),
        encoding="utf-8",
    )  # fmt: skip
    print(f"wrote {out}" + (f" and {png}" if drawn else " (no chart: matplotlib missing)")
          + (f" and {pg_png}" if pg_drawn else "") + f" ({elapsed:.0f} s)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short, noisier run")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="the Markdown file to write; the chart goes beside it")  # fmt: skip
    parser.add_argument("--tmpdir", type=Path, default=None, help="where ratio.py's databases go")
    parser.add_argument("--boards", type=Path, default=leaderboards.RESULTS,
                        help="where the cached board and event log live")  # fmt: skip
    parser.add_argument(
        "--postgres-url", default=os.environ.get("GAMIFICATION_TEST_POSTGRES_URL"),
        help="the PostgreSQL server of the PostgreSQL section (default: "
        "GAMIFICATION_TEST_POSTGRES_URL, else a throwaway cluster, tests/pg_cluster.py); it "
        "makes and drops schemas named gamification_bench_*",
    )  # fmt: skip
    parser.add_argument("--no-postgres", action="store_true",
                        help="leave the PostgreSQL section out (it says so)")  # fmt: skip
    args = parser.parse_args(argv)
    s = QUICK if args.quick else FULL
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="gamification-report-", dir=args.tmpdir) as tmp:
        found = run(s, Path(tmp), args.boards, log, postgres=not args.no_postgres,
                    postgres_url=args.postgres_url)  # fmt: skip
        elapsed = time.perf_counter() - started
        publish(found, s, args.out, Path(tmp), elapsed, color=sys.stdout.isatty())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
