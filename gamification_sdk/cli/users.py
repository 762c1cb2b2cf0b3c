"""A user's profile, XP awards and tracked events."""

from __future__ import annotations

import textwrap
from typing import Any

import click

from ..models import Profile, TrackResult, XPAward
from .options import at_option, key_option, parse_at, parse_json
from .output import emit, fmt, kv
from .state import State, pass_state

__all__ = ["award_xp", "profile", "track"]


@click.command()
@click.argument("user_id", metavar="USER")
@at_option("Read the streak as of this time (ISO-8601 with a zone); default: now.")
@pass_state
def profile(state: State, user_id: str, at: str | None) -> None:
    """Show a user's level, XP, balances and streak.

    USER must exist: an unknown user is an error, and nothing is created.
    """
    moment = parse_at(at)
    state.require_user(user_id)
    result = state.engine().profile(user_id, at=moment)
    emit(state.as_json, result, lambda: _profile_text(result))


def _profile_text(p: Profile) -> str:
    if p.xp_for_next_level:
        level = (
            f"{p.level} of {p.max_level} ({p.xp_into_level}/{p.xp_for_next_level} XP into "
            f"the level, {fmt(p.progress)}%)"
        )
    else:
        level = f"{p.level} of {p.max_level} (max)"
    rows: list[tuple[str, object]] = [("user", p.user_id), ("level", level), ("xp", p.xp)]
    if p.prestige:
        rows.append(("prestige", p.prestige))
    for name, balance in p.balances.items():
        held = f", {balance.held} held" if balance.held else ""
        rows.append((name, f"{balance.balance}{held}"))
    rows.append(("titles", p.titles))
    if p.streak is not None:
        s = p.streak
        rows.append(("streak", f"{s.current} day(s), longest {s.longest}, {s.freezes} freeze(s)"))
    rows += [("timezone", p.timezone), ("since", p.created_at)]
    return kv(rows)


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


@click.command("award-xp")
@click.argument("user_id", metavar="USER")
@click.argument("amount", type=int)
@click.option("--source", default="cli", show_default=True, help="What earned it.")
@click.option("--metadata", metavar="JSON", help="Anything JSON to store with the award.")
@key_option
@at_option()
@pass_state
def award_xp(
    state: State,
    user_id: str,
    amount: int,
    source: str,
    metadata: str | None,
    key: str | None,
    at: str | None,
) -> None:
    """Award XP to a user.

    Level-ups pay each crossed level's rewards once. USER's profile is made on first write
    (unless the config sets auto_create_profiles = false).
    """
    meta = parse_json(metadata, "--metadata")
    moment = parse_at(at)
    award = state.engine().award_xp(
        user_id, amount, source=source, idempotency_key=key, metadata=meta, at=moment
    )
    emit(state.as_json, award, lambda: _award_text(award))


def _award_text(award: XPAward) -> str:
    boost = f" ({award.base_amount} x {fmt(award.multiplier)})" if award.multiplier != 1 else ""
    text = f"{award.user_id}: +{award.amount} XP{boost}, total {award.total_xp}"
    if award.leveled_up:
        text += f", level {award.old_level} -> {award.new_level}"
    else:
        text += f", level {award.new_level}"
    for reward in award.rewards:
        parts = [f"{amount} {name}" for name, amount in reward.points.items()]
        parts += [f"title {title!r}" for title in reward.titles]
        if parts:
            text += f"\n  level {reward.level} reward: {', '.join(parts)}"
    return text


@click.command()
@click.argument("user_id", metavar="USER")
@click.argument("event")
@click.argument("properties", required=False, metavar="[PROPERTIES]")
@click.option("--value", type=float, default=1, show_default=True, help="How much of it.")
@key_option
@at_option()
@pass_state
def track(
    state: State,
    user_id: str,
    event: str,
    properties: str | None,
    value: float,
    key: str | None,
    at: str | None,
) -> None:
    """Record an event a user did.

    PROPERTIES is a JSON object stored with the event, e.g. '{"minutes": 30}'. Rules,
    achievements, quests and streaks that follow EVENT pay out as they would from the app.
    """
    props: Any = parse_json(properties, "properties", want_object=True)
    moment = parse_at(at)
    result = state.engine().track(
        user_id, event, value=_number(value), at=moment, idempotency_key=key, metadata=props
    )
    emit(state.as_json, result, lambda: _track_text(result))


def _track_text(r: TrackResult) -> str:
    rows: list[tuple[str, object]] = []
    if r.xp is not None:
        rows.append(("xp", f"+{r.xp.amount} (total {r.xp.total_xp}, level {r.xp.new_level})"))
    for t in r.points:
        rows.append((t.currency, f"+{t.amount} (balance {t.balance_after})"))
    for unlock in r.unlocked:
        pays = [f"+{unlock.xp} XP"] if unlock.xp else []
        pays += [f"+{amount} {name}" for name, amount in unlock.points.items()]
        paid = f": {', '.join(pays)}" if pays else ""
        rows.append(("unlocked", f"{unlock.name} [{unlock.key}, {unlock.rarity}]{paid}"))
    for quest in r.quests:
        rows.append(("quest done", f"{quest.name} [{quest.key}]"))
    head = f"{r.user_id}: tracked {r.event} x{fmt(r.value)} at {fmt(r.at)}"
    return head + ("\n" + textwrap.indent(kv(rows), "  ") if rows else "")
