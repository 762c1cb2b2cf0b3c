"""Read-only tables for the frozen configuration classes.

attrs' ``frozen`` stops attribute assignment only: a ``dict`` field could still be changed
after validation (``config.levels.level_up_bonus["points"] = 10**9``). The configuration
classes keep their tables as ``MappingProxyType`` copies (and their lists as tuples), so
every write raises ``TypeError`` and the caller's own dict stays the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

__all__ = ["ReadOnlyTables", "mapping_repr", "read_only"]

K = TypeVar("K")
V = TypeVar("V")


def read_only(value: Mapping[K, V] | None) -> Mapping[K, V]:
    """A read-only copy of ``value`` (``None``: empty)."""
    return MappingProxyType(dict(value or {}))


def mapping_repr(value: Mapping[Any, Any]) -> str:
    """A table's repr as the dict it was given as, not ``mappingproxy({...})``."""
    return repr(dict(value))


def _rebuild(cls: type[Any], fields: dict[str, Any]) -> Any:
    return cls(**fields)


class ReadOnlyTables:
    """Base of an attrs class with read-only tables: pickle and ``copy.deepcopy``, which
    cannot copy a ``MappingProxyType``, rebuild it from plain dicts through ``__init__``."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        cls: Any = type(self)  # an attrs class: each subclass is one
        fields = {
            field.alias: dict(value) if isinstance(value, MappingProxyType) else value
            for field in attrs.fields(cls)
            for value in (getattr(self, field.name),)
        }
        return _rebuild, (cls, fields)
