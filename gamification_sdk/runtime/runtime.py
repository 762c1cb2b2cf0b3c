"""What every service shares: the store, the clock, the plugins, idempotency, and how a write
runs and then fires its after-commit hooks.

The facade builds one ``Runtime`` per engine and hands it to each capability service, so a
service never needs the facade itself. Plugins still receive the facade (``engine=``) in
their hook arguments: the runtime keeps it as an opaque ``facade`` to pass along.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import pluggy

from ..config import Config
from ..core.clock import Clock, system_clock, to_text
from ..core.validation import check_at
from ..errors import HookError, WriteConflict
from ..storage.owners import OWNER_OF
from ..storage.store import Store, Tx
from .idempotency import Codec, Idempotency
from .plugins import Implementations, call_after_commit

__all__ = ["CONFLICT_RETRIES", "Mispredicted", "Runtime", "retrying"]

CONFLICT_RETRIES = 8
"""How many times a write runs before a ``WriteConflict`` reaches the caller."""

T = TypeVar("T")


def retrying(attempt: Callable[[], T]) -> T:
    """``attempt()``, run again after a ``WriteConflict`` (which rolled it back whole), up to
    ``CONFLICT_RETRIES`` times in all, after a short random pause that grows each time."""
    for tries in range(1, CONFLICT_RETRIES + 1):
        try:
            return attempt()
        except WriteConflict:
            if tries == CONFLICT_RETRIES:
                raise
            # Spread the writers that met apart, longer each time (at most ~0.1 s).
            time.sleep(random.uniform(0, 0.0005 * 2**tries))
    raise AssertionError("unreachable: the last attempt returns or raises")


class Mispredicted(Exception):
    """A write's body found that what ``ahead`` queued is not what it needs: the write runs
    again without it (``Runtime.write``)."""


class _Replay(Exception):
    def __init__(self, result: object) -> None:
        self.result = result


class Runtime:
    """One engine's shared machinery. ``config`` follows the stored configuration: the facade
    replaces it when the configuration changes."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        pm: pluggy.PluginManager,
        idempotency: Idempotency,
        config: Config,
    ) -> None:
        self.store = store
        self.clock = clock
        self.pm = pm
        self.idempotency = idempotency
        self.config = config
        self._lock_users = store.dialect.name != "sqlite"
        # PostgreSQL: writes queue their statements (Runtime.write's ``ahead``).
        self.queues = self._lock_users
        # What plugins receive as ``engine=``; set by the facade once it is built.
        self.facade: Any = None
        self.implementations = Implementations(pm)

    @property
    def locks_users(self) -> bool:
        """Whether writes about a user take that user's lock (PostgreSQL): on SQLite the one
        writer excludes everyone, so a frame about each user would only cost time."""
        return self._lock_users

    def now(self) -> datetime:
        return check_at(self.clock(), "clock()")

    def moment(self, at: object) -> tuple[datetime, str, str | None]:
        """A write's time, its stored text, and that text again only if the caller gave it.

        The third value goes into fingerprints: ``at=None`` must not make a retry differ.
        """
        if at is None:
            # The built-in clock is known to give aware UTC times: skip re-checking them.
            moment = datetime.now(UTC) if self.clock is system_clock else self.now()
            return moment, to_text(moment), None
        moment = check_at(at)
        text = to_text(moment)
        return moment, text, text

    def write(
        self,
        operation: str,
        key: str | None,
        digest: Callable[[], bytes | None],
        codec: Codec[T],
        at_text: str,
        body: Callable[[Tx], T],
        *,
        confirms: bool = False,
        user_id: str | Callable[[], str] = "",
        also: str = "",
        ahead: Callable[[Tx], bool] | None = None,
    ) -> T:
        """Run ``body`` in one write transaction, replaying a keyed call made before; after
        the commit, the hooks its events queued.

        ``ahead`` (PostgreSQL, an outermost write): queues ``body``'s first statements before
        the key lookup is read, so they share its round trip (storage/postgres/session.py),
        and leaves them in ``tx.ahead`` for ``body``; True if they write. A key found then
        rolls back what they wrote and replays; ``body`` raising ``Mispredicted`` (what it
        queued was not what it needed) runs the write again without them.

        ``confirms``: ``body``'s first read confirms the stored configuration version
        (``Store.write``). ``user_id``: whose call it is, where keys are unique per user
        (``Idempotency``); ``""`` for a call of no user; a function for a call by a row's
        id, which reads the row's owner (asked only for a keyed call, in the transaction).
        ``also``: a second user the call writes about (a transfer's receiver): on PostgreSQL
        their lock is taken too, the two in a fixed order (``PostgresBackend.write``).

        A ``WriteConflict`` (PostgreSQL: a serialization failure or a deadlock) rolled the
        whole write back: an outermost write runs again, up to ``CONFLICT_RETRIES`` times,
        after a short random pause. Safe because the retry starts from nothing and a key
        makes it replay what another call committed meanwhile. A write inside ``batch()`` is
        not retried alone: its batch fails with the conflict."""
        if not self._lock_users or self.store.in_write:
            # SQLite's one writer never conflicts: no retry frame on its hot path.
            return self._write(
                operation, key, digest, codec, at_text, body, confirms, user_id, also, None
            )

        def attempt() -> T:
            try:
                return self._write(
                    operation, key, digest, codec, at_text, body, confirms, user_id, also, ahead
                )
            except Mispredicted:
                return self._write(
                    operation, key, digest, codec, at_text, body, confirms, user_id, also, None
                )

        return retrying(attempt)

    def _write(
        self,
        operation: str,
        key: str | None,
        digest: Callable[[], bytes | None],
        codec: Codec[T],
        at_text: str,
        body: Callable[[Tx], T],
        confirms: bool,
        user_id: str | Callable[[], str],
        also: str,
        ahead: Callable[[Tx], bool] | None,
    ) -> T:
        if self._lock_users and not isinstance(user_id, str) and self.store.in_write:
            # A call by a row's id inside a batch, which takes the lock of each user its calls
            # are about: its row's owner is one (read first, in the batch's transaction).
            user_id = user_id()
        # PostgreSQL: the call's user is locked as the write begins (PostgresBackend.write).
        frame = (
            cast(Any, self.store).write(confirms=confirms, user=user_id, also=also)
            if self._lock_users and isinstance(user_id, str) and user_id
            else self.store.write(confirms=confirms)
        )
        try:
            with frame as tx:
                if key is not None:
                    found = digest()
                    assert found is not None, "a keyed write's digest gives its fingerprint"
                    signature: bytes = found
                    if not isinstance(user_id, str):
                        user_id = user_id() if self.idempotency.per_user else ""
                    if ahead is None:
                        prior = self.idempotency.replay(key, operation, signature, codec, user_id)
                        if prior is not None:
                            return prior
                    else:
                        wrote: list[bool] = []
                        try:
                            prior = self.idempotency.replay(
                                key, operation, signature, codec, user_id,
                                ahead=lambda: wrote.append(ahead(tx)),
                            )  # fmt: skip
                        except sqlite3.IntegrityError as exc:
                            # Refused in the lookup's round trip: the body, run plainly,
                            # refuses it where it says what was wrong.
                            raise Mispredicted() from exc
                        if prior is not None:
                            if wrote[0]:
                                raise _Replay(prior)
                            return prior
                elif ahead is not None:
                    ahead(tx)
                    if tx.ahead:
                        try:
                            # Sent now, so a refusal in it is told apart from the body's.
                            next(iter(tx.ahead.values())).rowcount  # noqa: B018
                        except sqlite3.IntegrityError as exc:
                            raise Mispredicted() from exc
                result = body(tx)
                if ahead is not None and tx.ahead:
                    # Queued but not used: it must not commit without the rest of its write.
                    raise Mispredicted()
                if key is not None:
                    assert isinstance(user_id, str)
                    self.idempotency.record(
                        key, operation, signature, result, codec, at_text, user_id
                    )
        except _Replay as replay:
            # What ``ahead`` wrote is rolled back: the key's first call stands.
            return cast(T, replay.result)
        if tx.committed:
            self.dispatch(tx, result)
        return result

    def job(self, body: Callable[[Tx], T]) -> tuple[T, Tx]:
        """``body(tx)`` in one write about no one user (a job's step), and its transaction
        (to dispatch once committed). On PostgreSQL two servers' jobs may run it at once: the
        one that conflicts runs again whole (``retrying``) and finds what the other
        committed, where the conflict would fail its job."""

        def attempt() -> tuple[T, Tx]:
            with self.store.write() as tx:
                return body(tx), tx

        if not self._lock_users or self.store.in_write:
            return attempt()
        return retrying(attempt)

    def frame(
        self, *, savepoint: bool = False, user_id: str = "", users: bool = False
    ) -> AbstractContextManager[Tx]:
        """The store's write frame; about ``user_id`` on PostgreSQL: an outermost one runs READ
        COMMITTED under that user's lock, a nested one takes the lock too if its transaction
        takes users' locks. ``users`` (a batch): an outermost one runs READ COMMITTED and takes
        each user's lock as its calls about them come (``PostgresBackend.write``)."""
        if self._lock_users and (user_id or users):
            return cast(
                "AbstractContextManager[Tx]",
                cast(Any, self.store).write(savepoint=savepoint, user=user_id, users=users),
            )
        return self.store.write(savepoint=savepoint)

    def owner_of(self, kind: str, row_id: int) -> Callable[[], str]:
        """For ``write(user_id=)``: the owner of the ``kind`` row ``row_id`` (see
        storage/owners.py), or ``""`` if there is none (the call then refuses the id)."""

        def owner() -> str:
            row = self.store.conn.execute(OWNER_OF[kind], (row_id,)).fetchone()
            return "" if row is None else str(row[0])

        return owner

    def dispatch(
        self, tx: Tx, result: object, collect: list[tuple[str, BaseException]] | None = None
    ) -> None:
        """Run after-commit hooks, every plugin even if one raises, per ``Config.hook_errors``.

        A call of several transactions passes ``collect``: the failures go there, so the call
        does all its work and then raises them together with its whole result
        (``raise_hook_errors``), instead of stopping after the first transaction.
        """
        failures: list[tuple[str, BaseException]] = [] if collect is None else collect
        for name, event in tx.events:
            hook, impls = self.implementations(name)
            if impls:
                call_after_commit(self.pm, hook, impls, {"engine": self.facade, **event}, failures)
        tx.events.clear()
        if collect is None and failures:
            self.raise_hook_errors(failures, result)

    def raise_hook_errors(self, failures: list[tuple[str, BaseException]], result: object) -> None:
        if failures and self.config.hook_errors == "raise":
            raise HookError(failures, result)
