"""m023: idempotency keys by age, for the ``expire_keys`` job (docs/guides/idempotency.md).

Imported after ``tiers`` so it applies after m022.
"""

from __future__ import annotations

from typing import Any

from . import migrations
from .script import _script

__all__: list[str] = []


@migrations()
def m023_idempotency_keys_by_time(db: Any) -> None:
    # The job reads the oldest keys first, a chunk at a time, resuming after the last
    # (created_at, key) it saw; the table's own key rides in the index (WITHOUT ROWID), so
    # the index alone serves that order. Only the registry gains an index: the hottest keyed
    # writes keep their keys in their own rows and write no registry row.
    _script(db, "CREATE INDEX idempotency_keys_by_time ON idempotency_keys(created_at)")
