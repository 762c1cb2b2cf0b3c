"""The configuration stored in the database: show it, its history, and change it."""

from __future__ import annotations

import json

import click

from ..config import Config
from ..runtime.stored_config import stored_part
from .output import emit, table
from .state import State, pass_state

__all__ = ["config"]


@click.group("config")
def config() -> None:
    """The configuration stored in the database, which every engine on it runs on."""


@config.command("show")
@pass_state
def show(state: State) -> None:
    """Print the stored configuration (its stored fields) and its version."""
    engine = state.engine()
    report = {"version": engine.settings.version, "config": stored_part(engine.config)}
    emit(
        state.as_json,
        report,
        lambda: (
            f"version {report['version']}\n"
            + json.dumps(report["config"], indent=2, sort_keys=True)
        ),
    )


@config.command("history")
@pass_state
def history(state: State) -> None:
    """List every stored version, oldest first."""
    versions = state.engine().settings.history()
    rows = [(v.version, v.applied_at, v.applied_by) for v in versions]
    report = [{"version": v, "applied_at": at, "applied_by": by} for v, at, by in rows]
    emit(state.as_json, report, lambda: table(("version", "applied at", "by"), rows))


@config.command("apply")
@click.argument("file", metavar="FILE")
@pass_state
def apply(state: State, file: str) -> None:
    """Make FILE (TOML or JSON) the stored configuration, in one transaction.

    Boards it adds start from the logs; boards it drops stop counting. Engines of other
    processes re-read it at their next write. Applying the stored configuration again
    changes nothing.
    """
    wanted = Config.from_file(file)
    change = state.engine().settings.apply(wanted)
    report = {"version": change.version, "changed": list(change.changed)}

    def text() -> str:
        if not change.changed:
            return f"{state.db}: unchanged (version {change.version})"
        return f"{state.db}: version {change.version}, changed " + ", ".join(change.changed)

    emit(state.as_json, report, text)
