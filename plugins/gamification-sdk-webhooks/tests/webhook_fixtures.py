"""Where the plugin's tests open engines: a file, or with ``--backend=postgresql`` a schema of
their own on the PostgreSQL test server, as the suite's ``tests/conftest.py`` does. The test
modules import these fixtures (a ``conftest.py`` here would be imported as ``conftest`` too,
and shadow the suite's for the modules of ``tests/`` that import from it).

``--backend`` is the suite's option, defined by ``tests/conftest.py``: run the whole suite, or
give a file of ``tests/`` with this folder (``pytest --backend=postgresql
tests/test_plugins.py plugins/gamification-sdk-webhooks/tests``). The fixtures are named as
the suite's (``backend``, ``place``), so its PostgreSQL pass keeps these tests and skips
those marked ``sqlite_only``.
"""

from __future__ import annotations

import atexit
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SUITE = Path(__file__).resolve().parents[3] / "tests"


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless the run says ``--backend=postgresql``."""
    return str(request.config.getoption("--backend", default="sqlite"))


_CLUSTER: list[Any] = []


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The suite's server: ``GAMIFICATION_TEST_POSTGRES_URL``, else a throwaway cluster
    (``tests/pg_cluster.py``) started once for the process and stopped at its exit, skipped
    with the reason where there is none."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'gamification-sdk[postgres]'")
    own = os.environ.get("GAMIFICATION_TEST_POSTGRES_URL")
    if own:
        return own
    if not _CLUSTER:
        if str(SUITE) not in sys.path:
            sys.path.insert(0, str(SUITE))
        import pg_cluster

        try:
            _CLUSTER.append(pg_cluster.start())
        except pg_cluster.ClusterUnavailable as exc:
            pytest.skip(f"no PostgreSQL server for the PostgreSQL tests: {exc}")
        # Each test module imports this fixture (one definition each): one cluster for all.
        atexit.register(_CLUSTER[0].stop)
    return str(_CLUSTER[0].url)


@pytest.fixture
def postgresql(backend: str) -> None:
    """Skips the test unless the run's backend is PostgreSQL (what only a server does)."""
    if backend != "postgresql":
        pytest.skip("about PostgreSQL: runs with --backend=postgresql")


@pytest.fixture
def place(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], dict[str, Any]]]:
    """Where a test's engines live, by name, so several can open the same store: a file, or
    a schema of its own (dropped after the test). ``Gamification.open(**place(name), ...)``."""
    schemas: dict[str, str] = {}

    def where(name: str) -> dict[str, Any]:
        if backend == "sqlite":
            return {"path": tmp_path / f"{name}.db"}
        schema = schemas.setdefault(name, f"gamification_test_{uuid.uuid4().hex[:12]}")
        return {"path": request.getfixturevalue("postgres_url"), "schema": schema}

    yield where
    if schemas:
        import psycopg

        with psycopg.connect(request.getfixturevalue("postgres_url"), autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
