"""g.privacy.export and g.privacy.delete: every row about a user out, then nothing about them
left in."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import START, unchanged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    Season,
    TierReward,
    UserDeletion,
    errors,
    hookimpl,
)
from gamification_sdk.ops.privacy import ANONYMISED, SYSTEM_TABLES, USER_TABLES
from gamification_sdk.storage.privacy import MOVED, MOVED_COLUMNS

Make = Callable[..., Gamification]

# An id with characters a careless LIKE or a bad quote would trip on, and easy to grep for.
ALICE = "alice_%'\"@example.org"
SEASON = Season(
    "s1", START - timedelta(days=1), START + timedelta(days=30), total_tiers=3,
    xp_per_tier=100, premium_price=20,
    free_rewards=[TierReward(1, points={"points": 5}, titles=["Rookie"])],
)  # fmt: skip
CONFIG = Config(seasons=[SEASON])
DEFINITIONS = {
    "rules": [{"event": "run", "xp": 10, "points": {"points": 2}}],
    "achievements": [{"key": "first_run", "name": "First run", "rewards": {"xp": 5},
                      "criteria": {"type": "first_time", "event": "run"}}],
    "quests": [{"key": "jog", "name": "Jog", "rewards": {"points": {"points": 3}},
                "objectives": [{"event": "run", "target": 2}]}],
    "shop": [{"key": "freeze", "name": "Freeze", "kind": "streak_freeze",
              "price": {"points": 10}}],
}  # fmt: skip


def busy_life(g: Gamification, user: str, friend: str, n: int) -> None:
    """One user touching every capability, so the export and the deletion reach every table."""
    g.events.load(DEFINITIONS, name="privacy")
    # Referred first: an existing user with activity cannot be referred into signing up.
    g.referrals.track(
        g.referrals.code(friend), user, ip=f"192.0.2.7{n}", email=f"person{n}@example.org"
    )
    g.award_xp(user, 250, source="quest", idempotency_key=f"xp-{user}", metadata={"who": user})
    g.xp.add_boost(user, 1.5, expires_at=START + timedelta(days=2), source="event")
    g.award_points(friend, 50, currency="points", source="seed")
    g.award_points(user, 200, currency="points", source="seed", idempotency_key=f"p-{user}")
    g.transfer_points(user, friend, 20, currency="points", description=f"gift from {user}")
    g.transfer_points(friend, user, 5, currency="points")
    for _ in range(2):
        g.track(user, "run", metadata={"km": 5})
    g.streaks.record_activity(user)
    g.streaks.schedule_rest_day(user, date(2026, 3, 4))
    g.streaks.grant_freezes(user, 1)
    g.rate_limits.hit(user, "quest_complete")
    g.reserve_points(user, 15, currency="points", ttl=timedelta(hours=1))
    g.shop.purchase(user, "freeze")
    g.battle_pass.buy_premium(user)
    g.battle_pass.claim(user, 1, track="free")
    g.social.add_friend(user, friend)
    g.social.join_group(user, "gym-1", kind="gym")
    g.social.set_privacy(
        user, visibility="public", show_on_global=True, real_name=f"Person Number{n}"
    )
    code = g.referrals.code(user, ip=f"192.0.2.1{n}")
    g.referrals.track(code, f"carol{n}", ip=f"192.0.2.9{n}", email=f"carol{n}@example.org")
    g.users.equip_title(user, "Rookie")


@pytest.fixture
def world(make_engine: Make) -> Gamification:
    g = make_engine(config=CONFIG)
    busy_life(g, ALICE, "bob", 1)
    busy_life(g, "dave", "bob", 2)
    return g


def tables(g: Gamification, backend: str) -> set[str]:
    if backend == "postgresql":
        # The migrations' record has its own name there (storage/postgres/schema.py), and
        # copy_progress is the copy from a file's (gamification migrate), about no user.
        found = set(g.db.table_names())  # type: ignore[attr-defined]
        return found - {"schema_migrations", "copy_progress"} | {"_sqlite_migrations"}
    return {row[0] for row in g.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if not row[0].startswith("sqlite_")}  # fmt: skip


def columns_of(g: Gamification, backend: str, table: str) -> set[str]:
    if backend == "postgresql":
        sql = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?"
        )
        return {row[0] for row in g.db.execute(sql, (table,))}
    return {c[1] for c in g.db.execute(f"PRAGMA table_info({table})")}


def test_every_table_is_classified(g: Gamification, backend: str) -> None:
    """A new table must say whether it holds rows about users, or the export would miss it."""
    assert not set(USER_TABLES) & SYSTEM_TABLES
    assert tables(g, backend) == set(USER_TABLES) | SYSTEM_TABLES
    assert set(USER_TABLES) >= ANONYMISED
    for table, columns in USER_TABLES.items():
        assert set(columns) <= columns_of(g, backend, table), table


@pytest.mark.postgresql_only(reason="the SQLite file rewrites the shared history in place")
def test_the_erasure_moves_every_column(g: Gamification, backend: str) -> None:
    """On PostgreSQL the shared history is copied under the pseudonym: a column the copy
    did not name would be lost (or fail the copy), so each moved table's are all named."""
    assert set(MOVED) <= ANONYMISED | {"lot_uses"}
    for table in MOVED:
        assert set(MOVED_COLUMNS[table]) == columns_of(g, backend, table), table


