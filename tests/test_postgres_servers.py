"""What the SQLite file made exact by its one writer, with several app servers on one
PostgreSQL schema writing at once: a rate-limit window, reservation expiry, the notification
outbox and ``batch()``. Each test opens one engine per server (each its own session) and
releases their threads together at a barrier; times are injected, nothing sleeps."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from reliability.game import SEASON

from gamification_sdk import (
    BoardConfig,
    Config,
    CurrencyConfig,
    FakeClock,
    Gamification,
    LeaderboardsConfig,
    RankReward,
    hookimpl,
)
from gamification_sdk.config import RateLimit, StreaksConfig
from gamification_sdk.errors import InsufficientFunds, RateLimited, WriteConflict
from gamification_sdk.models import Notification

pytestmark = pytest.mark.postgresql_only(
    reason="the SQLite file has one writer at a time: servers cannot race inside it"
)

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Place = Callable[[str], dict[str, Any]]


@pytest.fixture
def servers(place: Place) -> Iterator[Callable[..., Gamification]]:
    """Open one more app server's engine on the test's one schema."""
    opened: list[Gamification] = []

    def open_one(config: Config | None = None, plugins: tuple[object, ...] = ()) -> Gamification:
        engine = Gamification.open(
            **place("shared"),
            config=config,
            clock=FakeClock(START),
            plugins=plugins,
            load_entrypoints=False,
        )
        opened.append(engine)
        return engine

    yield open_one
    for engine in opened:
        engine.close()


def together(work: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables on threads released at once; their results in order, or the first
    failure re-raised."""
    results: list[Any] = [None] * len(work)
    failures: list[BaseException] = []
    gate = threading.Barrier(len(work))

    def run(index: int) -> None:
        try:
            gate.wait()
            results[index] = work[index]()
        except BaseException as exc:  # reported below, on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


# -- rate limits ------------------------------------------------------------------------------

LIMITED = Config(rate_limits={"api": RateLimit(max=5, seconds=3600)})


def test_a_rate_limit_window_shared_by_servers_is_never_exceeded(
    servers: Callable[..., Gamification],
) -> None:
    """Four servers race on one user's limit of 5 an hour, 4 calls each, in three windows:
    exactly 5 calls pass in each, every server counting the others' calls."""
    engines = [servers(LIMITED) for _ in range(4)]

    def calls(n: int, window: int) -> Callable[[], list[bool]]:
        def run() -> list[bool]:
            passed = []
            for i in range(4):
                at = START + timedelta(hours=2 * window, seconds=i)
                try:
                    engines[n].rate_limits.hit(
                        "ada", "api", at=at, idempotency_key=f"w{window}-s{n}-{i}"
                    )
                except RateLimited:
                    passed.append(False)
                else:
                    passed.append(True)
            return passed

        return run

    for window in range(3):
        outcomes = together([calls(n, window) for n in range(4)])
        assert sum(sum(passed) for passed in outcomes) == 5, outcomes
        status = engines[0].rate_limits.status(
            "ada", "api", at=START + timedelta(hours=2 * window, seconds=10)
        )
        assert (status.used, status.remaining) == (5, 0)


# -- reservation expiry -----------------------------------------------------------------------


def test_reservation_expiry_run_by_servers_at_once_releases_each_hold_once(
    servers: Callable[..., Gamification],
) -> None:
    """Three servers' expiry jobs run at the same moment over 24 holds: each hold is
    released by exactly one of them, the balances are whole again and the ledger verifies."""
    engines = [servers() for _ in range(3)]
    first = engines[0]
    users = [f"u{i}" for i in range(8)]
    held: list[int] = []
    for user in users:
        first.award_points(user, 100, currency="points", source="seed")
        for j in range(3):
            reservation = first.points.reserve(
                user, 10 + j, currency="points", ttl=timedelta(minutes=1), source="shop"
            )
            held.append(reservation.id)
    assert first.points.balances("u0")["points"].held == 33
    due = START + timedelta(minutes=5)

    results = together([lambda e=e: e.points.expire_reservations(due) for e in engines])
    released = Counter(r.id for result in results for r in result)
    assert sorted(released) == sorted(held) and set(released.values()) == {1}
    for user in users:
        balance = first.points.balances(user)["points"]
        assert (balance.balance, balance.held) == (100, 0)
    assert {first.points.reservation(rid).status for rid in held} == {"expired"}
    assert first.verify_ledger().ok
    # A later run on any server finds nothing left to release.
    assert together([lambda e=e: e.points.expire_reservations(due) for e in engines]) == [[]] * 3


