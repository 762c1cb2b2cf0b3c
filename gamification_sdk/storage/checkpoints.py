"""WAL checkpoints on a thread of their own, so that no commit waits for one.

In WAL mode a commit appends its pages to the WAL file; a checkpoint copies them back into
the database file and, with ``synchronous=NORMAL``, is when both files are flushed to the
disk. By default SQLite runs it inside the commit that takes the WAL past 1,000 pages: that
commit then takes milliseconds instead of microseconds, and every thread waiting for the
engine's lock waits with it (measured: a fifth of a keyed award's average cost). SQLite's
WAL documentation offers the alternative used here: turn the automatic checkpoint down and
run checkpoints "in a separate thread".

The schedule stays close to SQLite's own, so the window a power cut can lose under
``durability="normal"`` (the WAL since its last flush) does not grow: a checkpoint is asked
for after 256 commits or 1,000 changed rows, whichever comes first, which is about the
1,000 pages at which SQLite would have run one. The writer keeps its automatic checkpoint
at 4,000 pages as a safety net, for when this thread falls behind, keeps failing or was
lost to a ``fork()``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

__all__ = ["SAFETY_NET_PAGES", "Checkpointer"]

log = logging.getLogger("gamification_sdk")

# The writer's own automatic checkpoint (SQLite's default is 1,000 pages).
SAFETY_NET_PAGES = 4000


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection and thread.

    PASSIVE never waits for a lock and never blocks a writer or a reader: it copies what
    no open read transaction still needs, and the next one picks up the rest. The thread
    starts at the first request, so an engine that writes little never starts one.
    """

    def __init__(
        self, path: str, *, busy_timeout: float, commits: int = 256, changes: int = 1000
    ) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._commits_limit = commits
        self._changes_limit = changes
        self._commits = 0
        self._mark = 0
        self.runs = 0
        self.failures = 0
        # (busy, pages in the WAL, pages copied) of the last run, as SQLite reports them.
        self.last: tuple[int, int, int] | None = None
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def committed(self, total_changes: int) -> None:
        """Count one commit (``total_changes`` is the connection's running count)."""
        self._commits += 1
        if self._commits < self._commits_limit and total_changes - self._mark < self._changes_limit:
            return
        self._commits = 0
        self._mark = total_changes
        self.request()

    def request(self) -> None:
        """Ask for a checkpoint; returns at once."""
        if self._pid != os.getpid():
            # A forked child: the thread stayed in the parent, and the parent's connection
            # must not be used here. Start over, on a connection of our own.
            self._reset()
        with self._cond:
            if self._stopping:
                return
            self._requested += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="gamification-sdk-checkpoint", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every checkpoint asked for so far has run; False if ``timeout`` passed."""
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= self._requested, timeout)

    def close(self) -> None:
        """Stop the thread after the checkpoint it is running, if any."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        # Not from the thread itself: a garbage collection can run the finaliser there.
        if thread is None or self._pid != os.getpid():
            return
        if thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping or self._done < self._requested)
                    if self._stopping:
                        return
                    target = self._requested
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self.path,
                            isolation_level=None,
                            check_same_thread=False,
                            timeout=self._busy_timeout,
                        )
                    self._checkpoint(conn)
                except Exception:
                    # The safety net checkpoints if this keeps failing; the writes go on.
                    self.failures += 1
                    log.warning("background WAL checkpoint of %s failed", self.path, exc_info=True)
                with self._cond:
                    self._done = target
                    self._cond.notify_all()
        finally:
            if conn is not None:
                conn.close()
            with self._cond:
                self._done = self._requested
                self._cond.notify_all()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.last = (row[0], row[1], row[2])
        self.runs += 1
