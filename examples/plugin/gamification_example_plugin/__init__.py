"""An example plugin for gamification-sdk: a custom achievement criterion and a notifier.

- ``register_criteria`` adds the criterion ``example.balance``: the points a user holds now
  (their balance of ``params["currency"]``, default ``points``), so an achievement can ask for
  "hold 1,000 points at once", which the built-in lifetime ``points_earned`` cannot say. It is
  only evaluated for achievements whose definition names it.
- ``notify`` hands every notification the engine delivers (level-ups, unlocks, streaks,
  referrals) to the ``gamification_example_plugin`` logger at INFO, with the notification
  attached to the record as ``record.notification``. It never prints: the host decides where
  the lines go by configuring logging.

Installed, it is found through the ``gamification_sdk`` entry-point group by every engine
opened with ``load_entrypoints=True`` (the default). See README.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gamification_sdk import Gamification, hookimpl
from gamification_sdk.models import Notification

__all__ = ["BALANCE", "balance", "log"]

# Criterion names share one namespace per engine and a name registered twice stops the engine
# from opening, so a plugin prefixes its own.
BALANCE = "example.balance"

log = logging.getLogger("gamification_example_plugin")


def balance(engine: Gamification, user_id: str, params: dict[str, Any], at: datetime) -> int:
    """The user's balance of ``params["currency"]`` (default ``points``); 0 for a currency the
    engine does not have. It runs inside the event's transaction, so it already sees what the
    event itself paid."""
    currency = params.get("currency", "points")
    found = engine.points.balances(user_id).get(currency)
    return found.balance if found is not None else 0


@hookimpl
def register_criteria(register: Callable[[str, Callable[..., Any]], None]) -> None:
    register(BALANCE, balance)


@hookimpl
def notify(notification: Notification) -> None:
    # After commit: a failure here is logged by the engine and never undoes the write.
    log.info(
        "notify %s %s: %s",
        notification.user_id,
        notification.kind,
        notification.message,
        extra={"notification": notification},
    )
