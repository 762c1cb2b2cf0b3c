"""``Webhooks(engine)``: endpoints and their secrets, the delivery queue, and the sender.

Every change is one transaction of the engine (``engine.batch()``); sending is not: each run
claims due deliveries in a short transaction, posts them with none open, then records each
outcome in another. A worker killed between the post and the record sends that message again
later under the same ``webhook-id`` (at least once); a claim pushes the row's next attempt
past the send's timeout, so two workers never post the same attempt at once. On a file the
claim's transaction holds the write lock; on PostgreSQL, where servers claim at once, it
locks the rows it claims and skips those another claim holds (``postgres.DUE``).
"""

from __future__ import annotations

import builtins
import json
import random as random_module
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import httpx
import sqlite_utils

from gamification_sdk import Gamification
from gamification_sdk.core.clock import to_text
from gamification_sdk.core.validation import check_at
from gamification_sdk.errors import InvalidInput
from gamification_sdk.models import Notification

from . import postgres
from . import schema as sqlite
from .errors import EndpointExists, InsideTransaction, PluginNotLoaded, UnknownEndpoint
from .models import Delivery, DeliveryReport, Endpoint, Status
from .signing import RetryPolicy, check_secret, new_secret, signature_header

__all__ = ["Webhooks", "is_postgres", "queue", "statements"]

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_KIND = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
MAX_URL = 2000
MAX_ERROR = 500
STATUSES = ("pending", "delivered", "dead")
USER_AGENT = "gamification-sdk-webhooks/0.1"


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            "name", f"expected 1-100 characters of A-Z a-z 0-9 _ . : -, got {name!r}"
        )
    return name


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url:
        raise InvalidInput("url", f"expected an http:// or https:// URL, got {url!r}")
    if len(url) > MAX_URL:
        raise InvalidInput("url", f"longer than {MAX_URL} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise InvalidInput("url", f"not a URL: {url!r}") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput("url", f"expected an http:// or https:// URL, got {url!r}")
    if not parsed.host:
        raise InvalidInput("url", f"no host in {url!r}")
    return url


def check_kinds(kinds: object) -> tuple[str, ...]:
    """Notification kinds to send (any kind string: plugins and upgrades add kinds), or "*"."""
    if isinstance(kinds, str) or not isinstance(kinds, Iterable):
        raise InvalidInput("kinds", f"expected a list of notification kinds, got {kinds!r}")
    found: list[str] = []
    for kind in kinds:
        if not isinstance(kind, str) or not (kind == "*" or _KIND.match(kind)):
            raise InvalidInput(
                "kinds",
                f"expected kinds of 1-100 characters A-Z a-z 0-9 _ . : - or '*', got {kind!r}",
            )
        if kind not in found:
            found.append(kind)
    if not found:
        raise InvalidInput("kinds", "give at least one notification kind, or '*' for all")
    if "*" in found and len(found) > 1:
        raise InvalidInput("kinds", "'*' already means every kind: give it alone")
    return tuple(sorted(found))


def _delivery(row: tuple[Any, ...]) -> Delivery:
    return Delivery(*row)


def is_postgres(engine: Gamification) -> bool:
    """Whether ``engine`` runs on PostgreSQL (its ``db`` is not a sqlite-utils database)."""
    return not isinstance(engine.db, sqlite_utils.Database)


def statements(engine: Gamification) -> ModuleType:
    """The module of statements for ``engine``'s database: ``schema`` or ``postgres``."""
    return postgres if is_postgres(engine) else sqlite


def body(notification: Notification) -> str:
    """What a delivery posts: the file's trigger builds the same JSON (``schema._W001``)."""
    payload = {
        "type": notification.kind,
        "timestamp": to_text(notification.created_at),
        "data": {
            "notification_id": notification.id,
            "user_id": notification.user_id,
            "kind": notification.kind,
            "message": notification.message,
            # As the outbox stored it: keys sorted.
            "data": json.loads(json.dumps(notification.data, sort_keys=True)),
        },
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def queue(engine: Gamification, notification: Notification) -> None:
    """Queue ``notification``'s deliveries in the transaction that stores it (PostgreSQL;
    on a file the trigger of ``schema._W001`` does, for every process that writes)."""
    if not is_postgres(engine):
        return
    engine.db.conn.execute(
        postgres.QUEUE,
        (notification.kind, notification.user_id, body(notification),
         to_text(notification.created_at)),
    )  # fmt: skip


def loaded(engine: Gamification) -> bool:
    """Whether ``engine`` loaded this plugin (its hooks queue what the engine stores)."""
    package = __name__.rpartition(".")[0]
    return any(
        getattr(impl.plugin, "__name__", None) == package
        for impl in engine.pm.hook.notification_stored.get_hookimpls()
    )


class Webhooks:
    """Signed webhooks for ``engine``'s notifications (see the plugin's README).

    ``clock`` (default: the engine's) dates attempts and signatures; ``random`` (returns a
    float in [0, 1)) jitters retries; ``timeout`` is each request's, in seconds;
    ``transport`` is an ``httpx`` transport (``httpx.MockTransport`` in tests and examples).
    """

    def __init__(
        self,
        engine: Gamification,
        *,
        clock: Callable[[], datetime] | None = None,
        random: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        batch_size: int = 50,
    ) -> None:
        if type(timeout) not in (int, float) or not 0 < timeout <= 300:
            raise InvalidInput("timeout", f"expected 0 < seconds <= 300, got {timeout!r}")
        if type(batch_size) is not int or not 1 <= batch_size <= 1000:
            raise InvalidInput("batch_size", f"expected 1 to 1000, got {batch_size!r}")
        self._engine = engine
        self._postgres = is_postgres(engine)
        self._sql = postgres if self._postgres else sqlite
        self._tables = False
        self._clock = clock or engine.clock
        self._random = random or random_module.random
        self.retry = retry or RetryPolicy()
        self.timeout = float(timeout)
        self._transport = transport
        self._batch_size = batch_size
        # A claimed attempt is not due again before its post has surely ended.
        self._lease = timedelta(seconds=2 * self.timeout + 30)

    # -- endpoints ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        return check_at(self._clock(), "clock()")

    def _exec(self, statement: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self._engine.db.conn.execute(statement, params)

    def _has_tables(self) -> bool:
        # Once made, the tables stay: asked until they are there.
        if not self._tables:
            self._tables = bool(self._exec(self._sql.HAS_TABLES).fetchone()[0])
        return self._tables

    def add(
        self, name: str, url: str, *, kinds: Iterable[str], secret: str | None = None
    ) -> Endpoint:
        """Send notifications of ``kinds`` to ``url``, signed with ``secret`` (a new one if None).

        Adding the same name, URL and kinds again changes nothing and returns the endpoint (the
        name is the call's idempotency key); the same name with anything else raises
        ``EndpointExists``. Only notifications stored after this call are sent.

        On PostgreSQL the engine must have loaded the plugin (``PluginNotLoaded``): its
        tables are made at open, and each server queues the notifications it stores.
        """
        check_name(name)
        check_url(url)
        chosen = check_kinds(kinds)
        if secret is not None:
            check_secret(secret)
        if self._postgres and not loaded(self._engine):
            raise PluginNotLoaded()
        at_text = to_text(self._now())
        with self._engine.batch():
            if not self._postgres:
                sqlite.migrations.apply(self._engine.db)
            found = self._exec(self._sql.ENDPOINT, (name,)).fetchone()
            while found is None:
                if self._exec(self._sql.ADD_ENDPOINT, (name, url, at_text)).fetchone():
                    for kind in chosen:
                        self._exec(self._sql.ADD_KIND, (kind, name))
                    self._exec(self._sql.ADD_SECRET, (name, secret or new_secret(), at_text))
                    return self._endpoint((name, url, at_text), at_text)
                # Another server added the name since the look-up, and committed (read
                # again: removed since, the name is free again).
                found = self._exec(self._sql.ENDPOINT, (name,)).fetchone()
            current = self._endpoint(found, at_text)
            same_secret = secret is None or secret == current.secret
            if current.url != url or current.kinds != chosen or not same_secret:
                raise EndpointExists(name)
            return current

    def _endpoint(self, row: tuple[Any, ...], at_text: str) -> Endpoint:
        name, url, created_at = row
        kinds = tuple(k for (k,) in self._exec(self._sql.KINDS, (name,)))
        active = [s for s, _ in self._exec(self._sql.ACTIVE_SECRETS, (name, at_text))]
        return Endpoint(name, url, kinds, created_at, active[0] if active else "", len(active))

    def endpoint(self, name: str) -> Endpoint:
        """One endpoint; ``UnknownEndpoint`` if there is none of that name."""
        check_name(name)
        at_text = to_text(self._now())
        with self._engine.batch():
            row = self._exec(self._sql.ENDPOINT, (name,)).fetchone() if self._has_tables() else None
            if row is None:
                raise UnknownEndpoint(name)
            return self._endpoint(row, at_text)

    def list(self) -> list[Endpoint]:
        """Every endpoint, by name."""
        at_text = to_text(self._now())
        with self._engine.batch():
            if not self._has_tables():
                return []
            return [
                self._endpoint(row, at_text) for row in self._exec(self._sql.ENDPOINTS).fetchall()
            ]

    def rotate_secret(
        self,
        name: str,
        secret: str | None = None,
        *,
        keep_old_for: timedelta = timedelta(hours=24),
    ) -> Endpoint:
        """Sign with ``secret`` (a new one if None) from now on, and with the old secrets too
        until ``keep_old_for`` has passed, so receivers can switch without losing a message.

        Rotating to the endpoint's newest secret again changes nothing.
        """
        check_name(name)
        if secret is not None:
            check_secret(secret)
        if not isinstance(keep_old_for, timedelta) or not (
            timedelta(0) <= keep_old_for <= timedelta(days=30)
        ):
            raise InvalidInput(
                "keep_old_for", f"expected a timedelta from 0 to 30 days, got {keep_old_for!r}"
            )
        now = self._now()
        at_text = to_text(now)
        with self._engine.batch():
            row = (
                self._exec(self._sql.ENDPOINT_LOCKED, (name,)).fetchone()
                if self._has_tables()
                else None
            )
            if row is None:
                raise UnknownEndpoint(name)
            if secret is not None and self._endpoint(row, at_text).secret == secret:
                return self._endpoint(row, at_text)
            added = self._exec(
                self._sql.ADD_SECRET, (name, secret or new_secret(), at_text)
            ).fetchone()
            self._exec(
                self._sql.RETIRE_SECRETS, (to_text(now + keep_old_for), name, added[0], at_text)
            )
            self._exec(self._sql.PRUNE_SECRETS, (name, at_text))
            return self._endpoint(row, at_text)

    def remove(self, name: str) -> bool:
        """Stop sending to ``name`` and forget its secrets and deliveries; False if unknown."""
        check_name(name)
        with self._engine.batch():
            if not self._has_tables():
                return False
            return bool(self._exec(self._sql.REMOVE_ENDPOINT, (name,)).rowcount)

    # -- deliveries --------------------------------------------------------------------------

    def deliveries(
        self, status: Status | None = None, *, limit: int = 100
    ) -> builtins.list[Delivery]:
        """Deliveries oldest first, all or of one ``status`` ("pending", "delivered", "dead")."""
        if status is not None and status not in STATUSES:
            raise InvalidInput("status", f"expected one of {STATUSES} or None, got {status!r}")
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise InvalidInput("limit", f"expected 1 to 10000, got {limit!r}")
        with self._engine.batch():
            if not self._has_tables():
                return []
            if status is None:
                rows = self._exec(self._sql.ALL_DELIVERIES, (limit,)).fetchall()
            else:
                rows = self._exec(self._sql.DELIVERIES, (status, limit)).fetchall()
        return [_delivery(row) for row in rows]

    def dead(self, *, limit: int = 100) -> builtins.list[Delivery]:
        """The dead letter: deliveries that failed ``retry.max_attempts`` times."""
        return self.deliveries("dead", limit=limit)

    def replay(self, ids: Iterable[int] | None = None) -> builtins.list[int]:
        """Queue dead deliveries (``ids``, or all of them) again, with fresh attempts and the
        same ``webhook-id``; returns the ids queued. An id that is not dead is left alone."""
        chosen: builtins.list[int] | None = None
        if ids is not None:
            if isinstance(ids, str) or not isinstance(ids, Iterable):
                raise InvalidInput("ids", f"expected delivery ids, got {ids!r}")
            chosen = list(ids)
            for i in chosen:
                if type(i) is not int or i < 1:
                    raise InvalidInput("ids", f"expected positive integer ids, got {i!r}")
        with self._engine.batch():
            if not self._has_tables():
                return []
            if chosen is None:
                return sorted(r[0] for r in self._exec(self._sql.REPLAY_ALL).fetchall())
            return [i for i in chosen if self._exec(self._sql.REPLAY, (i,)).rowcount]

    def counts(self) -> dict[str, int]:
        """How many deliveries are pending, delivered and dead."""
        found = dict.fromkeys(STATUSES, 0)
        with self._engine.batch():
            if self._has_tables():
                found.update(dict(self._exec(self._sql.COUNTS).fetchall()))
        return found

    # -- sending -----------------------------------------------------------------------------

    def deliver(self, *, now: datetime | None = None, limit: int = 1000) -> DeliveryReport:
        """Send up to ``limit`` deliveries due at ``now`` (default: the clock), outside any
        transaction; each failure is scheduled again by ``retry`` or, at the last, is dead."""
        try:
            inside = self._engine.db.conn.in_transaction
        except RuntimeError:
            inside = False  # a pooled PostgreSQL engine has no session between writes
        if inside:
            raise InsideTransaction()
        moment = self._now() if now is None else check_at(now, "now")
        if type(limit) is not int or not 1 <= limit <= 1_000_000:
            raise InvalidInput("limit", f"expected 1 to 1000000, got {limit!r}")
        delivered: builtins.list[int] = []
        retrying: builtins.list[int] = []
        dead: builtins.list[int] = []
        if not self._has_tables():  # no endpoint was ever added: not even a transaction
            return DeliveryReport()
        with httpx.Client(
            timeout=self.timeout, transport=self._transport, follow_redirects=False
        ) as client:
            while len(delivered) + len(retrying) + len(dead) < limit:
                room = min(self._batch_size, limit - len(delivered) - len(retrying) - len(dead))
                claimed, expired = self._claim(moment, room)
                dead.extend(expired)
                if not claimed and not expired:
                    break
                for item in claimed:
                    outcome = self._post(client, item)
                    bucket = self._record(item, *outcome)
                    {"delivered": delivered, "retrying": retrying, "dead": dead}[bucket].append(
                        item["id"]
                    )
        return DeliveryReport(tuple(delivered), tuple(retrying), tuple(dead))

    def _claim(
        self, now: datetime, room: int
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[int]]:
        """Due deliveries, each with its attempt counted and its secrets, in one transaction.

        A row still pending after its last attempt was claimed by a worker that stopped
        before recording the outcome: it goes to the dead letter (replay sends it again).
        """
        at_text = to_text(now)
        claimed: builtins.list[dict[str, Any]] = []
        expired: builtins.list[int] = []
        secrets: dict[str, builtins.list[str]] = {}
        with self._engine.batch():
            if not self._has_tables():
                return [], []
            rows = self._exec(self._sql.DUE, (at_text, room)).fetchall()
            for delivery_id, message_id, text, attempts, endpoint, url in rows:
                if attempts >= self.retry.max_attempts:
                    error = "the last attempt's outcome is unknown (its worker stopped)"
                    self._exec(self._sql.DEAD, (None, error, delivery_id, attempts))
                    expired.append(delivery_id)
                    continue
                self._exec(
                    self._sql.CLAIM, (to_text(now + self._lease), at_text, delivery_id, attempts)
                )
                if endpoint not in secrets:
                    found = self._exec(self._sql.ACTIVE_SECRETS, (endpoint, at_text))
                    secrets[endpoint] = [s for s, _ in found]
                claimed.append({
                    "id": delivery_id, "message_id": message_id, "body": text, "url": url,
                    "attempts": attempts + 1, "secrets": secrets[endpoint],
                })  # fmt: skip
        return claimed, expired

    def _post(self, client: httpx.Client, item: dict[str, Any]) -> tuple[int | None, str | None]:
        """(HTTP status, error): error is None when the receiver answered 2xx."""
        if not item["secrets"]:
            return None, "the endpoint has no active secret"
        timestamp = int(self._now().timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": item["message_id"],
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                item["secrets"], item["message_id"], timestamp, item["body"]
            ),
        }
        try:
            # Streamed: the receiver's answer is judged by its status, its body never read.
            with client.stream(
                "POST", item["url"], content=item["body"].encode(), headers=headers
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        if 200 <= status < 300:
            return status, None
        return status, f"HTTP {status}"

    def _record(self, item: dict[str, Any], status: int | None, error: str | None) -> str:
        at = self._now()
        attempts = item["attempts"]
        with self._engine.batch():
            if error is None:
                self._exec(self._sql.DELIVERED, (to_text(at), status, item["id"], attempts))
                return "delivered"
            later = self.retry.next_attempt(attempts, at, self._random)
            if later is None:
                self._exec(self._sql.DEAD, (status, error, item["id"], attempts))
                return "dead"
            self._exec(self._sql.RETRY, (to_text(later), status, error, item["id"], attempts))
            return "retrying"

    def forget_user(self, user_id: str, pseudonym: str) -> int:
        """Delete ``user_id``'s deliveries and put ``pseudonym`` for them in others'."""
        with self._engine.batch():
            if not self._has_tables():
                return 0
            deleted = int(self._exec(self._sql.FORGET_USER, (user_id,)).rowcount)
            self._exec(self._sql.PSEUDONYMISE, {"user": user_id, "pseudonym": pseudonym})
            return deleted
