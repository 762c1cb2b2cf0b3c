"""The README demo runs end to end and shows what it promises."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def test_demo_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("gamification_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.main(str(tmp_path / "demo.db"))
    out = capsys.readouterr().out
    assert "reached level" in out  # the level-up plugin fired
    assert "grace unlocked Say Cheese" in out and "Photographer (bronze)" in out
    assert "Ledger audit: OK" in out
    assert (tmp_path / "demo.db").exists()
