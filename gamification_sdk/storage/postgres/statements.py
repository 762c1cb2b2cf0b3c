"""PostgreSQL's text of the storage statements that cannot be written once for both engines.

The statements of ``storage/`` are written once wherever SQLite and PostgreSQL read the same
text the same way (``ON CONFLICT (target)``, columns of the existing row named by table,
``CASE`` for the larger of two values, ``x <> 0`` for an integer used as a truth value).
What remains is here: ``OVERRIDES`` maps a statement's SQLite text (the imported constant,
so the key is the very string the caller passes) to its PostgreSQL text, and the backend's
connection looks each statement up before rewriting its placeholders (one dict lookup).

Why each kind of statement is here:

- SQLite's functions: ``json_array`` (``json_build_array(...)::text``), ``instr``
  (``strpos``), ``julianday`` (a cast to ``date`` or ``timestamptz``), ``date``/``strftime``
  (``date_trunc``), the two-argument ``MAX`` (``GREATEST``; every column compared is NOT
  NULL, where the two would differ), ``IS ?`` (``IS NOT DISTINCT FROM``, which SQLite reads
  only from 3.39);
- statements in modules other work owns this release (boards, XP, the ledger, lots):
  ``INSERT OR IGNORE``/``OR REPLACE`` and target-less upserts, spelled with their target;
- the ``lb_live`` view, which the PostgreSQL schema does not have: the statements read its
  definition inline, the privacy defaults read from ``lb_settings`` as JSON;
- rows that carry ``user_id`` on PostgreSQL only (``lot_uses``, ``lot_holds``): the owner is
  the lot's;
- every change of ``lb_scores``, which appends its own ``lb_log`` rows there (board_log.py),
  where SQLite's TEMP triggers append them.

Statements built from templates are registered for every shape their callers build, up to
the bounds below; a statement of a family whose size has no bound (an award into more open
periods, a run over more metrics) is derived the first time it is asked for beyond them,
then kept (``Overrides``). PostgreSQL texts are derived from the SQLite ones by replacing exact
fragments, so a statement that changes under them is noticed: a fragment that is not found
is listed in ``STALE`` (tests/test_postgres_statements.py requires it empty) and the
statement left as SQLite wrote it, which then fails on the server rather than mean
something else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import permutations, product

from .. import (
    audit,
    board_slots,
    boards,
    idempotency,
    leaderboards,
    ledger,
    lots,
    metrics,
    notifications,
    privacy,
    shop,
    streaks,
    xp,
)
from .accounts import overrides as user_accounts
from .board_log import GATE, logged

__all__ = [
    "OVERRIDES",
    "PERIODS_PER_AWARD",
    "RUN_METRICS",
    "STALE",
    "Family",
    "Overrides",
    "lb_live",
]

PERIODS_PER_AWARD = 64
"""The open board periods one award's board upsert is registered for at import
(``upsert_sql``); more are derived on first use."""
RUN_METRICS = 64
"""The metrics a longest-run criterion is registered for at import
(``metrics.longest_run_sql``); more are derived on first use."""

STALE: list[str] = []
"""Fragments an override expected in its SQLite statement and did not find."""


def _swap(sql: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        if old not in sql:
            STALE.append(f"{old!r} is not in {sql!r}")
            continue
        sql = sql.replace(old, new)
    return sql


def _unwrap(sql: str, function: str, cast: str) -> str:
    """``sql`` with every ``function(x)`` (x balanced in parentheses) as ``CAST(x AS cast)``."""
    head = f"{function}("
    out: list[str] = []
    i = 0
    while (start := sql.find(head, i)) != -1:
        depth, j = 1, start + len(head)
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[j], 0)
            j += 1
        out.append(f"{sql[i:start]}CAST({sql[start + len(head) : j - 1]} AS {cast})")
        i = j
    return "".join(out) + sql[i:]


def _listed_value(user: str, visibility: str, on_global: str) -> tuple[str, str]:
    """boards.py's listing of ``user`` as a value (0 or 1): SQLite's text, PostgreSQL's."""
    return (
        f"COALESCE((SELECT COALESCE(visibility, {visibility}) = 'public' AND "
        f"COALESCE(show_on_global, {on_global}) FROM profiles WHERE user_id = {user}), 0)",
        f"COALESCE((SELECT (COALESCE(visibility, {visibility}) = 'public' AND "
        f"COALESCE(show_on_global, {on_global}) <> 0)::int FROM profiles "
        f"WHERE user_id = {user}), 0)",
    )


