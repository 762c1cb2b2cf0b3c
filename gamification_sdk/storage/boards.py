"""The statements of social/boards.py: live board scores, their blocks and the block triggers."""

from __future__ import annotations

__all__ = [
    "ABOVE",
    "BACKFILL_SCORES",
    "BEFORE_IN_RUN",
    "BLOCKS_ABOVE",
    "BLOCKS_FROM",
    "BLOCKS_FROM_TOP",
    "BLOCK_OF",
    "COUNT_LISTED",
    "DELETE_BLOCK",
    "DELETE_PERIOD_BLOCKS",
    "DELETE_PERIOD_SCORES",
    "FIRST_BLOCK",
    "INSERT_BLOCKS",
    "LISTED_COUNT",
    "MARK_BOARD",
    "MEMBERS",
    "NEW_PERIOD",
    "OPEN_PERIODS",
    "OPEN_PERIODS_OF",
    "PERIOD_ID",
    "PLACE",
    "PLACE_ALL_FIRST",
    "QUEUED_SPLITS",
    "READ_DEFAULTS",
    "RELIST_PERIOD",
    "RUN_MEMBERS",
    "SAVE_BOARD",
    "SAVE_DEFAULTS",
    "SCORE_ROW",
    "SET_LISTED",
    "STORED_BOARDS",
    "UNQUEUE_SPLIT",
    "backfill_query",
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


# A listed row whose score left its block moves in SQL, inside the statement that changed
# it: Python round trips per crossing would cost more than the crossing's own writes. A
# multi-valued block that grew past the limit is queued; Python splits it after the write.
_PLACE_SQL = """
    UPDATE lb_scores SET
        blk = (SELECT lo FROM lb_blocks WHERE period_id = new.period_id AND lo <= new.score
               ORDER BY lo DESC LIMIT 1),
        blk_hi = (SELECT lo FROM lb_blocks WHERE period_id = new.period_id AND lo > new.score
                  ORDER BY lo LIMIT 1),
        entered = new.reached
    WHERE user_id = new.user_id AND period_id = new.period_id;
    UPDATE lb_blocks SET n = n + 1 WHERE period_id = new.period_id
        AND lo = (SELECT blk FROM lb_scores WHERE user_id = new.user_id
                  AND period_id = new.period_id);
    INSERT OR IGNORE INTO lb_split_queue (period_id, lo)
        SELECT period_id, lo FROM lb_blocks WHERE period_id = new.period_id
        AND lo = (SELECT blk FROM lb_scores WHERE user_id = new.user_id
                  AND period_id = new.period_id)
        AND n > {limit} AND run = 0;
"""
_ENTER_SQL = (
    f"INSERT OR IGNORE INTO lb_blocks (period_id, lo, n) VALUES (new.period_id, {-(2**63)}, 0);"
    + _PLACE_SQL
)
_TRIGGERS = {
    "lb_cross": "AFTER UPDATE OF score ON main.lb_scores "
    "WHEN new.listed = 1 AND (new.score < new.blk OR new.score >= new.blk_hi) BEGIN "
    "UPDATE lb_blocks SET n = n - 1 WHERE period_id = new.period_id AND lo = new.blk;"
    + _PLACE_SQL
    + " END",
    "lb_enter": "AFTER INSERT ON main.lb_scores WHEN new.listed = 1 BEGIN " + _ENTER_SQL + " END",
    "lb_list": "AFTER UPDATE OF listed ON main.lb_scores "
    "WHEN new.listed = 1 AND old.listed = 0 BEGIN " + _ENTER_SQL + " END",
    "lb_unlist": "AFTER UPDATE OF listed ON main.lb_scores "
    "WHEN new.listed = 0 AND old.listed = 1 BEGIN "
    "UPDATE lb_blocks SET n = n - 1 WHERE period_id = new.period_id AND lo = old.blk; "
    "UPDATE lb_scores SET blk = NULL, blk_hi = NULL, entered = NULL "
    "WHERE user_id = new.user_id AND period_id = new.period_id; END",
}


def temp_triggers(limit: int) -> dict[str, str]:
    """Trigger name -> the statement that creates it on this connection (TEMP: the block
    size ``limit``, past which a block is queued for a split, is this process's)."""
    return {
        name: f"CREATE TEMP TRIGGER IF NOT EXISTS {name} " + sql.replace("{limit}", str(limit))
        for name, sql in _TRIGGERS.items()
    }


def drop_temp_trigger(name: str) -> str:
    return f"DROP TRIGGER temp.{name}"


BLOCK_OF = (
    "SELECT lo, (SELECT lo FROM lb_blocks WHERE period_id = ?1 AND lo > b.lo ORDER BY lo "
    "LIMIT 1) FROM lb_blocks b WHERE period_id = ?1 AND lo <= ?2 ORDER BY lo DESC LIMIT 1"
)
PLACE = (
    "UPDATE lb_scores SET blk = ?, blk_hi = ?, entered = reached "
    "WHERE user_id = ? AND period_id = ?"
)
ABOVE = "SELECT COALESCE(SUM(n), 0) FROM lb_blocks WHERE period_id = ? AND lo > ?"
HIGHER_IN = "SELECT COUNT(*) FROM lb_scores WHERE period_id = ? AND blk = ? AND score > ?"
BEFORE_IN_RUN = (
    "SELECT COUNT(*) FROM lb_scores WHERE period_id = ? AND blk = ? AND (entered, user_id) < (?, ?)"
)
MEMBERS = "SELECT user_id, score, reached FROM lb_scores WHERE period_id = ? AND blk = ?"
# In a run block every score is lo and every member's reached is its entered: the
# lb_members index alone answers, so skipping thousands of tied users reads no table rows.
RUN_MEMBERS = (
    "SELECT user_id, entered FROM lb_scores WHERE period_id = ? AND blk = ? "
    "ORDER BY entered, user_id LIMIT ? OFFSET ?"
)
SCORE_ROW = (
    "SELECT score, reached, listed, blk, blk_hi FROM lb_scores WHERE user_id = ? AND period_id = ?"
)
PERIOD_ID = "SELECT id FROM lb_periods WHERE board = ? AND period = ? AND period_key = ?"
NEW_PERIOD = (
    "INSERT OR IGNORE INTO lb_periods (board, period, period_key, starts_at, ends_at) "
    "VALUES (?, ?, ?, ?, ?)"
)

# -- setting boards up ----------------------------------------------------------------------

READ_DEFAULTS = "SELECT value FROM lb_settings WHERE name = 'defaults'"
SAVE_DEFAULTS = "INSERT OR REPLACE INTO lb_settings (name, value) VALUES ('defaults', ?)"
STORED_BOARDS = "SELECT key, fingerprint FROM lb_boards"
MARK_BOARD = "UPDATE lb_boards SET fingerprint = ? WHERE key = ?"
SAVE_BOARD = "INSERT OR REPLACE INTO lb_boards (key, fingerprint, created_at) VALUES (?, ?, ?)"
OPEN_PERIODS_OF = "SELECT id FROM lb_periods WHERE board = ? AND closed_at IS NULL"
OPEN_PERIODS = "SELECT id FROM lb_periods WHERE closed_at IS NULL"
DELETE_PERIOD_SCORES = "DELETE FROM lb_scores WHERE period_id = ?"
DELETE_PERIOD_BLOCKS = "DELETE FROM lb_blocks WHERE period_id = ?"
# Backfilled rows go in unlisted: the triggers would place listed rows one by one.
BACKFILL_SCORES = (
    "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
    "VALUES (?, ?, ?, ?, 0) "
    "ON CONFLICT DO UPDATE SET score = excluded.score, reached = excluded.reached"
)

# -- splitting blocks and listing users ------------------------------------------------------

QUEUED_SPLITS = "SELECT period_id, lo FROM lb_split_queue"
UNQUEUE_SPLIT = "DELETE FROM lb_split_queue WHERE period_id = ? AND lo = ?"
DELETE_BLOCK = "DELETE FROM lb_blocks WHERE period_id = ? AND lo = ?"
INSERT_BLOCKS = "INSERT INTO lb_blocks (period_id, lo, n, run) VALUES (?, ?, ?, ?)"
SET_LISTED = "UPDATE lb_scores SET listed = ?1 WHERE user_id = ?2 AND listed != ?1"
# Who is listed, from each profile now (the defaults bound as ?1 and ?2), every row unplaced.
RELIST_PERIOD = (
    f"UPDATE lb_scores SET listed = {_listed('lb_scores.user_id', '?1', '?2')}, "
    "blk = NULL, blk_hi = NULL, entered = NULL WHERE period_id = ?3"
)
COUNT_LISTED = "SELECT COUNT(*) FROM lb_scores WHERE period_id = ? AND listed = 1"
PLACE_ALL_FIRST = (
    "UPDATE lb_scores SET blk = ?, entered = reached WHERE period_id = ? AND listed = 1"
)
FIRST_BLOCK = "INSERT INTO lb_blocks (period_id, lo, n) VALUES (?, ?, ?)"

# -- reading ---------------------------------------------------------------------------------

LISTED_COUNT = "SELECT COALESCE(SUM(n), 0) FROM lb_blocks WHERE period_id = ?"
BLOCKS_ABOVE = "SELECT lo, n FROM lb_blocks WHERE period_id = ? AND lo > ? ORDER BY lo"
BLOCKS_FROM_TOP = "SELECT lo, n FROM lb_blocks WHERE period_id = ? ORDER BY lo DESC"
BLOCKS_FROM = "SELECT lo, n FROM lb_blocks WHERE period_id = ? AND lo <= ? ORDER BY lo DESC"

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
