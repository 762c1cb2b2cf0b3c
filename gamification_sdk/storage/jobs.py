"""The statements of ops/jobs.py: the scheduler's lease and the once-only job run records."""

from __future__ import annotations

__all__ = [
    "CLAIM_RUN",
    "FINISH_RUN",
    "LATEST_FINISHED",
    "LEASE",
    "LEASE_HOLDER",
    "PRUNE_RUNS",
    "RECORD_ERROR",
    "RELEASE_LEASE",
    "TAKE_LEASE",
]

# -- the lease: one row per name, held until expires_at ---------------------------------------

LEASE = "SELECT holder, expires_at FROM leases WHERE name = ?"
# Takes the lease if it is free, expired (at or before the fourth parameter, now) or already
# the holder's, in one statement: it returns the row when taken, nothing when another holds
# it. One statement is atomic on both backends: SQLite holds the write lock, PostgreSQL
# locks the row and re-checks the WHERE on its newest version, so two servers taking an
# expired lease at once cannot both win.
TAKE_LEASE = (
    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE "
    "SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= ? "
    "RETURNING holder"
)
RELEASE_LEASE = "DELETE FROM leases WHERE name = ? AND holder = ?"
LEASE_HOLDER = "SELECT holder FROM leases WHERE name = ? AND expires_at > ?"

# -- job runs: a (job, period) row started, then finished ----------------------------------------

CLAIM_RUN = (
    "INSERT INTO job_runs (job, period, holder, started_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (job, period) DO UPDATE SET holder = excluded.holder, "
    "started_at = excluded.started_at, attempts = job_runs.attempts + 1"
)
LATEST_FINISHED = (
    "SELECT period FROM job_runs WHERE job = ? AND finished_at IS NOT NULL "
    "ORDER BY period DESC LIMIT 1"
)
# Both end a run only while ``holder`` still has it: none changed means another took it over.
RECORD_ERROR = "UPDATE job_runs SET error = ? WHERE job = ? AND period = ? AND holder = ?"
FINISH_RUN = (
    "UPDATE job_runs SET finished_at = ?, result = ?, error = NULL "
    "WHERE job = ? AND period = ? AND holder = ?"
)
PRUNE_RUNS = "DELETE FROM job_runs WHERE job = ? AND period < ? AND started_at < ?"