def test_export_has_every_row_about_the_user(world: Gamification, backend: str) -> None:
    with unchanged(world):
        export = world.privacy.export(ALICE)
    assert export["user_id"] == ALICE
    assert export["exported_at"] == START.isoformat()
    rows = export["tables"]
    assert set(rows) == set(USER_TABLES)
    empty = sorted(t for t, r in rows.items() if not r)
    # What one afternoon of activity cannot reach: closed periods, milestones, broken streaks;
    # lb_scores: the XP board's current scores are in the profile row (board_slots.py; not on
    # PostgreSQL, which has no profile slots); and point_lots: no currency of this
    # configuration expires.
    slots = backend == "sqlite"
    assert empty == ["lb_archive", "lb_rewards", *(["lb_scores"] if slots else []),
                     "notification_preferences", "point_lots", "prestiges",
                     "referral_milestones", "streak_log", "tier_changes", "tier_earnings",
                     "tier_status"]  # fmt: skip
    (profile,) = rows["profiles"]
    if slots:
        assert profile["lb_p0"] is not None and profile["lb_r0"] is not None
    else:
        assert rows["lb_scores"]
    # Each row names the user in one of its user columns, and nobody else's rows came along.
    for table, columns in USER_TABLES.items():
        for row in rows[table]:
            assert (
                ALICE in [row[c] for c in columns]
                if columns
                else json.dumps(ALICE) in row["result"]
            ), table
    assert {r["friend_id"] for r in rows["friends"]} == {"bob", ALICE}
    assert {r["referred_id"] for r in rows["referrals"]} == {"carol1", ALICE}
    assert rows["profiles"][0]["real_name"] == "Person Number1"
    json.dumps(export)  # ready for the wire as it is (the idempotency fingerprint is hex)


def test_export_of_unknown_user_raises(world: Gamification) -> None:
    with unchanged(world), pytest.raises(errors.UnknownUser) as info:
        world.privacy.export("nobody")
    assert info.value.user_id == "nobody"
    assert "nothing is stored" in str(info.value)


