"""The schema, as a named sqlite-utils migration set. Never edit an applied migration: add one.

The set is one sqlite-utils ``Migrations`` object; its migrations are registered in the order
the modules below are imported, which is the order they apply in.
"""

from __future__ import annotations

import sqlite_utils

__all__ = ["migrations"]

migrations = sqlite_utils.Migrations("gamification_sdk")

# Imported for their registrations, in order (they use ``migrations`` above).
from . import foundations, features, upgrades, lots, tiers, keys, slot_log  # noqa: E402, F401, I001
from .script import _script  # noqa: E402, F401  (tests run scripts the same way)
