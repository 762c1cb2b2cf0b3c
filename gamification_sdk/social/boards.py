"""Board scores, kept in the award's transaction; board order, kept in each process's memory.

An award upserts the user's row in every open period of each board following its source:
``lb_scores`` is clustered by user, so all of them share one page. Each listed change, old
and new ``(score, reached, listed)``, is appended to the ``lb_log`` table (SQLite: by the
statement's TEMP triggers; PostgreSQL: by the statement itself, storage/postgres/
board_log.py): one more page, the log's last, which consecutive awards share. Nothing in
the file is ordered by score, so an award writes no index entry at a random place.

Order lives in memory, one ``board_order.Order`` per period a process has read, built on
first read from the period's listed rows (not at open: opening stays instant) and caught up
from the log before every read, inside the read's snapshot: the rows a read sees and the
order it uses are the same committed state, whichever process wrote them. Ranks are
therefore exact, not estimates:

- building reads the period's rows and the log's last ``seq`` in one snapshot;
- applying a log row removes exactly the key its old values make and adds its new one, in
  ``seq`` order; committed ``seq`` numbers have no gaps (one writer at a time, and the
  newest row is never pruned), so a reader that finds the row after its position missing
  knows it fell behind the pruning and builds again;
- bulk changes (a backfill, a relisting, a closed period, a deleted user) log one reset row
  for the period: readers drop it and build it again when next read;
- a read inside a write may apply the write's own rows; if that write rolls back, the
  orders are dropped (``forget_ids``), so memory never keeps what the file does not.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import chain
from typing import NamedTuple

from ..config import Config
from ..config.leaderboards import BoardConfig
from ..core.clock import to_text
from ..errors import InvalidInput
from ..models import ScoredEvent
from ..storage.boards import (
    BACKFILL_SCORES,
    CACHE_SIZE,
    DELETE_PERIOD_SCORES,
    LISTED_SCORES,
    LOG_FROM,
    LOG_RESET,
    LOG_TOP,
    MARK_BOARD,
    NEW_PERIOD,
    OPEN_PERIODS,
    OPEN_PERIODS_OF,
    PERIOD_ID,
    PERIODS_OF_USER,
    PRUNE_LOG,
    QUIET_LOG,
    READ_DEFAULTS,
    READ_SLOTS,
    RELIST_PERIOD,
    SAVE_BOARD,
    SAVE_DEFAULTS,
    SCORE_ROW,
    SET_LISTED,
    STORED_BOARDS,
    backfill_query,
    cache_size_sql,
    drop_temp_trigger,
    temp_triggers,
    upsert_sql,
)
from ..storage.postgres.changelog import prune
from .board_follow import Followed
from .board_order import Order
from .board_rows import REMOVED, Row, add_up, fingerprint, micros
from .board_slots import Slots, slotted
from .log_replay import replay_log
from .periods import BoardPeriod, Calendar

__all__ = ["BLOCK", "Boards", "Row", "micros"]

# Keys per chunk of an in-memory order (chunks hold up to twice this).
BLOCK = 1000
# Log rows kept behind the newest: a process that fell further behind builds again.
LOG_WINDOW = 200_000
# KiB of page cache while a period's order is built (the connection's own is restored after).
BUILD_CACHE_KIB = 2048
# Awards of this process between two prunings of the log.
PRUNE_EVERY = 2048


class _Board(NamedTuple):
    config: BoardConfig
    calendar: Calendar


class Boards:
    """The live scores of every open period, their orders in memory, and reads over them."""

    def __init__(
        self, conn: sqlite3.Connection, config: Config, *, connection_triggers: bool = True
    ) -> None:
        self._conn = conn
        # SQLite logs score changes through TEMP triggers this connection creates; on
        # PostgreSQL each statement logs its own (postgres/board_log.py: no trigger runs on
        # Citus's shards), quieted per transaction.
        self._connection_triggers = connection_triggers
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
        # write_xp's last (periods, board, kind -> period id); see there.
        self._xp_ids: tuple[dict[str, BoardPeriod], _Board, dict[str, int]] | None = None
        # Whether any board follows tracked events: if none, track() pays nothing for boards.
        self._event_boards = any(b.source in ("metric", "custom") for b in settings.boards)
        self._triggers = temp_triggers() if connection_triggers else {}
        # The XP board whose current scores the profile row keeps (board_slots.py), if any:
        # a measure against SQLite's cost per statement, whose log needs TEMP triggers.
        found = slotted(list(settings.boards)) if connection_triggers else None
        self.slots = None if found is None else Slots(conn, found, self._defaults)
        if self.slots is not None:
            self._triggers.update(self.slots.triggers)
        # name -> the plugin scorer of custom boards (only those some board uses).
        self.scorers: dict[str, Callable[[ScoredEvent], float | None]] = {}
        self._upserts: dict[int, str] = {}
        # period id -> its order, as of log row ``_seq`` (every order is at the same row).
        self._orders: dict[int, Order] = {}
        self._seq = 0
        # PostgreSQL: the orders follow the log in commit order instead (board_follow.py).
        self._followed = None if connection_triggers else Followed(conn, BLOCK)
        self._adds = 0

    def follows_events(self) -> bool:
        """Whether any board counts tracked events (metric and custom boards)."""
        return self._event_boards

    def follows_points(self) -> bool:
        """Whether any board counts points issued, in any currency."""
        return any(source.startswith("points:") for source in self._by_source)

    def follows(self, source: str) -> bool:
        """Whether any board counts ``source`` (``"xp"``, ``"points:coins"``, ...)."""
        return source in self._by_source

    def follows_beyond_slots(self, source: str) -> bool:
        """Whether a board other than the one kept in the profile row counts ``source``."""
        held = self.slots
        return any(
            held is None or board.config is not held.board
            for board in self._by_source.get(source, ())
        )

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
        # Made again, not kept: the slot triggers spell out the privacy defaults.
        for name in self._triggers:
            execute(drop_temp_trigger(name, if_exists=True))
        self._add_triggers()
        defaults = json.dumps(self._defaults)
        found = execute(READ_DEFAULTS).fetchone()
        if found is not None and found[0] != defaults:
            self._relist_all()
        execute(SAVE_DEFAULTS, (defaults,))
        (layout,) = execute(READ_SLOTS).fetchone() or (None,)
        relaid = layout != (None if self.slots is None else self.slots.marker())
        if relaid:
            # Another board (or none) keeps its scores in the profile row now: what the
            # slots held goes to lb_scores as it stands, and the slotted board's rows come
            # in below (none of it changes a score, so orders in memory stay right).
            with self._quiet():
                Slots.move_out(self._conn, self._defaults)
            if self.slots is not None:
                self.slots.save()
        stored = dict(execute(STORED_BOARDS).fetchall())
        for key, mark in stored.items():
            if key not in self.boards and mark != REMOVED:
                # Its rows stay as they stood; nothing writes to them any more, and adding
                # the board back rebuilds it from the logs (its fingerprint no longer matches).
                execute(MARK_BOARD, (REMOVED, key))
        for key, (board, calendar) in self.boards.items():
            slots = self.slots if self.slots is not None and self.slots.board is board else None
            mark = fingerprint(board)
            if stored.get(key) == mark:
                if slots is not None and relaid:
                    # A file from before m020, or the board newly slotted: each user's
                    # current rows move into the profile row, moments included.
                    with self._quiet():
                        slots.move_in()
                continue
            # Scores of open periods meant something else, or missed what happened while
            # the board was removed: they start over from the logs.
            for (period_id,) in execute(OPEN_PERIODS_OF, (key,)).fetchall():
                self.drop_period(period_id)
            if slots is not None:
                with self._quiet():
                    Slots.clear_all(self._conn)
            execute(SAVE_BOARD, (key, mark, at_text))
            self._backfill(board, calendar, now)

    def _add_triggers(self) -> None:
        # Per connection: the bulk paths drop them for a moment (see _quiet).
        for sql in self._triggers.values():
            self._conn.execute(sql)

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Bulk work without a log row per changed row: the caller logs a reset instead."""
        if not self._connection_triggers:
            self._conn.execute(QUIET_LOG, ("on",))
            try:
                yield
            finally:
                self._conn.execute(QUIET_LOG, ("off",))
            return
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
            # Rows go in unlisted and unlogged; rebuild lists them in one statement and logs
            # one reset for the period.
            slots = self.slots
            if slots is not None and slots.board is board:
                with self._quiet():
                    slots.fill(
                        kind,
                        period_id,
                        ((u, s, micros(datetime.fromisoformat(a))) for u, s, a in rows),
                    )
                self.rebuild(period_id)
                continue
            with self._quiet():
                self._conn.executemany(
                    BACKFILL_SCORES,
                    (
                        (user_id, period_id, score, micros(datetime.fromisoformat(at)))
                        for user_id, score, at in rows
                    ),
                )
            self.rebuild(period_id)

    def forget_ids(self) -> None:
        """After a rollback: drop cached period ids (the transaction may have made some),
        and the orders if a read inside the write applied log rows that are now gone."""
        self._ids.clear()
        self._xp_ids = None
        if self.slots is not None:
            self.slots.forget_ids()
        if self._followed is not None:  # a read inside the write may have applied its rows
            self._followed.orders.clear()
        if self._orders:
            try:
                (top,) = self._conn.execute(LOG_TOP).fetchone()
            except Exception:  # the connection failed with the write: start over
                top = -1
            if top < self._seq:
                self._orders.clear()
                self._seq = 0

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

    def add(
        self, source: str, user_id: str, delta: float, at: datetime, *, slots: bool = True
    ) -> None:
        """Add ``delta`` to every open period, of every board following ``source``, at ``at``
        (without the slotted board's when ``slots`` is false: ``write_xp`` wrote them)."""
        boards = self._by_source.get(source)
        if not boards or not delta:
            return
        ids: list[int] = []
        held = self.slots
        for board in boards:
            if held is not None and board.config is held.board:
                if slots:
                    # One update of the profile row; what the slots do not take goes below.
                    periods = board.calendar.at(at)
                    kind_ids = self._kind_ids(board, periods)
                    ids += held.add(periods, kind_ids, user_id, delta, micros(at))
                continue
            periods = board.calendar.at(at)
            for kind in board.config.periods:
                period = periods.get(kind)
                if period is not None:
                    ids.append(self.period_id(board.config.key, period))
        self._upsert(ids, user_id, delta, at)

    def write_xp(
        self,
        user_id: str,
        total: int,
        level: int,
        at_text: str,
        delta: int,
        at: datetime,
        held: tuple[int | None, ...],
    ) -> None:
        """award_xp's update of the profile (``total``, ``level``, ``updated_at``) with the
        slotted board's scores in the same statement: the board costs no page of its own.
        ``held``: the periods the slots hold, read with the award's profile row in this
        transaction. The other boards follow through ``add(..., slots=False)``."""
        slots = self.slots
        assert slots is not None
        board = self.boards[slots.board.key]
        periods = board.calendar.at(at)
        # The calendar hands back the same periods for every moment of one local day (and
        # no season): their ids are then the last award's, without a lookup per period.
        cached = self._xp_ids
        if cached is not None and cached[0] is periods and cached[1] is board:
            kind_ids = cached[2]
        else:
            kind_ids = self._kind_ids(board, periods)
            self._xp_ids = (periods, board, kind_ids)
        rest = slots.write(
            periods, kind_ids, held, user_id, delta, micros(at), (total, level, at_text)
        )
        self._upsert(rest, user_id, delta, at)

    def _upsert(self, ids: list[int], user_id: str, delta: float, at: datetime) -> None:
        if ids:
            sql = self._upserts.get(len(ids))
            if sql is None:
                sql = self._upserts[len(ids)] = upsert_sql(len(ids))
            visibility, on_global = self._defaults
            self._conn.execute(sql, (user_id, delta, micros(at), visibility, on_global, *ids))
        # Counted whether or not lb_scores was written: slot changes are logged too.
        self._adds += 1
        if self._adds % PRUNE_EVERY == 0:
            # A few thousand rows off the log's oldest pages, once in a while, in this write.
            if self._followed is None:
                self._conn.execute(PRUNE_LOG, (LOG_WINDOW,))
            else:  # raises the watermark that sends readers left behind to rebuild
                prune(self._conn, LOG_WINDOW)

    def _kind_ids(self, board: _Board, periods: dict[str, BoardPeriod]) -> dict[str, int]:
        key = board.config.key
        return {
            kind: self.period_id(key, periods[kind])
            for kind in board.config.periods
            if periods.get(kind) is not None
        }

    def add_many(self, source: str, adds: list[tuple[str, int, datetime]]) -> None:
        """What ``add`` does for each ``(user, delta, at)``, written as one upsert per user
        and set of periods (a batch's buffered awards): sums and the latest moment are what
        the awards one by one would leave, and the log gets one change per row."""
        boards = self._by_source.get(source)
        if not boards:
            return
        totals: dict[tuple[str, tuple[int, ...]], list[int]] = {}
        slots = self.slots
        # (user, slot period ids) -> [delta, reached], with each key's periods: the slots' share.
        held: dict[tuple[str, tuple[int, ...]], list[int]] = {}
        held_periods: dict[tuple[str, tuple[int, ...]], dict[str, BoardPeriod]] = {}
        for user_id, delta, at in adds:
            if not delta:
                continue
            ids: list[int] = []
            for board in boards:
                periods = board.calendar.at(at)
                if slots is not None and board.config is slots.board:
                    kind_ids = self._kind_ids(board, periods)
                    add_up(held, (user_id, tuple(kind_ids.values())), delta, micros(at))
                    held_periods[(user_id, tuple(kind_ids.values()))] = periods
                    continue
                for kind in board.config.periods:
                    period = periods.get(kind)
                    if period is not None:
                        ids.append(self.period_id(board.config.key, period))
            if ids:
                add_up(totals, (user_id, tuple(ids)), delta, micros(at))
        if held:
            assert slots is not None
            board = self.boards[slots.board.key]
            entries = [
                (ident[0], periods, self._kind_ids(board, periods), delta, reached)
                for ident, (delta, reached) in held.items()
                for periods in (held_periods[ident],)
            ]
            for user_id, rest, delta, reached in slots.write_many(entries):
                add_up(totals, (user_id, tuple(rest)), delta, reached)
        visibility, on_global = self._defaults
        by_size: dict[int, list[tuple[object, ...]]] = {}
        for (user_id, ids_of), (delta, reached) in totals.items():
            by_size.setdefault(len(ids_of), []).append(
                (user_id, delta, reached, visibility, on_global, *ids_of)
            )
        for size, params in by_size.items():
            sql = self._upserts.get(size)
            if sql is None:
                sql = self._upserts[size] = upsert_sql(size)
            self._conn.executemany(sql, params)

    def set_listed(self, user_id: str, listed: bool) -> None:
        """Move the user onto, or off, every open period's global order (the log says so)."""
        self._conn.execute(SET_LISTED, (int(listed), user_id))

    def forget_user(self, user_id: str) -> list[int]:
        """Before a deleted user's rows and log rows go: reset every period they scored in,
        so no reader needs the log rows that named them. Returns those periods."""
        periods = [pid for (pid,) in self._conn.execute(PERIODS_OF_USER, (user_id,))]
        for period_id in periods:
            self._conn.execute(LOG_RESET, (period_id,))
        return periods

    def drop_period(self, period_id: int) -> None:
        """A closed period's live rows go (its archive is written): readers drop its order."""
        with self._quiet():
            self._conn.execute(DELETE_PERIOD_SCORES, (period_id,))
        self._conn.execute(LOG_RESET, (period_id,))

    def rebuild(self, period_id: int) -> None:
        """Work out again who is listed in a period (after a bulk load, or when the
        configured privacy defaults changed); readers build its order again."""
        with self._quiet():
            self._conn.execute(RELIST_PERIOD, (*self._defaults, period_id))
        self._conn.execute(LOG_RESET, (period_id,))

    # -- reading -------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring every order in memory up to the read's snapshot, from the log."""
        if not self._orders:
            return
        rows = self._conn.execute(LOG_FROM, (self._seq,))
        seq = replay_log(self._orders, rows, self._seq)
        self._seq = seq if self._orders else 0

    @contextmanager
    def one_read(self) -> Iterator[None]:
        """A read of the boards: on PostgreSQL each period's order catches up from the log
        (a round trip) at its first use in the read, not at each (board_follow.py)."""
        if self._followed is None:
            yield
            return
        with self._followed.pinned():
            yield

    def order(self, period_id: int) -> Order:
        """The period's order as of this read's snapshot (built on first use)."""
        if self._followed is not None:
            return self._followed.order(period_id)
        self.sync()
        found = self._orders.get(period_id)
        if found is not None:
            return found
        if not self._orders:
            (self._seq,) = self._conn.execute(LOG_TOP).fetchone()
        # In the same snapshot as the log position: no change is missed or applied twice.
        # The scan reads every score page once: through a small page cache, so a million
        # users' pages do not stay resident beside the order built from them.
        execute = self._conn.execute
        (cache,) = execute(CACHE_SIZE).fetchone()
        execute(cache_size_sql(-BUILD_CACHE_KIB))
        try:
            rows = execute(LISTED_SCORES, (period_id,))
            held = None if self.slots is None else self.slots.listed(period_id)
            found = Order(rows if held is None else chain(rows, held), BLOCK)
        finally:
            execute(cache_size_sql(cache))
        self._orders[period_id] = found
        return found

    def row(self, period_id: int, user_id: str) -> tuple[float, int, int] | None:
        """``(score, reached, listed)`` of the user in the period, if any."""
        if self.slots is not None:
            held = self.slots.row(period_id, user_id)
            if held is not None:
                return held
        found = self._conn.execute(SCORE_ROW, (user_id, period_id)).fetchone()
        return None if found is None else (found[0], found[1], found[2])

    def rank_of(self, period_id: int, score: float) -> int:
        """1 + the number of listed users with a higher score."""
        return 1 + self.order(period_id).higher(score)

    def position(self, period_id: int, user_id: str, score: float, reached: int) -> int:
        """The 0-based position of a listed user."""
        return self.order(period_id).index(user_id, score, reached)

    def count(self, period_id: int) -> int:
        return len(self.order(period_id))

    def page(self, period_id: int, offset: int, limit: int) -> list[Row]:
        """Listed entries ``offset`` to ``offset + limit`` in board order, with their ranks."""
        order = self.order(period_id)
        rows: list[Row] = []
        rank = 0
        previous: float | None = None
        for i, (user_id, score, reached) in enumerate(order.entries(offset, offset + limit)):
            if score != previous:
                rank = 1 + (order.higher(score) if previous is None else offset + i)
                previous = score
            rows.append(Row(offset + i, rank, user_id, score, reached))
        return rows
