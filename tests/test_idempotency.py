"""Idempotency keys: replays return the original result and write nothing; conflicts refuse."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import typing
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import START, unchanged

from gamification_sdk import (
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LevelsConfig,
    Season,
    TierReward,
    XPAward,
    errors,
    hookimpl,
)

Make = Callable[..., Gamification]
Call = Callable[[], Any]
KEY = "order-42"


# -- every write method ----------------------------------------------------------------------


def _award_xp(g: Gamification) -> Call:
    return lambda: g.award_xp("alice", 150, source="quest", idempotency_key=KEY, metadata={"q": 1})


def _xp_award(g: Gamification) -> Call:
    return lambda: g.xp.award("alice", 150, source="quest", idempotency_key=KEY, metadata={"q": 1})


def _add_xp_boost(g: Gamification) -> Call:
    return lambda: g.xp.add_boost(
        "alice", 1.5, expires_at=START + timedelta(days=1), source="event", idempotency_key=KEY
    )


def _prestige(g: Gamification) -> Call:
    g.award_xp("alice", 1600, source="quest")  # max level 5 in this module's config
    return lambda: g.xp.prestige("alice", idempotency_key=KEY)


def _award_points(g: Gamification) -> Call:
    return lambda: g.award_points(
        "alice",
        40,
        currency="points",
        source="quest",
        idempotency_key=KEY,
        reference=("quest", "7"),
        description="Quest",
        metadata={"a": [1, 2]},
    )


def _spend_points(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    return lambda: g.spend_points(
        "alice", 100, currency="points", source="shop", idempotency_key=KEY
    )


def _transfer_points(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    return lambda: g.transfer_points("alice", "bob", 100, currency="points", idempotency_key=KEY)


def _adjust_points(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    return lambda: g.points.adjust(
        "alice", -100, currency="points", reason="fraud", idempotency_key=KEY
    )


def _refund(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    spent = g.spend_points("alice", 60, currency="points", source="shop")
    return lambda: g.refund(spent.id, idempotency_key=KEY)


def _reserve_points(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    return lambda: g.reserve_points(
        "alice", 100, currency="points", ttl=timedelta(days=1), idempotency_key=KEY
    )


def _commit_reservation(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    held = g.reserve_points("alice", 70, currency="points", ttl=timedelta(days=1))
    return lambda: g.commit_reservation(held.id, idempotency_key=KEY)


def _release_reservation(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    held = g.reserve_points("alice", 70, currency="points", ttl=timedelta(days=1))
    return lambda: g.release_reservation(held.id, idempotency_key=KEY)


def _track(g: Gamification) -> Call:
    g.events.load(
        {
            "rules": [{"event": "post_created", "xp": 10, "points": {"points": 2}}],
            "achievements": [
                {"key": "first", "name": "First", "rewards": {"xp": 5, "points": {"points": 1}},
                 "criteria": {"type": "first_time", "event": "post_created"}},
            ],
        },
        name="idem",
    )  # fmt: skip
    return lambda: g.track("alice", "post_created", idempotency_key=KEY)


def _events_track(g: Gamification) -> Call:
    _track(g)
    return lambda: g.events.track("alice", "post_created", idempotency_key=KEY)


def _record_activity(g: Gamification) -> Call:
    g.streaks.record_activity("alice", at=g.clock() - timedelta(days=1))
    return lambda: g.streaks.record_activity("alice", idempotency_key=KEY)


def _grant_streak_freezes(g: Gamification) -> Call:
    return lambda: g.streaks.grant_freezes("alice", 2, idempotency_key=KEY)


def _complete_quest(g: Gamification) -> Call:
    g.events.load(
        {"quests": [{"key": "check", "name": "Check", "verification": True,
                     "rewards": {"xp": 5, "points": {"points": 2}},
                     "objectives": [{"event": "run", "target": 1}]}]},
        name="idem-quests",
    )  # fmt: skip
    g.track("alice", "run")
    return lambda: g.quests.complete("alice", "check", idempotency_key=KEY)


SHOP = {"shop": [
    {"key": "freeze", "name": "Freeze", "kind": "streak_freeze", "price": {"points": 30},
     "stock": 5},
]}  # fmt: skip


def _purchase(g: Gamification) -> Call:
    g.events.load(SHOP, name="idem-shop")
    g.award_points("alice", 100, currency="points", source="seed")
    return lambda: g.shop.purchase("alice", "freeze", quantity=2, idempotency_key=KEY)


def _refund_purchase(g: Gamification) -> Call:
    g.events.load(SHOP, name="idem-shop")
    g.award_points("alice", 100, currency="points", source="seed")
    order = g.shop.purchase("alice", "freeze", quantity=2)
    return lambda: g.shop.refund(order.id, idempotency_key=KEY)


def _rate_limit(g: Gamification) -> Call:
    return lambda: g.rate_limits.hit("alice", "quest_complete", idempotency_key=KEY)


def _track_referral(g: Gamification) -> Call:
    code = g.referrals.code("alice", ip="192.0.2.1")
    return lambda: g.referrals.track(
        code, "bob", ip="192.0.2.2", device_fingerprint="fp", email="bob@example.com",
        utm={"source": "ig"}, idempotency_key=KEY,
    )  # fmt: skip


def _convert_referral(g: Gamification) -> Call:
    g.referrals.track(g.referrals.code("alice"), "bob")
    return lambda: g.referrals.convert(
        "bob", kind="first_purchase", revenue=12.5, idempotency_key=KEY
    )


def _set_referral_status(g: Gamification) -> Call:
    g.referrals.track(g.referrals.code("alice"), "bob")
    g.referrals.convert("bob", kind="first_session")
    return lambda: g.referrals.set_status("bob", "paid_client", idempotency_key=KEY)


def _delete_user(g: Gamification) -> Call:
    g.award_points("alice", 40, currency="points", source="seed")
    g.transfer_points("alice", "bob", 15, currency="points")
    return lambda: g.privacy.delete("alice", idempotency_key=KEY)


BOOSTS = {"shop": [
    {"key": "boost", "name": "Tier boost", "kind": "tier_boost", "price": {"points": 10}},
]}  # fmt: skip


def _buy_premium_pass(g: Gamification) -> Call:
    g.award_points("alice", 100, currency="points", source="seed")
    return lambda: g.battle_pass.buy_premium("alice", idempotency_key=KEY)


def _claim_tier_reward(g: Gamification) -> Call:
    g.award_xp("alice", 150, source="quest")
    return lambda: g.battle_pass.claim("alice", 1, track="free", idempotency_key=KEY)


def _use_tier_boost(g: Gamification) -> Call:
    g.events.load(BOOSTS, name="idem-boosts")
    g.award_points("alice", 100, currency="points", source="seed")
    g.shop.purchase("alice", "boost", quantity=3)
    return lambda: g.battle_pass.use_tier_boost("alice", quantity=2, idempotency_key=KEY)


WRITES: dict[str, Callable[[Gamification], Call]] = {
    "quests.complete": _complete_quest,
    "streaks.record_activity": _record_activity,
    "streaks.grant_freezes": _grant_streak_freezes,
    "track": _track,
    "events.track": _events_track,
    "award_xp": _award_xp,
    "xp.award": _xp_award,
    "xp.add_boost": _add_xp_boost,
    "xp.prestige": _prestige,
    "award_points": _award_points,
    "spend_points": _spend_points,
    "transfer_points": _transfer_points,
    "points.adjust": _adjust_points,
    "refund": _refund,
    "reserve_points": _reserve_points,
    "commit_reservation": _commit_reservation,
    "release_reservation": _release_reservation,
    "rate_limits.hit": _rate_limit,
    "referrals.track": _track_referral,
    "referrals.convert": _convert_referral,
    "referrals.set_status": _set_referral_status,
    "shop.purchase": _purchase,
    "shop.refund": _refund_purchase,
    "battle_pass.buy_premium": _buy_premium_pass,
    "battle_pass.claim": _claim_tier_reward,
    "battle_pass.use_tier_boost": _use_tier_boost,
    "privacy.delete": _delete_user,
}
SEASON = Season(
    "idem", START - timedelta(days=1), START + timedelta(days=30), total_tiers=5,
    xp_per_tier=100, premium_price=50,
    free_rewards=[TierReward(1, points={"points": 10}, titles=["Rookie"])],
    premium_rewards=[TierReward(1, points={"points": 20}, items={"badge": 1})],
)  # fmt: skip
CONFIG = Config(levels=LevelsConfig(max_level=5, level_up_bonus={"points": 5}), seasons=[SEASON])


@pytest.fixture
def engine(make_engine: Make) -> Gamification:
    return make_engine(config=CONFIG)


# The facade's quick calls delegate to these service methods: covering one covers the other.
QUICK = {
    "points.award": "award_points",
    "points.spend": "spend_points",
    "points.transfer": "transfer_points",
    "points.refund": "refund",
    "points.reserve": "reserve_points",
    "points.commit": "commit_reservation",
    "points.release": "release_reservation",
}


def test_every_write_method_is_covered() -> None:
    # The facade's quick calls, and every namespace's methods under their dotted names.
    namespaces = {"": Gamification} | {
        f"{name}.": hint
        for name, hint in typing.get_type_hints(Gamification).items()
        if not name.startswith("_") and isinstance(hint, type)
    }
    takes_key = {
        prefix + name
        for prefix, cls in namespaces.items()
        for name, member in vars(cls).items()
        if callable(member)
        and not name.startswith("_")
        and "idempotency_key" in inspect.signature(member).parameters
    }
    assert takes_key == set(WRITES) | {
        service for service, quick in QUICK.items() if quick in WRITES
    }


@pytest.mark.parametrize("method", sorted(WRITES))
def test_repeat_with_same_key_returns_original_and_writes_nothing(
    engine: Gamification, clock: FakeClock, method: str
) -> None:
    call = WRITES[method](engine)
    before = engine.dump()
    first = call()
    assert engine.dump() != before  # the first call did write
    # The retry comes later (at=None both times): still the same call.
    clock.advance(minutes=5)
    with unchanged(engine):
        again = call()
        third = call()
    assert again == first
    assert third == first
    assert type(again) is type(first)
    assert not engine.verify_ledger()


ODD_AT = datetime(2026, 3, 1, 9, 15, 30, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))

RICH: dict[str, Callable[[Gamification], Call]] = {
    "award_points": lambda g: (
        lambda: g.award_points(
            "alice",
            5,
            currency="gems",
            source="s",
            idempotency_key="r1",
            reference=("r", "1"),
            description="d",
            metadata={"m": [1, 2.5, None]},
            at=ODD_AT,
            transaction_type="referral_reward",
        )
    ),
    "spend_points": lambda g: (
        lambda: g.spend_points(
            "alice",
            5,
            currency="points",
            source="s",
            idempotency_key="r2",
            reference=("r", "1"),
            description="d",
            metadata={"m": 1},
            at=ODD_AT,
            transaction_type="purchase",
        )
    ),
    "transfer_points": lambda g: (
        lambda: g.transfer_points(
            "alice",
            "bob",
            7,
            currency="points",
            source="gift",
            idempotency_key="r3",
            description="hi",
            metadata={"x": "y"},
            at=ODD_AT,
        )
    ),
    "points.adjust-up": lambda g: (
        lambda: g.points.adjust(
            "alice",
            7,
            currency="gems",
            reason="r",
            idempotency_key="r4",
            metadata={"x": 1},
            at=ODD_AT,
        )
    ),
    "points.adjust-down": lambda g: (
        lambda: g.points.adjust(
            "alice", -7, currency="gems", reason="r", idempotency_key="r5", at=ODD_AT
        )
    ),
    "refund-partial": lambda g: (
        lambda spent: (
            lambda: g.refund(
                spent.id,
                amount=10,
                user_id="alice",
                description="sorry",
                idempotency_key="r6",
                at=ODD_AT,
            )
        )
    )(g.spend_points("alice", 50, currency="points", source="shop")),
    "commit_reservation-with-reference": lambda g: (
        lambda held: lambda: g.commit_reservation(held.id, description="buy", idempotency_key="r7")
    )(g.reserve_points("alice", 20, currency="points", ttl=3600, reference=("order", "9"))),
    "reserve_points-with-reference": lambda g: (
        lambda: g.reserve_points(
            "alice",
            20,
            currency="points",
            ttl=timedelta(hours=2),
            source="p",
            reference=("o", "1"),
            idempotency_key="r8",
            at=ODD_AT,
        )
    ),
    "award_xp-boosted-with-rewards": lambda g: (
        g.xp.add_boost("alice", 1.5, expires_at=START + timedelta(minutes=30), source="e"),
        lambda: g.award_xp("alice", 1000, source="q", idempotency_key="r9", metadata={"a": 1}),
    )[1],
    "award_xp-backdated": lambda g: (
        lambda: g.award_xp("alice", 1000, source="q", idempotency_key="r10", at=ODD_AT)
    ),
    "add_xp_boost-later-start": lambda g: (
        lambda: g.xp.add_boost(
            "alice",
            2.0,
            starts_at=ODD_AT,
            expires_at=ODD_AT + timedelta(days=3),
            source="e",
            idempotency_key="r11",
            at=ODD_AT,
        )
    ),
}


@pytest.mark.parametrize("case", sorted(RICH))
def test_replay_of_rich_results_is_equal(make_engine: Make, clock: FakeClock, case: str) -> None:
    """Every optional field, an explicit non-UTC ``at`` and level rewards survive a replay."""
    g = make_engine(
        config=Config(
            levels=LevelsConfig(level_up_bonus={"points": 5}),
            currencies=[CurrencyConfig("points"), CurrencyConfig("gems")],
        )
    )
    g.award_points("alice", 1000, currency="points", source="seed")
    g.award_points("alice", 1000, currency="gems", source="seed")
    call = RICH[case](g)
    first = call()
    clock.advance(hours=1)  # boosts expire, reservations age: the replay must not care
    with unchanged(g):
        again = call()
    assert again == first
    assert not g.verify_ledger()


def test_replay_returns_original_even_when_state_moved_on(engine: Gamification) -> None:
    engine.award_points("alice", 100, currency="points", source="seed")
    spent = engine.spend_points("alice", 100, currency="points", source="shop", idempotency_key=KEY)
    assert engine.balance("alice", "points") == 0
    # A fresh spend would be InsufficientFunds; the replay is the original transaction.
    with unchanged(engine):
        assert (
            engine.spend_points("alice", 100, currency="points", source="shop", idempotency_key=KEY)
            == spent
        )
        with pytest.raises(errors.InsufficientFunds):
            engine.spend_points("alice", 100, currency="points", source="shop")


def test_replayed_award_has_original_values(engine: Gamification, clock: FakeClock) -> None:
    first = engine.award_xp("alice", 150, source="quest", idempotency_key=KEY)
    engine.xp.add_boost("alice", 2.0, expires_at=clock() + timedelta(days=1), source="event")
    clock.advance(hours=1)
    again = engine.award_xp("alice", 150, source="quest", idempotency_key=KEY)
    assert again == first
    assert (again.amount, again.multiplier, again.created_at) == (150, 1.0, START)
    assert [r.level for r in again.rewards] == [2]
    assert again.idempotency_key == KEY
    assert engine.profile("alice").xp == 150
    assert engine.balance("alice", "points") == 5


def test_failed_call_does_not_burn_the_key(engine: Gamification) -> None:
    with unchanged(engine), pytest.raises(errors.InsufficientFunds):
        engine.spend_points("alice", 50, currency="points", source="shop", idempotency_key=KEY)
    engine.award_points("alice", 50, currency="points", source="seed")
    spent = engine.spend_points("alice", 50, currency="points", source="shop", idempotency_key=KEY)
    assert spent.balance_after == 0


# -- conflicts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": 151},
        {"user_id": "bob"},
        {"source": "other"},
        {"metadata": {"q": 2}},
        {"metadata": None},
        {"at": START},
    ],
)
def test_same_key_different_args_conflicts(
    engine: Gamification, changed: dict[str, Any], backend: str
) -> None:
    base: dict[str, Any] = {
        "user_id": "alice",
        "amount": 150,
        "source": "quest",
        "metadata": {"q": 1},
    }
    engine.award_xp(**base, idempotency_key=KEY)
    if backend == "postgresql" and "user_id" in changed:
        # Keys are unique per user there (docs/postgresql.md): another user's call is new.
        assert engine.award_xp(**{**base, **changed}, idempotency_key=KEY).total_xp == 150
        return
    with unchanged(engine), pytest.raises(errors.IdempotencyConflict) as info:
        engine.award_xp(**{**base, **changed}, idempotency_key=KEY)
    assert info.value.key == KEY
    assert (info.value.operation, info.value.original_operation) == ("award_xp", "award_xp")
    assert "idempotency_key" in str(info.value)


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": 41},
        {"currency": "gems"},
        {"reference": ("quest", "8")},
        {"description": "x"},
        {"transaction_type": "bonus"},
    ],
)
def test_points_same_key_different_args_conflicts(
    make_engine: Make, changed: dict[str, Any]
) -> None:
    g = make_engine(config=Config(currencies=[CurrencyConfig("points"), CurrencyConfig("gems")]))
    base: dict[str, Any] = {
        "user_id": "alice",
        "amount": 40,
        "currency": "points",
        "source": "quest",
        "reference": ("quest", "7"),
    }
    g.award_points(**base, idempotency_key=KEY)
    with unchanged(g), pytest.raises(errors.IdempotencyConflict):
        g.award_points(**{**base, **changed}, idempotency_key=KEY)


def test_key_reuse_across_operations_conflicts(engine: Gamification) -> None:
    engine.award_xp("alice", 10, source="quest", idempotency_key=KEY)
    with unchanged(engine):
        with pytest.raises(errors.IdempotencyConflict) as info:
            engine.award_points("alice", 10, currency="points", source="quest", idempotency_key=KEY)
        assert (info.value.operation, info.value.original_operation) == (
            "award_points",
            "award_xp",
        )
        with pytest.raises(errors.IdempotencyConflict):
            engine.xp.add_boost(
                "alice",
                2.0,
                expires_at=START + timedelta(hours=1),
                source="quest",
                idempotency_key=KEY,
            )


def test_keys_are_global_not_per_user(engine: Gamification, backend: str) -> None:
    """One namespace for all users in the SQLite file; one per user on PostgreSQL, where a
    key lives on its user's shard (docs/postgresql.md, "Decisions for the port")."""
    first = engine.award_xp("alice", 10, source="quest", idempotency_key=KEY)
    if backend == "postgresql":
        bob = engine.award_xp("bob", 10, source="quest", idempotency_key=KEY)
        assert (bob.user_id, bob.total_xp) == ("bob", 10)
        with unchanged(engine):  # each user's key still replays their own call
            assert engine.award_xp("alice", 10, source="quest", idempotency_key=KEY) == first
            assert engine.award_xp("bob", 10, source="quest", idempotency_key=KEY) == bob
            with pytest.raises(errors.IdempotencyConflict):
                engine.award_xp("bob", 11, source="quest", idempotency_key=KEY)
        return
    with unchanged(engine), pytest.raises(errors.IdempotencyConflict):
        engine.award_xp("bob", 10, source="quest", idempotency_key=KEY)


