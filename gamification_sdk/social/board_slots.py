"""One XP board's current scores, kept in the profile row the XP award already rewrites.

Of the boards whose source is XP, the first with at most ``SLOTS`` periods besides all-time
is the slotted board: its all-time score is ``profiles.xp`` itself and each other period
has a slot (period id, score, moment reached) in the profile row. An award then writes the
slots in one update of a page the award dirties anyway, so the board costs no page of its
own; a listed user's change still appends to lb_log (the TEMP trigger of board_slots.py),
so orders in memory follow it as they follow lb_scores.

A (user, period) is in a slot or in ``lb_scores``, never both: a slot moves on only to a
newer period (the old score goes to lb_scores while that period is open, for its close),
and an award dated in an older period than the slot holds goes to lb_scores. Reads of a
period take both (``lb_live``, or the slot's statements here plus lb_scores).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime

from ..config.leaderboards import BoardConfig
from ..storage.backend import one_cursor
from ..storage.board_slots import (
    SLOTS,
    clear_slot_sql,
    fill_slot_sql,
    held_sql,
    move_in_sql,
    move_out_sql,
    moved_in_sql,
    slot_listed_sql,
    slot_row_sql,
    slot_sql,
    slot_triggers,
    write_sql,
)
from ..storage.boards import PERIOD_KIND, PERIOD_START, SAVE_SLOTS
from .periods import BoardPeriod

__all__ = ["Slots", "slotted"]


def slotted(boards: list[BoardConfig]) -> BoardConfig | None:
    """The board whose scores the profile row keeps: the first XP board that fits."""
    for board in boards:
        if board.source == "xp" and sum(1 for k in board.periods if k != "all_time") <= SLOTS:
            return board
    return None


class Slots:
    """The slotted board's writes and reads (``Boards`` delegates to it)."""

    def __init__(self, conn: sqlite3.Connection, board: BoardConfig, defaults: tuple[str, int]):
        self._conn = conn
        # award_xp's profile update (``write``), without a new cursor per award.
        self._execute = one_cursor(conn)
        self.board = board
        # period kind -> slot: all-time is slot 0, the others 1.. in the board's order.
        periodic = [kind for kind in board.periods if kind != "all_time"]
        self.kinds = {kind: i + 1 for i, kind in enumerate(periodic)}
        if "all_time" in board.periods:
            self.kinds["all_time"] = 0
        self.triggers = slot_triggers(defaults)
        self._defaults = defaults
        self._sql: dict[tuple[bool, ...], str] = {}
        # period id -> the slot holding it (None: not one of the slotted board's).
        self._of: dict[int, int | None] = {}
        self._writes: dict[tuple[int, ...], str] = {}
        # period id -> its start, for award_xp's choice of a slot's case (see write).
        self._starts: dict[int, datetime] = {}
        # write's plans for the kind -> id map ``_plan_ids``: held slots -> (statement,
        # slot parameters, ids the slots do not take).
        self._plan_ids: dict[str, int] | None = None
        self._plans: dict[tuple[int | None, ...], tuple[str, tuple[object, ...], list[int]]] = {}

    def marker(self) -> str:
        """What lb_settings keeps of the slot layout: a change empties every slot."""
        return json.dumps([self.board.key, self.kinds], separators=(",", ":"), sort_keys=True)

    # -- writing ---------------------------------------------------------------------------

    def add(
        self,
        periods: dict[str, BoardPeriod],
        ids: dict[str, int],
        user_id: str,
        delta: float,
        at: int,
        profile: tuple[int, int, str] | None = None,
    ) -> list[int]:
        """Add ``delta`` at ``at`` (microseconds) to the user's slots for ``ids`` (kind ->
        period id); returns the period ids the slots did not take (an award dated in an
        older period than a slot holds), which the caller adds to lb_scores. ``profile``:
        award_xp's new (xp, level, updated_at), set by the same statement."""
        present = [False] * (SLOTS + 1)
        params: list[object] = [user_id, delta, at] + [None] * (2 * (SLOTS + 1))
        for kind, period_id in ids.items():
            slot = self.kinds[kind]
            present[slot] = True
            start = periods[kind].starts_at
            params[3 + 2 * slot] = period_id
            params[4 + 2 * slot] = None if start is None else start.isoformat()
        if profile is None and not any(present):
            return []
        key = (*present, profile is not None)
        sql = self._sql.get(key)
        if sql is None:
            sql = self._sql[key] = slot_sql(list(enumerate(present)), profile is not None)
        if profile is not None:
            params += profile
        else:
            # Numbered parameters: SQLite counts up to the highest one the statement names.
            last = max(slot for slot, there in enumerate(present) if there)
            del params[5 + 2 * last :]
        row = self._conn.execute(sql, params).fetchone()
        if row is None:  # no profile (a board fed by something other than award_xp)
            return [pid for kind, pid in ids.items() if kind != "all_time"]
        return [
            pid
            for kind, pid in ids.items()
            if kind != "all_time" and row[self.kinds[kind] - 1] != pid
        ]

    def write(
        self,
        periods: dict[str, BoardPeriod],
        ids: dict[str, int],
        held: tuple[int | None, ...],
        user_id: str,
        delta: float,
        at: int,
        profile: tuple[int, int, str],
    ) -> list[int]:
        """``add`` for award_xp, which read the periods the slots hold (``held``) with the
        profile row: each slot's case is decided here, so the update has no CASE and no
        RETURNING (a few microseconds less per award)."""
        # Most awards see the ids of the last (the same periods object: see Boards.write_xp)
        # and a slot layout seen before: the plan is then the one made for it.
        if ids is not self._plan_ids:
            self._plan_ids = ids
            self._plans.clear()
        plan = self._plans.get(held)
        if plan is None:
            modes, params, rest = self._plan(periods, ids, held, user_id, delta, at)
            key = (*modes, True)
            sql = self._writes.get(key)
            if sql is None:
                sql = self._writes[key] = write_sql(modes)
            if len(self._plans) >= 64:
                self._plans.clear()
            plan = self._plans[held] = (sql, tuple(params[3:]), rest)
        sql, slots, rest = plan
        self._execute(sql, (user_id, delta, at, *slots, *profile))
        return rest

    def write_many(
        self, entries: list[tuple[str, dict[str, BoardPeriod], dict[str, int], int, int]]
    ) -> list[tuple[str, list[int], int, int]]:
        """``write`` for a batch's summed awards, ``(user, periods, kind -> id, delta,
        reached)`` each, their profiles already updated: the slots the profiles hold are
        read at once, and the updates go as one executemany per shape. Returns what the
        slots did not take, ``(user, period ids, delta, reached)``, for lb_scores."""
        users = list(dict.fromkeys(entry[0] for entry in entries))
        held: dict[str, tuple[int | None, ...]] = {}
        for start in range(0, len(users), 500):
            chunk = users[start : start + 500]
            for user_id, *slots in self._conn.execute(held_sql(len(chunk)), chunk):
                held[user_id] = tuple(slots)
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry[0]] = counts.get(entry[0], 0) + 1
        shapes: dict[tuple[int, ...], list[list[object]]] = {}
        rest: list[tuple[str, list[int], int, int]] = []
        for user_id, periods, ids, delta, reached in entries:
            current = held.get(user_id, (None,) * SLOTS)
            modes, params, older = self._plan(periods, ids, current, user_id, delta, reached)
            if older:
                rest.append((user_id, older, delta, reached))
            if not any(modes):
                continue
            # Numbered parameters: SQLite counts up to the highest one the statement names.
            del params[_highest(modes) :]
            if counts[user_id] > 1:
                # Several periods of one user (a batch across midnight): in order, one by
                # one, as the slots move on between them.
                moved = list(current)
                for kind, period_id in ids.items():
                    slot = self.kinds[kind]
                    if slot and modes[slot] == 2:
                        moved[slot - 1] = period_id
                held[user_id] = tuple(moved)
                self._conn.execute(write_sql(modes, profile=False), params)
            else:
                shapes.setdefault(modes, []).append(params)
        for modes, rows in shapes.items():
            self._conn.executemany(write_sql(modes, profile=False), rows)
        return rest

    def _plan(
        self,
        periods: dict[str, BoardPeriod],
        ids: dict[str, int],
        held: tuple[int | None, ...],
        user_id: str,
        delta: float,
        at: int,
    ) -> tuple[tuple[int, ...], list[object], list[int]]:
        """Each slot's case for an award (see ``write_sql``), its parameters, and the
        periods it falls in that are older than their slot's (for lb_scores)."""
        modes = [0] * (SLOTS + 1)
        # 0, not None, where write_sql names no parameter (a start, an untouched slot): the
        # sqlite3 module binds an int directly but tries adapters on None (about 0.5 µs each).
        params: list[object] = [user_id, delta, at] + [0] * (2 * (SLOTS + 1))
        rest: list[int] = []
        for kind, period_id in ids.items():
            slot = self.kinds[kind]
            if slot == 0:
                modes[0] = 1
            elif held[slot - 1] == period_id:
                modes[slot] = 1
            elif held[slot - 1] is None or self._newer(periods[kind], held[slot - 1]):
                modes[slot] = 2
            else:  # dated in an older period than the slot holds
                rest.append(period_id)
                continue
            params[3 + 2 * slot] = period_id
        return tuple(modes), params, rest

    def _newer(self, period: BoardPeriod, held: int | None) -> bool:
        """Whether ``period`` starts after the period ``held`` (as the update's julianday
        comparison decides: starts carry their zone's offset)."""
        if held is None or period.starts_at is None:
            return True
        start = self._starts.get(held)
        if start is None:
            found = self._conn.execute(PERIOD_START, (held,)).fetchone()
            if found is None or found[0] is None:
                return True
            start = self._starts[held] = datetime.fromisoformat(found[0])
        return period.starts_at > start

    @staticmethod
    def move_out(conn: sqlite3.Connection, defaults: tuple[str, int]) -> None:
        """Every slot's scores of open periods to lb_scores, and every slot emptied (the
        slotted board changed or went; triggers dropped): the scores stay as they stood."""
        for slot in range(SLOTS + 1):
            conn.execute(move_out_sql(slot), defaults)
        Slots.clear_all(conn)

    @staticmethod
    def clear_all(conn: sqlite3.Connection) -> None:
        """Empty every slot of every profile (the caller has dropped the triggers)."""
        for slot in range(SLOTS + 1):
            conn.execute(clear_slot_sql(slot))

    def fill(self, kind: str, period_id: int, rows: Iterable[tuple[str, float, int]]) -> None:
        """A backfilled period into its slot (triggers dropped): ``(user, score, reached)``."""
        self._conn.executemany(
            fill_slot_sql(self.kinds[kind]),
            ((period_id, score, reached, user_id) for user_id, score, reached in rows),
        )

    def move_in(self) -> None:
        """The board becomes slotted (a file from before m020, or a change of boards): each
        user's newest open period of each kind moves from lb_scores into its slot, every
        score and moment as it stood (triggers dropped)."""
        for kind, slot in self.kinds.items():
            self._conn.execute(move_in_sql(slot), (self.board.key, kind))
            self._conn.execute(moved_in_sql(slot))

    def save(self) -> None:
        self._conn.execute(SAVE_SLOTS, (self.marker(),))

    # -- reading ---------------------------------------------------------------------------

    def slot_of(self, period_id: int) -> int | None:
        if period_id in self._of:
            return self._of[period_id]
        found = self._conn.execute(PERIOD_KIND, (period_id,)).fetchone()
        slot = None
        if found is not None and found[0] == self.board.key:
            slot = self.kinds.get(found[1])
        self._of[period_id] = slot
        return slot

    def row(self, period_id: int, user_id: str) -> tuple[float, int, int] | None:
        slot = self.slot_of(period_id)
        if slot is None:
            return None
        found = self._conn.execute(
            slot_row_sql(slot), (user_id, period_id, *self._defaults)
        ).fetchone()
        return None if found is None else (found[0], found[1], int(found[2]))

    def listed(self, period_id: int) -> sqlite3.Cursor | None:
        slot = self.slot_of(period_id)
        if slot is None:
            return None
        return self._conn.execute(slot_listed_sql(slot), (period_id, *self._defaults))

    def forget_ids(self) -> None:
        self._of.clear()
        self._starts.clear()
        self._plan_ids = None
        self._plans.clear()


def _highest(modes: tuple[int, ...]) -> int:
    """The highest parameter ``write_sql(modes, profile=False)`` names."""
    return max(
        [3, 4 if modes[0] else 0, *(4 + 2 * slot for slot, mode in enumerate(modes) if mode == 2)]
    )
