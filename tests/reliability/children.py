"""What the reliability tests share: the worker script and how child processes start it."""

from __future__ import annotations

import os
from pathlib import Path

from . import worker

LONG = os.environ.get("GAMIFICATION_LONG") == "1"
WORKER = Path(worker.__file__).resolve()
ROOT = WORKER.parents[2]


def child_env() -> dict[str, str]:
    """The parent's environment with the repository root importable in the child."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env
