"""``verify_ledger``: recompute everything the ledger stores and report each disagreement."""

from __future__ import annotations

import sqlite3

from ..models import LedgerProblem, LedgerReport
from ..storage.audit import COUNT_ACCOUNTS, COUNT_TRANSACTIONS, findings

__all__ = ["verify"]


def verify(conn: sqlite3.Connection, *, temp_table: bool = True) -> LedgerReport:
    """``temp_table``: see ``storage.audit.findings``."""
    problems = tuple(LedgerProblem(*found) for found in findings(conn, temp_table=temp_table))
    (transactions,) = conn.execute(COUNT_TRANSACTIONS).fetchone()
    (accounts,) = conn.execute(COUNT_ACCOUNTS).fetchone()
    return LedgerReport(problems, transactions, accounts)
