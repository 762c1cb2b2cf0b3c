"""The hooks through which a plugin keeps data of its own with the engine's: inside the
transaction that stores a notification (``notification_stored``), and its own tables on
PostgreSQL, migrated at open with the engine's (``register_postgres_migrations``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from conftest import unchanged

from gamification_sdk import FakeClock, Gamification, errors, hookimpl
from gamification_sdk.models import Notification

Make = Callable[..., Gamification]


# -- notification_stored ---------------------------------------------------------------------


class Keeper:
    """Keeps each notification with the write that stores it; refuses those of ``refuse``."""

    def __init__(self, refuse: str = "") -> None:
        self.seen: list[tuple[Notification, bool]] = []
        self.refuse = refuse

    @hookimpl
    def notification_stored(self, engine: Gamification, notification: Notification) -> None:
        self.seen.append((notification, engine.db.conn.in_transaction))
        if notification.user_id == self.refuse:
            raise RuntimeError("the plugin could not keep it")


def test_notification_stored_runs_inside_the_storing_transaction(make_engine: Make) -> None:
    keeper = Keeper(refuse="bo")
    g = make_engine(plugins=(keeper,))
    g.award_xp("ada", 450, source="quiz")  # a level-up: one notification
    (note,) = g.notifications.list("ada")
    assert keeper.seen == [(note, True)]
    # Raising there rolls the whole write back.
    with unchanged(g), pytest.raises(RuntimeError, match="could not keep it"):
        g.award_xp("bo", 450, source="quiz")
    # A write that rolls back afterwards takes the notification with it: the plugin was told
    # inside the transaction, so what it wrote there goes too.
    with unchanged(g), pytest.raises(KeyError), g.batch():
        g.award_xp("cy", 450, source="quiz")
        raise KeyError("the host's own failure")
    assert [n.user_id for n, _ in keeper.seen] == ["ada", "bo", "cy"]
    # A kind the user switched off is not stored, and not announced.
    g.notifications.set_preferences("ada", level_up=False)
    g.award_xp("ada", 5000, source="quiz")
    assert len(keeper.seen) == 3


# -- register_postgres_migrations ------------------------------------------------------------


class Tables:
    """A plugin with tables of its own on PostgreSQL."""

    def __init__(self, *steps: tuple[int, str, str], name: str = "example-tables") -> None:
        self.steps = steps
        self.name = name
        self.asked = 0

    @hookimpl
    def register_postgres_migrations(
        self, register: Callable[[str, Sequence[tuple[int, str, str]]], None]
    ) -> None:
        self.asked += 1
        register(self.name, self.steps)


V1 = (1, "x001_rows", "CREATE TABLE example_rows (id BIGINT PRIMARY KEY)")
V2 = (2, "x002_note", "ALTER TABLE example_rows ADD COLUMN note TEXT")
OTHER = (1, "o001_rows", "CREATE TABLE other_rows (id BIGINT PRIMARY KEY)")


def test_register_postgres_migrations_is_not_asked_on_a_file() -> None:
    tables = Tables(V1)
    with Gamification.open(":memory:", plugins=[tables], load_entrypoints=False) as g:
        assert tables.asked == 0 and "example_rows" not in g.db.table_names()


@pytest.mark.postgresql_only(reason="a file's plugin tables are the plugin's own migrations")
def test_register_postgres_migrations_makes_a_plugin_s_tables_at_open(
    place: Callable[[str], dict[str, Any]], clock: FakeClock
) -> None:
    def open_with(*plugins: object) -> Gamification:
        return Gamification.open(
            **place("shared"), clock=clock, plugins=plugins, load_entrypoints=False
        )

    def recorded(g: Gamification) -> list[tuple[Any, ...]]:
        sql = "SELECT plugin, version, name FROM plugin_migrations ORDER BY plugin, version"
        return [tuple(row) for row in g.db.execute(sql).fetchall()]

    with open_with(Tables(V1)) as g:
        assert "example_rows" in g.db.table_names()
        assert recorded(g) == [("example-tables", 1, "x001_rows")]
    with open_with(Tables(V1, V2), Tables(OTHER, name="other")) as g:  # only what is new runs
        g.db.execute("INSERT INTO example_rows (id, note) VALUES (1, 'kept')")
        assert recorded(g) == [
            ("example-tables", 1, "x001_rows"), ("example-tables", 2, "x002_note"),
            ("other", 1, "o001_rows"),
        ]  # fmt: skip
    with open_with() as g:  # a server without the plugins opens: their tables are not its
        before = g.dump()
    with pytest.raises(errors.SchemaTooNew) as raised:  # an older plugin on a newer schema
        open_with(Tables(V1))
    assert raised.value.migrations == ["example-tables 2"]
    bad: list[tuple[object, ...]] = [
        (Tables(V1), Tables(V1)),  # one name twice
        (Tables(V2, V1),),  # versions going down
        (Tables((0, "x000", "SELECT 1")),),  # not positive
        (Tables(("1", "x001", "SELECT 1")),),  # type: ignore[arg-type]
    ]
    for plugins in bad:
        with pytest.raises(errors.ConfigError, match="register_postgres_migrations"):
            open_with(*plugins)
    with open_with() as g:
        assert g.dump() == before  # nothing written by a refused open


class Refusing:
    """A plugin whose tables cannot be described: its hook raises."""

    @hookimpl
    def register_postgres_migrations(self, register: Callable[..., None]) -> None:
        raise RuntimeError("no tables today")


@pytest.mark.postgresql_only(reason="a file never asks register_postgres_migrations")
def test_a_plugin_raising_in_register_postgres_migrations_fails_the_open_writing_nothing(
    place: Callable[[str], dict[str, Any]], clock: FakeClock
) -> None:
    with Gamification.open(**place("shared"), clock=clock, load_entrypoints=False) as g:
        g.award_xp("ada", 10, source="seed")
        before = g.dump()
    with pytest.raises(RuntimeError, match="no tables today"):
        Gamification.open(
            **place("shared"), clock=clock, plugins=[Refusing()], load_entrypoints=False
        )
    with Gamification.open(**place("shared"), clock=clock, load_entrypoints=False) as g:
        assert g.dump() == before
        g.award_xp("ada", 5, source="after")  # no lock or session left behind
        assert g.profile("ada").xp == 15
