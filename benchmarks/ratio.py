#!/usr/bin/env python3
"""Engine throughput as ratios to a raw sqlite3 baseline measured in the same run.

Every number is committed transactions per second with one call per transaction (except
the batch row), on file databases in WAL mode with ``synchronous=NORMAL``, the engine's
default. The raw baseline is the minimal equivalent work: ``BEGIN IMMEDIATE``; one UPDATE
of a profile row (1,000 users, WITHOUT ROWID text primary key); one INSERT of a log row
with a UNIQUE key column; ``COMMIT``.

Cases run in alternating rounds (engine and baseline interleaved, the order reversed every
other round) so machine noise hits both; each row reports the median of its rounds. Some
engine rows have a ceiling row in the same rounds: the engine's own statements for the same
calls, recorded in setup and replayed by raw sqlite3 with no Python (``ceiling.py``).

    python benchmarks/ratio.py            # full run, a few minutes
    python benchmarks/ratio.py --quick    # short run, under a minute

The table is printed and written as Markdown to ``benchmarks/results/ratio-latest.md``.
Nothing here asserts speed: a MISS is information, not a failure (the exit code is 0).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import attrs

from gamification_sdk import Config, FakeClock, Gamification, LeaderboardsConfig, RateLimit

# ceiling.py, least.py and replay.py lie beside this script; benchmarks/ is put on the path
# only while they are imported: left there, its conftest would shadow tests/conftest for
# later tests.
_HERE = str(Path(__file__).resolve().parent)
_ADDED = _HERE not in sys.path
if _ADDED:
    sys.path.insert(0, _HERE)
try:
    import least
    from ceiling import Ceiling, LeastFactory
finally:
    if _ADDED:
        sys.path.remove(_HERE)

try:
    from gamification_sdk.storage.checkpoints import SAFETY_NET_PAGES, Checkpointer
except ImportError:  # a package from before storage/ (compare.py --harness after runs us on it)
    from gamification_sdk.checkpoints import (  # type: ignore[no-redef]
        SAFETY_NET_PAGES,
        Checkpointer,
    )

USERS = 1_000
CURRENCY = "points"
FUNDS = 10**12
RESULTS = Path(__file__).resolve().parent / "results" / "ratio-latest.md"
HEADER = ("name", "ops/s", "baseline ops/s", "ratio", "target", "result")

Log = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """How much work a run does. ``n``: engine calls per round; ``raw_n``: baseline ones."""

    mode: str
    n: int
    raw_n: int
    rounds: int
    batch: int
    fill: int
    chunk: int
    verify_budget: float = 120.0
    reevaluate_users: int = 100_000


FULL = Settings(
    "full",
    n=3_000,
    raw_n=8_000,
    rounds=11,
    batch=10_000,
    fill=1_000_000,
    chunk=50_000,
    verify_budget=120.0,
)
QUICK = Settings(
    "quick",
    n=1_000,
    raw_n=3_000,
    rounds=5,
    batch=5_000,
    fill=100_000,
    chunk=50_000,
    verify_budget=15.0,
    reevaluate_users=10_000,
)


# Units where less is better: a ratio to the baseline is then baseline / value, so that in
# every row a ratio of 1 means "as fast as the limit" and less means slower.
LOWER_IS_BETTER = frozenset({"s", "ms", "MB", "x"})
SUFFIX = {"s": " s", "ms": " ms", "MB": " MB", "x": "x"}


def number(value: float) -> str:
    """Three significant figures below 10 (0.00123, 1.23), grouped digits from 10 up."""
    if value >= 10:
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


@dataclass(frozen=True)
class Row:
    """One line of the table. ``value`` is per second (unit "ops/s"), seconds ("s"),
    milliseconds ("ms"), megabytes ("MB") or a time ratio ("x")."""

    name: str
    value: float
    baseline: float | None = None
    target_ratio: float | None = None
    target_abs: float | None = None
    unit: str = "ops/s"
    stopped: bool = False  # a wall time that hit its budget: the value is a lower bound
    limit: float | None = None  # PASS when the value is at most this (in the row's unit)

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.value:
            return None
        if self.unit in LOWER_IS_BETTER:
            return self.baseline / self.value
        return self.value / self.baseline

    @property
    def target(self) -> str:
        if self.target_ratio is not None:
            return f">= {self.target_ratio:g}"
        if self.target_abs is not None:
            return f">= {self.target_abs:,.0f}/s"
        if self.limit is not None:
            return f"<= {self.limit:g}{SUFFIX.get(self.unit, '')}"
        return "-"

    @property
    def status(self) -> str:
        if self.target_ratio is not None:
            ratio = self.ratio
            return "PASS" if ratio is not None and ratio >= self.target_ratio else "MISS"
        if self.target_abs is not None:
            return "PASS" if self.value >= self.target_abs else "MISS"
        if self.limit is not None:
            return "PASS" if self.value <= self.limit and not self.stopped else "MISS"
        return "info"

    def shown(self, value: float) -> str:
        if self.unit == "x":
            return f"{value:.2f}x"
        if self.unit == "s":
            if self.stopped:
                return f"> {value:,.0f} s (stopped)"
            return f"{value:,.2f} s" if value >= 1 else f"{number(value)} s"
        if self.unit == "MB":
            return f"{value:,.1f} MB"  # one decimal: a value beside a limit must not round onto it
        if self.unit in SUFFIX:
            return f"{number(value)}{SUFFIX[self.unit]}"
        return f"{value:,.0f}"

    def cells(self) -> tuple[str, str, str, str, str, str]:
        baseline = "-" if self.baseline is None else self.shown(self.baseline)
        ratio = (
            "-"
            if self.ratio is None
            else (f"{self.ratio:.3f}" if self.ratio >= 0.01 else f"{self.ratio:.2g}")
        )
        return (self.name, self.shown(self.value), baseline, ratio, self.target, self.status)


def user_ids(count: int = USERS) -> list[str]:
    return [f"user{i:04d}" for i in range(count)]


def ordered_keys(prefix: str = "k") -> Callable[[], str]:
    """Time-ordered keys: ``k000000000000``, ``k000000000001``, ..."""
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter):012d}"


def random_keys() -> Callable[[], str]:
    return lambda: uuid.uuid4().hex


# -- the raw sqlite3 baseline -----------------------------------------------------------------

_RAW_SCHEMA = (
    "CREATE TABLE profiles (user_id TEXT PRIMARY KEY, xp INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    "CREATE TABLE log (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, "
    "amount INTEGER NOT NULL, key TEXT NOT NULL UNIQUE)",
)
# The floor for a points award: what the ledger's design (not this code) must write. One
# transaction row with a UNIQUE key, a balance update and an entry on each side, no registry.
_RAW_LEDGER_SCHEMA = (
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, user_id TEXT, balance INTEGER NOT NULL)",
    "CREATE TABLE transactions (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, "
    "amount INTEGER NOT NULL, key TEXT UNIQUE, created_at TEXT NOT NULL)",
    "CREATE TABLE entries (account_id INTEGER NOT NULL, transaction_id INTEGER NOT NULL, "
    "amount INTEGER NOT NULL, balance_before INTEGER NOT NULL, balance_after INTEGER NOT NULL, "
    "PRIMARY KEY (account_id, transaction_id)) WITHOUT ROWID",
)
# The floor for a tracked event advancing 20 quests: the rule's XP, the event row, and one
# UPDATE of the user's progress rows (clustered by user, so they share a page).
_RAW_QUEST_SCHEMA = (
    "CREATE TABLE quest_progress (user_id TEXT NOT NULL, quest TEXT NOT NULL, "
    "progress INTEGER NOT NULL DEFAULT 0, updated_at TEXT, PRIMARY KEY (user_id, quest)) "
    "WITHOUT ROWID",
)
_RAW_PROGRESS = (
    "UPDATE quest_progress SET progress = progress + 1, updated_at = ? WHERE user_id = ?"
)
# The floor for one tracked event (issue 19's track baseline): the rule's XP (UPDATE + keyed
# log INSERT, as the award baseline) and the event's metric upsert, clustered by user.
_RAW_METRIC_SCHEMA = (
    "CREATE TABLE metrics (user_id TEXT NOT NULL, event TEXT NOT NULL, "
    "count INTEGER NOT NULL, total REAL NOT NULL, updated_at TEXT NOT NULL, "
    "PRIMARY KEY (user_id, event)) WITHOUT ROWID",
)
_RAW_METRIC = (
    "INSERT INTO metrics (user_id, event, count, total, updated_at) VALUES (?2, 'post', 1, 1, ?1) "
    "ON CONFLICT (user_id, event) DO UPDATE SET count = metrics.count + 1, "
    "total = metrics.total + 1, updated_at = excluded.updated_at"
)
_RAW_TXN = "INSERT INTO transactions (user_id, amount, key, created_at) VALUES (?, ?, ?, ?)"
_RAW_MOVE = "UPDATE accounts SET balance = balance + ? WHERE id = ? RETURNING balance"
_RAW_ENTRY = "INSERT INTO entries VALUES (?, ?, ?, ?, ?)"
_RAW_UPDATE = "UPDATE profiles SET xp = xp + ? WHERE user_id = ?"
_RAW_INSERT = "INSERT INTO log (user_id, amount, key) VALUES (?, ?, ?)"


class Raw:
    """The baseline: plain sqlite3, WAL + synchronous=NORMAL, otherwise default pragmas."""

    def __init__(
        self, path: Path, *, keys: str = "ordered", users: int = USERS, background: bool = False
    ) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # background=True: the engine's own checkpoint thread, for a like-for-like row.
        self.checkpointer: Checkpointer | None = None
        if background:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES}")
            self.checkpointer = Checkpointer(str(path), busy_timeout=5.0)
            _BACKGROUND.append(self.checkpointer)
        for statement in _RAW_SCHEMA:
            self.conn.execute(statement)
        self.users = user_ids(users)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(
            "INSERT INTO profiles (user_id) VALUES (?)", [(u,) for u in self.users]
        )
        self.conn.execute("COMMIT")
        self.key = ordered_keys() if keys == "ordered" else random_keys()
        self._user = itertools.cycle(self.users)
        self._account = itertools.cycle(range(1, users + 1))
        self._ledger_ready = False
        self._quests = 0
        self._metrics = False

    def _ledger(self) -> None:
        for statement in _RAW_LEDGER_SCHEMA:
            self.conn.execute(statement)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(
            "INSERT INTO accounts (id, user_id, balance) VALUES (?, ?, 0)",
            [(i + 1, u) for i, u in enumerate(self.users)],
        )
        self.conn.execute("INSERT INTO accounts (id, user_id, balance) VALUES (0, NULL, 0)")
        self.conn.execute("COMMIT")
        self._ledger_ready = True

    def double_entry(self, n: int) -> float:
        """``n`` minimal double-entry awards with a UNIQUE key; committed per second."""
        if not self._ledger_ready:
            self._ledger()
        execute, account, key = self.conn.execute, self._account, self.key
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        start = time.perf_counter()
        for _ in range(n):
            who = next(account)
            execute("BEGIN IMMEDIATE")
            txn = execute(_RAW_TXN, (self.users[who - 1], 1, key(), at)).lastrowid
            (after,) = execute(_RAW_MOVE, (1, who)).fetchone()
            execute(_RAW_ENTRY, (who, txn, 1, after - 1, after))
            (after,) = execute(_RAW_MOVE, (-1, 0)).fetchone()
            execute(_RAW_ENTRY, (0, txn, -1, after + 1, after))
            execute("COMMIT")
        return n / (time.perf_counter() - start)

    def quest_txn(self, n: int, quests: int) -> float:
        """``n`` transactions of UPDATE + INSERT that also advance ``quests`` progress rows of
        the user; committed transactions per second."""
        if not self._quests:
            for statement in _RAW_QUEST_SCHEMA:
                self.conn.execute(statement)
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT INTO quest_progress (user_id, quest) VALUES (?, ?)",
                [(u, f"q{i}") for u in self.users for i in range(quests)],
            )
            self.conn.execute("COMMIT")
            self._quests = quests
        return self._award_and(n, _RAW_PROGRESS)

    def prefill(self, rows: int, chunk: int = 50_000) -> float:
        """Insert ``rows`` log rows (committed in chunks); returns the seconds it took."""
        start = time.perf_counter()
        users, key = self.users, self.key
        done = 0
        while done < rows:
            size = min(chunk, rows - done)
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                _RAW_INSERT,
                ((users[i % len(users)], 1, key()) for i in range(done, done + size)),
            )
            self.conn.execute("COMMIT")
            done += size
        return time.perf_counter() - start

    def prefill_ledger(self, transactions: int, chunk: int = 50_000) -> float:
        """``transactions`` double-entry awards (transaction row and two entries each, as
        ``double_entry`` writes them, time-ordered keys) committed in chunks; seconds."""
        if not self._ledger_ready:
            self._ledger()
        start = time.perf_counter()
        users, key, count = self.users, self.key, len(self.users)
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        done = 0
        while done < transactions:
            size = min(chunk, transactions - done)
            self.conn.execute("BEGIN IMMEDIATE")
            first = self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM transactions")
            base = first.fetchone()[0]
            self.conn.executemany(
                _RAW_TXN, ((users[i % count], 1, key(), at) for i in range(done, done + size))
            )
            # Balances are not kept up: only the size and shape of the B-trees matter here.
            self.conn.executemany(
                _RAW_ENTRY,
                (
                    entry
                    for i in range(size)
                    for entry in (
                        ((done + i) % count + 1, base + i, 1, 0, 1),
                        (0, base + i, -1, 0, -1),
                    )
                ),
            )
            self.conn.execute("COMMIT")
            done += size
        return time.perf_counter() - start

    def per_txn(self, n: int) -> float:
        """``n`` transactions of UPDATE + INSERT; committed transactions per second."""
        conn, user, key, checkpointer = self.conn, self._user, self.key, self.checkpointer
        execute = conn.execute
        start = time.perf_counter()
        for _ in range(n):
            who = next(user)
            execute("BEGIN IMMEDIATE")
            execute(_RAW_UPDATE, (1, who))
            execute(_RAW_INSERT, (who, 1, key()))
            execute("COMMIT")
            if checkpointer is not None:  # a few ns: under 0.1% of a commit
                checkpointer.committed(conn.total_changes)
        return n / (time.perf_counter() - start)

    def tracked(self, n: int) -> float:
        """``n`` tracked events' raw writes (UPDATE + INSERT + metric upsert), one
        transaction each; committed transactions per second."""
        if not self._metrics:
            for statement in _RAW_METRIC_SCHEMA:
                self.conn.execute(statement)
            self._metrics = True
        return self._award_and(n, _RAW_METRIC)

    def _award_and(self, n: int, extra: str) -> float:
        """``n`` transactions of the award's UPDATE + INSERT and ``extra`` (bound to the
        time and the user); committed transactions per second."""
        execute, user, key = self.conn.execute, self._user, self.key
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        start = time.perf_counter()
        for _ in range(n):
            who = next(user)
            execute("BEGIN IMMEDIATE")
            execute(_RAW_UPDATE, (10, who))
            execute(_RAW_INSERT, (who, 10, key()))
            execute(extra, (at, who))
            execute("COMMIT")
        return n / (time.perf_counter() - start)

    def executemany(self, n: int) -> float:
        """The same UPDATE + INSERT ``n`` times in one transaction; rows per second."""
        user, key = self._user, self.key
        start = time.perf_counter()
        whos = [next(user) for _ in range(n)]
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(_RAW_UPDATE, [(1, who) for who in whos])
        self.conn.executemany(_RAW_INSERT, [(who, 1, key()) for who in whos])
        self.conn.execute("COMMIT")
        return n / (time.perf_counter() - start)

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.conn.close()


_RAW_STREAK_SCHEMA = (
    "CREATE TABLE profiles (user_id TEXT PRIMARY KEY, streak INTEGER NOT NULL, "
    "settled TEXT NOT NULL) WITHOUT ROWID",
    "CREATE INDEX profiles_due ON profiles (settled) WHERE streak > 0",
    "CREATE TABLE inventory (user_id TEXT NOT NULL, item TEXT NOT NULL, "
    "quantity INTEGER NOT NULL, PRIMARY KEY (user_id, item)) WITHOUT ROWID",
    "CREATE TABLE streak_log (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, day TEXT NOT NULL, "
    "kind TEXT NOT NULL, streak INTEGER NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE notifications (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, data TEXT NOT NULL, created_at TEXT NOT NULL)",
)
_RAW_DUE = (
    "SELECT p.user_id, p.streak, COALESCE(i.quantity, 0) FROM profiles p LEFT JOIN inventory i "
    "ON i.user_id = p.user_id AND i.item = 'streak_freeze' "
    "WHERE p.streak > 0 AND p.settled < ? AND p.user_id > ? ORDER BY p.user_id LIMIT ?"
)


class RawStreaks:
    """The streak sweep's floor in plain sqlite3: the same users, the same writes per user
    (a freeze used and logged, or the break logged; a notification; the profile settled),
    ``chunk`` users per transaction, without time zones, rest days or the engine's checks."""

    def __init__(self, path: Path, users: int, day: str = "2026-03-02") -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        for statement in _RAW_STREAK_SCHEMA:
            self.conn.execute(statement)
        ids = [f"user{i:07d}" for i in range(users)]
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(
            "INSERT INTO profiles VALUES (?, 1, ?)", [(user, day) for user in ids]
        )
        # Every other user holds a freeze, as in the engine's run.
        self.conn.executemany(
            "INSERT INTO inventory VALUES (?, 'streak_freeze', 1)", [(u,) for u in ids[1::2]]
        )
        self.conn.execute("COMMIT")

    def sweep(self, yesterday: str, chunk: int = 500) -> tuple[int, float]:
        """Settle every user not settled through ``yesterday``: (users, seconds)."""
        execute = self.conn.execute
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        done, after = 0, ""
        start = time.perf_counter()
        while True:
            batch = execute(_RAW_DUE, (yesterday, after, chunk)).fetchall()
            if not batch:
                break
            execute("BEGIN IMMEDIATE")
            for user, streak, freezes in batch:
                if freezes:
                    execute(
                        "UPDATE inventory SET quantity = quantity - 1 "
                        "WHERE user_id = ? AND item = 'streak_freeze'", (user,),
                    )  # fmt: skip
                    kind, left = "freeze_used", streak
                else:
                    kind, left = "broken", 0
                execute(
                    "INSERT INTO streak_log (user_id, day, kind, streak, created_at) "
                    "VALUES (?, ?, ?, ?, ?)", (user, yesterday, kind, streak, at),
                )  # fmt: skip
                execute(
                    "INSERT INTO notifications (user_id, kind, data, created_at) "
                    "VALUES (?, ?, ?, ?)", (user, kind, f'{{"streak": {streak}}}', at),
                )  # fmt: skip
                execute(
                    "UPDATE profiles SET streak = ?, settled = ? WHERE user_id = ?",
                    (left, yesterday, user),
                )
            execute("COMMIT")
            done += len(batch)
            after = batch[-1][0]
        return done, time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


