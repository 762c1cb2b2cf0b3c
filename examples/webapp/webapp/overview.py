"""The operator's economy overview: points issued and spent per day, levels, unlock rates.

Read from the database's documented read-only views (``ledger_lines``,
``unlocked_achievements``; see docs/datasette.md) and the ``profiles`` table, as a reporting
tool would: the engine never reads these for its own work, so they are safe to query beside
it. Charts are drawn server-side with matplotlib's Agg canvas, as the simulator's charts are
(``gamification_sdk/simulator/plots.py``, whose colours these reuse), into SVG; each chart
comes with its numbers as a table for screen readers.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from typing import Any

import attrs

from gamification_sdk import Gamification

from .catalogue import CURRENCY

__all__ = ["Overview", "chart_svg", "overview"]

ISSUED, SPENT, BARS = "#55a868", "#c44e52", "#4c72b0"  # the simulator's palette


@attrs.frozen
class Overview:
    days: tuple[tuple[str, int, int], ...]  # (day, issued, spent)
    levels: tuple[tuple[int, int], ...]  # (level, users)
    unlocks: tuple[tuple[str, int, float], ...]  # (achievement, users, share of users)
    users: int


def overview(g: Gamification, days: int = 30) -> Overview:
    flows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = g.db.query(
        "SELECT substr(created_at, 1, 10) AS day, account, -sum(amount) AS issued,"
        " sum(amount) AS spent FROM ledger_lines WHERE currency = ?"
        " AND account IN ('system:issuance', 'system:sink') GROUP BY day, account"
        " ORDER BY day DESC",
        [CURRENCY],
    )
    for row in rows:
        if row["account"] == "system:issuance":
            flows[row["day"]][0] += row["issued"]
        else:
            flows[row["day"]][1] += row["spent"]
    recent = sorted(flows)[-days:]
    levels = Counter(r["level"] for r in g.db.query("SELECT level FROM profiles"))
    users = sum(levels.values())
    unlocked = g.db.query(
        "SELECT name, count(DISTINCT user_id) AS n FROM unlocked_achievements"
        " GROUP BY key ORDER BY n DESC, name"
    )
    return Overview(
        days=tuple((d, flows[d][0], flows[d][1]) for d in recent),
        levels=tuple(sorted(levels.items())),
        unlocks=tuple((r["name"], r["n"], r["n"] / users if users else 0.0) for r in unlocked),
        users=users,
    )


def chart_svg(data: Overview, which: str) -> bytes:
    """One chart as SVG: ``points``, ``levels`` or ``unlocks``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax: Any = figure.add_subplot()
    if which == "points":
        days = [d[5:] for d, _, _ in data.days]
        ax.plot(days, [i for _, i, _ in data.days], label="issued", color=ISSUED, marker="o")
        ax.plot(days, [s for _, _, s in data.days], label="spent", color=SPENT, marker="s",
                linestyle="--")  # fmt: skip
        ax.set_title(f"{CURRENCY.title()} issued vs spent per day (UTC)")
        ax.set_ylabel(f"{CURRENCY} per day")
        ax.tick_params(axis="x", labelrotation=45, labelsize="small")
        ax.legend(loc="upper left", fontsize="small")
    elif which == "levels":
        ax.bar([str(lv) for lv, _ in data.levels], [n for _, n in data.levels], color=BARS)
        ax.set_title(f"Level distribution ({data.users} users)")
        ax.set_xlabel("level")
        ax.set_ylabel("users")
    elif which == "unlocks":
        shown = list(reversed(data.unlocks))
        ax.barh([n for n, _, _ in shown], [100 * s for _, _, s in shown], color="#dd8452")
        ax.set_title("Achievement unlock rates")
        ax.set_xlabel("users who unlocked it (%)")
        ax.set_xlim(0, 100)
    else:
        raise ValueError(f"no chart {which!r}")
    ax.grid(alpha=0.3)
    out = io.BytesIO()
    figure.savefig(out, format="svg")
    return out.getvalue()
