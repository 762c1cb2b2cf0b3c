"""``gamification migrate``: copy an engine's SQLite file into PostgreSQL, then check both sides
agree (storage/postgres/copy.py and copy_check.py; the cut-over is in docs/postgresql.md).

The installed plugins are loaded as the command line's engines load them (not with
``--no-plugins``): their own PostgreSQL migrations make their tables before the copy, so the
tables a plugin keeps in the file (the webhooks plugin's) are copied too."""

from __future__ import annotations

import sys
from typing import IO

import attrs
import click

from ..runtime.plugins import collect_postgres_migrations, get_plugin_manager
from ..storage.postgres import check_copy, copy_sqlite
from ..storage.postgres.copy import CopyResult
from ..storage.postgres.copy_check import CopyCheck
from .output import PROBLEMS, emit
from .state import State, pass_state

__all__ = ["migrate"]

_WIDTH = 30  # characters of the bar


class ProgressLines:
    """Progress per table on ``stream``: a bar redrawn in place on a terminal, otherwise one
    line as each table finishes."""

    def __init__(self, stream: IO[str], terminal: bool) -> None:
        self._stream = stream
        self._terminal = terminal
        self._open = False  # a bar is drawn and its line not ended

    def __call__(self, table: str, done: int, total: int) -> None:
        finished = done >= total
        if self._terminal:
            filled = _WIDTH if total == 0 else _WIDTH * done // total
            percent = 100 if total == 0 else 100 * done // total
            bar = "#" * filled + " " * (_WIDTH - filled)
            self._stream.write(f"\r{table:<24} [{bar}] {done:>12,}/{total:,} {percent:>3}%")
            self._open = not finished
            if finished:
                self._stream.write("\n")
        elif finished:
            self._stream.write(f"{table:<24} {done:>12,} rows\n")
        self._stream.flush()

    def close(self) -> None:
        if self._open:
            self._stream.write("\n")
            self._open = False


@attrs.frozen
class MigrateReport:
    """What ``migrate`` prints as JSON: the copy (none with ``--check``) and the check."""

    copy: CopyResult | None
    check: CopyCheck


@click.command()
@click.option("--from", "source", required=True, metavar="FILE", help="The engine's SQLite file.")
@click.option(
    "--to", "url", required=True, metavar="URL", help="The server: postgresql://user@host/db."
)
@click.option(
    "--schema", default="gamification", show_default=True, help="The engine's schema there."
)
@click.option("--check", "check_only", is_flag=True, help="Only compare the file and the copy.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress per table on stderr.  [default: when stderr is a terminal]",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True)
@pass_state
def migrate(
    state: State,
    source: str,
    url: str,
    schema: str,
    check_only: bool,
    progress: bool | None,
    batch_size: int,
) -> None:
    """Copy a SQLite database into PostgreSQL, then check both agree.

    Stop the app's writers first. Interrupted, run it again: it resumes; run on a finished
    copy, it writes nothing. The installed plugins' tables are copied too (made on PostgreSQL
    first; with --no-plugins a file holding a plugin's tables is refused). The check compares
    row counts, a digest of each user's rows and the ledger's invariants; exit 4 when they
    differ.
    """
    copied = None
    if not check_only:
        pm = get_plugin_manager(load_entrypoints=state.plugins)
        plugins = collect_postgres_migrations(pm)
        shown = sys.stderr.isatty() if progress is None else progress
        lines = ProgressLines(sys.stderr, sys.stderr.isatty()) if shown else None
        try:
            copied = copy_sqlite(
                source, url, schema=schema, progress=lines, batch_size=batch_size, plugins=plugins
            )
        finally:
            if lines is not None:
                lines.close()
    checked = check_copy(source, url, schema=schema)
    report = MigrateReport(copied, checked)
    emit(state.as_json, report, lambda: _text(report))
    if not checked.ok:
        click.get_current_context().exit(PROBLEMS)


def _text(report: MigrateReport) -> str:
    lines = []
    copied, check = report.copy, report.check
    if copied is not None and copied.already_done:
        lines.append(f"already copied into schema {copied.schema!r}: nothing written")
    elif copied is not None:
        rows = sum(copied.copied.values())
        resumed = ", resuming an earlier run" if copied.resumed else ""
        lines.append(f"copied {rows:,} rows into schema {check.schema!r}{resumed}")
    if check.ok:
        lines.append(
            f"check: {len(check.counts)} tables, {check.users} users and the ledger agree "
            "on both sides"
        )
    else:
        lines.append(f"check: {len(check.problems)} problem(s)")
        lines += [f"  {problem}" for problem in check.problems]
    return "\n".join(lines)
