"""Strict cattrs loading: "5" is not 5, 5.7 is not 5, and every bad path is reported at once."""

from __future__ import annotations

import json
import math
import tomllib
import typing
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ForbiddenExtraKeysError

from ..core.validation import EARLIEST, LATEST, in_range
from ..errors import ConfigError

__all__ = ["converter", "load_mapping", "structure"]

T = TypeVar("T")


class _Expected(TypeError):
    pass


def _type_name(value: object) -> str:
    return type(value).__name__


def _strict_int(value: object, _: type) -> int:
    if type(value) is not int:
        raise _Expected(f"expected int, got {_type_name(value)} {value!r}")
    return value


def _strict_float(value: object, _: type) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
        raise _Expected(f"expected a finite number, got {_type_name(value)} {value!r}")
    return float(value)  # type: ignore[arg-type]


def _strict_str(value: object, _: type) -> str:
    if type(value) is not str:
        raise _Expected(f"expected str, got {_type_name(value)} {value!r}")
    return value


def _strict_bool(value: object, _: type) -> bool:
    if type(value) is not bool:
        raise _Expected(f"expected bool, got {_type_name(value)} {value!r}")
    return value


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unencodable(data: object, root: str, depth: int = 64) -> list[str]:
    """Every path (up to ``depth`` deep) holding a key or text a lone surrogate spoils."""
    problems: list[str] = []
    stack: list[tuple[str, object, int]] = [(root, data, 0)]
    while stack:
        path, value, level = stack.pop()
        where = path or "(top level)"
        if isinstance(value, str):
            if not _encodable(value):
                problems.append(f"{where}: must be valid Unicode (no lone surrogates)")
        elif level < depth and isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and not _encodable(key):
                    problems.append(f"{where}: key {key!r}: must be valid Unicode")
                    continue
                stack.append((f"{path}.{key}" if path else str(key), item, level + 1))
        elif level < depth and isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", item, level + 1) for i, item in enumerate(value))
    return sorted(problems)


def _datetime(value: object, _: type) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Expected(f"expected an ISO-8601 datetime, got {value!r}") from None
    else:
        raise _Expected(f"expected an ISO-8601 datetime, got {_type_name(value)}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _Expected(f"expected a datetime with a time zone, got {value!r}")
    if not in_range(moment):
        raise _Expected(
            f"expected a datetime from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC, got {value!r}"
        )
    return moment


def _date(value: object, _: type) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Expected(f"expected an ISO-8601 date (YYYY-MM-DD), got {value!r}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(datetime, _datetime)
    conv.register_unstructure_hook(datetime, lambda moment: moment.isoformat())
    conv.register_structure_hook(date, _date)
    conv.register_unstructure_hook(date, lambda day: day.isoformat())
    return conv


converter = _make_converter()


def _describe(exc: BaseException, type_: Any) -> str:
    if typing.get_origin(type_) is typing.Literal:
        options = ", ".join(str(option) for option in typing.get_args(type_))
        return f"expected one of {options}"
    if isinstance(exc, _Expected):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown field(s): {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ValueError | TypeError) and str(exc):
        return str(exc)
    name = getattr(type_, "__name__", None) or str(type_).replace("typing.", "")
    return f"expected {name}"


def _semantic_problems(exc: BaseException) -> list[str] | None:
    """Problems a class's own validation raised (they already carry full paths)."""
    if isinstance(exc, ConfigError):
        return exc.problems
    found: list[str] = []
    for inner in getattr(exc, "exceptions", ()):
        problems = _semantic_problems(inner)
        if problems is None:
            return None
        found.extend(problems)
    return found or None


def structure(data: object, cls: type[T], *, source: str | None = None, root: str = "") -> T:
    """Load ``data`` into ``cls``; raise ``ConfigError`` naming every bad path."""
    spoilt = _unencodable(data, root)
    if spoilt:
        raise ConfigError(spoilt, source)
    try:
        return converter.structure(data, cls)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source) from None
    except (cattrs.BaseValidationError, _Expected) as exc:
        semantic = _semantic_problems(exc)
        if semantic is not None:
            raise ConfigError(semantic, source) from None
        problems = []
        for line in cattrs.transform_error(exc, path=root, format_exception=_describe):
            message, _, path = line.rpartition(" @ ")
            problems.append(f"{path.lstrip('.') or '(top level)'}: {message}")
        raise ConfigError(problems, source) from None


def load_mapping(path: str | Path) -> Mapping[str, Any]:
    """Read a TOML or JSON file (chosen by suffix) into a dict."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError([f"(file): cannot read: {exc.strerror}"], str(file)) from None
    except ValueError as exc:  # a NUL in the path
        raise ConfigError([f"(file): cannot read: {exc}"], repr(str(file))) from None
    try:
        if file.suffix.lower() == ".toml":
            data: object = tomllib.loads(raw.decode("utf-8"))
        elif file.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            raise ConfigError(["(file): expected a .toml or .json file"], str(file))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"(file): not valid {file.suffix[1:]}: {exc}"], str(file)) from None
    except RecursionError:
        raise ConfigError(["(file): nested too deeply"], str(file)) from None
    if not isinstance(data, dict):
        raise ConfigError(["(top level): expected a table/object"], str(file))
    return data
