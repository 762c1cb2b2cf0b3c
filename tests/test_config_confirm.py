"""award_xp confirms the stored configuration version with its first read, instead of a
``PRAGMA data_version`` statement: every way through it still sees another process's apply."""

from __future__ import annotations

import pytest
from stale_configs import NO_BOARD, XP_BOARD, refused_as_stale

from gamification_sdk import Gamification, errors, hookimpl
from gamification_sdk.errors import StaleConfig
from gamification_sdk.models import AwardRequest


class NoJackpots:
    """Vetoes awards of 1,000 or more, inside the award's transaction."""

    @hookimpl
    def validate_award(self, engine: Gamification, award: AwardRequest) -> str | None:
        return "too much" if award.amount >= 1000 else None


@pytest.fixture
def pair(make_engine, db_path) -> tuple[Gamification, Gamification]:
    first = make_engine(db_path, config=XP_BOARD)
    second = make_engine(db_path, plugins=(NoJackpots(),))
    second.award_xp("bo", 5, source="t")  # bo has a profile: award_xp's first read finds it
    return first, second


def statements(engine: Gamification) -> list[str]:
    seen: list[str] = []
    engine.db.conn.set_trace_callback(seen.append)
    return seen


def test_an_existing_user_award_raises_stale_config_and_writes_nothing(pair, db_path) -> None:
    first, second = pair
    first.settings.apply(NO_BOARD)
    caught = refused_as_stale(db_path, lambda: second.award_xp("bo", 5, source="t"))
    assert caught.version == 2
    assert second.config.leaderboards.boards == ()
    assert second.award_xp("bo", 5, source="t").total_xp == 10


def test_a_keyed_replay_checks_the_version_before_its_commit(pair, db_path) -> None:
    first, second = pair
    award = second.award_xp("bo", 7, source="t", idempotency_key="k1")
    first.settings.apply(NO_BOARD)
    refused_as_stale(db_path, lambda: second.award_xp("bo", 7, source="t", idempotency_key="k1"))
    assert second.award_xp("bo", 7, source="t", idempotency_key="k1") == award


def test_stale_config_comes_before_the_write_s_own_refusal(pair, db_path) -> None:
    """A refusal made on a stale configuration may be wrong: the caller retries on the
    new one instead."""
    first, second = pair
    first.settings.apply(NO_BOARD)
    refused_as_stale(db_path, lambda: second.award_xp("bo", 1000, source="t"))
    with pytest.raises(errors.Rejected, match="too much"):
        second.award_xp("bo", 1000, source="t")


def test_an_award_to_an_existing_user_runs_no_data_version_statement(pair) -> None:
    _, second = pair
    seen = statements(second)
    second.award_xp("bo", 5, source="t", idempotency_key="fresh")
    assert seen[0] == "BEGIN IMMEDIATE"
    assert not any("data_version" in s for s in seen)
    assert any("MAX(version) FROM config_versions" in s for s in seen)


def test_other_writes_and_first_awards_still_check_data_version(pair) -> None:
    _, second = pair
    seen = statements(second)
    second.award_xp("newcomer", 5, source="t")
    second.users.set_timezone("bo", "Europe/Berlin")
    assert sum("PRAGMA data_version" in s for s in seen) == 2


def test_a_batch_checks_once_as_it_begins(pair) -> None:
    first, second = pair
    first.settings.apply(NO_BOARD)
    with pytest.raises(StaleConfig), second.batch():
        second.award_xp("bo", 5, source="t")
    assert second.profile("bo").xp == 5
    with second.batch():
        second.award_xp("bo", 5, source="t")
    assert second.profile("bo").xp == 10


# track() confirms the version with its first read too: the profile read (TRACK_PROFILE).
TRACKS = {
    "track": lambda g: g.track("bo", "lesson_done"),
    "keyed track": lambda g: g.track("bo", "lesson_done", idempotency_key="t1"),
}


@pytest.mark.parametrize("call", sorted(TRACKS))
def test_a_track_on_a_replaced_configuration_raises_stale_config_and_writes_nothing(
    pair, db_path, call: str
) -> None:
    first, second = pair
    first.settings.apply(NO_BOARD)
    caught = refused_as_stale(db_path, lambda: TRACKS[call](second))
    assert caught.version == 2
    assert second.config.leaderboards.boards == ()
    TRACKS[call](second)
    counted = second.db.execute(
        "SELECT count FROM metrics WHERE user_id = 'bo' AND metric = 'lesson_done'"
    ).fetchone()
    assert counted[0] == 1


def test_a_keyed_track_replay_checks_the_version_before_its_commit(pair, db_path) -> None:
    first, second = pair
    result = second.track("bo", "lesson_done", idempotency_key="t1")
    first.settings.apply(NO_BOARD)
    refused_as_stale(db_path, lambda: second.track("bo", "lesson_done", idempotency_key="t1"))
    assert second.track("bo", "lesson_done", idempotency_key="t1") == result


def test_a_track_of_an_existing_user_runs_no_data_version_statement(pair) -> None:
    _, second = pair
    seen = statements(second)
    second.track("bo", "lesson_done", idempotency_key="fresh")
    assert seen[0] == "BEGIN IMMEDIATE"
    assert not any("data_version" in s for s in seen)
    assert any("MAX(version) FROM config_versions" in s for s in seen)


def test_a_first_track_still_checks_data_version(pair, db_path) -> None:
    """A user without a profile: the read finds no row, so no version; checked at the end."""
    first, second = pair
    seen = statements(second)
    second.track("newcomer", "lesson_done")
    assert sum("PRAGMA data_version" in s for s in seen) == 1
    first.settings.apply(NO_BOARD)
    refused_as_stale(db_path, lambda: second.track("another", "lesson_done"))