def _listed_row(row: str, visibility: str, on_global: str, *, value: bool) -> tuple[str, str]:
    """board_slots.listed_sql: as a truth value, or (``value``) as 0 or 1 on PostgreSQL."""
    old = board_slots.listed_sql(row, visibility, on_global)
    new = (
        f"(COALESCE({row}.visibility, {visibility}) = 'public' "
        f"AND COALESCE({row}.show_on_global, {on_global}) <> 0)"
    )
    return old, f"{new}::int" if value else new


_SCORE_UPSERT = (
    "ON CONFLICT DO UPDATE SET score = score + excluded.score, "
    "reached = MAX(reached, excluded.reached)",
    "ON CONFLICT (user_id, period_id) DO UPDATE SET score = lb_scores.score + excluded.score, "
    "reached = GREATEST(lb_scores.reached, excluded.reached)",
)


def lb_live() -> str:
    """The SQLite schema's ``lb_live`` view (m020) as a subquery named ``lb_live``: every
    live board score, in ``lb_scores`` or in the XP board's profile slots."""
    defaults = "(SELECT value::json ->> {} FROM lb_settings WHERE name = 'defaults')"
    listed = (
        f"(COALESCE(visibility, {defaults.format(0)}) = 'public' AND COALESCE(show_on_global, "
        f"({defaults.format(1)})::bigint) <> 0)::int"
    )
    slots = " UNION ALL ".join(
        f"SELECT user_id, lb_p{i}, {'xp' if i == 0 else f'lb_s{i}'}, lb_r{i}, {listed} "
        f"FROM profiles WHERE lb_p{i} IS NOT NULL"
        for i in range(board_slots.SLOTS + 1)
    )
    return (
        "(SELECT user_id, period_id, score, reached, listed FROM lb_scores "
        f"UNION ALL {slots}) AS lb_live"
    )


_LIVE = ("FROM lb_live ", f"FROM {lb_live()} ")
_JULIANDAY_DAY = "CAST(day AS date)"


def _pair(sql: str, *pairs: tuple[str, str]) -> tuple[str, str]:
    return sql, _swap(sql, *pairs)


def _insert_or(sql: str, verb: str, conflict: str) -> tuple[str, str]:
    """``INSERT OR IGNORE/REPLACE`` as an upsert on the key that is its only conflict."""
    return sql, _swap(sql, (f"INSERT OR {verb} INTO", "INSERT INTO")) + f" {conflict}"


def _ignore(sql: str, target: str) -> tuple[str, str]:
    return _insert_or(sql, "IGNORE", f"ON CONFLICT ({target}) DO NOTHING")


_UPSERT_FIXES = (_listed_value("?1", "?4", "?5"), _SCORE_UPSERT)


def _logged_upsert(text: str, periods: int) -> str:
    """The award's upsert, its other fixes made, writing its log rows (board_log.py): the
    period ids numbered (?6 on), as the statement names them twice."""
    ids = ", ".join(f"?{6 + i}" for i in range(periods))
    where = "AND closed_at IS NULL "
    text = _swap(
        text,
        (
            f"WHERE id IN ({', '.join(['?'] * periods)}) {where}",
            f"WHERE id IN ({ids}) {where}AND {GATE} ",
        ),
    )
    return logged(text, f"user_id = ?1 AND period_id IN ({ids})")


def _upsert(periods: int) -> tuple[str, str]:
    sql = boards.upsert_sql(periods)
    return sql, _logged_upsert(_swap(sql, *_UPSERT_FIXES), periods)


def _logged(sql: str, rows: str, *pairs: tuple[str, str]) -> tuple[str, str]:
    """A change of lb_scores writing its log rows (board_log.py): ``rows`` is the rows it
    may change; ``pairs`` its fixes, one of which adds ``GATE`` (``_gated``)."""
    return sql, logged(_swap(sql, *pairs), rows)


def _gated(where: str) -> tuple[str, str]:
    """``GATE`` after the condition ``where``."""
    return where, f"{where} AND {GATE}"


_RUN_FIX = (
    "julianday(day) - ROW_NUMBER() OVER (ORDER BY day)",
    f"{_JULIANDAY_DAY} - CAST(ROW_NUMBER() OVER (ORDER BY day) AS integer)",
)


