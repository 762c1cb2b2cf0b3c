"""A track() whose rule pays XP reads the user's profile once: its first read (TRACK_AWARD_PROFILE)
is the award's too (XP.award's ``state``), unless an XP write came between them (XP.writes), in
which case the award reads the profile again."""

from __future__ import annotations

from datetime import timedelta

from gamification_sdk import FakeClock, Gamification

RULE = {"rules": [{"event": "post", "xp": 10}]}
# A quest the same track completes: it pays its XP before the rule's award.
QUEST = {
    **RULE,
    "quests": [
        {"key": "hello", "name": "Say hello", "recurrence": "one_time", "rewards": {"xp": 5},
         "objectives": [{"event": "post", "target": 1}]},
    ],
}  # fmt: skip


def award_reads(g: Gamification, call: object) -> int:
    """How many statements of ``call()`` read a user's XP state (the award's columns)."""
    seen: list[str] = []
    g.db.conn.set_trace_callback(seen.append)
    try:
        call()  # type: ignore[operator]
    finally:
        g.db.conn.set_trace_callback(None)
    return sum("xp_at_prestige" in s and s.lstrip().upper().startswith("SELECT") for s in seen)


def log(g: Gamification) -> list[tuple[int, int, int, str]]:
    return [(e.id, e.amount, e.total_xp, e.source) for e in g.xp.history("ada")]


def test_a_track_paying_xp_reads_the_profile_once(g: Gamification) -> None:
    g.events.load(RULE, name="rules")
    g.track("ada", "post")
    assert award_reads(g, lambda: g.track("ada", "post", idempotency_key="k")) == 1
    assert award_reads(g, lambda: g.track("ada", "post")) == 1
    assert g.profile("ada").xp == 30
    assert log(g) == [
        (3, 10, 30, "event:post"),
        (2, 10, 20, "event:post"),
        (1, 10, 10, "event:post"),
    ]
    assert not g.verify_ledger()


def test_a_quest_paying_xp_first_makes_the_rule_s_award_read_again(g: Gamification) -> None:
    g.events.load(QUEST, name="rules")
    g.award_xp("ada", 3, source="warm")  # ada has a profile: the track's read finds her row
    result = g.track("ada", "post")
    assert [q.xp for q in result.quests] == [5]
    assert result.xp is not None
    assert (result.xp.id, result.xp.total_xp) == (3, 18)
    assert g.profile("ada").xp == 18
    assert log(g) == [(3, 10, 18, "event:post"), (2, 5, 8, "quest:hello"), (1, 3, 3, "warm")]
    assert not g.verify_ledger()


def test_the_quest_s_award_reads_again_and_the_next_track_hands_over(g: Gamification) -> None:
    g.events.load(QUEST, name="rules")
    g.award_xp("ada", 3, source="warm")
    # The track's read, the quest's award's own, and the rule's award's again.
    assert award_reads(g, lambda: g.track("ada", "post")) == 3
    # The quest is done: nothing writes XP before the rule's award.
    assert award_reads(g, lambda: g.track("ada", "post")) == 1
    assert g.profile("ada").xp == 28
    assert not g.verify_ledger()


def test_an_active_boost_multiplies_a_handed_over_award(g: Gamification, clock: FakeClock) -> None:
    g.events.load(RULE, name="rules")
    g.track("ada", "post")
    g.xp.add_boost("ada", 2.0, expires_at=clock() + timedelta(hours=1), source="event")
    result = g.track("ada", "post")
    assert result.xp is not None
    assert (result.xp.amount, result.xp.multiplier, result.xp.total_xp) == (20, 2.0, 30)
    clock.advance(hours=2)
    assert g.track("ada", "post").xp.amount == 10  # type: ignore[union-attr]


def test_a_new_user_and_a_batch_of_one_user_s_tracks(g: Gamification) -> None:
    g.events.load(RULE, name="rules")
    assert g.track("bo", "post").xp.total_xp == 10  # type: ignore[union-attr]
    with g.batch():
        g.track("ada", "post")
        g.track("ada", "post", idempotency_key="b1")
        g.award_xp("ada", 1, source="between")
        g.track("ada", "post")
    assert log(g) == [
        (4, 10, 31, "event:post"),
        (3, 1, 21, "between"),
        (2, 10, 20, "event:post"),
        (1, 10, 10, "event:post"),
    ]
    assert not g.verify_ledger()
