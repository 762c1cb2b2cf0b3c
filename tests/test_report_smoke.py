"""benchmarks/report.py works end to end at a tiny size, so CI keeps it working.

Speed is never asserted: only that every measurement ran, produced positive numbers, and that
the table, the Markdown and the chart come out. The in-memory baseline is checked to give the
engine's answers, so the ratios compare like with like.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gamification_sdk import FakeClock, Gamification

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gamification_bench_report", BENCHMARKS / "report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    # The script puts benchmarks/ on the path to import its siblings; left there, its
    # conftest would shadow tests/conftest for the subprocesses of later tests.
    path = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path
    return module


def tiny(report: ModuleType) -> object:
    sizes = report.ratio.Settings(
        "smoke", n=40, raw_n=40, rounds=1, batch=40, fill=1_000, chunk=500, verify_budget=60.0,
        reevaluate_users=100,
    )  # fmt: skip
    return report.Settings("smoke", sizes, users=1_500, samples=60, awards=40, resorts=3, queries=1)


@pytest.fixture(scope="module")
def ran(report: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """One tiny run, shared: (its directory, its findings)."""
    where = tmp_path_factory.mktemp("report")
    messages: list[str] = []
    found = report.run(tiny(report), where / "work", where / "boards", messages.append)
    assert any("naive" in message for message in messages)
    return where, found


def test_one_run_prints_the_table_and_writes_the_markdown_and_the_chart(
    report: ModuleType, ran: tuple[Path, object], capsys: pytest.CaptureFixture[str]
) -> None:
    where, found = ran
    out = where / "results" / "report.md"
    report.publish(found, tiny(report), out, where / "work", 9.0, color=False)

    printed = capsys.readouterr().out
    assert printed.startswith("name") and "\033[" not in printed
    assert "engine vs naive design" in printed and "  MISS " in printed

    md = out.read_text(encoding="utf-8")
    for part in ("- date (UTC): ", "- machine: ", " cores, ", "- Python ", "SQLite ",
                 "- filesystem: ", "./run report", "| name | measured | baseline | ratio |",
                 "## Engine vs naive designs", "![ratios and targets](report.png)"):  # fmt: skip
        assert part in md, part
    png = out.with_suffix(".png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    # The board and the event log were built where asked, not in benchmarks/results.
    assert {p.name for p in (where / "boards").iterdir()} >= {
        "leaderboards-1500.db",
        "eventlog-1500.db",
    }


def test_a_missed_row_cites_its_ceiling(report: ModuleType) -> None:
    """Below its target, the ceiling says the design is the limit; above it, Python."""
    ratio = report.ratio
    floor = 1_000.0
    engine = ratio.Row(ratio.POINTS_FLOOR, 600.0, floor, target_ratio=0.75)
    low = ratio.Row(ratio.CEILING_POINTS, 700.0, floor)
    high = ratio.Row(ratio.CEILING_POINTS, 1_200.0, floor)
    limit = report.why(engine, [engine, low])
    assert limit.startswith("a design limit: ") and "reach 0.70 of this baseline" in limit
    assert "below the target 0.75" in limit and "Double entry" in limit
    above = report.why(engine, [engine, high])
    assert above.startswith("the engine's Python is the gap: ") and "reach 1.20" in above
    assert "at 0.50 of its ceiling and would need 0.62" in above
    # With the floor checkpointing as the ceiling does: the like-for-like figure decides too.
    fair = ratio.Row(ratio.FLOOR_BACKGROUND, 1_500.0, floor)
    assert "as the ceiling does, 0.80;" in report.why(engine, [engine, high, fair])
    assert report.why(engine, [engine, high, fair]).startswith("the engine's Python is the gap")
    slower = ratio.Row(ratio.FLOOR_BACKGROUND, 2_000.0, floor)
    alike = report.why(engine, [engine, high, slower])
    assert alike.startswith("a design limit once checkpoints are alike: ") and "0.60" in alike
    # Against raw, the same ceiling is read against that row's own baseline.
    raw = ratio.Row(ratio.POINTS, 600.0, 4_000.0, target_ratio=0.5)
    assert "reach 0.30 of this baseline" in report.why(raw, [raw, high])
    # The least Python a call needs, measured with the same statements: the bound for Python.
    least_low = ratio.Row(ratio.LEAST_POINTS, 740.0, floor)
    bound = report.why(engine, [engine, high, least_low])
    assert bound.startswith("a limit for any engine in Python: ") and "reach 0.74" in bound
    least_high = ratio.Row(ratio.LEAST_POINTS, 1_000.0, floor)
    room = report.why(engine, [engine, high, least_high])
    assert room.startswith("the engine's Python is the gap: ") and "reach 1.00" in room
    # 1/750 - 1/1000 s = 333.3 µs of room; the engine spends 1/600 - 1/1000 s = 666.7 µs.
    assert "may spend 333.3 µs a call" in room and "this engine spends 666.7" in room
    # No ceiling measured: the recorded cause alone.
    assert report.why(engine) == report.WHY["award_points"]


def test_every_hot_path_has_a_row_with_a_positive_measure(
    ran: tuple[Path, object],
) -> None:
    found: Any = ran[1]
    rows = {row.name: row for row in found.report.rows}
    wanted = {
        "award_xp, unique key": 0.5,
        "award_points, unique key": 0.5,
        "spend_points, unique key (pre-funded)": 0.5,
        "track(), 50 achievements subscribed, none unlocking (ratio to the raw tracked event)": (
            0.35
        ),
        "track(), 1,000 definitions (10 on the event), none unlocking (ratio to the raw tracked "
        "event)": 0.35,
    }
    for name, target in wanted.items():
        assert rows[name].target_ratio == target and rows[name].baseline, name
    quests = rows[
        "track(), 20 active quests on the event (ratio to raw: XP, event, 20 progress rows)"
    ]
    sweep = rows["streak sweep over 100 users (users/s; ratio to the raw sweep)"]
    assert quests.ratio and sweep.ratio  # both against a raw sqlite3 baseline
    for name, limit in (("leaderboard top-100 p99", 1.0), ("rank(user) p99", 1.0),
                        ("around(user, n=5) p99", 2.0)):  # fmt: skip
        alone, tail = [r for r in found.report.rows if r.name.startswith(f"{name} @ 1,500 users")]
        # The target is the read benchmark run on its own; the report's tail is shown beside.
        assert "run on their own" in alone.name and "report run's tail" in tail.name
        assert alone.unit == "ms" and alone.limit == limit and alone.baseline and alone.ratio
        assert tail.unit == "ms" and tail.limit is None and tail.value > 0
    memory = [r for r in found.report.rows if r.unit == "MB"]
    assert len(memory) == 1 and memory[0].limit == 200
    for row in found.report.rows:
        assert row.value > 0, row
        assert row.baseline is None or row.baseline > 0, row
        assert row.status in ("PASS", "MISS", "info"), row
    assert len(found.contrasts) == 3
    assert all(c.engine_ms > 0 and c.naive_ms > 0 for c in found.contrasts)
    assert any("0 problems" in note for note in found.report.notes)  # the ledger verifies


def test_the_cached_board_is_left_as_built(report: ModuleType, ran: tuple[Path, object]) -> None:
    """Awards run on a copy: XP awarded with no board configured would leave the cached
    board behind the profiles, and the next run's rank check would fail."""
    where, _ = ran
    boards = report.leaderboards
    path = boards.db_path(1_500, where / "boards")
    assert not list((where / "boards").glob("*-awards*"))  # the copy is gone too
    checked = boards.reads(path, 1_500, 300)  # asserts every rank against COUNT(*)
    assert checked["naive_count_rank"]


