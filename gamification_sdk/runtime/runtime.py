"""What every service shares: the store, the clock, the plugins, idempotency, and how a write
runs and then fires its after-commit hooks.

The facade builds one ``Runtime`` per engine and hands it to each capability service, so a
service never needs the facade itself. Plugins still receive the facade (``engine=``) in
their hook arguments: the runtime keeps it as an opaque ``facade`` to pass along.
"""

from __future__ import annotations

import random
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

__all__ = ["CONFLICT_RETRIES", "Runtime", "retrying"]

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
        # What plugins receive as ``engine=``; set by the facade once it is built.
        self.facade: Any = None
        self.implementations = Implementations(pm)

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
    ) -> T:
        """Run ``body`` in one write transaction, replaying a keyed call made before; after
        the commit, the hooks its events queued.

        ``confirms``: ``body``'s first read confirms the stored configuration version
        (``Store.write``). ``user_id``: whose call it is, where keys are unique per user
        (``Idempotency``); ``""`` for a call of no user; a function for a call by a row's
        id, which reads the row's owner (asked only for a keyed call, in the transaction).

        A ``WriteConflict`` (PostgreSQL: a serialization failure or a deadlock) rolled the
        whole write back: an outermost write runs again, up to ``CONFLICT_RETRIES`` times,
        after a short random pause. Safe because the retry starts from nothing and a key
        makes it replay what another call committed meanwhile. A write inside ``batch()`` is
        not retried alone: its batch fails with the conflict."""
        if not self._lock_users or self.store.in_write:
            # SQLite's one writer never conflicts: no retry frame on its hot path.
            return self._write(operation, key, digest, codec, at_text, body, confirms, user_id)
        return retrying(
            lambda: self._write(operation, key, digest, codec, at_text, body, confirms, user_id)
        )

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
    ) -> T:
        # PostgreSQL: the call's user is locked as the write begins (PostgresBackend.write).
        frame = (
            cast(Any, self.store).write(confirms=confirms, user=user_id)
            if self._lock_users and isinstance(user_id, str) and user_id
            else self.store.write(confirms=confirms)
        )
        with frame as tx:
            if key is not None:
                found = digest()
                assert found is not None, "a keyed write's digest gives its fingerprint"
                signature: bytes = found
                if not isinstance(user_id, str):
                    user_id = user_id() if self.idempotency.per_user else ""
                prior = self.idempotency.replay(key, operation, signature, codec, user_id)
                if prior is not None:
                    return prior
            result = body(tx)
            if key is not None:
                assert isinstance(user_id, str)
                self.idempotency.record(key, operation, signature, result, codec, at_text, user_id)
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

    def frame(self, *, savepoint: bool = False, user_id: str = "") -> AbstractContextManager[Tx]:
        """The store's write frame; about ``user_id`` on PostgreSQL: an outermost one runs READ
        COMMITTED under that user's lock, a nested one takes the lock too if its transaction
        runs under another user's (``PostgresBackend.write``)."""
        if self._lock_users and user_id:
            return cast(
                "AbstractContextManager[Tx]",
                cast(Any, self.store).write(savepoint=savepoint, user=user_id),
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
        if collect is None:
            self.raise_hook_errors(failures, result)

    def raise_hook_errors(self, failures: list[tuple[str, BaseException]], result: object) -> None:
        if failures and self.config.hook_errors == "raise":
            raise HookError(failures, result)
