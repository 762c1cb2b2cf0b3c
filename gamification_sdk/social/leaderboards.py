"""Reading boards (scopes, privacy, archived periods) and closing periods that ended."""

from __future__ import annotations

import bisect
import math
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import NamedTuple

from ..config import Config
from ..config.leaderboards import BoardConfig, RankReward
from ..core.clock import to_text
from ..economy.inventory import Items
from ..economy.ledger import Ledger, Posting
from ..errors import InvalidInput, UnknownBoard, UnknownGroup
from ..models import Leaderboard, LeaderboardEntry, PeriodClose
from ..runtime.outbox import Notifications
from ..storage.leaderboards import (
    ARCHIVE_ROWS,
    ARCHIVED_GLOBAL,
    ARCHIVED_RANKS,
    CLOSE_PERIOD,
    ENDED_PERIODS,
    PERIOD_BY_KEY,
    PERIOD_ROW,
    PERIOD_SCORES,
    PREVIOUS_BY_END,
    PREVIOUS_BY_KEY,
    RECORD_REWARD,
    SCORES_CHUNK,
    scores_sql,
)
from ..storage.store import Tx
from .boards import Boards, Row
from .groups import Person, Social
from .periods import key_problem

__all__ = ["SCOPES", "Leaderboards", "Target"]

SCOPES = ("global", "group", "friends")


class Target(NamedTuple):
    """A resolved board period: its id is None while nobody has scored in it."""

    board: BoardConfig
    period: str
    key: str
    period_id: int | None
    closed: bool


class _Line(NamedTuple):
    user_id: str
    score: float
    reached: int
    rank: int
    position: int
    hidden: bool = False
    previous_rank: int | None = None
    movement: str | None = None


# user -> (score, reached, previous_rank, movement): a board's rows, before privacy.
_Scores = dict[str, tuple[float, int, int | None, str | None]]


def _ranked(rows: Sequence[tuple[str, float, int]]) -> list[_Line]:
    """Competition ranks over rows, best first; ties in the order their scores were reached."""
    ordered = sorted(rows, key=lambda r: (-r[1], r[2], r[0]))
    lines = []
    rank = 0
    for i, (user_id, score, reached) in enumerate(ordered):
        if i == 0 or score != ordered[i - 1][1]:
            rank = i + 1
        lines.append(_Line(user_id, score, reached, rank, i + 1))
    return lines


