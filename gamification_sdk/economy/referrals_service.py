"""``g.referrals``: referral codes, sign-ups with them (anti-fraud checked), conversions and
their rewards, statuses, and what a referrer has earned."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..core.checks import check_before, check_limit
from ..core.clock import to_text
from ..core.validation import check_id, check_key
from ..errors import ReferralRejected
from ..models import Referral, ReferralConversion, ReferralStats
from ..runtime.idempotency import fingerprint, json_codec
from ..runtime.runtime import Runtime
from .referral_checks import (
    check_code,
    check_email,
    check_fingerprint,
    check_ip,
    check_kind,
    check_name,
    check_referral_ref,
    check_revenue,
    check_settable_status,
    check_utm,
)
from .referrals import Referrals

__all__ = ["ReferralsService"]


class ReferralsService:
    """Referrals, as ``g.referrals``."""

    def __init__(self, rt: Runtime, referrals: Referrals) -> None:
        self._rt = rt
        self._referrals = referrals

    def code(self, user_id: str, *, name: str | None = None, ip: str | None = None) -> str:
        """The user's referral code, made on first call and the same ever after.

        ``name`` fills ``{name}`` in ``ReferralsConfig.code_format`` when the code is made
        (later calls ignore it). ``ip``, the address the user is using, is recorded as the
        referrer's IP for the same-IP fraud rule (the latest one given counts).
        """
        check_id(user_id)
        label = check_name(name)
        address = check_ip(ip)
        at_text = to_text(self._rt.now())
        with self._rt.store.write():
            return self._referrals.code(user_id, label, address, at_text)

    def track(
        self,
        code: str,
        new_user_id: str,
        *,
        ip: str | None = None,
        device_fingerprint: str | None = None,
        email: str | None = None,
        utm: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Referral:
        """Record that ``new_user_id`` signed up with ``code``, and pay both sides.

        A referral that breaks an anti-fraud rule or that a ``check_referral`` plugin refuses
        is stored flagged with its reason, pays nothing, and raises ``errors.ReferralRejected``
        (``.reason``, ``.referral_id``). An unknown code raises ``errors.UnknownReferralCode``
        and the ``referral_track`` rate limit (per referrer) ``errors.RateLimited``; those
        write nothing.
        """
        code = check_code(code)
        check_id(new_user_id, "new_user_id")
        address = check_ip(ip)
        device = check_fingerprint(device_fingerprint)
        mail = check_email(email)
        source = check_utm(utm)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        referral = self._rt.write(
            "track_referral",
            key,
            lambda: fingerprint(code, new_user_id, address, device, mail, source, explicit),
            json_codec(Referral),
            at_text,
            lambda tx: self._referrals.track(
                tx, code, new_user_id, ip=address, device=device, email=mail, utm=source,
                at=moment, at_text=at_text,
            ),
            user_id=new_user_id,
        )  # fmt: skip
        if referral.flagged:
            # The flagged row is committed (the write returned); the caller learns why.
            assert referral.reason is not None
            raise ReferralRejected(referral.reason, referral.id)
        return referral

    def convert(
        self,
        referral: int | str,
        *,
        kind: str,
        revenue: float | None = None,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> ReferralConversion:
        """The referred user's first purchase or first session (``kind``): pays the referrer
        the conversion reward and every milestone this conversion reaches, once.

        ``referral`` is the referral id or the new user's id. A referral converts once: a
        second conversion raises ``errors.ReferralAlreadyConverted`` and a flagged one
        ``errors.ReferralUnavailable``; neither writes anything.
        """
        ref = check_referral_ref(referral)
        chosen = check_kind(kind)
        amount = check_revenue(revenue)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "convert_referral",
            key,
            lambda: fingerprint(ref, chosen, amount, explicit),
            json_codec(ReferralConversion),
            at_text,
            lambda tx: self._referrals.convert(tx, ref, chosen, amount, moment, at_text),
            # A referral belongs to the new user: given by id, it is read.
            user_id=ref if isinstance(ref, str) else self._rt.owner_of("referral", ref),
        )

    def set_status(
        self,
        referral: int | str,
        status: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Referral:
        """Mark a referral ``paid_client`` (after it converted) or ``churned``; setting the
        status it has is a no-op. Pays nothing; flagged referrals cannot change."""
        ref = check_referral_ref(referral)
        chosen = check_settable_status(status)
        key = check_key(idempotency_key)
        _, at_text, explicit = self._rt.moment(at)
        return self._rt.write(
            "set_referral_status",
            key,
            lambda: fingerprint(ref, chosen, explicit),
            json_codec(Referral),
            at_text,
            lambda tx: self._referrals.set_status(ref, chosen, at_text),
            # A referral belongs to the new user: given by id, it is read.
            user_id=ref if isinstance(ref, str) else self._rt.owner_of("referral", ref),
        )

    def get(self, referral: int | str) -> Referral:
        """One referral by id, flagged ones included, or by the new user's id (their unflagged
        referral); ``errors.NotFound`` if there is none."""
        ref = check_referral_ref(referral)
        with self._rt.store.read():
            return self._referrals.get(ref)

    def list(self, user_id: str, *, limit: int = 50, before: int | None = None) -> list[Referral]:
        """The referrals made with the user's code, newest first (flagged ones included); pass
        the last one's ``id`` as ``before`` for the next page."""
        check_id(user_id)
        check_limit(limit)
        check_before(before)
        with self._rt.store.read():
            return self._referrals.listing(user_id, limit, before)

    def stats(self, user_id: str) -> ReferralStats:
        """Counts by status, converted referrals, points earned, the milestone tier reached
        and how many conversions the next one needs."""
        check_id(user_id)
        with self._rt.store.read():
            return self._referrals.stats(user_id)