def test_delete_leaves_nothing_that_names_the_user(world: Gamification, backend: str) -> None:
    bob_before = world.points.balances("bob")
    dave_before = world.dump().count("dave")
    deletion = world.privacy.delete(ALICE)
    assert isinstance(deletion, UserDeletion)
    assert deletion.user_id == ALICE
    dump = world.dump()
    # Not the id, nor the real name, nor the emails and addresses captured by referrals.
    for personal in (ALICE, "Person Number1", "person1@example.org", "192.0.2.71", "192.0.2.11",
                     f"gift from {ALICE}"):  # fmt: skip
        assert personal not in dump, personal
    assert dump.count("dave") == dave_before  # the other busy user is untouched
    assert world.points.balances("bob") == bob_before
    assert not world.verify_ledger()
    # Entries name their account by id alone (on PostgreSQL without a key): none is orphaned.
    orphans = "SELECT COUNT(*) FROM entries WHERE account_id NOT IN (SELECT id FROM accounts)"
    assert world.db.execute(orphans).fetchone() == (0,)
    if backend == "sqlite":  # PostgreSQL checks its keys at each statement
        assert world.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert world.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with pytest.raises(errors.UnknownUser):
        world.privacy.export(ALICE)


def test_delete_forfeits_balances_and_anonymises_the_shared_history(world: Gamification) -> None:
    held = world.points.balances(ALICE)["points"]
    assert held.held == 15
    deletion = world.privacy.delete(ALICE)
    assert deletion.forfeited == {"points": held.balance}
    pseudonym = deletion.pseudonym
    assert pseudonym.startswith("deleted-") and ALICE not in pseudonym
    # Bob's side of both gifts survives, naming the pseudonym; his balance chain is intact.
    gifts = [t for t in world.history("bob").transactions if t.type == "transfer"]
    assert {t.counterparty for t in gifts if "dave" not in (t.counterparty or "")} == {pseudonym}
    assert all(t.description is None for t in gifts if t.counterparty == pseudonym)
    # Alice's accounts are closed system accounts holding nothing.
    closed = world.db.execute(
        "SELECT system_name, balance, held FROM accounts WHERE system_name LIKE 'deleted:%'"
    ).fetchall()
    assert closed == [(f"deleted:{pseudonym}", 0, 0)]
    # The referral she was referred by still counts for Bob, without her details.
    (referral,) = [r for r in world.referrals.list("bob") if r.referred_id == pseudonym]
    assert referral.email is None and referral.ip is None
    assert (
        deletion.entries_anonymised
        == world.db.execute(
            "SELECT COUNT(*) FROM entries WHERE account_id IN "
            "(SELECT id FROM accounts WHERE system_name = ?)",
            (f"deleted:{pseudonym}",),
        ).fetchone()[0]
    )


def test_delete_moves_everyone_up_on_the_boards(make_engine: Make) -> None:
    g = make_engine()
    for user, xp in (("a", 300), ("b", 200), ("c", 100)):
        g.award_xp(user, xp, source="s")
        g.social.set_privacy(user, visibility="public", show_on_global=True)
    g.privacy.delete("a")
    board = g.boards.get("xp")
    assert [(e.rank, e.user_id) for e in board.entries] == [(1, "b"), (2, "c")]
    assert g.boards.rank("c", "xp").rank == 2
    g.award_xp("c", 150, source="s")  # the block counts left behind are right: c overtakes b
    assert [(e.rank, e.user_id) for e in g.boards.get("xp").entries] == [(1, "c"), (2, "b")]


def test_deleted_users_spending_cannot_be_refunded(world: Gamification) -> None:
    spend = world.spend_points(ALICE, 1, currency="points", source="s")
    world.privacy.delete(ALICE)
    with unchanged(world), pytest.raises(errors.NotRefundable) as info:
        world.refund(spend.id)
    assert "deleted user" in str(info.value)


def test_delete_of_unknown_user_writes_nothing(world: Gamification) -> None:
    with unchanged(world), pytest.raises(errors.UnknownUser):
        world.privacy.delete("nobody", idempotency_key="d1")
    # The key was not burnt: the same key deletes a real user afterwards.
    assert world.privacy.delete("dave", idempotency_key="d1").user_id == "dave"


