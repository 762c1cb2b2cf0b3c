"""The errors the webhooks plugin raises, beside the engine's ``InvalidInput`` for bad values."""

from __future__ import annotations

from gamification_sdk.errors import GamificationError, InvalidInput, NotFound

__all__ = ["EndpointExists", "InsideTransaction", "UnknownEndpoint"]


class UnknownEndpoint(NotFound):
    """No webhook endpoint has this name."""

    def __init__(self, name: str) -> None:
        super().__init__("name", name)


class EndpointExists(InvalidInput):
    """An endpoint of this name exists with another URL or other kinds; remove it first."""

    def __init__(self, name: str) -> None:
        super().__init__(
            "name", f"an endpoint named {name!r} exists with another url or kinds; remove it first"
        )


class InsideTransaction(GamificationError):
    """Webhooks are sent outside any write transaction: call deliver() after the batch commits."""