def test_the_sorted_list_baseline_gives_the_engines_ranks(
    report: ModuleType, tmp_path: Path
) -> None:
    """On the benchmark's heavy-tailed board (many ties): the same ranks and top page."""
    boards = report.leaderboards
    path = tmp_path / "board.db"
    boards.build(path, 400)
    limit = boards.SortedBoard(boards.scores(path))
    with Gamification.open(
        path, config=boards.config(), clock=FakeClock(boards.NOW), load_entrypoints=False
    ) as g:
        for i in range(400):
            entry = g.boards.rank(boards.user_id(i), "xp")
            assert entry is not None and entry.rank == limit.rank(boards.user_id(i)), i
        page = g.boards.get("xp").entries
        assert [(e.rank, e.score) for e in page] == [(r, s) for r, _, s in limit.top()]


def test_the_sorted_list_baseline_gives_the_engines_windows(
    report: ModuleType, tmp_path: Path
) -> None:
    """With distinct scores (no tie order to differ on): the same around-me lines."""
    boards = report.leaderboards
    path = tmp_path / "distinct.db"
    scores = random.Random(5).sample(range(1, 10_000), 300)
    with Gamification.open(
        path, config=boards.config(), clock=FakeClock(boards.NOW), load_entrypoints=False
    ) as g:
        with g.batch():
            for i, xp in enumerate(scores):
                g.award_xp(boards.user_id(i), xp, source="test")
        limit = boards.SortedBoard(boards.scores(path))
        for i in (0, 1, 7, 150, 298, 299, scores.index(max(scores))):
            user = boards.user_id(i)
            near = g.boards.around(user, "xp", n=5).entries
            assert [(e.rank, e.user_id, e.score) for e in near] == limit.around(user), user
        top = g.boards.get("xp").entries
        assert [(e.rank, e.user_id, e.score) for e in top] == limit.top()


