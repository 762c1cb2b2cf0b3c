"""What a referral moves in progression: the referrer's referral metrics, and the badges
watching them or the points the referral paid.

Subscribed (as ``achievements``) to the referral events when the parts are wired: referrals
pay and publish, and never call progression. The signals are built in the order the points
were paid, each with the lifetime total the user had right after that payment, so the badges
unlock exactly as if they had been checked payment by payment.
"""

from __future__ import annotations

from ..economy.referrals import CONVERTED_METRIC, SIGNED_UP_METRIC
from ..runtime.bus import ReferralConverted, ReferralSignedUp
from .achievements import Achievements, Context, Signal
from .metrics import Metrics

__all__ = ["ReferralProgress"]


class ReferralProgress:
    def __init__(self, achievements: Achievements, metrics: Metrics) -> None:
        self._achievements = achievements
        self._metrics = metrics

    def signed_up(self, e: ReferralSignedUp) -> None:
        achievements = self._achievements
        ctx = achievements.context(e.referrer_id, e.at, e.at_text)
        pending: list[Signal] = []
        # A self-referral (its rule switched off) paid one user twice: one context for both.
        same = e.referred_id == e.referrer_id
        later = e.referred_points if same else 0
        self._paid(ctx, e.currency, e.referrer_points, later, pending)
        self._count(ctx, SIGNED_UP_METRIC, pending)
        if same:
            self._paid(ctx, e.currency, e.referred_points, 0, pending)
            achievements.process(e.tx, ctx, pending, ())
            return
        new_ctx = achievements.context(e.referred_id, e.at, e.at_text)
        new_pending: list[Signal] = []
        self._paid(new_ctx, e.currency, e.referred_points, 0, new_pending)
        achievements.process(e.tx, ctx, pending, ())
        achievements.process(e.tx, new_ctx, new_pending, ())

    def converted(self, e: ReferralConverted) -> None:
        ctx = self._achievements.context(e.referrer_id, e.at, e.at_text)
        pending: list[Signal] = []
        paid = [(e.currency, e.points)] + [(m.currency, m.points) for m in e.milestones]
        for index, (currency, amount) in enumerate(paid):
            later = sum(n for c, n in paid[index + 1 :] if c == currency)
            self._paid(ctx, currency, amount, later, pending)
            if index == 0:
                self._count(ctx, CONVERTED_METRIC, pending)
        self._achievements.process(e.tx, ctx, pending, ())

    def _paid(
        self, ctx: Context, currency: str, amount: int, later: int, pending: list[Signal]
    ) -> None:
        """``amount`` paid, followed by ``later`` more in the same currency in this call."""
        signal = f"points:{currency}"
        if amount and signal in self._achievements.catalogue.watched:
            earned = ctx.earned(currency) - later
            pending.append((signal, earned - amount, earned))

    def _count(self, ctx: Context, metric: str, pending: list[Signal]) -> None:
        # Something that happened to the referrer, not something they did: not an active day.
        count = self._metrics.record(
            ctx.user_id, metric, 1, ctx.day.isoformat(), ctx.at_text, active=False
        ).times
        ctx.forget(metric)
        pending.append((f"count:{metric}", count - 1, count))
