"""Looking after the database: create it, load definitions, audit, re-evaluate, run jobs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import attrs
import click

from ..models import LedgerReport, LoadReport, ReevaluateReport
from ..ops.jobs import JobsReport
from .options import at_option, parse_at
from .output import PROBLEMS, BusyError, CliError, emit, fmt, table
from .state import State, pass_state

__all__ = ["init", "load", "reevaluate", "run_jobs", "verify"]


@click.command()
@pass_state
def init(state: State) -> None:
    """Create the database (or migrate an existing one).

    The only command that creates a database file. On an existing database it applies the
    migrations it lacks; it refuses a file that is not a gamification database.
    """
    state.engine(create=True)
    report = {"db": state.db, "created": state.created, "migrations_applied": state.pending}

    def text() -> str:
        if state.created:
            return f"created {state.db} ({len(state.pending)} migrations)"
        if state.pending:
            return f"{state.db}: applied {', '.join(state.pending)}"
        return f"{state.db} is up to date"

    emit(state.as_json, report, text)


@click.command()
@click.argument("file", metavar="FILE")
@click.option("--name", help="The definition set's name; default: the file's name.")
@pass_state
def load(state: State, file: str, name: str | None) -> None:
    """Load a definitions file (TOML or JSON).

    The file loads as a whole or not at all. Loading a set again updates what changed and
    retires what it no longer holds; run `reevaluate` to award what users already meet.
    """
    report = state.engine().events.load(file, name=name)
    emit(state.as_json, report, lambda: _load_text(report))


def _load_text(r: LoadReport) -> str:
    counts = ", ".join(
        f"{len(keys)} {change}"
        for change, keys in (
            ("added", r.added), ("updated", r.updated), ("retired", r.retired),
            ("unchanged", r.unchanged),
        )
    )  # fmt: skip
    rows = [
        (change, key) for change in ("added", "updated", "retired") for key in getattr(r, change)
    ]
    return f"{r.source}: {counts}" + ("\n" + table(("change", "definition"), rows) if rows else "")


@click.command()
@pass_state
def verify(state: State) -> None:
    """Audit the ledger; exit 4 on problems.

    Recomputes sums, balances, chains, holds and XP totals.
    """
    report = state.engine().verify_ledger()
    emit(state.as_json, report, lambda: _verify_text(report))
    if report.problems:
        click.get_current_context().exit(PROBLEMS)


def _verify_text(r: LedgerReport) -> str:
    checked = f"{r.checked_transactions} transactions, {r.checked_accounts} accounts checked"
    if not r.problems:
        return f"ledger ok: {checked}"
    rows = [(p.kind, p.user_id, p.transaction_id, p.account_id, p.detail) for p in r.problems]
    return f"ledger: {len(r.problems)} problem(s); {checked}\n" + table(
        ("problem", "user", "transaction", "account", "detail"), rows
    )


@click.command()
@click.argument("user_ids", nargs=-1, metavar="[USER]...")
@click.option("--chunk", type=int, default=200, show_default=True, help="Users per transaction.")
@pass_state
def reevaluate(state: State, user_ids: tuple[str, ...], chunk: int) -> None:
    """Award achievements users already meet.

    For new or changed definitions, exactly once. Without USER, every user; an interrupted
    run resumes where it stopped. A progress bar goes to stderr.
    """
    g = state.engine()
    for user_id in user_ids:
        state.require_user(user_id)
    with ExitStack() as stack:
        report = g.events.reevaluate(
            list(user_ids) or None, progress=_progress_bar(stack), chunk=chunk
        )
    emit(state.as_json, report, lambda: _reevaluate_text(report))


def _progress_bar(stack: ExitStack) -> Callable[[int, int], None]:
    """A click progress bar on stderr, made when the first chunk says how many users there are."""
    bars: list[Any] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bar = click.progressbar(length=total, label="re-evaluating", file=sys.stderr)
            bars.append(stack.enter_context(bar))
        bars[0].update(done - bars[0].pos)

    return progress


def _reevaluate_text(r: ReevaluateReport) -> str:
    resumed = f" (resumed after {r.resumed_after})" if r.resumed_after else ""
    text = f"re-evaluated {r.users} user(s){resumed}: {len(r.unlocked)} unlock(s)"
    if r.unlocked:
        rows = [(u.user_id, u.key, u.name, u.rarity, u.xp) for u in r.unlocked]
        text += "\n" + table(("user", "achievement", "name", "rarity", "xp"), rows)
    return text


@click.command("run-jobs")
@at_option("Run what is due at this time (ISO-8601 with a zone); default: now.")
@pass_state
def run_jobs(state: State, at: str | None) -> None:
    """Run the scheduled jobs that are due.

    Each job's latest due period that has not run (for cron). Exit 3 if another process
    holds the scheduler lease, 1 if a job failed.
    """
    moment = parse_at(at)
    report = state.engine().jobs.run_due(moment)
    emit(state.as_json, report, lambda: _jobs_text(report))
    if report.blocked_by is not None:
        raise BusyError(
            f"scheduler: the lease is held by {report.blocked_by}; nothing ran, retry later"
        )
    if report.failed:
        failed = "; ".join(f"{run.job} ({run.period}): {run.error}" for run in report.failed)
        raise CliError(f"run-jobs: {len(report.failed)} job(s) failed: {failed}")


def _summary(result: object) -> str:
    if result is None:
        return ""
    if isinstance(result, list | tuple):
        return f"{len(result)} item(s)"
    if attrs.has(type(result)):
        fields = attrs.asdict(result, recurse=False)  # type: ignore[arg-type]
        parts = [
            f"{k} {fmt(v)}"
            for k, v in fields.items()
            if isinstance(v, int | float | str) and not isinstance(v, bool)
        ]
        text = ", ".join(parts)
        return text if len(text) <= 60 else text[:57] + "..."
    return fmt(result)


def _jobs_text(r: JobsReport) -> str:
    rows: list[tuple[object, ...]] = [
        (run.job, run.period, "ran", _summary(run.result)) for run in r.ran
    ]
    rows += [(run.job, run.period, "failed", run.error) for run in r.failed]
    rows += [(skip.job, skip.period, "skipped", skip.reason) for skip in r.skipped]
    head = f"jobs at {fmt(r.now)}: {len(r.ran)} ran, {len(r.failed)} failed"
    return head + ("\n" + table(("job", "period", "status", "detail"), rows) if rows else "")