def _boards() -> Iterable[tuple[str, str]]:
    yield _ignore(boards.NEW_PERIOD, "board, period, period_key")
    setting = "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    yield _insert_or(boards.SAVE_DEFAULTS, "REPLACE", setting)
    yield _insert_or(boards.SAVE_SLOTS, "REPLACE", setting)
    yield _insert_or(
        boards.SAVE_BOARD,
        "REPLACE",
        "ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, "
        "created_at = excluded.created_at",
    )
    # Every change of lb_scores writes its own log rows on PostgreSQL (board_log.py).
    target = ("ON CONFLICT DO UPDATE", "ON CONFLICT (user_id, period_id) DO UPDATE")
    # Named twice, the values are numbered; a VALUES list takes no WHERE for the gate.
    numbered = ("VALUES (?, ?, ?, ?, 0) ", f"SELECT ?1, ?2, ?3, ?4, 0 WHERE {GATE} ")
    yield _logged(boards.BACKFILL_SCORES, "user_id = ?1 AND period_id = ?2", numbered, target)
    yield _logged(
        boards.RELIST_PERIOD,
        "period_id = ?3",
        _listed_value("lb_scores.user_id", "?1", "?2"),
        _gated("WHERE period_id = ?3"),
    )
    yield _logged(boards.SET_LISTED, "user_id = ?2 AND listed <> ?1", _gated("AND listed != ?1"))
    yield _pair(boards.PERIODS_OF_USER, _LIVE)
    for periods in range(1, PERIODS_PER_AWARD + 1):
        yield _upsert(periods)


def _slots() -> Iterable[tuple[str, str]]:
    """The XP board's profile slots (board_slots.py), every shape its callers build."""
    count = board_slots.SLOTS + 1
    greatest = [
        ("MAX(COALESCE(lb_r0, ?3), ?3)", "GREATEST(lb_r0, ?3)"),
        *((f"MAX(lb_r{slot}, ?3)", f"GREATEST(lb_r{slot}, ?3)") for slot in range(1, count)),
    ]

    def fix(sql: str) -> tuple[str, str]:
        # Each fragment only where the statement has it: which slots it writes varies.
        text = _unwrap(sql, "julianday", "timestamptz")
        return sql, _swap(text, *(pair for pair in greatest if pair[0] in text))

    for present in product((False, True), repeat=count):
        for profile in (False, True) if any(present) else (True,):
            yield fix(board_slots.slot_sql(list(enumerate(present)), profile))
    for modes in product((0, 1, 2), repeat=count):
        for profile in (False, True) if any(modes) else (True,):
            yield fix(board_slots.write_sql(modes, profile=profile))
    # A NULL score binds no type PostgreSQL could infer.
    typed = ("AND ?2 IS NOT NULL", "AND CAST(?2 AS numeric) IS NOT NULL")
    yield _pair(board_slots.fill_slot_sql(0), typed)
    for slot in range(count):
        yield _pair(board_slots.slot_row_sql(slot), _listed_row("p", "?3", "?4", value=True))
        yield _pair(board_slots.slot_listed_sql(slot), _listed_row("p", "?2", "?3", value=False))
        yield fix(board_slots.move_in_sql(slot))
        listed = _listed_row("p", "?1", "?2", value=True)
        yield _logged(
            board_slots.move_out_sql(slot),
            "EXISTS (SELECT 1 FROM profiles AS p WHERE p.user_id = lb_scores.user_id "
            f"AND p.lb_p{slot} = lb_scores.period_id)",
            listed,
            _SCORE_UPSERT,
            _gated(f"WHERE p.lb_r{slot} IS NOT NULL"),
        )


def _metrics() -> Iterable[tuple[str, str]]:
    # Days are ISO dates: a window of n days is a range of n - 1 on their day numbers.
    rolling = (
        "ORDER BY julianday(day) RANGE BETWEEN ? PRECEDING",
        f"ORDER BY {_JULIANDAY_DAY} - DATE '2000-01-01' RANGE BETWEEN CAST(? AS integer) PRECEDING",
    )
    week = (metrics.PERIODS["week"], f"date_trunc('week', {_JULIANDAY_DAY})")  # from Monday
    for stat in metrics.STATS:
        yield _pair(metrics.rolling_sql(stat), rolling)
        yield _pair(metrics.period_sql(stat, "week"), week)
    for count in range(1, RUN_METRICS + 1):
        yield _pair(metrics.longest_run_sql(count), _RUN_FIX)