# -- the engine -------------------------------------------------------------------------------


# Purchases are rate limited (seed 002: 5 an hour per user) and a run starts thousands per user
# an hour: raise the limit rather than turn it off, so reserve+commit still times the check.
BENCH_CONFIG = Config(rate_limits={"purchase": RateLimit(max=100_000, seconds=3_600)})
# award_xp by itself: the default configuration also keeps an XP board (all-time, daily,
# weekly, monthly), whose upkeep has a budget of its own (the leaderboard rows of report.py).
BARE_CONFIG = attrs.evolve(BENCH_CONFIG, leaderboards=LeaderboardsConfig(boards=()))


def engine_config(boards: bool = True, checkpoint: str = "background") -> Config:
    return attrs.evolve(BENCH_CONFIG if boards else BARE_CONFIG, checkpoint=checkpoint)


# The keyed calls the rows time, as ceiling.py records them: (engine, user, fresh key).
def call_award_xp(g: Gamification, user: str, key: str) -> object:
    return g.award_xp(user, 1, source="bench", idempotency_key=key)


def call_award_points(g: Gamification, user: str, key: str) -> object:
    return g.award_points(user, 1, currency=CURRENCY, source="bench", idempotency_key=key)


def call_spend_points(g: Gamification, user: str, key: str) -> object:
    return g.spend_points(user, 1, currency=CURRENCY, source="bench", idempotency_key=key)


