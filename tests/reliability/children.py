"""What the reliability tests share: the worker script and how child processes start it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