def _keys() -> Iterable[tuple[str, str]]:
    """Where keyed calls keep their keys, and the lookups built from them."""
    as_text = ("json_array(user_id, id)", "json_build_array(user_id, id)::text")
    homes = dict(_pair(home, as_text) for home in (xp.KEY_HOME, ledger.KEY_HOME))
    yield from homes.items()
    for size in range(len(homes) + 1):
        for chosen in permutations(homes, size):
            pg = tuple(homes[home] for home in chosen)
            yield idempotency.lookup(chosen), idempotency.lookup(pg)
            per_user = idempotency.lookup(chosen, per_user=True)
            yield per_user, idempotency.lookup(pg, per_user=True)


def _owned_by_lot(sql: str, table: str, key: str) -> tuple[str, str]:
    """An insert of a lot's use or hold, with its owner: the lot's (PostgreSQL only)."""
    return _pair(
        sql,
        (
            f"INSERT INTO {table} ({key}, lot_id, amount) VALUES (?, ?, ?)",
            f"INSERT INTO {table} (user_id, {key}, lot_id, amount) "
            "SELECT user_id, ?1, ?2, ?3 FROM point_lots WHERE id = ?2",
        ),
    )


def _rest() -> Iterable[tuple[str, str]]:
    boosts = ("MAX(COALESCE(boosts_until, ''), ?)", "GREATEST(COALESCE(boosts_until, ''), ?)")
    yield _pair(xp.EXTEND_BOOSTS, boosts)
    yield _ignore(xp.GRANT_LEVEL, "user_id, prestige, level")
    yield _ignore(xp.GRANT_TITLE, "user_id, title")
    yield _ignore(lots.WATCH_CURRENCY, "currency")
    yield _owned_by_lot(lots.ADD_USE, "lot_uses", "transaction_id")
    yield _owned_by_lot(lots.ADD_HOLD, "lot_holds", "reservation_id")
    base_holds = (
        "INSERT INTO lot_holds (reservation_id, lot_id, amount) SELECT r.id, l.id, r.amount ",
        "INSERT INTO lot_holds (user_id, reservation_id, lot_id, amount) "
        "SELECT l.user_id, r.id, l.id, r.amount ",
    )
    yield _pair(lots.BASE_HOLDS, base_holds)
    yield _pair(leaderboards.PERIOD_SCORES, _LIVE)
    # PostgreSQL's cursor reports no rowid: the new notification's number is returned.
    yield _pair(notifications.ADD, ("enabled = 0)", "enabled = 0) RETURNING id"))
    for users in range(1, leaderboards.SCORES_CHUNK + 1):
        yield _pair(leaderboards.scores_sql(False, users), _LIVE)
    for statement in (
        privacy.KEYS_ABOUT, privacy.FORGET_KEYS, privacy.FORGET_CALL_KEYS, privacy.ANONYMISE[5],
    ):  # fmt: skip
        yield _pair(statement, ("instr(", "strpos("))
    # A NULL zone is the default zone's users. ``IS NOT DISTINCT FROM`` would say so, but no
    # index serves it: as an equality or IS NULL, the partial index on (timezone,
    # streak_settled_day) finds the zone's live streaks (tests/test_postgres_statement_parity.py).
    zone = "(timezone = ?1 OR (CAST(?1 AS text) IS NULL AND timezone IS NULL))"
    due = "AND streak_settled_day < ? AND user_id > ? ORDER BY user_id LIMIT ?"
    yield _pair(
        streaks.DUE_USERS,
        (f"timezone IS ? {due}", f"{zone} {due.replace('?', '?{}').format(2, 3, 4)}"),
    )
    risk = (
        "AND streak_settled_day = ? AND (streak_warned_day IS NULL OR streak_warned_day < ?) "
        "AND NOT EXISTS (SELECT 1 FROM rest_days r WHERE r.user_id = profiles.user_id "
        "AND r.day = ?)"
    )
    yield _pair(
        streaks.AT_RISK,
        (f"timezone IS ? {risk}", f"{zone} {risk.replace('?', '?{}').format(2, 3, 4)}"),
    )
    # PostgreSQL reads the other columns of a group only when it is grouped by the whole
    # primary key, which is (user_id, id) there; id alone is unique all the same.
    for _, check in audit.CHECKS:
        for table in ("a", "t"):
            if f"GROUP BY {table}.id" in check:
                yield _pair(
                    check, (f"GROUP BY {table}.id", f"GROUP BY {table}.user_id, {table}.id")
                )
    yield _pair(audit.DROP_PER_TRANSACTION, ("temp.per_transaction", "pg_temp.per_transaction"))
    # Closing a board period, two servers' jobs at once: the second waits on the row and,
    # once the first has closed it, fails with a serialization failure the job retries (it
    # then finds the period closed), where its archive rows would break a unique key.
    yield _pair(leaderboards.PERIOD_ROW, ("WHERE id = ?", "WHERE id = ? FOR UPDATE"))
    # A purchase reads the units left locked (two buyers of the last unit: the second waits,
    # then reads none left, OutOfStock), and a write changing an order its row (a refund or a
    # close racing another: the second reads what the first made of it).
    yield _pair(shop.TAKING_STOCK, ("WHERE item = ?", "WHERE item = ? FOR UPDATE"))
    yield _pair(shop.ORDER_TO_CHANGE, ("AND user_id = ?", "AND user_id = ? FOR UPDATE"))


