"""The configuration that shapes stored data lives in the database: adopt, refuse, apply."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stale_configs import file_dump

from gamification_sdk import Config, FakeClock, Gamification, LeaderboardsConfig, errors
from gamification_sdk.cli import cli
from gamification_sdk.config.leaderboards import BoardConfig
from gamification_sdk.errors import ConfigError, ConfigMismatch, StaleConfig, StoredConfigInvalid
from gamification_sdk.runtime.stored_config import FORMAT, LOCAL_FIELDS, STORED_FIELDS, stored_part
from gamification_sdk.social.periods import Calendar

PUBLIC = LeaderboardsConfig(visibility="public", show_on_global=True)
NO_BOARD = Config(leaderboards=attrs.evolve(PUBLIC, boards=()))
XP_BOARD = Config(leaderboards=PUBLIC)
TWO_BOARDS = Config(
    leaderboards=attrs.evolve(
        PUBLIC, boards=(*PUBLIC.boards, BoardConfig("weekly_xp", periods=("weekly",)))
    )
)


def scores(engine: Gamification, board: str = "xp", period: str = "all_time") -> dict[str, float]:
    found = engine.boards.get(board, period=period, limit=1000)
    return {entry.user_id: entry.score for entry in found.entries}


def test_every_config_field_is_either_stored_or_process_local() -> None:
    names = {field.name for field in attrs.fields(Config)}
    assert set(STORED_FIELDS) | set(LOCAL_FIELDS) == names
    assert not set(STORED_FIELDS) & set(LOCAL_FIELDS)


def test_a_new_file_stores_its_first_configuration(make_engine, db_path) -> None:
    g = make_engine(db_path, config=XP_BOARD)
    assert g.settings.version == 1
    [first] = g.settings.history()
    assert (first.version, first.applied_by) == (1, "open")
    assert stored_part(first.config) == stored_part(XP_BOARD)


def test_a_new_file_opened_without_a_configuration_stores_the_defaults(
    make_engine, db_path
) -> None:
    g = make_engine(db_path)
    assert g.settings.version == 1
    assert stored_part(g.settings.history()[0].config) == stored_part(Config())


def test_an_engine_opened_without_a_configuration_adopts_the_stored_one(
    make_engine, db_path
) -> None:
    # The data hole this closes: XP through a process without the board never reached it.
    with_board = make_engine(db_path, config=XP_BOARD)
    with_board.award_xp("ada", 100, source="t")
    without = make_engine(db_path)
    assert without.config.leaderboards == XP_BOARD.leaderboards
    without.award_xp("bo", 500, source="t")
    assert scores(with_board) == {"bo": 500, "ada": 100}


def test_process_local_fields_may_differ(make_engine, db_path) -> None:
    make_engine(db_path, config=XP_BOARD)
    local = attrs.evolve(XP_BOARD, durability="full", hook_errors="raise", busy_timeout=1.0)
    other = make_engine(db_path, config=local)
    assert other.config.durability == "full"
    assert other.config.hook_errors == "raise"


def test_a_differing_configuration_is_refused_naming_each_field(make_engine, db_path) -> None:
    make_engine(db_path, config=XP_BOARD)
    before = file_dump(db_path)
    wanted = attrs.evolve(NO_BOARD, default_timezone="Europe/Paris", prestige_boost=0.2)
    with pytest.raises(ConfigMismatch) as caught:
        make_engine(db_path, config=wanted)
    assert caught.value.fields == ["default_timezone", "leaderboards.boards", "prestige_boost"]
    assert caught.value.version == 1
    assert 'default_timezone: stored "UTC", given "Europe/Paris"' in str(caught.value)
    assert file_dump(db_path) == before


def test_a_second_process_is_refused_or_adopts(make_engine, db_path, tmp_path) -> None:
    g = make_engine(db_path, config=XP_BOARD)
    g.award_xp("ada", 100, source="t")
    script = tmp_path / "other.py"
    script.write_text(
        "import sys\n"
        "from gamification_sdk import Config, Gamification\n"
        "from gamification_sdk.errors import ConfigMismatch\n"
        "try:\n"
        "    Gamification.open(sys.argv[1], config=Config(), load_entrypoints=False)\n"
        "except ConfigMismatch as exc:\n"
        "    print('refused', ','.join(exc.fields))\n"
        "with Gamification.open(sys.argv[1], load_entrypoints=False) as other:\n"
        "    other.award_xp('bo', 500, source='t')\n"
        "    print('adopted', [b.key for b in other.config.leaderboards.boards])\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), str(db_path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [
        "refused leaderboards.show_on_global,leaderboards.visibility",
        "adopted ['xp']",
    ]
    assert scores(g) == {"bo": 500, "ada": 100}


def test_apply_adds_a_board_back_filled_for_its_open_periods(make_engine, db_path, clock) -> None:
    g = make_engine(db_path, config=XP_BOARD)
    g.award_xp("ada", 40, source="t")
    clock.advance(timedelta(days=7))
    g.award_xp("ada", 5, source="t")
    g.award_xp("bo", 10, source="t")
    change = g.settings.apply(TWO_BOARDS)
    assert change.version == 2
    assert change.changed == ("leaderboards.boards",)
    # This week only: ada's 40 XP of last week are not in it.
    assert scores(g, "weekly_xp", "weekly") == {"bo": 10, "ada": 5}
    g.award_xp("bo", 1, source="t")
    assert scores(g, "weekly_xp", "weekly") == {"bo": 11, "ada": 5}
    assert [v.applied_by for v in g.settings.history()] == ["open", "apply"]


def test_apply_the_stored_configuration_again_changes_nothing(make_engine, db_path) -> None:
    g = make_engine(db_path, config=XP_BOARD)
    before = file_dump(db_path)
    assert g.settings.apply(XP_BOARD) == g.settings.apply(attrs.evolve(XP_BOARD, durability="full"))
    assert g.settings.apply(XP_BOARD).changed == ()
    assert file_dump(db_path) == before


def test_a_removed_board_stops_counting_and_is_rebuilt_when_added_back(
    make_engine, db_path
) -> None:
    g = make_engine(db_path, config=XP_BOARD)
    g.award_xp("ada", 10, source="t")
    g.settings.apply(NO_BOARD)
    assert g.config.leaderboards.boards == ()
    g.award_xp("ada", 5, source="t")
    g.award_xp("cy", 7, source="t")
    kept = g.db.execute("SELECT fingerprint FROM lb_boards WHERE key = 'xp'").fetchone()
    assert kept == ("removed",)
    g.settings.apply(XP_BOARD)
    assert scores(g) == {"ada": 15, "cy": 7}
    assert scores(g, period="daily") == {"ada": 15, "cy": 7}


def test_an_engine_of_another_process_rereads_at_its_next_write(make_engine, db_path) -> None:
    first = make_engine(db_path, config=XP_BOARD)
    second = make_engine(db_path)
    first.settings.apply(NO_BOARD)
    before = file_dump(db_path)
    with pytest.raises(StaleConfig) as caught:
        second.award_xp("bo", 5, source="t")
    assert caught.value.version == 2
    assert file_dump(db_path) == before
    assert second.config.leaderboards.boards == ()
    assert second.settings.version == 2
    assert second.award_xp("bo", 5, source="t").amount == 5  # the retry goes through
    assert second.profile("bo").xp == 5


def test_apply_refuses_a_config_that_is_not_one(make_engine, db_path) -> None:
    g = make_engine(db_path, config=XP_BOARD)
    before = file_dump(db_path)
    with pytest.raises(errors.InvalidInput, match="config: expected a Config"):
        g.settings.apply({"levels": {}})  # type: ignore[arg-type]
    assert g.settings.version == 1
    assert file_dump(db_path) == before


def _stored_row(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, args)
    conn.close()


def test_a_configuration_from_a_newer_version_is_a_typed_error(make_engine, db_path) -> None:
    make_engine(db_path, config=XP_BOARD).close()
    _stored_row(db_path, "UPDATE config_versions SET format = ?", FORMAT + 1)
    before = file_dump(db_path)
    with pytest.raises(StoredConfigInvalid, match="row 1: format 2 was written by a newer"):
        make_engine(db_path)
    assert file_dump(db_path) == before


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{", "body: not valid JSON"),
        ("[]", "body: expected a JSON object"),
        ('{"levelz": {}}', "body: unknown field(s): levelz"),
        ('{"prestige_boost": "high"}', "prestige_boost: expected a finite number"),
    ],
)
def test_a_malformed_stored_row_is_named_at_open(make_engine, db_path, body, problem) -> None:
    make_engine(db_path, config=XP_BOARD).close()
    _stored_row(db_path, "UPDATE config_versions SET body = ?", body)
    before = file_dump(db_path)
    with pytest.raises(StoredConfigInvalid) as caught:
        make_engine(db_path)
    assert file_dump(db_path) == before
    assert caught.value.where == "config_versions row 1"
    assert problem in str(caught.value)


def _as_before_stored_config(path: Path) -> None:
    """Make ``path`` look like a file written before configurations were stored."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TABLE config_versions")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm014_config_versions'")
    conn.close()


