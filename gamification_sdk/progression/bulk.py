"""Plain XP awards inside ``batch()``, buffered and written with ``executemany`` at the end.

In a batch the commit is shared, so what is left of each award is its statements: a key
lookup, the profile read, the log INSERT (which holds the key) and the profile UPDATE. A plain
award (no veto or multiplier plugin, no boost or prestige, no battle pass or achievement
following XP, no level crossed; boards following XP are fine: their additions are buffered
too and written together, per user and period, see ``Boards.add_many``) needs none of those
writes at once: its result follows from the user's state, which this buffer keeps. So it
validates and answers at once, exactly as the statement path would, and its rows wait here.
They are written, in one ``executemany`` per table, before anything else touches the
database: the next write or read of the engine (``Store.pending``), a level-up, or the
batch's commit. A rolled-back batch drops them with everything else.

Any award that is not plain goes the usual way, after the buffer is written, so the two
paths never see different states. ``tests/test_bulk.py`` checks that both leave the same
database and return the same results for random sequences of awards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from ..core.validation import MAX_TOTAL
from ..errors import IdempotencyConflict, InvalidInput
from ..models import XPAward
from ..runtime.idempotency import Idempotency, fingerprint
from ..storage.store import Store
from ..storage.xp import AWARD_STATE, NEW_AWARD, SET_XP

if TYPE_CHECKING:
    import pluggy

    from .achievements import Achievements
    from .levels import LevelTable
    from .xp import XP

__all__ = ["BulkXP"]

_OPERATION = "award_xp"


class _User:
    """A user's profile as the buffered awards left it."""

    __slots__ = ("last_id", "level", "updated_at", "xp")

    def __init__(self, xp: int, level: int, last_id: int, updated_at: str) -> None:
        self.xp = xp
        self.level = level
        self.last_id = last_id
        self.updated_at = updated_at


