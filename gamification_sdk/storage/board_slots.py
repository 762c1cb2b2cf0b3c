"""The statements of social/board_slots.py: the XP board's current scores in the profile row.

Slot 0 is the all-time period: its score is ``profiles.xp`` itself, so only the period id
(``lb_p0``) and the moment it was reached (``lb_r0``) are kept. Slots 1 to ``SLOTS`` hold one
periodic period each (daily, weekly, ...): ``lb_p<i>`` its id, ``lb_s<i>`` the score,
``lb_r<i>`` the moment reached. A (user, period) is either in a slot or in ``lb_scores``,
never both: a slot only moves on to a newer period, and the old one's score moves to
``lb_scores`` as it does (the spill trigger), while an award dated in an older period than
the slot holds goes to ``lb_scores`` directly (see ``slot_sql``'s RETURNING).
"""

from __future__ import annotations

from .schema.slot_log import SLOT_LOG_TYPES

__all__ = [
    "SLOTS",
    "SLOTS_ROW",
    "SLOT_LOG_COLUMNS",
    "clear_slot_sql",
    "fill_slot_sql",
    "held_sql",
    "listed_sql",
    "move_in_sql",
    "move_out_sql",
    "moved_in_sql",
    "slot_listed_sql",
    "slot_row_sql",
    "slot_sql",
    "slot_triggers",
    "write_sql",
]

# Periodic periods a board may have and still keep its scores in the profile row.
SLOTS = 3

# lb_log's columns of a slots row, after its own eight, as m024 added them: the old user id,
# slot 0's old and new period, then per periodic slot its old period, score and moment, and
# its new ones.
SLOT_LOG_COLUMNS: tuple[str, ...] = tuple(name for name, _ in SLOT_LOG_TYPES)
# The period_id of a slots row: period ids start at 1.
SLOTS_ROW = 0


def _score(slot: int, row: str) -> str:
    return f"{row}.xp" if slot == 0 else f"{row}.lb_s{slot}"


def listed_sql(row: str, visibility: str, on_global: str) -> str:
    """Whether global boards list the profile ``row`` (the defaults as SQL expressions)."""
    return (
        f"(COALESCE({row}.visibility, {visibility}) = 'public' "
        f"AND COALESCE({row}.show_on_global, {on_global}))"
    )


def _literal_listed(row: str, defaults: tuple[str, int]) -> str:
    visibility, on_global = defaults
    if visibility not in ("public", "friends_only", "private"):  # never quoted text from outside
        raise ValueError(visibility)
    return listed_sql(row, f"'{visibility}'", str(int(on_global)))


def slot_sql(slots: list[tuple[int, bool]], profile: bool = False) -> str:
    """The award's update of its slots: ``slots`` is (slot, present) for 0..SLOTS, present
    when the award falls in a period of that slot. Binds ?1 user, ?2 delta, ?3 reached;
    slot i's period id as ?(4+2i) and its start as ?(5+2i). Returns the periodic slots'
    period ids after the update: one that is not the award's means the award was dated in
    an older period, which lb_scores keeps. With ``profile``, award_xp's own update: xp,
    level and updated_at bound after the slots' (?12 to ?14)."""
    sets: list[str] = []
    if profile:
        n = 4 + 2 * (SLOTS + 1)
        sets.append(f"xp = ?{n}, level = ?{n + 1}, updated_at = ?{n + 2}")
    for slot, present in slots:
        if not present:
            continue
        pid, start = f"?{4 + 2 * slot}", f"?{5 + 2 * slot}"
        if slot == 0:
            sets.append(f"lb_p0 = {pid}, lb_r0 = MAX(COALESCE(lb_r0, ?3), ?3)")
            continue
        p, s, r = f"lb_p{slot}", f"lb_s{slot}", f"lb_r{slot}"
        # The slot moves on only to a newer period (SET's right-hand sides see the old row);
        # julianday, as stored starts carry their zone's offset, which DST changes.
        newer = (
            f"({p} IS NULL OR julianday({start}) > "
            f"julianday((SELECT starts_at FROM lb_periods WHERE id = {p})))"
        )
        sets.append(
            f"{s} = CASE WHEN {p} = {pid} THEN {s} + ?2 WHEN {newer} THEN ?2 ELSE {s} END, "
            f"{r} = CASE WHEN {p} = {pid} THEN MAX({r}, ?3) WHEN {newer} THEN ?3 ELSE {r} END, "
            f"{p} = CASE WHEN {p} = {pid} OR {newer} THEN {pid} ELSE {p} END"
        )
    returning = ", ".join(f"lb_p{slot}" for slot in range(1, SLOTS + 1))
    return f"UPDATE profiles SET {', '.join(sets)} WHERE user_id = ?1 RETURNING {returning}"