def test_a_file_from_before_takes_its_configuration_from_the_first_engine_with_one(
    make_engine, db_path
) -> None:
    with Gamification.open(db_path, config=XP_BOARD, load_entrypoints=False) as old:
        old.award_xp("ada", 10, source="t")
    _as_before_stored_config(db_path)
    plain = make_engine(db_path)
    assert plain.settings.version == 0
    assert plain.settings.history() == []
    configured = make_engine(db_path, config=XP_BOARD)
    assert configured.settings.version == 1
    assert stored_part(configured.settings.history()[0].config) == stored_part(XP_BOARD)
    assert scores(configured) == {"ada": 10}


def test_cli_config_apply_show_and_history(db_path, tmp_path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db_path), "init"]).exit_code == 0
    wanted = tmp_path / "boards.json"
    wanted.write_text(json.dumps({"leaderboards": {"visibility": "public"}}))
    done = runner.invoke(cli, ["--db", str(db_path), "config", "apply", str(wanted)])
    assert done.exit_code == 0, done.output
    assert "version 2, changed leaderboards.visibility" in done.output
    again = runner.invoke(cli, ["--db", str(db_path), "config", "apply", str(wanted)])
    assert "unchanged (version 2)" in again.output
    shown = runner.invoke(cli, ["--db", str(db_path), "--json", "config", "show"])
    report = json.loads(shown.output)
    assert report["version"] == 2
    assert report["config"]["leaderboards"]["visibility"] == "public"
    listed = runner.invoke(cli, ["--db", str(db_path), "--json", "config", "history"])
    assert [v["applied_by"] for v in json.loads(listed.output)] == ["open", "apply"]
    # A command with a --config that differs is refused, naming the field.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"default_timezone": "Asia/Tokyo"}))
    refused = runner.invoke(cli, ["--db", str(db_path), "--config", str(other), "profile", "x"])
    assert refused.exit_code == 1
    assert "default_timezone" in refused.output


