"""Board scores, kept in the award's transaction, and exact ranks read without scanning.

Each (user, period) has one ``lb_scores`` row, clustered by user: an award that counts on
the all-time, daily, weekly and monthly boards rewrites one page. Sorted order is not an
index over scores (that would dirty one index page per period on every award, and each
dirty page costs about as much as the award's own writes at commit). Instead:

- ``lb_blocks`` cuts each period's score line into ranges ``[lo, next lo)`` and counts the
  listed users in each, exactly, in the same transaction as every change.
- A row records the block it is counted in (``blk``) and that block's upper bound
  (``blk_hi``). An award that keeps the score inside the block touches nothing else; only
  one that crosses a bound moves the user (two counts, and the ``lb_members`` index entry).
- A multi-valued block holds at most ``2 * BLOCK`` users; past that it is split where it
  is. A run of one score shared by many users gets a block of its own, ``[v, v+1)`` (the
  next float for real scores): every member of such a block ties, so nothing in it needs
  sorting by score, and its order (who reached the score first) is the ``lb_members``
  index, ``entered`` being the moment each member reached that score.

So the rank of a score s is ``1 + (sum of the counts of the blocks above s's block) +
(members of s's block with a higher score)``: a sum over block rows and at most
``2 * BLOCK`` member rows, at any number of users. Both parts are exact counts kept in
the same transactions as the scores, so the rank is exact, not an estimate.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from ..config import Config
from ..config.leaderboards import BoardConfig
from ..core.clock import to_text
from ..errors import InvalidInput
from ..models import ScoredEvent
from ..storage.boards import (
    ABOVE,
    BACKFILL_SCORES,
    BEFORE_IN_RUN,
    BLOCK_OF,
    BLOCKS_ABOVE,
    BLOCKS_FROM,
    BLOCKS_FROM_TOP,
    COUNT_LISTED,
    DELETE_BLOCK,
    DELETE_PERIOD_BLOCKS,
    DELETE_PERIOD_SCORES,
    FIRST_BLOCK,
    HIGHER_IN,
    INSERT_BLOCKS,
    LISTED_COUNT,
    MARK_BOARD,
    MEMBERS,
    NEW_PERIOD,
    OPEN_PERIODS,
    OPEN_PERIODS_OF,
    PERIOD_ID,
    PLACE,
    PLACE_ALL_FIRST,
    QUEUED_SPLITS,
    READ_DEFAULTS,
    RELIST_PERIOD,
    RUN_MEMBERS,
    SAVE_BOARD,
    SAVE_DEFAULTS,
    SCORE_ROW,
    SET_LISTED,
    STORED_BOARDS,
    UNQUEUE_SPLIT,
    backfill_query,
    drop_temp_trigger,
    temp_triggers,
    upsert_sql,
)
from .periods import BoardPeriod, Calendar

__all__ = ["BLOCK", "Boards", "Row", "micros"]

BLOCK = 128
MIN_LO = -(2**63)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """``moment`` as whole microseconds since 1970: exact, and ordered like the moments."""
    return (moment - _EPOCH) // _MICRO


def _successor(value: float) -> float:
    """The smallest score above ``value``: a block ``[v, successor(v))`` holds only ``v``."""
    if type(value) is int:
        return value + 1
    return math.nextafter(value, math.inf)


def is_run(lo: float, hi: float | None) -> bool:
    return hi is not None and lo != MIN_LO and hi == _successor(lo)


Member = tuple[str, float, int]  # (user_id, score, reached)


class Row(NamedTuple):
    """One listed entry in board order: 0-based ``position`` and competition ``rank``."""

    position: int
    rank: int
    user_id: str
    score: float
    reached: int


class _Board(NamedTuple):
    config: BoardConfig
    calendar: Calendar


class Boards:
    """The live scores of every open period, their blocks, and reads over them."""

    def __init__(self, conn: sqlite3.Connection, config: Config) -> None:
        self._conn = conn
        settings = config.leaderboards
        self._defaults = (settings.visibility, int(settings.show_on_global))
        self.boards: dict[str, _Board] = {}
        self._by_source: dict[str, list[_Board]] = {}
        for board in settings.boards:
            calendar = Calendar(
                board.timezone or settings.timezone, settings.week_start, settings.seasons
            )
            entry = _Board(board, calendar)
            self.boards[board.key] = entry
            self._by_source.setdefault(board.source_key, []).append(entry)
        self._ids: dict[tuple[str, str, str], int] = {}
        # Whether any board follows tracked events: if none, track() pays nothing for boards.
        self._event_boards = any(b.source in ("metric", "custom") for b in settings.boards)
        self._triggers = temp_triggers(2 * BLOCK)
        # name -> the plugin scorer of custom boards (only those some board uses).
        self.scorers: dict[str, Callable[[ScoredEvent], float | None]] = {}
        self._upserts: dict[int, str] = {}

    def follows_events(self) -> bool:
        """Whether any board counts tracked events (metric and custom boards)."""
        return self._event_boards

    def follows_points(self) -> bool:
        """Whether any board counts points issued, in any currency."""
        return any(source.startswith("points:") for source in self._by_source)

    def follows(self, source: str) -> bool:
        """Whether any board counts ``source`` (``"xp"``, ``"points:coins"``, ...)."""
        return source in self._by_source

    def on_event(
        self, user_id: str, event: str, value: float, metadata: str | None, at: datetime
    ) -> None:
        """A tracked event: metric boards count it, custom boards ask their scorers."""
        if not self._event_boards:
            return
        self.add(f"metric:count:{event}", user_id, 1, at)
        self.add(f"metric:sum:{event}", user_id, value, at)
        if not self.scorers:
            return
        scored = ScoredEvent(
            user_id, event, value, None if metadata is None else json.loads(metadata), at
        )
        for name, scorer in self.scorers.items():
            delta = scorer(scored)
            if delta is None:
                continue
            if type(delta) not in (int, float) or not math.isfinite(delta) or abs(delta) > 2**53:
                raise InvalidInput(
                    "scorer", f"the scorer {name!r} returned {delta!r}; need a finite number"
                )
            self.add(f"custom:{name}", user_id, delta, at)

    def setup(self, now: datetime) -> None:
        """Start boards new to this database (or changed, or added back) from the logs, mark
        boards gone from the configuration as removed, and re-list everyone if the
        configured privacy defaults changed."""
        execute = self._conn.execute
        at_text = to_text(now)
        self._add_triggers()
        defaults = json.dumps(self._defaults)
        found = execute(READ_DEFAULTS).fetchone()
        if found is not None and found[0] != defaults:
            self._relist_all()
        execute(SAVE_DEFAULTS, (defaults,))
        stored = dict(execute(STORED_BOARDS).fetchall())
        for key, mark in stored.items():
            if key not in self.boards and mark != REMOVED:
                # Its rows stay as they stood; nothing writes to them any more, and adding
                # the board back rebuilds it from the logs (its fingerprint no longer matches).
                execute(MARK_BOARD, (REMOVED, key))
        for key, (board, calendar) in self.boards.items():
            mark = fingerprint(board)
            if stored.get(key) == mark:
                continue
            # Scores of open periods meant something else, or missed what happened while
            # the board was removed: they start over from the logs.
            for (period_id,) in execute(OPEN_PERIODS_OF, (key,)).fetchall():
                execute(DELETE_PERIOD_SCORES, (period_id,))
                execute(DELETE_PERIOD_BLOCKS, (period_id,))
            execute(SAVE_BOARD, (key, mark, at_text))
            self._backfill(board, calendar, now)

    def _add_triggers(self) -> None:
        # Per connection: they carry this process's block size.
        for sql in self._triggers.values():
            self._conn.execute(sql)

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Bulk work without the triggers placing rows one by one: ``rebuild`` cuts the
        blocks afterwards in one pass."""
        for name in self._triggers:
            self._conn.execute(drop_temp_trigger(name))
        try:
            yield
        finally:
            self._add_triggers()

    def _relist_all(self) -> None:
        for (period_id,) in self._conn.execute(OPEN_PERIODS).fetchall():
            self.rebuild(period_id)

    def _backfill(self, board: BoardConfig, calendar: Calendar, now: datetime) -> None:
        """Every open period's standing from the state the engine keeps: a board added to an
        engine in use starts with what its users already did, not from zero."""
        periods = calendar.at(now)
        for kind in board.periods:
            if kind == "all_time":
                found = backfill_query(board.source, board.aggregate, timed=False)
                period = BoardPeriod("all_time", "all", None, None)
                bounds: tuple[str, ...] = ()
            else:
                # Metric boards keep no timed log to sum a period from; custom scorers' past
                # cannot be recomputed: their periods start empty.
                found = backfill_query(board.source, board.aggregate, timed=True)
                current = periods.get(kind)
                if current is None or current.starts_at is None or current.ends_at is None:
                    continue
                period = current
                bounds = (to_text(current.starts_at), to_text(current.ends_at))
            if found is None:
                continue
            sql, params = found
            args = (*(getattr(board, name) for name in params), *bounds)
            rows = self._conn.execute(sql, args).fetchall()
            if not rows:  # no period row for nothing: closing it would archive an empty board
                continue
            period_id = self.period_id(board.key, period)
            # Rows go in unlisted (the triggers would place listed rows one by one); rebuild
            # lists them and cuts the blocks in one pass.
            self._conn.executemany(
                BACKFILL_SCORES,
                (
                    (user_id, period_id, score, micros(datetime.fromisoformat(at)))
                    for user_id, score, at in rows
                ),
            )
            self.rebuild(period_id)

    def forget_ids(self) -> None:
        """Drop cached period ids: a rolled-back transaction may have made some of them."""
        self._ids.clear()

    # -- writing -------------------------------------------------------------------------

    def period_id(self, board: str, period: BoardPeriod) -> int:
        """The id of ``period`` of ``board``, creating its row (inside a write) if need be."""
        ident = (board, period.period, period.key)
        found = self._ids.get(ident)
        if found is not None:
            return found
        starts = None if period.starts_at is None else period.starts_at.isoformat()
        ends = None if period.ends_at is None else period.ends_at.isoformat()
        self._conn.execute(NEW_PERIOD, (*ident, starts, ends))
        (found,) = self._conn.execute(PERIOD_ID, ident).fetchone()
        self._ids[ident] = found
        return int(found)

    def add(self, source: str, user_id: str, delta: float, at: datetime) -> None:
        """Add ``delta`` to every open period, of every board following ``source``, at ``at``."""
        boards = self._by_source.get(source)
        if not boards or not delta:
            return
        ids: list[int] = []
        for board in boards:
            periods = board.calendar.at(at)
            for kind in board.config.periods:
                period = periods.get(kind)
                if period is not None:
                    ids.append(self.period_id(board.config.key, period))
        if not ids:
            return
        sql = self._upserts.get(len(ids))
        if sql is None:
            sql = self._upserts[len(ids)] = upsert_sql(len(ids))
        visibility, on_global = self._defaults
        conn = self._conn
        before = conn.total_changes
        cursor = conn.execute(sql, (user_id, delta, micros(at), visibility, on_global, *ids))
        # Only rows that moved block make the triggers write: only then can one be queued.
        if conn.total_changes - before > cursor.rowcount:
            self._split_queued()

    def _split_queued(self) -> None:
        execute = self._conn.execute
        for period_id, lo in execute(QUEUED_SPLITS).fetchall():
            execute(UNQUEUE_SPLIT, (period_id, lo))
            row = execute(BLOCK_OF, (period_id, lo)).fetchone()
            if row is not None and row[0] == lo:
                self.split(period_id, lo, row[1])

    def _block_of(self, period_id: int, score: float) -> tuple[float, float | None]:
        row = self._conn.execute(BLOCK_OF, (period_id, score)).fetchone()
        return (MIN_LO, None) if row is None else (row[0], row[1])

    def split(self, period_id: int, lo: float, hi: float | None) -> None:
        """Cut block ``lo`` into blocks of at most ``BLOCK`` users, runs of one score apart."""
        execute = self._conn.execute
        members = sorted(execute(MEMBERS, (period_id, lo)).fetchall(), key=itemgetter(1))
        pieces = self._pack(lo, members)
        if hi is not None and pieces[-1][0] == hi:  # a run ending right at hi left [hi, hi)
            pieces.pop()
        execute(DELETE_BLOCK, (period_id, lo))
        execute_many = self._conn.executemany
        bounds = [piece_lo for piece_lo, _ in pieces[1:]] + [hi]
        execute_many(
            INSERT_BLOCKS,
            [
                (period_id, piece_lo, len(piece), int(is_run(piece_lo, piece_hi)))
                for (piece_lo, piece), piece_hi in zip(pieces, bounds, strict=True)
            ],
        )
        execute_many(
            PLACE,
            [
                (piece_lo, piece_hi, member[0], period_id)
                for (piece_lo, piece), piece_hi in zip(pieces, bounds, strict=True)
                for member in piece
            ],
        )

    @staticmethod
    def _pack(lo: float, members: Sequence[Member]) -> list[tuple[float, list[Member]]]:
        pieces: list[tuple[float, list[Member]]] = []
        current_lo: float = lo
        current: list[Member] = []
        for score, run in groupby(members, key=itemgetter(1)):
            group = list(run)
            if len(group) > BLOCK // 2:
                if current or current_lo != score:
                    pieces.append((current_lo, current))
                pieces.append((score, group))
                current_lo, current = _successor(score), []
            elif current and len(current) + len(group) > BLOCK:
                pieces.append((current_lo, current))
                current_lo, current = score, group
            else:
                current.extend(group)
        pieces.append((current_lo, current))
        return pieces

    def set_listed(self, user_id: str, listed: bool) -> None:
        """Move the user onto, or off, every open period's global order (the triggers do)."""
        conn = self._conn
        before = conn.total_changes
        cursor = conn.execute(SET_LISTED, (int(listed), user_id))
        if conn.total_changes - before > cursor.rowcount:
            self._split_queued()

    def rebuild(self, period_id: int) -> None:
        """Work out again who is listed in a period and cut its blocks in one pass (after a
        bulk load, or when the configured privacy defaults changed)."""
        execute = self._conn.execute
        with self._quiet():
            execute(RELIST_PERIOD, (*self._defaults, period_id))
            execute(DELETE_PERIOD_BLOCKS, (period_id,))
            (n,) = execute(COUNT_LISTED, (period_id,)).fetchone()
            execute(PLACE_ALL_FIRST, (MIN_LO, period_id))
            execute(FIRST_BLOCK, (period_id, MIN_LO, n))
            if n > 2 * BLOCK:
                self.split(period_id, MIN_LO, None)

    # -- reading -------------------------------------------------------------------------

    def row(self, period_id: int, user_id: str) -> tuple[float, int, int, float, float] | None:
        """``(score, reached, listed, blk, blk_hi)`` of the user in the period, if any."""
        found = self._conn.execute(SCORE_ROW, (user_id, period_id)).fetchone()
        return None if found is None else (found[0], found[1], found[2], found[3], found[4])

    def rank_of(self, period_id: int, score: float) -> int:
        """1 + the number of listed users with a higher score."""
        lo, hi = self._block_of(period_id, score)
        execute = self._conn.execute
        (above,) = execute(ABOVE, (period_id, lo)).fetchone()
        if is_run(lo, hi):
            return 1 + int(above)
        (inside,) = execute(HIGHER_IN, (period_id, lo, score)).fetchone()
        return 1 + int(above) + int(inside)

    def count(self, period_id: int) -> int:
        (n,) = self._conn.execute(LISTED_COUNT, (period_id,)).fetchone()
        return int(n)

    def locate(
        self, period_id: int, user_id: str, row: tuple[float, int, int, float, float]
    ) -> tuple[int, float, int, int]:
        """``(0-based position, block, users above the block, rank)`` of a listed user whose
        ``row()`` the caller has read."""
        score, reached, _, lo, hi = row
        execute = self._conn.execute
        (above,) = execute(ABOVE, (period_id, lo)).fetchone()
        above = int(above)
        if is_run(lo, hi):
            (before,) = execute(BEFORE_IN_RUN, (period_id, lo, reached, user_id)).fetchone()
            return above + int(before), lo, above, above + 1
        ordered = self._sorted_members(period_id, lo)
        index = next(i for i, member in enumerate(ordered) if member[0] == user_id)
        higher = next(i for i, member in enumerate(ordered) if member[1] == score)
        return above + index, lo, above, above + higher + 1

    def anchor(self, period_id: int, score: float) -> tuple[int, float, int, int]:
        """Where an unlisted user with ``score`` would stand: ``(position, block, above,
        rank)``, the position being the first of the users they would tie."""
        rank = self.rank_of(period_id, score)
        lo, _ = self._block_of(period_id, score)
        (above,) = self._conn.execute(ABOVE, (period_id, lo)).fetchone()
        return rank - 1, lo, int(above), rank

    def _sorted_members(self, period_id: int, lo: float) -> list[tuple[str, float, int]]:
        members = self._conn.execute(MEMBERS, (period_id, lo)).fetchall()
        members.sort(key=lambda m: (-m[1], m[2], m[0]))
        return members

    def _blocks(
        self, period_id: int, start: int, anchor: tuple[float, int] | None = None
    ) -> Iterator[tuple[float, float | None, int, int]]:
        """``(lo, hi, n, users above it)`` of each block, best first, from the one holding
        position ``start`` on. Without an ``anchor`` (a block and the users above it) the
        walk starts at the top; with one, it climbs from there, so reading around the
        900,000th user costs what reading around the 10th does."""
        execute = self._conn.execute
        if anchor is None:
            first: float | None = None
            before, hi = 0, None
        else:
            first, before = anchor
            hi = None
            climb = execute(BLOCKS_ABOVE, (period_id, first))
            for up_lo, up_n in climb:
                if before <= start:
                    hi = up_lo
                    break
                first, before = up_lo, before - up_n
        if first is None:
            cursor = execute(BLOCKS_FROM_TOP, (period_id,))
        else:
            cursor = execute(BLOCKS_FROM, (period_id, first))
        for lo, n in cursor:
            if before + n > start:
                yield lo, hi, n, before
            before += n
            hi = lo

    def page(
        self, period_id: int, offset: int, limit: int, anchor: tuple[float, int] | None = None
    ) -> list[Row]:
        """Listed entries ``offset`` to ``offset + limit`` in board order, with their ranks."""
        blocks = self._blocks(period_id, offset, anchor)
        return list(self._entries(blocks, period_id, offset, limit))

    def _entries(
        self,
        blocks: Iterator[tuple[float, float | None, int, int]],
        period_id: int,
        offset: int,
        limit: int,
    ) -> Iterator[Row]:
        end = offset + limit
        for lo, hi, n, before in blocks:
            if before >= end:
                return
            if n == 0:
                continue
            skip = max(0, offset - before)
            take = min(n, end - before) - skip
            if is_run(lo, hi):
                members = self._conn.execute(RUN_MEMBERS, (period_id, lo, take, skip)).fetchall()
                for i, (user_id, entered) in enumerate(members):
                    yield Row(before + skip + i, before + 1, user_id, lo, entered)
                continue
            ordered = self._sorted_members(period_id, lo)
            higher = 0
            for i, (user_id, score, reached) in enumerate(ordered):
                if i and score != ordered[i - 1][1]:
                    higher = i
                if skip <= i < skip + take:
                    yield Row(before + i, before + higher + 1, user_id, score, reached)


# The fingerprint of a board no longer configured: never equal to a configured board's.
REMOVED = "removed"


def fingerprint(board: BoardConfig) -> str:
    """What a board's stored scores depend on: change any of it and they are rebuilt."""
    return json.dumps([board.source_key, sorted(board.periods)], separators=(",", ":"))
