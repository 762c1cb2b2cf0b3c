"""The hooks a plugin may implement. Each docstring is the contract.

Hooks marked "inside the transaction" run while the write is open: raising there rolls the
whole write back. Hooks marked "after commit" run once the write is durable: they can never
undo it, and how their exceptions are handled follows ``Config.hook_errors``. They are
ordinary pluggy calls, so ``@hookimpl(wrapper=True)`` wrappers and
``pm.add_hookcall_monitoring``/``pm.enable_tracing`` see them; every plain implementation
runs even if another raises, and a wrapper sees the results of those that did not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    import click

    from .config import Config, LevelsConfig
    from .engine import Gamification
    from .models import (
        AwardRequest,
        LedgerReport,
        Notification,
        Order,
        PeriodClose,
        QuestCompletion,
        QuestStatus,
        ReferralAttempt,
        ScoredEvent,
        TierChange,
        Transaction,
        Unlock,
        UserDeletion,
        XPAward,
    )
    from .ops.jobs import Job
    from .progression.definitions import Quest, ShopItem
    from .progression.levels import LevelCurve

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("gamification_sdk")
hookimpl = pluggy.HookimplMarker("gamification_sdk")


@hookspec(firstresult=True)
def level_curve(levels: LevelsConfig) -> LevelCurve | None:
    """Return the curve for ``levels.curve`` (or ``levels.custom``), or None if it is not yours."""


@hookspec
def xp_multiplier(
    engine: Gamification,
    user_id: str,
    source: str,
    base_amount: int,
    at: Any,
    metadata: Any,
) -> float | None:
    """Return a factor > 0 for this XP award, or None; all factors are multiplied (inside the transaction)."""


@hookspec
def points_multiplier(
    engine: Gamification,
    user_id: str,
    currency: str,
    source: str,
    base_amount: int,
    at: Any,
    metadata: Any,
) -> float | None:
    """Return a factor > 0 for this earned points award, or None; all factors are multiplied (inside the transaction)."""


@hookspec
def validate_award(engine: Gamification, award: AwardRequest) -> str | None:
    """Return a reason to veto the XP or points award (raises errors.Rejected), else None (inside the transaction).

    Asked for every award of XP (before multipliers) and every issue of points, whatever
    pays it: ``award.origin`` is ``"direct"`` for the host's ``award_xp``/``award_points``,
    else ``"event"``, ``"achievement"``, ``"quest"``, ``"streak"``, ``"level_up"``,
    ``"battle_pass"``, ``"leaderboard"`` or ``"referral"``. A veto rejects the whole call
    that would pay it (``track()``, ``award_xp`` whose level-up pays a bonus,
    ``battle_pass.claim``, a ``leaderboard_close`` run...): it rolls back and nothing is
    written. Transfers, refunds, ``points.adjust`` and spending move or take back points
    already issued and are not asked.
    """


@hookspec
def on_xp_awarded(engine: Gamification, award: XPAward) -> None:
    """Called after commit for every XP award; the return value is ignored."""


@hookspec
def on_level_up(
    engine: Gamification, user_id: str, old_level: int, new_level: int, award: XPAward
) -> None:
    """Called after commit when an award raised the level; the return value is ignored."""


@hookspec
def on_points_changed(engine: Gamification, transaction: Transaction) -> None:
    """Called after commit once per user side of each ledger transaction; the return value is ignored."""


@hookspec
def register_criteria(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Call ``register(name, evaluate)`` for each custom criterion; ``evaluate(engine, user_id, params, at)`` returns the current number (or bool), inside the transaction."""


@hookspec
def register_definitions(register: Callable[..., None]) -> None:
    """Offer a definition pack: ``register(source, name)`` with a file path or mapping; loaded at open if ``Config.packs`` names it."""


@hookspec
def on_achievement_unlocked(engine: Gamification, unlock: Unlock) -> None:
    """Called after commit for every achievement unlock (each tier and repeat); the return value is ignored."""


