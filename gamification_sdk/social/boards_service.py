"""``g.boards``: leaderboard pages, a user's line and the lines around it, period closes."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from ..core.checks import check_limit
from ..core.validation import MAX_TOTAL, check_at, check_id
from ..errors import InvalidInput
from ..models import Leaderboard, LeaderboardEntry, PeriodClose
from ..runtime.runtime import Runtime
from .leaderboards import Leaderboards, Target

__all__ = ["BoardsService"]


class BoardsService:
    """The leaderboards configured under ``leaderboards``: read them, close their periods."""

    def __init__(self, rt: Runtime, leaderboards: Leaderboards) -> None:
        self._rt = rt
        self._leaderboards = leaderboards

    def _target(
        self, board: object, period: object, period_key: object, at: object
    ) -> tuple[Target, datetime]:
        if not isinstance(board, str):
            raise InvalidInput("board", f"expected a board key, got {board!r}")
        if not isinstance(period, str):
            raise InvalidInput("period", f"expected a period name, got {period!r}")
        moment = self._rt.now() if at is None else check_at(at)
        target = self._leaderboards.target(board, period, period_key, moment)  # type: ignore[arg-type]
        return target, moment

    def get(
        self,
        board: str,
        *,
        period: str = "all_time",
        scope: str = "global",
        group: str | None = None,
        limit: int = 100,
        offset: int = 0,
        viewer: str | None = None,
        period_key: str | None = None,
        at: datetime | None = None,
    ) -> Leaderboard:
        """A page of ``board`` for the period holding ``at`` (or ``period_key``, such as
        ``"2026-W47"``), with ``viewer``'s own line even when the board hides them."""
        check_limit(limit)
        if type(offset) is not int or not 0 <= offset <= MAX_TOTAL:
            raise InvalidInput("offset", f"expected an int from 0 to 2**63 - 1, got {offset!r:.50}")
        if viewer is not None:
            check_id(viewer, "viewer")
        with self._rt.store.read(), self._leaderboards.one_read():
            target, _ = self._target(board, period, period_key, at)
            self._leaderboards.check_scope(scope, group, viewer)
            return self._leaderboards.leaderboard(target, scope, group, limit, offset, viewer)

    def rank(
        self,
        user_id: str,
        board: str,
        *,
        period: str = "all_time",
        scope: str = "global",
        group: str | None = None,
        period_key: str | None = None,
        at: datetime | None = None,
    ) -> LeaderboardEntry | None:
        """The user's line on ``board`` (None if they have no score in the period); a user the
        board hides gets the rank they would have, marked ``hidden``."""
        check_id(user_id)
        with self._rt.store.read(), self._leaderboards.one_read():
            target, _ = self._target(board, period, period_key, at)
            self._leaderboards.check_scope(scope, group, user_id)
            return self._leaderboards.rank(target, user_id, scope, group)

    def around(
        self,
        user_id: str,
        board: str,
        *,
        period: str = "all_time",
        n: int = 5,
        scope: str = "global",
        group: str | None = None,
        period_key: str | None = None,
        at: datetime | None = None,
    ) -> Leaderboard:
        """The ``n`` lines above and below the user on ``board``, the user's own included."""
        check_id(user_id)
        if type(n) is not int or not 1 <= n <= 100:
            raise InvalidInput("n", f"expected an int from 1 to 100, got {n!r}")
        with self._rt.store.read(), self._leaderboards.one_read():
            target, _ = self._target(board, period, period_key, at)
            self._leaderboards.check_scope(scope, group, user_id)
            return self._leaderboards.around(target, user_id, n, scope, group)

    def close_periods(self, now: datetime | None = None) -> list[PeriodClose]:
        """Archive every board period that ended by ``now`` (the ``leaderboard_close`` job),
        with movement against the period before, and pay rank rewards once. Each period
        closes in its own transaction; running it again closes nothing twice."""
        store = self._rt.store
        moment = self._rt.now() if now is None else check_at(now, "now")
        with store.read():
            due = self._leaderboards.due(moment)
        closed = []
        failures: list[tuple[str, BaseException]] = []
        for period_id in due:
            result, tx = self._rt.job(
                partial(self._leaderboards.close, period_id=period_id, now=moment)
            )
            if result is not None:
                closed.append(result)
            if tx.committed:
                self._rt.dispatch(tx, result, failures)
        self._rt.raise_hook_errors(failures, closed)
        return closed
