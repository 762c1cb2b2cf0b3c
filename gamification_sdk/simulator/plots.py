"""PNG charts of a simulation report, drawn with matplotlib's Agg canvas (no display needed).

matplotlib is an optional extra (``pip install 'gamification-sdk[plots]'``): importing this
module works without it, ``write_plots`` raises ``ImportError`` then.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .report import SimulationReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOTS_HINT", "PLOT_FILES", "plots_available", "write_plots"]

PLOTS_HINT = "plots skipped: matplotlib is not installed (pip install 'gamification-sdk[plots]')"
PLOT_FILES = (
    "levels.png",
    "level-distribution.png",
    "points.png",
    "streaks.png",
    "achievements.png",
)
# Few enough lines to tell apart: the levels a designer asks about.
LEVEL_MARKS = (2, 3, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100)
DPI = 100


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_plots(report: SimulationReport, folder: str | Path) -> list[Path]:
    """Draw the five charts into ``folder`` (which must exist); returns the files written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    drawers: list[Callable[[Figure, SimulationReport], None]] = [
        _levels, _distribution, _points, _streaks, _achievements,
    ]  # fmt: skip
    written = []
    for name, draw in zip(PLOT_FILES, drawers, strict=True):
        figure = Figure(figsize=(8, 4.8), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure, report)
        path = Path(folder) / name
        figure.savefig(path, format="png")
        written.append(path)
    return written


def _subtitle(report: SimulationReport) -> str:
    return f"{report.users:,} {report.profile} users, {report.days} days, seed {report.seed}"


def _days(report: SimulationReport) -> list[int]:
    return list(range(1, report.days + 1))


def _levels(figure: Figure, report: SimulationReport) -> None:
    ax = figure.add_subplot()
    shown = [t for t in report.levels if t.level in LEVEL_MARKS]
    for timing in shown:
        shares = [100 * n / report.users for n in timing.reached_by_day]
        ax.plot(_days(report), shares, label=f"level {timing.level}", linewidth=1.8)
    ax.set_title(f"Share of users who reached each level, by day\n{_subtitle(report)}")
    ax.set_xlabel("day")
    ax.set_ylabel("users who reached the level (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(1, report.days)
    ax.grid(alpha=0.3)
    if shown:
        ax.legend(loc="upper left", fontsize="small", ncols=2)


def _distribution(figure: Figure, report: SimulationReport) -> None:
    ax = figure.add_subplot()
    levels = [c.level for c in report.level_distribution]
    ax.bar(levels, [100 * c.share for c in report.level_distribution], color="#4c72b0")
    ax.set_title(f"Level on day {report.days}\n{_subtitle(report)}")
    ax.set_xlabel("level")
    ax.set_ylabel("users (%)")
    ax.grid(axis="y", alpha=0.3)


def _points(figure: Figure, report: SimulationReport) -> None:
    axes = figure.subplots(len(report.currencies), 1, squeeze=False, sharex=True)
    for ax, flow in zip(axes[:, 0], report.currencies, strict=True):
        days = [d.day for d in flow.days]
        ax.plot(days, [d.issued for d in flow.days], label="issued", color="#55a868")
        ax.plot(days, [d.spent for d in flow.days], label="spent", color="#c44e52")
        ax.set_ylabel(f"{flow.currency} per day")
        ax.grid(alpha=0.3)
        held = ax.twinx()
        held.plot(days, [d.supply for d in flow.days], label="held by users (right)",
                  color="#8172b2", linestyle="--")  # fmt: skip
        held.set_ylabel(f"{flow.currency} held by users")
        lines = ax.get_lines() + held.get_lines()
        ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper left",
                  fontsize="small")  # fmt: skip
    axes[0, 0].set_title(f"Points issued vs spent per day\n{_subtitle(report)}")
    axes[-1, 0].set_xlabel("day")


def _streaks(figure: Figure, report: SimulationReport) -> None:
    ax = figure.add_subplot()
    days = _days(report)
    ax.plot(days, [100 * n / report.users for n in report.daily_active], color="grey",
            linestyle=":", label="active that day")  # fmt: skip
    for curve in report.streaks:
        ax.plot(days, [100 * s for s in curve.shares], label=f"streak >= {curve.threshold} days")
    ax.set_title(f"Streak survival: users on a streak at each day's end\n{_subtitle(report)}")
    ax.set_xlabel("day")
    ax.set_ylabel("users (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(1, report.days)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")


def _achievements(figure: Figure, report: SimulationReport) -> None:
    ax = figure.add_subplot()
    rates = list(reversed(report.achievements.per_achievement))
    ax.barh([r.name for r in rates], [100 * r.share for r in rates], color="#dd8452")
    a = report.achievements
    ax.set_title(
        f"Achievement unlock rates: {100 * a.share_with_any:.1f}% unlocked one, "
        f"{a.average:.2f} per user\n{_subtitle(report)}"
    )
    ax.set_xlabel("users who unlocked it (%)")
    ax.set_xlim(0, 100)
    ax.tick_params(axis="y", labelsize="small")
    ax.grid(axis="x", alpha=0.3)
