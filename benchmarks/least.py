"""The least Python a keyed call needs, for the "least Python" rows (ceiling.py).

The ceiling rows replay a call's statements with no Python at all, which no Python library
can do. These functions are what any engine in Python must still run per call with the same
SQL, built from the engine's own pieces: its argument checks, one reading of the clock as
stored text, the key's fingerprint, and the result object the call returns. Not counted: the
statements' parameter tuples, the write lock, plugin hooks, and the choices the engine
makes between its cases. So the least-Python rows bound from above what a Python engine of
this design can reach: a target above them is out of reach of Python with this SQL, one
below them is the engine's own layering to cut.

Each factory takes the engine the statements were recorded from (still open) and returns
``least(user, key)``, run once per replayed call with that call's user and key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime

from gamification_sdk import Gamification
from gamification_sdk.core.checks import call_key, optional_text
from gamification_sdk.core.clock import to_text
from gamification_sdk.core.validation import (
    check_amount,
    check_id,
    check_key,
    check_metadata,
    check_text,
)
from gamification_sdk.economy.postings import CREDIT_TYPES, SPEND_TYPES, check_reference
from gamification_sdk.models import AchievementStatus, TrackResult, XPAward
from gamification_sdk.models.ledger import Transaction
from gamification_sdk.runtime.idempotency import fingerprint

Least = Callable[[str, str], object]


def award_xp(g: Gamification) -> Least:
    """``g.award_xp(user, 1, source="bench", idempotency_key=key)``: its checks, clock,
    fingerprint, level and ``XPAward``."""
    table = g.xp.level_table

    def least(user: str, key: str) -> object:
        check_id(user)
        check_amount(1)
        check_text("bench", "source", max_length=100)
        checked = check_key(key)
        meta = check_metadata(None)
        moment = datetime.now(UTC)
        to_text(moment)
        fingerprint(user, 1, "bench", meta, None)
        level = table.level_for(2)
        return XPAward(
            id=2, user_id=user, base_amount=1, multiplier=1.0, amount=1, total_xp=2,
            old_level=level, new_level=level, leveled_up=False, rewards=(), source="bench",
            created_at=moment, idempotency_key=checked,
        )  # fmt: skip

    return least


def _points(g: Gamification, transaction_type: str, sign: int) -> Least:
    currencies = {c.name: c for c in g.config.currencies}
    allowed = CREDIT_TYPES if sign > 0 else SPEND_TYPES

    def least(user: str, key: str) -> object:
        check_id(user)
        check_amount(1)
        currency = currencies["points"]
        check_text("bench", "source", max_length=100)
        if transaction_type not in allowed:
            raise ValueError(transaction_type)
        checked = check_key(key)
        ref = check_reference(None)
        text = optional_text(None, "description")
        meta = check_metadata(None)
        moment = datetime.now(UTC)
        to_text(moment)
        fingerprint(user, 1, currency.name, "bench", ref, text, meta, None, transaction_type)
        call_key(checked)
        return Transaction(
            id=1, type=transaction_type, user_id=user, currency=currency.name, amount=sign,
            balance_before=100, balance_after=100 + sign, source="bench", created_at=moment,
            idempotency_key=checked,
        )  # fmt: skip

    return least


def award_points(g: Gamification) -> Least:
    """``g.award_points(user, 1, ...)``: its checks, clock, fingerprint and ``Transaction``."""
    return _points(g, "earned", 1)


def spend_points(g: Gamification) -> Least:
    """``g.spend_points(user, 1, ...)``: its checks, clock, fingerprint and ``Transaction``."""
    return _points(g, "spent", -1)


def track(g: Gamification) -> Least:
    """``g.track(user, "post", idempotency_key=key)`` with achievements watching ``post``
    and a rule paying XP: its checks, clock and fingerprint, one pass over the watching
    achievements' targets (unlocks, then the next badge), the ``XPAward``, the next badge's
    ``AchievementStatus`` and the ``TrackResult``, and the stored result of its key."""
    watching = sorted(
        (status.target, status.key, status.name)
        for status in g.achievements.list("least-python-probe")
    )
    table = g.xp.level_table

    def least(user: str, key: str) -> object:
        check_id(user)
        check_text("post", "event", max_length=100)
        value = 1.0
        if not math.isfinite(value):
            raise ValueError(value)
        checked = check_key(key)
        meta = check_metadata(None)
        moment = datetime.now(UTC)
        to_text(moment)
        fingerprint(user, "post", value, meta, None)
        count = 2
        unlocked = [target for target, _, _ in watching if count >= target]
        upcoming = next(entry for entry in watching if entry[0] > count)
        level = table.level_for(20)
        award = XPAward(
            id=2, user_id=user, base_amount=10, multiplier=1.0, amount=10, total_xp=20,
            old_level=level, new_level=level, leveled_up=False, rewards=(), source="post",
            created_at=moment, idempotency_key=None,
        )  # fmt: skip
        status = AchievementStatus(
            key=upcoming[1], name=upcoming[2], description="", icon="", category="general",
            rarity="common", hidden=False, current=count, target=upcoming[0], percent=0.0,
            unlocked=bool(unlocked), unlocked_at=None, times_unlocked=0, tiers_unlocked=(),
            next_tier=None, retired=False,
        )  # fmt: skip
        result = TrackResult(
            user_id=user, event="post", value=value, at=moment, xp=award, points=(),
            unlocked=(), progress=(status,), rewarded=True, idempotency_key=checked,
        )  # fmt: skip
        json.dumps([user, award.id, status.key, status.current], separators=(",", ":"))
        return result

    return least