@hookspec
def notify(engine: Gamification, notification: Notification) -> None:
    """Deliver one stored notification (email, push, websocket) after commit; the return value is ignored."""


@hookspec
def notification_stored(engine: Gamification, notification: Notification) -> None:
    """Called inside the transaction that stores each notification, before ``notify``: write what must commit or roll back with it (a delivery queue); raising rolls the write back."""


@hookspec
def register_postgres_migrations(
    register: Callable[[str, Sequence[tuple[int, str, str]]], None],
) -> None:
    """Call ``register(name, migrations)`` with a plugin's own tables on PostgreSQL: ``(version, name, SQL)`` in order, applied at open in the engine's schema (with its migrations, under its lock) and recorded under ``name``; never edit an applied one."""


@hookspec(firstresult=True)
def verify_quest(
    engine: Gamification, user_id: str, quest: Quest, evidence: Any, progress: QuestStatus
) -> bool | None:
    """Decide a ``quests.complete`` call: True to pay, False to refuse, None to leave it to the tracked objectives (inside the transaction)."""


@hookspec
def on_quest_completed(engine: Gamification, completion: QuestCompletion) -> None:
    """Called after commit for every paid quest completion; the return value is ignored."""


@hookspec
def register_jobs(register: Callable[[Job], None], config: Config) -> None:
    """Call ``register(job)`` for each scheduled job (a ``gamification_sdk.Job``: a plain function of ``(engine, now)`` with ``every=`` or ``daily_at=``); collected at open, names must be unique."""


@hookspec
def on_ledger_audit(engine: Gamification, report: LedgerReport, at: datetime) -> None:
    """Called after the scheduled ``ledger_audit`` job with its ``LedgerReport`` (falsy when all agree) and the ``now`` it ran for; the return value is ignored."""


@hookspec(firstresult=True)
def friends_of(engine: Gamification, user_id: str) -> Iterable[str] | None:
    """Return the user's friends when the host owns the social graph (friends boards read it), or None to use ``g.social.add_friend``'s edges."""


@hookspec
def register_scorers(
    register: Callable[[str, Callable[[ScoredEvent], float | None]], None],
) -> None:
    """Call ``register(name, scorer)``: a ``custom`` board with ``scorer = name`` adds ``scorer(event)`` (a number, or None for nothing) for each tracked event, inside the transaction."""


@hookspec
def on_leaderboard_closed(engine: Gamification, close: PeriodClose) -> None:
    """Called after commit for each board period archived by the ``leaderboard_close`` job, its rank rewards paid; the return value is ignored."""


@hookspec
def check_referral(engine: Gamification, referral: ReferralAttempt) -> str | None:
    """Return a reason to flag a referral the built-in rules passed (stored flagged, pays nothing, raises errors.ReferralRejected), or None (inside the transaction)."""


@hookspec(firstresult=True)
def fulfill_order(engine: Gamification, order: Order, item: ShopItem) -> str | bool | None:
    """Deliver an ``external`` shop order (``order.status`` is pending, its points held, outside any transaction): return a reference (str) or True when done, False to refuse (the hold is released, ``errors.FulfillmentFailed``), None if the order is not yours; raising also fails it. First non-None answer wins; may be called again for a retried key, so dedupe on ``order.idempotency_key``."""


@hookspec
def on_user_deleted(engine: Gamification, deletion: UserDeletion) -> None:
    """Called after commit when ``g.privacy.delete`` has removed a user, so a plugin or host can forget what it keeps about ``deletion.user_id`` elsewhere; the return value is ignored."""


@hookspec
def register_commands(register: Callable[[click.Command], None]) -> None:
    """Call ``register(command)`` for each click command or group to add to the ``gamification`` command line; collected when the command line starts, names must not clash with another command."""


@hookspec
def on_tier_changed(engine: Gamification, change: TierChange) -> None:
    """Called after commit for every status tier change (an upgrade as the user qualifies, a downgrade at a requalification); the return value is ignored."""
