"""Leaderboards."""

from __future__ import annotations

import click

from ..models import Leaderboard, LeaderboardEntry
from .options import at_option, parse_at
from .output import emit, table
from .state import State, pass_state

__all__ = ["leaderboard"]


@click.command()
@click.argument("board", required=False)
@click.option("--period", default="all_time", show_default=True,
              help="all_time, daily, weekly, monthly or season.")  # fmt: skip
@click.option("--scope", help="global, friends or group; default: group with --group, else global.")
@click.option("--group", help="The group, for the group scope.")
@click.option("--limit", type=int, default=10, show_default=True, help="Lines, up to 1000.")
@click.option("--offset", type=int, default=0, show_default=True, help="Lines to skip.")
@click.option("--viewer", metavar="USER", help="Also show this user's own line.")
@click.option("--period-key", metavar="KEY", help="Another period, e.g. 2026-W47 or 2026-03.")
@at_option("Read the period holding this time (ISO-8601 with a zone); default: now.")
@pass_state
def leaderboard(
    state: State,
    board: str | None,
    period: str,
    scope: str | None,
    group: str | None,
    limit: int,
    offset: int,
    viewer: str | None,
    period_key: str | None,
    at: str | None,
) -> None:
    """Show a page of a leaderboard.

    BOARD defaults to the first configured board. --viewer adds that user's own line even
    when it is off the page or the board hides them; the viewer must exist.
    """
    moment = parse_at(at)
    g = state.engine()
    if viewer is not None:
        state.require_user(viewer, "--viewer")
    result = g.boards.get(
        board if board is not None else g.config.leaderboards.boards[0].key,
        period=period,
        scope=scope or ("group" if group is not None else "global"),
        group=group,
        limit=limit,
        offset=offset,
        viewer=viewer,
        period_key=period_key,
        at=moment,
    )
    emit(state.as_json, result, lambda: _board_text(result))


def _row(e: LeaderboardEntry) -> tuple[object, ...]:
    mark = " (you)" if e.is_viewer else ""
    hidden = " (hidden)" if e.hidden else ""
    return (e.rank, f"{e.user_id}{mark}{hidden}", e.display_name, e.level, e.score, e.movement)


def _board_text(b: Leaderboard) -> str:
    where = b.scope if b.group is None else f"{b.scope} {b.group}"
    closed = ", closed" if b.closed else ""
    head = f"{b.board} · {b.period} {b.period_key} · {where} · {b.total} ranked{closed}"
    rows = [_row(e) for e in b.entries]
    if b.viewer is not None and not any(e.is_viewer for e in b.entries):
        rows.append(_row(b.viewer))  # the viewer's own line, off this page
    if not rows:
        return f"{head}\nnobody on this page"
    return head + "\n" + table(("rank", "user", "name", "level", "score", "move"), rows)
