"""The HTML screens through Flask's test client (no browser): every page renders, forms pay
once per rendered form, and a refused form shows the SDK's message by its field, status 422,
with the database byte-for-byte unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from webapp import ShopService, create_app, open_engine, seed_demo
from werkzeug.test import TestResponse

from gamification_sdk import FakeClock, Gamification

START = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday; the season runs March to May


@pytest.fixture
def g() -> Iterator[Gamification]:
    engine = open_engine(":memory:", clock=FakeClock(START), shop=ShopService(),
                         load_entrypoints=False)  # fmt: skip
    seed_demo(engine)
    yield engine
    engine.close()


@pytest.fixture
def client(g: Gamification) -> FlaskClient:
    return create_app(g).test_client()


@contextmanager
def unchanged(engine: Gamification) -> Iterator[None]:
    before = engine.dump()
    yield
    assert engine.dump() == before, "a refused form changed the database"


def reserve(client: FlaskClient, key: str, item: str, quantity: str) -> TestResponse:
    form = {"key": key, "item": item, "quantity": quantity}
    return client.post("/play/sean/shop/reserve", data=form)


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def keys(html: str) -> list[str]:
    return re.findall(r'name="key" value="([^"]+)"', html)


def toasts(html: str) -> list[str]:
    return [re.sub(r'<span class="icon".*?</span>|<[^>]+>', "", t).strip()
            for t in re.findall(r'<p class="toast[^"]*">(.*?)</p>', html)]  # fmt: skip


def field_error(html: str, name: str) -> str:
    shown = rf'id="{name}-error" role="alert"><span aria-hidden="true">⚠</span> (.*?)</p>'
    found = re.search(shown, html)
    assert found, f"no error shown for {name}"
    return found.group(1)


@pytest.mark.parametrize("url", [
    "/", "/play?user=sean", "/play/sean", "/play/maria", "/play/amy", "/play/sean/boards",
    "/play/sean/boards?period=all_time&scope=friends", "/play/sean/boards?scope=group&around=1",
    "/play/maria/pass", "/play/sean/shop", "/play/sean/history", "/operator/",
    "/operator/definitions", "/operator/config", "/operator/ledger", "/operator/economy",
])  # fmt: skip
def test_every_page_renders(client: FlaskClient, url: str) -> None:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<main" in html and 'lang="en"' in html
    assert all(len(k) >= 20 for k in keys(html))
    assert len(set(keys(html))) == len(keys(html)), "each rendered form has its own key"


def test_profile_card_shows_level_progress_and_xp_to_next_level(client: FlaskClient) -> None:
    html = page(client, "/play/sean")
    # 3 workouts: 450 XP, level 3 spans 300..800 (see the engine's curve)
    assert "Level 3" in html
    assert re.search(r'<progress id="xp-bar" max="(\d+)" value="(\d+)"', html)
    assert re.search(r"<strong>\d+</strong> XP to level 4", html)
    assert "freezes" in html and "Rest days" in html


def test_a_workout_form_pays_once_and_toasts(client: FlaskClient, g: Gamification) -> None:
    html = page(client, "/play/sean")
    key = keys(html)[0]
    xp = g.profile("sean").xp
    form = {"key": key, "event": "workout", "minutes": "30"}
    done = client.post("/play/sean/track", data=form, follow_redirects=True)
    assert done.status_code == 200
    assert "+150 XP" in toasts(done.get_data(as_text=True))
    assert g.profile("sean").xp == xp + 150
    with unchanged(g):  # the same rendered form sent again: replayed, nothing new
        client.post("/play/sean/track", data=form)
    assert g.profile("sean").xp == xp + 150


def test_secret_achievement_is_hidden_until_unlocked(client: FlaskClient) -> None:
    html = page(client, "/play/sean")
    assert "???" in html and "Early Bird" not in html
    key = keys(html)[1]  # the daily check-in form
    done = client.post("/play/sean/track", data={"key": key, "event": "daily_login"},
                       follow_redirects=True)  # fmt: skip
    text = done.get_data(as_text=True)
    assert "Achievement unlocked: Early Bird, epic" in toasts(text)
    card = re.search(r'data-key="early_bird">(.*?)</li>', text, re.S)
    assert card and "Unlocked" in card.group(1) and "Early Bird" in card.group(1)


def test_tiered_badge_shows_progress_toward_the_next_tier(client: FlaskClient) -> None:
    card = re.search(r'data-key="regular">(.*?)</li>', page(client, "/play/sean"), re.S)
    assert card and "tiers bronze" in card.group(1) and "3 / 10 toward silver" in card.group(1)


@pytest.mark.parametrize(("minutes", "problem"), [
    ("abc", "minutes: expected an int from 1 to 600, got &#39;abc&#39;"),
    ("0", "minutes: expected an int from 1 to 600, got 0"),
    ("", "minutes: expected an int from 1 to 600, got &#39;&#39;"),
])  # fmt: skip
def test_bad_minutes_are_shown_by_the_field(
    client: FlaskClient, g: Gamification, minutes: str, problem: str
) -> None:
    with unchanged(g):
        form = {"key": "k-1", "event": "workout", "minutes": minutes}
        refused = client.post("/play/sean/track", data=form)
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "track-minutes") == problem


def test_a_form_without_its_key_writes_nothing(client: FlaskClient, g: Gamification) -> None:
    with unchanged(g):
        refused = client.post("/play/sean/track", data={"event": "workout", "minutes": "30"})
    assert refused.status_code == 422
    assert "key: required" in field_error(refused.get_data(as_text=True), "track")


def test_bad_rest_day_is_shown_by_its_field(client: FlaskClient, g: Gamification) -> None:
    with unchanged(g):
        refused = client.post("/play/sean/rest-day", data={"day": "someday"})
    assert refused.status_code == 422
    assert "day: expected a date" in field_error(refused.get_data(as_text=True), "rest-day")
    planned = client.post("/play/sean/rest-day", data={"day": "2026-03-05"}, follow_redirects=True)
    assert "Rest day planned: Thu 05 Mar" in toasts(planned.get_data(as_text=True))


def test_purchase_reserves_then_confirms_once(client: FlaskClient, g: Gamification) -> None:
    before = g.balance("sean", "points")
    shop = page(client, "/play/sean/shop")
    key = re.search(r'value="([^"]+)">\s*<input type="hidden" name="item" value="protein_sample"',
                    shop)  # fmt: skip
    assert key
    held = reserve(client, key.group(1), "protein_sample", "2")
    assert held.status_code == 302
    confirm_url = held.headers["Location"]
    review = page(client, confirm_url)
    assert "10,000" in review and f"{before - 10_000:,}" in review
    assert g.profile("sean").balances["points"].held == 10_000
    form = {"key": keys(review)[0], "action": "confirm"}
    bought = client.post(confirm_url, data=form, follow_redirects=True)
    assert "Bought 2 x protein sample for 10,000 points" in toasts(bought.get_data(as_text=True))
    again = client.post(confirm_url, data=form, follow_redirects=True)  # a double submit
    assert again.status_code == 200
    assert g.balance("sean", "points") == before - 10_000
    assert [(o.item, o.quantity) for o in g.shop.orders("sean")] == [("protein_sample", 2)]
    assert g.profile("sean").balances["points"].held == 0
    assert g.verify_ledger().ok


def test_cancel_frees_the_held_points(client: FlaskClient, g: Gamification) -> None:
    before = g.dump()
    held = reserve(client, "r-1", "swan_tshirt", "1")
    client.post(held.headers["Location"], data={"key": "c-1", "action": "cancel"})
    assert g.profile("sean").balances["points"].available == g.balance("sean", "points")
    assert g.shop.orders("sean") == [] and g.dump() != before  # the hold is on record, released


def test_overspending_shows_the_shortfall(client: FlaskClient, g: Gamification) -> None:
    with unchanged(g):
        refused = reserve(client, "r-2", "training_session", "2")
    assert refused.status_code == 422
    shown = field_error(refused.get_data(as_text=True), "buy-training_session")
    assert shown == "amount: you need 79,550 more points (required 200,000, available 120,450)"


@pytest.mark.parametrize("quantity", ["0", "lots", "1001"])
def test_bad_quantity_is_shown_by_the_field(
    client: FlaskClient, g: Gamification, quantity: str
) -> None:
    with unchanged(g):
        refused = reserve(client, "r-3", "swan_tshirt", quantity)
    assert refused.status_code == 422
    shown = field_error(refused.get_data(as_text=True), "buy-swan_tshirt-quantity")
    assert shown.startswith("quantity: expected an int from 1 to 1000")


def test_someone_elses_hold_is_not_shown(client: FlaskClient) -> None:
    held = reserve(client, "r-4", "swan_tshirt", "1")
    other = held.headers["Location"].replace("/sean/", "/maria/")
    assert client.get(other).status_code == 404


def test_battle_pass_claim_pays_once(client: FlaskClient, g: Gamification) -> None:
    html = page(client, "/play/maria/pass")
    assert "Claim tier 1 (free)" in html
    form = re.search(r'name="key" value="([^"]+)">\s*<input type="hidden" name="tier" value="1">'
                     r'<input type="hidden" name="track" value="free">', html)  # fmt: skip
    assert form
    data = {"key": form.group(1), "tier": "1", "track": "free",
            "season": g.config.seasons[0].key}  # fmt: skip
    before = g.balance("maria", "points")
    claimed = client.post("/play/maria/pass/claim", data=data, follow_redirects=True)
    assert "Tier 1 (free) claimed: +100 points" in toasts(claimed.get_data(as_text=True))
    client.post("/play/maria/pass/claim", data=data)
    assert g.balance("maria", "points") == before + 100


def test_claiming_a_locked_tier_is_refused_by_the_sdk(client: FlaskClient, g: Gamification) -> None:
    data = {"key": "c-9", "tier": "50", "track": "free"}
    with unchanged(g):
        refused = client.post("/play/maria/pass/claim", data=data)
    assert refused.status_code == 422
    assert "tier" in field_error(refused.get_data(as_text=True), "claim-free-50")


def test_boards_show_privacy_aware_names_and_the_viewer(client: FlaskClient) -> None:
    html = page(client, "/play/amy/boards?period=all_time")
    assert "FitnessBeast" in html and "maria" not in re.sub(r"<a [^>]*>", "", html)
    assert "(hidden from others by your privacy settings)" in html  # amy is off the global board
    friends = page(client, "/play/sean/boards?period=all_time&scope=friends")
    assert "FitnessBeast" in friends and "IronWarrior" not in friends


def test_bad_board_tab_is_refused(client: FlaskClient) -> None:
    assert client.get("/play/sean/boards?period=yearly").status_code == 422


def test_quest_completion_form_is_refused_until_done(client: FlaskClient, g: Gamification) -> None:
    with unchanged(g):
        refused = client.post("/play/sean/quests/five_a_week", data={"key": "q-1"})
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "quest-five_a_week")


def test_history_lists_the_ledger_newest_first(client: FlaskClient) -> None:
    html = page(client, "/play/sean/history")
    assert "Demo welcome bonus" in html and "+120,000" in html


# -- operator -----------------------------------------------------------------------------

BAD = b"""
[[rules]]
event = "stretch"
xp = "lots"