def test_missed_targets_are_red_with_a_cause_and_met_ones_green(report: ModuleType) -> None:
    row = report.Row
    rows = [
        row("award_xp, unique key", 100.0, 400.0, target_ratio=0.5),
        row("rank(user) p99 @ 10 users", 0.5, 0.001, unit="ms", limit=1.0),
        row("resident memory after the reads", 250.0, unit="MB", limit=200),
    ]
    assert [r.status for r in rows] == ["MISS", "PASS", "MISS"]
    assert rows[1].ratio == pytest.approx(0.002)  # lower is better: baseline / value
    assert rows[1].cells() == (
        "rank(user) p99 @ 10 users",
        "0.5 ms",
        "0.001 ms",
        "0.002",
        "<= 1 ms",
        "PASS",
    )
    text = report.ratio.render_text(rows, color=True, header=report.HEADER)
    assert "\033[31m  MISS\033[0m" in text and "\033[32m  PASS\033[0m" in text
    assert "dirties" in report.why(rows[0]) and "page cache" in report.why(rows[2])
    found = report.Findings(report.ratio.Report(rows=rows))
    found.contrasts.append(report.Contrast("weekly top-100", 0.5, 500.0))
    md = report.render_markdown(found, tiny(report), Path("."), 12.0)
    assert "| award_xp, unique key | 100 | 400 | 0.250 | >= 0.5 | 🔴 MISS |" in md
    assert "🟢 PASS" in md and "## Why a target is missed" in md
    assert "- award_xp, unique key: a keyed award dirties" in md
    assert "| weekly top-100 | 0.5 ms | 500 ms | 1,000x |" in md


