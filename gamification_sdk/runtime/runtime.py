"""What every service shares: the store, the clock, the plugins, idempotency, and how a write
runs and then fires its after-commit hooks.

The facade builds one ``Runtime`` per engine and hands it to each capability service, so a
service never needs the facade itself. Plugins still receive the facade (``engine=``) in
their hook arguments: the runtime keeps it as an opaque ``facade`` to pass along.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pluggy

from ..config import Config
from ..core.clock import Clock, system_clock, to_text
from ..core.validation import check_at
from ..errors import HookError
from ..storage.store import Store, Tx
from .idempotency import Codec, Idempotency
from .plugins import Implementations, call_after_commit

__all__ = ["Runtime"]

T = TypeVar("T")


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
    ) -> T:
        """Run ``body`` in one write transaction, replaying a keyed call made before; after
        the commit, the hooks its events queued.

        ``confirms``: ``body``'s first read confirms the stored configuration version
        (``Store.write``)."""
        with self.store.write(confirms=confirms) as tx:
            if key is not None:
                found = digest()
                assert found is not None, "a keyed write's digest gives its fingerprint"
                signature: bytes = found
                prior = self.idempotency.replay(key, operation, signature, codec)
                if prior is not None:
                    return prior
            result = body(tx)
            if key is not None:
                self.idempotency.record(key, operation, signature, result, codec, at_text)
        if tx.committed:
            self.dispatch(tx, result)
        return result

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
