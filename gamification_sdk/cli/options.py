"""Options several commands share, and turning their text into the engine's values.

A value click cannot even parse (``--limit abc``) is click's usage error (exit 2); a value the
engine refuses (``--at`` with no zone, bad JSON, amount 0) is a user error (exit 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from ..errors import InvalidInput

__all__ = ["at_option", "key_option", "parse_at", "parse_json"]

F = TypeVar("F", bound=Callable[..., Any])
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}  # fmt: skip


def key_option(function: F) -> F:
    return click.option(
        "--key",
        metavar="KEY",
        help="Idempotency key: a retry with the same key and arguments does nothing twice.",
    )(function)


AT_HELP = "When it happened (ISO-8601 with a zone, e.g. 2026-03-02T12:00:00Z); default: now."


def at_option(help: str = AT_HELP) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        return click.option("--at", "at", metavar="TIME", help=help)(function)

    return decorate


def parse_at(value: str | None, field: str = "--at") -> datetime | None:
    """An aware datetime from ISO-8601 text (``2026-03-02T12:00:00Z``, ``...+01:00``)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            field, f"expected an ISO-8601 time such as 2026-03-02T12:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(field, f"{value!r} has no time zone; add Z or an offset like +01:00")
    return moment


def parse_json(text: str | None, field: str, *, want_object: bool = False) -> Any:
    """JSON text as a value; an object only with ``want_object``."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            field, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if want_object and not isinstance(value, dict):
        kind = _JSON_TYPES.get(type(value), type(value).__name__)
        raise InvalidInput(field, f"expected a JSON object, got {kind} {text.strip()[:40]}")
    return value