def test_retry_without_at_under_moving_clock_is_a_replay(
    engine: Gamification, clock: FakeClock
) -> None:
    first = engine.award_points("alice", 10, currency="points", source="q", idempotency_key=KEY)
    clock.advance(days=3)
    with unchanged(engine):
        assert (
            engine.award_points("alice", 10, currency="points", source="q", idempotency_key=KEY)
            == first
        )
    assert first.created_at == START


def test_explicit_at_is_part_of_the_call(engine: Gamification) -> None:
    first = engine.award_xp("alice", 10, source="q", idempotency_key=KEY, at=START)
    with unchanged(engine):
        assert engine.award_xp("alice", 10, source="q", idempotency_key=KEY, at=START) == first
        with pytest.raises(errors.IdempotencyConflict):
            engine.award_xp(
                "alice", 10, source="q", idempotency_key=KEY, at=START - timedelta(seconds=1)
            )


def test_replay_does_not_fire_hooks_again(make_engine: Make) -> None:
    seen: list[XPAward] = []

    class Recorder:
        @hookimpl
        def on_xp_awarded(self, award: XPAward) -> None:
            seen.append(award)

    g = make_engine(plugins=(Recorder(),))
    g.award_xp("alice", 10, source="q", idempotency_key=KEY)
    g.award_xp("alice", 10, source="q", idempotency_key=KEY)
    assert len(seen) == 1