CONFIGS = {"board": XP_BOARD, "none": NO_BOARD, "two": TWO_BOARDS}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    first=st.sampled_from(sorted(CONFIGS)),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("open"), st.sampled_from([None, *sorted(CONFIGS)])),
            st.tuples(st.just("award"), st.integers(0, 3), st.sampled_from("abc"),
                      st.integers(1, 50)),
            st.tuples(st.just("apply"), st.integers(0, 3), st.sampled_from(sorted(CONFIGS))),
            st.tuples(st.just("wait"), st.integers(1, 60)),
        ),
        max_size=25,
    ),
)  # fmt: skip
def test_boards_always_equal_the_xp_log(tmp_path_factory, first, steps) -> None:
    """Engines opened with and without configurations, refused or adopting, awards and
    applies in any order: every board equals a brute-force sum over the XP log."""
    path = tmp_path_factory.mktemp("mix") / "game.db"
    clock = FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
    open_engine: Callable[[Config | None], Gamification] = lambda config: Gamification.open(  # noqa: E731
        path, config=config, clock=clock, load_entrypoints=False
    )
    engines = [open_engine(CONFIGS[first])]
    stored = first
    try:
        for step in steps:
            if step[0] == "open":
                wanted = None if step[1] is None else CONFIGS[step[1]]
                try:
                    engines.append(open_engine(wanted))
                except ConfigMismatch:
                    assert wanted is not None
                    assert stored_part(wanted) != stored_part(CONFIGS[stored])
                else:
                    assert step[1] in (None, stored)
            elif step[0] == "wait":
                clock.advance(timedelta(hours=step[1]))
            else:
                engine = engines[step[1] % len(engines)]
                for attempt in range(2):
                    try:
                        if step[0] == "award":
                            engine.award_xp(step[2], step[3], source="t")
                        else:
                            engine.settings.apply(CONFIGS[step[2]])
                            stored = step[2]
                        break
                    except StaleConfig:
                        assert attempt == 0
        check = open_engine(None)
        engines.append(check)
        log = check.db.execute("SELECT user_id, amount, created_at FROM xp_awards").fetchall()
        settings_ = check.config.leaderboards
        periods = Calendar(settings_.timezone, settings_.week_start, ()).at(clock())
        for board in settings_.boards:
            for period in board.periods:
                start = periods[period].starts_at if period != "all_time" else None
                expected: dict[str, int] = {}
                for user, amount, at in log:
                    if start is None or datetime.fromisoformat(at) >= start:
                        expected[user] = expected.get(user, 0) + amount
                found = check.boards.get(board.key, period=period, limit=1000)
                got = {e.user_id: e.score for e in found.entries}
                assert got == {u: s for u, s in expected.items() if s}, (board.key, period)
    finally:
        for engine in engines:
            engine.close()


def test_adopt_takes_only_the_process_local_fields_of_the_config(make_engine, db_path) -> None:
    make_engine(db_path, config=XP_BOARD)
    other = make_engine(db_path, config=Config(busy_timeout=0.25, hook_errors="raise"), adopt=True)
    assert other.config.leaderboards == XP_BOARD.leaderboards
    assert (other.config.busy_timeout, other.config.hook_errors) == (0.25, "raise")


def test_adopt_on_a_new_file_stores_the_config_given(make_engine, db_path) -> None:
    g = make_engine(db_path, config=XP_BOARD, adopt=True)
    assert stored_part(g.settings.history()[0].config) == stored_part(XP_BOARD)


def test_a_failed_apply_leaves_the_engine_on_its_configuration(make_engine, db_path) -> None:
    g = make_engine(db_path, config=XP_BOARD)
    before = file_dump(db_path)
    unknown = attrs.evolve(NO_BOARD, packs=("no-such-pack",))
    with pytest.raises(ConfigError, match="no-such-pack"):
        g.settings.apply(unknown)
    assert file_dump(db_path) == before
    assert g.config.leaderboards == XP_BOARD.leaderboards
    assert g.settings.version == 1
    g.award_xp("ada", 5, source="t")  # still writes, and to the board it had
    assert scores(g) == {"ada": 5}
