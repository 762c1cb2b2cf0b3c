"""What the webhooks API returns."""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ["Delivery", "DeliveryReport", "Endpoint", "Status"]

Status = Literal["pending", "delivered", "dead"]


@attrs.frozen
class Endpoint:
    """A receiver: its URL, the notification kinds it gets (``"*"``: all), its newest secret
    and how many secrets sign its messages now (more than one while a rotation runs)."""

    name: str
    url: str
    kinds: tuple[str, ...]
    created_at: str
    secret: str
    active_secrets: int


@attrs.frozen
class Delivery:
    """One message to one endpoint. ``message_id`` is its ``webhook-id``, the same on every
    attempt and replay, so the receiver can drop a duplicate."""

    id: int
    message_id: str
    endpoint: str
    kind: str
    user_id: str | None
    body: str
    status: Status
    attempts: int
    next_attempt_at: str
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None


@attrs.frozen
class DeliveryReport:
    """What one ``deliver()`` run did, by delivery id: sent and acknowledged (2xx), failed
    and scheduled again, failed for the last time (now dead)."""

    delivered: tuple[int, ...] = ()
    retrying: tuple[int, ...] = ()
    dead: tuple[int, ...] = ()

    def counts(self) -> dict[str, int]:
        return {
            "delivered": len(self.delivered),
            "retrying": len(self.retrying),
            "dead": len(self.dead),
        }
