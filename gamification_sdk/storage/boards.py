"""The statements of social/boards.py: live board scores, their change log and its triggers."""

from __future__ import annotations

from .board_slots import SLOT_LOG_COLUMNS

__all__ = [
    "BACKFILL_SCORES",
    "CACHE_SIZE",
    "DELETE_PERIOD_SCORES",
    "LISTED_SCORES",
    "LOG_FROM",
    "LOG_RESET",
    "LOG_TOP",
    "MARK_BOARD",
    "NEW_PERIOD",
    "OPEN_PERIODS",
    "OPEN_PERIODS_OF",
    "PERIODS_OF_USER",
    "PERIOD_ID",
    "PERIOD_KIND",
    "PERIOD_START",
    "PRUNE_LOG",
    "QUIET_LOG",
    "READ_DEFAULTS",
    "READ_SLOTS",
    "RELIST_PERIOD",
    "SAVE_BOARD",
    "SAVE_DEFAULTS",
    "SAVE_SLOTS",
    "SCORE_ROW",
    "SET_LISTED",
    "STORED_BOARDS",
    "backfill_query",
    "cache_size_sql",
    "drop_temp_trigger",
    "temp_triggers",
    "upsert_sql",
]


def _listed(user: str, visibility: str, on_global: str) -> str:
    """SQL for whether global boards list ``user``: public and opted in, the two settings
    falling back to the configured defaults (bound as ``visibility`` and ``on_global``)."""
    return (
        f"COALESCE((SELECT COALESCE(visibility, {visibility}) = 'public' AND "
        f"COALESCE(show_on_global, {on_global}) FROM profiles WHERE user_id = {user}), 0)"
    )


_LISTED = _listed("?1", "?4", "?5")
_UPSERT = (
    "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
    f"SELECT ?1, id, ?2, ?3, {_LISTED} FROM lb_periods "
    "WHERE id IN ({ids}) AND closed_at IS NULL "
    "ON CONFLICT DO UPDATE SET score = score + excluded.score, "
    "reached = MAX(reached, excluded.reached)"
)


def upsert_sql(periods: int) -> str:
    """The award's one statement: add ``?2`` to the user's score in ``periods`` open periods
    (ids bound from ``?6`` on), listing a new row as the profile's privacy says. The caller
    keeps it per ``periods``, so sqlite3's statement cache sees the same text every time."""
    return _UPSERT.format(ids=", ".join(["?"] * periods))


# Every change to a row that is (or was) listed appends its old and new values to lb_log, in
# the statement that made it: readers remove the old key from their order and insert the
# new one without keeping a copy of anyone's score. Appends land on the log's last page,
# which consecutive awards share. Rows of unlisted users (both before and after) are not in
# any order and are not logged. Bulk changes (a backfill, a relisting, a closed period) run
# with the triggers dropped and log one reset row for the period instead (see boards.py).
_TRIGGERS = {
    "lb_log_insert": "AFTER INSERT ON main.lb_scores WHEN new.listed = 1 BEGIN "
    "INSERT INTO lb_log (period_id, user_id, score, reached, listed) "
    "VALUES (new.period_id, new.user_id, new.score, new.reached, 1); END",
    "lb_log_update": "AFTER UPDATE ON main.lb_scores WHEN new.listed = 1 OR old.listed = 1 "
    "BEGIN INSERT INTO lb_log (period_id, user_id, old_score, old_reached, old_listed, "
    "score, reached, listed) VALUES (new.period_id, new.user_id, old.score, old.reached, "
    "old.listed, new.score, new.reached, new.listed); END",
}


def temp_triggers() -> dict[str, str]:
    """Trigger name -> the statement that creates it on this connection. TEMP, so the bulk
    paths can drop them for a moment without touching other processes' connections."""
    return {
        name: f"CREATE TEMP TRIGGER IF NOT EXISTS {name} " + sql for name, sql in _TRIGGERS.items()
    }


# PostgreSQL: the statements that change lb_scores (their texts in postgres/statements.py,
# built by postgres/board_log.py) append no log row in a transaction that says "on".
QUIET_LOG = "SELECT set_config('gamification.quiet_log', ?, true)"


def drop_temp_trigger(name: str, *, if_exists: bool = False) -> str:
    return f"DROP TRIGGER {'IF EXISTS ' if if_exists else ''}temp.{name}"


SCORE_ROW = "SELECT score, reached, listed FROM lb_scores WHERE user_id = ? AND period_id = ?"
PERIOD_ID = "SELECT id FROM lb_periods WHERE board = ? AND period = ? AND period_key = ?"
NEW_PERIOD = (
    "INSERT OR IGNORE INTO lb_periods (board, period, period_key, starts_at, ends_at) "
    "VALUES (?, ?, ?, ?, ?)"
)

# -- the change log -------------------------------------------------------------------------

LOG_TOP = "SELECT COALESCE(MAX(seq), 0) FROM lb_log"
# A slots row (period_id SLOTS_ROW, storage/board_slots.py) also has the columns after these.
LOG_FROM = (
    "SELECT seq, period_id, user_id, old_score, old_reached, old_listed, score, reached, "
    f"listed, {', '.join(SLOT_LOG_COLUMNS)} FROM lb_log WHERE seq > ? ORDER BY seq"
)
# A reset row (no user): readers drop what they hold of the period and read it again.
LOG_RESET = "INSERT INTO lb_log (period_id) VALUES (?)"
# Never the newest row: seq numbers must keep growing (a rowid table reuses max + 1).
PRUNE_LOG = "DELETE FROM lb_log WHERE seq < (SELECT MAX(seq) FROM lb_log) - ?"
# Every listed user of a period, for building its order in memory: a scan of the score rows
# (clustered by user), read once per process and period.
LISTED_SCORES = "SELECT user_id, score, reached FROM lb_scores WHERE period_id = ? AND listed = 1"
# lb_live: the XP board's profile slots too (m020).
PERIODS_OF_USER = "SELECT DISTINCT period_id FROM lb_live WHERE user_id = ?"
CACHE_SIZE = "PRAGMA cache_size"


