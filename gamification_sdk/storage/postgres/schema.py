"""The schema on PostgreSQL: every table of the SQLite schema (storage/schema/, as of m020),
in a schema of its own, shaped for Citus (distributed PostgreSQL, sharded by user).

Translated, not replayed: a new server starts at the SQLite schema's current shape in one
migration. A later SQLite migration that adds or changes a table appends a migration here
too (tests/test_postgres_schema.py compares the two schemas' tables and columns).

What differs from the SQLite file, and why:

- Types: ``BIGINT`` for integers (identity columns where SQLite numbered rows), ``BYTEA``
  for fingerprints, ``NUMERIC`` for metric sums and board scores (SQLite keeps an integer
  exact and a fraction as a float in the same column; ``NUMERIC`` keeps both exactly).
  Times stay ISO-8601 ``TEXT``, as the engine writes them, so they compare the same.
- ``typeof()`` guards are gone: a ``BIGINT`` overflow is an error here, not a float.
- Citus: a distributed table's unique keys and foreign keys must include its distribution
  column. So every user-owned table carries ``user_id`` in its primary and unique keys:
  rows numbered by an identity column are keyed ``(user_id, id)``; idempotency keys are
  unique per user (``(user_id, idempotency_key)``; the SQLite file has one namespace), and
  ``idempotency_keys`` gains ``user_id``. Ledger rows are owned by a user: ``accounts``,
  ``transactions`` and ``entries`` carry a non-null ``user_id``; a system account (issuance,
  sink) is kept as rows whose ``user_id`` is the shard key they are booked under, so an award
  touches one shard. Foreign keys between user-owned tables go through ``user_id``; a key to
  another user's row (``friends.friend_id``) is not enforced. The closed-board archive's
  order index is not unique (``(period_id, position)`` spans users).
- Definitions, configuration and board periods are reference tables (copied to every node),
  with no foreign key to a user-owned table. ``lb_log``, the boards' global change log, is
  neither: it stays on one node (``citus.sql``).
"""

from __future__ import annotations

__all__ = ["DISTRIBUTED", "LOCAL", "MIGRATIONS", "REFERENCE", "Migration"]

from .p001 import P001
from .p002 import P002
from .p003 import P003
from .p004 import P004
from .p005 import P005
from .p006 import P006
from .p007 import P007
from .p008 import P008
from .p009 import P009
from .p010 import P010
from .p011 import P011

Migration = tuple[int, str, str]

MIGRATIONS: tuple[Migration, ...] = (
    (1, "p001_tables_as_of_sqlite_m020", P001),
    (2, "p002_point_lots_as_of_sqlite_m021", P002),
    (3, "p003_status_tiers_as_of_sqlite_m022", P003),
    (4, "p004_change_log_in_commit_order", P004),
    (5, "p005_copy_progress_and_received_lots", P005),
    (6, "p006_change_log_triggers", P006),
    (7, "p007_metric_hours_view", P007),
    (8, "p008_readable_views", P008),
    (9, "p009_idempotency_keys_by_time", P009),
    (10, "p010_change_log_written_by_statements", P010),
    (11, "p011_slot_log_columns_as_of_sqlite_m024", P011),
)
"""``(version, name, SQL)`` in order; applied ones are never edited, new ones appended."""

DISTRIBUTED: dict[str, str] = {
    table: "user_id"
    for table in (
        "profiles", "xp_awards", "xp_boosts", "level_rewards_granted", "prestiges", "titles",
        "idempotency_keys", "accounts", "transactions", "entries", "reservations", "metrics",
        "metric_days", "achievement_unlocks", "inventory", "notifications",
        "notification_preferences", "rest_days", "streak_log", "quest_progress",
        "quest_completions", "rate_limit_hits", "lb_scores", "lb_archive", "lb_rewards",
        "group_members", "friends", "referral_milestones", "shop_orders",
        "battle_pass_progress", "battle_pass_claims", "point_lots", "lot_uses", "lot_holds",
        "tier_status", "tier_earnings", "tier_changes",
    )
} | {"referrals": "referred_id"}  # fmt: skip
"""User-owned tables and their distribution column. A referral belongs to the new user: one
unflagged referral per referred user is the key the welcome bonus relies on."""

REFERENCE: tuple[str, ...] = (
    "definitions", "achievement_tiers", "job_state", "job_runs", "leases", "lb_boards",
    "lb_periods", "lb_settings", "groups", "referral_codes", "shop_stock",
    "battle_pass_seasons", "deleted_users", "config_versions", "lot_currencies",
)  # fmt: skip
"""Definitions, configuration and shared state, copied to every node. ``referral_codes`` is
here because a code is looked up without knowing its user."""

LOCAL: tuple[str, ...] = ("lb_log", "copy_progress")
"""Tables that stay on the coordinator: the boards' change log is read in one global order;
the progress of a copy from a SQLite file (``gamification migrate``) is the copier's."""
