"""The simulation's findings: typed, rendered as a Markdown summary and as JSON.

Times are simulated days counted from 1 (the first day). Percentiles of time to a level are
taken over *all* users: p50 is the day by which half the cohort had reached the level, None
when fewer than half ever did. That makes them comparable across levels (never decreasing)
and honest about users who never get there.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date
from statistics import median_low
from typing import Any

import attrs

from .profiles import PROFILES

__all__ = [
    "STREAK_THRESHOLDS",
    "AchievementRate",
    "AchievementSummary",
    "CurrencyFlow",
    "DailyFlow",
    "LevelCount",
    "LevelTiming",
    "Observations",
    "SegmentSummary",
    "SimulationReport",
    "StreakCurve",
    "build_report",
]

STREAK_THRESHOLDS = (3, 7, 14, 30)
PERCENTILES = (0.10, 0.50, 0.90)
_PROFILE_ORDER = list(PROFILES)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@attrs.frozen
class LevelTiming:
    """Level ``level``: how many users reached it, the day by which 10/50/90% of all did, and
    how many had reached it by the end of each day."""

    level: int
    users: int
    share: float
    p10: int | None
    p50: int | None
    p90: int | None
    reached_by_day: tuple[int, ...]


@attrs.frozen
class LevelCount:
    level: int
    users: int
    share: float


@attrs.frozen
class AchievementRate:
    """One achievement: users who unlocked it (any tier), and the median day of their unlock."""

    key: str
    name: str
    users: int
    share: float
    median_day: int | None


@attrs.frozen
class AchievementSummary:
    """Seed 004's success metrics: the share with at least one, the average count (distinct
    achievements per user), and the median day of the first unlock among those who had one."""

    share_with_any: float
    average: float
    median_days_to_first: int | None
    per_achievement: tuple[AchievementRate, ...]


@attrs.frozen
class DailyFlow:
    """One day of one currency: issued to users, spent by them, the users' total after, and
    what expired (expiring currencies)."""

    day: int
    issued: int
    spent: int
    supply: int
    expired: int = 0


@attrs.frozen
class CurrencyFlow:
    """Issued vs spent over the run. ``sink_ratio`` is spent / issued; ``net_per_day`` the
    average daily supply growth; ``last_week_growth`` the supply's compound growth per day
    over the last 7 days (0.05 = 5% a day), None when the supply was 0 a week before the end.
    ``expired``: what expired unspent (expiring currencies); ``breakage_rate`` is expired /
    issued (None when nothing was issued).
    """

    currency: str
    issued: int
    spent: int
    supply: int
    sink_ratio: float | None
    net_per_day: float
    last_week_growth: float | None
    days: tuple[DailyFlow, ...]
    expired: int = 0
    breakage_rate: float | None = None


@attrs.frozen
class StreakCurve:
    """The share of all users on a streak of at least ``threshold`` days, at each day's end."""

    threshold: int
    shares: tuple[float, ...]


@attrs.frozen
class SegmentSummary:
    """Averages per user of one activity profile at the end of the run."""

    profile: str
    users: int
    retained: int
    average_level: float
    average_xp: float
    average_achievements: float
    earned: dict[str, float]
    spent: dict[str, float]


@attrs.frozen
class SimulationReport:
    users: int
    days: int
    profile: str
    seed: int
    start: date
    timezone: str
    catalogue: str
    ledger_ok: bool
    daily_active: tuple[int, ...]
    segments: tuple[SegmentSummary, ...]
    levels: tuple[LevelTiming, ...]
    level_distribution: tuple[LevelCount, ...]
    achievements: AchievementSummary
    currencies: tuple[CurrencyFlow, ...]
    streaks: tuple[StreakCurve, ...]

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self, recurse=True)
        data["start"] = self.start.isoformat()
        result: dict[str, Any] = _lists(data)
        return result

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def level_timing(self, level: int) -> LevelTiming | None:
        for timing in self.levels:
            if timing.level == level:
                return timing
        return None

    def to_markdown(self) -> str:
        return "\n".join(_markdown(self)) + "\n"