def test_replay_survives_reopening_the_file(clock: FakeClock, db_path: Path) -> None:
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        first = g.award_xp("alice", 10, source="q", idempotency_key=KEY)
    clock.advance(hours=1)
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g2, unchanged(g2):
        assert g2.award_xp("alice", 10, source="q", idempotency_key=KEY) == first


# -- processes racing on one file ------------------------------------------------------------

RACER = textwrap.dedent(
    """
    import sys
    from gamification_sdk import Gamification

    path, keys = sys.argv[1], int(sys.argv[2])
    g = Gamification.open(path, load_entrypoints=False)
    print("ready", flush=True)
    sys.stdin.readline()
    ids = [
        g.award_xp("racer", 10, source="race", idempotency_key=f"race-{i}").id
        for i in range(keys)
    ]
    g.close()
    print(" ".join(map(str, ids)), flush=True)
    """
)


def test_processes_racing_with_the_same_key_apply_once(db_path: Path) -> None:
    keys, processes = 25, 4
    Gamification.open(db_path, load_entrypoints=False).close()  # create the schema first
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(db_path), str(keys)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None
            assert racer.stdout.readline().strip() == "ready"
        for racer in racers:  # release them together
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        outputs = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
    for racer, (_, err) in zip(racers, outputs, strict=True):
        assert racer.returncode == 0, err
    id_lists = [out.split() for out, _ in outputs]
    assert all(ids == id_lists[0] for ids in id_lists)  # every process got the same awards
    with Gamification.open(db_path, load_entrypoints=False) as g:
        history = g.xp.history("racer", limit=1000)
        assert len(history) == keys
        assert sorted(e.idempotency_key or "" for e in history) == sorted(
            f"race-{i}" for i in range(keys)
        )
        assert g.profile("racer").xp == 10 * keys
        (rows,) = g.db.execute("SELECT COUNT(*) FROM xp_awards").fetchone()
        assert rows == keys
        assert not g.verify_ledger()


