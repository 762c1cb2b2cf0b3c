"""The meter of the port to PostgreSQL: every statement of ``gamification_sdk/storage/*.py``
(each constant, and each shape the template functions build), as the PostgreSQL backend
sends it (``storage/postgres/statements.py``'s ``OVERRIDES`` applied), is prepared on a
migrated schema. The statements that fail must be exactly ``NOT_YET``: a new statement that
does not port fails here, and so does a fixed one still listed (remove it).

Statements that cannot be prepared (``CREATE``, ``DROP``, ``PRAGMA``) are run instead, inside
a transaction that is rolled back.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterable, Iterator
from itertools import permutations, product
from typing import Any

import pytest

pytest.importorskip("psycopg")

import gamification_sdk.storage as storage_package
from gamification_sdk.ops.privacy import USER_TABLES
from gamification_sdk.storage import (
    board_slots,
    boards,
    groups,
    idempotency,
    leaderboards,
    ledger,
    metrics,
    privacy,
    quests,
    xp,
)
from gamification_sdk.storage.postgres import open_backend
from gamification_sdk.storage.postgres.placeholders import translate
from gamification_sdk.storage.postgres.statements import (
    OVERRIDES,
    PERIODS_PER_AWARD,
    RUN_METRICS,
    STALE,
)

_TRIGGERS = (
    "the change log's TEMP triggers are per connection on SQLite; PostgreSQL has no "
    "temporary triggers. Design: the log on PostgreSQL is written by the statements "
    "themselves or by permanent triggers (p004 gave lb_log the commit order)"
)

NOT_YET: dict[str, str] = {
    "boards.CACHE_SIZE": "SQLite's page cache of the connection; the caller "
    "(social/boards.py) has to skip it on PostgreSQL, whose cache is the server's",
    "boards.cache_size_sql(-2000)": "as boards.CACHE_SIZE",
    "privacy.DEFER_FOREIGN_KEYS": "SQLite checks keys at commit with it; PostgreSQL "
    "defers only keys declared DEFERRABLE, which the PostgreSQL schema's are not. The "
    "erasure there does not run it: it deletes children before the rows they point at",
    **{f"boards.temp_triggers()[{name}]": _TRIGGERS for name in boards.temp_triggers()},
    **{
        f"boards.drop_temp_trigger({name!r}, if_exists={flag})": _TRIGGERS
        for name in boards.temp_triggers()
        for flag in (False, True)
    },
    **{
        f"board_slots.slot_triggers()[{name}]": _TRIGGERS
        for name in board_slots.slot_triggers(("public", 1))
    },
}
"""Statement name -> why it does not run on PostgreSQL yet. It can only shrink."""

# The SQLite store itself (transactions, PRAGMAs, WAL checkpoints): PostgreSQL has its own.
_BACKEND_MODULES = {"backend", "store", "checkpoints"}
_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|CREATE|DROP|PRAGMA)\b", re.I)
_FIELD = re.compile(r"\{\w*\}")

# Constants that are templates or pieces of statements: checked as the functions build them.
TEMPLATES = {
    "boards._UPSERT": "upsert_sql",
    "boards._BACKFILL": "backfill_query",
    "groups._PEOPLE": "people_sql",
    "ledger._NEW_ENTRIES": "new_entries",
    "ledger._HISTORY": "history",
    "metrics._COUNT": "COUNT_METRIC, COUNT_METRIC_IN_HOUR",
    "metrics._TODAY": "COUNT_TODAY_AND_METRIC, COUNT_TODAY_AND_METRIC_IN_HOUR",
    "metrics._BEST_ROLLING": "rolling_sql",
    "metrics._BEST_PERIOD": "period_sql",
    "metrics._LONGEST_RUN": "longest_run_sql",
    "notifications._LIST": "RECENT, RECENT_UNREAD",
}


def _backfill() -> Iterator[tuple[str, str]]:
    for timed, source, aggregate in product(
        (False, True), ("xp", "points", "achievements", "achievement_points", "metric"),
        ("count", "sum"),
    ):  # fmt: skip
        found = boards.backfill_query(source, aggregate, timed=timed)
        if found is not None:
            yield f"({source!r}, {aggregate!r}, timed={timed})", found[0]


def _lookups() -> Iterator[tuple[str, str]]:
    homes = {"xp": xp.KEY_HOME, "ledger": ledger.KEY_HOME}
    for size in range(len(homes) + 1):
        for chosen in permutations(homes, size):
            yield f"({', '.join(chosen)})", idempotency.lookup(tuple(homes[h] for h in chosen))


def _rows() -> Iterator[tuple[str, str]]:
    for table, columns in USER_TABLES.items():
        if columns:
            yield f"rows_sql({table!r})", privacy.rows_sql(table, columns)
            yield f"delete_rows_sql({table!r})", privacy.delete_rows_sql(table, columns)


_SLOT_RANGE = range(board_slots.SLOTS + 1)
_PRIVACY_COLUMNS = ("visibility", "show_on_global", "display_name_type", "real_name", "username")

# Every function of a storage module that builds statements -> the shapes its callers build.
BUILDERS: dict[str, Callable[[], Iterable[tuple[str, str]]]] = {
    "boards.upsert_sql": lambda: (
        (f"({n})", boards.upsert_sql(n)) for n in range(1, PERIODS_PER_AWARD + 1)
    ),
    "boards.temp_triggers": lambda: ((f"()[{k}]", v) for k, v in boards.temp_triggers().items()),
    "boards.drop_temp_trigger": lambda: (
        (f"({k!r}, if_exists={flag})", boards.drop_temp_trigger(k, if_exists=flag))
        for k in boards.temp_triggers()
        for flag in (False, True)
    ),
    "boards.cache_size_sql": lambda: [("(-2000)", boards.cache_size_sql(-2000))],
    "boards.backfill_query": _backfill,
    "board_slots.slot_sql": lambda: (
        (f"({present}, {profile})", board_slots.slot_sql(list(enumerate(present)), profile))
        for present in product((False, True), repeat=len(_SLOT_RANGE))
        for profile in (False, True)
        if profile or any(present)  # else nothing to set: never built
    ),
    "board_slots.write_sql": lambda: (
        (f"({modes}, {profile})", board_slots.write_sql(modes, profile=profile))
        for modes in product((0, 1, 2), repeat=len(_SLOT_RANGE))
        for profile in (False, True)
        if profile or any(modes)
    ),
    "board_slots.slot_triggers": lambda: (
        (f"()[{k}]", v) for k, v in board_slots.slot_triggers(("public", 1)).items()
    ),
    **{
        f"board_slots.{name}": (
            lambda name=name: ((f"({s})", getattr(board_slots, name)(s)) for s in _SLOT_RANGE)
        )
        for name in (
            "slot_row_sql",
            "slot_listed_sql",
            "clear_slot_sql",
            "fill_slot_sql",
            "move_in_sql",
            "moved_in_sql",
            "move_out_sql",
        )
    },
    "board_slots.held_sql": lambda: ((f"({n})", board_slots.held_sql(n)) for n in (1, 2, 500)),
    "groups.people_sql": lambda: ((f"({n})", groups.people_sql(n)) for n in (1, 2, 500)),
    "groups.set_privacy_sql": lambda: [
        *((f"({c})", groups.set_privacy_sql([c])) for c in _PRIVACY_COLUMNS),
        ("(all)", groups.set_privacy_sql(_PRIVACY_COLUMNS)),
    ],
    "idempotency.lookup": _lookups,
    "leaderboards.scores_sql": lambda: (
        (f"({closed}, {n})", leaderboards.scores_sql(closed, n))
        for closed in (False, True)
        for n in range(1, leaderboards.SCORES_CHUNK + 1)
    ),
    "ledger.new_entries": lambda: ((f"({n})", ledger.new_entries(n)) for n in (1, 2, 3, 4)),
    "ledger.history": lambda: (
        (f"({n})", ledger._HISTORY.format(accounts=",".join("?" * n))) for n in (1, 2, 5)
    ),
    "metrics.rolling_sql": lambda: ((f"({s})", metrics.rolling_sql(s)) for s in metrics.STATS),
    "metrics.period_sql": lambda: (
        (f"({s}, {p})", metrics.period_sql(s, p)) for s in metrics.STATS for p in metrics.PERIODS
    ),
    "metrics.longest_run_sql": lambda: (
        (f"({n})", metrics.longest_run_sql(n)) for n in range(1, RUN_METRICS + 1)
    ),
    "metrics.metric_from_hours": lambda: (
        (f"({len(h)} hours)", metrics.metric_from_hours(h)) for h in ((), (7,), tuple(range(24)))
    ),
    "privacy.rows_sql": _rows,
    "privacy.delete_rows_sql": lambda: (),  # with rows_sql
    "quests.progress_sql": lambda: ((f"({n})", quests.progress_sql(n)) for n in (1, 2, 9)),
}

# Functions that build no statement of their own: they run the constants and builders above.
RUNNERS = {
    "audit.findings", "ledger.totals", "ledger.account_ids", "ledger.history",
    "metrics.best_window", "metrics.longest_run", "quests.progress_of",
    "board_slots.listed_sql",  # a piece of the slot statements, built with them
}  # fmt: skip


def _modules() -> Iterator[tuple[str, Any]]:
    for info in pkgutil.iter_modules(storage_package.__path__):
        if not info.ispkg and info.name not in _BACKEND_MODULES:
            yield info.name, importlib.import_module(f"gamification_sdk.storage.{info.name}")


def _function(value: object) -> bool:
    return callable(value) and inspect.isfunction(inspect.unwrap(value))  # @cache too


def _constants(name: str, value: object) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if _SQL.match(value):
            yield name, value
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _constants(f"{name}[{index}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _constants(f"{name}[{key}]", item)


def _statements() -> dict[str, str]:
    found: dict[str, str] = {}
    for module_name, module in _modules():
        for name, value in vars(module).items():
            if inspect.ismodule(value) or _function(value):
                continue
            for label, sql in _constants(f"{module_name}.{name}", value):
                if _FIELD.search(sql) or label in TEMPLATES:
                    continue
                found[label] = sql
    for builder, shapes in BUILDERS.items():
        for label, sql in shapes():
            found[f"{builder}{label}"] = sql
    return found


def test_every_template_and_builder_is_checked() -> None:
    """A new template constant or a new function that builds SQL must be listed above."""
    templates, functions = set(), set()
    for module_name, module in _modules():
        for name, value in vars(module).items():
            if _function(value) and value.__module__ == module.__name__:
                if not name.startswith("_"):
                    functions.add(f"{module_name}.{name}")
            elif not inspect.ismodule(value):
                for label, sql in _constants(f"{module_name}.{name}", value):
                    if _FIELD.search(sql):
                        templates.add(label.split("[")[0])
    assert templates <= set(TEMPLATES)
    assert functions == set(BUILDERS) | RUNNERS


def test_no_override_lost_its_fragment() -> None:
    assert STALE == []


def _prepared(sql: str) -> str:
    """``sql`` as PREPARE takes it: the backend's text, with $1, $2, ... for placeholders."""
    named = bool(re.search(r"(?<![:\w]):[a-z_]", sql)) and "?" not in sql
    text = translate(OVERRIDES.get(sql, sql), named).sql
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        key = match.group(1) or str(len(numbers))
        numbers.setdefault(key, len(numbers) + 1)
        return f"${numbers[key]}"

    return re.sub(r"%\((\w+)\)s|%s", number, text).replace("%%", "%")


