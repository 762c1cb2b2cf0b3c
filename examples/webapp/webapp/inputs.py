"""Reading a request: the JSON body, typed fields, query integers and the idempotency key.

A bad or missing field is refused here, before the SDK is called, so nothing is written.
"""

from __future__ import annotations

from typing import Any

from flask import request

from .errors import ApiError

__all__ = ["idempotency_key", "int_arg", "invalid", "json_body", "object_field",
           "optional_text", "required_text"]  # fmt: skip


def invalid(field: str, problem: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", f"{field}: {problem}",
                    {"field": field, "problem": problem})  # fmt: skip


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise invalid("body", "expected a JSON object")
    return body


def optional_text(source: Any, field: str) -> str | None:
    """A string field of the body or the query; absent or empty is None."""
    value = source.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(field, f"expected a string, got {type(value).__name__}")
    return value


def required_text(source: Any, field: str) -> str:
    value = optional_text(source, field)
    if value is None:
        raise invalid(field, "required")
    return value


def object_field(body: dict[str, Any], field: str) -> dict[str, Any] | None:
    value = body.get(field)
    if value is not None and not isinstance(value, dict):
        raise invalid(field, "expected an object")
    return value


def int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(name, f"expected an integer, got {raw!r}") from None


def idempotency_key(body: dict[str, Any]) -> str:
    """The idempotency key: the ``Idempotency-Key`` header or the body's ``idempotencyKey``.
    Seed 002 requires one on every write."""
    header = request.headers.get("Idempotency-Key") or None
    field = body.get("idempotencyKey")
    if field is not None and not isinstance(field, str):
        raise invalid("idempotencyKey", "expected a string")
    if header and field and header != field:
        raise invalid("idempotencyKey", "the header and the body give different keys")
    key = header or field
    if not key:
        raise ApiError(400, "MISSING_IDEMPOTENCY_KEY", "Idempotency key required")
    return key
