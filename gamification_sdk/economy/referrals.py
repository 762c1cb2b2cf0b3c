"""Referrals (seed 002): codes, tracking under anti-fraud rules, rewards, conversions, milestones.

A user's code is made on first request and never changes. ``track`` runs, in the caller's
write transaction and before it writes anything: the code lookup, the ``referral_track`` rate
limit (counted for the referrer), the built-in fraud rules and then the ``check_referral``
plugins. A referral that fails one is still stored, flagged with its reason and unpaid: the
facade returns normally from the transaction (so the row commits) and raises
``ReferralRejected`` afterwards; a replay of its idempotency key raises the same rejection.

Every payment goes through the ledger in the same transaction, with a key derived from the
referral (``referral:<id>:referrer``, ``referral:<id>:referred``, ``referral:<id>:conversion``)
or from the referrer and tier (``referral_milestone:<user>:<tier>``), and milestones also have
one ``referral_milestones`` row per (referrer, tier): nothing can pay twice. A signup and a
conversion are published (``ReferralSignedUp``, ``ReferralConverted``) once paid; progression
counts the referrer's referral metrics and unlocks the badges they and the points move.

Methods here assume validated arguments and an open write transaction; the facade checks
input and owns the transaction.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pluggy

from ..config import Config
from ..core.clock import to_text
from ..errors import (
    NotFound,
    ReferralAlreadyConverted,
    ReferralUnavailable,
    UnknownReferralCode,
)
from ..models import MilestoneReward, Referral, ReferralAttempt, ReferralConversion, ReferralStats
from ..runtime.bus import ReferralConverted, ReferralSignedUp
from ..runtime.outbox import Notifications
from ..runtime.users import UserRows
from ..storage.referrals import (
    BY_ID,
    BY_REFERRED,
    BY_REFERRER,
    CODE_OF,
    CODE_OWNER,
    CONVERT,
    CONVERTED,
    COUNTS,
    DEVICE_SEEN,
    EARLIER,
    EARNED,
    FROM_IP,
    KNOWN_IPS,
    MILESTONES,
    NEW_CODE,
    NEW_MILESTONE,
    NEW_REFERRAL,
    SET_CODE_IP,
    SET_POINTS,
    SET_STATUS,
)
from ..storage.store import Tx
from .inventory import Items
from .ledger import Ledger, Posting
from .ratelimits import REFERRAL_TRACK, RateLimits
from .referral_rules import closes_cycle, has_activity

__all__ = [
    "CONVERSION_KINDS",
    "CONVERTED_METRIC",
    "REASONS",
    "SIGNED_UP_METRIC",
    "STATUSES",
    "Referrals",
]

STATUSES = ("pending", "signed_up", "converted", "paid_client", "churned")
CONVERSION_KINDS = ("first_purchase", "first_session")
SETTABLE_STATUSES = ("paid_client", "churned")
UTM_KEYS = ("campaign", "content", "medium", "source", "term")
# Metrics on the referrer, so achievements can be referral badges:
# { type = "count", event = "~referrals:converted", target = 5 }.
SIGNED_UP_METRIC = "~referrals:signed_up"
CONVERTED_METRIC = "~referrals:converted"
# The built-in fraud rules' reasons, in the order they are checked.
REASONS = (
    "self_referral", "referral_cycle", "referred_twice", "existing_user", "same_ip",
    "ip_velocity", "device_seen",
)  # fmt: skip
MAX_REVENUE = 1e12

# -- argument checks (the facade runs them before it opens the transaction) ------------------


def _label(name: str | None) -> str:
    """A name as it appears in a code: letters and digits, accents dropped, upper case."""
    if name is None:
        return ""
    folded = unicodedata.normalize("NFKD", name).upper()
    return re.sub(r"[^A-Z0-9]", "", folded)[:12]


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _referral(row: tuple[Any, ...]) -> Referral:
    return Referral(
        id=row[0], code=row[1], referrer_id=row[2], referred_id=row[3], status=row[4],
        flagged=bool(row[5]), reason=row[6], currency=row[7], referrer_points=row[8],
        referred_points=row[9], created_at=datetime.fromisoformat(row[10]),
        signed_up_at=_time(row[11]), converted_at=_time(row[12]), conversion_kind=row[13],
        revenue=row[14], ip=row[15], device_fingerprint=row[16], email=row[17],
        utm=None if row[18] is None else json.loads(row[18]),
    )  # fmt: skip


def _milestone(row: tuple[Any, ...]) -> MilestoneReward:
    user_id, tier, name, referrals, currency, points, title, reached_at = row
    return MilestoneReward(
        user_id, tier, name, referrals, currency, points, title, datetime.fromisoformat(reached_at)
    )


class Referrals:
    def __init__(
        self,
        conn: sqlite3.Connection,
        config: Config,
        users: UserRows,
        ledger: Ledger,
        items: Items,
        notifications: Notifications,
        limits: RateLimits,
        pm: pluggy.PluginManager,
        facade: Any,
    ) -> None:
        self._conn = conn
        self._settings = config.referrals
        self._currencies = set(config.currency_names)
        self._currency = config.referrals.currency or config.currencies[0].name
        self._tiers = sorted(config.referrals.milestones, key=lambda tier: tier.referrals)
        self._users = users
        self._ledger = ledger
        self._items = items
        self._notifications = notifications
        self._limits = limits
        self._pm = pm
        # Only handed to hooks as their ``engine=`` argument: opaque here.
        self._facade = facade
        # The referral metrics and badges are progression's: it subscribes to these events.
        self.publish_signed_up: Callable[[ReferralSignedUp], None] | None = None
        self.publish_converted: Callable[[ReferralConverted], None] | None = None

    # -- codes ----------------------------------------------------------------------------

    def code_of(self, user_id: str) -> str | None:
        row = self._conn.execute(CODE_OF, (user_id,)).fetchone()
        return None if row is None else str(row[0])

    def code(self, user_id: str, name: str | None, ip: str | None, at_text: str) -> str:
        """The user's code, made on first call; ``ip`` (if given) becomes their known IP."""
        row = self._conn.execute(CODE_OF, (user_id,)).fetchone()
        if row is not None:
            if ip is not None and ip != row[1]:
                self._conn.execute(SET_CODE_IP, (ip, at_text, user_id))
            return str(row[0])
        self._users.ensure(user_id, at_text)
        s = self._settings
        label = _label(name) or s.default_name
        # Each try draws a fresh random part; after every 16 collisions it grows by one.
        for attempt in range(64):
            drawn = "".join(
                secrets.choice(s.code_alphabet) for _ in range(s.code_length + attempt // 16)
            )
            candidate = s.code_format.replace("{name}", label).replace("{random}", drawn).upper()
            cursor = self._conn.execute(NEW_CODE, (user_id, candidate, ip, at_text, at_text))
            if cursor.rowcount == 1:
                return candidate
        raise AssertionError("no free referral code after 64 draws")

    # -- tracking -------------------------------------------------------------------------

    def track(
        self,
        tx: Tx,
        code: str,
        referred_id: str,
        *,
        ip: str | None,
        device: str | None,
        email: str | None,
        utm: dict[str, str] | None,
        at: datetime,
        at_text: str,
    ) -> Referral:
        """Store a referral, paid (signed_up) or flagged (pending, with its reason)."""
        row = self._conn.execute(CODE_OWNER, (code,)).fetchone()
        if row is None:
            raise UnknownReferralCode(code)
        referrer = str(row[0])
        # Refusals first: a refused call writes nothing (and cannot doom a batch()).
        self._limits.check(REFERRAL_TRACK, referrer, at)
        attempt = ReferralAttempt(code, referrer, referred_id, ip, device, email, utm, at)
        reason = self._broken_rule(attempt) or self._plugin_reason(attempt)
        if reason is None and not self._users.exists(referred_id):
            self._users.refuse_unknown(referred_id)
        cursor = self._conn.execute(
            NEW_REFERRAL,
            (
                code, referrer, referred_id, "pending" if reason else "signed_up",
                int(reason is not None), reason, self._currency, ip, device, email,
                None if utm is None else json.dumps(utm, sort_keys=True), at_text,
                None if reason else at_text, at_text,
            ),
        )  # fmt: skip
        referral_id = int(cursor.lastrowid or 0)
        if reason is None:
            self._sign_up(tx, referral_id, referrer, referred_id, at, at_text)
        self._limits.record(REFERRAL_TRACK, referrer, at, at_text)
        return self.get(referral_id)

    def _broken_rule(self, a: ReferralAttempt) -> str | None:
        """The first built-in rule the attempt breaks (see ``REASONS``), or None."""
        s = self._settings
        conn = self._conn
        if s.reject_self_referral and a.referrer_id == a.referred_id:
            return "self_referral"
        # Before referred_twice, which also catches most cycles: this reason names the ring.
        if s.reject_referral_cycle and closes_cycle(conn, a.referrer_id, a.referred_id):
            return "referral_cycle"
        # A paid earlier referral always blocks: a user is welcomed once (a unique index).
        (earlier,) = conn.execute(EARLIER, (a.referred_id,)).fetchone()
        if earlier == 0 or (earlier == 1 and s.reject_referred_twice):
            return "referred_twice"
        if s.reject_existing_user and has_activity(conn, a.referred_id, to_text(a.at)):
            return "existing_user"
        if a.ip is not None:
            if s.reject_same_ip:
                known = {ip for (ip,) in conn.execute(KNOWN_IPS, (a.referrer_id, a.referrer_id))}
                if a.ip in known:
                    return "same_ip"
            if s.max_referrals_per_ip:
                try:
                    since = to_text(a.at - timedelta(days=s.ip_window_days))
                except OverflowError:
                    since = ""
                (count,) = conn.execute(FROM_IP, (a.ip, since)).fetchone()
                if count >= s.max_referrals_per_ip:
                    return "ip_velocity"
        if (
            s.reject_seen_device
            and a.device_fingerprint is not None
            and conn.execute(DEVICE_SEEN, (a.device_fingerprint,)).fetchone() is not None
        ):
            return "device_seen"
        return None

    def _plugin_reason(self, attempt: ReferralAttempt) -> str | None:
        hook = self._pm.hook.check_referral
        if hook.get_hookimpls():
            for reason in hook(engine=self._facade, referral=attempt):
                if reason:
                    return str(reason)
        return None

    def _sign_up(
        self, tx: Tx, referral_id: int, referrer: str, referred: str, at: datetime, at_text: str
    ) -> None:
        s = self._settings
        currency = self._currency
        reference = ("referral", str(referral_id))
        self._users.ensure(referrer, at_text)
        self._users.ensure(referred, at_text)
        if s.referrer_reward:
            self._pay(
                tx, referrer, s.referrer_reward, currency, "referral", reference,
                f"referral:{referral_id}:referrer", "Referral signup bonus", at, at_text,
            )  # fmt: skip
        if s.referred_reward:
            self._pay(
                tx, referred, s.referred_reward, currency, "referral", reference,
                f"referral:{referral_id}:referred", "Welcome bonus", at, at_text,
            )  # fmt: skip
        self._conn.execute(SET_POINTS, (s.referrer_reward, s.referred_reward, referral_id))
        self._notifications.add(
            tx, referrer, "referral_signed_up", "A friend joined with your referral code",
            {"referral_id": referral_id, "referred_id": referred, "points": s.referrer_reward,
             "currency": currency},
            at, at_text,
        )  # fmt: skip
        if self.publish_signed_up is not None:
            self.publish_signed_up(
                ReferralSignedUp(
                    tx, referral_id, referrer, referred, currency, s.referrer_reward,
                    s.referred_reward, at, at_text,
                )
            )  # fmt: skip

    def _pay(
        self,
        tx: Tx,
        user_id: str,
        amount: int,
        currency: str,
        source: str,
        reference: tuple[str, str],
        key: str,
        description: str,
        at: datetime,
        at_text: str,
    ) -> None:
        posting = Posting(
            "referral_reward", currency, amount, user_id, source, at, at_text,
            reference=reference, description=description, key=key,
        )  # fmt: skip
        self._ledger.credit(tx, posting, origin="referral")

    # -- conversion and status ------------------------------------------------------------

    def convert(
        self,
        tx: Tx,
        ref: int | str,
        kind: str,
        revenue: float | None,
        at: datetime,
        at_text: str,
    ) -> ReferralConversion:
        """Pay the referrer's conversion reward and any milestone it reaches, once."""
        referral = self.get(ref)
        if referral.flagged:
            raise ReferralUnavailable(
                referral.id, referral.status, f"was flagged ({referral.reason}); it cannot convert"
            )
        if referral.converted_at is not None:
            raise ReferralAlreadyConverted(
                referral.id, referral.status,
                f"already converted ({referral.conversion_kind}) on "
                f"{referral.converted_at.isoformat()}; a conversion pays once",
            )  # fmt: skip
        currency = referral.currency  # a referral pays in one currency, its signup's
        if currency not in self._currencies:
            raise ReferralUnavailable(
                referral.id, referral.status,
                f"pays in {currency!r}, which is no longer configured",
            )  # fmt: skip
        amount = self._settings.conversion_reward
        self._conn.execute(CONVERT, (at_text, kind, revenue, amount, at_text, referral.id))
        referrer = referral.referrer_id
        if amount:
            self._pay(
                tx, referrer, amount, currency, "referral", ("referral", str(referral.id)),
                f"referral:{referral.id}:conversion", "Referral conversion bonus", at, at_text,
            )  # fmt: skip
        message = (
            "Your referral made their first purchase!"
            if kind == "first_purchase"
            else "Your referral completed their first session!"
        )
        self._notifications.add(
            tx, referrer, "referral_converted", message,
            {"referral_id": referral.id, "referred_id": referral.referred_id, "kind": kind,
             "points": amount, "currency": currency},
            at, at_text,
        )  # fmt: skip
        reached = self._milestones(tx, referrer, at, at_text)
        if self.publish_converted is not None:
            self.publish_converted(
                ReferralConverted(
                    tx, referral.id, referrer, currency, amount, tuple(reached), at, at_text
                )
            )
        return ReferralConversion(self.get(referral.id), amount, tuple(reached))

    def _milestones(self, tx: Tx, user: str, at: datetime, at_text: str) -> list[MilestoneReward]:
        """Pay every configured tier the referrer's converted referrals reach and not yet paid."""
        (converted,) = self._conn.execute(CONVERTED, (user,)).fetchone()
        reached: list[MilestoneReward] = []
        for tier in self._tiers:
            if tier.referrals > converted:
                break
            cursor = self._conn.execute(
                NEW_MILESTONE,
                (user, tier.tier, tier.name, tier.referrals, self._currency, tier.points,
                 tier.title, at_text),
            )  # fmt: skip
            if cursor.rowcount != 1:
                continue  # paid before
            if tier.points:
                self._pay(
                    tx, user, tier.points, self._currency, "referral_milestone",
                    ("referral_milestone", tier.tier), f"referral_milestone:{user}:{tier.tier}",
                    tier.name, at, at_text,
                )  # fmt: skip
            if tier.title is not None:
                self._items.grant_title(user, tier.title, f"referral:{tier.tier}", at_text)
            self._notifications.add(
                tx, user, "referral_milestone", f"Referral milestone: {tier.name}",
                {"tier": tier.tier, "referrals": tier.referrals, "points": tier.points,
                 "currency": self._currency, "title": tier.title},
                at, at_text,
            )  # fmt: skip
            reached.append(
                MilestoneReward(
                    user,
                    tier.tier,
                    tier.name,
                    tier.referrals,
                    self._currency,
                    tier.points,
                    tier.title,
                    at,
                )
            )
        return reached

    def set_status(self, ref: int | str, status: str, at_text: str) -> Referral:
        """Mark a referral ``paid_client`` (it must have converted) or ``churned``."""
        referral = self.get(ref)
        if referral.flagged:
            raise ReferralUnavailable(
                referral.id, referral.status,
                f"was flagged ({referral.reason}); its status cannot change",
            )  # fmt: skip
        if referral.status == status:
            return referral
        if status == "paid_client" and referral.converted_at is None:
            raise ReferralUnavailable(
                referral.id, referral.status,
                "has not converted; referrals.convert it before it becomes a paid client",
            )  # fmt: skip
        self._conn.execute(SET_STATUS, (status, at_text, referral.id))
        return self.get(referral.id)

    # -- reading --------------------------------------------------------------------------

    def get(self, ref: int | str) -> Referral:
        """By id, or by the new user's id (their unflagged referral); ``NotFound`` if none."""
        if isinstance(ref, int):
            row = self._conn.execute(BY_ID, (ref,)).fetchone()
        else:
            row = self._conn.execute(BY_REFERRED, (ref,)).fetchone()
        if row is None:
            raise NotFound("referral", ref)
        return _referral(row)

    def listing(self, user_id: str, limit: int, before: int | None) -> list[Referral]:
        cursor = self._conn.execute(
            BY_REFERRER, (user_id, before if before is not None else 2**63 - 1, limit)
        )
        return [_referral(row) for row in cursor]

    def stats(self, user_id: str) -> ReferralStats:
        conn = self._conn
        counts = dict.fromkeys(STATUSES, 0)
        flagged = 0
        for status, is_flagged, n in conn.execute(COUNTS, (user_id,)):
            counts[status] += n
            flagged += n if is_flagged else 0
        (converted,) = conn.execute(CONVERTED, (user_id,)).fetchone()
        earned: dict[str, int] = {}
        for statement in EARNED:
            for currency, points in conn.execute(statement, (user_id,)):
                if points:
                    earned[currency] = earned.get(currency, 0) + points
        milestones = tuple(_milestone(row) for row in conn.execute(MILESTONES, (user_id,)))
        current = [tier for tier in self._tiers if tier.referrals <= converted]
        ahead = [tier for tier in self._tiers if tier.referrals > converted]
        return ReferralStats(
            user_id=user_id,
            code=self.code_of(user_id),
            counts=counts,
            flagged=flagged,
            converted=converted,
            earned=dict(sorted(earned.items())),
            tier=current[-1].tier if current else None,
            next_tier=ahead[0].tier if ahead else None,
            referrals_to_next=ahead[0].referrals - converted if ahead else None,
            milestones=milestones,
        )