def call_track(g: Gamification, user: str, key: str) -> object:
    return g.track(user, "post", idempotency_key=key)


# The ceiling rows (the engine's own statements replayed by raw sqlite3, no Python), and
# for each engine row they bound, which (report.py cites it when that row misses).
CEILING_POINTS = (
    "award_points, unique key: the engine's own statements replayed by raw sqlite3, no Python "
    "(ratio to the double-entry floor)"
)
CEILING_SPEND = (
    "spend_points, unique key: the engine's own statements replayed by raw sqlite3, no Python "
    "(ratio to the double-entry floor)"
)
CEILING_XP = (
    "award_xp, unique key, default config: the engine's own statements replayed raw (ratio to raw)"
)
CEILING_TRACK = (
    "track(), 50 achievements subscribed: the engine's own statements replayed raw (ratio to "
    "the raw tracked event)"
)
# The same replays with the least Python each call needs (least.py): what a Python engine of
# this design could reach at best.
LEAST_XP = (
    "award_xp, unique key, default config: its statements replayed with the least Python a "
    "call needs (ratio to raw)"
)
LEAST_POINTS = (
    "award_points, unique key: its statements replayed with the least Python a call needs "
    "(ratio to the double-entry floor)"
)
LEAST_SPEND = (
    "spend_points, unique key: its statements replayed with the least Python a call needs "
    "(ratio to the double-entry floor)"
)
LEAST_TRACK = (
    "track(), 50 achievements subscribed: its statements replayed with the least Python a call "
    "needs (ratio to the raw tracked event)"
)
XP_BOARD = "award_xp, unique key, default config: its XP board's 4 periods kept"
POINTS = "award_points, unique key"
SPEND = "spend_points, unique key (pre-funded)"
POINTS_FLOOR = "award_points, unique key (ratio to the double-entry floor)"
SPEND_FLOOR = "spend_points, unique key (ratio to the double-entry floor)"
TRACK_50 = "track(), 50 achievements subscribed, none unlocking (ratio to the raw tracked event)"
RAW_BACKGROUND = "raw baseline, checkpoints on the engine's background thread (ratio to raw)"
FLOOR_BACKGROUND = (
    "raw double-entry floor, checkpoints on the engine's background thread (ratio to the floor)"
)
LEAST_OF = {
    XP_BOARD: LEAST_XP,
    POINTS: LEAST_POINTS,
    POINTS_FLOOR: LEAST_POINTS,
    SPEND: LEAST_SPEND,
    SPEND_FLOOR: LEAST_SPEND,
    TRACK_50: LEAST_TRACK,
}
CEILING_OF = {
    XP_BOARD: CEILING_XP,
    POINTS: CEILING_POINTS,
    POINTS_FLOOR: CEILING_POINTS,
    SPEND: CEILING_SPEND,
    SPEND_FLOOR: CEILING_SPEND,
    TRACK_50: CEILING_TRACK,
}
# A ceiling checkpoints on a background thread, as the engine does, and the raw baselines
# inside their commits: for an engine row, its baseline checkpointing as the ceiling does.
LIKE_FOR_LIKE = {
    XP_BOARD: RAW_BACKGROUND,
    POINTS: RAW_BACKGROUND,
    SPEND: RAW_BACKGROUND,
    POINTS_FLOOR: FLOOR_BACKGROUND,
    SPEND_FLOOR: FLOOR_BACKGROUND,
}


