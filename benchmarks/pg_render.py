"""The PostgreSQL section of ``./run report`` on paper: its lines in the main table, its
Markdown (tables, what bounds each cell, the plans) and its chart. ``pg_report.py`` measures."""

from __future__ import annotations

import os
from pathlib import Path

from pg_report import KINDS, READ_LIMITS, READ_NAMES, TARGET, Cell, Section
from ratio import Row, number

__all__ = ["chart", "markdown", "rows", "text"]


def rows(found: Section) -> list[Row]:
    """The section's lines in the report's main table: engine vs raw at each process count
    (target 0.6), and the reads' p99 against the engine's on SQLite at the same size."""
    if found.unavailable is not None:
        return []
    out: list[Row] = []
    for what, call in (("points", "award_points"), ("xp", "award_xp")):
        for n, engine, raw in zip(
            found.settings.processes, found.rates[f"engine {what}"], found.rates[f"raw {what}"],
            strict=True,
        ):  # fmt: skip
            out.append(Row(
                f"PostgreSQL: keyed {call} from {n} process{'es' if n > 1 else ''} (baseline: "
                "raw psycopg, the same statements in the same round trips)",
                engine.rate, raw.rate, target_ratio=TARGET,
            ))  # fmt: skip
    size = f"{found.users:,}"
    for name, limit in READ_LIMITS.items():
        sqlite = found.sqlite_reads.get(name)
        out.append(Row(
            f"PostgreSQL: {READ_NAMES[name]} p99 @ {size} users (baseline: the engine on SQLite)",
            found.reads[name][1], None if sqlite is None else sqlite[1], unit="ms", limit=limit,
        ))  # fmt: skip
    return out


def _processes(n: int) -> str:
    return f"{n} process{'es' if n > 1 else ''}"


def _ratios(found: Section, what: str) -> list[float]:
    engine, raw = found.rates[f"engine {what}"], found.rates[f"raw {what}"]
    return [e.rate / r.rate for e, r in zip(engine, raw, strict=True)]


def _bound(cell: Cell, cores: int) -> str:
    """What bounds a cell: the cores (all busy, ours or other work's) or the waits."""
    ours = cell.clients + (cell.server or 0.0)
    server = "?" if cell.server is None else f"{cell.server:.2f}"
    split = f"clients {cell.clients:.2f} + server {server}"
    busy = cell.machine if cell.machine == cell.machine else ours  # NaN: /proc/stat unread
    others = max(busy - ours, 0.0)
    split += f", other work {others:.2f}: {busy:.2f} of {cores} cores busy"
    if busy < 0.85 * cores:
        return f"waiting, not CPU ({split}): round trips and commits"
    if others > max(cell.clients, cell.server or 0.0):
        return f"CPU, mostly other work sharing the machine ({split})"
    side = "the clients' Python" if cell.clients >= (cell.server or 0.0) else "the server"
    return f"CPU, most of it {side} ({split})"