# -- where a key is kept ---------------------------------------------------------------------


def _registry(g: Gamification) -> list[tuple[str, str]]:
    return [tuple(r) for r in g.db.execute("SELECT key, operation FROM idempotency_keys")]


def _fingerprints(g: Gamification) -> list[tuple[str, bool]]:
    return [
        (r[0], r[1] is not None)
        for r in g.db.execute(
            "SELECT idempotency_key, fingerprint FROM xp_awards WHERE idempotency_key IS NOT NULL"
        )
    ]


def test_a_keyed_award_keeps_its_key_in_its_log_row(engine: Gamification) -> None:
    first = engine.award_xp("alice", 10, source="q", idempotency_key=KEY)
    assert _registry(engine) == []
    assert _fingerprints(engine) == [(KEY, True)]
    with unchanged(engine):
        assert engine.award_xp("alice", 10, source="q", idempotency_key=KEY) == first
        with pytest.raises(errors.IdempotencyConflict):
            engine.award_xp("alice", 11, source="q", idempotency_key=KEY)


def test_an_award_that_pays_level_rewards_keeps_its_key_in_the_registry(
    engine: Gamification,
) -> None:
    first = engine.award_xp("alice", 500, source="q", idempotency_key=KEY)
    assert first.leveled_up and first.rewards
    assert _registry(engine) == [(KEY, "award_xp")]
    assert _fingerprints(engine) == [(KEY, False)]  # the row names the key, the registry holds it
    with unchanged(engine):
        assert engine.award_xp("alice", 500, source="q", idempotency_key=KEY) == first


