"""The throwaway cluster the PostgreSQL tests run on (tests/pg_cluster.py): it starts, serves,
and stops leaving nothing behind; without a server it says why, for the skip."""

from __future__ import annotations

from pathlib import Path

import pg_cluster
import pytest


def test_without_initdb_the_reason_names_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_cluster, "find_bin", lambda name: None)
    with pytest.raises(pg_cluster.ClusterUnavailable, match="GAMIFICATION_TEST_POSTGRES_URL"):
        pg_cluster.start()


def test_an_old_server_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "initdb"
    fake.write_text("#!/bin/sh\necho 'initdb (PostgreSQL) 14.11'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(pg_cluster, "find_bin", lambda name: fake)
    with pytest.raises(pg_cluster.ClusterUnavailable, match="15 or later is needed"):
        pg_cluster.start()


def test_a_cluster_starts_serves_and_leaves_nothing_behind() -> None:
    if pg_cluster.find_bin("initdb") is None:
        pytest.skip("no PostgreSQL server installed (initdb not found)")
    psycopg = pytest.importorskip("psycopg")
    cluster = pg_cluster.start()
    try:
        with psycopg.connect(cluster.url) as conn:
            row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
        assert row is not None and row[0] >= 150000
        assert any(cluster.socket_dir.glob(".s.PGSQL.*")), "no Unix socket in the folder"
    finally:
        cluster.stop()
    assert not cluster.folder.exists()
    cluster.stop()  # twice is harmless
