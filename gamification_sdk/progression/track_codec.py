"""How a keyed ``track()`` stores its result with its key, and rebuilds it on a replay.

The stored text is one JSON list: the XP award and ledger transactions as references
(rebuilt from their rows), unlocks, progress statuses and quest completions as plain lists.
A generic cattrs round trip cost about as much as the rest of a keyed track() together.

``encode`` writes that list's text itself rather than through ``json``: the same text
``json`` would give (tests/test_track_codec.py holds it to that), so every result stored
before decodes as it did, with no second format to tell apart. A progress status's
definition fields (key, name, ...) are encoded once per definition, and a status shared by
calls (an untouched achievement's, ``Entry.untouched``) once in all.
"""

from __future__ import annotations

import json
import math
import operator
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any

import attrs

from ..config.convert import converter
from ..models import AchievementStatus, QuestCompletion, TrackResult, Transaction, Unlock, XPAward
from ..runtime.idempotency import Codec

__all__ = ["paid_points", "track_codec"]

_UNLOCK_FIELDS = tuple(f.name for f in attrs.fields(Unlock))
_STATUS_FIELDS = tuple(f.name for f in attrs.fields(AchievementStatus))
# The status fields a definition gives (catalogue.Entry.shown), before what the user's state
# gives: their encoding is the same every call for one definition.
_SHOWN = 7
# One encoder for every call: json.dumps with arguments builds a new one each time.
_compact = json.JSONEncoder(separators=(",", ":")).encode
# How json writes a str (ensure_ascii, its default): the C function it calls itself.
_text = encode_basestring_ascii
_HEADS = 4096  # encoded definition fields kept: a bound, as definitions may change over time
_ROWS = 4096  # encoded statuses kept (by identity): a bound, as most are used once


def _number(value: Any) -> str:
    """``value`` as json writes it: an int or a finite float by its repr (json's own rule),
    anything else (a bool, NaN) by json itself."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    return _compact(value)


def track_codec(xp: Codec[XPAward], ledger: Codec[Transaction]) -> Codec[TrackResult]:
    """The ``Codec`` of ``track()``'s results (see the module's docstring)."""

    unlock_fields = operator.attrgetter(*_UNLOCK_FIELDS)
    shown = operator.attrgetter(*_STATUS_FIELDS[:_SHOWN])
    unlock_at = _UNLOCK_FIELDS.index("unlocked_at")
    heads: dict[tuple[Any, ...], str] = {}
    rows: dict[int, tuple[AchievementStatus, str]] = {}

    def unlock_row(unlock: Unlock) -> list[Any]:
        found = list(unlock_fields(unlock))
        moment = found[unlock_at]
        if moment is not None:
            found[unlock_at] = moment.isoformat()
        return found

    def status_row(s: AchievementStatus) -> str:
        # A status shared by calls (Entry.untouched) is encoded once: by its identity, the
        # object kept with its text so that its id cannot name another while cached.
        known = rows.get(id(s))
        if known is not None and known[0] is s:
            return known[1]
        text = status_text(s)
        if len(rows) >= _ROWS:
            rows.clear()
        rows[id(s)] = (s, text)
        return text

    def status_text(s: AchievementStatus) -> str:
        static = shown(s)
        head = heads.get(static)
        if head is None:
            if len(heads) >= _HEADS:
                heads.clear()
            head = heads[static] = _compact(list(static))[:-1]  # "[key,...,hidden" open
        at, tiers, next_tier = s.unlocked_at, s.tiers_unlocked, s.next_tier
        current, target, times = s.current, s.target, s.times_unlocked
        return (  # an int's str is json's text of it: no call for the usual ints
            f"{head},{current if type(current) is int else _number(current)},"
            f"{target if type(target) is int else _number(target)},{_number(s.percent)},"
            f"{'true' if s.unlocked else 'false'},"
            f"{'null' if at is None else _text(at.isoformat())},"
            f"{times if type(times) is int else _number(times)},"
            f"{_compact(list(tiers)) if tiers else '[]'},"
            f"{'null' if next_tier is None else _text(next_tier)},"
            f"{'true' if s.retired else 'false'}]"
        )

    def encode(result: TrackResult) -> str:
        award, points, unlocked = result.xp, result.points, result.unlocked
        key, quests, value = result.idempotency_key, result.quests, result.value
        return (
            f"[{_text(result.user_id)},{_text(result.event)},"
            f"{value if type(value) is int else _number(value)},"  # an int: its str is json's
            f"{_text(result.at.isoformat())},"
            f"{'null' if award is None else _text(xp.encode(award))},"
            f"{_compact([ledger.encode(t) for t in points]) if points else '[]'},"
            f"{_compact([unlock_row(u) for u in unlocked]) if unlocked else '[]'},"
            f"[{','.join([status_row(s) for s in result.progress])}],"
            f"{'true' if result.rewarded else 'false'},"
            f"{'null' if key is None else _text(key)},"
            f"{_compact([converter.unstructure(q) for q in quests]) if quests else '[]'}]"
        )

    def decode(text: str) -> TrackResult:
        user, event, value, at, award, points, unlocks, progress, rewarded, key, quests = (
            json.loads(text)
        )
        return TrackResult(
            user_id=user, event=event, value=value, at=datetime.fromisoformat(at),
            xp=None if award is None else xp.decode(award),
            points=tuple(ledger.decode(t) for t in points),
            unlocked=tuple(_unlock(row) for row in unlocks),
            progress=tuple(_status(row) for row in progress),
            rewarded=rewarded, idempotency_key=key,
            quests=tuple(converter.structure(q, QuestCompletion) for q in quests),
        )  # fmt: skip

    return Codec(encode, decode)


def paid_points(text: str) -> bool:
    """Whether a keyed track()'s stored result (``track_codec``) paid points: its postings
    hold ``track:<user>:<key>:<currency>`` in the ledger's unique key column, so its key is
    kept with them when old keys expire (``Idempotency.kept_with_rows``)."""
    return bool(json.loads(text)[5])


def _unlock(row: list[Any]) -> Unlock:
    fields = dict(zip(_UNLOCK_FIELDS, row, strict=True))
    fields["unlocked_at"] = datetime.fromisoformat(fields["unlocked_at"])
    return Unlock(**fields)


def _status(row: list[Any]) -> AchievementStatus:
    fields = dict(zip(_STATUS_FIELDS, row, strict=True))
    if fields["unlocked_at"] is not None:
        fields["unlocked_at"] = datetime.fromisoformat(fields["unlocked_at"])
    fields["tiers_unlocked"] = tuple(fields["tiers_unlocked"])
    return AchievementStatus(**fields)
