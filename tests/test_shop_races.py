"""Several app servers (engines on one store, each its own session) racing on what buyers and
users share: the last units of a limited item, one order or one spend refunded and one hold
committed or released from several servers at once, an order closed by its failed
fulfilment and by the expiry job, transfers between the same users in both directions and
into a user's first rows.
Every race ends in a typed outcome (a refusal such as ``OutOfStock``, never an internal
error), each thing is done once, and the ledger verifies. On SQLite the file's one writer
queues the servers; on PostgreSQL they write at once (``--backend=postgresql``)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gamification_sdk import Config, FakeClock, Gamification, Order, errors, hookimpl

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Place = Callable[[str], dict[str, Any]]
CONFIG = Config(rate_limits={"purchase": None}, busy_timeout=30)
SHOP = {
    "shop": [
        {"key": "hat", "name": "Hat", "kind": "cosmetic", "price": {"points": 30}, "stock": 5,
         "item": "hat"},
        {"key": "shirt", "name": "Shirt", "kind": "external", "price": {"points": 40},
         "stock": 2},
    ]
}  # fmt: skip
BUYERS = [f"buyer{i:02}" for i in range(16)]


@pytest.fixture
def servers(place: Place) -> Iterator[list[Gamification]]:
    """Four engines on one store, the hat loaded and every buyer given 100 points."""
    engines: list[Gamification] = []
    try:
        for _ in range(4):
            where = place("shared")
            clock = FakeClock(START)
            engines.append(
                Gamification.open(**where, config=CONFIG, clock=clock, load_entrypoints=False)
            )
        engines[0].events.load(SHOP, name="races")
        for user in BUYERS:
            engines[0].award_points(user, 100, currency="points", source="seed")
        yield engines
    finally:
        for engine in engines:
            engine.close()


def together(work: list[Callable[[], Any]]) -> list[Any]:
    """Run the callables on threads released at once: each one's result, or what it raised
    (the test says which are allowed)."""
    results: list[Any] = [None] * len(work)
    gate = threading.Barrier(len(work))

    def run(index: int) -> None:
        gate.wait()
        try:
            results[index] = work[index]()
        except BaseException as exc:  # returned: the test checks each outcome's type
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def stock(g: Gamification, key: str) -> tuple[int | None, int]:
    """An item's units left and sold."""
    (item,) = (item for item in g.shop.list() if item.key == key)
    return item.stock, item.sold


def kinds(results: list[Any]) -> Counter[str]:
    return Counter(type(result).__name__ for result in results)


@pytest.mark.parametrize("framed", ["alone", "in a batch of the buyer"])
def test_servers_sell_the_last_units_each_once(servers: list[Gamification], framed: str) -> None:
    """Sixteen buyers on four servers want the five hats at once: exactly five are sold, the
    other eleven are refused ``OutOfStock`` (on PostgreSQL the stock row is read FOR UPDATE,
    where two buyers of the last unit found the take refused: an internal AssertionError),
    and each buyer who got one paid once."""

    def buy(n: int) -> Callable[[], Order]:
        engine, user = servers[n % 4], BUYERS[n]
        if framed == "alone":
            return lambda: engine.shop.purchase(user, "hat")

        def in_batch() -> Order:
            with engine.batch(user_id=user):
                return engine.shop.purchase(user, "hat")

        return in_batch

    results = together([buy(n) for n in range(len(BUYERS))])
    assert kinds(results) == {"Order": 5, "OutOfStock": 11}, results
    g = servers[0]
    assert stock(g, "hat") == (0, 5)
    for user, result in zip(BUYERS, results, strict=True):
        bought = isinstance(result, Order)
        assert g.balance(user, "points") == (70 if bought else 100), user
        assert g.users.inventory(user).items == ({"hat": 1} if bought else {}), user
    assert g.verify_ledger().ok


@pytest.mark.parametrize("framed", ["alone", "in a batch of the buyer"])
def test_an_order_refunded_from_several_servers_at_once_is_refunded_once(
    servers: list[Gamification], framed: str
) -> None:
    """Four servers refund the same order at once (a call by the order's id): one refunds it,
    the others are refused ``NotRefundable``; the points come back once and the unit goes
    back to stock once. (In batches the refunds run READ COMMITTED under the buyer's lock;
    alone, SERIALIZABLE: the order's row read FOR UPDATE queues both kinds.)"""
    g = servers[0]
    orders = [g.shop.purchase(user, "hat") for user in BUYERS[:2]]
    order = orders[0]

    def refund(n: int) -> Callable[[], Order]:
        engine = servers[n]
        if framed == "alone" or n % 2:
            return lambda: engine.shop.refund(order.id)

        def in_batch() -> Order:
            with engine.batch(user_id=order.user_id):
                return engine.shop.refund(order.id)

        return in_batch

    results = together([refund(n) for n in range(4)])
    assert kinds(results) == {"Order": 1, "NotRefundable": 3}, results
    assert g.shop.order(order.id).status == "refunded"
    assert g.balance(order.user_id, "points") == 100
    assert g.users.inventory(order.user_id).items == {}
    assert stock(g, "hat") == (4, 1)
    assert g.verify_ledger().ok


