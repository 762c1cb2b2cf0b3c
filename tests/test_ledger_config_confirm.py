"""award_points and spend_points confirm the stored configuration version with the user's
leg (``MOVE_USER ... RETURNING``) instead of a ``PRAGMA data_version`` statement: every way
through them still sees another process's apply, raises ``StaleConfig`` and writes nothing.
The other ledger calls (transfer, adjust, refund) still check as they begin; they are here
too, so a change to their path cannot lose the check unseen."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from stale_configs import NO_BOARD, PUBLIC, XP_BOARD, file_dump, refused_as_stale

from gamification_sdk import Config, Gamification, RateLimit, errors
from gamification_sdk.errors import StaleConfig


@pytest.fixture
def pair(make_engine, db_path) -> tuple[Gamification, Gamification]:
    """Two processes' engines on one file; the second funded ``bo`` and spent once."""
    first = make_engine(db_path, config=XP_BOARD)
    second = make_engine(db_path)
    second.award_points("bo", 100, currency="points", source="t", idempotency_key="seed")
    second.spend_points("bo", 10, currency="points", source="t", idempotency_key="spent")
    return first, second


def _spent_id(g: Gamification) -> int:
    return g.points.history("bo").transactions[0].id


CALLS: dict[str, Callable[[Gamification], object]] = {
    "award, keyed": lambda g: g.award_points(
        "bo", 5, currency="points", source="t", idempotency_key="k"
    ),
    "award, no key": lambda g: g.award_points("bo", 5, currency="points", source="t"),
    # No account in the currency: it is made (and the profile) before the leg confirms.
    "award, a new user": lambda g: g.award_points("newcomer", 5, currency="points", source="t"),
    "award, keyed replay": lambda g: g.award_points(
        "bo", 100, currency="points", source="t", idempotency_key="seed"
    ),
    "spend, keyed": lambda g: g.spend_points(
        "bo", 5, currency="points", source="t", idempotency_key="k"
    ),
    "spend, no key": lambda g: g.spend_points("bo", 5, currency="points", source="t"),
    "spend, a purchase": lambda g: g.spend_points(
        "bo", 5, currency="points", source="t", transaction_type="purchase"
    ),
    "spend, keyed replay": lambda g: g.spend_points(
        "bo", 10, currency="points", source="t", idempotency_key="spent"
    ),
    "transfer": lambda g: g.points.transfer("bo", "al", 5, currency="points"),
    "adjust": lambda g: g.points.adjust("bo", -5, currency="points", reason="t"),
    "refund": lambda g: g.points.refund(_spent_id(g), amount=1),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_ledger_write_on_a_replaced_configuration_raises_and_writes_nothing(
    pair, db_path, call: str
) -> None:
    first, second = pair
    first.settings.apply(NO_BOARD)
    before = file_dump(db_path)
    caught = refused_as_stale(db_path, lambda: CALLS[call](second))
    assert caught.version == first.settings.version
    assert second.config.leaderboards.boards == ()
    CALLS[call](second)  # the retry runs on the new configuration
    assert file_dump(db_path) != before or "replay" in call


def test_stale_config_comes_before_insufficient_funds(pair, db_path) -> None:
    """A refusal made on a stale configuration may be wrong: the caller retries on the new
    one instead."""
    first, second = pair
    first.settings.apply(NO_BOARD)

    def spend() -> object:
        return second.spend_points(
            "bo", 10_000, currency="points", source="t", idempotency_key="big"
        )

    refused_as_stale(db_path, spend)
    with pytest.raises(errors.InsufficientFunds):
        spend()


def test_stale_config_comes_before_a_rate_limit(make_engine, db_path) -> None:
    limited = Config(rate_limits={"purchase": RateLimit(max=1, seconds=3_600)})
    first = make_engine(db_path, config=attrs.evolve(limited, leaderboards=PUBLIC))
    second = make_engine(db_path)
    second.award_points("bo", 100, currency="points", source="t")

    def purchase() -> object:
        return second.spend_points(
            "bo", 1, currency="points", source="t", transaction_type="purchase"
        )

    purchase()
    first.settings.apply(attrs.evolve(limited, leaderboards=NO_BOARD.leaderboards))
    refused_as_stale(db_path, purchase)
    with pytest.raises(errors.RateLimited):
        purchase()


def test_a_batch_checks_once_as_it_begins(pair) -> None:
    first, second = pair
    first.settings.apply(NO_BOARD)
    with pytest.raises(StaleConfig), second.batch():
        second.award_points("bo", 5, currency="points", source="t")
        second.spend_points("bo", 5, currency="points", source="t")
    assert second.balance("bo", "points") == 90
    with second.batch():
        second.award_points("bo", 5, currency="points", source="t")
    assert second.balance("bo", "points") == 95


@pytest.mark.parametrize("call", ["award, keyed", "spend, keyed", "award, no key", "spend, no key"])
def test_an_award_or_spend_runs_no_data_version_statement(pair, call: str) -> None:
    _, second = pair
    seen: list[str] = []
    second.db.conn.set_trace_callback(seen.append)
    CALLS[call](second)
    assert seen[0] == "BEGIN IMMEDIATE"
    assert not any("data_version" in s for s in seen)
    assert any("MAX(version) FROM config_versions" in s for s in seen)
