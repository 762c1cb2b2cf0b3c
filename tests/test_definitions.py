"""Definition sets: strict loading, every problem named, versions, retirement."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import unchanged

from gamification_sdk import Gamification, errors

Make = Callable[..., Gamification]


def ach(key: str, target: int = 1, **extra: Any) -> dict[str, Any]:
    default = {"type": "count", "event": "post", "target": target}
    return {"key": key, "name": key.title(), "criteria": default, **extra}


def problems(g: Gamification, data: Any, name: str = "set") -> list[str]:
    with unchanged(g), pytest.raises(errors.ConfigError) as info:
        g.events.load(data, name=name)
    return info.value.problems


def test_load_twice_changes_nothing_then_update_and_retire(g: Gamification) -> None:
    first = g.events.load({"achievements": [ach("a"), ach("b")]}, name="s")
    assert (first.added, first.updated, first.retired) == (("a", "b"), (), ())
    with unchanged(g):
        again = g.events.load({"achievements": [ach("a"), ach("b")]}, name="s")
    assert (again.added, again.updated, again.retired, again.unchanged) == ((), (), (), ("a", "b"))
    g.track("ada", "post")  # earns a and b
    changed = g.events.load({"achievements": [ach("a", 5)]}, name="s")
    assert (changed.updated, changed.retired) == (("a",), ("b",))
    versions = dict(g.db.execute("SELECT key, version FROM definitions").fetchall())
    assert versions == {"a": 2, "b": 1}
    # b is retired: still earned by ada, gone for everyone else.
    assert g.achievements.get("ada", "b").retired and g.achievements.get("ada", "b").unlocked
    assert [s.key for s in g.achievements.list("bob")] == ["a"]
    with pytest.raises(errors.NotFound):
        g.achievements.get("bob", "b")
    g.track("bob", "post")
    bobs = "SELECT COUNT(*) FROM achievement_unlocks WHERE user_id = 'bob'"
    assert g.db.execute(bobs).fetchone()[0] == 0
    # Coming back bumps the version again and unlocks for new users.
    back = g.events.load({"achievements": [ach("a", 5), ach("b")]}, name="s")
    assert back.updated == ("b",)
    assert [u.key for u in g.track("cyd", "post").unlocked] == ["b"]


def test_unlocks_record_the_version(g: Gamification) -> None:
    g.events.load({"achievements": [ach("a", 2)]}, name="s")
    g.events.load({"achievements": [ach("a", 1)]}, name="s")
    g.track("ada", "post")
    assert g.track("ada", "post").unlocked == ()
    assert g.track("bob", "post").unlocked[0].version == 2


def test_a_bad_file_is_rejected_whole_with_every_problem(g: Gamification, tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"achievements": [
        ach("ok"),
        ach("a", criteria={"type": "count", "event": "post", "target": "3"}),
        ach("b", criteria={"type": "bogus"}),
        ach("ok"),
        ach("c", rarity="shiny"),
    ]}))  # fmt: skip
    with unchanged(g), pytest.raises(errors.ConfigError) as info:
        g.events.load(path)
    found = info.value.problems
    assert "catalogue.json: achievements[1].criteria.target: expected int, got str '3'" in found
    assert any(p.startswith("catalogue.json: achievements[2].criteria: unknown criteria type")
               for p in found)  # fmt: skip
    assert any(p.startswith("catalogue.json: achievements[4].rarity") for p in found)
    assert g.db.execute("SELECT COUNT(*) FROM definitions").fetchone()[0] == 0


def test_semantic_problems_are_all_named(g: Gamification) -> None:
    found = problems(g, {"achievements": [
        ach("a", prerequisites=["b"]),
        ach("b", prerequisites=["a"]),
        ach("dup"),
        ach("lvl", criteria={"type": "level", "target": 101}),
        ach("zero", 0),
        ach("tiers", criteria={"type": "count", "event": "x"},
            tiers=[{"name": "t1", "target": 5}, {"name": "t2", "target": 5}]),
        ach("money", criteria={"type": "points_earned", "currency": "gold", "target": 1}),
        ach("set", criteria={"type": "collection", "keys": ["nope"]}),
        ach("win", criteria={"type": "window", "event": "x", "target": 1}),
        ach("tod", criteria={"type": "time_of_day", "event": "x", "start": "25:00",
                             "end": "05:00", "target": 1}),
        ach("pre", prerequisites=["missing"]),
        ach("dup"),
    ], "rules": [{"event": "x"}, {"event": "y", "xp": 1}, {"event": "y", "xp": 2}]})  # fmt: skip
    expected = [
        "set: achievements[11].key: duplicate key 'dup'",
        "set: achievements[3].criteria.target: level 101 is above max_level 100: impossible",
        "set: achievements[4].criteria.target: expected an int from 1 to 2**53, got 0",
        "set: achievements[5].tiers[1].target: tier targets must strictly increase",
        "set: achievements[6].criteria.currency: unknown currency 'gold'",
        "set: achievements[7].criteria.keys[0]: unknown achievement 'nope'",
        "set: achievements[8].criteria: give exactly one of days (rolling) or period (calendar)",
        "set: achievements[9].criteria.start: expected HH:MM, got '25:00'",
        "set: achievements[10].prerequisites[0]: unknown achievement 'missing'",
        "set: rules[0]: a rule must give xp or points",
        "set: rules[2].event: two rules for 'y'",
    ]
    for line in expected:
        assert line in found
    assert any("prerequisite cycle: a -> b -> a" in p for p in found)


def test_sets_cannot_collide(g: Gamification) -> None:
    g.events.load({"achievements": [ach("a")], "rules": [{"event": "x", "xp": 1}]}, name="one")
    found = problems(g, {"achievements": [ach("a")], "rules": [{"event": "x", "xp": 2}]}, "two")
    assert found == [
        "two: achievements[0].key: 'a' is already defined by another definition set",
        "two: rules[0].event: 'x' has a rule in another definition set",
    ]


@pytest.mark.parametrize(
    "data",
    [{"achievements": "x"}, {"extra": []}, {"achievements": [{"key": "a"}]}],
)
def test_malformed_sets(g: Gamification, data: Any) -> None:
    assert problems(g, data)


def test_a_mapping_needs_a_name_and_files_must_exist(g: Gamification, tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidInput, match="source"):
        g.events.load([], name="x")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput):
        g.events.load({"achievements": []})
    with pytest.raises(errors.ConfigError, match="cannot read"):
        g.events.load(tmp_path / "missing.toml")


def test_toml_files_load(g: Gamification, tmp_path: Path) -> None:
    path = tmp_path / "pack.toml"
    path.write_text(
        '[[rules]]\nevent = "post"\nxp = 3\n\n'
        '[[achievements]]\nkey = "p"\nname = "P"\n'
        'criteria = { type = "count", event = "post", target = 2 }\n'
        '[[achievements.tiers]]\nname = "x"\ntarget = 1\n'
    )
    found = problems(g, path, name="pack")  # tiers and a target at once
    assert found == ["pack: achievements[0].criteria.target: give targets in tiers, not here, "
                     "for a tiered one"]  # fmt: skip
    path.write_text(path.read_text().replace(", target = 2", ""))
    assert g.events.load(path).added == ("p", "rule:post")
    assert g.track("ada", "post").xp is not None


# -- every problem at once ------------------------------------------------------------------


def test_two_problems_in_two_entries_are_both_reported(g: Gamification) -> None:
    found = problems(g, {"achievements": [
        ach("a", name=5),
        ach("b", prerequisites=["nope"]),
        ach("c", criteria={"type": "count", "event": "post", "target": "3"}),
    ], "rules": [{"event": "x"}, {"event": "y", "xp": "1"}]})  # fmt: skip
    assert found == [
        "set: rules[1].xp: expected int, got str '1'",
        "set: achievements[0].name: expected str, got int 5",
        "set: achievements[2].criteria.target: expected int, got str '3'",
        "set: achievements[1].prerequisites[0]: unknown achievement 'nope'",
        "set: rules[0]: a rule must give xp or points",
    ]


def test_an_entry_that_does_not_load_still_counts_for_the_others(g: Gamification) -> None:
    g.events.load({"achievements": [ach("taken")]}, name="other")
    found = problems(g, {"achievements": [
        ach("a", name=5),
        ach("b", prerequisites=["a"], criteria={"type": "collection", "keys": ["a"]}),
        ach("a", rarity="shiny"),
        ach("b"),
        ach("taken", name=5),
    ]})  # fmt: skip
    assert "set: achievements[2].key: duplicate key 'a'" in found
    assert "set: achievements[3].key: duplicate key 'b'" in found
    assert "set: achievements[4].key: 'taken' is already defined by another definition set" in (
        found
    )
    assert not any("unknown achievement" in p for p in found)  # 'a' is defined, if broken


def test_a_top_level_problem_names_its_set_or_file(g: Gamification, tmp_path: Path) -> None:
    assert problems(g, {"achievementz": []}, name="top") == [
        "top: (top level): unknown field(s): achievementz"
    ]
    assert problems(g, {"achievementz": [], "rules": [{"event": "x"}]}, name="top") == [
        "top: (top level): unknown field(s): achievementz",
        "top: rules[0]: a rule must give xp or points",
    ]
    assert problems(g, {"achievements": "x"}) == ["set: achievements: expected a list, got str"]
    assert problems(g, {"achievements": [5]}) == [
        "set: achievements[0]: expected a table/object, got int"
    ]
    path = tmp_path / "catalogue.json"
    for text, problem in [('{"achievementz": []}', "(top level): unknown field(s): achievementz"),
                          ("[]", "(top level): expected a table/object")]:  # fmt: skip
        path.write_text(text)
        with unchanged(g), pytest.raises(errors.ConfigError) as info:
            g.events.load(path)
        assert info.value.problems == [f"catalogue.json: {problem}"]
        assert info.value.source == "catalogue.json"


# -- collection cycles ----------------------------------------------------------------------


def collection(key: str, *members: str, **extra: Any) -> dict[str, Any]:
    return ach(key, criteria={"type": "collection", "keys": list(members)}, **extra)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([collection("a", "a")],
         ["achievements[0].criteria: collection cycle: a -> a: 'a' can never unlock"]),
        ([ach("x"), collection("a", "b", "x"), collection("b", "a")],
         ["achievements[1].criteria: collection cycle: a -> b -> a: 'a', 'b' can never unlock"]),
        ([collection("a", "b"), collection("b", "c"), collection("c", "a")],
         ["achievements[0].criteria: collection cycle: a -> b -> c -> a: 'a', 'b', 'c' can "
          "never unlock"]),
        ([collection("a", "b"), ach("b", prerequisites=["a"])],
         ["achievements[0].criteria: collection cycle: a -> b -> a: 'a', 'b' can never unlock"]),
        ([ach("a", criteria={"type": "all", "criteria": [
            {"type": "level", "target": 2}, {"type": "collection", "keys": ["a"]}]})],
         ["achievements[0].criteria: collection cycle: a -> a: 'a' can never unlock"]),
        ([ach("a", prerequisites=["b"]), ach("b", prerequisites=["a"])],
         ["achievements[0].prerequisites: prerequisite cycle: a -> b -> a"]),
    ],
)  # fmt: skip
def test_collection_cycles_are_refused(
    g: Gamification, entries: list[dict[str, Any]], expected: list[str]
) -> None:
    assert problems(g, {"achievements": entries}) == [f"set: {line}" for line in expected]


def test_a_collection_cycle_across_sets_is_refused(g: Gamification) -> None:
    g.events.load({"achievements": [ach("b")]}, name="two")
    g.events.load({"achievements": [collection("c", "b")]}, name="one")
    assert problems(g, {"achievements": [ach("b", prerequisites=["c"])]}, name="two") == [
        "two: achievements[0].prerequisites: collection cycle: b -> c -> b: 'b', 'c' can never "
        "unlock"
    ]
    assert problems(g, {"achievements": [collection("a", "c"), ach("b", prerequisites=["a"])]},
                    name="two") == [
        "two: achievements[0].criteria: collection cycle: a -> c -> b -> a: 'a', 'c', 'b' can "
        "never unlock"
    ]  # fmt: skip


def test_a_collection_with_a_way_around_itself_loads(g: Gamification) -> None:
    g.events.load({"achievements": [ach("a", criteria={"type": "any", "criteria": [
        {"type": "collection", "keys": ["a"]}, {"type": "count", "event": "post", "target": 2}]})]},
        name="s")  # fmt: skip
    g.track("ada", "post")
    assert [u.key for u in g.track("ada", "post").unlocked] == ["a"]