def markdown(found: Section, chart: str = "") -> list[str]:
    out = ["", "## PostgreSQL", ""]
    if found.unavailable is not None:
        return [*out, f"Not measured in this run: {found.unavailable}."]
    s = found.settings
    cores = os.cpu_count() or 1
    out += [
        f"- server: {found.server}",
        f"- cells of {s.seconds:g} s; every process of a cell opens its engine (or raw "
        f"connection) first and they start together; keyed awards over {s.users} users per "
        "process; sessions set `synchronous_commit=off` unless said; the clients and the "
        f"server share this machine's {cores} cores",
    ]
    if chart:
        out += ["", f"![PostgreSQL]({chart})"]
    heads = [_processes(n) for n in s.processes]
    out += [
        "",
        "### Keyed awards per second: the engine against raw psycopg",
        "",
        "Raw psycopg sends the same statements in the same round trips (`benchmarks/"
        "pg_engine.py`: `BEGIN` with the user's lock, the key lookup, the reads and writes, "
        "`COMMIT`) with the fewest columns and no Python between them. CPU: cores the clients "
        "+ the server kept busy during the cell, of the cores the whole machine kept busy "
        "(other work included).",
        "",
        "| keyed award | " + " | ".join(heads) + " |",
        "| --- |" + " ---: |" * len(heads),
    ]
    names = {"raw points": "raw psycopg, points", "engine points": "engine `award_points`",
             "raw xp": "raw psycopg, XP", "engine xp": "engine `award_xp`"}  # fmt: skip
    for kind in KINDS:
        out.append(
            f"| {names[kind]} | " + " | ".join(f"{c.rate:,.0f}/s" for c in found.rates[kind]) + " |"
        )
    for what in ("points", "xp"):
        ratios = _ratios(found, what)
        out.append(
            f"| ratio, {what} (target >= {TARGET:g}) | "
            + " | ".join(f"{x:.2f}" for x in ratios)
            + " |"
        )
    for kind in KINDS:
        out.append(
            f"| CPU, {names[kind]} | " + " | ".join(c.busy() for c in found.rates[kind]) + " |"
        )
    out += ["", "What bounds each cell (engine rows):", ""]
    for what in ("points", "xp"):
        for n, cell in zip(s.processes, found.rates[f"engine {what}"], strict=True):
            out.append(f"- `award_{what}`, {_processes(n)}: {_bound(cell, cores)}")
    if s.durable:
        out += _durable_markdown(found, names)
    if s.threads:
        out += _pooled_markdown(found)
    out += _reads_markdown(found)
    out += ["", *(f"- {note}" for note in found.notes)]
    return out


def _durable_markdown(found: Section, names: dict[str, str]) -> list[str]:
    s = found.settings
    out = [
        "",
        "### `synchronous_commit`: on (every acknowledged write survives a crash) vs off",
        "",
        "| engine, keyed | " + " | ".join(f"{_processes(n)}, off | on" for n in s.durable) + " |",
        "| --- |" + " ---: | ---: |" * len(s.durable),
    ]
    for kind in ("engine points", "engine xp"):
        off = {n: c for n, c in zip(s.processes, found.rates[kind], strict=True)}
        cells = []
        for n, on in zip(s.durable, found.durable[kind], strict=True):
            cells += [f"{off[n].rate:,.0f}/s" if n in off else "-", f"{on.rate:,.0f}/s"]
        out.append(f"| {names[kind]} | " + " | ".join(cells) + " |")
    return out


def _pooled_markdown(found: Section) -> list[str]:
    s = found.settings
    return [
        "",
        "### Engines in threads of one process, on one pool",
        "",
        "Each thread has its own engine (an engine runs one write at a time), all on one "
        "`psycopg_pool.ConnectionPool` of as many connections as threads; keyed `award_xp`.",
        "",
        "| threads = pool size | " + " | ".join(str(t) for t in s.threads) + " |",
        "| --- |" + " ---: |" * len(s.threads),
        "| awards per second | " + " | ".join(f"{c.rate:,.0f}/s" for c in found.pooled) + " |",
        "| CPU, process + server | " + " | ".join(c.busy() for c in found.pooled) + " |",
    ]


