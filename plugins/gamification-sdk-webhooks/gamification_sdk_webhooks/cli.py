"""``gamification webhooks ...``: the plugin's commands, added through ``register_commands``."""

from __future__ import annotations

from datetime import timedelta

import attrs
import click

from gamification_sdk.cli import State, emit, table

from .service import Webhooks

__all__ = ["webhooks"]


def _hooks() -> Webhooks:
    state = click.get_current_context().find_object(State)
    assert state is not None  # always under the ``gamification`` group
    return Webhooks(state.engine())


def _as_json() -> bool:
    state = click.get_current_context().find_object(State)
    return state is not None and state.as_json


@click.group("webhooks")
def webhooks() -> None:
    """Signed webhooks for notifications: endpoints, secrets, the dead letter."""


@webhooks.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--kind", "kinds", multiple=True, required=True,
              help="A notification kind to send (repeat it), or '*' for all.")  # fmt: skip
@click.option("--secret", help="A 'whsec_<base64>' secret; default: a new random one.")
def add(name: str, url: str, kinds: tuple[str, ...], secret: str | None) -> None:
    """Send notifications of the given kinds to URL, signed; prints the secret once."""
    endpoint = _hooks().add(name, url, kinds=kinds, secret=secret)
    emit(
        _as_json(),
        attrs.asdict(endpoint),
        lambda: (
            f"{endpoint.name}: {endpoint.url} ({', '.join(endpoint.kinds)})\n"
            f"secret: {endpoint.secret}"
        ),
    )


@webhooks.command("list")
def list_endpoints() -> None:
    """List the endpoints (secrets are not shown)."""
    found = _hooks().list()
    report = [{**attrs.asdict(e), "secret": None} for e in found]
    rows = [(e.name, e.url, ",".join(e.kinds), e.active_secrets) for e in found]
    emit(_as_json(), report, lambda: table(("name", "url", "kinds", "secrets"), rows))


@webhooks.command("rotate-secret")
@click.argument("name")
@click.option("--secret", help="The new 'whsec_<base64>' secret; default: a new random one.")
@click.option("--keep-old-hours", type=click.FloatRange(0, 720), default=24.0, show_default=True,
              help="How long the old secrets keep signing too.")  # fmt: skip
def rotate_secret(name: str, secret: str | None, keep_old_hours: float) -> None:
    """Sign NAME's messages with a new secret, and the old ones for a while; prints it."""
    endpoint = _hooks().rotate_secret(name, secret, keep_old_for=timedelta(hours=keep_old_hours))
    emit(_as_json(), attrs.asdict(endpoint), lambda: f"{endpoint.name}: secret {endpoint.secret}")


@webhooks.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Stop sending to NAME; its secrets and deliveries go too."""
    removed = _hooks().remove(name)
    emit(_as_json(), {"removed": removed},
         lambda: f"{name}: removed" if removed else f"{name}: no such endpoint")  # fmt: skip


@webhooks.command("dead")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def dead(limit: int) -> None:
    """List the dead letter: deliveries that failed every attempt."""
    found = _hooks().dead(limit=limit)
    rows = [(d.id, d.message_id, d.endpoint, d.kind, d.attempts, d.last_error) for d in found]
    emit(
        _as_json(),
        [attrs.asdict(d) for d in found],
        lambda: table(("id", "webhook-id", "endpoint", "kind", "attempts", "last error"), rows),
    )


@webhooks.command("replay")
@click.argument("ids", nargs=-1, type=click.IntRange(1))
@click.option("--all", "everything", is_flag=True, help="Replay the whole dead letter.")
def replay(ids: tuple[int, ...], everything: bool) -> None:
    """Queue dead deliveries IDS (or --all) again, under the same webhook-id."""
    if bool(ids) == everything:
        raise click.UsageError("give delivery ids or --all, not both or neither")
    queued = _hooks().replay(None if everything else ids)
    emit(_as_json(), {"queued": queued}, lambda: f"queued {len(queued)}: {queued}")


@webhooks.command("deliver")
@click.option("--timeout", type=click.FloatRange(0.01, 300), default=10.0, show_default=True,
              help="Seconds each request may take.")  # fmt: skip
def deliver(timeout: float) -> None:
    """Send the deliveries due now (what the scheduled job does), outside any transaction."""
    state = click.get_current_context().find_object(State)
    assert state is not None
    report = Webhooks(state.engine(), timeout=timeout).deliver()
    counts = report.counts()
    emit(_as_json(), counts, lambda: ", ".join(f"{k} {v}" for k, v in counts.items()))
