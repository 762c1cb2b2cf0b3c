"""A keyed track()'s stored result: the text json would write, so results stored by earlier
versions replay unchanged; and the statuses it holds, built by the untouched-achievement
path, equal what the general path builds."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import START

from gamification_sdk import FakeClock, Gamification
from gamification_sdk.config.convert import converter
from gamification_sdk.models import AchievementStatus, QuestCompletion, TrackResult, Unlock
from gamification_sdk.progression.track_codec import track_codec
from gamification_sdk.runtime.idempotency import Codec

DEFINITIONS = {
    "achievements": [
        {"key": "first", "name": "First post \u00e9", "description": 'Post "once"',
         "icon": "\u2605",
         "criteria": {"type": "count", "event": "post", "target": 1},
         "rewards": {"xp": 5, "points": {"points": 2}, "title": "Starter", "items": {"badge": 1}}},
        {"key": "tiered", "name": "Tiered", "criteria": {"type": "count", "event": "post"},
         "tiers": [{"name": "bronze", "target": 1}, {"name": "silver", "target": 3}]},
        {"key": "heavy", "name": "Heavy",
         "criteria": {"type": "sum", "event": "post", "target": 10}},
    ],
    "rules": [{"event": "post", "xp": 10, "points": {"points": 1}}],
}  # fmt: skip

# What the code before the hand-written encoder stored for the two calls of ``_two_tracks``
# (json.JSONEncoder over the same lists): a file written then must replay these.
STORED_BEFORE = {
    "one": (
        '["alice","post",2.5,"2026-03-02T12:00:00+00:00","[\\"alice\\",1]",["[\\"alice\\",1]"],'
        '[["alice","first","First post \\u00e9","common",null,1,"2026-03-02T12:00:00+00:00",5,'
        '{"points":2},"Starter",{"badge":1},10,1],["alice","tiered","Tiered","common","bronze",1,'
        '"2026-03-02T12:00:00+00:00",0,{},null,{},10,1]],[["tiered","Tiered","","","general",'
        '"common",false,1,3,33.33,true,"2026-03-02T12:00:00+00:00",1,["bronze"],"silver",false],'
        '["heavy","Heavy","","","general","common",false,2.5,10,25.0,false,null,0,[],null,false]'
        '],true,"one",[]]'
    ),
    "two": (
        '["alice","post",1,"2026-03-02T12:00:00+00:00","[\\"alice\\",3]",["[\\"alice\\",3]"],[],'
        '[["tiered","Tiered","","","general","common",false,2,3,66.67,true,'
        '"2026-03-02T12:00:00+00:00",1,["bronze"],"silver",false],["heavy","Heavy","","",'
        '"general","common",false,3.5,10,35.0,false,null,0,[],null,false]],true,"two",[]]'
    ),
}


def _two_tracks(path: Path) -> tuple[Gamification, dict[str, TrackResult]]:
    g = Gamification.open(path, clock=FakeClock(START), load_entrypoints=False)
    g.events.load(DEFINITIONS, name="codec")
    return g, {
        "one": g.track("alice", "post", value=2.5, idempotency_key="one"),
        "two": g.track("alice", "post", idempotency_key="two"),
    }


def _stored(g: Gamification) -> dict[str, str]:
    return dict(g.db.execute("SELECT key, result FROM idempotency_keys").fetchall())


def test_a_keyed_track_stores_the_text_stored_before(tmp_path: Path) -> None:
    g, results = _two_tracks(tmp_path / "g.db")
    assert _stored(g) == STORED_BEFORE
    assert g.track("alice", "post", idempotency_key="two") == results["two"]
    g.close()


def test_a_result_stored_before_replays(tmp_path: Path) -> None:
    # The stored text replaced by the earlier code's (so this holds even if the encoder
    # ever writes another text): the replay rebuilds the same result from it.
    g, results = _two_tracks(tmp_path / "g.db")
    for key, text in STORED_BEFORE.items():  # autocommit: each statement commits
        g.db.execute("UPDATE idempotency_keys SET result = ? WHERE key = ?", (text, key))
    assert g.track("alice", "post", value=2.5, idempotency_key="one") == results["one"]
    assert g.track("alice", "post", idempotency_key="two") == results["two"]
    replayed = g.track("alice", "post", value=2.5, idempotency_key="one")
    assert [u.key for u in replayed.unlocked] == ["first", "tiered"]
    assert [(s.key, s.current, s.percent) for s in replayed.progress] == [
        ("tiered", 1, 33.33), ("heavy", 2.5, 25.0),
    ]  # fmt: skip
    g.close()


# -- the encoder against json, on results no engine call above produces ---------------------

_UNLOCK_FIELDS = tuple(f.name for f in attrs.fields(Unlock))
_STATUS_FIELDS = tuple(f.name for f in attrs.fields(AchievementStatus))


def _json_encoding(result: TrackResult, xp: Codec[Any], ledger: Codec[Any]) -> str:
    """The encoder before the hand-written one, as it was: the reference."""

    def row(value: Any, names: tuple[str, ...]) -> list[Any]:
        found = list(operator.attrgetter(*names)(value))
        at = names.index("unlocked_at")
        if found[at] is not None:
            found[at] = found[at].isoformat()
        return found

    return json.JSONEncoder(separators=(",", ":")).encode(
        [
            result.user_id, result.event, result.value, result.at.isoformat(),
            None if result.xp is None else xp.encode(result.xp),
            [ledger.encode(t) for t in result.points],
            [row(u, _UNLOCK_FIELDS) for u in result.unlocked],
            [row(s, _STATUS_FIELDS) for s in result.progress],
            result.rewarded, result.idempotency_key,
            [converter.unstructure(q) for q in result.quests],
        ],
    )  # fmt: skip


def _status(**changes: Any) -> AchievementStatus:
    fields: dict[str, Any] = {
        "key": "post", "name": "Post", "description": "", "icon": "", "category": "general",
        "rarity": "common", "hidden": False, "current": 4, "target": 10, "percent": 40.0,
        "unlocked": False, "unlocked_at": None, "times_unlocked": 0, "tiers_unlocked": (),
        "next_tier": None, "retired": False,
    }  # fmt: skip
    return AchievementStatus(**(fields | changes))


UNLOCK = Unlock(
    user_id="u", key="k", name="K \u00e9", rarity="rare", tier="gold", seq=2,
    unlocked_at=START, xp=5, points={"gems": 1}, title=None, items={}, achievement_points=10,
    version=3,
)  # fmt: skip
QUEST = QuestCompletion(
    user_id="u", key="q", name="Q", period="2026-03-02", seq=1, completed_at=START, xp=10,
    points={},
)  # fmt: skip
BASE = TrackResult(
    user_id="alice", event="post", value=1, at=START, xp=None, points=(), unlocked=(),
    progress=(), rewarded=True,
)  # fmt: skip
VARIANTS: list[dict[str, Any]] = [
    {},
    {"value": 2.5, "rewarded": False, "idempotency_key": "k\u00e9y\n"},
    {"value": 0.1 + 0.2, "xp": "award", "points": ("t1", "t2"), "unlocked": (UNLOCK,)},
    {"user_id": 'a "quoted" \\ user', "event": "\u2605\x01", "quests": (QUEST,)},
    {"at": START.replace(microsecond=123) + timedelta(hours=5)},
    {"progress": (_status(), _status(current=2.5, percent=25.0))},
    {"progress": (_status(name="Post \u00e9", description='say "hi"\t', icon="\u2605"),)},
    {
        "progress": (
            _status(
                hidden=True,
                retired=True,
                unlocked=True,
                unlocked_at=START,
                times_unlocked=3,
                tiers_unlocked=("bronze", "silver \u00e9"),
                next_tier="gold",
                current=True,
            ),
        )
    },
    {"progress": (_status(percent=float("nan"), current=float("inf"), target=2**60),)},
    {"progress": (_status(), _status(name="Renamed"), _status())},
]


@pytest.mark.parametrize("changes", VARIANTS)
def test_the_encoding_is_json_s(changes: dict[str, Any]) -> None:
    xp: Codec[Any] = Codec(lambda a: f"[xp {a}]", lambda t: t)
    ledger: Codec[Any] = Codec(lambda t: f'["ledger",{t!r}]', lambda t: t)
    codec = track_codec(xp, ledger)
    result = attrs.evolve(BASE, **changes)
    expected = _json_encoding(result, xp, ledger)
    assert codec.encode(result) == expected
    assert codec.encode(result) == expected  # the definition's fields now from the cache


# -- statuses: the untouched achievement's path against the general one ---------------------


def _general(g: Gamification, user: str, key: str) -> AchievementStatus:
    """``status`` with the untouched path made to step aside: an unlock of a tier no
    definition has (99), with no row, makes ``done`` non-empty and changes nothing else."""
    achievements = g.events._achievements
    ctx = achievements.context(user, START, START.isoformat())
    ctx._unlocks = {key: {99: []}}  # this context is the test's own
    status = achievements.status(ctx, achievements.catalogue.entries[key])
    assert status.unlocked  # the general path ran: ``done`` was not empty
    return attrs.evolve(status, unlocked=False)


@pytest.mark.parametrize("posts", [0, 1, 4])
def test_an_untouched_status_is_the_general_one(make_engine: Callable[..., Gamification],
                                                posts: int) -> None:  # fmt: skip
    g = make_engine()
    g.events.load(
        {"achievements": [
            {"key": "plain", "name": "Plain", "description": "d", "icon": "i", "category": "c",
             "rarity": "rare", "criteria": {"type": "count", "event": "post", "target": 30}},
            {"key": "sum", "name": "Sum", "criteria": {"type": "sum", "event": "post",
                                                      "target": 70}},
            {"key": "tiers", "name": "Tiers", "criteria": {"type": "count", "event": "post"},
             "tiers": [{"name": "bronze", "target": 50}, {"name": "silver", "target": 90}]},
        ]},
        name="s",
    )  # fmt: skip
    for _ in range(posts):
        g.track("bob", "post", value=2)
    for key in ("plain", "sum", "tiers"):
        status = g.achievements.get("bob", key)
        assert not status.unlocked and status.current == posts * (2 if key == "sum" else 1)
        assert status == _general(g, "bob", key)


def test_the_definition_fields_of_a_status_follow_the_definition() -> None:
    # Entry.shown is the definition's, for the untouched path to build statuses from.
    g = Gamification.open(":memory:", clock=FakeClock(START), load_entrypoints=False)
    g.events.load(DEFINITIONS, name="codec")
    entry = g.events._achievements.catalogue.entries["first"]
    assert entry.shown == ("first", "First post \u00e9", 'Post "once"', "\u2605", "general",
                           "common", False)  # fmt: skip
    g.close()


def test_users_at_one_value_share_a_status_only_while_untouched(
    make_engine: Callable[..., Gamification],
) -> None:
    g = make_engine()

    def load(target: int, name: str) -> None:
        criteria = {"type": "count", "event": "post", "target": target}
        g.events.load({"achievements": [{"key": "k", "name": name, "criteria": criteria}]},
                      name="s")  # fmt: skip

    load(1, "K")
    g.track("ann", "post")  # unlocks k
    load(5, "K")
    first, second = g.track("bob", "post"), g.track("cy", "post")
    assert first.progress == second.progress
    bob = g.achievements.get("bob", "k")
    assert (bob.unlocked, bob.current, bob.target, bob.percent) == (False, 1, 5, 20.0)
    assert g.achievements.get("cy", "k") == bob
    ann = g.achievements.get("ann", "k")  # at the same count, but it has unlocked k
    assert (ann.unlocked, ann.times_unlocked) == (True, 1)
    load(5, "Renamed")  # a new catalogue: nothing kept from the one before
    assert g.achievements.get("bob", "k") == attrs.evolve(bob, name="Renamed")
