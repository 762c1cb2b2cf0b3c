"""``g.privacy``: a user's data on request (GDPR): export it all, or erase the user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from ..core.validation import check_at, check_id, check_key
from ..errors import UnknownUser
from ..models import UserDeletion
from ..progression.profiles import Profiles
from ..runtime.idempotency import Codec, fingerprint, json_codec
from ..runtime.runtime import Runtime
from ..storage.store import Tx
from .privacy import Privacy as PrivacyData

__all__ = ["PrivacyService"]


def _encode_deletion(result: UserDeletion) -> str:
    return json_codec(UserDeletion).encode(attrs.evolve(result, user_id=""))


_DELETION_CODEC = Codec(_encode_deletion, json_codec(UserDeletion).decode)


class PrivacyService:
    """Exports and erasure that keep the ledger whole (see ops/privacy.py)."""

    def __init__(self, rt: Runtime, privacy: PrivacyData, profiles: Profiles) -> None:
        self._rt = rt
        self._privacy = privacy
        self._profiles = profiles

    def export(self, user_id: str, *, at: datetime | None = None) -> dict[str, Any]:
        """Every row about the user, by table, ready for ``json.dumps`` (a GDPR export)."""
        check_id(user_id)
        moment = self._rt.now() if at is None else check_at(at)
        with self._rt.store.read():
            if not self._profiles.exists(user_id):
                raise UnknownUser(user_id, "nothing is stored about this user")
            return self._privacy.export(user_id, moment)

    def delete(
        self,
        user_id: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> UserDeletion:
        """Erase the user: forfeit balances, anonymise ledger and referral history under a
        random pseudonym, delete every other row about them. ``verify_ledger()`` stays empty."""
        check_id(user_id)
        key = check_key(idempotency_key)
        moment, at_text, explicit = self._rt.moment(at)

        def body(tx: Tx) -> UserDeletion:
            if not self._profiles.exists(user_id):
                raise UnknownUser(user_id, "nothing is stored about this user")
            return self._privacy.delete(tx, user_id, moment, at_text)

        # The key is booked under no user (where keys are per user): its row must not keep
        # the erased id either.
        result = self._rt.write(
            "delete_user", key, lambda: fingerprint(user_id, explicit), _DELETION_CODEC,
            at_text, body,
        )  # fmt: skip
        # The stored result leaves the id out, or the record would keep what was erased.
        return attrs.evolve(result, user_id=user_id)