class Engine:
    """A ``Gamification`` on a file database with 1,000 users, and the calls we time."""

    def __init__(
        self,
        path: Path,
        *,
        seed: bool = True,
        users: int = USERS,
        boards: bool = True,
        checkpoint: str = "background",
    ) -> None:
        self.g = Gamification.open(
            path, config=engine_config(boards, checkpoint), load_entrypoints=False
        )
        checkpointer = getattr(self.g._store, "checkpointer", None)
        if checkpointer is not None:
            _BACKGROUND.append(checkpointer)
        self.users = user_ids(users)
        self.key = ordered_keys()
        self._user = itertools.cycle(self.users)
        if seed:
            with self.g.batch():
                for user in self.users:
                    self.g.award_xp(user, 1, source="seed")
                    self.g.award_points(user, FUNDS, currency=CURRENCY, source="seed")

    def prefill(self, transactions: int, chunk: int, log: Log | None = None) -> float:
        """``transactions`` keyed award_points via ``batch()`` in chunks; returns seconds."""
        g, users, key = self.g, self.users, self.key
        start = time.perf_counter()
        done = 0
        while done < transactions:
            size = min(chunk, transactions - done)
            with g.batch():
                for i in range(done, done + size):
                    g.award_points(
                        users[i % len(users)],
                        10,
                        currency=CURRENCY,
                        source="prefill",
                        idempotency_key=key(),
                    )
            done += size
            if log and (done % 250_000 == 0 or done == transactions):
                log(
                    f"  engine prefill {done:,}/{transactions:,} "
                    f"({time.perf_counter() - start:.1f} s)"
                )
        return time.perf_counter() - start

    def award_xp(self, n: int, *, keyed: bool = True) -> float:
        g, user, key = self.g, self._user, self.key
        start = time.perf_counter()
        if keyed:
            for _ in range(n):
                g.award_xp(next(user), 1, source="bench", idempotency_key=key())
        else:
            for _ in range(n):
                g.award_xp(next(user), 1, source="bench")
        return n / (time.perf_counter() - start)

    def award_points(self, n: int) -> float:
        g, user, key = self.g, self._user, self.key
        start = time.perf_counter()
        for _ in range(n):
            g.award_points(next(user), 1, currency=CURRENCY, source="bench", idempotency_key=key())
        return n / (time.perf_counter() - start)

    def spend_points(self, n: int) -> float:
        g, user, key = self.g, self._user, self.key
        start = time.perf_counter()
        for _ in range(n):
            g.spend_points(next(user), 1, currency=CURRENCY, source="bench", idempotency_key=key())
        return n / (time.perf_counter() - start)

    def reserve_commit(self, n: int) -> float:
        """``n`` reserve + commit pairs (two transactions each); pairs per second."""
        g, user = self.g, self._user
        start = time.perf_counter()
        for _ in range(n):
            hold = g.reserve_points(next(user), 1, currency=CURRENCY, ttl=60)
            g.commit_reservation(hold.id)
        return n / (time.perf_counter() - start)

    def batch_award_xp(self, n: int, *, keyed: bool = False) -> float:
        """``n`` award_xp calls inside one ``batch()`` transaction; awards per second."""
        g, user, key = self.g, self._user, self.key
        start = time.perf_counter()
        with g.batch():
            if keyed:
                for _ in range(n):
                    g.award_xp(next(user), 1, source="bench", idempotency_key=key())
            else:
                for _ in range(n):
                    g.award_xp(next(user), 1, source="bench")
        return n / (time.perf_counter() - start)

    def verify(self, budget: float) -> tuple[float, int, int] | None:
        """``verify_ledger()``: (seconds, transactions checked, problems found).

        None when it ran past ``budget`` seconds: the query is then stopped with
        ``sqlite3.Connection.interrupt()`` so a slow audit cannot hold the run hostage.
        """
        timer = threading.Timer(budget, self.g.db.conn.interrupt)
        timer.start()
        start = time.perf_counter()
        try:
            report = self.g.verify_ledger()
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
            return None
        finally:
            timer.cancel()
        return time.perf_counter() - start, report.checked_transactions, len(report.problems)

    def close(self) -> None:
        self.g.close()


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Report:
    """What a run found: the table, notes (pre-fill and verify times), and every round's rate."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)


# The background checkpoint threads of every engine and raw baseline of the run. A case's
# checkpoint runs after the case's clock stopped, on a thread of the same process: without
# a pause for it, the next case (often another engine's) is charged with it. Measured on the
# batch rows: the XP board's batch left its checkpoint running into the keyed batch that
# followed and took 5-8% off that row.
_BACKGROUND: list[Checkpointer] = []


def quiesce() -> None:
    """Let every background checkpoint asked for so far finish, outside any timed case."""
    for checkpointer in _BACKGROUND:
        checkpointer.wait(timeout=30)


def interleave(
    cases: dict[str, Callable[[], float]], rounds: int, report: Report, phase: str
) -> dict[str, float]:
    """Run every case once per round, alternating the order; the median rate of each.

    One unrecorded warm-up pass first, so no case pays for cold caches alone. Every round's
    rate is kept in ``report.samples`` under ``"<phase>: <case>"``.
    """
    names = list(cases)
    for name in names:
        quiesce()
        cases[name]()
    found: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            quiesce()
            found[name].append(cases[name]())
    for name, values in found.items():
        report.samples[f"{phase}: {name}"] = values
    return {name: statistics.median(values) for name, values in found.items()}


def settle() -> None:
    """Write back the setup's dirty pages now rather than in the middle of the first round."""
    if hasattr(os, "sync"):
        os.sync()