def _lists(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


@attrs.define
class Observations:
    """What the driver recorded; ``build_report`` turns it into the report."""

    segments: list[str]
    days: int
    level_days: dict[int, list[int]] = attrs.field(factory=dict)
    final_levels: list[int] = attrs.field(factory=list)
    final_xp: list[int] = attrs.field(factory=list)
    retained: list[bool] = attrs.field(factory=list)
    daily_active: list[int] = attrs.field(factory=list)
    streak_counts: dict[int, list[int]] = attrs.field(
        factory=lambda: {n: [] for n in STREAK_THRESHOLDS}
    )
    flows: dict[str, list[tuple[int, int, int, int]]] = attrs.field(factory=dict)
    # (user index, achievement key, day of the first unlock)
    unlocks: list[tuple[int, str, int]] = attrs.field(factory=list)
    earned: list[dict[str, int]] = attrs.field(factory=list)
    spent: list[dict[str, int]] = attrs.field(factory=list)


def _percentile_day(days: list[int], users: int, p: float) -> int | None:
    needed = max(1, math.ceil(p * users))
    return days[needed - 1] if needed <= len(days) else None


def build_report(
    obs: Observations,
    *,
    profile: str,
    seed: int,
    start: date,
    timezone: str,
    catalogue: str,
    ledger_ok: bool,
    currencies: Sequence[str],
    achievement_names: Mapping[str, str],
) -> SimulationReport:
    users = len(obs.segments)
    levels = []
    for level in sorted(obs.level_days):
        days = sorted(obs.level_days[level])
        p10, p50, p90 = (_percentile_day(days, users, p) for p in PERCENTILES)
        by_day = tuple(bisect.bisect_right(days, day) for day in range(1, obs.days + 1))
        levels.append(
            LevelTiming(level, len(days), _share(len(days), users), p10, p50, p90, by_day)
        )
    counts: dict[int, int] = {}
    for level in obs.final_levels:
        counts[level] = counts.get(level, 0) + 1
    distribution = tuple(
        LevelCount(level, n, _share(n, users)) for level, n in sorted(counts.items())
    )
    return SimulationReport(
        users=users,
        days=obs.days,
        profile=profile,
        seed=seed,
        start=start,
        timezone=timezone,
        catalogue=catalogue,
        ledger_ok=ledger_ok,
        daily_active=tuple(obs.daily_active),
        segments=_segments(obs, currencies),
        levels=tuple(levels),
        level_distribution=distribution,
        achievements=_achievements(obs, users, achievement_names),
        currencies=tuple(_flow(name, obs.flows.get(name, [])) for name in currencies),
        streaks=tuple(
            StreakCurve(n, tuple(_share(c, users) for c in obs.streak_counts[n]))
            for n in STREAK_THRESHOLDS
        ),
    )


def _segments(obs: Observations, currencies: Sequence[str]) -> tuple[SegmentSummary, ...]:
    per_user: dict[int, int] = {}
    for user, _, _ in obs.unlocks:
        per_user[user] = per_user.get(user, 0) + 1
    result = []
    for name in sorted(set(obs.segments), key=_PROFILE_ORDER.index):
        members = [i for i, s in enumerate(obs.segments) if s == name]
        n = len(members)

        def mean(values: list[float], n: int = n) -> float:
            return round(sum(values) / n, 2)

        result.append(
            SegmentSummary(
                profile=name,
                users=n,
                retained=sum(obs.retained[i] for i in members),
                average_level=mean([obs.final_levels[i] for i in members]),
                average_xp=mean([obs.final_xp[i] for i in members]),
                average_achievements=mean([per_user.get(i, 0) for i in members]),
                earned={c: mean([obs.earned[i].get(c, 0) for i in members]) for c in currencies},
                spent={c: mean([obs.spent[i].get(c, 0) for i in members]) for c in currencies},
            )
        )
    return tuple(result)


def _achievements(obs: Observations, users: int, names: Mapping[str, str]) -> AchievementSummary:
    first: dict[int, int] = {}
    by_key: dict[str, list[int]] = {key: [] for key in names}
    for user, key, day in obs.unlocks:
        first[user] = min(day, first.get(user, day))
        by_key.setdefault(key, []).append(day)
    rates = sorted(
        (
            AchievementRate(
                key,
                names.get(key, key),
                len(days),
                _share(len(days), users),
                median_low(days) if days else None,
            )
            for key, days in by_key.items()
        ),
        key=lambda r: (-r.users, r.key),
    )
    return AchievementSummary(
        share_with_any=_share(len(first), users),
        average=round(len(obs.unlocks) / users, 2) if users else 0.0,
        median_days_to_first=median_low(first.values()) if first else None,
        per_achievement=tuple(rates),
    )


def _flow(currency: str, days: list[tuple[int, int, int, int]]) -> CurrencyFlow:
    flows = tuple(DailyFlow(i + 1, *day) for i, day in enumerate(days))
    issued = sum(f.issued for f in flows)
    spent = sum(f.spent for f in flows)
    expired = sum(f.expired for f in flows)
    supply = flows[-1].supply if flows else 0
    growth = None
    if len(flows) > 7 and flows[-8].supply > 0:
        growth = round((supply / flows[-8].supply) ** (1 / 7) - 1, 4)
    return CurrencyFlow(
        currency=currency,
        issued=issued,
        spent=spent,
        supply=supply,
        sink_ratio=round(spent / issued, 4) if issued else None,
        net_per_day=round((issued - spent) / len(flows), 2) if flows else 0.0,
        last_week_growth=growth,
        days=flows,
        expired=expired,
        breakage_rate=round(expired / issued, 4) if issued else None,
    )


# -- Markdown ------------------------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _day(day: int | None) -> str:
    return "-" if day is None else str(day)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join(["---"] * right + ["---:"] * (len(header) - right)) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _checkpoints(days: int) -> list[int]:
    marks = [d for d in (1, 7, 14, 30, 60, 90, 180, 365) if d <= days]
    if marks[-1] != days:
        marks.append(days)
    return marks


def _markdown(r: SimulationReport) -> list[str]:
    out = [
        f"# Economy simulation: {r.users:,} {r.profile} users over {r.days} days",
        "",
        f"Seed {r.seed}; day 1 is {r.start.isoformat()} ({r.timezone}); catalogue: "
        f"{r.catalogue}. Ledger audit after the run: "
        f"{'balanced' if r.ledger_ok else 'PROBLEMS FOUND'}.",
        "",
        "## Population",
        "",
    ]
    currencies = [c.currency for c in r.currencies]
    header = ["profile", "users", "still active", "avg level", "avg XP", "avg achievements"]
    header += [f"avg {c} earned" for c in currencies] + [f"avg {c} spent" for c in currencies]
    rows = [
        [s.profile, _n(s.users), _n(s.retained), f"{s.average_level:.1f}", _n(s.average_xp),
         f"{s.average_achievements:.1f}"]
        + [_n(s.earned[c]) for c in currencies] + [_n(s.spent[c]) for c in currencies]
        for s in r.segments
    ]  # fmt: skip
    out += _table(header, rows)
    out += [
        "",
        "## Days to reach each level",
        "",
        "p10/p50/p90: the day by which 10%, 50% and 90% of *all* users had reached the level "
        "(- : fewer than that ever did).",
        "",
    ]
    out += _table(
        ["level", "reached", "share", "p10", "p50", "p90"],
        [[str(t.level), _n(t.users), _pct(t.share), _day(t.p10), _day(t.p50), _day(t.p90)]
         for t in r.levels],
    )  # fmt: skip
    out += ["", f"## Level distribution on day {r.days}", ""]
    out += _table(
        ["level", "users", "share"],
        [[str(c.level), _n(c.users), _pct(c.share)] for c in r.level_distribution],
    )
    a = r.achievements
    first = "-" if a.median_days_to_first is None else f"day {a.median_days_to_first}"
    out += [
        "",
        "## Achievements",
        "",
        f"{_pct(a.share_with_any)} of users unlocked at least one; {a.average:.2f} per user on "
        f"average; median first unlock (of those who had one): {first}.",
        "",
    ]
    out += _table(
        ["achievement", "key", "users", "share", "median day"],
        [[x.name, f"`{x.key}`", _n(x.users), _pct(x.share), _day(x.median_day)]
         for x in a.per_achievement],
        right=2,
    )  # fmt: skip
    out += ["", "## Points issued vs spent", ""]
    for flow in r.currencies:
        ratio = "-" if flow.sink_ratio is None else _pct(flow.sink_ratio)
        growth = "-" if flow.last_week_growth is None else f"{flow.last_week_growth * 100:+.2f}%"
        out += [
            f"`{flow.currency}`: {_n(flow.issued)} issued, {_n(flow.spent)} spent ({ratio} "
            f"sunk); users hold {_n(flow.supply)} at the end, {_n(flow.net_per_day)} more per "
            f"day on average; supply growth over the last week: {growth} a day.",
            "",
        ]
        if flow.expired and flow.breakage_rate is not None:
            out += [
                f"`{flow.currency}` breakage: {_n(flow.expired)} expired unspent "
                f"({_pct(flow.breakage_rate)} of what was issued).",
                "",
            ]
        weeks = [flow.days[i : i + 7] for i in range(0, len(flow.days), 7)]
        out += _table(
            ["days", "issued", "spent", "net", "held at the end"],
            [[f"{w[0].day}-{w[-1].day}", _n(sum(d.issued for d in w)),
              _n(sum(d.spent for d in w)), _n(sum(d.issued - d.spent for d in w)),
              _n(w[-1].supply)] for w in weeks],
        )  # fmt: skip
        out.append("")
    out += [
        "## Streak survival",
        "",
        "The share of all users on a streak of at least N days at the end of the day.",
        "",
    ]
    header = ["day", "active users"] + [f">= {c.threshold}" for c in r.streaks]
    out += _table(
        header,
        [[str(d), _n(r.daily_active[d - 1])] + [_pct(c.shares[d - 1]) for c in r.streaks]
         for d in _checkpoints(r.days)],
    )  # fmt: skip
    return out