def test_a_key_of_another_operation_conflicts_with_award_xp(engine: Gamification) -> None:
    engine.award_points("alice", 10, currency="points", source="quest", idempotency_key=KEY)
    with unchanged(engine), pytest.raises(errors.IdempotencyConflict) as info:
        engine.award_xp("alice", 10, source="quest", idempotency_key=KEY)
    assert (info.value.operation, info.value.original_operation) == ("award_xp", "award_points")


def test_track_keys_do_not_claim_award_xp_keys(make_engine: Make) -> None:
    # A tracked event's XP row carries the derived key "track:<key>" but no fingerprint:
    # the key names the track() call, which is in the registry.
    g = make_engine()
    g.events.load({"rules": [{"event": "post", "xp": 10}]}, name="rules")
    g.track("alice", "post", idempotency_key=KEY)
    assert _fingerprints(g) == [(f"track:{KEY}", False)]
    g.award_xp("alice", 10, source="q", idempotency_key=f"track:{KEY}")
    assert sorted(_fingerprints(g)) == [(f"track:{KEY}", False), (f"track:{KEY}", True)]


def test_award_xp_keys_from_before_the_xp_log_kept_them_still_replay(
    clock: FakeClock, db_path: Path
) -> None:
    import sqlite_utils

    from gamification_sdk.runtime.idempotency import fingerprint
    from gamification_sdk.storage.schema import migrations

    db = sqlite_utils.Database(db_path)
    migrations.apply(db, stop_before="m013_xp_award_keys")
    when = START.isoformat(timespec="microseconds")
    db.execute(
        "INSERT INTO profiles (user_id, xp, level, created_at, updated_at) "
        "VALUES ('veteran', 10, 1, ?, ?)", [when, when],
    )  # fmt: skip
    db.execute(
        "INSERT INTO xp_awards (user_id, id, base_amount, multiplier, amount, total_xp, "
        "level_before, level_after, source, idempotency_key, created_at) "
        "VALUES ('veteran', 1, 10, 1.0, 10, 10, 1, 1, 'q', ?, ?)", [KEY, when],
    )  # fmt: skip
    db.execute(
        "INSERT INTO idempotency_keys (key, operation, fingerprint, result, created_at) "
        "VALUES (?, 'award_xp', ?, '[\"veteran\",1]', ?)",
        [KEY, fingerprint("veteran", 10, "q", None, None), when],
    )
    db.conn.commit()
    db.close()
    with Gamification.open(db_path, clock=clock, load_entrypoints=False) as g:
        with unchanged(g):
            again = g.award_xp("veteran", 10, source="q", idempotency_key=KEY)
            assert (again.id, again.total_xp, again.created_at) == (1, 10, START)
            with pytest.raises(errors.IdempotencyConflict):
                g.award_xp("veteran", 20, source="q", idempotency_key=KEY)
        assert g.award_xp("veteran", 5, source="q", idempotency_key="new").total_xp == 15
        assert _fingerprints(g) == [(KEY, False), ("new", True)]
