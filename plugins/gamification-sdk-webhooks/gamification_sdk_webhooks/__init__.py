"""Signed webhooks (Standard Webhooks) for the engine's notifications: at least once, retried
with backoff and jitter, then a dead letter you can replay, on a SQLite file or a PostgreSQL
schema shared by several servers. See the package's README."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gamification_sdk import Config, Job, hookimpl
from gamification_sdk.models import Notification

from . import postgres
from .errors import EndpointExists, InsideTransaction, PluginNotLoaded, UnknownEndpoint
from .models import Delivery, DeliveryReport, Endpoint
from .service import Webhooks, queue
from .signing import RetryPolicy, new_secret, sign, signature_header

if TYPE_CHECKING:
    import click

__all__ = [
    "JOB_EVERY",
    "Delivery",
    "DeliveryReport",
    "Endpoint",
    "EndpointExists",
    "InsideTransaction",
    "PluginNotLoaded",
    "RetryPolicy",
    "UnknownEndpoint",
    "Webhooks",
    "deliver_due",
    "new_secret",
    "sign",
    "signature_header",
]

JOB_EVERY = timedelta(minutes=1)


def deliver_due(engine: Any, now: datetime) -> dict[str, int]:
    """The scheduled job: send what is due at ``now`` (nothing when no endpoint was added)."""
    return Webhooks(engine).deliver(now=now).counts()


@hookimpl
def register_jobs(register: Callable[[Job], None], config: Config) -> None:
    register(Job("webhooks_deliver", deliver_due, every=JOB_EVERY))


@hookimpl
def register_commands(register: Callable[[click.Command], None]) -> None:
    # Imported here: an engine that never runs the command line does not load click's commands.
    from .cli import webhooks

    register(webhooks)


@hookimpl
def register_postgres_migrations(
    register: Callable[[str, Sequence[tuple[int, str, str]]], None],
) -> None:
    register("gamification-sdk-webhooks", postgres.MIGRATIONS)


@hookimpl
def notification_stored(engine: Any, notification: Notification) -> None:
    queue(engine, notification)


@hookimpl
def on_user_deleted(engine: Any, deletion: Any) -> None:
    Webhooks(engine).forget_user(deletion.user_id, deletion.pseudonym)