class BulkXP:
    """The buffer of one engine. ``active`` only while the outermost ``batch()`` body runs."""

    def __init__(
        self,
        store: Store,
        xp: XP,
        table: LevelTable,
        idempotency: Idempotency,
        achievements: Achievements,
        pm: pluggy.PluginManager,
    ) -> None:
        self._store = store
        self._conn: sqlite3.Connection = store.conn
        self._xp = xp
        self._table = table
        self._idempotency = idempotency
        self._achievements = achievements
        self._hook = pm.hook
        # PostgreSQL: a buffered award takes its user's lock before it reads the profile, as
        # its write would (PostgresBackend.hold); SQLite's one writer needs none.
        self._hold: Callable[[str], None] | None = (
            None if store.dialect.name == "sqlite" else cast(Any, store).hold
        )
        self.active = False
        # Whether the engine's plugins and boards leave an XP award plain: fixed while a
        # batch runs (plugins are registered at open, boards configured), so asked once.
        self._plain = False
        self._users: dict[str, _User] = {}  # as the database plus the buffer have them
        self._changed: dict[str, _User] = {}  # whose profile rows the buffer must update
        self._awards: list[tuple[object, ...]] = []
        self._keys: dict[str, tuple[bytes, XPAward]] = {}
        self._leaving: str | None = None  # the user whose award went the statement path
        self._board_adds: list[tuple[str, int, datetime]] = []

    def start(self) -> None:
        self.active = True
        self._plain = self._plain_engine()
        self._store.before_write = self._before_write

    @contextmanager
    def buffering(self) -> Iterator[None]:
        """The outermost batch body: awards buffered, flushed at its end unless it raises."""
        self.start()
        try:
            yield
            self.flush()
        finally:
            self.stop()

    def stop(self) -> None:
        """End of the batch body: whatever was not flushed is dropped with the batch."""
        self.active = False
        self._store.before_write = None
        self._drop()
        self._users.clear()

    def _plain_engine(self) -> bool:
        """No plugin, no status tier multiplier, and nothing subscribed to XPAwarded (a
        board, the battle pass) would do anything more for an XP award."""
        return (
            not self._hook.validate_award.get_hookimpls()
            and self._xp.only_builtin_multiplier()
            and self._xp.tier_factor is None
            and (self._xp.publish_xp is None or self._xp.boards_only is not None)
        )

    def award(
        self,
        user_id: str,
        amount: int,
        source: str,
        metadata: str | None,
        key: str | None,
        at: datetime,
        at_text: str,
        explicit: str | None,
    ) -> XPAward | None:
        """The award's result if it is plain (its rows buffered), else None: the caller
        takes the statement path, which writes the buffer first."""
        store = self._store
        with store.lock:
            # Definitions loaded inside the batch may start watching XP: asked on every call.
            if (
                not self.active
                or not self._plain
                or store.nested
                or store.doomed  # the statement path refuses it with BatchAborted
                or "xp" in self._achievements.catalogue.watched
            ):
                return None
            if self._hold is not None:
                self._hold(user_id)
            digest = None
            if key is not None:
                digest = fingerprint(user_id, amount, source, metadata, explicit)
                buffered = self._keys.get(key)
                if buffered is not None:
                    if buffered[0] != digest:
                        raise IdempotencyConflict(key, _OPERATION, _OPERATION)
                    return buffered[1]
                prior = self._idempotency.replay(key, _OPERATION, digest, self._xp.codec, user_id)
                if prior is not None:
                    return prior
            user = self._users.get(user_id)
            if user is None:
                row = self._conn.execute(AWARD_STATE, (user_id,)).fetchone()
                # A new user, a prestige or an XP boost: the statement path knows those.
                if row is None or row[2] or (row[4] is not None and row[4] > at_text):
                    self._leaving = user_id
                    return None
                user = self._users[user_id] = _User(row[0], row[1], row[5] or 0, at_text)
            level = user.level
            total = user.xp + amount
            if total > MAX_TOTAL:
                raise InvalidInput("amount", f"would push total XP past {MAX_TOTAL}")
            if self._table.level_for(total) != level:
                self._leaving = user_id
                return None
            award_id = user.last_id + 1
            result = XPAward(
                id=award_id,
                user_id=user_id,
                base_amount=amount,
                multiplier=1.0,
                amount=amount,
                total_xp=total,
                old_level=level,
                new_level=level,
                leveled_up=False,
                rewards=(),
                source=source,
                created_at=at,
                idempotency_key=key,
            )
            # Nothing can fail from here on: the award is taken.
            user.xp, user.last_id, user.updated_at = total, award_id, at_text
            self._changed[user_id] = user
            if self._xp.boards_only is not None:
                self._board_adds.append((user_id, amount, at))
            # No level crossed: the key is kept in the row (xp.key_in_row), as the statement
            # path does.
            self._awards.append(
                (user_id, award_id, amount, 1.0, amount, total, level, level, source, metadata,
                 key, at_text, digest)
            )  # fmt: skip
            if key is not None:
                assert digest is not None
                self._keys[key] = (digest, result)
            store.pending = self.flush
            tx = store.current
            assert tx is not None
            tx.emit("on_xp_awarded", award=result)
            return result

    def flush(self) -> None:
        """Write the buffered awards: every log row, each user's final profile, every key."""
        if not self._awards:
            return
        # Profiles' XP moves: a state read before now no longer stands (XP.writes). A flush
        # comes before any other write's body, so no track() holds one; counted all the same.
        self._xp.writes += 1
        execute_many = self._conn.executemany
        try:
            execute_many(NEW_AWARD, self._awards)
            execute_many(
                SET_XP,
                [(u.xp, u.level, u.updated_at, user_id) for user_id, u in self._changed.items()],
            )
            if self._board_adds:
                assert self._xp.boards_only is not None
                self._xp.boards_only(self._board_adds)
        except BaseException as exc:
            # Some rows may be in: the transaction cannot commit without the rest.
            self._store.doom(exc)
            self._users.clear()
            raise
        finally:
            self._drop()

    def _before_write(self) -> None:
        """Another write of the batch begins: flush, then forget the profiles it may change
        (only its own user's, for an award that left the buffer)."""
        self.flush()
        if self._leaving is not None:
            self._users.pop(self._leaving, None)
            self._leaving = None
        else:
            self._users.clear()

    def _drop(self) -> None:
        self._changed.clear()
        self._awards.clear()
        self._board_adds.clear()
        self._keys.clear()
        self._store.pending = None
