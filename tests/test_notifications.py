"""The notifications outbox, the notify hook, preferences, titles and items."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import unchanged

from gamification_sdk import Config, Gamification, LevelReward, LevelsConfig, errors, hookimpl
from gamification_sdk.models import Notification

Make = Callable[..., Gamification]


class Outbox:
    def __init__(self) -> None:
        self.delivered: list[Notification] = []

    @hookimpl
    def notify(self, engine: Gamification, notification: Notification) -> None:
        stored = engine.notifications.list(notification.user_id, unread_only=False)
        assert notification in stored  # delivered after commit: it is already readable
        self.delivered.append(notification)


def test_level_up_is_stored_and_delivered_after_commit(make_engine: Make) -> None:
    outbox = Outbox()
    g = make_engine(plugins=(outbox,))
    g.award_xp("ada", 450, source="quiz")  # level 3
    [note] = g.notifications.list("ada")
    assert (note.kind, note.data) == ("level_up", {"old_level": 1, "new_level": 3, "award_id": 1})
    assert outbox.delivered == [note]


def test_nothing_is_delivered_for_a_rolled_back_write(make_engine: Make) -> None:
    outbox = Outbox()
    g = make_engine(plugins=(outbox,))
    with pytest.raises(RuntimeError), g.batch():
        g.award_xp("ada", 450, source="quiz")
        raise RuntimeError("undo")
    assert outbox.delivered == [] and g.notifications.list("ada") == []


def test_preferences_switch_kinds_off(make_engine: Make) -> None:
    outbox = Outbox()
    g = make_engine(plugins=(outbox,))
    prefs = g.notifications.set_preferences("ada", level_up=False)
    assert prefs["level_up"] is False and prefs["achievement_unlocked"] is True
    g.award_xp("ada", 450, source="quiz")
    assert g.notifications.list("ada") == [] and outbox.delivered == []
    assert g.notifications.preferences("ada")["level_up"] is False
    g.notifications.set_preferences("ada", level_up=True)
    g.award_xp("ada", 1000, source="quiz")
    assert len(g.notifications.list("ada")) == 1


@pytest.mark.parametrize("kinds", [{}, {"nope": True}, {"level_up": "no"}])
def test_bad_preferences_are_refused(g: Gamification, kinds: dict[str, object]) -> None:
    g.award_xp("ada", 1, source="x")
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.notifications.set_preferences("ada", **kinds)  # type: ignore[arg-type]


def test_mark_read_some_or_all(g: Gamification) -> None:
    for amount in (150, 300, 600):  # three level-ups
        g.award_xp("ada", amount, source="quiz")
    newest, middle, oldest = g.notifications.list("ada")
    assert g.notifications.mark_read("ada", [oldest.id, 999_999]) == 1
    assert [n.id for n in g.notifications.list("ada")] == [newest.id, middle.id]
    assert g.notifications.mark_read("bob", [newest.id]) == 0  # not bob's
    assert g.notifications.mark_read("ada") == 2
    assert g.notifications.list("ada") == []
    assert len(g.notifications.list("ada", unread_only=False, limit=2)) == 2
    with unchanged(g), pytest.raises(errors.InvalidInput):
        g.notifications.mark_read("ada", [0])


def test_titles_from_level_rewards_can_be_equipped(make_engine: Make) -> None:
    config = Config(levels=LevelsConfig(rewards=(LevelReward(2, titles=("Novice",)),)))
    g = make_engine(config=config)
    g.award_xp("ada", 100, source="x")
    assert g.users.inventory("ada").titles == ("Novice",)
    assert g.users.equip_title("ada", "Novice").equipped_title == "Novice"
    with unchanged(g), pytest.raises(errors.NotFound):
        g.users.equip_title("ada", "Champion")  # not owned
    with unchanged(g), pytest.raises(errors.NotFound):
        g.users.equip_title("nobody", "Novice")
    assert g.users.equip_title("ada", None).equipped_title is None


def test_items_add_up(g: Gamification) -> None:
    g.events.load(
        {"achievements": [
            {"key": "a", "name": "A", "criteria": {"type": "first_time", "event": "a"},
             "rewards": {"items": {"potion": 2, "frame": 1}}},
            {"key": "b", "name": "B", "criteria": {"type": "first_time", "event": "b"},
             "rewards": {"items": {"potion": 3}}}]},
        name="items",
    )  # fmt: skip
    g.track("ada", "a")
    g.track("ada", "b")
    assert g.users.inventory("ada").items == {"frame": 1, "potion": 5}
