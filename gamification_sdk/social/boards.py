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
from .periods import BoardPeriod, Calendar

__all__ = ["BLOCK", "Boards", "Row", "micros"]

BLOCK = 128
MIN_LO = -(2**63)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _listed(user: str, visibility: str, on_global: str) -> str:
    """SQL for whether global boards list ``user``: public and opted in, the two settings
    falling back to the configured defaults (bound as ``visibility`` and ``on_global``)."""
    return (
        f"COALESCE((SELECT COALESCE(visibility, {visibility}) = 'public' AND "
        f"COALESCE(show_on_global, {on_global}) FROM profiles WHERE user_id = {user}), 0)"
    )


_LISTED = _listed("?1", "?4", "?5")
_UPSERT = (
    "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
    f"SELECT ?1, id, ?2, ?3, {_LISTED} FROM lb_periods "
    "WHERE id IN ({ids}) AND closed_at IS NULL "
    "ON CONFLICT DO UPDATE SET score = score + excluded.score, "
    "reached = MAX(reached, excluded.reached)"
)
# A listed row whose score left its block moves in SQL, inside the statement that changed
# it: Python round trips per crossing would cost more than the crossing's own writes. A
# multi-valued block that grew past the limit is queued; Python splits it after the write.
_PLACE_SQL = """
    UPDATE lb_scores SET
        blk = (SELECT lo FROM lb_blocks WHERE period_id = new.period_id AND lo <= new.score
               ORDER BY lo DESC LIMIT 1),
        blk_hi = (SELECT lo FROM lb_blocks WHERE period_id = new.period_id AND lo > new.score
                  ORDER BY lo LIMIT 1),
        entered = new.reached
    WHERE user_id = new.user_id AND period_id = new.period_id;
    UPDATE lb_blocks SET n = n + 1 WHERE period_id = new.period_id
        AND lo = (SELECT blk FROM lb_scores WHERE user_id = new.user_id
                  AND period_id = new.period_id);
    INSERT OR IGNORE INTO lb_split_queue (period_id, lo)
        SELECT period_id, lo FROM lb_blocks WHERE period_id = new.period_id
        AND lo = (SELECT blk FROM lb_scores WHERE user_id = new.user_id
                  AND period_id = new.period_id)
        AND n > {limit} AND run = 0;
"""
_ENTER_SQL = (
    f"INSERT OR IGNORE INTO lb_blocks (period_id, lo, n) VALUES (new.period_id, {-(2**63)}, 0);"
    + _PLACE_SQL
)
_TRIGGERS = {
    "lb_cross": "AFTER UPDATE OF score ON main.lb_scores "
    "WHEN new.listed = 1 AND (new.score < new.blk OR new.score >= new.blk_hi) BEGIN "
    "UPDATE lb_blocks SET n = n - 1 WHERE period_id = new.period_id AND lo = new.blk;"
    + _PLACE_SQL
    + " END",
    "lb_enter": "AFTER INSERT ON main.lb_scores WHEN new.listed = 1 BEGIN " + _ENTER_SQL + " END",
    "lb_list": "AFTER UPDATE OF listed ON main.lb_scores "
    "WHEN new.listed = 1 AND old.listed = 0 BEGIN " + _ENTER_SQL + " END",
    "lb_unlist": "AFTER UPDATE OF listed ON main.lb_scores "
    "WHEN new.listed = 0 AND old.listed = 1 BEGIN "
    "UPDATE lb_blocks SET n = n - 1 WHERE period_id = new.period_id AND lo = old.blk; "
    "UPDATE lb_scores SET blk = NULL, blk_hi = NULL, entered = NULL "
    "WHERE user_id = new.user_id AND period_id = new.period_id; END",
}
_BLOCK_OF = (
    "SELECT lo, (SELECT lo FROM lb_blocks WHERE period_id = ?1 AND lo > b.lo ORDER BY lo "
    "LIMIT 1) FROM lb_blocks b WHERE period_id = ?1 AND lo <= ?2 ORDER BY lo DESC LIMIT 1"
)
_PLACE = (
    "UPDATE lb_scores SET blk = ?, blk_hi = ?, entered = reached "
    "WHERE user_id = ? AND period_id = ?"
)
_ABOVE = "SELECT COALESCE(SUM(n), 0) FROM lb_blocks WHERE period_id = ? AND lo > ?"
_HIGHER_IN = "SELECT COUNT(*) FROM lb_scores WHERE period_id = ? AND blk = ? AND score > ?"
_BEFORE_IN_RUN = (
    "SELECT COUNT(*) FROM lb_scores WHERE period_id = ? AND blk = ? AND (entered, user_id) < (?, ?)"
)
_MEMBERS = "SELECT user_id, score, reached FROM lb_scores WHERE period_id = ? AND blk = ?"
# In a run block every score is lo and every member's reached is its entered: the
# lb_members index alone answers, so skipping thousands of tied users reads no table rows.
_RUN_MEMBERS = (
    "SELECT user_id, entered FROM lb_scores WHERE period_id = ? AND blk = ? "
    "ORDER BY entered, user_id LIMIT ? OFFSET ?"
)
_ROW = (
    "SELECT score, reached, listed, blk, blk_hi FROM lb_scores WHERE user_id = ? AND period_id = ?"
)
_PERIOD_ID = "SELECT id FROM lb_periods WHERE board = ? AND period = ? AND period_key = ?"
_NEW_PERIOD = (
    "INSERT OR IGNORE INTO lb_periods (board, period, period_key, starts_at, ends_at) "
    "VALUES (?, ?, ?, ?, ?)"
)


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
        limit = str(2 * BLOCK)
        self._triggers = {
            name: f"CREATE TEMP TRIGGER IF NOT EXISTS {name} " + sql.replace("{limit}", limit)
            for name, sql in _TRIGGERS.items()
        }
        # name -> the plugin scorer of custom boards (only those some board uses).
        self.scorers: dict[str, Callable[[ScoredEvent], float | None]] = {}
        self._upserts: dict[int, str] = {}

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
        found = execute("SELECT value FROM lb_settings WHERE name = 'defaults'").fetchone()
        if found is not None and found[0] != defaults:
            self._relist_all()
        execute(
            "INSERT OR REPLACE INTO lb_settings (name, value) VALUES ('defaults', ?)", (defaults,)
        )
        stored = dict(execute("SELECT key, fingerprint FROM lb_boards").fetchall())
        for key, mark in stored.items():
            if key not in self.boards and mark != REMOVED:
                # Its rows stay as they stood; nothing writes to them any more, and adding
                # the board back rebuilds it from the logs (its fingerprint no longer matches).
                execute("UPDATE lb_boards SET fingerprint = ? WHERE key = ?", (REMOVED, key))
        for key, (board, calendar) in self.boards.items():
            mark = fingerprint(board)
            if stored.get(key) == mark:
                continue
            # Scores of open periods meant something else, or missed what happened while
            # the board was removed: they start over from the logs.
            for (period_id,) in execute(
                "SELECT id FROM lb_periods WHERE board = ? AND closed_at IS NULL", (key,)
            ).fetchall():
                execute("DELETE FROM lb_scores WHERE period_id = ?", (period_id,))
                execute("DELETE FROM lb_blocks WHERE period_id = ?", (period_id,))
            execute(
                "INSERT OR REPLACE INTO lb_boards (key, fingerprint, created_at) VALUES (?, ?, ?)",
                (key, mark, at_text),
            )
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
            self._conn.execute(f"DROP TRIGGER temp.{name}")
        try:
            yield
        finally:
            self._add_triggers()

    def _relist_all(self) -> None:
        for (period_id,) in self._conn.execute(
            "SELECT id FROM lb_periods WHERE closed_at IS NULL"
        ).fetchall():
            self.rebuild(period_id)

    def _backfill(self, board: BoardConfig, calendar: Calendar, now: datetime) -> None:
        """Every open period's standing from the state the engine keeps: a board added to an
        engine in use starts with what its users already did, not from zero."""
        periods = calendar.at(now)
        for kind in board.periods:
            if kind == "all_time":
                found = _BACKFILL.get(board.source)
                period = BoardPeriod("all_time", "all", None, None)
                bounds: tuple[str, ...] = ()
            else:
                # Metric boards keep no timed log to sum a period from; custom scorers' past
                # cannot be recomputed: their periods start empty.
                found = _PERIOD_BACKFILL.get(board.source)
                current = periods.get(kind)
                if current is None or current.starts_at is None or current.ends_at is None:
                    continue
                period = current
                bounds = (to_text(current.starts_at), to_text(current.ends_at))
            if found is None:
                continue
            sql, params = found
            if board.source == "metric":
                sql = sql.format(column="count" if board.aggregate == "count" else "sum")
            args = (*(getattr(board, name) for name in params), *bounds)
            rows = self._conn.execute(sql, args).fetchall()
            if not rows:  # no period row for nothing: closing it would archive an empty board
                continue
            period_id = self.period_id(board.key, period)
            # Rows go in unlisted (the triggers would place listed rows one by one); rebuild
            # lists them and cuts the blocks in one pass.
            self._conn.executemany(
                "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
                "VALUES (?, ?, ?, ?, 0) "
                "ON CONFLICT DO UPDATE SET score = excluded.score, reached = excluded.reached",
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
        self._conn.execute(_NEW_PERIOD, (*ident, starts, ends))
        (found,) = self._conn.execute(_PERIOD_ID, ident).fetchone()
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
            sql = self._upserts[len(ids)] = _UPSERT.format(ids=", ".join(["?"] * len(ids)))
        visibility, on_global = self._defaults
        conn = self._conn
        before = conn.total_changes
        cursor = conn.execute(sql, (user_id, delta, micros(at), visibility, on_global, *ids))
        # Only rows that moved block make the triggers write: only then can one be queued.
        if conn.total_changes - before > cursor.rowcount:
            self._split_queued()

    def _split_queued(self) -> None:
        execute = self._conn.execute
        for period_id, lo in execute("SELECT period_id, lo FROM lb_split_queue").fetchall():
            execute("DELETE FROM lb_split_queue WHERE period_id = ? AND lo = ?", (period_id, lo))
            row = execute(_BLOCK_OF, (period_id, lo)).fetchone()
            if row is not None and row[0] == lo:
                self.split(period_id, lo, row[1])

    def _block_of(self, period_id: int, score: float) -> tuple[float, float | None]:
        row = self._conn.execute(_BLOCK_OF, (period_id, score)).fetchone()
        return (MIN_LO, None) if row is None else (row[0], row[1])

    def split(self, period_id: int, lo: float, hi: float | None) -> None:
        """Cut block ``lo`` into blocks of at most ``BLOCK`` users, runs of one score apart."""
        execute = self._conn.execute
        members = sorted(execute(_MEMBERS, (period_id, lo)).fetchall(), key=itemgetter(1))
        pieces = self._pack(lo, members)
        if hi is not None and pieces[-1][0] == hi:  # a run ending right at hi left [hi, hi)
            pieces.pop()
        execute("DELETE FROM lb_blocks WHERE period_id = ? AND lo = ?", (period_id, lo))
        execute_many = self._conn.executemany
        bounds = [piece_lo for piece_lo, _ in pieces[1:]] + [hi]
        execute_many(
            "INSERT INTO lb_blocks (period_id, lo, n, run) VALUES (?, ?, ?, ?)",
            [
                (period_id, piece_lo, len(piece), int(is_run(piece_lo, piece_hi)))
                for (piece_lo, piece), piece_hi in zip(pieces, bounds, strict=True)
            ],
        )
        execute_many(
            _PLACE,
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
        cursor = conn.execute(
            "UPDATE lb_scores SET listed = ?1 WHERE user_id = ?2 AND listed != ?1",
            (int(listed), user_id),
        )
        if conn.total_changes - before > cursor.rowcount:
            self._split_queued()

    def rebuild(self, period_id: int) -> None:
        """Work out again who is listed in a period and cut its blocks in one pass (after a
        bulk load, or when the configured privacy defaults changed)."""
        execute = self._conn.execute
        with self._quiet():
            execute(
                f"UPDATE lb_scores SET listed = {_listed('lb_scores.user_id', '?1', '?2')}, "
                "blk = NULL, blk_hi = NULL, entered = NULL WHERE period_id = ?3",
                (*self._defaults, period_id),
            )
            execute("DELETE FROM lb_blocks WHERE period_id = ?", (period_id,))
            (n,) = execute(
                "SELECT COUNT(*) FROM lb_scores WHERE period_id = ? AND listed = 1", (period_id,)
            ).fetchone()
            execute(
                "UPDATE lb_scores SET blk = ?, entered = reached "
                "WHERE period_id = ? AND listed = 1",
                (MIN_LO, period_id),
            )
            execute(
                "INSERT INTO lb_blocks (period_id, lo, n) VALUES (?, ?, ?)", (period_id, MIN_LO, n)
            )
            if n > 2 * BLOCK:
                self.split(period_id, MIN_LO, None)

    # -- reading -------------------------------------------------------------------------

    def row(self, period_id: int, user_id: str) -> tuple[float, int, int, float, float] | None:
        """``(score, reached, listed, blk, blk_hi)`` of the user in the period, if any."""
        found = self._conn.execute(_ROW, (user_id, period_id)).fetchone()
        return None if found is None else (found[0], found[1], found[2], found[3], found[4])

    def rank_of(self, period_id: int, score: float) -> int:
        """1 + the number of listed users with a higher score."""
        lo, hi = self._block_of(period_id, score)
        execute = self._conn.execute
        (above,) = execute(_ABOVE, (period_id, lo)).fetchone()
        if is_run(lo, hi):
            return 1 + int(above)
        (inside,) = execute(_HIGHER_IN, (period_id, lo, score)).fetchone()
        return 1 + int(above) + int(inside)

    def count(self, period_id: int) -> int:
        (n,) = self._conn.execute(
            "SELECT COALESCE(SUM(n), 0) FROM lb_blocks WHERE period_id = ?", (period_id,)
        ).fetchone()
        return int(n)

    def locate(
        self, period_id: int, user_id: str, row: tuple[float, int, int, float, float]
    ) -> tuple[int, float, int, int]:
        """``(0-based position, block, users above the block, rank)`` of a listed user whose
        ``row()`` the caller has read."""
        score, reached, _, lo, hi = row
        execute = self._conn.execute
        (above,) = execute(_ABOVE, (period_id, lo)).fetchone()
        above = int(above)
        if is_run(lo, hi):
            (before,) = execute(_BEFORE_IN_RUN, (period_id, lo, reached, user_id)).fetchone()
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
        (above,) = self._conn.execute(_ABOVE, (period_id, lo)).fetchone()
        return rank - 1, lo, int(above), rank

    def _sorted_members(self, period_id: int, lo: float) -> list[tuple[str, float, int]]:
        members = self._conn.execute(_MEMBERS, (period_id, lo)).fetchall()
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
            climb = execute(
                "SELECT lo, n FROM lb_blocks WHERE period_id = ? AND lo > ? ORDER BY lo",
                (period_id, first),
            )
            for up_lo, up_n in climb:
                if before <= start:
                    hi = up_lo
                    break
                first, before = up_lo, before - up_n
        if first is None:
            cursor = execute(
                "SELECT lo, n FROM lb_blocks WHERE period_id = ? ORDER BY lo DESC", (period_id,)
            )
        else:
            cursor = execute(
                "SELECT lo, n FROM lb_blocks WHERE period_id = ? AND lo <= ? ORDER BY lo DESC",
                (period_id, first),
            )
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
                members = self._conn.execute(_RUN_MEMBERS, (period_id, lo, take, skip)).fetchall()
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


# What each source's all-time score is, from the state the engine already keeps: a board
# added to an engine in use starts with everyone's standing, not from zero.
_CREDITED = "('earned', 'bonus', 'referral_reward')"
_BACKFILL = {
    "xp": ("SELECT user_id, xp, updated_at FROM profiles WHERE xp > 0", ()),
    "points": (
        "SELECT user_id, SUM(amount), MAX(created_at) FROM transactions "
        f"WHERE currency = ? AND type IN {_CREDITED} AND user_id IS NOT NULL "
        "GROUP BY user_id",
        ("currency",),
    ),
    "achievements": (
        "SELECT user_id, COUNT(*), MAX(unlocked_at) FROM achievement_unlocks GROUP BY user_id",
        (),
    ),
    "achievement_points": (
        "SELECT user_id, SUM(points), MAX(unlocked_at) FROM achievement_unlocks "
        "GROUP BY user_id HAVING SUM(points) != 0",
        (),
    ),
    "metric": (
        "SELECT user_id, {column}, last_at FROM metrics WHERE metric = ? AND {column} != 0",
        ("metric",),
    ),
}

# The same for a period, from the logs with times: [starts_at, ends_at) bound the last two
# parameters. Text comparison is time order: every stored time is to_text()'s fixed width.
_PERIOD_BACKFILL = {
    "xp": (
        "SELECT user_id, SUM(amount), MAX(created_at) FROM xp_awards "
        "WHERE created_at >= ? AND created_at < ? GROUP BY user_id HAVING SUM(amount) > 0",
        (),
    ),
    "points": (
        "SELECT user_id, SUM(amount), MAX(created_at) FROM transactions "
        f"WHERE currency = ? AND type IN {_CREDITED} AND user_id IS NOT NULL "
        "AND created_at >= ? AND created_at < ? GROUP BY user_id",
        ("currency",),
    ),
    "achievements": (
        "SELECT user_id, COUNT(*), MAX(unlocked_at) FROM achievement_unlocks "
        "WHERE unlocked_at >= ? AND unlocked_at < ? GROUP BY user_id",
        (),
    ),
    "achievement_points": (
        "SELECT user_id, SUM(points), MAX(unlocked_at) FROM achievement_unlocks "
        "WHERE unlocked_at >= ? AND unlocked_at < ? GROUP BY user_id HAVING SUM(points) != 0",
        (),
    ),
}