def test_the_command_line_documents_its_options(
    report: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        report.main(["--help"])
    assert stopped.value.code == 0
    printed = capsys.readouterr().out
    assert all(option in printed for option in ("--quick", "--out", "--tmpdir", "--boards"))


def test_peak_memory_is_this_process_own(report: ModuleType) -> None:
    """Not the parent's peak, which Linux's ru_maxrss carries across exec."""
    import resource

    peak = report.leaderboards.peak_rss_mb()
    assert peak > 1
    if sys.platform.startswith("linux"):
        assert peak <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + 1


def test_the_postgresql_section_says_why_when_it_did_not_run(
    report: ModuleType, ran: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never silently missing: not asked for, or no server to be had, the section says so."""
    where, found = ran
    md = report.render_markdown(found, tiny(report), where / "work", 9.0)
    assert "## PostgreSQL\n\nNot measured in this run: not run (--no-postgres)." in md
    assert not [row for row in found.report.rows if row.name.startswith("PostgreSQL")]

    sys.path.insert(0, str(BENCHMARKS.parent / "tests"))
    import pg_cluster

    def unavailable(settings: object = None) -> object:
        raise pg_cluster.ClusterUnavailable("initdb was not found")

    monkeypatch.setattr(pg_cluster, "start", unavailable)
    section = report.pg_report.measure(None, report.pg_report.QUICK, 10, 10, {}, print)
    assert section.unavailable == "no PostgreSQL server could be started: initdb was not found"
    lines = report.pg_render.markdown(section)
    assert lines[-1] == f"Not measured in this run: {section.unavailable}."
    assert report.pg_render.rows(section) == []
    assert not report.pg_render.chart(section, where / "none.png", "none")


@pytest.mark.postgresql_only
def test_the_postgresql_section_runs_at_a_tiny_size(
    report: ModuleType, postgres_url: str, tmp_path: Path
) -> None:
    """Every cell ran and counted awards, the reads are timed and checked against COUNT(*)
    (inside), each read statement's plan is an index probe, and the rows, Markdown and chart
    come out. One process per cell and a tiny board: speed is not the point."""
    pg, render = report.pg_report, report.pg_render
    s = pg.Settings(seconds=0.3, processes=(1,), durable=(1,), threads=(2,), users=20, naive=3)
    sqlite = {"top100": (0.4, 0.5), "rank": (0.04, 0.08), "around": (0.2, 0.3), "open_s": 0.1}
    found = pg.measure(postgres_url, s, 300, 30, sqlite, lambda message: None)
    assert found.unavailable is None and found.server.startswith("PostgreSQL ")
    import psycopg

    with psycopg.connect(postgres_url) as conn:  # a server of the caller's is left as it was
        left = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'gamification_bench_%'"
        assert conn.execute(left).fetchall() == []
    cells = [*(c for kind in pg.KINDS for c in found.rates[kind]), *found.pooled]
    cells += [c for kind in ("engine points", "engine xp") for c in found.durable[kind]]
    assert len(cells) == 7 and all(c.rate > 0 and c.clients > 0 and c.machine > 0 for c in cells)
    for name in ("top100", "rank", "around", "naive_count_rank"):
        p50, p99 = found.reads[name]
        assert 0 < p50 <= p99, name
    assert "Index" in found.plans["the user's score"] and "Index" in found.plans["the period"]
    assert any("verify_ledger() on PostgreSQL: 0 problems" in note for note in found.notes)
    rows = {row.name: row for row in render.rows(found)}
    points = rows[
        "PostgreSQL: keyed award_points from 1 process (baseline: raw psycopg, the same "
        "statements in the same round trips)"
    ]
    assert points.target_ratio == 0.6 and points.ratio and points.baseline
    (rank,) = [row for name, row in rows.items() if name.startswith("PostgreSQL: rank(user) p99")]
    assert rank.baseline == 0.08 and rank.limit == 1.0 and rank.unit == "ms"
    assert "@ 300 users" in rank.name and report.why(rank).startswith("each read is")
    md = "\n".join(render.markdown(found, "chart.png"))
    for part in (
        "## PostgreSQL", "![PostgreSQL](chart.png)", "| engine `award_points` |",
        "| ratio, points (target >= 0.6) |", "`synchronous_commit`", "| threads = pool size | 2 |",
        "| rank(user) |", "- `award_xp`, 1 process: ",
    ):  # fmt: skip
        assert part in md, part
    png = tmp_path / "pg.png"
    assert render.chart(found, png, "smoke") and png.read_bytes().startswith(b"\x89PNG")


def test_what_bounds_a_cell_counts_the_other_work_on_the_machine(report: ModuleType) -> None:
    """On a shared machine the cores can be full of work that is neither the clients nor the
    server: the verdict says so instead of blaming (or clearing) the engine."""
    cell, bound = report.pg_report.Cell, report.pg_render._bound
    assert bound(cell(900.0, 0.4, 0.3, 0.8), 2).startswith("waiting, not CPU (clients 0.40")
    assert bound(cell(900.0, 0.5, 0.4, 1.9), 2).startswith("CPU, mostly other work")
    assert bound(cell(900.0, 1.2, 0.6, 1.9), 2).startswith("CPU, most of it the clients' Python")
    assert bound(cell(900.0, 0.5, 1.3, 1.9), 2).startswith("CPU, most of it the server")
    assert "server ?" in bound(cell(900.0, 0.5, None, 0.6), 2)  # a server not ours to see
