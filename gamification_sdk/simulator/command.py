"""``gamification simulate``: the simulator as a click command.

The ``gamification`` group adds it with ``cli.add_command(simulate)``. Exit codes: 0 ok,
1 a user error (one line on stderr, nothing written), 2 a usage error (click's own).
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import ExitStack
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import GamificationError
from .driver import DEFAULT_START
from .driver import simulate as run_simulation
from .plots import PLOTS_HINT, plots_available, write_plots
from .profiles import POPULATIONS
from .report import SimulationReport

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

__all__ = ["simulate"]


def _fail(message: str) -> click.ClickException:
    return click.ClickException(" ".join(message.split()))


def _weights(pairs: tuple[str, ...]) -> dict[str, float] | None:
    if not pairs:
        return None
    weights: dict[str, float] = {}
    for pair in pairs:
        name, sep, text = pair.rpartition("=")
        try:
            weight = float(text)
        except ValueError:
            weight = math.nan
        if not sep or not name or not math.isfinite(weight) or weight <= 0:
            raise _fail(f"--event: expected NAME=WEIGHT with a weight > 0, got {pair!r}")
        weights[name] = weight
    return weights


def _write(report: SimulationReport, out: Path, plots: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.md"
    summary.write_text(report.to_markdown(), encoding="utf-8")
    data = out / "report.json"
    data.write_text(report.to_json() + "\n", encoding="utf-8")
    written = [summary, data]
    if plots:
        written += write_plots(report, out)
    return written


@click.command("simulate")
@click.option(
    "--users", type=int, default=1_000, show_default=True, help="How many synthetic users."
)
@click.option("--days", type=int, default=90, show_default=True, help="How many days.")
@click.option(
    "--profile",
    type=click.Choice(list(POPULATIONS)),
    default="mixed",
    show_default=True,
    help="Activity model; mixed is 70% casual, 25% core, 5% whale.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="The same seed gives the same report."
)
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    help="Engine configuration (TOML or JSON); default: the bundled economy.",
)
@click.option(
    "--definitions",
    "definitions_file",
    metavar="FILE",
    help="Rules, achievements, quests and shop (TOML or JSON); default: bundled.",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="NAME=WEIGHT",
    help="Replace the event mix derived from the definitions (repeatable).",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=DEFAULT_START.isoformat(),
    show_default=True,
    help="The first simulated day.",
)
@click.option(
    "--out", "out_dir", metavar="DIR", help="Write summary.md, report.json and PNG plots into DIR."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--plugins/--no-plugins",
    default=False,
    show_default=True,
    help="Load installed plugins (they may send real notifications).",
)
def simulate(
    users: int,
    days: int,
    profile: str,
    seed: int,
    config_file: str | None,
    definitions_file: str | None,
    events: tuple[str, ...],
    start: datetime,
    out_dir: str | None,
    as_json: bool,
    plugins: bool,
) -> None:
    """Drive seeded synthetic users through the configured economy on a fake clock, and
    report time to each level, levels, achievements, points issued vs spent and streaks."""
    weights = _weights(events)
    out = Path(out_dir) if out_dir else None
    if out is not None and out.exists() and not out.is_dir():
        raise _fail(f"--out: {out} exists and is not a directory")
    began = time.perf_counter()
    with ExitStack() as stack:
        bar: ProgressBar[int] | None = None

        def advance(day: int, total: int) -> None:
            # Opened on the first simulated day, after the inputs were checked: an input
            # error prints its one line and nothing else.
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(
                    click.progressbar(length=total, label="simulating days", file=sys.stderr)
                )
            bar.update(1)

        try:
            report = run_simulation(
                users=users,
                days=days,
                profile=profile,
                seed=seed,
                config=config_file,
                definitions=definitions_file,
                events=weights,
                start=date(start.year, start.month, start.day),
                load_entrypoints=plugins,
                progress=advance,
            )
        except GamificationError as exc:
            raise _fail(str(exc)) from None
    elapsed = time.perf_counter() - began
    click.echo(report.to_json() + "\n" if as_json else report.to_markdown(), nl=False)
    click.echo(f"simulated {users:,} users x {days} days in {elapsed:.1f} s", err=True)
    if out is None:
        return
    plots = plots_available()
    try:
        written = _write(report, out, plots)
    except OSError as exc:
        raise _fail(f"--out: cannot write {exc.filename}: {exc.strerror}") from None
    for path in written:
        click.echo(f"wrote {path}", err=True)
    if not plots:
        click.echo(PLOTS_HINT, err=True)
