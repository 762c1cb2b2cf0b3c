"""A worker SIGKILLed in the middle of a delivery run loses nothing: the message it was
posting is sent again later under the same webhook-id, the others once. The worker is a
process on the file, or a server on the PostgreSQL schema (``place``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gamification_sdk_webhooks as plugin
from webhook_fixtures import backend, place, postgres_url
from webhook_receiver import receiving, verify

from gamification_sdk import FakeClock, Gamification

# Collected here from webhook_fixtures: the run's backend, and where engines open on it.
FIXTURES = (backend, place, postgres_url)

ROOT = Path(__file__).resolve().parents[3]
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WORKER = """
import sys
from datetime import datetime
import gamification_sdk_webhooks as plugin
from gamification_sdk import FakeClock, Gamification
clock = FakeClock(datetime.fromisoformat(sys.argv[2]))
where = {"schema": sys.argv[3]} if len(sys.argv) > 3 else {}
with Gamification.open(
    sys.argv[1], clock=clock, plugins=[plugin], load_entrypoints=False, **where
) as g:
    plugin.Webhooks(g, timeout=30).deliver()
"""


def test_a_worker_killed_mid_delivery_loses_nothing(
    place: Callable[[str], dict[str, Any]], backend: str
) -> None:
    where = place("game")
    clock = FakeClock(START)
    with (
        receiving() as receiver,
        Gamification.open(**where, clock=clock, plugins=[plugin], load_entrypoints=False) as g,
    ):
        wh = plugin.Webhooks(g, clock=clock, timeout=30)
        wh.add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
        for user in ("ada", "bo", "cy"):
            g.award_xp(user, 450, source="post", idempotency_key=f"lvl-{user}")
        first, second, third = wh.deliveries()
        receiver.plan = [200, "hold"]  # the second post is held open until the kill

        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        schema = [where["schema"]] if "schema" in where else []
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(where["path"]), START.isoformat(), *schema],
            env=env,
        )
        try:
            assert receiver.arrived.wait(60), "the worker never posted the second delivery"
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            worker.wait(60)
        assert worker.returncode == -signal.SIGKILL
        receiver.release.set()

        if backend == "sqlite":
            assert g.db.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        by_id = {d.id: d for d in wh.deliveries()}
        assert by_id[first.id].status == "delivered"
        assert (by_id[second.id].status, by_id[second.id].attempts) == ("pending", 1)
        # Claimed in the same batch, never posted: it waits out the claim like the second.
        assert (by_id[third.id].status, by_id[third.id].attempts) == ("pending", 1)

        assert wh.deliver().counts() == {"delivered": 0, "retrying": 0, "dead": 0}
        clock.advance(timedelta(seconds=2 * 30 + 30))  # the killed worker's claim ran out
        assert wh.deliver().delivered == (second.id, third.id)
        assert [d.status for d in wh.deliveries()] == ["delivered"] * 3

    ids = receiver.ids()
    assert ids == [first.message_id, second.message_id, second.message_id, third.message_id]
    assert all(verify(SECRET, r.headers, r.body, int(clock().timestamp()), 10**6)
               for r in receiver.received)  # fmt: skip
    duplicate, again = receiver.received[1], receiver.received[2]
    assert duplicate.body == again.body
