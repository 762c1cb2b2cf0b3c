"""``to_text``: every stored time, written out from a cached minute, is exactly what
``astimezone(UTC).isoformat(timespec="microseconds")`` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from gamification_sdk.core.clock import to_text

ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/St_Johns"), ZoneInfo("UTC")]
ZONES += [timezone(timedelta(hours=-12)), timezone(timedelta(hours=5, minutes=45))]


def reference(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from(ZONES)
)


@given(st.lists(moments, min_size=1, max_size=20))
def test_any_aware_moment_reads_as_isoformat_writes_it(found: list[datetime]) -> None:
    for moment in found:
        assert to_text(moment) == reference(moment)


@given(
    moments,
    st.lists(st.integers(-120_000_000, 120_000_000), min_size=1, max_size=30),
)
def test_moments_around_one_minute_share_its_text_rightly(
    start: datetime, steps: list[int]
) -> None:
    """Near moments hit the cached minute, cross its ends, come back to it."""
    for micros in steps:
        moment = start + timedelta(microseconds=micros)
        assert to_text(moment) == reference(moment)


def test_edges_of_a_minute_and_of_the_calendar() -> None:
    minute = datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    for moment in (
        minute,
        minute - timedelta(microseconds=1),
        minute + timedelta(seconds=59, microseconds=999_999),
        minute + timedelta(minutes=1),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 58, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # in the DST gap
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
    ):
        assert to_text(moment) == reference(moment)
        assert to_text(moment) == reference(moment)  # from the cached minute too


def test_a_datetime_subclass_writes_itself_out() -> None:
    class Stamp(datetime):
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return "stamp"

    assert to_text(Stamp(2026, 1, 1, tzinfo=UTC)) == "stamp"


@given(moments, st.lists(st.tuples(st.booleans(), st.integers(0, 59_999_999)), max_size=30))
def test_two_minutes_in_turn_each_read_rightly(
    start: datetime, picks: list[tuple[bool, int]]
) -> None:
    """A write that stores a moment and one a minute on (a hold and its expiry) uses both
    cached minutes in turn; neither may answer for the other."""
    later = start + timedelta(seconds=60)
    for second, micros in picks:
        moment = (later if second else start) + timedelta(microseconds=micros)
        assert to_text(moment) == reference(moment)
