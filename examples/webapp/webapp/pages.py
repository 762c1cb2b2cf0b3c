"""The player's screens, server-rendered: profile, achievements, quests, boards, pass, shop.

Every page is plain HTML that works without JavaScript; the vendored htmx (``hx-boost`` in
``base.html``) only swaps the page in place. A write is a POST form with a hidden idempotency
key (``forms.new_key``), answered with a redirect (post/redirect/get), so a reload repeats
nothing. A refused write re-renders its page with the SDK's message next to the field, status
422, and has written nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, cast

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gamification_sdk import Gamification, errors
from gamification_sdk.errors import InvalidInput
from gamification_sdk.models import Unlock, XPAward

from .catalogue import CURRENCY, EARN_XP_SOURCES
from .demo import USERS
from .forms import engine, form_key, local, new_key, time_left, whole_number
from .unlocks import UnlockCollector

__all__ = ["pages"]

pages = Blueprint("pages", __name__)

PERIODS = ("weekly", "daily", "monthly", "all_time")
SCOPES = ("global", "friends", "group")
RARITIES = ("legendary", "epic", "rare", "uncommon", "common")
HOLD = timedelta(minutes=10)
Page = str | tuple[str, int]


@pages.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"new_key": new_key, "local": local, "time_left": time_left, "CURRENCY": CURRENCY}


@pages.get("/")
def index() -> str:
    return render_template("index.html", users=USERS)


@pages.get("/play")
def pick() -> Response:
    """The user picker's form (``?user=``) lands on that user's profile."""
    user = request.args.get("user", "").strip() or next(iter(USERS))
    return redirect(url_for("pages.profile", user=user))


def _toast_unlocks(found: tuple[Unlock, ...] | list[Unlock]) -> None:
    for u in found:
        tier = f" ({u.tier})" if u.tier else ""
        flash(f"Achievement unlocked: {u.name}{tier}, {u.rarity}", "unlock")


def _toast_xp(award: XPAward | None) -> None:
    if award is None:
        flash("Logged. Today's XP limit for this activity is reached: no XP this time.", "info")
        return
    flash(f"+{award.amount} XP", "xp")
    if award.leveled_up:
        flash(f"Level up! You reached level {award.new_level}.", "level")


def _refused(render: Callable[[dict[str, str]], Page], exc: errors.GamificationError,
             form: str, fields: dict[str, str] | None = None) -> Page:  # fmt: skip
    """The page again, status 422, with the SDK's message next to the form field it names
    (``fields`` maps the SDK's argument names to the form's), or atop the form."""
    named = str(getattr(exc, "field", ""))
    shown = (fields or {}).get(named)
    body, _ = _page(render({f"{form}.{shown}" if shown else form: str(exc)}))
    return body, 422


def _page(page: Page) -> tuple[str, int]:
    return page if isinstance(page, tuple) else (page, 200)


# -- profile: level, streak, achievements, quests ----------------------------------------


def _profile_page(user: str, problems: dict[str, str]) -> str:
    g = engine()
    now = g.clock()
    profile = g.profile(user)
    badges = g.achievements.list(user, include_hidden=True)
    badges.sort(key=lambda a: (not a.unlocked, RARITIES.index(a.rarity)
                               if a.rarity in RARITIES else 99, a.name))  # fmt: skip
    board = g.quests.list(user)
    quests = [*board.daily, *board.weekly, *board.monthly, *board.special]
    return render_template(
        "profile.html", user=user, p=profile, streak=profile.streak,
        title=g.users.inventory(user).equipped_title, badges=badges, quests=quests,
        now=now, errors=problems, sources=EARN_XP_SOURCES,
        tomorrow=(profile.streak.today if profile.streak else now.date()) + timedelta(days=1),
    )  # fmt: skip


@pages.get("/play/<user>")
def profile(user: str) -> str:
    return _profile_page(user, {})


@pages.post("/play/<user>/track")
def track(user: str) -> Response | Page:
    """Log an activity; the rule decides the XP, the toast says what it earned."""
    g = engine()
    event = request.form.get("event", "")
    try:
        if event not in EARN_XP_SOURCES:
            raise InvalidInput("event", f"expected one of {', '.join(EARN_XP_SOURCES)}")
        minutes = whole_number("minutes", 1, 600) if event == "workout" else 1
        result = g.track(user, event, value=minutes, metadata={"workoutType": "cardio"},
                         idempotency_key=form_key())  # fmt: skip
    except errors.GamificationError as exc:
        return _refused(lambda e: _profile_page(user, e), exc, "track",
                        {"value": "minutes", "minutes": "minutes"})  # fmt: skip
    _toast_xp(result.xp)
    _toast_unlocks(result.unlocked)
    return redirect(url_for("pages.profile", user=user))


@pages.post("/play/<user>/quests/<quest>")
def complete_quest(user: str, quest: str) -> Response | Page:
    g = engine()
    collector = cast(UnlockCollector, current_app.extensions["gamification.unlocks"])
    try:
        with collector.collect() as found:
            done = g.quests.complete(user, quest, idempotency_key=form_key())
    except errors.GamificationError as exc:
        return _refused(lambda e: _profile_page(user, e), exc, f"quest-{quest}")
    flash(f"Challenge complete: {quest.replace('_', ' ')}, +{done.xp} XP", "xp")
    _toast_unlocks(found)
    return redirect(url_for("pages.profile", user=user))


@pages.post("/play/<user>/rest-day")
def rest_day(user: str) -> Response | Page:
    """Plan a rest day. Planning the same day twice is a no-op, so no key is needed."""
    g = engine()
    try:
        raw = request.form.get("day", "")
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput("day", f"expected a date (YYYY-MM-DD), got {raw!r}") from None
        g.streaks.schedule_rest_day(user, day)
    except errors.GamificationError as exc:
        return _refused(lambda e: _profile_page(user, e), exc, "rest", {"day": "day"})
    flash(f"Rest day planned: {day:%a %d %b}", "info")
    return redirect(url_for("pages.profile", user=user))


# -- leaderboards -------------------------------------------------------------------------


@pages.get("/play/<user>/boards")
def boards(user: str) -> Page:
    g = engine()
    period = request.args.get("period", "weekly")
    scope = request.args.get("scope", "global")
    around = request.args.get("around") == "1"
    group = None
    if scope == "group":
        group = next(iter(g.social.groups(user)), None)
    try:
        if period not in PERIODS or scope not in SCOPES:
            raise InvalidInput("period" if period not in PERIODS else "scope", "unknown tab")
        if around:
            board = g.boards.around(user, "xp", period=period, scope=scope, group=group, n=3)
        else:
            board = g.boards.get("xp", period=period, scope=scope, group=group, limit=20,
                                 viewer=user)  # fmt: skip
    except errors.GamificationError as exc:
        page = render_template("boards.html", user=user, board=None, period=period,
                               scope=scope, around=around, group=group, periods=PERIODS,
                               scopes=SCOPES, error=str(exc))  # fmt: skip
        return page, 422
    return render_template("boards.html", user=user, board=board, period=period, scope=scope,
                           around=around, group=group, periods=PERIODS, scopes=SCOPES,
                           error=None)  # fmt: skip


# -- battle pass --------------------------------------------------------------------------


def _pass_page(user: str, problems: dict[str, str]) -> str:
    g = engine()
    try:
        bp = g.battle_pass.get(user)
    except errors.NoActiveSeason:
        bp = None
    return render_template("pass.html", user=user, bp=bp, errors=problems, now=g.clock())


@pages.get("/play/<user>/pass")
def battle_pass(user: str) -> str:
    return _pass_page(user, {})


@pages.post("/play/<user>/pass/claim")
def claim(user: str) -> Response | Page:
    g = engine()
    track_name = request.form.get("track", "")
    try:
        tier = whole_number("tier", 1, 1000)
        got = g.battle_pass.claim(user, tier, track=track_name, season=request.form.get("season"),
                                  idempotency_key=form_key())  # fmt: skip
    except errors.GamificationError as exc:
        form = f"claim-{track_name}-{request.form.get('tier', '')}"
        return _refused(lambda e: _pass_page(user, e), exc, form)
    paid = got.points.get(CURRENCY, 0)
    flash(f"Tier {got.tier} ({got.track}) claimed: +{paid:,} {CURRENCY}", "xp")
    return redirect(url_for("pages.battle_pass", user=user))


# -- shop: reserve, then confirm ----------------------------------------------------------


def _shop_page(user: str, problems: dict[str, str]) -> str:
    g = engine()
    balance = g.profile(user).balances.get(CURRENCY)
    return render_template("shop.html", user=user, items=g.shop.list(user), balance=balance,
                           errors=problems)  # fmt: skip


@pages.get("/play/<user>/shop")
def shop(user: str) -> str:
    return _shop_page(user, {})


@pages.post("/play/<user>/shop/reserve")
def reserve(user: str) -> Response | Page:
    """Phase one: hold the price for ten minutes while the player reviews the order.
    Too few points is ``InsufficientFunds``, shown with the shortfall; nothing is held."""
    g = engine()
    item = request.form.get("item", "")
    try:
        listing = next((i for i in g.shop.list(user) if i.key == item), None)
        if listing is None:
            raise errors.NotFound("item", f"no shop item {item!r}")
        quantity = whole_number("quantity", 1, 1000)
        hold = g.reserve_points(user, listing.price.get(CURRENCY, 0) * quantity,
                                currency=CURRENCY, ttl=HOLD, source="shop",
                                reference=("shop_item", f"{item}*{quantity}"),
                                idempotency_key=form_key())  # fmt: skip
    except errors.GamificationError as exc:
        return _refused(lambda e: _shop_page(user, e), exc, f"buy-{item}",
                        {"amount": "quantity", "quantity": "quantity"})  # fmt: skip
    return redirect(url_for("pages.hold", user=user, rid=hold.id))


def _held_item(user: str, rid: int) -> tuple[str, int, Any]:
    hold = engine().points.reservation(rid)
    if hold.user_id != user or hold.reference_type != "shop_item" or not hold.reference_id:
        raise errors.NotFound("reservation", f"no shop hold {rid} for {user}")
    item, _, quantity = hold.reference_id.rpartition("*")
    return item, int(quantity), hold


@pages.get("/play/<user>/shop/hold/<int:rid>")
def hold(user: str, rid: int) -> Page:
    g = engine()
    try:
        item, quantity, held = _held_item(user, rid)
    except errors.GamificationError as exc:
        return render_template("message.html", user=user, message=str(exc)), 404
    listing = next((i for i in g.shop.list(user) if i.key == item), None)
    return render_template("hold.html", user=user, hold=held, item=item, listing=listing,
                           quantity=quantity, balance=g.balance(user, CURRENCY), now=g.clock(),
                           errors={})  # fmt: skip


@pages.post("/play/<user>/shop/hold/<int:rid>")
def confirm(user: str, rid: int) -> Response | Page:
    """Phase two. Confirm: the hold is released and the SDK's own purchase (hold, fulfil,
    charge, grant) buys the item under keys derived from this form's key, so a double submit
    buys once. Cancel: the hold is released. Either way no point is lost: a crash between
    the two leaves the points free and nothing bought, and the form can be sent again."""
    g = engine()
    key = form_key()
    try:
        item, quantity, held = _held_item(user, rid)
        if held.status == "active" and held.expires_at <= g.clock():
            # Ran out before the expiry job saw it: free it, and buy nothing at a stale price.
            g.release_reservation(rid, idempotency_key=f"{key}:expired")
            raise errors.ReservationExpired(rid, held.expires_at.isoformat(timespec="seconds"))
        # Always under this form's key: a resent form replays its own release (and then its
        # own purchase); a hold already closed some other way is refused by the SDK.
        g.release_reservation(rid, idempotency_key=f"{key}:release")
        if request.form.get("action") == "cancel":
            flash("Purchase cancelled; your points are free again.", "info")
            return redirect(url_for("pages.shop", user=user))
        order = g.shop.purchase(user, item, quantity=quantity, idempotency_key=f"{key}:buy")
    except errors.GamificationError as exc:
        return _refused(lambda e: _shop_page(user, e), exc, "confirm")
    spent = order.price.get(CURRENCY, 0)
    flash(f"Bought {order.quantity} x {item.replace('_', ' ')} for {spent:,} {CURRENCY}", "xp")
    return redirect(url_for("pages.shop", user=user))


# -- points history -----------------------------------------------------------------------


@pages.get("/play/<user>/history")
def history(user: str) -> str:
    g: Gamification = engine()
    before = request.args.get("before", type=int)
    page = g.history(user, currency=CURRENCY, limit=20, before=before)
    return render_template("history.html", user=user, page=page,
                           zone=g.profile(user).timezone)  # fmt: skip
