"""The engine on PostgreSQL as app servers use it: opened by URL or pool, several engines
(one per app server) writing the same users at once, conflicts retried whole, keys exactly
once across servers, a session ended mid-write, and the typed errors of opening.

The rest of the suite runs on PostgreSQL too (``--backend=postgresql``); these are the
things only a shared server has."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from test_postgres_servers import together

from gamification_sdk import Config, FakeClock, Gamification
from gamification_sdk.config import LeaderboardsConfig
from gamification_sdk.errors import DatabaseUnreachable, DatabaseUrlInvalid, InvalidInput
from gamification_sdk.runtime.runtime import CONFLICT_RETRIES

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def servers(postgres_url: str, pg_schema: str) -> Iterator[Callable[[], Gamification]]:
    """Engines on one schema, as separate app servers would open it (each its own session)."""
    opened: list[Gamification] = []

    def open_one() -> Gamification:
        engine = Gamification.open(
            postgres_url, schema=pg_schema, clock=FakeClock(START), load_entrypoints=False
        )
        opened.append(engine)
        return engine

    yield open_one
    for engine in opened:
        engine.close()


def test_open_takes_a_url_and_keeps_its_tables_in_the_schema(
    postgres_url: str, pg_schema: str
) -> None:
    with Gamification.open(postgres_url, schema=pg_schema, load_entrypoints=False) as g:
        g.award_xp("ada", 150, source="lesson", idempotency_key="x1")
        g.award_points("ada", 40, currency="points", source="lesson", idempotency_key="p1")
        assert g.profile("ada").level == 2
    # Another process opening the same schema sees one truth, the stored configuration too.
    with Gamification.open(postgres_url, schema=pg_schema, load_entrypoints=False) as again:
        assert again.profile("ada").xp == 150
        assert again.balance("ada", "points") == 40
        assert again.verify_ledger().ok
    with psycopg.connect(postgres_url) as conn:
        (tables,) = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            (pg_schema,),
        ).fetchone() or (0,)
        public = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables > 30 and public == (0,)


def test_a_pool_serves_the_engine_s_threads(postgres_url: str, pg_schema: str) -> None:
    from psycopg_pool import ConnectionPool

    with (
        ConnectionPool(postgres_url, min_size=1, max_size=3, open=True) as pool,
        Gamification.open(pool, schema=pg_schema, load_entrypoints=False) as g,
    ):
        together(
            [
                lambda n=n: [  # type: ignore[misc]
                    g.award_points(
                        f"u{n}", 1, currency="points", source="t", idempotency_key=f"{n}-{i}"
                    )
                    for i in range(15)
                ]
                for n in range(4)
            ]
        )
        assert [g.balance(f"u{n}", "points") for n in range(4)] == [15] * 4
        assert g.verify_ledger().ok


def test_a_schema_is_a_postgresql_option_only(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="schema"):
        Gamification.open(":memory:", schema="gamification", load_entrypoints=False)
    # Refused before anything is written: the file is not even created.
    path = tmp_path / "game.db"
    with pytest.raises(InvalidInput, match="schema"):
        Gamification.open(path, schema="gamification", load_entrypoints=False)
    assert not path.exists()
    with pytest.raises(DatabaseUrlInvalid):
        Gamification.open("postgresql://u@localhost:99999/db", load_entrypoints=False)


def test_an_unreachable_server_is_a_typed_error_at_open() -> None:
    with pytest.raises(DatabaseUnreachable):
        Gamification.open(
            "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", load_entrypoints=False
        )


def test_servers_awarding_the_same_users_at_once_lose_nothing(
    servers: Callable[[], Gamification],
) -> None:
    """Four app servers award XP and points to the same three users at once; every award
    is counted once (the read-modify-write of a profile is checked by the server and a
    conflict retried), and the ledger verifies."""
    engines = [servers() for _ in range(4)]
    users = ["ada", "bo", "cy"]

    def work(n: int) -> Callable[[], None]:
        def job() -> None:
            g = engines[n]
            for i in range(12):
                user = users[(n + i) % 3]
                g.award_xp(user, 10, source="t", idempotency_key=f"x-{n}-{i}")
                g.award_points(user, 3, currency="points", source="t", idempotency_key=f"p-{n}-{i}")

        return job

    together([work(n) for n in range(4)])
    g = engines[0]
    assert sum(g.profile(user).xp for user in users) == 4 * 12 * 10
    assert sum(g.balance(user, "points") for user in users) == 4 * 12 * 3
    assert g.verify_ledger().ok


def test_one_key_sent_to_every_server_at_once_is_done_once(
    servers: Callable[[], Gamification],
) -> None:
    engines = [servers() for _ in range(4)]
    results: list[int] = []

    def send(g: Gamification) -> Callable[[], None]:
        def job() -> None:
            for i in range(8):
                award = g.award_points(
                    "ada", 5, currency="points", source="t", idempotency_key=f"same-{i}"
                )
                results.append(award.id)
                g.award_xp("ada", 7, source="t", idempotency_key=f"xp-{i}")

        return job

    together([send(g) for g in engines])
    g = engines[0]
    assert g.balance("ada", "points") == 8 * 5
    assert g.profile("ada").xp == 8 * 7
    # Every server got the one transaction of each key back.
    assert len(set(results)) == 8 and len(results) == 32
    assert g.verify_ledger().ok


def test_spending_races_never_overdraw(servers: Callable[[], Gamification]) -> None:
    engines = [servers() for _ in range(4)]
    engines[0].award_points("ada", 100, currency="points", source="t", idempotency_key="seed")
    spent: list[int] = []

    def spend(g: Gamification, n: int) -> Callable[[], None]:
        def job() -> None:
            for i in range(10):
                try:
                    g.spend_points(
                        "ada", 7, currency="points", source="shop", idempotency_key=f"s{n}-{i}"
                    )
                    spent.append(7)
                except Exception as exc:  # InsufficientFunds once the balance runs out
                    assert type(exc).__name__ == "InsufficientFunds", exc

        return job

    together([spend(g, n) for n, g in enumerate(engines)])
    balance = engines[0].balance("ada", "points")
    assert balance == 100 - sum(spent) and 0 <= balance < 7
    assert engines[0].verify_ledger().ok


def test_conflicts_are_retried_whole(servers: Callable[[], Gamification]) -> None:
    """Transactions that read and write one profile at once under SERIALIZABLE conflict;
    the retries make every one land (the count of retries is the server's business, the
    outcome is the test's)."""
    engines = [servers() for _ in range(3)]
    rng = random.Random(7)
    amounts = [[rng.randint(1, 50) for _ in range(15)] for _ in engines]

    def job(g: Gamification, mine: list[int], n: int) -> Callable[[], None]:
        return lambda: [
            g.award_xp("hot", amount, source="t", idempotency_key=f"{n}:{i}")  # type: ignore[func-returns-value]
            for i, amount in enumerate(mine)
        ]

    together([job(g, mine, n) for n, (g, mine) in enumerate(zip(engines, amounts, strict=True))])
    assert engines[1].profile("hot").xp == sum(map(sum, amounts))
    assert CONFLICT_RETRIES >= 2


def test_a_session_ended_mid_write_is_a_typed_error_and_the_key_replays(
    postgres_url: str, pg_schema: str
) -> None:
    """``pg_terminate_backend`` ends the engine's session inside a write: the write raises
    ``DatabaseUnreachable``, nothing of it is stored, and the same call again (same key)
    writes it once."""
    killer = psycopg.connect(postgres_url, autocommit=True)
    fired: list[bool] = []

    class Kill:
        from gamification_sdk import hookimpl

        @hookimpl
        def validate_award(self, engine: Gamification, award: object) -> None:
            if not fired:
                fired.append(True)
                pid = engine._store.conn.raw.info.backend_pid  # type: ignore[attr-defined]
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))

    try:
        with Gamification.open(
            postgres_url, schema=pg_schema, plugins=[Kill()], load_entrypoints=False
        ) as g:
            with pytest.raises(DatabaseUnreachable):
                g.award_points("ada", 5, currency="points", source="t", idempotency_key="k")
            assert g.balance("ada", "points") == 0
            g.award_points("ada", 5, currency="points", source="t", idempotency_key="k")
            g.award_points("ada", 5, currency="points", source="t", idempotency_key="k")
            assert g.balance("ada", "points") == 5
            assert g.verify_ledger().ok
    finally:
        killer.close()


def test_the_stored_configuration_is_one_truth_across_servers(
    postgres_url: str, pg_schema: str
) -> None:
    shown = Config(leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True))
    first = Gamification.open(postgres_url, schema=pg_schema, config=shown, load_entrypoints=False)
    try:
        # A second server without a configuration adopts the stored one, boards included:
        # its XP reaches the board the first one reads.
        with Gamification.open(postgres_url, schema=pg_schema, load_entrypoints=False) as other:
            other.award_xp("bo", 500, source="t")
        first.award_xp("ada", 100, source="t")
        board = first.boards.get("xp")
        assert [entry.user_id for entry in board.entries] == ["bo", "ada"]
        assert first.config == shown
    finally:
        first.close()