def _reads_markdown(found: Section) -> list[str]:
    pg, lite = found.reads, found.sqlite_reads
    out = [
        "",
        f"### Board reads @ {found.users:,} users: PostgreSQL beside SQLite",
        "",
        "The same board (leaderboards.py's users and XP, all-time, daily, weekly and monthly "
        "periods), the same random users, each engine in a fresh process: the order is kept in "
        "the process's memory on both; on PostgreSQL each read also catches it up from the "
        "change log in the read's snapshot.",
        "",
        "| read | PostgreSQL p50 | PostgreSQL p99 | SQLite p50 | SQLite p99 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in (*READ_NAMES, "naive_count_rank"):
        label = READ_NAMES.get(name, "naive rank: COUNT(*) of higher scores over an index")
        theirs = lite.get(name)
        other = ("-", "-") if theirs is None else tuple(f"{number(v)} ms" for v in theirs)
        out.append(f"| {label} | {number(pg[name][0])} ms | {number(pg[name][1])} ms | "
                   f"{other[0]} | {other[1]} |")  # fmt: skip
    for key, label, unit in (("open_s", "opening an engine", "s"),
                             ("first_read_s", "first read (the order built)", "s"),
                             ("rss_mb", "resident memory after the reads", "MB")):  # fmt: skip
        theirs = lite.get(key)
        other = "-" if theirs is None else f"{number(theirs)} {unit}"
        out.append(f"| {label} | {number(pg[key])} {unit} | | {other} | |")
    out += ["", "Plans of the statements a read sends (EXPLAIN on this board):", ""]
    out += [f"- {what}: `{plan}`" for what, plan in found.plans.items()]
    return out


def text(found: Section) -> str:
    """The section for the terminal: the tables of the Markdown, without the chart."""
    return "\n".join(line for line in markdown(found) if not line.startswith("!["))


def chart(found: Section, path: Path, title: str) -> bool:
    """Awards per second by processes (engine and raw), the ratios against the target, and
    the reads' p50/p99 beside SQLite's. False without matplotlib or without figures."""
    if found.unavailable is not None:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    s = found.settings
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.8))
    figure.suptitle(title, fontsize=11, x=0.01, ha="left")
    styles = {"raw points": ("#1565c0", "--"), "engine points": ("#1565c0", "-"),
              "raw xp": ("#2e7d32", "--"), "engine xp": ("#2e7d32", "-")}  # fmt: skip
    for kind in KINDS:
        colour, line = styles[kind]
        left.plot(s.processes, [c.rate for c in found.rates[kind]], line, color=colour,
                  marker="o", label=kind)  # fmt: skip
    for kind, colour in (("engine points", "#1565c0"), ("engine xp", "#2e7d32")):
        left.plot(s.durable, [c.rate for c in found.durable[kind]], ":", color=colour,
                  marker="x", label=f"{kind}, synchronous_commit on")  # fmt: skip
    left.set(xscale="log", xlabel="processes", ylabel="keyed awards per second")
    left.set_xticks(s.processes, [str(n) for n in s.processes])
    left.set_title("Awards per second (sessions: synchronous_commit off)", fontsize=9)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    for what, colour in (("points", "#1565c0"), ("xp", "#2e7d32")):
        ratios = _ratios(found, what)
        middle.plot(s.processes, ratios, color=colour, marker="o", label=f"award_{what}")
    middle.axhline(TARGET, color="#c62828", linewidth=1, label=f"target {TARGET:g}")
    middle.set(xscale="log", xlabel="processes", ylabel="engine / raw psycopg", ylim=(0, 1.1))
    middle.set_xticks(s.processes, [str(n) for n in s.processes])
    middle.set_title("Ratio to raw psycopg (same round trips)", fontsize=9)
    middle.legend(fontsize=7)
    middle.grid(alpha=0.3)
    names = list(READ_NAMES)
    xs = range(len(names))
    for offset, (label, source, colour) in enumerate((
        ("PostgreSQL", found.reads, "#6a1b9a"), ("SQLite", found.sqlite_reads, "#ef6c00"),
    )):  # fmt: skip
        if not all(name in source for name in names):
            continue
        for which, alpha in ((1, 0.45), (0, 1.0)):  # p99 behind p50
            right.bar([x + offset * 0.4 for x in xs], [source[n][which] for n in names], 0.38,
                      color=colour, alpha=alpha,
                      label=f"{label} p{'99' if which else '50'}")  # fmt: skip
    right.set_xticks([x + 0.2 for x in xs], [READ_NAMES[n] for n in names], fontsize=8)
    right.set(ylabel="ms", yscale="log")
    right.set_title(f"Board reads @ {found.users:,} users", fontsize=9)
    right.legend(fontsize=7)
    right.grid(axis="y", alpha=0.3)
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
