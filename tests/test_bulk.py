"""batch()'s buffered XP awards (bulk.py) behave exactly like the statement path."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification, hookimpl
from gamification_sdk.config.leaderboards import LeaderboardsConfig
from gamification_sdk.errors import BatchAborted, IdempotencyConflict, InvalidInput

NO_BOARDS = Config(leaderboards=LeaderboardsConfig(boards=()))


@contextmanager
def engines() -> Iterator[tuple[Gamification, Gamification]]:
    """Two engines on the same clock readings: one buffers, one takes the statement path."""
    fast = Gamification.open(":memory:", config=NO_BOARDS, clock=FakeClock(START),
                             load_entrypoints=False)  # fmt: skip
    slow = Gamification.open(":memory:", config=NO_BOARDS, clock=FakeClock(START),
                             load_entrypoints=False)  # fmt: skip
    slow._parts.bulk.award = lambda *args: None  # type: ignore[method-assign]
    for g in (fast, slow):
        for user in ("ann", "bob", "cy"):  # dee stays new
            g.award_xp(user, 1, source="seed")
    try:
        yield fast, slow
    finally:
        fast.close()
        slow.close()


def rows(g: Gamification) -> list[str]:
    """The dump without what differs between any two engines: the migrations' log (when
    each opened) and the random salt of anonymous board names."""
    return [
        line for line in g.dump().splitlines()
        if "_sqlite_migrations" not in line and "anonymous_salt" not in line
    ]  # fmt: skip


def outcome(call: Any) -> object:
    try:
        return call()
    except (InvalidInput, IdempotencyConflict) as exc:
        return (type(exc).__name__, str(exc))


users = st.sampled_from(["ann", "bob", "cy", "dee"])
award = st.tuples(
    st.just("award"),
    users,
    st.one_of(*[st.integers(1, 40)] * 4, st.integers(100, 900)),  # mostly plain; level-ups
    st.sampled_from(["quiz", "post"]),
    st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3", "k4"])),
    st.one_of(st.none(), st.just({"n": 1})),
    st.one_of(st.none(), st.integers(0, 3)),  # at=START + that many minutes
)
other = st.one_of(
    st.tuples(st.just("profile"), users),
    st.tuples(st.just("points"), users, st.integers(1, 50)),
    st.tuples(st.just("boost"), users),
    st.tuples(st.just("nested"), users, st.integers(1, 40)),
    st.tuples(st.just("history"), users),
)
steps = st.lists(st.one_of(award, award, award, other), max_size=40)


def run_step(g: Gamification, step: tuple[Any, ...]) -> object:
    kind, user = step[0], step[1]
    if kind == "award":
        _, _, amount, source, key, metadata, minutes = step
        at = None if minutes is None else START + timedelta(minutes=minutes)
        return outcome(lambda: g.award_xp(user, amount, source=source, idempotency_key=key,
                                          metadata=metadata, at=at))  # fmt: skip
    if kind == "profile":
        return g.profile(user)
    if kind == "points":
        return g.award_points(user, step[2], currency="points", source="gift")
    if kind == "boost":
        return g.xp.add_boost(user, 2.0, expires_at=START + timedelta(hours=1), source="event")
    if kind == "history":
        return g.xp.history(user)
    with g.batch():
        return g.award_xp(user, step[2], source="nested")


@settings(max_examples=200, deadline=None)
@given(before=steps, inside=steps)
def test_buffered_awards_match_the_statement_path(
    before: list[tuple[Any, ...]], inside: list[tuple[Any, ...]]
) -> None:
    with engines() as (fast, slow):
        for step in before:  # outside a batch: both take the statement path
            assert run_step(fast, step) == run_step(slow, step)
        with fast.batch():
            fast_results = [run_step(fast, step) for step in inside]
        with slow.batch():
            slow_results = [run_step(slow, step) for step in inside]
        assert fast_results == slow_results
        assert rows(fast) == rows(slow)
        assert fast.verify_ledger().problems == ()


def test_plain_awards_are_buffered_until_the_batch_commits(db_path: Any) -> None:
    g = Gamification.open(db_path, config=NO_BOARDS, clock=FakeClock(START),
                          load_entrypoints=False)  # fmt: skip
    try:
        g.award_xp("ann", 1, source="seed")
        other = sqlite3.connect(db_path)
        with g.batch():
            for i in range(50):
                g.award_xp("ann", 1, source="quiz", idempotency_key=f"k{i}")
            # Nothing written yet, not even into this transaction.
            assert len(g._parts.bulk._awards) == 50
            # A read inside the batch sees every award (the buffer is written first).
            assert g.profile("ann").xp == 51
            assert g._parts.bulk._awards == []
            g.award_xp("ann", 1, source="quiz")
        (xp,) = other.execute("SELECT xp FROM profiles WHERE user_id = 'ann'").fetchone()
        assert xp == 52
        (rows,) = other.execute("SELECT COUNT(*) FROM xp_awards").fetchone()
        assert rows == 52
        other.close()
        # A retried key returns the stored award after the batch, as it would have.
        again = g.award_xp("ann", 1, source="quiz", idempotency_key="k7")
        assert (again.id, again.total_xp) == (9, 9)
    finally:
        g.close()


def test_an_error_in_the_batch_drops_the_buffer(make_engine: Any) -> None:
    g = make_engine(config=NO_BOARDS)
    g.award_xp("ann", 1, source="seed")
    with unchanged(g), pytest.raises(RuntimeError), g.batch():
        g.award_xp("ann", 5, source="quiz", idempotency_key="a")
        raise RuntimeError("host failure")
    # The key was never stored: using it again is a fresh award.
    assert g.award_xp("ann", 7, source="quiz", idempotency_key="a").amount == 7


def test_a_refused_award_leaves_the_batch_going(make_engine: Any) -> None:
    g = make_engine(config=NO_BOARDS)
    g.award_xp("ann", 1, source="seed")
    with g.batch():
        g.award_xp("ann", 5, source="quiz", idempotency_key="a")
        # dump() writes the buffer first: the refusals add nothing to it, or to the rows.
        with unchanged(g):
            with pytest.raises(IdempotencyConflict):
                g.award_xp("ann", 6, source="quiz", idempotency_key="a")
            with pytest.raises(InvalidInput, match="amount"):
                g.award_xp("ann", 0, source="quiz")
            assert g._parts.bulk._awards == []
        g.award_xp("ann", 5, source="quiz")
    assert g.profile("ann").xp == 11


def test_a_failed_write_of_the_buffer_aborts_the_batch(make_engine: Any, backend: str) -> None:
    g = make_engine(config=NO_BOARDS)
    g.award_xp("ann", 1, source="seed")
    if backend == "postgresql":  # a broken constraint there, which the storage layer raises
        g.db.execute(  # as sqlite3.IntegrityError too
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE check_violation USING MESSAGE = 'refused by a trigger'; END $$"
        )
        g.db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON xp_awards FOR EACH ROW "
            "WHEN (new.source = 'bad') EXECUTE FUNCTION refuse()"
        )
    else:
        g._store.conn.execute(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON xp_awards WHEN new.source = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
        )
    with unchanged(g), pytest.raises(sqlite3.IntegrityError), g.batch():
        g.award_xp("ann", 5, source="quiz")
        g.award_xp("ann", 5, source="bad")  # buffered: fails only when written
    with unchanged(g), pytest.raises(BatchAborted), g.batch():
        g.award_xp("bob", 5, source="quiz")
        g.award_xp("ann", 5, source="bad")
        with pytest.raises(sqlite3.IntegrityError):
            g.profile("ann")  # the read writes the buffer first, which fails
        g.award_xp("ann", 5, source="quiz")  # the batch is doomed: refused


def test_buffered_awards_fire_their_hooks_after_commit(make_engine: Any) -> None:
    seen: list[tuple[str, int]] = []

    class Listener:
        @hookimpl
        def on_xp_awarded(self, award: Any) -> None:
            seen.append((award.user_id, award.total_xp))

    g = make_engine(config=NO_BOARDS, plugins=(Listener(),))
    g.award_xp("ann", 1, source="seed")
    seen.clear()
    with g.batch():
        for _ in range(3):
            g.award_xp("ann", 2, source="quiz")
        assert seen == []
    assert seen == [("ann", 3), ("ann", 5), ("ann", 7)]


def test_plugins_take_the_statement_path_and_boards_get_every_buffered_award(
    make_engine: Any,
) -> None:
    class Double:
        @hookimpl
        def xp_multiplier(self) -> float:
            return 2.0

    default = make_engine()  # its XP board gets the buffered awards when they are written
    doubled = make_engine(config=NO_BOARDS, plugins=(Double(),))
    g = doubled
    g.award_xp("ann", 1, source="seed")
    with g.batch():
        g.award_xp("ann", 5, source="quiz")
        assert g._parts.bulk._awards == []
    assert doubled.profile("ann").xp == 2 + 10
    default.award_xp("ann", 1, source="seed")
    default.award_xp("bob", 1, source="seed")
    with default.batch():
        default.award_xp("ann", 5, source="quiz")
        default.award_xp("bob", 2, source="quiz")
        default.award_xp("ann", 3, source="quiz")
        assert len(default._parts.bulk._awards) == 3
        # A read inside the batch writes the buffer first: the board already counts them.
        assert default.boards.rank("ann", "xp", period="daily").score == 9
    for period in ("all_time", "daily", "weekly", "monthly"):
        assert default.boards.rank("ann", "xp", period=period).score == 9
        assert default.boards.rank("bob", "xp", period=period).score == 3


def test_a_batch_about_one_user_commits_like_any_batch(make_engine: Any) -> None:
    """``batch(user_id=)`` (that user's lock on PostgreSQL; nothing more on SQLite): its calls,
    about that user and another, commit together or not at all, and a bad ``user_id`` is
    refused before the batch begins, with nothing written."""
    g = make_engine()
    with g.batch(user_id="ada"):
        g.award_xp("ada", 30, source="t", idempotency_key="a1")
        g.award_points("ada", 5, currency="points", source="t", idempotency_key="a2")
        g.award_xp("bob", 10, source="t", idempotency_key="b1")
    assert (g.profile("ada").xp, g.balance("ada", "points"), g.profile("bob").xp) == (30, 5, 10)
    with pytest.raises(RuntimeError), g.batch(user_id="ada"):
        g.award_xp("ada", 30, source="t", idempotency_key="a3")
        raise RuntimeError("undo")
    assert g.profile("ada").xp == 30
    for bad in ("", 7, "x" * 1000):
        with unchanged(g), pytest.raises(InvalidInput, match="user_id"), g.batch(user_id=bad):  # type: ignore[arg-type]
            g.award_xp("ada", 1, source="t")
