"""ratio.py works end to end on tiny sizes. Speed is never asserted here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "ratio.py"


@pytest.fixture(scope="module")
def ratio() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gamification_bench_ratio", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def tiny(ratio: ModuleType) -> object:
    return ratio.Settings(
        "smoke",
        n=50,
        raw_n=50,
        rounds=1,
        batch=50,
        fill=2_000,
        chunk=500,
        verify_budget=60.0,
        reevaluate_users=200,
    )


def test_measurements_return_positive_numbers(ratio: ModuleType, tmp_path: Path) -> None:
    s = tiny(ratio)
    messages: list[str] = []
    report = ratio.run(s, tmp_path, messages.append)
    assert len(report.rows) == 43 and messages and report.notes and report.samples
    rows = {row.name: row for row in report.rows}
    # Each ceiling row (the engine's statements replayed raw) and least-Python row (the same
    # with the least Python a call needs) is measured, for the engine rows it bounds.
    for engine, ceiling in (*ratio.CEILING_OF.items(), *ratio.LEAST_OF.items()):
        assert rows[ceiling].baseline and rows[ceiling].target_ratio is None, ceiling
        assert rows[engine].target_ratio is not None, engine
    # Every engine row with a least-Python row has its ceiling too (report.why reads both).
    assert ratio.LEAST_OF.keys() <= ratio.CEILING_OF.keys()
    for row in report.rows:
        assert row.value > 0, row
        assert row.baseline is None or row.baseline > 0, row
        assert row.status in ("PASS", "MISS", "info")
    assert all(v > 0 for values in report.samples.values() for v in values)
    assert any("0 problems" in note for note in report.notes)  # the ledger verifies clean


def test_main_writes_the_markdown(
    ratio: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "ratio.md"
    assert ratio.main(["--out", str(out), "--tmpdir", str(tmp_path)], settings=tiny(ratio)) == 0
    md = out.read_text(encoding="utf-8")
    assert "| name | ops/s | baseline ops/s | ratio | target | result |" in md
    assert "award_points, unique key @ 2,000 txns" in md and "platform" in md
    printed = capsys.readouterr().out
    assert printed.startswith("name") and "\033[" not in printed  # not a tty: no colour


def test_markdown_and_text_render(ratio: ModuleType) -> None:
    rows = [
        ratio.Row("award_xp, unique key", 100.0, 200.0, target_ratio=0.5),
        ratio.Row("batch", 10.0, 20.0, target_abs=50_000),
        ratio.Row("verify", 1.5, unit="s"),
        ratio.Row("verify, too slow", 15.0, unit="s", stopped=True),
    ]
    report = ratio.Report(rows=rows, notes=["a note"], samples={"small: raw": [1.0, 2.0]})
    md = ratio.render_markdown(report, tiny(ratio), 1.0)
    assert "| name | ops/s | baseline ops/s | ratio | target | result |" in md
    assert "| award_xp, unique key | 100 | 200 | 0.500 | >= 0.5 | PASS |" in md
    assert "MISS" in md and "1.50 s" in md and "> 15 s (stopped)" in md and "sqlite" in md
    text = ratio.render_text(rows, color=True)
    assert "\033[31m" in text and text.splitlines()[0].startswith("name")
