"""The screens in a real browser: Playwright drives Debian's Chromium against the app served
from a thread on 127.0.0.1 (a free port, a temporary database, a fake clock).

Skipped, with the reason in pytest's ``-ra`` summary, when Playwright or ``/usr/bin/chromium``
(or ``$WEBAPP_CHROMIUM``) is missing (``./run test`` installs Chromium with apt when it can).
Screenshots go to ``test-artifacts/browser/`` (git-ignored); with
``WEBAPP_SCREENSHOTS=docs/img`` two of them are also copied there for the README.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from webapp import ShopService, create_app, open_engine, seed_demo
from werkzeug.serving import make_server

from gamification_sdk import FakeClock, Gamification

CHROMIUM = Path(os.environ.get("WEBAPP_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
START = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday: the weekly board is 3 days old
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
FOR_DOCS = {"profile-after-unlock.png": "webapp-player.png",
            "operator-definitions-error.png": "webapp-operator.png"}  # fmt: skip

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); "
                "./run test tries to", allow_module_level=True)  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Gamification]]:
    engine = open_engine(tmp_path / "web.db", clock=FakeClock(START), shop=ShopService(),
                         load_entrypoints=False)  # fmt: skip
    seed_demo(engine)
    httpd = make_server("127.0.0.1", 0, create_app(engine), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", engine
    finally:
        httpd.shutdown()
        thread.join()
        engine.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The README's two show the first screen, where the toasts are; the others, all of it.
    page.screenshot(path=str(ARTIFACTS / name), full_page=name not in FOR_DOCS)
    target = os.environ.get("WEBAPP_SCREENSHOTS")
    if target and name in FOR_DOCS:
        shutil.copyfile(ARTIFACTS / name, ROOT / target / FOR_DOCS[name])


def number(page: Any, selector: str) -> int:
    return int(re.sub(r"[^\d]", "", page.locator(selector).first.inner_text()))


def weekly_rank(page: Any, base: str) -> int:
    page.goto(f"{base}/play/sean/boards?period=weekly&scope=global")
    return number(page, "#my-rank strong")


def test_player_journey(server: tuple[str, Gamification], browser: Any) -> None:
    base, g = server
    page = browser.new_page(
        viewport={"width": 1100, "height": 900}, reduced_motion="reduce"
    )  # toasts appear at once
    expect = sync_api.expect
    assert weekly_rank(page, base) == 3  # maria 900 and jon 600 this week, sean 300

    page.goto(f"{base}/play/sean")
    bar = page.locator("#xp-bar")
    before = int(bar.get_attribute("value"))
    expect(page.locator("#achievements [data-key=early_bird] h3")).to_have_text("???")
    # Keyboard only: into the minutes field, Tab to the button, Enter.
    page.locator("#minutes").fill("40")
    page.locator("#minutes").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#log-workout")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".toast").first).to_contain_text("+150 XP")
    assert int(page.locator("#xp-bar").get_attribute("value")) == before + 150
    shot(page, "profile-after-workout.png")

    page.get_by_role("button", name="Daily check-in").click()
    expect(page.locator(".toast", has_text="Achievement unlocked: Early Bird")).to_be_visible()
    card = page.locator("#achievements [data-key=early_bird]")
    expect(card.locator("h3")).to_have_text("Early Bird")
    expect(card.locator(".state")).to_contain_text("Unlocked")
    shot(page, "profile-after-unlock.png")

    page.get_by_role("link", name="Shop").click()
    balance = number(page, "#balance")
    page.get_by_role("button", name="Buy Protein Sample").click()
    expect(page.get_by_role("heading", name="Confirm your purchase")).to_be_visible()
    page.get_by_role("button", name="Confirm purchase").click()
    expect(page.locator(".toast")).to_contain_text("Bought 1 x protein sample")
    assert number(page, "#balance") == balance - 5_000
    page.get_by_label("Quantity").last.fill("2")  # the training session: 200,000 points
    page.get_by_role("button", name="Buy Personal Training Session").click()
    error = page.locator("#buy-training_session-error")
    shortfall = 200_000 - (balance - 5_000)
    expect(error).to_contain_text(f"you need {shortfall:,} more points")
    shot(page, "shop-shortfall.png")
    assert number(page, "#balance") == balance - 5_000

    page.goto(f"{base}/play/sean")
    for _ in range(2):  # 3 workouts today in all (the rule's daily limit): 750 XP this week
        shown = page.locator("#xp-text").inner_text()
        page.get_by_role("button", name="Log workout").click()
        expect(page.locator("#xp-text")).not_to_have_text(shown)  # this one's page is in
        expect(page.locator(".toast").first).to_contain_text("+150 XP")
    assert weekly_rank(page, base) == 2
    shot(page, "board-weekly.png")

    xp, points = g.profile("sean").xp, g.balance("sean", "points")
    page.goto(f"{base}/play/sean")
    page.reload()
    page.go_back()
    page.reload()
    assert (g.profile("sean").xp, g.balance("sean", "points")) == (xp, points)
    assert [o.item for o in g.shop.orders("sean")] == ["protein_sample"]
    assert g.verify_ledger().ok


def test_profile_fits_a_phone(server: tuple[str, Gamification], browser: Any) -> None:
    base, _ = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    for path in ("/play/maria", "/play/maria/boards", "/play/maria/shop", "/operator/economy"):
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways at phone width ({width}px)"
    page.goto(base + "/play/maria")
    shot(page, "profile-phone.png")


def test_operator_journey(server: tuple[str, Gamification], browser: Any) -> None:
    base, g = server
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    expect = sync_api.expect
    page.goto(f"{base}/operator/definitions")
    bad = b'[[rules]]\nevent = "stretch"\nxp = "lots"\n'
    page.get_by_label("Definitions file").set_input_files(
        {"name": "stretch.toml", "mimeType": "application/toml", "buffer": bad}
    )
    page.get_by_role("button", name="Load").click()
    problems = page.locator("#file-problems")
    expect(problems).to_contain_text("rules[0].xp")
    expect(problems).to_contain_text("expected int")
    expect(page.get_by_label("Definitions file")).to_have_attribute("aria-invalid", "true")
    shot(page, "operator-definitions-error.png")

    page.get_by_label("Definitions file").set_input_files(
        {"name": "stretch.toml", "mimeType": "application/toml",
         "buffer": bad.replace(b'"lots"', b"5")}
    )  # fmt: skip
    page.get_by_label("Set name").fill("")
    page.get_by_role("button", name="Load").click()
    expect(page.locator(".toast")).to_contain_text("Loaded stretch.toml: 1 added")
    assert g.track("sean", "stretch").xp is not None

    page.goto(f"{base}/operator/ledger")
    expect(page.locator("#ledger-ok")).to_be_visible()
    page.goto(f"{base}/operator/economy")
    for img in page.locator("figure img").all():
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "a chart did not load"
    shot(page, "operator-economy.png")