def test_replay_returns_the_deletion_without_storing_the_id(world: Gamification) -> None:
    first = world.privacy.delete(ALICE, idempotency_key="erase")
    with unchanged(world):
        again = world.privacy.delete(ALICE, idempotency_key="erase")
    assert again == first
    (stored,) = world.db.execute(
        "SELECT result FROM idempotency_keys WHERE key = 'erase'"
    ).fetchone()
    assert json.dumps(ALICE)[1:-1] not in stored
    # Without the key, a second deletion finds nobody.
    with pytest.raises(errors.UnknownUser):
        world.privacy.delete(ALICE)


def test_a_retried_award_after_deletion_is_a_new_request(world: Gamification) -> None:
    """The user's idempotency records go with them: none can replay a deleted row."""
    world.privacy.delete(ALICE)
    award = world.award_xp(ALICE, 250, source="quest", idempotency_key=f"xp-{ALICE}",
                           metadata={"who": ALICE})  # fmt: skip
    assert award.total_xp == 250 and award.old_level == 1


def test_a_retried_small_award_after_deletion_is_a_new_request(world: Gamification) -> None:
    """An award that crossed no level keeps its key in its own XP row: that goes too."""
    first = world.award_xp(ALICE, 1, source="quest", idempotency_key="small")
    assert not first.leveled_up
    world.privacy.delete(ALICE)
    again = world.award_xp(ALICE, 1, source="quest", idempotency_key="small")
    assert (again.id, again.total_xp) == (1, 1)


class Forgetter:
    def __init__(self) -> None:
        self.deleted: list[UserDeletion] = []

    @hookimpl
    def on_user_deleted(self, engine: Gamification, deletion: UserDeletion) -> None:
        assert engine.verify_ledger().ok  # called after commit: the deletion is visible
        with pytest.raises(errors.UnknownUser):
            engine.privacy.export(deletion.user_id)
        self.deleted.append(deletion)


def test_on_user_deleted_hook_runs_after_commit(make_engine: Make) -> None:
    forgetter = Forgetter()
    g = make_engine(plugins=(forgetter,))
    g.award_points("erin", 5, currency="points", source="s")
    deletion = g.privacy.delete("erin")
    assert forgetter.deleted == [deletion]
    with pytest.raises(errors.UnknownUser):
        g.privacy.delete("erin")
    assert len(forgetter.deleted) == 1


@pytest.fixture
def held() -> dict[str, Gamification]:
    """An engine kept across a property test's examples (closed by make_engine)."""
    return {}


OPS = st.lists(
    st.tuples(
        st.sampled_from(["award", "spend", "gift", "hold", "xp"]),
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["u1", "u2", "u3"]),
        st.integers(1, 60),
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, victim=st.sampled_from(["u1", "u2", "u3"]))
def test_deletion_keeps_the_ledger_and_the_others_whole(
    clock: FakeClock,
    make_engine: Make,
    backend: str,
    held: dict[str, Gamification],
    ops: list[tuple[str, str, str, int]],
    victim: str,
) -> None:
    # A fresh file per example; on PostgreSQL (a schema costs a migration) one schema for
    # every example, each with users of its own.
    shared = backend == "postgresql"
    if shared:
        g = held["g"] if "g" in held else held.setdefault("g", make_engine())
    else:
        g = Gamification.open(":memory:", clock=clock, load_entrypoints=False)
    prefix = f"e{len(g.db.execute('SELECT * FROM deleted_users').fetchall())}-" if shared else ""
    # A user's own accounts: user_id set in the file, no system name on PostgreSQL (where
    # the system accounts are booked per user and a deleted user's are closed ones).
    users = "system_name IS NULL" if shared else "user_id IS NOT NULL"
    supply = f"SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE {users}"
    try:
        names = {u: prefix + u for u in ("u1", "u2", "u3")}
        for user in names.values():
            g.award_points(user, 30, currency="points", source="seed")
        for op, user, other, amount in ops:
            with contextlib.suppress(errors.InsufficientFunds, errors.InvalidInput):
                run_op(g, op, names[user], names[other], amount)
        survivors = {u: g.points.balances(u) for u in names.values() if u != names[victim]}
        supply_before = g.db.execute(supply).fetchone()[0]
        deletion = g.privacy.delete(names[victim])
        assert not g.verify_ledger()
        assert {u: g.points.balances(u) for u in survivors} == survivors
        supply_after = g.db.execute(supply).fetchone()[0]
        assert supply_before - supply_after == sum(deletion.forfeited.values())
        assert f"'{names[victim]}'" not in g.dump()
    finally:
        if not shared:
            g.close()


