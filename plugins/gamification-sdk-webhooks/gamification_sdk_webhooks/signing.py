"""Standard Webhooks signing (https://www.standardwebhooks.com/) and the retry schedule.

A secret is ``whsec_`` and the base64 of 24 to 64 random bytes. A signature is
``v1,`` and the base64 HMAC-SHA256, keyed by those bytes, of ``{id}.{timestamp}.{body}``;
while an endpoint rotates its secret the message carries one signature per active secret,
separated by spaces, so the receiver accepts it with the old secret or the new one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from gamification_sdk.errors import ConfigError, InvalidInput

__all__ = ["PREFIX", "RetryPolicy", "check_secret", "new_secret", "sign", "signature_header"]

PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


def new_secret() -> str:
    """A fresh ``whsec_`` secret of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_secret(secret: object, field: str = "secret") -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret, else ``InvalidInput`` naming ``field``."""
    if not isinstance(secret, str):
        raise InvalidInput(
            field, f"expected a 'whsec_<base64>' string, got {type(secret).__name__}"
        )
    if not secret:
        raise InvalidInput(field, "must not be empty")
    if not secret.startswith(PREFIX):
        raise InvalidInput(field, "expected 'whsec_' followed by base64")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(field, "the part after 'whsec_' is not valid base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise InvalidInput(
            field, f"expected {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes of key, got {len(key)}"
        )
    return key


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as ``message_id`` at ``timestamp``."""
    key = check_secret(secret)
    content = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(active: Sequence[str], message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header: one signature per active secret, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in active)


def _check_policy(policy: RetryPolicy) -> None:
    problems = []
    if not isinstance(policy.base, timedelta) or policy.base <= timedelta(0):
        problems.append(f"retry.base: expected a positive timedelta, got {policy.base!r}")
    elif not isinstance(policy.cap, timedelta) or policy.cap < policy.base:
        problems.append(f"retry.cap: expected a timedelta >= base, got {policy.cap!r}")
    if type(policy.max_attempts) is not int or not 1 <= policy.max_attempts <= 100:
        problems.append(f"retry.max_attempts: expected 1 to 100, got {policy.max_attempts!r}")
    if type(policy.jitter) not in (int, float) or not 0 <= policy.jitter <= 1:
        problems.append(f"retry.jitter: expected a number from 0 to 1, got {policy.jitter!r}")
    if problems:
        raise ConfigError(problems)


_SOONEST = timedelta(microseconds=1)


@attrs.frozen
class RetryPolicy:
    """How often a failed delivery is tried again before it goes to the dead letter.

    After the ``n``-th failed attempt the next one waits ``min(cap, base * 2**(n-1))``,
    shortened by up to ``jitter`` of itself at random (so receivers that failed together are
    not all retried in the same second). After ``max_attempts`` failures the delivery is dead.
    """

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)
    max_attempts: int = 12
    jitter: float = 0.5

    def __attrs_post_init__(self) -> None:
        _check_policy(self)

    def ceiling(self, failures: int) -> timedelta:
        """The longest wait after the ``failures``-th failed attempt (no jitter)."""
        # 2**60 seconds is far past any cap a timedelta can hold, and keeps the power small.
        exponent = min(failures - 1, 60)
        seconds = self.base.total_seconds() * 2**exponent
        return min(self.cap, timedelta(seconds=min(seconds, self.cap.total_seconds())))

    def delay(self, failures: int, random: Callable[[], float]) -> timedelta:
        """The wait after the ``failures``-th failed attempt; ``random()`` returns [0, 1)."""
        ceiling = self.ceiling(failures)
        # Full jitter can round the wait down to nothing: the next attempt is always later.
        return max(ceiling * (1 - self.jitter * random()), _SOONEST)

    def next_attempt(
        self, failures: int, at: datetime, random: Callable[[], float]
    ) -> datetime | None:
        """When to try again after the ``failures``-th failure at ``at``; None: dead letter."""
        if failures >= self.max_attempts:
            return None
        return at + self.delay(failures, random)
