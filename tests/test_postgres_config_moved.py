"""Another server's configuration change, seen by every write on PostgreSQL: the write's first
round trip checks the stored version (storage/postgres/backend.py ``_UNMOVED``), as SQLite's
``PRAGMA data_version`` does as a write begins. A write begun on a replaced configuration
raises ``StaleConfig``, writes nothing, and the engine runs on the new one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import attrs
import pytest

from gamification_sdk import Config, FakeClock, Gamification, LeaderboardsConfig
from gamification_sdk.errors import StaleConfig

pytestmark = pytest.mark.postgresql_only(reason="app servers sharing one PostgreSQL schema")

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PUBLIC = LeaderboardsConfig(visibility="public", show_on_global=True)
NO_BOARD = Config(leaderboards=attrs.evolve(PUBLIC, boards=()))
XP_BOARD = Config(leaderboards=PUBLIC)


@pytest.fixture
def pair(postgres_url: str, pg_schema: str) -> Iterator[tuple[Gamification, Gamification]]:
    """Two app servers on one schema; the second has run on the stored configuration."""
    opened: list[Gamification] = []

    def open_one(config: Config | None) -> Gamification:
        engine = Gamification.open(
            postgres_url, schema=pg_schema, config=config, clock=FakeClock(START),
            load_entrypoints=False,
        )  # fmt: skip
        opened.append(engine)
        return engine

    first = open_one(XP_BOARD)
    second = open_one(None)
    second.award_points("bo", 50, currency="points", source="t", idempotency_key="seed")
    yield first, second
    for engine in opened:
        engine.close()


CALLS: dict[str, Callable[[Gamification], object]] = {
    "award_points": lambda g: g.award_points("bo", 5, currency="points", source="t"),
    "spend_points": lambda g: g.spend_points("bo", 5, currency="points", source="t"),
    "track": lambda g: g.track("bo", "lesson_done"),
    "track, keyed": lambda g: g.track("bo", "lesson_done", idempotency_key="t1"),
    "set_timezone": lambda g: g.users.set_timezone("bo", "Europe/Berlin"),
    "award_points, keyed replay": lambda g: g.award_points(
        "bo", 50, currency="points", source="t", idempotency_key="seed"
    ),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_write_on_a_replaced_configuration_raises_stale_config_and_writes_nothing(
    pair: tuple[Gamification, Gamification], call: str
) -> None:
    first, second = pair
    first.settings.apply(NO_BOARD)
    before = first.dump()
    with pytest.raises(StaleConfig) as caught:
        CALLS[call](second)
    assert caught.value.version == first.settings.version
    assert first.dump() == before
    assert second.config.leaderboards.boards == ()
    CALLS[call](second)  # the retry runs on the new configuration


def test_a_batch_checks_as_it_begins(pair: tuple[Gamification, Gamification]) -> None:
    first, second = pair
    first.settings.apply(NO_BOARD)
    with pytest.raises(StaleConfig), second.batch():
        second.award_points("bo", 5, currency="points", source="t")
    assert second.balance("bo", "points") == 50
    with second.batch():
        second.award_points("bo", 5, currency="points", source="t")
    assert second.balance("bo", "points") == 55


def test_an_unchanged_configuration_costs_no_round_trip(
    pair: tuple[Gamification, Gamification],
) -> None:
    _, second = pair
    conn = second.db.conn
    before = conn.round_trips  # type: ignore[attr-defined]
    second.award_points("bo", 5, currency="points", source="t", idempotency_key="k")
    assert conn.round_trips - before == 2  # type: ignore[attr-defined]
