"""breakdown.py works end to end on tiny sizes and sees the engine's statements (the hot ones
run on a cursor the engine keeps, which its recording once missed). Speed is never asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "breakdown.py"


@pytest.fixture(scope="module")
def breakdown() -> ModuleType:
    sys.path.insert(0, str(SCRIPT.parent))  # it imports ratio.py beside it
    try:
        spec = importlib.util.spec_from_file_location("gamification_bench_breakdown", SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return module


def test_the_keyed_award_statements_are_recorded_and_replayed(
    breakdown: ModuleType, tmp_path: Path
) -> None:
    users = [f"user{i}" for i in range(20)]
    found = breakdown.measure(breakdown.PATHS["xp"], tmp_path, 20, 2, users)
    statements = found["statements"]
    inserts = [sql for sql in statements if sql.lstrip().startswith("INSERT INTO xp_awards")]
    assert inserts, sorted(statements)
    # One keyed award: BEGIN, its reads and writes, COMMIT: each recorded once per call.
    assert statements[inserts[0]][1] == pytest.approx(1.0)
    assert statements["COMMIT"][1] == pytest.approx(1.0)
    assert found["sql"] > 0
    assert found["python"], "cProfile's shares"
    text = breakdown.render(breakdown.PATHS["xp"], found)
    assert "INSERT INTO xp_awards" in text
