"""The slotted XP board logs one row per change of a listed profile (m024), which readers
expand (social/log_replay.py). The reference is the trigger it replaced, which wrote each
period's exit and entry as rows of their own: kept here, writing into a shadow table beside
the real one, its rows must equal the expansion of the new rows, in order, after any mix of
awards (back-dated ones too), privacy changes and days, weeks and months going by."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import Config, FakeClock, Gamification, LeaderboardsConfig
from gamification_sdk.social.log_replay import slot_changes
from gamification_sdk.storage.board_slots import SLOTS, SLOTS_ROW, listed_sql
from gamification_sdk.storage.boards import LOG_FROM

pytestmark = pytest.mark.sqlite_only(reason="PostgreSQL keeps no slots: it writes no slots rows")

PUBLIC = Config(leaderboards=LeaderboardsConfig(visibility="public", show_on_global=True))
PRIVATE = Config(leaderboards=LeaderboardsConfig(visibility="private", show_on_global=False))


def per_arm_trigger(defaults: tuple[str, int]) -> str:
    """The trigger m024 replaced (a row per period's exit and entry), into lb_log_shadow."""
    visibility, on_global = f"'{defaults[0]}'", str(defaults[1])
    old, new = listed_sql("old", visibility, on_global), listed_sql("new", visibility, on_global)
    arms = []
    for slot in range(SLOTS + 1):
        p, r = f"lb_p{slot}", f"lb_r{slot}"
        s_old, s_new = ("old.xp", "new.xp") if slot == 0 else (f"old.lb_s{slot}", f"new.lb_s{slot}")
        same = f"old.{p} IS new.{p}"
        arms.append(
            f"SELECT old.{p}, old.user_id, {s_old}, old.{r}, 1, NULL, NULL, 0 "
            f"WHERE old.{p} IS NOT NULL AND old.{p} IS NOT new.{p} AND {old}"
        )
        arms.append(
            f"SELECT new.{p}, new.user_id, "
            f"CASE WHEN {same} THEN {s_old} END, CASE WHEN {same} THEN old.{r} END, "
            f"CASE WHEN {same} THEN {old} ELSE 0 END, {s_new}, new.{r}, {new} "
            f"WHERE new.{p} IS NOT NULL AND new.{r} IS NOT NULL "
            f"AND ({new} OR ({same} AND {old})) AND NOT ({same} AND {s_old} IS {s_new} "
            f"AND old.{r} IS new.{r} AND {old} = {new})"
        )
    read = ["user_id", "xp", "visibility", "show_on_global", "lb_p0", "lb_r0"]
    for slot in range(1, SLOTS + 1):
        read += [f"lb_p{slot}", f"lb_s{slot}", f"lb_r{slot}"]
    return (
        f"CREATE TEMP TRIGGER lb_slots_log_shadow AFTER UPDATE OF {', '.join(read)} "
        f"ON main.profiles WHEN {old} OR {new} BEGIN INSERT INTO lb_log_shadow (period_id, "
        "user_id, old_score, old_reached, old_listed, score, reached, listed) "
        f"{' UNION ALL '.join(arms)}; END"
    )


def shadowed(path: Path, config: Config, clock: FakeClock) -> Gamification:
    g = Gamification.open(path, config=config, clock=clock, load_entrypoints=False)
    conn = g.db.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS lb_log_shadow (seq INTEGER PRIMARY KEY, period_id, user_id, "
        "old_score, old_reached, old_listed, score, reached, listed)"
    )
    defaults = conn.execute("SELECT value FROM lb_settings WHERE name = 'defaults'").fetchone()
    visibility, on_global = json.loads(defaults[0])
    conn.execute(per_arm_trigger((visibility, int(on_global))))
    return g


def expanded(g: Gamification) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    for row in g.db.conn.execute(LOG_FROM, (0,)):
        if row[1] == SLOTS_ROW:
            found += [tuple(change) for change in slot_changes(row)]
    return found


def shadow(g: Gamification) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in g.db.conn.execute(
            "SELECT period_id, user_id, old_score, old_reached, old_listed, score, reached, "
            "listed FROM lb_log_shadow ORDER BY seq"
        )
    ]


steps = st.lists(
    st.tuples(
        st.integers(0, 3),  # user
        st.sampled_from(["award", "award", "award", "late", "privacy", "visibility"]),
        st.sampled_from([0, 1, 3, 20, 24 * 6, 24 * 31]),  # hours to move on first
        st.integers(1, 9),  # XP
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, public=st.booleans())
def test_property_one_row_per_change_expands_to_the_rows_of_the_trigger_it_replaced(
    steps: list[tuple[int, str, int, int]], public: bool, tmp_path_factory: Any
) -> None:
    clock = FakeClock(START)
    path = tmp_path_factory.mktemp("slots") / "g.db"
    g = shadowed(path, PUBLIC if public else PRIVATE, clock)
    seen: set[str] = set()
    try:
        for user_no, action, hours, xp in steps:
            user = f"u{user_no}"
            clock.advance(hours=hours, seconds=1)
            if action == "award":
                g.award_xp(user, xp, source="t")
                seen.add(user)
            elif action == "late":  # dated in the day before: an older period than the slot's
                g.award_xp(user, xp, source="t", at=clock() - timedelta(days=1))
                seen.add(user)
            elif user in seen:
                now = g.social.privacy(user)
                if action == "privacy":
                    g.social.set_privacy(user, show_on_global=not now.show_on_global)
                else:
                    flipped = "private" if now.visibility == "public" else "public"
                    g.social.set_privacy(user, visibility=flipped)
        assert expanded(g) == shadow(g)
    finally:
        g.close()


def test_a_plain_award_of_a_listed_user_appends_one_row(tmp_path: Path) -> None:
    clock = FakeClock(START)
    g = shadowed(tmp_path / "g.db", PUBLIC, clock)
    try:
        g.award_xp("ann", 5, source="t")
        before = g.db.conn.execute("SELECT COUNT(*) FROM lb_log").fetchone()[0]
        clock.advance(seconds=1)
        g.award_xp("ann", 5, source="t")
        after = g.db.conn.execute("SELECT COUNT(*) FROM lb_log").fetchone()[0]
        assert after - before == 1  # the replaced trigger wrote four: one per period
        assert len(shadow(g)) == 8 and expanded(g) == shadow(g)
    finally:
        g.close()