def run_op(g: Gamification, op: str, user: str, other: str, amount: int) -> Any:
    if op == "award":
        return g.award_points(user, amount, currency="points", source="s")
    if op == "spend":
        return g.spend_points(user, amount, currency="points", source="s")
    if op == "gift":
        return g.transfer_points(user, other, amount, currency="points")
    if op == "hold":
        return g.reserve_points(user, amount, currency="points", ttl=timedelta(hours=1))
    return g.award_xp(user, amount, source="s")


def test_no_ledger_key_keeps_the_id_and_the_id_can_come_back(make_engine: Make) -> None:
    """Keys the engine derived from the id (quest, achievement, battle pass rewards) and caller
    keys whose records went with the user leave the ledger too, so the same id can start again:
    a retried call runs as a new one and every reward is paid afresh."""
    user = "zed-7f3"  # no quote, so a search of the dump cannot miss an escaped copy
    g = make_engine(config=CONFIG)
    busy_life(g, user, "bob", 3)
    g.transfer_points("bob", user, 5, currency="points", idempotency_key="gift-7")
    g.privacy.delete(user)
    assert user not in g.dump()
    again = [
        g.award_points(user, 200, currency="points", source="seed", idempotency_key=f"p-{user}"),
        g.transfer_points("bob", user, 5, currency="points", idempotency_key="gift-7"),
        *g.track(user, "run").points,
        *g.track(user, "run").points,  # the jog quest pays again
    ]
    assert [t.user_id for t in again] == [user, "bob", user, user]
    g.award_xp(user, 100, source="quest")
    assert g.battle_pass.claim(user, 1, track="free").points == {"points": 5}
    assert g.battle_pass.buy_premium(user).price == 20
    assert not g.verify_ledger()


def test_deletion_keeps_expiring_lots_as_history_and_others_expire_as_before(
    make_engine: Make, clock: FakeClock
) -> None:
    """The lots of an expiring currency, with what spent them (lot uses) and what held them,
    stay as the pseudonym's emptied history; the other users' lots expire as before."""
    g = make_engine(config=Config(currencies=[CurrencyConfig("points", expire_after_days=30)]))
    for user in ("ada", "bob"):
        g.award_points(user, 100, currency="points", source="quest")
        g.spend_points(user, 30, currency="points", source="shop")
    g.points.reserve("ada", 20, currency="points", ttl=timedelta(minutes=5))
    g.points.reserve("ada", 10, currency="points", ttl=timedelta(minutes=5))
    deletion = g.privacy.delete("ada")
    assert deletion.forfeited == {"points": 70}
    assert "'ada'" not in g.dump()
    lots = "SELECT amount, remaining, held FROM point_lots WHERE user_id = ?"
    assert g.db.execute(lots, (deletion.pseudonym,)).fetchall() == [(100, 0, 0)]
    uses = (
        "SELECT u.amount FROM lot_uses u JOIN point_lots l ON l.id = u.lot_id "
        "WHERE l.user_id = ? ORDER BY u.amount"
    )
    assert g.db.execute(uses, (deletion.pseudonym,)).fetchall() == [(30,), (70,)]
    assert not g.verify_ledger()
    clock.advance(timedelta(days=31))
    expired = g.points.expire_points().expired
    assert [(t.user_id, t.amount) for t in expired] == [("bob", -70)]
    assert not g.verify_ledger()