def _failures(url: str, schema: str, statements: dict[str, str]) -> dict[str, str]:
    import psycopg

    open_backend(url, schema=schema).close()
    failed: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        conn.execute(f"SET search_path TO {schema}")
        # The ledger audit's checks read its temporary table (created here, so checked too).
        conn.execute(_prepared(statements.pop("audit.PER_TRANSACTION")))
        for label, sql in statements.items():
            text = _prepared(sql)
            runs = not re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", text, re.I)
            conn.execute("SAVEPOINT s")
            try:
                conn.execute(text if runs else f"PREPARE p AS {text}")
                if not runs:
                    conn.execute("DEALLOCATE p")  # a session's, not undone by a rollback
            except psycopg.Error as exc:
                failed[label] = str(exc).splitlines()[0]
            # Undone either way: a DROP or a PREPARE must not change what the next one sees.
            conn.execute("ROLLBACK TO SAVEPOINT s")
        conn.rollback()
    return failed


def test_every_statement_prepares_on_postgresql(postgres_url: str, pg_schema: str) -> None:
    statements = _statements()
    failed = _failures(postgres_url, pg_schema, statements)
    unexpected = {label: failed[label] for label in sorted(set(failed) - set(NOT_YET))}
    fixed = sorted(set(NOT_YET) - set(failed))
    assert not unexpected, f"{len(unexpected)} statements fail on PostgreSQL: {unexpected}"
    assert not fixed, f"these run on PostgreSQL now; remove them from NOT_YET: {fixed}"
    assert len(statements) - len(failed) > 1000
