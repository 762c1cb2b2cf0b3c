"""The first-party event-log plugin is found through its entry point and logs each event."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from gamification_sdk import FakeClock, Gamification


def test_entry_point_plugin_loads_only_when_asked() -> None:
    clock = FakeClock(datetime(2026, 1, 5, tzinfo=UTC))
    with Gamification.open(":memory:", clock=clock) as with_entrypoints:
        assert "event_log" in dict(with_entrypoints.pm.list_name_plugin())
    with Gamification.open(":memory:", clock=clock, load_entrypoints=False) as without:
        assert "event_log" not in dict(without.pm.list_name_plugin())


def test_event_log_writes_one_json_line_per_event(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(datetime(2026, 1, 5, tzinfo=UTC))
    with Gamification.open(":memory:", clock=clock) as g:
        with caplog.at_level(logging.INFO, logger="gamification_sdk.events"):
            g.award_xp("ada", 150, source="post_created")
            g.award_points("ada", 30, currency="points", source="quest")
        events = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("events")]
    assert [e["event"] for e in events] == ["xp_awarded", "level_up", "points_changed"]
    assert events[0]["amount"] == 150 and events[0]["user_id"] == "ada"
    assert events[1]["new_level"] == 2
    assert events[2]["balance_after"] == 30
