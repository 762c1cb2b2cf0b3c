"""What the command line prints: aligned tables, key-value blocks, JSON, and error lines."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import IO, Any

import click

from .. import errors
from ..config.convert import converter

__all__ = [
    "BUSY",
    "OK",
    "PROBLEMS",
    "USAGE",
    "USER_ERROR",
    "BusyError",
    "CliError",
    "emit",
    "fmt",
    "kv",
    "table",
    "translate_errors",
]

# The exit codes, documented in ``gamification --help`` and the README.
OK = 0
USER_ERROR = 1
USAGE = 2  # click's own
BUSY = 3
PROBLEMS = 4

_SPACE = re.compile(r"\s+")


class CliError(click.ClickException):
    """A user error: one line on stderr, ``error: <message>``, and exit code 1."""

    exit_code = USER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(_SPACE.sub(" ", message).strip())

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.message}", err=True, file=file)


class BusyError(CliError):
    """The database (or the scheduler lease) is held by someone else: exit 3, retry later."""

    exit_code = BUSY


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn what users cause (bad values, missing files, a locked database) into ``CliError``.

    Anything else is a bug and keeps its traceback.
    """
    try:
        yield
    except click.ClickException as exc:
        # A command from elsewhere (``simulate``) reports user errors as plain ClickExceptions:
        # they get this group's one-line format too; usage errors and ours pass as they are.
        if type(exc) is click.ClickException:
            raise CliError(exc.message) from exc
        raise
    except errors.ConfigError as exc:
        raise CliError(_config_message(exc)) from exc
    except errors.Busy as exc:
        raise BusyError(str(exc)) from exc
    except errors.GamificationError as exc:
        raise CliError(str(exc)) from exc
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise BusyError(f"database busy: {text}; retry") from exc
        raise CliError(f"database: {text}") from exc
    except sqlite3.DatabaseError as exc:
        raise CliError(f"database: {exc}") from exc
    except BrokenPipeError:
        raise  # stdout closed early (`| head`): click exits quietly
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise CliError(f"{where}{exc.strerror or exc}") from exc


def _config_message(exc: errors.ConfigError) -> str:
    """``defs.toml: cannot read: ...`` rather than ``defs.toml: 1 problem(s): (file): ...``."""
    if len(exc.problems) != 1:
        return str(exc)
    if not exc.source:
        return exc.problems[0].removeprefix("(file): ")
    # A definition set's problems already start with its name.
    problem = exc.problems[0].removeprefix(f"{exc.source}: ").removeprefix("(file): ")
    return f"{exc.source}: {problem}"


# -- values ---------------------------------------------------------------------------------


def fmt(value: object) -> str:
    """One table cell: no ``None``, no ``150.0``, times to the second."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value) or "-"
    return str(value)


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, right: Collection[str] = ()
) -> str:
    """Aligned columns under a header and a rule; numbers (and ``right`` columns) right-aligned."""
    raw = [list(row) for row in rows]
    cells = [[fmt(value) for value in row] for row in raw]
    align = [
        header in right or (bool(raw) and all(_numeric(row[i]) or row[i] is None for row in raw))
        for i, header in enumerate(headers)
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if flush else value.ljust(width)
            for value, width, flush in zip(values, widths, align, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * width for width in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def kv(pairs: Iterable[tuple[str, object]]) -> str:
    """``name  value`` lines with the names aligned."""
    items = [(name, fmt(value)) for name, value in pairs]
    width = max((len(name) for name, _ in items), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}".rstrip() for name, value in items)


def to_jsonable(value: object) -> Any:
    """attrs objects, datetimes and tuples as plain JSON values."""
    return converter.unstructure(value)


def dumps(value: object) -> str:
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False, default=str)


def emit(as_json: bool, value: object, human: Callable[[], str | None]) -> None:
    """Print ``value`` as one JSON document, or ``human()``'s text."""
    if as_json:
        click.echo(dumps(value))
        return
    text = human()
    if text:
        click.echo(text)
