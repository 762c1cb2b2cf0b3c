"""A throwaway PostgreSQL cluster for the tests that need a server.

``initdb`` into a temporary folder (as the ``postgres`` OS user when the tests run as root:
the server refuses to run as root), a Unix socket in that folder, a free TCP port on the
loopback, ``pg_ctl start``; ``stop()`` stops it and removes the folder. Set
``GAMIFICATION_TEST_POSTGRES_URL`` to run the tests against a server of your own instead
(``tests/conftest.py``); then nothing is started.

Where no PostgreSQL 15 or later can be found or started, ``start()`` raises
``ClusterUnavailable`` with the reason, which the fixture turns into a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Cluster", "ClusterUnavailable", "find_bin", "start"]

MIN_MAJOR = 15
SERVER_USER = "postgres"  # the OS user the server runs as when the tests run as root


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server could be set up: the message says why."""


def find_bin(name: str) -> Path | None:
    """``initdb`` or ``pg_ctl``: on the PATH, else in Debian's versioned folders (newest)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")

    def major(path: str) -> int:
        digits = re.search(r"/postgresql/(\d+)/", path)
        return int(digits.group(1)) if digits else 0

    candidates.sort(key=major, reverse=True)
    return Path(candidates[0]) if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(command: list[str]) -> list[str]:
    """The command run as the ``postgres`` user when we are root, as ourselves otherwise."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", SERVER_USER, "--", *command]
    return ["su", SERVER_USER, "-s", "/bin/sh", "-c", " ".join(map(_quote, command))]


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\"'\"'") + "'"


def _ensure_server_user() -> None:
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            raise ClusterUnavailable(
                f"running as root and there is no {SERVER_USER!r} OS user to run the server "
                f"as (and no useradd to create one)"
            ) from None
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/bin/sh", SERVER_USER],
            check=True,
            capture_output=True,
        )


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ClusterUnavailable(
            f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


class Cluster:
    """A started cluster; ``url`` reaches its ``postgres`` database as the superuser."""

    def __init__(self, folder: Path, pg_ctl: Path, port: int) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.socket_dir = folder
        self.pg_ctl = pg_ctl
        self.port = port
        self.url = f"postgresql://{SERVER_USER}@127.0.0.1:{port}/postgres"
        self.stopped = False

    def ctl(self, *args: str) -> str:
        """Run ``pg_ctl`` on this cluster (``restart``, ``status``...)."""
        return _run(_as_server_user([str(self.pg_ctl), "-D", str(self.data), *args]), "pg_ctl")

    def restart(self) -> None:
        """Stop the server (fast: open sessions are ended) and start it again with the same
        options; its output goes to the log file, as at start (not to our pipe)."""
        self.ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", str(self.folder / "server.log"))

    def stop(self) -> None:
        """Stop the server (fast: open sessions are ended) and remove the folder."""
        if self.stopped:
            return
        self.stopped = True
        try:
            if (self.data / "postmaster.pid").exists():
                self.ctl("stop", "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start(settings: Mapping[str, str] | None = None) -> Cluster:
    """``initdb``, then ``pg_ctl start`` on a free port; raises ``ClusterUnavailable``.
    ``settings`` override the server's options below (``{"fsync": "on"}`` for a benchmark
    of durable commits): given later on the command line, they win."""
    initdb = find_bin("initdb")
    pg_ctl = find_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ClusterUnavailable(
            "PostgreSQL's initdb/pg_ctl were not found (on PATH or /usr/lib/postgresql/*/bin); "
            "install the server (Debian: apt-get install postgresql) or set "
            "GAMIFICATION_TEST_POSTGRES_URL"
        )
    version = _run([str(initdb), "--version"], "initdb --version")
    found = re.search(r"(\d+)(?:\.\d+)?", version)
    if found is None or int(found.group(1)) < MIN_MAJOR:
        raise ClusterUnavailable(f"PostgreSQL {MIN_MAJOR} or later is needed; found {version!r}")
    if os.geteuid() == 0:
        _ensure_server_user()
    folder = Path(tempfile.mkdtemp(prefix="gamification-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(folder, pg_ctl, _free_port())
    try:
        _run(
            _as_server_user(
                [
                    str(initdb),
                    "-D",
                    str(cluster.data),
                    "-U",
                    SERVER_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        # Tests never need a crash-safe throwaway server: fsync off makes its setup and
        # each commit cheap on a loaded machine.
        options = (
            f"-p {cluster.port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        for name, value in (settings or {}).items():
            options += f" -c {name}={value}"
        cluster.ctl("start", "-w", "-t", "60", "-l", str(folder / "server.log"), "-o", options)
    except BaseException as exc:
        log = folder / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        cluster.stop()
        if isinstance(exc, ClusterUnavailable) and detail:
            raise ClusterUnavailable(f"{exc}; server log: {detail}") from exc
        raise
    return cluster
