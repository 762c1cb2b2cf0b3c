"""The errors the webhooks plugin raises, beside the engine's ``InvalidInput`` for bad values."""

from __future__ import annotations

from gamification_sdk.errors import GamificationError, InvalidInput, NotFound

__all__ = ["EndpointExists", "InsideTransaction", "PluginNotLoaded", "UnknownEndpoint"]


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


class PluginNotLoaded(GamificationError):
    """On PostgreSQL, endpoints are added through an engine that loaded the plugin.

    Each server queues the deliveries of the notifications it stores, from the plugin's
    hook: open every engine with the plugin (its entry point, or ``plugins=``)."""

    def __init__(self) -> None:
        super().__init__(
            "plugins: this engine did not load gamification_sdk_webhooks; on PostgreSQL each "
            "server queues the notifications it stores through the plugin: open every engine "
            "with it (installed, or plugins=[gamification_sdk_webhooks])"
        )
