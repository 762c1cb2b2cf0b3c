"""The webhooks plugin against a real HTTP receiver on 127.0.0.1: signatures checked by an
independent verifier, retries on a fake clock, timeouts, rotation, the dead letter, bad input.
Engines open on the run's backend (``place``: a file, or a PostgreSQL schema)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gamification_sdk_webhooks as plugin
import httpx
import pytest
from click.testing import CliRunner, Result
from gamification_sdk_webhooks import RetryPolicy, Webhooks
from gamification_sdk_webhooks.cli import webhooks as webhooks_command
from hypothesis import example, given, settings
from hypothesis import strategies as st
from webhook_fixtures import backend, place, postgres_url, postgresql
from webhook_receiver import Receiver, receiving, verify

from gamification_sdk import FakeClock, Gamification, errors
from gamification_sdk.cli import cli
from gamification_sdk.cli.state import State

Place = Callable[[str], dict[str, Any]]

# Collected here from webhook_fixtures: the run's backend, and where engines open on it.
FIXTURES = (backend, place, postgres_url, postgresql)

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes
NEW_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 bytes
NO_JITTER = RetryPolicy(base=timedelta(seconds=30), max_attempts=3, jitter=0.5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def g(place: Place, clock: FakeClock) -> Iterator[Gamification]:
    engine = Gamification.open(
        **place("game"), clock=clock, plugins=[plugin], load_entrypoints=False
    )
    yield engine
    engine.close()


def command(g: Gamification, *args: str, as_json: bool = False) -> Result:
    """``gamification [--json] webhooks ARGS`` on ``g``'s database, whichever its backend
    (the core command line opens files only: the group runs on the engine it is given)."""
    state = State("unused", None, as_json, True)
    state._engine = g  # what State.engine() opens from --db on a file
    return CliRunner().invoke(webhooks_command, list(args), obj=state)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def hooks(g: Gamification, clock: FakeClock, **kwargs: Any) -> Webhooks:
    kwargs.setdefault("retry", NO_JITTER)
    kwargs.setdefault("random", lambda: 0.0)
    return Webhooks(g, clock=clock, timeout=0.2, **kwargs)


def now_seconds(clock: FakeClock) -> int:
    return int(clock().timestamp())


def level_up(g: Gamification, user: str = "ada", key: str = "lvl") -> None:
    g.award_xp(user, 450, source="post", idempotency_key=key)  # level 1 -> 3: one notification


def test_a_level_up_is_delivered_signed_once(
    g: Gamification, clock: FakeClock, receiver: Receiver
) -> None:
    wh = hooks(g, clock)
    endpoint = wh.add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
    assert (endpoint.secret, endpoint.kinds, endpoint.active_secrets) == (SECRET, ("level_up",), 1)
    level_up(g)
    g.award_points("ada", 5, currency="points", source="gift")  # no notification kind
    (pending,) = wh.deliveries("pending")
    report = wh.deliver()
    assert report.delivered == (pending.id,) and not report.retrying and not report.dead
    (got,) = receiver.received
    assert verify(SECRET, got.headers, got.body, now_seconds(clock))
    assert got.headers["webhook-id"] == pending.message_id
    assert got.headers["content-type"] == "application/json"
    payload = json.loads(got.body)
    assert payload["type"] == "level_up"
    assert payload["data"]["user_id"] == "ada"
    assert payload["data"]["data"]["new_level"] == 3
    assert wh.deliver().counts() == {"delivered": 0, "retrying": 0, "dead": 0}
    assert len(receiver.received) == 1
    assert wh.counts() == {"pending": 0, "delivered": 1, "dead": 0}
    # A tampered body or another secret does not verify.
    assert not verify(SECRET, got.headers, got.body + " ", now_seconds(clock))
    assert not verify(NEW_SECRET, got.headers, got.body, now_seconds(clock))


def test_only_chosen_kinds_go(g: Gamification, clock: FakeClock, receiver: Receiver) -> None:
    wh = hooks(g, clock)
    wh.add("levels", receiver.url, kinds=["level_up"])
    wh.add("tiers", receiver.url, kinds=["tier_changed"])  # a kind this engine never makes
    wh.add("all", receiver.url, kinds=["*"])
    level_up(g)
    by_endpoint = sorted((d.endpoint, d.kind) for d in wh.deliveries())
    assert by_endpoint == [("all", "level_up"), ("levels", "level_up")]
    assert len(wh.deliver().delivered) == 2
    assert len(set(receiver.ids())) == 2
    bodies = {json.loads(r.body)["data"]["notification_id"] for r in receiver.received}
    assert bodies == {g.notifications.list("ada")[0].id}


@pytest.mark.sqlite_only(
    reason="the file's trigger queues what any writer stores, a row inserted by hand or a "
    "process without the plugin; on PostgreSQL each server's plugin queues what it stores"
)
def test_on_a_file_any_writer_s_notifications_are_queued(
    g: Gamification, clock: FakeClock, tmp_path: Path
) -> None:
    wh = hooks(g, clock)
    wh.add("tiers", "https://example.com/hooks", kinds=["tier_changed"])
    g.award_xp("ada", 1, source="post")
    # A notification of a kind another capability adds: stored the way the outbox stores one.
    with g.batch():
        g.db.execute(
            "INSERT INTO notifications (user_id, kind, message, data, created_at) "
            "VALUES ('ada', 'tier_changed', 'Gold!', '{\"tier\":\"gold\"}', '2026-03-02')"
        )
    wh.add("levels", "https://example.com/hooks", kinds=["level_up"])
    # Another process without the plugin loaded: its notifications are queued all the same.
    with Gamification.open(tmp_path / "game.db", clock=clock, load_entrypoints=False) as other:
        level_up(other, "bo", "other")
    assert [(d.user_id, d.kind) for d in wh.deliveries()] == [
        ("ada", "tier_changed"), ("bo", "level_up"),
    ]  # fmt: skip


def test_a_rolled_back_write_queues_nothing(
    g: Gamification, clock: FakeClock, place: Place
) -> None:
    wh = hooks(g, clock)
    wh.add("crm", "https://example.com/hooks", kinds=["level_up"])
    with pytest.raises(RuntimeError), g.batch():
        level_up(g)
        raise RuntimeError("the host's own failure")
    assert wh.deliveries() == []
    # Another process (server) with the plugin: what it stores is queued once, with its body.
    with Gamification.open(
        **place("game"), clock=clock, plugins=[plugin], load_entrypoints=False
    ) as other:
        level_up(other, "bo", "other")
    (queued,) = wh.deliveries()
    assert (queued.user_id, queued.kind, queued.status) == ("bo", "level_up", "pending")
    (note,) = g.notifications.list("bo")
    assert json.loads(queued.body) == {
        "type": "level_up",
        "timestamp": queued.created_at,
        "data": {
            "notification_id": note.id, "user_id": "bo", "kind": "level_up",
            "message": note.message, "data": note.data,
        },
    }  # fmt: skip
    assert queued.created_at == note.created_at.isoformat(timespec="microseconds")


def test_failures_back_off_and_keep_the_webhook_id_until_it_recovers(
    g: Gamification, clock: FakeClock, receiver: Receiver
) -> None:
    wh = hooks(g, clock, retry=RetryPolicy(base=timedelta(seconds=30), max_attempts=5))
    wh.add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
    level_up(g)
    receiver.plan = [500, "hang", 200]
    first = wh.deliver()
    assert first.retrying and not first.delivered
    (row,) = wh.deliveries()
    assert (row.attempts, row.last_status, row.last_error) == (1, 500, "HTTP 500")
    assert row.next_attempt_at == (START + timedelta(seconds=30)).isoformat(timespec="microseconds")
    assert wh.deliver().counts()["retrying"] == 0  # not due yet: nothing sent
    assert len(receiver.received) == 1

    clock.advance(seconds=30)
    assert wh.deliver().retrying  # the receiver hangs past the 0.2 s timeout
    (row,) = wh.deliveries()
    assert row.attempts == 2 and row.last_status is None and "Timeout" in (row.last_error or "")
    assert row.next_attempt_at == (clock() + timedelta(seconds=60)).isoformat(
        timespec="microseconds"
    )

    clock.advance(seconds=60)
    assert wh.deliver().delivered == (row.id,)
    assert receiver.ids() == [row.message_id] * 3
    assert all(verify(SECRET, r.headers, r.body, now_seconds(clock)) for r in receiver.received)
    assert wh.deliveries()[0].status == "delivered"


def test_an_unreachable_endpoint_is_retried(g: Gamification, clock: FakeClock) -> None:
    wh = hooks(g, clock)
    with receiving() as gone:
        url = gone.url
    wh.add("gone", url, kinds=["level_up"])
    level_up(g)
    assert wh.deliver().retrying
    assert "ConnectError" in (wh.deliveries()[0].last_error or "")


def test_the_dead_letter_lists_and_replays_under_the_same_id(
    g: Gamification, clock: FakeClock, receiver: Receiver
) -> None:
    wh = hooks(g, clock, retry=RetryPolicy(base=timedelta(seconds=10), max_attempts=2))
    wh.add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
    level_up(g)
    receiver.plan = [503, 503]
    assert wh.deliver().retrying
    clock.advance(seconds=10)
    report = wh.deliver()
    assert report.dead and not report.retrying
    (dead,) = wh.dead()
    assert (dead.status, dead.attempts, dead.last_status) == ("dead", 2, 503)
    clock.advance(days=1)
    assert wh.deliver().counts() == {"delivered": 0, "retrying": 0, "dead": 0}

    listed = command(g, "dead", as_json=True)
    assert listed.exit_code == 0, listed.output
    assert [d["message_id"] for d in json.loads(listed.stdout)] == [dead.message_id]
    replayed = command(g, "replay", str(dead.id))
    assert replayed.exit_code == 0, replayed.output
    assert wh.dead() == [] and wh.deliveries("pending")[0].attempts == 0
    assert wh.deliver().delivered == (dead.id,)
    assert receiver.ids() == [dead.message_id] * 3
    assert wh.replay() == []  # nothing dead any more


def test_rotation_signs_with_old_and_new_until_the_old_expires(
    g: Gamification, clock: FakeClock, receiver: Receiver
) -> None:
    wh = hooks(g, clock)
    wh.add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
    rotated = wh.rotate_secret("crm", NEW_SECRET, keep_old_for=timedelta(hours=1))
    assert (rotated.secret, rotated.active_secrets) == (NEW_SECRET, 2)
    assert wh.rotate_secret("crm", NEW_SECRET) == rotated  # the same rotation again: no change
    level_up(g, "ada", "one")
    wh.deliver()
    (during,) = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(SECRET, during.headers, during.body, now_seconds(clock))
    assert verify(NEW_SECRET, during.headers, during.body, now_seconds(clock))

    clock.advance(hours=1)
    assert wh.endpoint("crm").active_secrets == 1
    level_up(g, "bo", "two")
    wh.deliver()
    after = receiver.received[1]
    assert verify(NEW_SECRET, after.headers, after.body, now_seconds(clock))
    assert not verify(SECRET, after.headers, after.body, now_seconds(clock))
    generated = wh.rotate_secret("crm", keep_old_for=timedelta(0))
    assert generated.secret.startswith("whsec_") and generated.active_secrets == 1


def bad_calls() -> list[tuple[str, Any]]:
    return [
        ("url", lambda wh: wh.add("crm", "ftp://example.com/x", kinds=["level_up"])),
        ("url", lambda wh: wh.add("crm", "example.com/x", kinds=["level_up"])),
        ("url", lambda wh: wh.add("crm", "", kinds=["level_up"])),
        ("url", lambda wh: wh.add("crm", "javascript:alert(1)", kinds=["level_up"])),
        ("secret", lambda wh: wh.add("crm", "https://a.example", kinds=["x"], secret="")),
        ("secret", lambda wh: wh.add("crm", "https://a.example", kinds=["x"], secret="abc")),
        ("secret", lambda wh: wh.add("crm", "https://a.example", kinds=["x"], secret="whsec_!!")),
        ("secret", lambda wh: wh.add("crm", "https://a.example", kinds=["x"], secret="whsec_YQ==")),
        ("kinds", lambda wh: wh.add("crm", "https://a.example", kinds=[])),
        ("kinds", lambda wh: wh.add("crm", "https://a.example", kinds="level_up")),
        ("kinds", lambda wh: wh.add("crm", "https://a.example", kinds=["*", "level_up"])),
        ("kinds", lambda wh: wh.add("crm", "https://a.example", kinds=["bad kind"])),
        ("name", lambda wh: wh.add("", "https://a.example", kinds=["x"])),
        ("name", lambda wh: wh.rotate_secret("nobody")),
        ("secret", lambda wh: wh.rotate_secret("crm", "")),
        ("keep_old_for", lambda wh: wh.rotate_secret("crm", keep_old_for=timedelta(-1))),
        ("status", lambda wh: wh.deliveries("lost")),
        ("ids", lambda wh: wh.replay([0])),
        ("now", lambda wh: wh.deliver(now=datetime(2026, 3, 2))),
    ]


@pytest.mark.parametrize("configured", [False, True], ids=["fresh", "configured"])
@pytest.mark.parametrize(("field", "call"), bad_calls())
def test_bad_input_names_the_field_and_writes_nothing(
    g: Gamification, clock: FakeClock, field: str, call: Any, configured: bool
) -> None:
    wh = hooks(g, clock)
    if configured:
        wh.add("crm", "https://crm.example/hooks", kinds=["level_up"], secret=SECRET)
        level_up(g)
    before = g.dump()
    with pytest.raises(errors.GamificationError) as raised:
        call(wh)
    assert getattr(raised.value, "field", None) == field or (
        isinstance(raised.value, errors.NotFound) and raised.value.what == field
    ), raised.value
    assert g.dump() == before


def test_adding_a_name_again_with_other_settings_writes_nothing(
    g: Gamification, clock: FakeClock
) -> None:
    wh = hooks(g, clock)
    endpoint = wh.add("crm", "https://crm.example/hooks", kinds=["level_up"], secret=SECRET)
    before = g.dump()
    assert wh.add("crm", "https://crm.example/hooks", kinds=["level_up"]) == endpoint
    others: list[dict[str, Any]] = [
        {"url": "https://other.example/hooks", "kinds": ["level_up"]},
        {"url": "https://crm.example/hooks", "kinds": ["*"]},
        {"url": "https://crm.example/hooks", "kinds": ["level_up"], "secret": NEW_SECRET},
    ]
    for other in others:
        with pytest.raises(plugin.EndpointExists) as raised:
            wh.add("crm", **other)
        assert raised.value.field == "name"
    assert g.dump() == before


def test_delivery_never_runs_inside_a_write(g: Gamification, clock: FakeClock) -> None:
    wh = hooks(g, clock)
    with g.batch(), pytest.raises(plugin.InsideTransaction):
        wh.deliver()


def test_removing_an_endpoint_forgets_its_queue(g: Gamification, clock: FakeClock) -> None:
    wh = hooks(g, clock)
    wh.add("crm", "https://crm.example/hooks", kinds=["*"])
    level_up(g)
    assert wh.remove("crm") and not wh.remove("crm")
    assert wh.deliveries() == [] and wh.list() == []


def test_deleting_a_user_deletes_their_deliveries(g: Gamification, clock: FakeClock) -> None:
    wh = hooks(g, clock)
    wh.add("crm", "https://crm.example/hooks", kinds=["*"])
    level_up(g, "ada", "a")
    level_up(g, "bo", "b")
    g.privacy.delete("ada")
    assert [d.user_id for d in wh.deliveries()] == ["bo"]


def test_the_scheduled_job_delivers(
    g: Gamification, clock: FakeClock, receiver: Receiver, backend: str
) -> None:
    assert "webhooks_deliver" in [job.name for job in g.jobs.list()]
    assert g.jobs.run_due().periods()["webhooks_deliver"]  # no endpoint yet: nothing to do
    # A file gets the tables with its first endpoint; a PostgreSQL schema at open, so that
    # every server can queue into them.
    assert ("webhook_deliveries" in g.db.table_names()) == (backend == "postgresql")
    Webhooks(g).add("crm", receiver.url, kinds=["level_up"], secret=SECRET)
    level_up(g)
    clock.advance(minutes=1)
    report = g.jobs.run_due()
    done = [r.result for r in report.ran if r.job == "webhooks_deliver"]
    assert report.ok and done == [{"delivered": 1, "retrying": 0, "dead": 0}]
    (got,) = receiver.received
    assert verify(SECRET, got.headers, got.body, now_seconds(clock))


def test_the_commands_run_on_the_engine_s_database(
    g: Gamification, clock: FakeClock, receiver: Receiver
) -> None:
    added = command(g, "add", "crm", receiver.url, "--kind", "level_up", as_json=True)
    assert added.exit_code == 0, added.output
    secret = json.loads(added.stdout)["secret"]
    listed = command(g, "list")
    assert "crm" in listed.stdout and secret not in listed.stdout
    rotated = command(g, "rotate-secret", "crm", as_json=True)
    assert json.loads(rotated.stdout)["active_secrets"] == 2
    level_up(g)
    receiver.plan = [500]
    sent = command(g, "deliver", "--timeout", "5", as_json=True)
    assert json.loads(sent.stdout) == {"delivered": 0, "retrying": 1, "dead": 0}
    (got,) = receiver.received
    assert verify(secret, got.headers, got.body, now_seconds(clock))  # the old secret too
    assert command(g, "replay", "--all").stdout == "queued 0: []\n"
    assert command(g, "remove", "crm").stdout == "crm: removed\n"
    assert Webhooks(g).deliveries() == [] and Webhooks(g).list() == []


@pytest.mark.usefixtures("postgresql")  # a file's trigger queues for any process
def test_on_postgresql_an_engine_without_the_plugin_cannot_add_endpoints(
    g: Gamification, clock: FakeClock, place: Place
) -> None:
    with Gamification.open(**place("game"), clock=clock, load_entrypoints=False) as other:
        before = other.dump()
        with pytest.raises(plugin.PluginNotLoaded):
            Webhooks(other).add("crm", "https://crm.example/hooks", kinds=["*"])
        assert other.dump() == before
        level_up(other)  # stored by a server without the plugin: not queued
    assert Webhooks(g).deliveries() == []
    # The plugin's tables were migrated once, at the first open, and recorded under its name.
    rows = g.db.execute("SELECT plugin, version, name FROM plugin_migrations").fetchall()
    assert rows == [("gamification-sdk-webhooks", 1, "w001_endpoints_and_deliveries")]


def test_the_command_line_manages_endpoints(tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(tmp_path / "game.db")]
    assert runner.invoke(cli, [*db, "init"]).exit_code == 0
    added = runner.invoke(cli, [*db, "--json", "webhooks", "add", "crm", "https://crm.example/h",
                                "--kind", "level_up", "--kind", "quest_completed"])  # fmt: skip
    assert added.exit_code == 0, added.output
    secret = json.loads(added.stdout)["secret"]
    assert secret.startswith("whsec_")
    listed = runner.invoke(cli, [*db, "webhooks", "list"])
    assert "crm" in listed.stdout and secret not in listed.stdout
    rotated = runner.invoke(cli, [*db, "--json", "webhooks", "rotate-secret", "crm"])
    assert json.loads(rotated.stdout)["active_secrets"] == 2
    bad = runner.invoke(cli, [*db, "webhooks", "add", "x", "ftp://x", "--kind", "level_up"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: url: ")
    assert runner.invoke(cli, [*db, "webhooks", "replay"]).exit_code == 2
    assert runner.invoke(cli, [*db, "webhooks", "remove", "crm"]).stdout == "crm: removed\n"
    with receiving() as receiver:
        url = ["webhooks", "add", "local", receiver.url, "--kind", "level_up"]
        assert runner.invoke(cli, [*db, *url]).exit_code == 0
        assert runner.invoke(cli, [*db, "award-xp", "ada", "450"]).exit_code == 0
        receiver.plan = [500]
        sent = runner.invoke(cli, [*db, "--json", "webhooks", "deliver", "--timeout", "5"])
        assert json.loads(sent.stdout) == {"delivered": 0, "retrying": 1, "dead": 0}
        assert runner.invoke(cli, [*db, "webhooks", "replay", "--all"]).stdout == "queued 0: []\n"
    # --no-plugins: the plugin's commands are not there.
    assert runner.invoke(cli, [*db, "--no-plugins", "webhooks", "list"]).exit_code == 2


@given(
    failures=st.integers(1, 40),
    roll=st.floats(0, 1, exclude_max=True),
    base=st.integers(1, 600),
    cap_factor=st.integers(1, 10_000),
    jitter=st.floats(0, 1),
    max_attempts=st.integers(1, 40),
)
# Full jitter with the roll just under 1 rounds the wait to nothing: still strictly later.
@example(failures=1, roll=0.9999999999999999, base=1, cap_factor=1, jitter=1.0, max_attempts=2)
def test_backoff_stays_within_its_bounds(
    failures: int, roll: float, base: int, cap_factor: int, jitter: float, max_attempts: int
) -> None:
    policy = RetryPolicy(
        base=timedelta(seconds=base), cap=timedelta(seconds=base * cap_factor),
        max_attempts=max_attempts, jitter=jitter,
    )  # fmt: skip
    ceiling = policy.ceiling(failures)
    assert timedelta(seconds=base) <= ceiling <= policy.cap
    assert ceiling >= policy.ceiling(failures - 1) if failures > 1 else True
    delay = policy.delay(failures, lambda: roll)
    assert ceiling * (1 - jitter) - timedelta(microseconds=1) <= delay <= ceiling
    later = policy.next_attempt(failures, START, lambda: roll)
    assert (later is None) == (failures >= max_attempts)
    if later is not None:
        assert START < later <= START + policy.cap


@pytest.mark.parametrize(
    ("field", "values"),
    [("base", {"base": timedelta(0)}), ("cap", {"cap": timedelta(seconds=1)}),
     ("max_attempts", {"max_attempts": 0}), ("jitter", {"jitter": 2})],
)  # fmt: skip
def test_a_bad_retry_policy_names_the_field(field: str, values: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigError, match=f"retry.{field}"):
        RetryPolicy(**values)


@settings(max_examples=30, deadline=None)
@given(
    users=st.integers(1, 4),
    outcomes=st.lists(st.sampled_from([200, 204, 500, 503, 410, 302]), max_size=40),
    waits=st.lists(st.integers(0, 400), min_size=1, max_size=12),
)
def test_every_message_ends_delivered_once_or_dead_under_the_same_id(
    users: int, outcomes: list[int], waits: list[int]
) -> None:
    clock = FakeClock(START)
    answers = list(outcomes)
    acknowledged: list[str] = []
    seen: dict[str, set[str]] = {}

    def receiver(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0) if answers else 200
        seen.setdefault(request.headers["webhook-id"], set()).add(request.content.decode())
        assert verify(SECRET, dict(request.headers), request.content.decode(), now_seconds(clock))
        if 200 <= status < 300:
            acknowledged.append(request.headers["webhook-id"])
        return httpx.Response(status)

    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=80), max_attempts=4)
    with Gamification.open(":memory:", clock=clock, plugins=[plugin], load_entrypoints=False) as g:
        wh = Webhooks(g, clock=clock, retry=policy, transport=httpx.MockTransport(receiver))
        wh.add("crm", "https://crm.example/hooks", kinds=["*"], secret=SECRET)
        for n in range(users):
            level_up(g, f"user{n}", f"key{n}")
        for wait in [*waits, 10_000, 10_000, 10_000, 10_000]:
            wh.deliver()
            clock.advance(seconds=wait)
        final = wh.deliveries()
    assert len(final) == users
    assert all(d.status in ("delivered", "dead") for d in final)
    assert sorted(acknowledged) == sorted(d.message_id for d in final if d.status == "delivered")
    assert all(1 <= d.attempts <= policy.max_attempts for d in final)
    assert all(len(bodies) == 1 for bodies in seen.values())  # one body per webhook-id
