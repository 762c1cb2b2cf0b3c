"""Bringing a process's board orders up to date from SQLite's change log (``lb_log``).

A row is one change of one (period, user): the old ``(score, reached)`` if the user was
listed, the new one if they are. The slotted XP board's trigger (storage/board_slots.py)
appends instead one row per change of a listed profile, marked ``SLOTS_ROW``, holding all
its slots before and after; ``slot_changes`` expands it into the per-period changes its
trigger once wrote row by row, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..storage.board_slots import SLOTS, SLOTS_ROW
from .board_order import Order

__all__ = ["replay_log", "slot_changes"]

# Where a slots row's periodic slots start: after seq, the eight change columns, the old
# user id and slot 0's two period ids (LOG_FROM's order).
_FIRST_SLOT = 12

Change = tuple[Any, ...]
"""A plain row's columns after seq: (period id, user, old score, old reached, was listed,
score, reached, is listed)."""


def slot_changes(row: Sequence[Any]) -> Iterator[Change]:
    """The per-period changes a slots row stands for: for each slot, the exit from the
    period it left (a move to a newer one) and the entry or move in the period it holds,
    unless nothing the orders keep changed."""
    was, listed = row[5], row[8]
    user, user_was = row[2], row[9]
    # Slot 0 (all time): its scores are xp, in the row's own old and new score columns.
    slots: list[Sequence[Any]] = [(row[10], row[3], row[4], row[11], row[6], row[7])]
    for slot in range(SLOTS):
        first = _FIRST_SLOT + 6 * slot
        slots.append(row[first : first + 6])
    for period_was, score_was, reached_was, period, score, reached in slots:
        same = period_was == period
        if period_was is not None and not same and was:
            yield (period_was, user_was, score_was, reached_was, 1, None, None, 0)
        if (
            period is not None
            and reached is not None
            and (listed or (same and was))
            and not (same and score_was == score and reached_was == reached and was == listed)
        ):
            if same:
                yield (period, user, score_was, reached_was, was, score, reached, listed)
            else:
                yield (period, user, None, None, 0, score, reached, listed)


def replay_log(orders: dict[int, Order], rows: Iterable[Sequence[Any]], seq: int) -> int:
    """Apply ``rows`` (LOG_FROM's, from past ``seq``) to the ``orders`` they touch; returns
    the last seq applied. A gap (rows pruned past ``seq``) empties ``orders``: each is built
    again when next read."""
    expected = seq + 1
    for row in rows:
        seq = row[0]
        if seq != expected:
            orders.clear()
            break
        expected += 1
        period_id = row[1]
        if period_id == SLOTS_ROW:
            for change in slot_changes(row):
                order = orders.get(change[0])
                if order is not None:
                    _apply(order, change)
            continue
        order = orders.get(period_id)
        if order is None:
            continue
        if row[2] is None:  # a reset: the period's order is built again when read
            del orders[period_id]
            continue
        _apply(order, row[1:9])
    return seq


def _apply(order: Order, change: Sequence[Any]) -> None:
    if change[4]:
        order.remove(change[1], change[2], change[3])
    if change[7]:
        order.add(change[1], change[5], change[6])