def test_transfers_both_ways_and_into_a_new_user_lose_nothing(
    servers: list[Gamification],
) -> None:
    """Four servers move points between the same users in both directions and into users
    who have no rows yet (while those earn their first points themselves): every call
    succeeds or is refused ``InsufficientFunds``, no point is made or lost, and each new user
    has one profile and one account. A transfer locks the receiver too (their first rows
    are made under it), the two users in id order, so opposite transfers queue."""
    newcomers = [f"new{i}" for i in range(3)]

    def worker(n: int) -> Callable[[], list[object]]:
        engine = servers[n % 4]

        def run() -> list[object]:
            done: list[object] = []
            for i in range(12):
                sender = BUYERS[(n + i) % 4]
                if i % 3 == 0:
                    receiver = newcomers[(n + i) % 3]
                else:  # odd workers give to the next user, even ones to the one before
                    receiver = BUYERS[(n + i + (1 if n % 2 else -1)) % 4]
                try:
                    done.append(engine.transfer_points(sender, receiver, 7, currency="points"))
                except errors.InsufficientFunds as exc:
                    done.append(exc)
            return done

        return run

    def newcomer(user: str, n: int) -> Callable[[], object]:
        return lambda: servers[n % 4].award_points(user, 5, currency="points", source="first")

    results = together(
        [worker(n) for n in range(8)] + [newcomer(u, n) for n, u in enumerate(newcomers)]
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    failures += [x for r in results if isinstance(r, list) for x in r if isinstance(x, Exception)]
    assert all(isinstance(f, errors.InsufficientFunds) for f in failures), failures
    g = servers[0]
    users = BUYERS[:4] + newcomers
    total = sum(g.balance(user, "points") for user in users)
    assert total == 4 * 100 + 5 * len(newcomers)
    for user in newcomers:
        profiles = g.db.execute("SELECT count(*) FROM profiles WHERE user_id = ?", (user,))
        assert profiles.fetchone() == (1,)
        # (On PostgreSQL the system accounts are booked per user too: not the user's own.)
        accounts = "SELECT count(*) FROM accounts WHERE user_id = ? AND system_name IS NULL"
        assert g.db.execute(accounts, (user,)).fetchone() == (1,)
    assert g.verify_ledger().ok


@pytest.mark.postgresql_only(reason="the users' advisory locks are PostgreSQL's")
def test_a_transfer_takes_both_users_locks_in_id_order(
    servers: list[Gamification], place: Place
) -> None:
    """A transfer from ``buyer01`` to ``buyer00`` while another session holds ``buyer00``'s
    lock waits for it without holding ``buyer01``'s: the locks go in id order whichever way
    the points move, so two opposite transfers queue instead of deadlocking."""
    import psycopg

    where = place("shared")
    lock = "SELECT {}(hashtext(%s), hashtext(%s))"
    done: list[object] = []
    with psycopg.connect(where["path"], autocommit=True) as holder:
        holder.execute(lock.format("pg_advisory_lock"), (where["schema"], BUYERS[0]))
        mover = threading.Thread(
            target=lambda: done.append(
                servers[1].transfer_points(BUYERS[1], BUYERS[0], 10, currency="points")
            )
        )
        mover.start()
        waiting = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND objid = (hashtext(%s)::bigint & 4294967295)::text::oid"
        )
        for _ in range(500):  # until the transfer waits on buyer00's lock (at most 5 s)
            if holder.execute(waiting, (BUYERS[0],)).fetchone() == (1,):
                break
            threading.Event().wait(0.01)
        else:
            raise AssertionError("the transfer never waited for the receiver's lock")
        # The sender's lock is free: the transfer asks for it only after the receiver's.
        (free,) = holder.execute(
            lock.format("pg_try_advisory_lock"), (where["schema"], BUYERS[1])
        ).fetchone()
        assert free
        holder.execute(lock.format("pg_advisory_unlock"), (where["schema"], BUYERS[1]))
        assert done == []
        holder.execute(lock.format("pg_advisory_unlock"), (where["schema"], BUYERS[0]))
        mover.join(timeout=10)
    assert len(done) == 1
    assert servers[0].balance(BUYERS[0], "points") == 110


