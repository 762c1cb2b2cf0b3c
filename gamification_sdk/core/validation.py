"""Argument checks shared by every write. Each raises ``InvalidInput`` naming the field."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidInput

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_AMOUNT",
    "MAX_TOTAL",
    "check_amount",
    "check_at",
    "check_id",
    "check_key",
    "check_metadata",
    "check_row_id",
    "check_signed_amount",
    "check_text",
    "in_range",
    "is_zone",
]

MAX_AMOUNT = 2**53
# SQLite integers are signed 64-bit; past this an addition would silently turn into a float.
MAX_TOTAL = 2**63 - 1
MAX_METADATA_BYTES = 64 * 1024
# The times the engine accepts: local days, weeks, windows and expiries computed from them
# stay far from datetime's limits (year 1 and 9999), where they would overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_amount(value: object, field: str = "amount") -> int:
    """A positive int no larger than 2**53 (bools, floats and strings are refused)."""
    if type(value) is not int:
        if isinstance(value, float) and math.isnan(value):
            raise InvalidInput(field, "expected an int, got NaN")
        raise InvalidInput(field, f"expected an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise InvalidInput(field, f"must be positive, got {value}")
    if value > MAX_AMOUNT:
        raise InvalidInput(field, f"must be at most 2**53 ({MAX_AMOUNT}), got {value}")
    return value


def check_signed_amount(value: object, field: str = "amount") -> int:
    """A non-zero int whose magnitude is at most 2**53."""
    if type(value) is not int:
        raise InvalidInput(field, f"expected an int, got {type(value).__name__} {value!r}")
    if value == 0:
        raise InvalidInput(field, "must not be 0")
    if abs(value) > MAX_AMOUNT:
        raise InvalidInput(field, f"magnitude must be at most 2**53, got {value}")
    return value


def check_id(value: object, field: str = "user_id") -> str:
    """A non-empty str of at most 255 characters with no control characters."""
    if type(value) is not str:
        raise InvalidInput(field, f"expected a str, got {type(value).__name__}")
    if not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > 255:
        raise InvalidInput(field, f"must be at most 255 characters, got {len(value)}")
    # Printable ASCII (most ids) passes _check_plain: no call for it.
    if not (value.isascii() and value.isprintable()):
        _check_plain(value, field)
    return value


def _check_plain(value: str, field: str) -> None:
    """No control characters, and storable as UTF-8."""
    # Ids and sources are mostly ASCII, whose only unprintable characters are the control
    # ones: one C call instead of the regex search (a few thousand instructions per write).
    if value.isascii():
        if not value.isprintable():
            raise InvalidInput(field, "must not contain control characters")
        return
    if _CONTROL.search(value):
        raise InvalidInput(field, "must not contain control characters")
    _check_encodable(value, field)


def _check_encodable(value: str, field: str) -> None:
    # A lone surrogate ("\ud800") is a valid Python str but cannot be stored as UTF-8.
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "must be valid Unicode (no lone surrogates)") from None


def check_text(value: object, field: str, *, max_length: int = 255) -> str:
    """Non-blank text of at most ``max_length`` characters with no control characters."""
    if type(value) is not str:
        raise InvalidInput(field, f"expected a str, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters, got {len(value)}")
    # Printable ASCII (most sources and names) passes _check_plain: no call for it.
    if not (value.isascii() and value.isprintable()):
        _check_plain(value, field)
    return value


def check_key(value: object, field: str = "idempotency_key") -> str | None:
    """``None`` (no idempotency) or a key of 1-255 characters."""
    if value is None:
        return None
    if type(value) is not str:
        raise InvalidInput(field, f"expected a str or None, got {type(value).__name__}")
    if not value:
        raise InvalidInput(field, "must not be empty (pass None for no key)")
    if len(value) > 255:
        raise InvalidInput(field, f"must be at most 255 characters, got {len(value)}")
    if not value.isascii():
        _check_encodable(value, field)
    return value


def check_row_id(value: object, field: str) -> int:
    """A row id: an int from 1 to 2**63 - 1 (SQLite's largest integer)."""
    if type(value) is not int or not 1 <= value <= MAX_TOTAL:
        raise InvalidInput(field, f"expected an int id from 1 to 2**63 - 1, got {value!r:.50}")
    return value


def check_metadata(value: object, field: str = "metadata") -> str | None:
    """JSON-serialisable, at most 64 KiB once encoded; returns the canonical JSON text."""
    if value is None:
        return None
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, f"must be JSON-serialisable: {exc}") from None
    except RecursionError:
        raise InvalidInput(field, "is nested too deeply to serialise") from None
    if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInput(field, "must be at most 64 KiB once encoded as JSON")
    # Surrogates appear as \udxxx escapes; the usual cause is a character outside the
    # BMP (an emoji), so only then is the text encoded again to look for lone ones.
    if "\\ud" in text:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(field, "must be valid Unicode (no lone surrogates)") from None
    return text


def check_at(value: object, field: str = "at") -> datetime:
    """An aware datetime, returned in UTC."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must be timezone-aware (naive datetimes are ambiguous)")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(field, "is out of range once converted to UTC") from None
    if not EARLIEST <= moment < LATEST:
        raise InvalidInput(field, f"must lie from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC")
    return moment


def in_range(moment: datetime) -> bool:
    """Whether an aware datetime lies in the span the engine accepts."""
    try:
        return EARLIEST <= moment.astimezone(UTC) < LATEST
    except OverflowError:  # within hours of year 1 or 9999, in UTC
        return False


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def is_zone(name: object) -> bool:
    """Whether ``name`` is an IANA time zone this machine's zoneinfo (or tzdata) knows."""
    try:
        ZoneInfo(name)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True
