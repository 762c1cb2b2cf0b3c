"""The checks of ``g.referrals``' arguments, run before a call opens its transaction. Each
raises ``InvalidInput`` naming the argument, or returns the value to use."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ..core.validation import check_id, check_row_id, check_text
from ..errors import InvalidInput
from .referrals import CONVERSION_KINDS, MAX_REVENUE, SETTABLE_STATUSES, UTM_KEYS

__all__ = [
    "check_code",
    "check_email",
    "check_fingerprint",
    "check_ip",
    "check_kind",
    "check_name",
    "check_referral_ref",
    "check_revenue",
    "check_settable_status",
    "check_utm",
]


def check_code(value: object) -> str:
    """A code as typed by a user: case and surrounding blanks do not matter."""
    check_text(value, "code", max_length=64)
    assert isinstance(value, str)
    return value.strip().upper()


def check_name(value: object) -> str | None:
    return None if value is None else check_text(value, "name", max_length=100)


def check_ip(value: object) -> str | None:
    """An IPv4 or IPv6 address, stored in its canonical form (IPv4-mapped IPv6 as IPv4)."""
    if value is None:
        return None
    if type(value) is not str:
        raise InvalidInput("ip", f"expected an IP address as str, got {type(value).__name__}")
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise InvalidInput("ip", f"{value[:100]!r} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def check_fingerprint(value: object) -> str | None:
    return None if value is None else check_text(value, "device_fingerprint")


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(value: object) -> str | None:
    if value is None:
        return None
    check_text(value, "email", max_length=254)
    assert isinstance(value, str)
    if not _EMAIL.match(value):
        raise InvalidInput("email", "expected an address like name@example.com")
    return value


def check_utm(value: object) -> dict[str, str] | None:
    """Attribution: ``{"source": ..., "medium": ..., "campaign": ...}`` (also term, content)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput("utm", f"expected a dict of str, got {type(value).__name__}")
    found: dict[str, str] = {}
    for key, text in value.items():
        if key not in UTM_KEYS:
            raise InvalidInput("utm", f"unknown key {key!r}; expected {', '.join(UTM_KEYS)}")
        check_text(text, "utm", max_length=100)
        found[key] = text
    return dict(sorted(found.items())) or None


def check_referral_ref(value: object) -> int | str:
    """A referral id (int), or the id of the user it brought (str)."""
    if type(value) is int:
        return check_row_id(value, "referral")
    if type(value) is str:
        return check_id(value, "referral")
    raise InvalidInput(
        "referral", f"expected a referral id (int) or the new user's id (str), got {value!r}"
    )


def check_kind(value: object) -> str:
    if value not in CONVERSION_KINDS or type(value) is not str:
        raise InvalidInput("kind", f"expected one of {', '.join(CONVERSION_KINDS)}, got {value!r}")
    return value


def check_revenue(value: object) -> float | None:
    """What the conversion brought in (informational): a finite number from 0 to 10**12."""
    if value is None:
        return None
    if type(value) not in (int, float) or not 0 <= value <= MAX_REVENUE:  # type: ignore[operator]
        raise InvalidInput("revenue", f"expected a number from 0 to 10**12, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_settable_status(value: object) -> str:
    if value not in SETTABLE_STATUSES or type(value) is not str:
        raise InvalidInput(
            "status",
            f"expected one of {', '.join(SETTABLE_STATUSES)} (referrals.convert converts), "
            f"got {value!r}",
        )
    return value