[[achievements]]
key = "marathon"
name = "Marathon"
criteria = { type = "count", event = "workout", target = -5 }
"""
GOOD = BAD.replace(b'"lots"', b"5").replace(b"-5", b"50")


def upload(client: FlaskClient, body: bytes, name: str = "extra.toml") -> tuple[int, str]:
    import io

    sent = client.post("/operator/definitions", data={"file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    return sent.status_code, sent.get_data(as_text=True)


def test_a_bad_definitions_file_names_every_problem(client: FlaskClient, g: Gamification) -> None:
    with unchanged(g):
        status, html = upload(client, BAD)
    assert status == 422
    problems = dict(re.findall(r"<dt><code>(.*?)</code></dt><dd>(.*?)</dd>", html))
    assert set(problems) == {"rules[0].xp", "achievements[0].criteria.target"}
    assert "-5" in problems["achievements[0].criteria.target"]
    assert 'aria-invalid="true"' in html


def test_a_fixed_definitions_file_loads(client: FlaskClient, g: Gamification) -> None:
    status, html = upload(client, GOOD)
    assert status == 200 and "Loaded extra.toml: 2 added" in " ".join(toasts(html))
    assert "marathon" in {a.key for a in g.achievements.list("sean")}


@pytest.mark.parametrize(("body", "name", "problem"), [
    (b"rules = [", "broken.toml", "not valid TOML"),
    (b"[1, 2]", "list.json", "expected a table"),
    (b"\xff\xfe", "binary.toml", "not valid TOML"),
])  # fmt: skip
def test_an_unreadable_file_is_refused(
    client: FlaskClient, g: Gamification, body: bytes, name: str, problem: str
) -> None:
    with unchanged(g):
        status, html = upload(client, body, name)
    assert status == 422 and problem in html


def test_no_file_is_refused(client: FlaskClient, g: Gamification) -> None:
    with unchanged(g):
        sent = client.post("/operator/definitions", data={})
    assert sent.status_code == 422 and "choose a TOML or JSON" in sent.get_data(as_text=True)


def test_ledger_audit_and_config_pages(client: FlaskClient) -> None:
    assert "The ledger balances" in page(client, "/operator/ledger")
    assert "level_up_bonus" in page(client, "/operator/config")


def test_economy_charts_are_svg_with_tables(client: FlaskClient) -> None:
    html = page(client, "/operator/economy")
    assert "First Steps" in html and "<summary>" in html
    for which in ("points", "levels", "unlocks"):
        chart = client.get(f"/operator/economy/{which}.svg")
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
        assert chart.data.lstrip().startswith(b"<?xml")
    assert client.get("/operator/economy/pie.svg").status_code == 404


def test_screen_errors_are_pages_and_api_errors_stay_json(client: FlaskClient) -> None:
    bad_user = client.get("/play/" + "x" * 300)
    assert bad_user.status_code == 400 and bad_user.mimetype == "text/html"
    assert "user_id" in bad_user.get_data(as_text=True)
    missing = client.get("/play/sean/nowhere")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    api = client.get("/api/gamification/nowhere")
    assert api.status_code == 404 and api.json is not None and api.json["success"] is False


def test_an_expired_hold_buys_nothing(client: FlaskClient, g: Gamification) -> None:
    held = reserve(client, "r-5", "swan_tshirt", "1")
    balance = g.balance("sean", "points")
    clock = g.clock
    assert isinstance(clock, FakeClock)
    clock.advance(minutes=11)
    form = {"key": "c-5", "action": "confirm"}
    late = client.post(held.headers["Location"], data=form)
    assert late.status_code == 422 and "expired at" in late.get_data(as_text=True)
    again = client.post(held.headers["Location"], data=form)  # resent: still no purchase
    assert again.status_code == 422 and "already released" in again.get_data(as_text=True)
    assert g.shop.orders("sean") == [] and g.balance("sean", "points") == balance
    assert g.profile("sean").balances["points"].held == 0


def test_a_hold_confirmed_by_two_forms_buys_once(client: FlaskClient, g: Gamification) -> None:
    held = reserve(client, "r-6", "swan_tshirt", "1")
    client.post(held.headers["Location"], data={"key": "c-6", "action": "confirm"})
    other = client.post(held.headers["Location"], data={"key": "c-7", "action": "confirm"})
    assert other.status_code == 422 and "already released" in other.get_data(as_text=True)
    assert [o.item for o in g.shop.orders("sean")] == ["swan_tshirt"]