def held_sql(users: int) -> str:
    """The periods the slots of ``users`` profiles hold: ``(user_id, lb_p1, ...)``."""
    columns = ", ".join(f"lb_p{slot}" for slot in range(1, SLOTS + 1))
    marks = ", ".join("?" * users)
    return f"SELECT user_id, {columns} FROM profiles WHERE user_id IN ({marks})"


def write_sql(modes: tuple[int, ...], *, profile: bool = True) -> str:
    """award_xp's update when the award's profile row said which periods the slots hold:
    ``modes`` per slot, 0 untouched, 1 the award's period is the slot's (add), 2 a newer
    one (the slot moves on to it; the spill trigger keeps the old score). No CASE, and a
    slot's period is set only when it changes (so the spill trigger fires only then).
    Binds as ``slot_sql`` does; without ``profile`` (a batch, whose profiles are written
    already), only the slots."""
    n = 4 + 2 * (SLOTS + 1)
    sets = [f"xp = ?{n}, level = ?{n + 1}, updated_at = ?{n + 2}"] if profile else []
    for slot, mode in enumerate(modes):
        if not mode:
            continue
        if slot == 0:
            sets.append("lb_p0 = ?4, lb_r0 = MAX(COALESCE(lb_r0, ?3), ?3)")
        elif mode == 1:
            sets.append(f"lb_s{slot} = lb_s{slot} + ?2, lb_r{slot} = MAX(lb_r{slot}, ?3)")
        else:
            sets.append(f"lb_p{slot} = ?{4 + 2 * slot}, lb_s{slot} = ?2, lb_r{slot} = ?3")
    return f"UPDATE profiles SET {', '.join(sets)} WHERE user_id = ?1"


def slot_triggers(defaults: tuple[str, int]) -> dict[str, str]:
    """Trigger name -> statement, per connection (TEMP), with the privacy defaults written
    in: every change of a slot of a listed profile appends its old and new values to
    lb_log, as lb_scores' triggers do; a slot moving on to a newer period leaves the old
    period's score in lb_scores (a still open period keeps its standing until it closes)."""
    old, new = _literal_listed("old", defaults), _literal_listed("new", defaults)
    found: dict[str, str] = {}
    # One row of the profile's slots before and after (period_id 0 marks it), which readers
    # expand into each period's exit and entry (social/board_slots.py's slot_changes): the
    # arms that made those rows here cost a row each, three quarters of the trigger.
    values = ["0", "new.user_id", "old.xp", "old.lb_r0", old, "new.xp", "new.lb_r0", new]
    values += ["old.user_id", "old.lb_p0", "new.lb_p0"]
    for slot in range(1, SLOTS + 1):
        values += [f"{row}.lb_{part}{slot}" for row in ("old", "new") for part in "psr"]
    log = (
        f"INSERT INTO lb_log (period_id, user_id, old_score, old_reached, old_listed, score, "
        f"reached, listed, {', '.join(SLOT_LOG_COLUMNS)}) VALUES ({', '.join(values)})"
    )
    # One trigger, so a profile update of an unlisted user (the default) pays one WHEN; and
    # only for the columns its body reads, so the many profile updates that touch none of
    # them (streaks, time zones, titles) do not run it: for those old and new agree on every
    # column read, and the body would append nothing (the streak sweep paid 16% for it).
    read = ["user_id", "xp", "visibility", "show_on_global", "lb_p0", "lb_r0"]
    for slot in range(1, SLOTS + 1):
        read += [f"lb_p{slot}", f"lb_s{slot}", f"lb_r{slot}"]
    found["lb_slots_log"] = (
        f"AFTER UPDATE OF {', '.join(read)} ON main.profiles WHEN {old} OR {new} BEGIN {log}; END"
    )
    # One trigger for the three slots, fired only by the statements that set a slot's period.
    spills, moved = [], []
    for slot in range(1, SLOTS + 1):
        p, r = f"lb_p{slot}", f"lb_r{slot}"
        moved.append(f"(old.{p} IS NOT NULL AND old.{p} != new.{p})")
        spills.append(
            "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
            f"SELECT old.user_id, id, old.lb_s{slot}, old.{r}, {old} FROM lb_periods "
            f"WHERE id = old.{p} AND old.{p} != new.{p} AND closed_at IS NULL "
            "ON CONFLICT DO UPDATE SET score = score + excluded.score, "
            "reached = MAX(reached, excluded.reached)"
        )
    columns = ", ".join(f"lb_p{slot}" for slot in range(1, SLOTS + 1))
    found["lb_slots_spill"] = (
        f"AFTER UPDATE OF {columns} ON main.profiles WHEN {' OR '.join(moved)} BEGIN "
        + "; ".join(spills)
        + "; END"
    )
    return {name: f"CREATE TEMP TRIGGER IF NOT EXISTS {name} " + sql for name, sql in found.items()}