def cache_size_sql(size: int) -> str:
    """Set this connection's page cache (``size`` as PRAGMA cache_size takes it)."""
    return f"PRAGMA cache_size = {int(size)}"


# -- setting boards up ----------------------------------------------------------------------

READ_DEFAULTS = "SELECT value FROM lb_settings WHERE name = 'defaults'"
SAVE_DEFAULTS = "INSERT OR REPLACE INTO lb_settings (name, value) VALUES ('defaults', ?)"
STORED_BOARDS = "SELECT key, fingerprint FROM lb_boards"
MARK_BOARD = "UPDATE lb_boards SET fingerprint = ? WHERE key = ?"
SAVE_BOARD = "INSERT OR REPLACE INTO lb_boards (key, fingerprint, created_at) VALUES (?, ?, ?)"
OPEN_PERIODS_OF = "SELECT id FROM lb_periods WHERE board = ? AND closed_at IS NULL"
OPEN_PERIODS = "SELECT id FROM lb_periods WHERE closed_at IS NULL"
DELETE_PERIOD_SCORES = "DELETE FROM lb_scores WHERE period_id = ?"
BACKFILL_SCORES = (
    "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
    "VALUES (?, ?, ?, ?, 0) "
    "ON CONFLICT DO UPDATE SET score = excluded.score, reached = excluded.reached"
)
SET_LISTED = "UPDATE lb_scores SET listed = ?1 WHERE user_id = ?2 AND listed != ?1"
# Who is listed, from each profile now (the defaults bound as ?1 and ?2).
RELIST_PERIOD = (
    f"UPDATE lb_scores SET listed = {_listed('lb_scores.user_id', '?1', '?2')} WHERE period_id = ?3"
)

# -- backfill: a board added to an engine in use starts with what its users already did --------

# What each source's all-time score is, from the state the engine already keeps.
_CREDITED = "('earned', 'bonus', 'referral_reward')"
_BACKFILL = {
    "xp": ("SELECT user_id, xp, updated_at FROM profiles WHERE xp > 0", ()),
    "points": (
        "SELECT user_id, SUM(amount), MAX(created_at) FROM transactions "
        f"WHERE currency = ? AND type IN {_CREDITED} AND user_id IS NOT NULL "
        "GROUP BY user_id",
        ("currency",),
    ),
    "achievements": (
        "SELECT user_id, COUNT(*), MAX(unlocked_at) FROM achievement_unlocks GROUP BY user_id",
        (),
    ),
    "achievement_points": (
        "SELECT user_id, SUM(points), MAX(unlocked_at) FROM achievement_unlocks "
        "GROUP BY user_id HAVING SUM(points) != 0",
        (),
    ),
    "metric": (
        "SELECT user_id, {column}, last_at FROM metrics WHERE metric = ? AND {column} != 0",
        ("metric",),
    ),
}

# The same for a period, from the logs with times: [starts_at, ends_at) bound the last two
# parameters. Text comparison is time order: every stored time is to_text()'s fixed width.
_PERIOD_BACKFILL = {
    "xp": (
        "SELECT user_id, SUM(amount), MAX(created_at) FROM xp_awards "
        "WHERE created_at >= ? AND created_at < ? GROUP BY user_id HAVING SUM(amount) > 0",
        (),
    ),
    "points": (
        "SELECT user_id, SUM(amount), MAX(created_at) FROM transactions "
        f"WHERE currency = ? AND type IN {_CREDITED} AND user_id IS NOT NULL "
        "AND created_at >= ? AND created_at < ? GROUP BY user_id",
        ("currency",),
    ),
    "achievements": (
        "SELECT user_id, COUNT(*), MAX(unlocked_at) FROM achievement_unlocks "
        "WHERE unlocked_at >= ? AND unlocked_at < ? GROUP BY user_id",
        (),
    ),
    "achievement_points": (
        "SELECT user_id, SUM(points), MAX(unlocked_at) FROM achievement_unlocks "
        "WHERE unlocked_at >= ? AND unlocked_at < ? GROUP BY user_id HAVING SUM(points) != 0",
        (),
    ),
}


def backfill_query(
    source: str, aggregate: str, *, timed: bool
) -> tuple[str, tuple[str, ...]] | None:
    """The statement reading ``(user_id, score, reached_at)`` of a board of ``source`` (over
    all time, or ``timed``: between two bound times), and the names of the board settings
    it binds first; None when the logs cannot answer it."""
    found = (_PERIOD_BACKFILL if timed else _BACKFILL).get(source)
    if found is None:
        return None
    sql, params = found
    if source == "metric":
        sql = sql.format(column="count" if aggregate == "count" else "sum")
    return sql, params


# The board and kind of a period: whether one of the XP board's profile slots holds it.
PERIOD_KIND = "SELECT board, period FROM lb_periods WHERE id = ?"
PERIOD_START = "SELECT starts_at FROM lb_periods WHERE id = ?"
READ_SLOTS = "SELECT value FROM lb_settings WHERE name = 'slots'"
SAVE_SLOTS = "INSERT OR REPLACE INTO lb_settings (name, value) VALUES ('slots', ?)"