# -- the notification outbox ------------------------------------------------------------------


class Deliveries:
    """A ``notify`` plugin per server, all recording into one list: what was delivered where."""

    def __init__(self, server: int, record: list[tuple[int, Notification]]) -> None:
        self.server = server
        self.record = record
        self.lock = threading.Lock()

    @hookimpl
    def notify(self, engine: Gamification, notification: Notification) -> None:
        # Delivered after commit: any server reads it back already.
        stored = engine.notifications.list(notification.user_id, unread_only=False, limit=500)
        assert notification in stored
        with self.lock:
            self.record.append((self.server, notification))


def test_the_notification_outbox_is_delivered_once_across_servers(
    servers: Callable[..., Gamification],
) -> None:
    """Four servers award XP (the same keys sent to every server, as retries through a load
    balancer would) and two run the streak sweep at the same moment: every stored
    notification is delivered exactly once, by one server, and nothing else is delivered."""
    record: list[tuple[int, Notification]] = []
    config = Config(streaks=StreaksConfig(at_risk_hours=3))
    engines = [servers(config, (Deliveries(n, record),)) for n in range(4)]
    users = [f"u{i}" for i in range(6)]

    def awards(n: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(30):
                user = users[i % len(users)]
                # Keys every server sends, then keys of this server's own.
                key = f"shared-{i}" if i % 2 == 0 else f"s{n}-{i}"
                engines[n].award_xp(user, 60 + 7 * i, source="lesson", idempotency_key=key)

        return run

    together([awards(n) for n in range(4)])
    for user in users:
        engines[0].streaks.record_activity(user, at=START)
    evening = START.replace(hour=21, minute=30) + timedelta(days=1)
    reports = together([lambda e=e: e.streaks.sweep(evening) for e in engines[:2]])
    assert sum(report.warned for report in reports) == len(users)

    stored = {
        row[0]: row[1]
        for row in engines[0].db.execute("SELECT id, kind FROM notifications").fetchall()
    }
    delivered = Counter(note.id for _, note in record)
    assert set(stored.values()) >= {"level_up", "streak_at_risk"}
    assert sorted(delivered) == sorted(stored) and set(delivered.values()) == {1}
    assert len({server for server, _ in record}) > 1  # they really were delivered by several


# -- batch() ----------------------------------------------------------------------------------


def test_batches_of_one_user_queue_with_that_user_s_writes(
    servers: Callable[..., Gamification],
) -> None:
    """``batch(user_id=)`` runs as one of the user's writes: four servers' batches and
    single calls on the same three users never conflict, and every call lands once."""
    engines = [servers() for _ in range(4)]
    users = ("ann", "bob", "cat")

    def work(n: int) -> Callable[[], None]:
        def run() -> None:
            g = engines[n]
            for i in range(12):
                user = users[(n + i) % 3]
                if i % 3 == 2:
                    g.award_points(
                        user, 1, currency="points", source="t", idempotency_key=f"{n}-{i}"
                    )
                    continue
                with g.batch(user_id=user):
                    g.award_points(
                        user, 2, currency="points", source="t", idempotency_key=f"{n}-{i}a"
                    )
                    g.spend_points(
                        user, 1, currency="points", source="t", idempotency_key=f"{n}-{i}b"
                    )
                    g.award_xp(user, 5, source="t", idempotency_key=f"{n}-{i}c")

        return run

    together([work(n) for n in range(4)])
    g = engines[0]
    balances = {user: g.balance(user, "points") for user in users}
    xp = {user: g.profile(user).xp for user in users}
    # 48 calls: 16 single awards of 1 and 32 batches of +2 -1 and 5 XP.
    assert sum(balances.values()) == 16 + 32 and sum(xp.values()) == 32 * 5
    assert g.verify_ledger().ok


def test_a_batch_of_several_users_that_conflicts_is_run_again_whole(
    servers: Callable[..., Gamification],
) -> None:
    """Without a user, a batch takes the lock of each user its calls are about as they come:
    two servers' batches moving points between the same users in opposite orders deadlock,
    the server breaks it, the loser raises ``WriteConflict`` with nothing stored, and running
    it again whole (same keys) lands every call exactly once."""
    engines = [servers() for _ in range(2)]
    users = ("ann", "bob", "cat")
    for user in users:
        engines[0].award_points(user, 1000, currency="points", source="seed")
    conflicts = Counter[int]()

    def work(n: int) -> Callable[[], None]:
        order = users if n == 0 else users[::-1]

        def batch(i: int) -> None:
            g = engines[n]
            with g.batch():
                for j, user in enumerate(order):
                    to = order[(j + 1) % 3]
                    g.transfer_points(
                        user, to, 1 + n, currency="points", idempotency_key=f"{n}-{i}-{j}"
                    )
                    g.award_points(
                        user, 1, currency="points", source="t", idempotency_key=f"{n}-{i}-{j}p"
                    )

        def run() -> None:
            for i in range(15):
                while True:
                    try:
                        batch(i)
                        break
                    except WriteConflict:
                        conflicts[n] += 1

        return run

    together([work(n) for n in range(2)])
    g = engines[0]
    # Transfers in a ring leave each balance as it was, plus one point per batch of each server.
    assert [g.balance(user, "points") for user in users] == [1000 + 2 * 15] * 3
    (transfers,) = g.db.execute(
        "SELECT count(*) FROM transactions WHERE type = 'transfer'"
    ).fetchone()
    assert transfers == 2 * 15 * 3
    assert g.verify_ledger().ok
    assert sum(conflicts.values()) > 0, "the batches never met: the test proved nothing"


RACED = ("ann", "bob", "cat")
SEEDED = 20  # points each user starts with: a few spends of 7 overdraw it unless exact


def keyed_round(g: Gamification, i: int, order: tuple[str, ...]) -> dict[str, Any]:
    """Round ``i``'s calls, the same keys on every server: per user a spend of 7, an award of
    3 points and one of 5 XP. What each returned: its result, or ``None`` if refused."""
    done: dict[str, Any] = {}
    for user in order:
        try:
            spent: Any = g.spend_points(
                user, 7, currency="points", source="t", idempotency_key=f"s{i}{user}"
            )
        except InsufficientFunds:
            spent = None  # refused before it wrote: the batch goes on, the key stays free
        done[f"s{i}{user}"] = spent
        done[f"p{i}{user}"] = g.award_points(
            user, 3, currency="points", source="t", idempotency_key=f"p{i}{user}"
        )
        done[f"x{i}{user}"] = g.award_xp(user, 5, source="t", idempotency_key=f"x{i}{user}")
    return done


def test_batches_without_a_user_beside_single_writes_of_their_users_stay_exact(
    servers: Callable[..., Gamification],
) -> None:
    """Two servers run batches without ``user_id`` (users in opposite orders), two others the
    same calls one by one, under the same keys: spends, point awards and XP awards about the
    same three users. The caller's contract for a batch: one that raises ``WriteConflict``
    stored nothing and is run again whole, same keys. Then every key is done exactly once
    (every call under it got the same transaction or award back), no balance is ever
    overdrawn, each equals its ledger, and each user's XP is the sum of its distinct awards.

    This is what a batch's calls taking their users' locks gives: a SERIALIZABLE batch that
    took none did not see the single writes (READ COMMITTED, under the user's lock) as
    conflicts, and lost XP awards or booked a key twice."""
    engines = [servers() for _ in range(4)]
    for user in RACED:
        engines[0].award_points(user, SEEDED, currency="points", source="seed")
    rounds, conflicts = 12, Counter[int]()
    results: list[list[tuple[str, Any]]] = [[] for _ in engines]

    def work(n: int) -> Callable[[], None]:
        g, order = engines[n], RACED if n % 2 == 0 else RACED[::-1]

        def run() -> None:
            for i in range(rounds):
                if n >= 2:
                    results[n].extend(keyed_round(g, i, order).items())
                    continue
                while True:
                    try:
                        with g.batch():
                            done = keyed_round(g, i, order)
                    except WriteConflict:
                        conflicts[n] += 1
                        continue
                    results[n].extend(done.items())
                    break

        return run

    together([work(n) for n in range(4)])
    g = engines[0]
    answers: dict[str, set[Any]] = {}
    for key, result in (pair for server in results for pair in server):
        if result is not None:
            answers.setdefault(key, set()).add(repr(result))
    # A key's every successful call got the one result it stored.
    assert all(len(seen) == 1 for seen in answers.values()), answers
    keyed = g.db.execute(
        "SELECT idempotency_key, count(*) FROM transactions WHERE source = 't' GROUP BY 1"
    ).fetchall()
    # (A call's key is stored as ``call:<key>`` on the ledger.)
    assert {key.removeprefix("call:"): count for key, count in keyed} == {
        key: 1 for key in answers if not key.startswith("x")
    }
    assert g.verify_ledger().ok
    for user in RACED:
        spends = sum(1 for key in answers if key.startswith("s") and key.endswith(user))
        balance = g.balance(user, "points")
        assert balance == SEEDED + 3 * rounds - 7 * spends >= 0, (user, balance, spends)
        assert g.profile(user).xp == 5 * rounds, user
        (awards,) = g.db.execute(
            "SELECT count(*) FROM xp_awards WHERE user_id = ? AND source = 't'", (user,)
        ).fetchone()
        assert awards == rounds
    # Some spends were refused (the balance ran low), so no-overdraw was put to the test.
    refused = [key for server in results for key, result in server if result is None]
    assert refused, "no spend was ever refused: the test proved nothing"


# -- every built-in job, run by servers at once -----------------------------------------------

JOBS_CONFIG = Config(
    currencies=(CurrencyConfig("points", expire_after_days=30, expiry_notice_days=7),),
    leaderboards=LeaderboardsConfig(
        boards=(
            BoardConfig(
                "xp",
                periods=("weekly",),
                rewards=(RankReward(ranks=(1, 3), points={"points": 500}, title="Podium"),),
            ),
        ),
        visibility="public",
        show_on_global=True,
    ),
    seasons=[SEASON],
    streaks=StreaksConfig(at_risk_hours=3),
)


def played_jobs(engines: list[Gamification], now: datetime) -> list[Any]:
    """The game's week (XP, points to expire, holds, streaks), then every job each engine
    has, run by all of them at once for ``now``; what each run returned."""
    first = engines[0]
    for i in range(10):
        user = f"u{i}"
        first.award_xp(user, 100 + 37 * i, source="lesson")
        first.award_points(user, 50 + i, currency="points", source="lesson")
        first.points.reserve(user, 5, currency="points", ttl=timedelta(hours=1), source="shop")
        first.streaks.record_activity(user, at=START)
    jobs = first.jobs.list()
    assert {job.name for job in jobs} >= {
        "expire_points",
        "expire_reservations",
        "leaderboard_close",
        "battle_pass_close",
        "streak_sweep",
        "quest_rollover",
    }
    return together([lambda e=e: [job.run(e, now) for job in jobs] for e in engines])


def outcome_of(g: Gamification) -> dict[str, Any]:
    """What the jobs left: per user, what they own and what they were told."""
    kinds = g.db.execute("SELECT user_id, kind FROM notifications").fetchall()
    return {
        user: (
            {c: (b.balance, b.held) for c, b in g.points.balances(user).items()},
            g.profile(user).titles,
            g.battle_pass.get(user, season=SEASON.key).tier,
            sorted(kind for owner, kind in kinds if owner == user),
        )
        for user in (f"u{i}" for i in range(10))
    }


def test_every_job_run_by_servers_at_once_does_its_work_once(place: Place) -> None:
    """Three servers run every built-in job at the same moment, outside the scheduler's lease
    (as a job runner and a cron on two machines would): nothing fails, and the users end as
    one server running the jobs alone leaves them, each notification delivered once."""
    record: list[tuple[int, Notification]] = []
    now = SEASON.ends_at + timedelta(days=2)
    opened: list[Gamification] = []

    def engine(where: str, n: int) -> Gamification:
        opened.append(
            Gamification.open(
                **place(where),
                config=JOBS_CONFIG,
                clock=FakeClock(START),
                plugins=(Deliveries(n, record),),
                load_entrypoints=False,
            )
        )
        return opened[-1]

    try:
        runs = played_jobs([engine("shared", n) for n in range(3)], now)
        alone = engine("alone", 9)
        played_jobs([alone], now)
        shared = opened[0]
        assert outcome_of(shared) == outcome_of(alone)
        assert shared.verify_ledger().ok
        # Each board period and season closed by one server; the others found it closed.
        names = [job.name for job in shared.jobs.list()]
        closes = [run[names.index("leaderboard_close")] for run in runs]
        assert sorted(c for run in closes for c in run) == ["xp:weekly:2026-W10"]
        delivered = Counter(note.id for server, note in record if server != 9)
        stored = [row[0] for row in shared.db.execute("SELECT id FROM notifications")]
        assert sorted(delivered) == sorted(stored) and set(delivered.values()) == {1}
    finally:
        for g in opened:
            g.close()