def slot_row_sql(slot: int) -> str:
    """``(score, reached, listed)`` of ?1's slot when it holds period ?2 (defaults ?3, ?4)."""
    return (
        f"SELECT {_score(slot, 'p')}, p.lb_r{slot}, {listed_sql('p', '?3', '?4')} "
        f"FROM profiles AS p WHERE p.user_id = ?1 AND p.lb_p{slot} = ?2"
    )


def slot_listed_sql(slot: int) -> str:
    """Every listed ``(user_id, score, reached)`` of period ?1 held in ``slot`` (defaults
    ?2, ?3): a scan of the profiles, as building an order scans lb_scores."""
    return (
        f"SELECT p.user_id, {_score(slot, 'p')}, p.lb_r{slot} FROM profiles AS p "
        f"WHERE p.lb_p{slot} = ?1 AND {listed_sql('p', '?2', '?3')}"
    )


def clear_slot_sql(slot: int) -> str:
    """Empty ``slot`` in every profile (a backfill or a change of board writes it again)."""
    if slot == 0:
        return "UPDATE profiles SET lb_p0 = NULL, lb_r0 = NULL WHERE lb_p0 IS NOT NULL"
    return (
        f"UPDATE profiles SET lb_p{slot} = NULL, lb_s{slot} = NULL, lb_r{slot} = NULL "
        f"WHERE lb_p{slot} IS NOT NULL"
    )


def fill_slot_sql(slot: int) -> str:
    """Set one profile's ``slot``: binds period id, score, reached, user (a backfill)."""
    if slot == 0:  # the score is profiles.xp
        return "UPDATE profiles SET lb_p0 = ?1, lb_r0 = ?3 WHERE user_id = ?4 AND ?2 IS NOT NULL"
    return (
        f"UPDATE profiles SET lb_p{slot} = ?1, lb_s{slot} = ?2, lb_r{slot} = ?3 WHERE user_id = ?4"
    )


def move_in_sql(slot: int) -> str:
    """Move into ``slot`` each user's row of the newest open period of board ?1's kind ?2
    that the user has a row in (the upgrade to slots keeps every score and moment as it
    stood): the slot then holds the user's newest period, as awards keep it."""
    score = "" if slot == 0 else f", lb_s{slot} = s.score"
    return (
        f"UPDATE profiles SET lb_p{slot} = s.period_id{score}, lb_r{slot} = s.reached FROM ("
        "SELECT r.user_id, r.period_id, r.score, r.reached, ROW_NUMBER() OVER ("
        "PARTITION BY r.user_id ORDER BY julianday(l.starts_at) DESC, l.id DESC) AS n "
        "FROM lb_scores AS r JOIN lb_periods AS l ON l.id = r.period_id "
        "WHERE l.board = ?1 AND l.period = ?2 AND l.closed_at IS NULL) AS s "
        "WHERE s.n = 1 AND s.user_id = profiles.user_id"
    )


def moved_in_sql(slot: int) -> str:
    """Delete the lb_scores rows ``move_in_sql`` copied into ``slot``."""
    return (
        "DELETE FROM lb_scores WHERE EXISTS (SELECT 1 FROM profiles AS p "
        f"WHERE p.user_id = lb_scores.user_id AND p.lb_p{slot} = lb_scores.period_id)"
    )


def move_out_sql(slot: int) -> str:
    """Copy ``slot``'s scores of open periods to lb_scores (no board keeps them in the
    profile any more), listed as the profile says (the defaults bound as ?1, ?2)."""
    return (
        "INSERT INTO lb_scores (user_id, period_id, score, reached, listed) "
        f"SELECT p.user_id, p.lb_p{slot}, {_score(slot, 'p')}, p.lb_r{slot}, "
        f"{listed_sql('p', '?1', '?2')} FROM profiles AS p "
        f"JOIN lb_periods AS l ON l.id = p.lb_p{slot} AND l.closed_at IS NULL "
        f"WHERE p.lb_r{slot} IS NOT NULL "
        "ON CONFLICT DO UPDATE SET score = score + excluded.score, "
        "reached = MAX(reached, excluded.reached)"
    )