@pytest.mark.postgresql_only(reason="choreographed with PostgreSQL's row locks")
def test_an_order_closed_by_its_failed_fulfilment_and_by_the_expiry_job_at_once_closes_once(
    servers: list[Gamification], place: Place
) -> None:
    """A buyer's server closes an order its ``fulfill_order`` refused while another server's
    expiry job closes it too, both having read it pending: the job, which got there first,
    releases the hold and puts the shirt back; the failed fulfilment then reads the order's
    row (FOR UPDATE, waiting for the job) closed and leaves it. Without that lock it went on
    from the pending it had read and released the hold again (refused by the accounts' check:
    a raw database error); before it was a write about the buyer it ran SERIALIZABLE, not
    retried, and failed with a raw serialization failure.

    The job is held on the stock row by a session that locks it; once the fulfilment's close
    waits behind the job too, that session lets go."""
    import psycopg

    where = place("shared")
    due = START.replace(hour=13)  # past the shirt's hold of 60 s
    waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
    threads: list[threading.Thread] = []
    expired: list[object] = []
    holder = psycopg.connect(where["path"])
    holder.execute(f"SET search_path TO {where['schema']}")

    def until(count: int) -> None:
        with psycopg.connect(where["path"], autocommit=True) as probe:
            for _ in range(500):  # at most 5 s
                if probe.execute(waiting).fetchone() == (count,):
                    return
                threading.Event().wait(0.01)
        raise AssertionError(f"never {count} waiting")

    class Refusing:
        @hookimpl
        def fulfill_order(self, engine: Gamification, order: Order, item: object) -> object:
            holder.execute("SELECT stock FROM shop_stock WHERE item = 'shirt' FOR UPDATE")
            job = threading.Thread(
                target=lambda: expired.append(servers[1].points.expire_reservations(due))
            )
            job.start()
            until(1)  # the job closed the order, and waits on the stock row
            # Once this refusal's close waits too (behind the job), the stock row is let go.
            threads.extend([job, threading.Thread(target=lambda: (until(2), holder.commit()))])
            threads[-1].start()
            return False

    buyer = Gamification.open(
        **where, config=CONFIG, clock=FakeClock(START), plugins=(Refusing(),),
        load_entrypoints=False,
    )  # fmt: skip
    try:
        with pytest.raises(errors.FulfillmentFailed):
            buyer.shop.purchase(BUYERS[0], "shirt")
    finally:
        for thread in threads:
            thread.join(timeout=10)
        buyer.close()
        holder.close()
    g = servers[0]
    (order,) = g.shop.orders(BUYERS[0])
    assert order.status == "expired"
    assert [len(released) for released in expired] == [1]
    assert stock(g, "shirt") == (2, 0)
    (balance,) = g.points.balances(BUYERS[0]).values()
    assert (balance.balance, balance.held) == (100, 0)
    assert g.verify_ledger().ok


@pytest.mark.parametrize("framed", ["alone", "in a batch of the user"])
def test_a_spend_refunded_from_several_servers_at_once_is_refunded_once(
    servers: list[Gamification], framed: str
) -> None:
    """Four servers refund the whole of one spend at once (``g.refund``, a call by the
    transaction's id): one refunds it, the others are refused ``NotRefundable``, and the
    points come back once. Alone such a refund runs SERIALIZABLE without the user's lock, in
    a batch READ COMMITTED under it: one of each read the spend unrefunded, and the second to
    add its refund broke the transactions' check (a raw IntegrityError) until the addition
    was made conditional on what is left."""
    g = servers[0]
    spent = g.spend_points(BUYERS[0], 60, currency="points", source="shop")

    def refund(n: int) -> Callable[[], object]:
        engine = servers[n]
        if framed == "alone" or n % 2:
            return lambda: engine.refund(spent.id)

        def in_batch() -> object:
            with engine.batch(user_id=BUYERS[0]):
                return engine.refund(spent.id)

        return in_batch

    results = together([refund(n) for n in range(4)])
    assert kinds(results) == {"Transaction": 1, "NotRefundable": 3}, results
    assert g.balance(BUYERS[0], "points") == 100
    assert g.verify_ledger().ok


@pytest.mark.parametrize("call", ["commit", "release"])
def test_a_hold_closed_from_several_servers_at_once_is_closed_once(
    servers: list[Gamification], call: str
) -> None:
    """Four servers commit (or release) one of a user's two holds at once, two alone and two
    in a batch of the user: one closes it, the others are refused ``ReservationClosed``,
    and the user's other hold stays held. (One alone and one in a batch both read it open:
    the hold was charged twice, or its points released twice, until closing it became
    conditional on its being still active.)"""
    g = servers[0]
    user = BUYERS[0]
    hold, other = (g.reserve_points(user, 30, currency="points", ttl=600) for _ in range(2))

    def close(n: int) -> Callable[[], object]:
        engine = servers[n]

        def once() -> object:
            if call == "commit":
                return engine.commit_reservation(hold.id)
            return engine.release_reservation(hold.id)

        if n % 2:
            return once

        def in_batch() -> object:
            with engine.batch(user_id=user):
                return once()

        return in_batch

    results = together([close(n) for n in range(4)])
    done = "Transaction" if call == "commit" else "Reservation"
    assert kinds(results) == {done: 1, "ReservationClosed": 3}, results
    (account,) = g.points.balances(user).values()
    assert (account.balance, account.held) == (70 if call == "commit" else 100, 30)
    assert g.points.reservation(other.id).status == "active"
    assert g.verify_ledger().ok