def measure_small(workdir: Path, s: Settings, log: Log, report: Report) -> None:
    """Engine calls on a small database (1,000 funded users) against the empty baseline."""
    raw = Raw(workdir / "raw-small.db")
    raw_background = Raw(workdir / "raw-background.db", background=True)
    engine = Engine(workdir / "engine-small.db")
    bare = Engine(workdir / "engine-bare.db", boards=False)
    inline = Engine(workdir / "engine-inline.db", boards=False, checkpoint="inline")
    log(f"recording the engine's statements for the ceiling rows ({s.rounds + 1} x {s.n:,} calls)")
    seed = workdir / "ceiling-small.db"
    Engine(seed).close()  # seeded as `engine` is: same config, users and funds

    def ceiling(
        name: str, call: Callable[[Gamification, str, str], object], minimum: LeastFactory
    ) -> Ceiling:
        found = Ceiling(
            seed, name, lambda path: Gamification.open(
                path, config=engine_config(), load_entrypoints=False
            ), call, user_ids(), s.n, s.rounds + 1, minimum,
        )  # fmt: skip
        _BACKGROUND.extend(found.checkpointers)
        return found

    ceilings = {
        "award_xp key, xp board": ceiling("ceiling-xp", call_award_xp, least.award_xp),
        "award_points key": ceiling("ceiling-points", call_award_points, least.award_points),
        "spend_points key": ceiling("ceiling-spend", call_spend_points, least.spend_points),
    }
    settle()
    try:
        log(f"per-call rows: {s.rounds} rounds of {s.n:,} engine calls / {s.raw_n:,} raw")
        med = interleave(
            {
                "raw": lambda: raw.per_txn(s.raw_n),
                "raw, background checkpoints": lambda: raw_background.per_txn(s.raw_n),
                "raw double-entry": lambda: raw.double_entry(s.raw_n),
                "raw double-entry, background checkpoints": lambda: raw_background.double_entry(
                    s.raw_n
                ),
                "award_xp key": lambda: bare.award_xp(s.n, keyed=True),
                "award_xp key, inline checkpoints": lambda: inline.award_xp(s.n, keyed=True),
                "award_xp": lambda: bare.award_xp(s.n, keyed=False),
                "award_xp key, xp board": lambda: engine.award_xp(s.n, keyed=True),
                "award_points key": lambda: engine.award_points(s.n),
                "spend_points key": lambda: engine.spend_points(s.n),
                "reserve+commit": lambda: engine.reserve_commit(max(1, s.n // 2)),
                **{f"{name}, replayed": replay.run for name, replay in ceilings.items()},
                **{f"{name}, least Python": bound.run_least for name, bound in ceilings.items()},
            },
            s.rounds,
            report,
            "small",
        )
        log(f"batch rows: {s.rounds} rounds of {s.batch:,} awards in one transaction")
        batch = interleave(
            {
                "engine batch()": lambda: bare.batch_award_xp(s.batch),
                "engine batch(), keyed": lambda: bare.batch_award_xp(s.batch, keyed=True),
                "engine batch(), xp board": lambda: engine.batch_award_xp(s.batch),
                "raw executemany": lambda: raw.executemany(s.batch),
            },
            s.rounds,
            report,
            "batch",
        )
    finally:
        for replay in ceilings.values():
            replay.close()
        engine.close()
        bare.close()
        inline.close()
        raw.close()
        raw_background.close()
    base = med["raw"]
    executemany = batch["raw executemany"]
    report.rows += [
        Row("award_xp, unique key", med["award_xp key"], base, target_ratio=0.5),
        Row("award_xp, no key", med["award_xp"], base),
        Row(
            "award_xp, unique key, checkpoint='inline' (in the commit, SQLite's default)",
            med["award_xp key, inline checkpoints"],
            base,
        ),
        Row(RAW_BACKGROUND, med["raw, background checkpoints"], base),
        Row(
            "award_xp, unique key (ratio to that raw baseline with background checkpoints)",
            med["award_xp key"],
            med["raw, background checkpoints"],
        ),
        Row(XP_BOARD, med["award_xp key, xp board"], base, target_ratio=0.5),
        Row(CEILING_XP, med["award_xp key, xp board, replayed"], base),
        Row(LEAST_XP, med["award_xp key, xp board, least Python"], base),
        Row(POINTS, med["award_points key"], base, target_ratio=0.5),
        Row(SPEND, med["spend_points key"], base, target_ratio=0.5),
        Row(
            f"batch(): {s.batch:,} award_xp in 1 txn (awards/s; baseline = raw executemany)",
            batch["engine batch()"],
            executemany,
            target_abs=50_000,
        ),
        Row(
            f"batch(): {s.batch:,} keyed award_xp in 1 txn",
            batch["engine batch(), keyed"],
            executemany,
        ),
        Row(
            f"batch(): {s.batch:,} award_xp in 1 txn, default config (XP board kept)",
            batch["engine batch(), xp board"],
            executemany,
        ),
        Row("reserve+commit pairs (2 txns each)", med["reserve+commit"], base),
        Row("raw double-entry floor (ratio to raw baseline)", med["raw double-entry"], base),
        Row(
            FLOOR_BACKGROUND,
            med["raw double-entry, background checkpoints"],
            med["raw double-entry"],
        ),
        Row(POINTS_FLOOR, med["award_points key"], med["raw double-entry"], target_ratio=0.75),
        Row(CEILING_POINTS, med["award_points key, replayed"], med["raw double-entry"]),
        Row(LEAST_POINTS, med["award_points key, least Python"], med["raw double-entry"]),
        Row(SPEND_FLOOR, med["spend_points key"], med["raw double-entry"], target_ratio=0.75),
        Row(CEILING_SPEND, med["spend_points key, replayed"], med["raw double-entry"]),
        Row(LEAST_SPEND, med["spend_points key, least Python"], med["raw double-entry"]),
    ]


def measure_large(workdir: Path, s: Settings, log: Log, report: Report) -> None:
    """The same points calls on a ledger of ``s.fill`` transactions; baselines pre-filled too."""
    engine = Engine(workdir / "engine-large.db", seed=False)
    raws: list[Raw] = []
    try:
        log(
            f"pre-filling the engine ledger with {s.fill:,} keyed award_points "
            f"(batch() chunks of {s.chunk:,})"
        )
        seconds = engine.prefill(s.fill, s.chunk, log)
        report.notes.append(
            f"engine pre-fill: {s.fill:,} keyed award_points in batch() chunks of {s.chunk:,}: "
            f"{seconds:.1f} s ({s.fill / seconds:,.0f}/s)"
        )
        empty = Raw(workdir / "raw-empty.db")
        ordered = Raw(workdir / "raw-ordered.db", keys="ordered")
        random = Raw(workdir / "raw-random.db", keys="random")
        floor = Raw(workdir / "raw-floor.db", keys="ordered")
        raws = [empty, ordered, random, floor]
        for label, raw in (("time-ordered", ordered), ("uuid4 hex", random)):
            seconds = raw.prefill(s.fill, s.chunk)
            report.notes.append(f"raw pre-fill, {s.fill:,} log rows, {label} keys: {seconds:.1f} s")
            log(report.notes[-1])
        seconds = floor.prefill_ledger(s.fill, s.chunk)
        report.notes.append(
            f"raw double-entry floor pre-fill, {s.fill:,} transactions: {seconds:.1f} s"
        )
        log(report.notes[-1])
        settle()
        log(f"large-ledger rows: {s.rounds} rounds")
        med = interleave(
            {
                "raw empty": lambda: empty.per_txn(s.raw_n),
                "raw ordered": lambda: ordered.per_txn(s.raw_n),
                "raw uuid4": lambda: random.per_txn(s.raw_n),
                "raw double-entry": lambda: floor.double_entry(s.raw_n),
                "award_points key": lambda: engine.award_points(s.n),
                "spend_points key": lambda: engine.spend_points(s.n),
            },
            s.rounds,
            report,
            "large",
        )
        log(f"verify_ledger() (gives up after {s.verify_budget:g} s)")
        verified = engine.verify(s.verify_budget)
        if verified is None:
            seconds, stopped = s.verify_budget, True
            report.notes.append(
                f"verify_ledger(): did not finish in {s.verify_budget:g} s; stopped with "
                "sqlite3 interrupt()"
            )
        else:
            (seconds, transactions, problems), stopped = verified, False
            report.notes.append(
                f"verify_ledger(): {transactions:,} transactions, {problems} problems, "
                f"{seconds:.2f} s"
            )
        log(report.notes[-1])
    finally:
        engine.close()
        for raw in raws:
            raw.close()
    size = f"{s.fill:,}"
    report.rows += [
        Row(
            f"award_points, unique key @ {size} txns",
            med["award_points key"],
            med["raw ordered"],
            target_ratio=0.5,
        ),
        Row(
            f"spend_points, unique key @ {size} txns",
            med["spend_points key"],
            med["raw ordered"],
            target_ratio=0.5,
        ),
        Row(
            f"award_points, unique key @ {size} txns (ratio to the double-entry floor @ {size})",
            med["award_points key"],
            med["raw double-entry"],
            target_ratio=0.75,
        ),
        Row(
            f"spend_points, unique key @ {size} txns (ratio to the double-entry floor @ {size})",
            med["spend_points key"],
            med["raw double-entry"],
            target_ratio=0.75,
        ),
        Row(
            f"raw double-entry floor @ {size} txns (ratio to raw @ {size} rows)",
            med["raw double-entry"],
            med["raw ordered"],
        ),
        Row("raw baseline, empty log (same rounds)", med["raw empty"]),
        Row(
            f"raw baseline @ {size} rows, time-ordered keys (ratio to empty)",
            med["raw ordered"],
            med["raw empty"],
        ),
        Row(
            f"raw baseline @ {size} rows, uuid4 keys (ratio to empty)",
            med["raw uuid4"],
            med["raw empty"],
        ),
        Row(f"verify_ledger() @ {size} txns (wall time)", seconds, unit="s", stopped=stopped),
    ]


def catalogue(subscribed: int, others: int, *, unlocking: bool) -> dict[str, object]:
    """``subscribed`` achievements on ``post`` (targets 1..n if ``unlocking``, else out of
    reach), ``others`` on other events, and a rule paying XP for ``post``."""
    base = 1 if unlocking else 10**12
    achievements: list[dict[str, object]] = [
        {"key": f"post{i}", "name": f"Post {i}", "rewards": {"xp": 5} if unlocking else {},
         "criteria": {"type": "count", "event": "post", "target": base + i}}
        for i in range(subscribed)
    ]  # fmt: skip
    achievements += [
        {"key": f"other{i}", "name": f"Other {i}",
         "criteria": {"type": "count", "event": f"event{i}", "target": 5}}
        for i in range(others)
    ]  # fmt: skip
    return {"achievements": achievements, "rules": [{"event": "post", "xp": 10}]}


class Tracking:
    """An engine with a definition catalogue and 1,000 users, timing keyed ``track()``."""

    def __init__(self, path: Path, definitions: dict[str, object]) -> None:
        self.g = Gamification.open(path, load_entrypoints=False)
        self.g.events.load(definitions, name="bench")
        self.key = ordered_keys()
        self._user = itertools.cycle(user_ids())

    def track(self, n: int) -> float:
        g, user, key = self.g, self._user, self.key
        start = time.perf_counter()
        for _ in range(n):
            g.track(next(user), "post", idempotency_key=key())
        return n / (time.perf_counter() - start)

    def close(self) -> None:
        self.g.close()


def measure_track(workdir: Path, s: Settings, log: Log, report: Report) -> None:
    """track() with 50 subscribed achievements (none or one unlocking per call), and with a
    catalogue of 10 against 1,000 definitions; reevaluate() over many users."""
    raw = Raw(workdir / "raw-track.db")
    engines = {
        "track 50 subscribed": Tracking(workdir / "t50.db", catalogue(50, 0, unlocking=False)),
        "track 50 subscribed, unlocking": Tracking(
            workdir / "t50u.db", catalogue(50, 0, unlocking=True)
        ),
        "track 10 definitions": Tracking(workdir / "t10.db", catalogue(10, 0, unlocking=False)),
        "track 1,000 definitions": Tracking(
            workdir / "t1000.db", catalogue(10, 990, unlocking=False)
        ),
    }
    log(f"recording the engine's statements for the ceiling row ({s.rounds + 1} x {s.n:,} calls)")
    subscribed = catalogue(50, 0, unlocking=False)
    seed = workdir / "ceiling-t50.db"
    Tracking(seed, subscribed).close()  # as t50.db: the catalogue loaded, no user yet
    ceiling = Ceiling(
        seed, "ceiling-track", lambda path: Tracking(path, subscribed).g, call_track,
        user_ids(), s.n, s.rounds + 1, least.track,
    )  # fmt: skip
    _BACKGROUND.extend(ceiling.checkpointers)
    settle()
    try:
        log(f"track rows: {s.rounds} rounds of {s.n:,} calls")
        cases: dict[str, Callable[[], float]] = {
            "raw": lambda: raw.per_txn(s.raw_n),
            "raw tracked": lambda: raw.tracked(s.raw_n),
        }
        for name, engine in engines.items():
            cases[name] = lambda engine=engine: engine.track(s.n)  # type: ignore[misc]
        cases["track 50 subscribed, replayed"] = ceiling.run
        cases["track 50 subscribed, least Python"] = ceiling.run_least
        med = interleave(cases, s.rounds, report, "track")
    finally:
        ceiling.close()
        for engine in engines.values():
            engine.close()
        raw.close()
    base, tracked = med["raw"], med["raw tracked"]
    report.rows += [
        Row("raw tracked event: XP UPDATE + keyed log INSERT + metric upsert (ratio to raw)",
            tracked, base),
        Row(TRACK_50, med["track 50 subscribed"], tracked, target_ratio=0.35),
        Row(CEILING_TRACK, med["track 50 subscribed, replayed"], tracked),
        Row(LEAST_TRACK, med["track 50 subscribed, least Python"], tracked),
        Row("track(), 50 subscribed, one unlock + reward per call (ratio to the raw tracked "
            "event)", med["track 50 subscribed, unlocking"], tracked),
        Row("track(), 1,000 definitions (10 on the event), none unlocking (ratio to the raw "
            "tracked event)", med["track 1,000 definitions"], tracked, target_ratio=0.35),
        Row("track(), 50 achievements subscribed, none unlocking (ratio to the raw award)",
            med["track 50 subscribed"], base),
        Row("track() cost, 1,000 definitions vs 10 (time ratio; target <= 1.3)",
            med["track 10 definitions"] / med["track 1,000 definitions"], unit="x",
            limit=1.3),
    ]  # fmt: skip
    users = s.reevaluate_users
    log(f"reevaluate(): {users:,} users, then 5 new definitions")
    g = Gamification.open(workdir / "reevaluate.db", load_entrypoints=False)
    try:
        ids = user_ids(users) if users <= 10_000 else [f"user{i:07d}" for i in range(users)]
        for first in range(0, users, 10_000):
            with g.batch():
                for user in ids[first : first + 10_000]:
                    g.track(user, "post")
        g.events.load(
            {"achievements": [
                {"key": f"retro{i}", "name": f"Retro {i}", "rewards": {"xp": 1},
                 "criteria": {"type": "count", "event": "post", "target": i + 1}}
                for i in range(5)]},
            name="retro",
        )  # fmt: skip
        start = time.perf_counter()
        done = g.events.reevaluate(chunk=500)
        seconds = time.perf_counter() - start
    finally:
        g.close()
    report.notes.append(
        f"reevaluate(): {done.users:,} users, {len(done.unlocked):,} unlocks, {seconds:.1f} s"
    )
    log(report.notes[-1])
    report.rows.append(Row(f"reevaluate() over {users:,} users (users/s)", users / seconds))


def quest_catalogue(quests: int) -> dict[str, object]:
    """``quests`` daily quests with an objective on ``post`` that no user completes."""
    return {
        "rules": [{"event": "post", "xp": 10}],
        "quests": [
            {"key": f"q{i}", "name": f"Quest {i}", "rewards": {"xp": 5},
             "objectives": [{"event": "post", "target": 10**9}]}
            for i in range(quests)
        ],
    }  # fmt: skip


def measure_time(workdir: Path, s: Settings, log: Log, report: Report) -> None:
    """Quest progress inside track() (20 active quests on the event, against none and against
    raw sqlite3 doing the same writes), and the streak sweep over many users whose streaks all
    need settling, against the same sweep in raw sqlite3."""
    plain = Tracking(workdir / "q0.db", quest_catalogue(0))
    questing = Tracking(workdir / "q20.db", quest_catalogue(20))
    raw = Raw(workdir / "raw-quests.db")
    settle()
    try:
        log(f"quest rows: {s.rounds} rounds of {s.n:,} calls")
        med = interleave(
            {"no quests": lambda: plain.track(s.n), "20 quests": lambda: questing.track(s.n),
             "raw 20 quests": lambda: raw.quest_txn(s.raw_n, 20)},
            s.rounds, report, "quests",
        )  # fmt: skip
    finally:
        plain.close()
        questing.close()
        raw.close()
    report.rows += [
        Row("track(), 20 active quests on the event (ratio to raw: XP, event, 20 progress rows)",
            med["20 quests"], med["raw 20 quests"]),
        Row("track(), 20 active quests on the event (ratio to no quests)", med["20 quests"],
            med["no quests"]),
    ]  # fmt: skip
    users = s.reevaluate_users
    log(f"streak sweep: {users:,} users with a missed day")
    clock = FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
    g = Gamification.open(workdir / "sweep.db", load_entrypoints=False, clock=clock)
    try:
        ids = [f"user{i:07d}" for i in range(users)]
        zones = ("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo")
        for first in range(0, users, 10_000):
            with g.batch():
                for i, user in enumerate(ids[first : first + 10_000]):
                    if i % 4:
                        g.users.set_timezone(user, zones[i % 4])
                    g.streaks.record_activity(user)
                    if i % 2:
                        g.streaks.grant_freezes(user, 1)
        clock.advance(days=2)
        settle()
        start = time.perf_counter()
        swept = g.streaks.sweep()
        seconds = time.perf_counter() - start
        again = time.perf_counter()
        g.streaks.sweep()
        idle = time.perf_counter() - again
    finally:
        g.close()
    streaks = RawStreaks(workdir / "raw-sweep.db", users)
    try:
        settle()
        raw_users, raw_seconds = streaks.sweep("2026-03-03")
    finally:
        streaks.close()
    report.notes.append(
        f"streak sweep: {swept.users:,} users settled ({swept.broken:,} broken, "
        f"{swept.freezes_used:,} freezes used) in {seconds:.1f} s; a second run {idle:.2f} s; "
        f"raw sqlite3 sweep of {raw_users:,} users {raw_seconds:.2f} s"
    )
    log(report.notes[-1])
    report.rows.append(Row(
        f"streak sweep over {users:,} users (users/s; ratio to the raw sweep)",
        swept.users / seconds, raw_users / raw_seconds,
    ))  # fmt: skip


SECTIONS: dict[str, Callable[[Path, Settings, Log, Report], None]] = {
    "small": measure_small,
    "track": measure_track,
    "time": measure_time,
    "large": measure_large,
}


def run(s: Settings, workdir: Path, log: Log, sections: Sequence[str] = tuple(SECTIONS)) -> Report:
    report = Report()
    for name in sections:
        SECTIONS[name](workdir, s, log, report)
    return report


# -- output -----------------------------------------------------------------------------------


def render_text(rows: Sequence[Row], *, color: bool = False, header: Sequence[str] = HEADER) -> str:
    """A plain-text table; on a terminal MISS is red and PASS green."""
    table = [tuple(header), *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for line in table:
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        if color and line[-1] in PAINT:
            cells[-1] = f"\033[{PAINT[line[-1]]}m{cells[-1]}\033[0m"
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


PAINT = {"MISS": "31", "PASS": "32"}  # ANSI red and green


def cpu_model() -> str:
    """The CPU's model name where the system says it (Linux, macOS), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        found = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True
        )
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return platform.processor() or platform.machine()


def filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts), or "unknown"."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "unknown"
    where = str(path.resolve())
    best, kind = "", "unknown"
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, f"{parts[2]} ({parts[0]} on {point})"
    return kind


def environment(where: Path | None = None) -> dict[str, str]:
    """The machine a run was taken on; ``where`` is the directory the databases lived in."""
    return {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "platform": platform.platform(),
        "CPU": cpu_model(),
        "CPUs": str(os.cpu_count()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "filesystem": filesystem(where or Path(tempfile.gettempdir())),
    }


def render_markdown(report: Report, s: Settings, elapsed: float | None = None) -> str:
    out = ["# Engine throughput as ratios to raw sqlite3", ""]
    out += [f"- {k}: {v}" for k, v in environment().items()]
    out.append(
        f"- mode: {s.mode} ({s.rounds} interleaved rounds, median; {s.n:,} engine calls and "
        f"{s.raw_n:,} raw transactions per round; batch {s.batch:,}; "
        f"large ledger {s.fill:,} transactions)"
    )
    if elapsed is not None:
        out.append(f"- run time: {elapsed:.0f} s")
    out += ["", "| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] + ["---:"] * 5) + "|"]
    out += ["| " + " | ".join(row.cells()) + " |" for row in report.rows]
    out += ["", *(f"- {note}" for note in report.notes)]
    out += [
        "",
        "Baseline: a file DB in WAL with synchronous=NORMAL; per transaction `BEGIN IMMEDIATE`, "
        "one UPDATE of a profile row (1,000 users, WITHOUT ROWID text key), one INSERT of a log "
        "row with a UNIQUE key (time-ordered `k000000000000` unless stated), `COMMIT`. "
        "Engine calls are one committed transaction each, time-ordered idempotency keys, the "
        "system clock, `load_entrypoints=False`. Rows without a target are informational. "
        "The double-entry floor is raw sqlite3 doing only what the ledger's design requires of "
        "a keyed award: one transaction row with a UNIQUE key, and for each of the two accounts "
        "a balance UPDATE ... RETURNING and an entry row.",
    ]
    if report.samples:
        out += ["", "Every round (per second, in run order):", ""]
        out += [
            f"- {name}: " + ", ".join(f"{v:,.0f}" for v in values)
            for name, values in report.samples.items()
        ]
    out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None) -> int:
    """The command line; ``settings`` overrides ``--quick`` (the smoke test runs tiny sizes)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the Markdown file to write")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the databases go")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"which parts to run, comma-separated (default: all of {','.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    sections = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    s = settings or (QUICK if args.quick else FULL)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="gamification-ratio-", dir=args.tmpdir) as tmp:
        report = run(s, Path(tmp), log, sections)
    elapsed = time.perf_counter() - started
    print(render_text(report.rows, color=sys.stdout.isatty()))
    for note in report.notes:
        print(note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(report, s, elapsed), encoding="utf-8")
    print(f"wrote {args.out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
