"""The statements of ``runtime/stored_config.py``: the versions of the stored configuration."""

from __future__ import annotations

__all__ = ["HISTORY", "LATEST", "NEWEST_VERSION", "NEW_VERSION"]

NEWEST_VERSION = "SELECT MAX(version) FROM config_versions"
# A version row: (version, format, body, applied_at, applied_by).
LATEST = (
    "SELECT version, format, body, applied_at, applied_by FROM config_versions "
    "ORDER BY version DESC LIMIT 1"
)
HISTORY = (
    "SELECT version, format, body, applied_at, applied_by FROM config_versions ORDER BY version"
)
NEW_VERSION = (
    "INSERT INTO config_versions (version, format, body, applied_at, applied_by) "
    "VALUES (?, ?, ?, ?, ?)"
)