class Family:
    """Statements one builder makes for any count: ``build(n)`` is the same text around a run
    of ``n`` placeholders (``?, ?, ?``); ``fixes`` are the fragment swaps that make it
    PostgreSQL's, and ``finish(text, n)``, if given, what follows them."""

    def __init__(
        self,
        build: Callable[[int], str],
        *fixes: tuple[str, str],
        finish: Callable[[str, int], str] | None = None,
    ) -> None:
        self.build = build
        self.fixes = fixes
        self.finish = finish
        one, two = build(1), build(2)
        # Where the run is: the one "?" of build(1) that build(2) repeats.
        at = next(
            i for i, c in enumerate(one) if c == "?" and one[:i] + "?, ?" + one[i + 1 :] == two
        )
        self.head, self.tail = one[:at], one[at + 1 :]

    def count(self, sql: str) -> int | None:
        """``n`` if ``sql`` is ``build(n)``, else None."""
        head, tail = self.head, self.tail
        if not (sql.startswith(head) and sql.endswith(tail)) or len(sql) < len(head) + len(tail):
            return None
        run = sql[len(head) : len(sql) - len(tail)]
        n = run.count("?")
        return n if n and run == ", ".join(["?"] * n) else None

    def derive(self, sql: str) -> str | None:
        """``sql``'s PostgreSQL text if it is one of this family's statements."""
        n = self.count(sql)
        if n is None or self.build(n) != sql:
            return None
        text = _swap(sql, *self.fixes)
        return text if self.finish is None else self.finish(text, n)


FAMILIES = (
    Family(boards.upsert_sql, *_UPSERT_FIXES, finish=_logged_upsert),
    Family(metrics.longest_run_sql, _RUN_FIX),
)
"""The builders whose statements have no largest size: derived beyond the registered bounds."""


_PLAIN_KEPT = 10_000
"""How many statements known to need no override ``Overrides`` remembers at most."""


class Overrides(dict[str, str]):
    """The SQLite text of a statement -> its PostgreSQL text, and, the first time a statement
    is asked for that is not listed, its text derived from its ``Family`` (kept from then
    on). ``get`` is what the backend's connection calls; a statement that needs no override
    is remembered too, so it is asked about once."""

    def __init__(self, pairs: Iterable[tuple[str, str]], families: tuple[Family, ...]) -> None:
        super().__init__(pairs)
        self._families = families
        self._plain: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        found = dict.get(self, key)
        if found is not None:
            return found
        if key in self._plain:
            return default
        for family in self._families:
            derived = family.derive(key)
            if derived is not None and derived != key:
                self[key] = derived
                return derived
        if len(self._plain) >= _PLAIN_KEPT:  # ad-hoc text (g.db.execute) must not pile up
            self._plain.clear()
        self._plain.add(key)
        return default


OVERRIDES: dict[str, str] = Overrides(
    (
        pair
        for family in (_boards(), _slots(), _metrics(), _keys(), _rest())
        for pair in family
        if pair[0] != pair[1]
    ),
    FAMILIES,
)
"""The SQLite text of a statement -> its PostgreSQL text (an ``Overrides``)."""

user_accounts(OVERRIDES, _swap)