class Leaderboards:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        boards: Boards,
        social: Social,
        ledger: Ledger,
        items: Items,
        notifications: Notifications,
    ) -> None:
        self._conn = conn
        self._config = config
        self._boards = boards
        self._social = social
        self._ledger = ledger
        self._items = items
        self._notifications = notifications

    def one_read(self) -> AbstractContextManager[None]:
        """A read of the boards (see ``Boards.one_read``)."""
        return self._boards.one_read()

    # -- resolving ---------------------------------------------------------------------------

    def target(self, board: str, period: str, period_key: str | None, at: datetime) -> Target:
        found = self._boards.boards.get(board)
        if found is None:
            raise UnknownBoard(board, sorted(self._boards.boards))
        config, calendar = found
        if period not in config.periods:
            raise InvalidInput(
                "period", f"board {board!r} has periods {', '.join(config.periods)}; got {period!r}"
            )
        if period_key is None:
            current = calendar.at(at).get(period)
            if current is None:
                raise InvalidInput("period", f"no season is active at {at.isoformat()}")
            period_key = current.key
        else:
            problem = key_problem(period, period_key)
            if problem is None and period == "season" and calendar.season(period_key) is None:
                seasons = ", ".join(repr(s.key) for s in self._config.leaderboards.seasons)
                problem = f"no season {period_key!r:.50} is configured (seasons: {seasons})"
            if problem is not None:
                raise InvalidInput("period_key", problem)
        row = self._conn.execute(PERIOD_BY_KEY, (board, period, period_key)).fetchone()
        if row is None:
            return Target(config, period, period_key, None, False)
        return Target(config, period, period_key, int(row[0]), row[1] is not None)

    def check_scope(self, scope: str, group: str | None, viewer: str | None) -> None:
        if scope not in SCOPES:
            raise InvalidInput("scope", f"expected one of {', '.join(SCOPES)}, got {scope!r}")
        if scope == "group":
            if group is None:
                raise InvalidInput("group", "the group scope needs a group")
            if self._social.group_kind(group) is None:
                raise UnknownGroup(group)
        elif group is not None:
            raise InvalidInput("group", f"only the group scope takes a group (scope is {scope!r})")
        if scope == "friends" and viewer is None:
            raise InvalidInput("viewer", "the friends scope is the viewer's friends: give viewer")

    # -- reading -----------------------------------------------------------------------------

    def leaderboard(
        self,
        target: Target,
        scope: str,
        group: str | None,
        limit: int,
        offset: int,
        viewer: str | None,
    ) -> Leaderboard:
        if scope == "global" and not target.closed:
            return self._live_global(target, limit, offset, viewer)
        lines = self._lines(target, scope, group, viewer)
        own = self._find(lines, viewer)
        # A viewer the board hides has their own line, never a place on the page.
        page = [line for line in lines if not line.hidden][offset : offset + limit]
        return self._board(target, scope, group, page, own, self._total(lines))

    def around(
        self, target: Target, user_id: str, n: int, scope: str, group: str | None
    ) -> Leaderboard:
        if scope == "global" and not target.closed:
            return self._live_around(target, user_id, n)
        lines = self._lines(target, scope, group, user_id)
        own = self._find(lines, user_id)
        if own is None:
            return self._board(target, scope, group, [], None, self._total(lines))
        at = lines.index(own)
        page = lines[max(0, at - n) : at + n + 1]
        return self._board(target, scope, group, page, own, self._total(lines))

    def rank(
        self, target: Target, user_id: str, scope: str, group: str | None
    ) -> LeaderboardEntry | None:
        if scope == "global" and not target.closed:
            line = self._live_line(target, user_id)
        else:
            line = self._find(self._lines(target, scope, group, user_id), user_id)
        if line is None:
            return None
        return self._entries([line], user_id)[0]

    def _find(self, lines: Sequence[_Line], user_id: str | None) -> _Line | None:
        if user_id is None:
            return None
        return next((line for line in lines if line.user_id == user_id), None)

    @staticmethod
    def _total(lines: Sequence[_Line]) -> int:
        return sum(1 for line in lines if not line.hidden)

    def _board(
        self,
        target: Target,
        scope: str,
        group: str | None,
        page: Sequence[_Line],
        own: _Line | None,
        total: int,
    ) -> Leaderboard:
        viewer = None if own is None else own.user_id
        entries = self._entries([*page, *([own] if own else [])], viewer)
        return Leaderboard(
            board=target.board.key,
            period=target.period,
            period_key=target.key,
            scope=scope,
            group=group,
            total=total,
            entries=tuple(entries[: len(page)]),
            viewer=entries[-1] if own else None,
            closed=target.closed,
        )

    def _entries(self, lines: Sequence[_Line], viewer: str | None) -> list[LeaderboardEntry]:
        people = self._social.people(line.user_id for line in lines)
        unknown = Person("", 1, "private")
        return [
            LeaderboardEntry(
                rank=line.rank,
                position=line.position,
                user_id=line.user_id,
                display_name=people.get(line.user_id, unknown).display_name or line.user_id,
                level=people.get(line.user_id, unknown).level,
                score=line.score,
                is_viewer=line.user_id == viewer,
                hidden=line.hidden,
                previous_rank=line.previous_rank,
                movement=line.movement,
            )
            for line in lines
        ]

    # The global board of an open period: the period's order in memory (boards.py), caught
    # up from the log in this read's snapshot, never a scan.

    def _live_global(
        self, target: Target, limit: int, offset: int, viewer: str | None
    ) -> Leaderboard:
        pid = target.period_id
        page: list[_Line] = []
        total = 0
        if pid is not None:
            total = self._boards.count(pid)
            page = [self._from_row(row) for row in self._boards.page(pid, offset, limit)]
        own = None if viewer is None else self._live_line(target, viewer)
        return self._board(target, "global", None, page, own, total)

    @staticmethod
    def _from_row(row: Row) -> _Line:
        return _Line(row.user_id, row.score, row.reached, row.rank, row.position + 1)

    def _live_line(self, target: Target, user_id: str) -> _Line | None:
        pid = target.period_id
        found = None if pid is None else self._boards.row(pid, user_id)
        if pid is None or found is None:
            return None
        score, reached, listed = found
        rank = self._boards.rank_of(pid, score)
        if listed:
            position = self._boards.position(pid, user_id, score, reached)
            return _Line(user_id, score, reached, rank, position + 1)
        return _Line(user_id, score, reached, rank, rank, hidden=True)

    def _live_around(self, target: Target, user_id: str, n: int) -> Leaderboard:
        pid = target.period_id
        own = self._live_line(target, user_id)
        if pid is None or own is None:
            total = 0 if pid is None else self._boards.count(pid)
            return self._board(target, "global", None, [], None, total)
        boards = self._boards
        # A hidden user is not in the order: read n above and n below where they would be
        # (the first of the users they tie).
        listed = not own.hidden
        position = own.position - 1
        start = max(0, position - n)
        wanted = position + n + (1 if listed else 0) - start
        lines = [self._from_row(row) for row in boards.page(pid, start, wanted)]
        if not listed:
            lines.insert(position - start, own)
        return self._board(target, "global", None, lines, own, boards.count(pid))

    # Group and friends boards, and every board of a closed period: built from the rows of
    # the users concerned, so they cost what the group (or the viewer's friends) holds.
    # Privacy is applied as the board is read, from each user's settings now, so a closed
    # period follows the same rules as an open one.

    def _lines(
        self, target: Target, scope: str, group: str | None, viewer: str | None
    ) -> list[_Line]:
        """The board in order: the users it shows, ranked among themselves, and a viewer
        it hides where they would stand (``hidden``, the rank they would have)."""
        if target.period_id is None:
            return []
        if scope == "global":  # a closed period: the archive
            rows, shown = self._archived_global(target.period_id, viewer)
        else:
            rows, shown = self._scoped(target, scope, group, viewer)
        lines = _ranked([(user, row[0], row[1]) for user, row in rows.items() if user in shown])
        if viewer in rows and viewer not in shown:
            score, reached = rows[viewer][0], rows[viewer][1]
            rank = 1 + sum(1 for line in lines if line.score > score)
            lines.insert(rank - 1, _Line(viewer, score, reached, rank, rank, hidden=True))
        if target.closed:
            lines = [
                line._replace(previous_rank=rows[line.user_id][2], movement=rows[line.user_id][3])
                for line in lines
            ]
        return lines

    def _scoped(
        self, target: Target, scope: str, group: str | None, viewer: str | None
    ) -> tuple[_Scores, set[str]]:
        """The scores of a friends or group board's users, and which of them it shows:
        ``public`` users to everyone, ``friends_only`` users to their friends, ``private``
        users to nobody. A viewer is never their own friend, but a ``friends_only`` viewer
        stands on the board their friends see; a ``private`` one is hidden."""
        social = self._social
        if scope == "friends":
            assert viewer is not None
            friends = social.friends(viewer)
            candidates = [viewer, *sorted(friends)]
        else:
            assert group is not None
            friends = set() if viewer is None else social.friends(viewer)
            candidates = social.members(group)
        people = social.people(candidates)
        shown = {
            user_id
            for user_id, person in people.items()
            if person.visibility == "public"
            or (person.visibility == "friends_only" and (user_id in friends or user_id == viewer))
        }
        in_board = [user_id for user_id in candidates if user_id in shown or user_id == viewer]
        return self._scores(target, in_board), shown

    def _scores(
        self, target: Target, user_ids: Sequence[str]
    ) -> dict[str, tuple[float, int, int | None, str | None]]:
        found: dict[str, tuple[float, int, int | None, str | None]] = {}
        for start in range(0, len(user_ids), SCORES_CHUNK):
            chunk = user_ids[start : start + SCORES_CHUNK]
            sql = scores_sql(target.closed, len(chunk))
            for user_id, score, reached, previous, movement in self._conn.execute(
                sql, (target.period_id, *chunk)
            ):
                found[user_id] = (score, reached, previous, movement)
        return found

    def _archived_global(self, period_id: int, viewer: str | None) -> tuple[_Scores, set[str]]:
        """The archived scores of the users a global board lists now (public and opted in),
        and the viewer's: the archive's own ``listed`` and ranks are as the period closed,
        which paid the rewards, but someone who has since gone private is off the board."""
        settings = self._config.leaderboards
        rows = self._conn.execute(
            ARCHIVED_GLOBAL, (period_id, settings.visibility, int(settings.show_on_global), viewer)
        ).fetchall()
        found = {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}
        return found, {row[0] for row in rows if row[5]}

    # -- closing -------------------------------------------------------------------------------

    def due(self, now: datetime) -> list[int]:
        """Open periods that ended by ``now``, oldest first."""
        return [period_id for (period_id,) in self._conn.execute(ENDED_PERIODS, (to_text(now),))]

    def close(self, tx: Tx, period_id: int, now: datetime) -> PeriodClose | None:
        """Archive one ended period with movement, pay its rank rewards, drop its live rows.

        Runs inside the caller's transaction; a period already closed is left alone, so a
        job that runs twice pays nothing twice.
        """
        execute = self._conn.execute
        row = execute(PERIOD_ROW, (period_id,)).fetchone()
        if row is None or row[4] is not None:
            return None
        board, period, key, starts_at, _ = row
        scores = execute(PERIOD_SCORES, (period_id,)).fetchall()
        ranked = _ranked([(u, s, r) for u, s, r, listed in scores if listed])
        ascending = sorted(line.score for line in ranked)
        previous = self._previous_ranks(board, period, key, starts_at)
        archive = []
        for line in ranked:
            archive.append((*self._moved(line.rank, previous.get(line.user_id)), line, 1))
        for user_id, score, reached, listed in scores:
            if not listed:
                rank = 1 + len(ascending) - bisect.bisect_right(ascending, score)
                hidden = _Line(user_id, score, reached, rank, 0)
                archive.append((*self._moved(rank, previous.get(user_id)), hidden, 0))
        self._conn.executemany(
            ARCHIVE_ROWS,
            [
                (period_id, line.user_id, line.score, line.reached, listed, line.rank,
                 line.position if listed else None, prior, movement)
                for prior, movement, line, listed in archive
            ],
        )  # fmt: skip
        at_text = to_text(now)
        rewarded = self._reward(tx, period_id, board, period, key, ranked, now, at_text)
        self._boards.drop_period(period_id)
        execute(CLOSE_PERIOD, (at_text, len(ranked), period_id))
        closed = PeriodClose(board, period, key, len(ranked), rewarded)
        tx.emit("on_leaderboard_closed", close=closed)
        return closed

    @staticmethod
    def _moved(rank: int, prior: int | None) -> tuple[int | None, str]:
        if prior is None:
            return None, "new"
        return prior, "up" if rank < prior else "down" if rank > prior else "same"

    def _previous_ranks(
        self, board: str, period: str, key: str, starts_at: str | None
    ) -> dict[str, int]:
        if period == "season":
            calendar = self._boards.boards[board].calendar if board in self._boards.boards else None
            season = None if calendar is None else calendar.season_before(key)
            if season is None:
                return {}
            row = self._conn.execute(PREVIOUS_BY_KEY, (board, period, season.key)).fetchone()
        else:
            row = self._conn.execute(PREVIOUS_BY_END, (board, period, starts_at)).fetchone()
        if row is None:
            return {}
        return dict(self._conn.execute(ARCHIVED_RANKS, (row[0],)).fetchall())

    def _reward(
        self,
        tx: Tx,
        period_id: int,
        board: str,
        period: str,
        key: str,
        ranked: Sequence[_Line],
        now: datetime,
        at_text: str,
    ) -> int:
        found = self._boards.boards.get(board)
        if found is None or not ranked:
            return 0
        paid = 0
        for index, reward in enumerate(found.config.rewards):
            if reward.periods and period not in reward.periods:
                continue
            if reward.ranks is not None:
                first, last = reward.ranks
            else:
                assert reward.top_percent is not None
                first, last = 1, math.ceil(len(ranked) * reward.top_percent / 100)
            for line in ranked:
                if not first <= line.rank <= last:
                    continue
                cursor = self._conn.execute(
                    RECORD_REWARD, (period_id, line.user_id, index, line.rank, at_text)
                )
                if cursor.rowcount == 0:
                    continue
                paid += 1
                self._pay(tx, period_id, board, period, key, index, reward, line, now, at_text)
        return paid

    def _pay(
        self,
        tx: Tx,
        period_id: int,
        board: str,
        period: str,
        key: str,
        index: int,
        reward: RankReward,
        line: _Line,
        now: datetime,
        at_text: str,
    ) -> None:
        label = f"{board} {period} {key}"
        for currency, amount in sorted(reward.points.items()):
            self._ledger.credit(
                tx,
                Posting(
                    "bonus", currency, amount, line.user_id, "leaderboard", now, at_text,
                    reference=("leaderboard", f"{board}:{period}:{key}"),
                    description=f"Rank {line.rank} on {label}",
                    key=f"leaderboard:{period_id}:{line.user_id}:{index}:{currency}",
                ),
                origin="leaderboard",
            )  # fmt: skip
        if reward.title is not None:
            self._items.grant_title(line.user_id, reward.title, f"leaderboard:{label}", at_text)
        for item, quantity in sorted(reward.items.items()):
            self._items.grant_item(line.user_id, item, quantity, at_text)
        self._notifications.add(
            tx, line.user_id, "leaderboard_reward", f"Rank {line.rank} on {label}",
            {"board": board, "period": period, "period_key": key, "rank": line.rank,
             "points": dict(reward.points), "title": reward.title, "items": dict(reward.items)},
            now, at_text,
        )  # fmt: skip
