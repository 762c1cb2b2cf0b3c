"""The rich SQLite file the copy tests (tests/test_postgres_copy*.py) copy into PostgreSQL, and
what they read back: every kind of row the engine writes, built through the public API."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from reliability.game import DEFINITIONS, SEASON, START, Trainer

from gamification_sdk import (
    BoardConfig,
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LeaderboardsConfig,
    RankReward,
)

__all__ = [
    "RICH", "USERS", "build_rich", "dump", "file_hash", "new_schema", "rich_file", "rows",
    "schema_names", "schema_state",
]  # fmt: skip

USERS = ("u0", "u1", "u2", "u3", "u4", "u5")
RICH = Config(
    currencies=(
        CurrencyConfig("points", expire_after_days=30, expiry_notice_days=7),
        CurrencyConfig("stars", spendable=False),
        CurrencyConfig("gems"),
    ),
    seasons=[SEASON],
    rate_limits={"purchase": None, "quest_complete": None},
    leaderboards=LeaderboardsConfig(
        boards=(
            BoardConfig(
                "xp",
                periods=("all_time", "weekly"),
                rewards=(RankReward(ranks=(1, 1), points={"gems": 5}),),
            ),
            BoardConfig("workouts", source="metric", metric="workout", periods=("daily",)),
        ),
        visibility="public",
        show_on_global=True,
    ),
)


def build_rich(path: Path) -> None:
    """A file with every kind of row: XP, keyed awards, spends, transfers, refunds,
    reservations, expiring lots (some expired), achievements, quests, streaks, boards,
    referrals, shop orders, the battle pass, friends, groups and an erased user."""
    clock = FakeClock(START)
    g = Gamification.open(
        path, config=RICH, clock=clock, plugins=(Trainer(),), load_entrypoints=False
    )
    g.events.load(DEFINITIONS, name="copy")
    for user in USERS:
        g.award_xp(user, 250, source="seed", idempotency_key=f"xp-{user}")
        g.award_points(user, 500, currency="points", source="seed", idempotency_key=f"p-{user}")
        g.award_points(user, 40, currency="gems", source="seed")
    code = g.referrals.code("u0")
    g.referrals.track(code, "new1", ip="10.0.0.1", idempotency_key="ref-new1")
    g.referrals.convert("new1", kind="first_purchase", idempotency_key="conv-new1")
    g.social.add_friend("u0", "u1")
    g.social.join_group("u2", "team-a", kind="team")
    for day in range(4):
        for n, user in enumerate(USERS):
            g.track(user, "workout", idempotency_key=f"w-{day}-{user}")
            g.track(user, "post")
            g.streaks.record_activity(user, idempotency_key=f"s-{day}-{user}")
            g.quests.complete(user, "checkin", evidence={"ok": True}, idempotency_key=f"q{day}{n}")
            other = USERS[(n + 1) % len(USERS)]
            g.transfer_points(user, other, 7, currency="points", idempotency_key=f"t-{day}-{user}")
            g.transfer_points(user, other, 3, currency="gems")
            spent = g.spend_points(user, 20, currency="points", source="shop")
            g.refund(spent.id, amount=5, idempotency_key=f"r-{day}-{user}")
            held = g.reserve_points(user, 10, currency="points", ttl=timedelta(hours=1))
            if n % 2:
                g.commit_reservation(held.id)
            else:
                g.release_reservation(held.id)
        order = g.shop.purchase(USERS[day], "hat", idempotency_key=f"hat-{day}")
        if day == 0:
            g.shop.refund(order.id, idempotency_key="hat-refund")
        g.battle_pass.claim(USERS[day], 1, track="free", idempotency_key=f"bp-{day}")
        clock.advance(days=1)
    g.battle_pass.buy_premium("u1", idempotency_key="premium-u1")
    g.reserve_points("u3", 10, currency="points", ttl=timedelta(days=90))  # stays active
    clock.advance(days=35)
    g.jobs.run_due()  # the first lots expire
    g.award_points("u4", 15, currency="points", source="late")
    g.track("u1", "workout")  # a live score on the daily board after the closed ones
    g.privacy.delete("u5", idempotency_key="erase-u5")
    g.close()


@pytest.fixture(scope="module", name="rich")
def rich_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("copy") / "game.db"
    build_rich(path)
    return path


@pytest.fixture(name="schemas")
def schema_names(postgres_url: str) -> Iterator[list[str]]:
    """Schema names for one test, dropped afterwards."""
    made: list[str] = []
    yield made
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def new_schema(schemas: list[str]) -> str:
    name = f"gamification_test_{uuid.uuid4().hex[:12]}"
    schemas.append(name)
    return name


def rows(url: str, schema: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        return [tuple(r) for r in conn.execute(query, params or None).fetchall()]


def dump(url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ``schema`` (with the copy's times blanked), in order."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name <> 'schema_migrations' ORDER BY 1",
                (schema,),
            )
        ]
        found = {}
        for table in tables:
            if table == "copy_progress":
                query = f"SELECT tbl, source, last_key, copied FROM {schema}.{table} ORDER BY 1"
            else:
                query = f"SELECT * FROM {schema}.{table} ORDER BY 1, 2"
                if table in ("lb_log", "leases", "lot_currencies", "lb_settings"):
                    query = f"SELECT * FROM {schema}.{table} ORDER BY 1"
            found[table] = [tuple(r) for r in conn.execute(query)]
        found["sequences"] = [
            tuple(r)
            for r in conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s "
                "ORDER BY 1",
                (schema,),
            )
        ]
        return found


def file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def schema_state(url: str, schema: str) -> Any:
    """Every row of ``schema``, or None when there is no such schema."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            return dump(url, schema)
        return None
