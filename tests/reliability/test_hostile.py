"""A corpus of hostile inputs, put into every argument of the public API that takes them.

SQL injection text, 10 MB strings, 10,000-deep metadata, lone surrogates, NaN and
infinity, 2**200, naive, far-future and far-past datetimes, unknown time zones, and
malformed definition files (truncated JSON and TOML, wrong types, cycles, deep nesting).
Each one is refused with a typed ``GamificationError`` that names the argument, and
nothing is written; never a ``RecursionError``, ``OverflowError``, ``UnicodeEncodeError``
or ``sqlite3`` error. Text that is merely odd where any text is allowed (an id or a
description that looks like SQL) is stored verbatim instead, and the schema is untouched.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import deep_list, unchanged

from gamification_sdk import (
    Config,
    CurrencyConfig,
    Gamification,
    LeaderboardsConfig,
    Season,
    TierReward,
    errors,
)

from .figures import FIGURES
from .game import START, open_game

SQL = "'; DROP TABLE profiles; --"
BIG = "x" * 10_000_000
SURROGATE = "a\ud800b"
HUGE = 2**200


def deep_dict(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        child: dict[str, Any] = {}
        node["k"] = child
        node = child
    return root


# Hostile values by the kind of argument they are aimed at. Each is (label, value).
KINDS: dict[str, list[tuple[str, Any]]] = {
    "id": [("10MB", BIG), ("surrogate", SURROGATE), ("2**200", HUGE), ("nan", math.nan),
           ("nested", deep_list(10_000))],
    "text": [("10MB", BIG), ("surrogate", SURROGATE), ("2**200", HUGE), ("inf", math.inf)],
    "name": [("sql", SQL), ("10MB", BIG), ("surrogate", SURROGATE), ("2**200", HUGE),
             ("nan", math.nan)],
    "int": [("nan", math.nan), ("inf", math.inf), ("2**200", HUGE), ("-2**200", -HUGE),
            ("2**63", 2**63), ("10MB", BIG)],
    "number": [("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf), ("2**200", HUGE),
               ("10MB", BIG)],
    "row": [("2**200", HUGE), ("2**63", 2**63), ("-2**200", -HUGE), ("nan", math.nan),
            ("sql", SQL)],
    "json": [("nested-list", deep_list(10_000)), ("nested-dict", deep_dict(10_000)),
             ("10MB", {"x": BIG}), ("surrogate", {"x": SURROGATE}),
             ("surrogate-key", {SURROGATE: 1}), ("nan", {"x": math.nan}),
             ("inf", [math.inf]), ("object", {"x": object()})],
    "when": [("naive", datetime(2026, 3, 2, 12, 0)), ("year-9999", datetime(9999, 12, 31,
             tzinfo=UTC)), ("year-1", datetime(1, 1, 2, tzinfo=UTC)),
             ("str", "2026-03-02T12:00:00+00:00"), ("2**200", HUGE)],
    "zone": [("unknown", "Mars/Olympus"), ("path", "../../etc/passwd"), ("offset", "UTC+25"),
             ("10MB", BIG), ("surrogate", "Europe/\ud800"), ("sql", SQL)],
    "day": [("year-9999", date(9999, 12, 31)), ("year-1", date(1, 1, 1)),
            ("datetime", START), ("str", "2026-03-05")],
    # Cancelling a day that was never scheduled is a harmless no-op, however far.
    "day-type": [("datetime", START), ("str", "2026-03-05"), ("2**200", HUGE)],
}  # fmt: skip

Call = Callable[[Gamification, Any], Any]

# (argument, its kind, a call putting the value there); ``field`` is what the error names.
SLOTS: list[tuple[str, str, str, Call]] = [
    ("award_xp", "user_id", "id", lambda g, v: g.award_xp(v, 5, source="s")),
    ("award_xp", "amount", "int", lambda g, v: g.award_xp("u0", v, source="s")),
    ("award_xp", "source", "text", lambda g, v: g.award_xp("u0", 5, source=v)),
    ("award_xp", "idempotency_key", "text",
     lambda g, v: g.award_xp("u0", 5, source="s", idempotency_key=v)),
    ("award_xp", "metadata", "json", lambda g, v: g.award_xp("u0", 5, source="s", metadata=v)),
    ("award_xp", "at", "when", lambda g, v: g.award_xp("u0", 5, source="s", at=v)),
    ("award_points", "currency", "name",
     lambda g, v: g.award_points("u0", 5, currency=v, source="s")),
    ("award_points", "description", "text",
     lambda g, v: g.award_points("u0", 5, currency="points", source="s", description=v)),
    ("award_points", "metadata", "json",
     lambda g, v: g.award_points("u0", 5, currency="points", source="s", metadata=v)),
    ("award_points", "at", "when",
     lambda g, v: g.award_points("u0", 5, currency="points", source="s", at=v)),
    ("spend_points", "amount", "int",
     lambda g, v: g.spend_points("u0", v, currency="points", source="s")),
    ("transfer_points", "to_user", "id",
     lambda g, v: g.transfer_points("u0", v, 5, currency="points")),
    ("transfer_points", "metadata", "json",
     lambda g, v: g.transfer_points("u0", "u1", 5, currency="points", metadata=v)),
    ("points.adjust", "amount", "int",
     lambda g, v: g.points.adjust("u0", v, currency="points", reason="r")),
    ("points.adjust", "reason", "text",
     lambda g, v: g.points.adjust("u0", 5, currency="points", reason=v)),
    ("refund", "transaction_id", "row", lambda g, v: g.refund(v)),
    ("refund", "amount", "int", lambda g, v: g.refund(1, amount=v)),
    ("reserve_points", "ttl", "number",
     lambda g, v: g.reserve_points("u0", 5, currency="points", ttl=v)),
    ("reserve_points", "amount", "int",
     lambda g, v: g.reserve_points("u0", v, currency="points", ttl=60)),
    ("commit_reservation", "reservation_id", "row", lambda g, v: g.commit_reservation(v)),
    ("release_reservation", "reservation_id", "row", lambda g, v: g.release_reservation(v)),
    ("points.reservation", "reservation_id", "row", lambda g, v: g.points.reservation(v)),
    ("points.expire_reservations", "now", "when", lambda g, v: g.points.expire_reservations(v)),
    ("history", "before", "row", lambda g, v: g.history("u0", before=v)),
    ("history", "limit", "int", lambda g, v: g.history("u0", limit=v)),
    ("history", "currency", "name", lambda g, v: g.history("u0", currency=v)),
    ("xp.history", "before", "row", lambda g, v: g.xp.history("u0", before=v)),
    ("balances", "user_id", "id", lambda g, v: g.points.balances(v)),
    ("profile", "at", "when", lambda g, v: g.profile("u0", at=v)),
    ("xp.add_boost", "factor", "number",
     lambda g, v: g.xp.add_boost("u0", v, expires_at=START + timedelta(days=1), source="s")),
    ("xp.add_boost", "expires_at", "when",
     lambda g, v: g.xp.add_boost("u0", 2.0, expires_at=v, source="s")),
    ("xp.add_boost", "starts_at", "when",
     lambda g, v: g.xp.add_boost("u0", 2.0, expires_at=START + timedelta(days=1),
                                    starts_at=v, source="s")),
    ("track", "event", "text", lambda g, v: g.track("u0", v)),
    ("track", "value", "number", lambda g, v: g.track("u0", "workout", value=v)),
    ("track", "metadata", "json", lambda g, v: g.track("u0", "workout", metadata=v)),
    ("track", "at", "when", lambda g, v: g.track("u0", "workout", at=v)),
    ("achievements.get", "key", "name", lambda g, v: g.achievements.get("u0", v)),
    ("achievements.list", "category", "text", lambda g, v: g.achievements.list("u0", category=v)),
    ("events.reevaluate", "user_ids[]", "id", lambda g, v: g.events.reevaluate([v])),
    ("events.reevaluate", "chunk", "int", lambda g, v: g.events.reevaluate(["u0"], chunk=v)),
    ("notifications", "limit", "int", lambda g, v: g.notifications.list("u0", limit=v)),
    ("mark_read", "ids", "row", lambda g, v: g.notifications.mark_read("u0", [v])),
    ("set_notification_preferences", "level_up", "number",
     lambda g, v: g.notifications.set_preferences("u0", level_up=v)),
    ("users.equip_title", "title", "name", lambda g, v: g.users.equip_title("u0", v)),
    ("users.stats", "days", "int", lambda g, v: g.users.stats("u0", days=v)),
    ("streaks.get", "at", "when", lambda g, v: g.streaks.get("u0", at=v)),
    ("streaks.record_activity", "at", "when", lambda g, v: g.streaks.record_activity("u0", at=v)),
    ("streaks.grant_freezes", "count", "int", lambda g, v: g.streaks.grant_freezes("u0", v)),
    ("streaks.schedule_rest_day", "day", "day", lambda g, v: g.streaks.schedule_rest_day("u0", v)),
    ("streaks.cancel_rest_day", "day", "day-type", lambda g, v: g.streaks.cancel_rest_day("u0", v)),
    ("streaks.sweep", "now", "when", lambda g, v: g.streaks.sweep(v)),
    ("users.set_timezone", "timezone", "zone", lambda g, v: g.users.set_timezone("u0", v)),
    ("quests.list", "at", "when", lambda g, v: g.quests.list("u0", at=v)),
    ("quests.complete", "quest_key", "name",
     lambda g, v: g.quests.complete("u1", v, idempotency_key="k")),
    ("quests.complete", "evidence", "json",
     lambda g, v: g.quests.complete("u1", "checkin", idempotency_key="k", evidence=v)),
    ("quests.close_periods", "now", "when", lambda g, v: g.quests.close_periods(v)),
    ("rate_limit", "action", "name", lambda g, v: g.rate_limits.hit("u0", v)),
    ("rate_limit", "at", "when", lambda g, v: g.rate_limits.hit("u0", "referral_track", at=v)),
    ("prune_rate_limits", "now", "when", lambda g, v: g.rate_limits.prune(v)),
    ("leaderboard", "board", "name", lambda g, v: g.boards.get(v)),
    ("leaderboard", "period", "name", lambda g, v: g.boards.get("xp", period=v)),
    ("leaderboard", "scope", "name", lambda g, v: g.boards.get("xp", scope=v)),
    ("leaderboard", "limit", "int", lambda g, v: g.boards.get("xp", limit=v)),
    ("leaderboard", "offset", "int", lambda g, v: g.boards.get("xp", offset=v)),
    ("leaderboard", "period_key", "name",
     lambda g, v: g.boards.get("xp", period="daily", period_key=v)),
    ("leaderboard", "at", "when", lambda g, v: g.boards.get("xp", at=v)),
    ("around", "n", "int", lambda g, v: g.boards.around("u0", "xp", n=v)),
    ("close_leaderboard_periods", "now", "when", lambda g, v: g.boards.close_periods(v)),
    ("join_group", "group", "text", lambda g, v: g.social.join_group("u0", v, kind="gym")),
    ("join_group", "kind", "text", lambda g, v: g.social.join_group("u0", "team", kind=v)),
    ("add_friend", "friend_id", "id", lambda g, v: g.social.add_friend("u0", v)),
    ("set_privacy", "visibility", "name", lambda g, v: g.social.set_privacy("u0", visibility=v)),
    ("set_privacy", "real_name", "text", lambda g, v: g.social.set_privacy("u0", real_name=v)),
    ("run_due_jobs", "now", "when", lambda g, v: g.jobs.run_due(v)),
    ("referral_code", "name", "text", lambda g, v: g.referrals.code("u0", name=v)),
    ("referral_code", "ip", "name", lambda g, v: g.referrals.code("u0", ip=v)),
    ("track_referral", "code", "name", lambda g, v: g.referrals.track(v, "u9")),
    ("track_referral", "new_user_id", "id",
     lambda g, v: g.referrals.track(g.referrals.code("u5"), v)),
    ("track_referral", "email", "name",
     lambda g, v: g.referrals.track(g.referrals.code("u5"), "u9", email=v)),
    ("track_referral", "utm", "json",
     lambda g, v: g.referrals.track(g.referrals.code("u5"), "u9", utm=v)),
    ("convert_referral", "referral", "row",
     lambda g, v: g.referrals.convert(v, kind="first_purchase")),
    ("convert_referral", "revenue", "number",
     lambda g, v: g.referrals.convert("u6", kind="first_purchase", revenue=v)),
    ("referral", "referral", "row", lambda g, v: g.referrals.get(v)),
    ("referrals", "before", "row", lambda g, v: g.referrals.list("u5", before=v)),
    ("shop", "at", "when", lambda g, v: g.shop.list("u0", at=v)),
    ("purchase", "item_key", "name", lambda g, v: g.shop.purchase("u0", v)),
    ("purchase", "quantity", "int", lambda g, v: g.shop.purchase("u0", "freeze", quantity=v)),
    ("purchase", "at", "when", lambda g, v: g.shop.purchase("u0", "freeze", at=v)),
    ("refund_purchase", "order_id", "row", lambda g, v: g.shop.refund(v)),
    ("order", "order_id", "row", lambda g, v: g.shop.order(v)),
    ("orders", "before", "row", lambda g, v: g.shop.orders("u0", before=v)),
    ("battle_pass.get", "season", "name", lambda g, v: g.battle_pass.get("u0", season=v)),
    ("battle_pass.get", "at", "when", lambda g, v: g.battle_pass.get("u0", at=v)),
    ("battle_pass.claim", "tier", "int",
     lambda g, v: g.battle_pass.claim("u2", v, track="free")),
    ("battle_pass.claim", "track", "name",
     lambda g, v: g.battle_pass.claim("u2", 1, track=v)),
    ("battle_pass.claim", "season", "name",
     lambda g, v: g.battle_pass.claim("u2", 1, track="free", season=v)),
    ("battle_pass.use_tier_boost", "quantity", "int",
     lambda g, v: g.battle_pass.use_tier_boost("u0", quantity=v)),
    ("battle_pass.close_seasons", "now", "when", lambda g, v: g.battle_pass.close_seasons(v)),
    ("export_user", "user_id", "id", lambda g, v: g.privacy.export(v)),
    ("export_user", "at", "when", lambda g, v: g.privacy.export("u0", at=v)),
    ("delete_user", "user_id", "id", lambda g, v: g.privacy.delete(v)),
    ("events.load", "name", "text",
     lambda g, v: g.events.load({"rules": []}, name=v)),
]  # fmt: skip

CASES = [
    pytest.param(call, field, value, id=f"{method}.{field}-{label}")
    for method, field, kind, call in SLOTS
    for label, value in KINDS[kind]
]


@pytest.fixture(scope="module")
def g(request: pytest.FixtureRequest) -> Iterator[Gamification]:
    """One engine for the whole corpus: every case must leave it exactly as it was (on a
    schema of its own with ``--backend=postgresql``)."""
    where: dict[str, Any] = {}
    if request.config.getoption("--backend") == "postgresql":
        url = request.getfixturevalue("postgres_url")
        where = {"path": url, "schema": f"gamification_test_{uuid.uuid4().hex[:12]}"}
        request.addfinalizer(lambda: drop_schema(url, where["schema"]))
    with open_game(**where) as engine:
        engine.award_points("u0", 500, currency="points", source="seed")
        engine.award_xp("u2", 150, source="seed")
        engine.track("u1", "workout")
        engine.referrals.track(engine.referrals.code("u5"), "u6")
        spent = engine.spend_points("u0", 10, currency="points", source="shop")
        assert spent.id > 1  # refund(1) is the seed award: not refundable
        yield engine


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def check_refused(exc: BaseException, field: str) -> None:
    assert isinstance(exc, errors.GamificationError), (
        f"{type(exc).__module__}.{type(exc).__qualname__} escaped: {exc!s:.200}"
    )
    message = str(exc)
    named = getattr(exc, "field", None) == field or message.startswith(f"{field}: ")
    assert named, f"the error does not name {field!r}: {type(exc).__name__}: {message:.200}"


@pytest.mark.both_backends
@pytest.mark.parametrize(("call", "field", "value"), CASES)
def test_a_hostile_argument_is_refused_typed_naming_it_and_writes_nothing(
    g: Gamification, call: Call, field: str, value: Any
) -> None:
    FIGURES.add(inputs=1)
    with unchanged(g):
        try:
            call(g, value)
        except Exception as exc:
            check_refused(exc, field)
        else:
            raise AssertionError(f"{value!r:.80} was accepted as {field}")


# -- definition files and configuration ------------------------------------------------------

ACHIEVEMENT = {"key": "a", "name": "A", "criteria": {"type": "first_time", "event": "e"}}
QUEST = {"key": "q", "name": "Q", "objectives": [{"type": "count", "event": "e", "target": 1}]}
EVENT_QUEST = {**QUEST, "recurrence": "event"}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


# (file name, its content, what the error must name). Mappings are written as JSON.
DEFINITION_FILES: list[tuple[str, str, bytes | str | dict[str, Any], str]] = [
    ("truncated-json", "defs.json", '{"rules": [{"event": "run", "xp": 5}',
     "(file): not valid json"),
    ("truncated-toml", "defs.toml", '[[rules]]\nevent = "run"\nxp = ', "(file): not valid toml"),
    ("invalid-utf8", "defs.json", b'{"rules": [{"event": "\xff\xfe", "xp": 5}]}',
     "(file): not valid json"),
    ("surrogate-escape", "defs.json", '{"rules": [{"event": "a\\ud800", "xp": 5}]}',
     "rules[0].event: must be valid Unicode"),
    ("surrogate-key", "defs.json", '{"rules": [{"\\udfff": 1}]}', "rules[0]: key"),
    ("deep-json", "defs.json", '{"rules": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "(file): nested too deeply"),
    ("deep-toml", "defs.toml", "rules = " + "[" * 100_000 + "]" * 100_000,
     "(file): nested too deeply"),
    ("nan-target", "defs.json", '{"achievements": [{"key": "a", "name": "A", "criteria": '
     '{"type": "sum", "event": "e", "target": NaN}}]}', "achievements[0].criteria.target"),
    ("huge-target", "defs.json", {"achievements": [with_(ACHIEVEMENT, criteria={
        "type": "count", "event": "e", "target": HUGE})]}, "achievements[0].criteria.target"),
    ("huge-price", "defs.json", {"shop": [{"key": "h", "name": "H", "kind": "cosmetic",
                                           "price": {"points": HUGE}}]}, "shop[0].price"),
    ("wrong-types", "defs.json", {"rules": [{"event": 5, "xp": "ten"}]}, "rules[0].event"),
    ("rules-not-a-list", "defs.json", {"rules": {"event": "run"}}, "rules"),
    ("top-level-list", "defs.json", [ACHIEVEMENT], "(top level)"),
    ("unknown-section", "defs.json", {"rulez": []}, "(top level): unknown field"),
    ("10MB-name", "defs.json", {"achievements": [with_(ACHIEVEMENT, name=BIG)]},
     "achievements[0].name"),
    ("sql-key", "defs.json", {"achievements": [with_(ACHIEVEMENT, key=SQL)]},
     "achievements[0].key"),
    ("prerequisite-cycle", "defs.json", {"achievements": [
        with_(ACHIEVEMENT, key="a", prerequisites=["b"]),
        with_(ACHIEVEMENT, key="b", prerequisites=["a"])]}, "prerequisite cycle"),
    ("own-prerequisite", "defs.json", {"achievements": [
        with_(ACHIEVEMENT, prerequisites=["a"])]}, "cannot require itself"),
    ("quest-chain-cycle", "defs.json", {"quests": [
        with_(QUEST, key="q1", after="q2"), with_(QUEST, key="q2", after="q1")]}, "chain cycle"),
    ("naive-date", "defs.json", {"quests": [with_(EVENT_QUEST, available_from="2026-03-01T00:00",
                                                  available_until="2026-04-01T00:00")]},
     "quests[0].available_from"),
    ("year-9999", "defs.json", {"quests": [with_(
        EVENT_QUEST, available_from="9999-01-01T00:00:00+00:00",
        available_until="9999-12-31T00:00:00+00:00")]}, "quests[0].available_from"),
    ("bad-reset-time", "defs.json", {"quests": [with_(QUEST, reset_time="25:99")]},
     "quests[0].reset_time"),
    ("yaml", "defs.yaml", "rules: []", "(file): expected a .toml or .json file"),
    ("nul-in-path", "de\x00fs.json", {"rules": []}, "(file): cannot read"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "named"),
    [pytest.param(name, content, named, id=label)
     for label, name, content, named in DEFINITION_FILES],
)  # fmt: skip
def test_a_malformed_definition_file_is_a_config_error_naming_the_fault(
    g: Gamification, tmp_path: Path, name: str, content: Any, named: str
) -> None:
    FIGURES.add(inputs=1)
    if isinstance(content, dict | list):
        content = json.dumps(content)
    path = tmp_path / name
    if "\x00" not in name:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
    with unchanged(g):
        try:
            g.events.load(str(path), name="hostile")
        except Exception as exc:
            assert isinstance(exc, errors.ConfigError), f"{type(exc).__name__}: {exc!s:.200}"
            assert exc.problems and any(named in problem for problem in exc.problems), exc.problems[
                :3
            ]
        else:
            raise AssertionError(f"{name} loaded")


@pytest.mark.parametrize(
    ("source", "named"),
    [
        pytest.param({"rules": deep_list(10_000)}, "rules[0]", id="deep-rules"),
        pytest.param({"shop": [{"key": "h", "name": "H", "kind": "cosmetic",
                                "price": {"points": 1}, "metadata": deep_dict(10_000)}]},
                     "shop[0].metadata", id="deep-shop-metadata"),
        pytest.param({"shop": [{"key": "h", "name": "H", "kind": "cosmetic",
                                "price": {"points": 1}, "metadata": {"x": BIG}}]},
                     "shop[0].metadata", id="10MB-shop-metadata"),
        pytest.param({"rules": [{"event": "e", "xp": 1}], SURROGATE: []}, "(top level)",
                     id="surrogate-section"),
        pytest.param({"rules": [{"event": "e", "xp": math.inf}]}, "rules[0].xp", id="inf-xp"),
    ],
)  # fmt: skip
def test_a_hostile_definition_mapping_is_a_config_error(
    g: Gamification, source: dict[str, Any], named: str
) -> None:
    FIGURES.add(inputs=1)
    with unchanged(g), pytest.raises(errors.ConfigError) as info:
        g.events.load(source, name="hostile")
    assert any(named in problem for problem in info.value.problems), info.value.problems[:3]


BASE_SEASON = dict(
    key="s", starts_at=START, ends_at=START + timedelta(days=30),
    free_rewards=[TierReward(1, points={"points": 1})],
)  # fmt: skip

CONFIGS: list[tuple[str, Callable[[], Any], str]] = [
    ("unknown-zone", lambda: Config(default_timezone="Mars/Olympus"), "default_timezone"),
    ("surrogate-zone", lambda: Config(default_timezone="Europe/\ud800"), "default_timezone"),
    ("unknown-board-zone", lambda: Config(leaderboards=LeaderboardsConfig(timezone="Moon/Base")),
     "leaderboards.timezone"),
    ("sql-currency", lambda: Config(currencies=(CurrencyConfig(SQL),)), "currencies[0].name"),
    ("surrogate-currency", lambda: Config(currencies=(CurrencyConfig(SURROGATE),)),
     "currencies[0].name"),
    ("nan-busy-timeout", lambda: Config(busy_timeout=math.nan), "busy_timeout"),
    ("huge-busy-timeout", lambda: Config(busy_timeout=HUGE), "busy_timeout"),
    ("huge-cache", lambda: Config(cache_size_mb=HUGE), "cache_size_mb"),
    ("inf-multiplier", lambda: Config(max_xp_multiplier=math.inf), "max_xp_multiplier"),
    ("huge-day-start", lambda: Config(day_start_hour=HUGE), "day_start_hour"),
    ("naive-season", lambda: Config(seasons=[Season(**{
        **BASE_SEASON, "starts_at": datetime(2026, 3, 1)})]), "seasons[0]"),
    ("year-9999-season", lambda: Config(seasons=[Season(**{
        **BASE_SEASON, "starts_at": datetime(9999, 1, 1, tzinfo=UTC),
        "ends_at": datetime(9999, 2, 1, tzinfo=UTC)})]), "seasons[0]"),
    ("huge-tiers", lambda: Config(seasons=[Season(**{**BASE_SEASON, "total_tiers": HUGE})]),
     "seasons[0].total_tiers"),
    ("nan-price", lambda: Config(seasons=[Season(**{**BASE_SEASON, "premium_price": math.nan})]),
     "seasons[0].premium_price"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "named"), [pytest.param(make, named, id=label) for label, make, named in CONFIGS]
)
def test_a_hostile_configuration_is_a_config_error_naming_the_field(
    make: Callable[[], Any], named: str
) -> None:
    FIGURES.add(inputs=1)
    with pytest.raises(errors.ConfigError) as info:
        make()
    assert info.value.field == named, info.value.problems


# -- text that is only odd is stored verbatim --------------------------------------------------


@pytest.mark.parametrize("text", [SQL, '" OR "1"="1', "Robert'); DROP TABLE xp_awards;--"])
def test_sql_looking_text_is_stored_verbatim_and_the_schema_is_untouched(text: str) -> None:
    FIGURES.add(inputs=1)
    with open_game() as g:
        tables = g.db.table_names()
        g.award_points(
            text,
            5,
            currency="points",
            source=text,
            description=text,
            idempotency_key=text,
            metadata={text: text},
        )
        g.track(text, text, metadata={"huge": HUGE})
        g.social.join_group(text, text, kind=text)
        assert g.history(text).transactions[0].description == text
        assert g.social.groups(text) == {text: text}
        assert g.db.table_names() == tables
        report = g.verify_ledger()
        assert report.ok, report.problems


def test_a_huge_int_in_metadata_round_trips() -> None:
    """JSON has no integer limit and the engine reads metadata back with Python's json."""
    with open_game() as g:
        award = g.award_xp("u0", 5, source="s", metadata={"n": HUGE})
        assert g.xp.history("u0")[0].metadata == {"n": HUGE} == award_metadata(g, award.id)


def award_metadata(g: Gamification, award_id: int) -> Any:
    (entry,) = [e for e in g.xp.history("u0") if e.id == award_id]
    return entry.metadata
