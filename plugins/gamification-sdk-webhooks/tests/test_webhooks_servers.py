"""Several app servers on one PostgreSQL schema: each queues the notifications it stores, and
all of them run the delivery at the same moments against one receiver. Every message ends
delivered once or dead once, under one ``webhook-id``, and no attempt is posted twice."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import gamification_sdk_webhooks as plugin
import pytest
from gamification_sdk_webhooks import DeliveryReport, RetryPolicy, Webhooks
from webhook_fixtures import backend, place, postgres_url, postgresql
from webhook_receiver import Received, receiving, verify

from gamification_sdk import FakeClock, Gamification

# Collected here from webhook_fixtures: the run's backend, and where engines open on it.
FIXTURES = (backend, place, postgres_url, postgresql)

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SERVERS = 3
USERS = 24
POLICY = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=40), max_attempts=3)


def failures(message_id: str) -> int:
    """How many times the receiver refuses ``message_id`` before it accepts it (0 to 3: 3
    is every attempt, so the message ends dead)."""
    return hashlib.sha256(message_id.encode()).digest()[0] % 4


def answer(request: Received, before: int) -> int:
    return 503 if before < failures(request.headers["webhook-id"]) else 200


def together(engines: list[Gamification], work: Callable[[int, Gamification], Any]) -> list[Any]:
    """``work(i, engine)`` on every server at once (a thread each, started together)."""
    start = threading.Barrier(len(engines))
    results: list[Any] = [None] * len(engines)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(30)
            results[index] = work(index, engines[index])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


@pytest.mark.usefixtures("postgresql")
def test_servers_delivering_at_once_send_each_message_once_or_dead_once(
    place: Callable[[str], dict[str, Any]],
) -> None:
    clock = FakeClock(START)
    engines = [
        Gamification.open(**place("shared"), clock=clock, plugins=[plugin], load_entrypoints=False)
        for _ in range(SERVERS)
    ]
    try:
        with receiving() as receiver:
            receiver.answer = answer
            receiver.pause = 0.005  # each post stays open a moment: the servers overlap
            Webhooks(engines[0]).add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
            Webhooks(engines[1]).add("all", receiver.url, kinds=["*"], secret=SECRET)

            def award(index: int, g: Gamification) -> None:
                for n in range(index, USERS, SERVERS):
                    g.award_xp(f"user{n}", 450, source="post", idempotency_key=f"lvl-{n}")
                # A write that rolls back queues nothing, on any server.
                with pytest.raises(RuntimeError), g.batch():
                    g.award_xp(f"gone{index}", 450, source="post")
                    raise RuntimeError("the host's own failure")

            together(engines, award)
            queued = Webhooks(engines[2]).deliveries(limit=1000)
            assert len(queued) == 2 * USERS  # one per user and endpoint, from every server
            assert {d.user_id for d in queued} == {f"user{n}" for n in range(USERS)}

            reports: list[list[DeliveryReport]] = [[] for _ in engines]

            def deliver(index: int, g: Gamification) -> None:
                wh = Webhooks(g, clock=clock, retry=POLICY, random=lambda: 0.0, batch_size=4)
                reports[index].append(wh.deliver())

            for _ in range(2 * POLICY.max_attempts):
                together(engines, deliver)
                clock.advance(seconds=60)  # past every retry's wait and every claim's lease
            final = {d.id: d for d in Webhooks(engines[0]).deliveries(limit=1000)}
    finally:
        for engine in engines:
            engine.close()

    assert receiver.overlaps == []  # no attempt was posted while another was open
    posts = Counter(r.headers["webhook-id"] for r in receiver.received)
    bodies: dict[str, set[str]] = {}
    for r in receiver.received:
        bodies.setdefault(r.headers["webhook-id"], set()).add(r.body)
        assert verify(SECRET, r.headers, r.body, int(clock().timestamp()), 10**4)
    assert all(len(texts) == 1 for texts in bodies.values())  # one body per webhook-id
    delivered = [d for d in final.values() if d.status == "delivered"]
    dead = [d for d in final.values() if d.status == "dead"]
    assert len(delivered) + len(dead) == 2 * USERS  # nothing left pending
    assert delivered and dead  # the receiver's answers reach both ends
    for d in delivered:
        # Refused failures(id) times, then accepted by the next post, the last: one post per
        # attempt, one acknowledgement.
        assert d.attempts == failures(d.message_id) + 1 == posts[d.message_id], d
    for d in dead:
        assert failures(d.message_id) == 3 and d.attempts == 3 == posts[d.message_id], d
    assert set(posts) == {d.message_id for d in final.values()}

    # Each outcome was reported by exactly one server's run, once.
    said_delivered = Counter(i for runs in reports for r in runs for i in r.delivered)
    said_dead = Counter(i for runs in reports for r in runs for i in r.dead)
    assert said_delivered == Counter(d.id for d in delivered)
    assert said_dead == Counter(d.id for d in dead)
    # The servers really shared the work.
    assert all(sum(sum(r.counts().values()) for r in runs) > 0 for runs in reports), reports


def waiting(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """``work()`` started in a thread, with its result once it ends."""
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(work()))
    thread.start()
    return thread, found


@pytest.mark.usefixtures("postgresql")
def test_servers_adding_and_rotating_one_endpoint_at_once_agree(
    place: Callable[[str], dict[str, Any]],
) -> None:
    clock = FakeClock(START)
    a, b = (
        Gamification.open(**place("shared"), clock=clock, plugins=[plugin], load_entrypoints=False)
        for _ in range(2)
    )
    try:
        url = "https://crm.example/hooks"
        new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
        with a.batch():  # a's add is not committed while b adds the same endpoint
            added = Webhooks(a).add("crm", url, kinds=["level_up"], secret=SECRET)
            thread, found = waiting(
                lambda: Webhooks(b).add("crm", url, kinds=["level_up"], secret=SECRET)
            )
            thread.join(0.5)
            assert thread.is_alive()  # b waits for a's row
        thread.join(30)
        assert found == [added]  # the same call twice: one endpoint, no error

        with a.batch():  # a rotates, and b rotates before a commits
            Webhooks(a).rotate_secret("crm", new, keep_old_for=timedelta(hours=1))
            thread, found = waiting(lambda: Webhooks(b).rotate_secret("crm"))
            thread.join(0.5)
            assert thread.is_alive()  # b waits for a's rotation
        thread.join(30)
        (rotated,) = found
        assert rotated.secret not in (SECRET, new) and rotated.active_secrets == 3
        # b's rotation retired a's secret (it signs for b's 24 hours more): one lasts.
        lasting = "SELECT secret FROM webhook_secrets WHERE endpoint = 'crm' AND expires_at IS NULL"
        assert a.db.execute(lasting).fetchall() == [(rotated.secret,)]
    finally:
        a.close()
        b.close()
