"""What the reliability tests share: the worker script and how child processes start it."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import worker

LONG = os.environ.get("GAMIFICATION_LONG") == "1"
WORKER = Path(worker.__file__).resolve()
ROOT = WORKER.parents[2]
# Run as a module of the ``reliability`` package, so the worker imports its siblings under
# the same names as the tests do.
WORKER_COMMAND = [sys.executable, "-m", "reliability.worker"]


def child_env() -> dict[str, str]:
    """The parent's environment with the repository root and ``tests/`` importable."""
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


def run_workers(
    db: Path | str,
    tmp_path: Path,
    processes: int,
    ops: int,
    mode: str = "mix",
    extra: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Start ``processes`` workers of ``mode`` together (``extra`` after the usual
    arguments); return their reports."""
    procs = []
    for n in range(processes):
        report = tmp_path / f"report-{n}.json"
        stderr = (tmp_path / f"stderr-{n}.txt").open("wb")
        proc = subprocess.Popen(
            [*WORKER_COMMAND, mode, str(db), str(n), str(ops), str(1000 + n), str(report), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
            env=child_env(),
        )
        stderr.close()
        procs.append((proc, report, tmp_path / f"stderr-{n}.txt"))
    try:
        for proc, _, err in procs:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            line = proc.stdout.readline() if ready else b""
            assert line == b"ready\n", f"worker did not start: {err.read_text()}"
        for proc, _, _ in procs:  # go
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.close()
        reports = []
        for proc, report, err in procs:
            assert proc.wait(timeout=300) == 0, err.read_text()
            reports.append(json.loads(report.read_text()))
        return reports
    finally:
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
