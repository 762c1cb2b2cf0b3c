"""The PostgreSQL section of ``./run report``: the same questions as the SQLite rows, on a
server.

- Keyed ``award_points`` and ``award_xp`` per second from 1, 2, 4 and 8 processes, each an app
  server with its own engine on one schema, beside raw psycopg sending the same minimal
  statements in the same round trips (``pg_engine.py``'s shapes), and the ratio between them;
  with the CPU the clients and the server used in each cell, which says what bounds it.
- The same engine awards with ``synchronous_commit`` on and off (the server flushes its WAL
  to disk, ``fsync=on``), at 1 and 4 processes.
- Engines in threads of one process, each on one ``psycopg_pool.ConnectionPool`` of as many
  connections: what a pool and threads give on these cores.
- The board's reads at the report's size (``g.boards.get``, ``g.boards.rank``,
  ``g.boards.around``), p50/p99 in a fresh process, beside the engine on SQLite at the same
  size, with the plans of the statements a read sends.

The server is the one at ``--postgres-url`` (or ``GAMIFICATION_TEST_POSTGRES_URL``), else a
throwaway cluster (tests/pg_cluster.py) started with ``fsync=on`` and
``full_page_writes=on``, as a production server runs. Where none can be had, the section says
why. Every process of a cell opens its engine first and starts on a shared barrier, so the
processes of a cell run together for the cell's whole length.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import leaderboards  # noqa: E402

__all__ = ["FULL", "QUICK", "Cell", "Section", "Settings", "measure"]

KINDS = ("raw points", "engine points", "raw xp", "engine xp")
TARGET = 0.6  # the engine's awards as a share of raw psycopg's (issue 20)
# The read latency targets of the SQLite rows, in ms: the same reads, the same targets.
READ_LIMITS = {"top100": 1.0, "rank": 1.0, "around": 2.0}
READ_NAMES = {"top100": "leaderboard top-100", "rank": "rank(user)", "around": "around(user, n=5)"}


@dataclass(frozen=True)
class Settings:
    """How much work the section does: ``seconds`` per throughput cell; ``processes`` for the
    engine-vs-raw table, ``durable`` for synchronous_commit on vs off, ``threads`` for engines
    on one pool; ``users`` each worker awards in turn; ``naive`` COUNT(*) ranks timed."""

    seconds: float = 2.0
    processes: tuple[int, ...] = (1, 2, 4, 8)
    durable: tuple[int, ...] = (1, 4)
    threads: tuple[int, ...] = (1, 2, 4)
    users: int = 500
    naive: int = 30


FULL = Settings()
QUICK = Settings(seconds=1.0, naive=10)


@dataclass(frozen=True)
class Cell:
    """One cell: awards per second, and the cores the clients, the server and the whole
    machine kept busy (CPU seconds per second; the server's only when it runs on this
    machine and is ours; the machine's include work that is neither, on a shared one)."""

    rate: float
    clients: float
    server: float | None
    machine: float = float("nan")

    def busy(self) -> str:
        server = "?" if self.server is None else f"{self.server:.2f}"
        machine = "" if self.machine != self.machine else f" of {self.machine:.2f}"
        return f"{self.clients:.2f} + {server}{machine}"


@dataclass
class Section:
    """The PostgreSQL findings, or why there are none (``unavailable``)."""

    unavailable: str | None = None
    server: str = ""
    settings: Settings = FULL
    users: int = 0
    rates: dict[str, list[Cell]] = field(default_factory=dict)
    durable: dict[str, list[Cell]] = field(default_factory=dict)
    pooled: list[Cell] = field(default_factory=list)
    reads: dict[str, Any] = field(default_factory=dict)
    sqlite_reads: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


Log = Callable[[str], None]


# -- the server ---------------------------------------------------------------------------------


def _server_cpu(postmaster: int | None) -> dict[int, float] | None:
    """CPU seconds so far of the server's processes (the postmaster and its children: the
    sessions, the WAL writer, the checkpointer), by pid; None when the server is not ours
    to see. A cell sums the change of each process alive at both ends: sessions that end
    or start meanwhile are the cell's neighbours'."""
    if postmaster is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(entry) == postmaster or fields[1] == str(postmaster):  # ppid
            found[int(entry)] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return found


def _spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    if before is None or after is None:
        return None
    return sum(after[pid] - spent for pid, spent in before.items() if pid in after)


def _machine_busy() -> float:
    """CPU seconds every process of the machine has spent so far (all cores: /proc/stat),
    so a cell can tell its own work from the other work sharing the cores."""
    try:
        line = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in line[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# -- throughput ---------------------------------------------------------------------------------


def _worker(
    url: str, kind: str, sync: str, who: int, seconds: float, users: int, tag: str,
    ready: Any, go: Any, done: Any,
) -> None:  # fmt: skip
    """One app server: opens its engine (or raw connection), says so on ``ready``, waits for
    ``go[0]``, then awards for ``seconds``; puts (awards, CPU seconds) on ``done``, and keeps
    its session until ``go[1]`` (the server's CPU is read from the live sessions)."""
    import pg_engine
    import psycopg

    from gamification_sdk import Gamification

    if kind.startswith("engine"):
        g = Gamification.open(url, schema=pg_engine.SCHEMA, load_entrypoints=False)
        g._store.conn.raw.execute(f"SET synchronous_commit TO {sync}")  # type: ignore[attr-defined]
        points = kind == "engine points"

        def call(user: str, key: str) -> object:
            if points:
                return g.award_points(user, 5, currency="points", source="b", idempotency_key=key)
            return g.award_xp(user, 5, source="b", idempotency_key=key)

        closing = g.close
    else:
        conn = psycopg.connect(url, autocommit=True)
        conn.execute(f"SET search_path TO {pg_engine.SCHEMA}")
        conn.execute(f"SET synchronous_commit TO {sync}")
        shape = pg_engine.raw_points if kind == "raw points" else pg_engine.raw_xp
        begin = "BEGIN ISOLATION LEVEL READ COMMITTED"

        def call(user: str, key: str) -> object:
            shape(conn, user, key, begin)
            return None

        closing = conn.close
    ready.put(who)
    go[0].wait()
    count = 0
    cpu = time.process_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        call(f"u{who}-{count % users}", f"{tag}-{who}-{count}")
        count += 1
    done.put((count, time.process_time() - cpu))
    go[1].wait()
    closing()


def _pool_worker(
    url: str, threads: int, sync: str, seconds: float, users: int, tag: str, ready: Any,
    go: Any, done: Any,
) -> None:  # fmt: skip
    """One process, ``threads`` threads, each with its own engine on one pool of ``threads``
    connections (an engine runs one write at a time: its threads share its lock)."""
    import pg_engine
    from psycopg_pool import ConnectionPool

    from gamification_sdk import Gamification

    def configure(conn: Any) -> None:
        conn.execute(f"SET synchronous_commit TO {sync}")
        conn.commit()

    with ConnectionPool(url, min_size=threads, max_size=threads, configure=configure) as pool:
        engines = [
            Gamification.open(pool, schema=pg_engine.SCHEMA, load_entrypoints=False)
            for _ in range(threads)
        ]
        counts = [0] * threads
        together = threading.Barrier(threads + 1)

        def run(who: int) -> None:
            g = engines[who]
            together.wait()
            end = time.perf_counter() + seconds
            n = 0
            while time.perf_counter() < end:
                g.award_xp(f"u{who}-{n % users}", 5, source="b", idempotency_key=f"{tag}-{who}-{n}")
                n += 1
            counts[who] = n

        workers = [threading.Thread(target=run, args=(who,), daemon=True) for who in range(threads)]
        for thread in workers:
            thread.start()
        ready.put(0)
        go[0].wait()
        cpu = time.process_time()
        together.wait()
        for thread in workers:
            thread.join()
        done.put((sum(counts), time.process_time() - cpu))
        go[1].wait()
        for g in engines:
            g.close()


def _cell(
    target: Callable[..., None], args: Callable[[int, str], tuple[Any, ...]], processes: int,
    seconds: float, postmaster: int | None,
) -> Cell:  # fmt: skip
    """``processes`` spawned ``target(*args(who, tag), ready, go, done)``, let go together
    once every one is ready."""
    context = multiprocessing.get_context("spawn")
    ready, done = context.Queue(), context.Queue()
    go = (context.Event(), context.Event())  # start; and end (once the CPU is read)
    tag = f"{time.time_ns()}"
    workers = [
        context.Process(target=target, args=(*args(who, tag), ready, go, done))
        for who in range(processes)
    ]
    with _spawnable():
        for process in workers:
            process.start()
    try:
        for _ in workers:
            _get(ready, workers)
        before, machine = _server_cpu(postmaster), _machine_busy()
        go[0].set()
        results = [_get(done, workers) for _ in workers]
        after, machine = _server_cpu(postmaster), _machine_busy() - machine
    finally:
        go[1].set()
        for process in workers:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    server = _spent(before, after)
    return Cell(
        sum(r[0] for r in results) / seconds, sum(r[1] for r in results) / seconds,
        None if server is None else server / seconds, machine / seconds,
    )  # fmt: skip


@contextmanager
def _spawnable() -> Iterator[None]:
    """A spawned process imports this module and its siblings by name, from the path it is
    given at start: benchmarks/ and tests/ (pg_cluster) on it while processes start, then
    the path as it was (a test that loaded the report leaves no trace on it)."""
    saved = list(sys.path)
    sys.path[:0] = [str(HERE), str(ROOT / "tests")]
    try:
        yield
    finally:
        sys.path[:] = saved


def _get(queue: Any, workers: list[Any]) -> Any:
    """The next item on ``queue``; raises if a worker died first (rather than waiting)."""
    while True:
        try:
            return queue.get(timeout=1)
        except Empty:
            failed = [p.exitcode for p in workers if p.exitcode not in (None, 0)]
            if failed:
                raise RuntimeError(f"a benchmark process failed (exit code {failed[0]})") from None


def throughput(url: str, s: Settings, found: Section, postmaster: int | None, log: Log) -> None:
    with _spawnable():
        import pg_engine

    log(f"PostgreSQL: {len(KINDS)} kinds of keyed award from {s.processes} processes, "
        f"{s.seconds:g} s each")  # fmt: skip
    pg_engine.setup(url, s.users, max((*s.processes, *s.durable, *s.threads)))
    for kind in KINDS:
        found.rates[kind] = [
            _cell(
                _worker, lambda who, tag, k=kind: (url, k, "off", who, s.seconds, s.users, tag),
                n, s.seconds, postmaster,
            )
            for n in s.processes
        ]  # fmt: skip
    log(f"PostgreSQL: synchronous_commit on, from {s.durable} processes")
    for kind in ("engine points", "engine xp"):
        found.durable[kind] = [
            _cell(
                _worker, lambda who, tag, k=kind: (url, k, "on", who, s.seconds, s.users, tag),
                n, s.seconds, postmaster,
            )
            for n in s.durable
        ]  # fmt: skip
    log(f"PostgreSQL: engines in {s.threads} threads on one pool")
    found.pooled = [
        _cell(
            _pool_worker, lambda who, tag, t=threads: (url, t, "off", s.seconds, s.users, tag),
            1, s.seconds, postmaster,
        )
        for threads in s.threads
    ]  # fmt: skip
    from gamification_sdk import Gamification

    with Gamification.open(url, schema=pg_engine.SCHEMA, load_entrypoints=False) as g:
        report = g.verify_ledger()
    found.notes.append(
        f"after the awards, verify_ledger() on PostgreSQL: {len(report.problems)} problems"
    )


# -- the board's reads --------------------------------------------------------------------------


# pg_engine.py's schema, where the throughput cells award (not imported: psycopg is optional).
SCHEMA = "gamification_bench_engine"


def board_schema(users: int) -> str:
    return f"gamification_bench_board_{users}"


def build_board(url: str, users: int) -> tuple[float, float]:
    """The benchmark's users (leaderboards.profile_rows: the SQLite board's rows) copied into
    a fresh schema, then the board started from them by the engine, as on SQLite. Returns
    (seconds of the copy, seconds of the board's start)."""
    import psycopg

    from gamification_sdk import Gamification

    schema = board_schema(users)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    Gamification.open(
        url, schema=schema, config=leaderboards.NO_BOARDS, load_entrypoints=False
    ).close()
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(f"SET search_path TO {schema}")
        copy = "COPY profiles (user_id, xp, level, created_at, updated_at) FROM STDIN"
        with conn.cursor().copy(copy) as rows:
            for user, xp, created, updated in leaderboards.profile_rows(users):
                rows.write_row((user, xp, 1, created, updated))
        conn.execute("ANALYZE profiles")
    copied = time.perf_counter() - started
    with Gamification.open(url, schema=schema, load_entrypoints=False) as g:
        started = time.perf_counter()
        g.settings.apply(leaderboards.config())  # the board starts from every profile's XP
        begun = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ANALYZE {schema}.lb_scores")
    return copied, begun


# The statements one read sends after its BEGIN (seen in the server's log), with the
# parameters of a typical call; EXPLAIN shows how the server answers each.
_PLANS = {
    "the period": (
        "SELECT id, closed_at FROM lb_periods WHERE board = %s AND period = %s AND "
        "period_key = %s", ("xp", "all_time", "all"),
    ),
    "the user's score": (
        "SELECT score, reached, listed FROM lb_scores WHERE user_id = %s AND period_id = %s",
        ("user-0000001", 1),
    ),
    "the change log since the last read": (
        "SELECT seq, period_id, user_id FROM lb_log WHERE tx >= %s::text::xid8 ORDER BY seq",
        ("1",),
    ),
    "the page's names and levels": (
        "SELECT user_id, level, real_name, username, visibility, show_on_global, "
        "display_name_type FROM profiles WHERE user_id IN (%s, %s, %s)",
        ("user-0000001", "user-0000002", "user-0000003"),
    ),
}  # fmt: skip
_NAIVE = "SELECT COUNT(*) FROM lb_scores WHERE period_id = %s AND listed = 1 AND score > %s"


def _reads(url: str, users: int, samples: int, naive: int, done: Any) -> None:
    """In a fresh process, as the SQLite reads run: open, first read, p50/p99 of the three
    reads, memory; then ranks checked against COUNT(*) and that naive rank timed over an
    index on the score; then the plans."""
    import psycopg

    from gamification_sdk import FakeClock, Gamification

    schema = board_schema(users)
    started = time.perf_counter()
    g = Gamification.open(
        url, schema=schema, config=leaderboards.config(), clock=FakeClock(leaderboards.NOW),
        load_entrypoints=False,
    )  # fmt: skip
    out: dict[str, Any] = {"open_s": time.perf_counter() - started}
    started = time.perf_counter()
    g.boards.get("xp")
    out["first_read_s"] = time.perf_counter() - started
    chosen = leaderboards.picks(users, samples)
    for name, call in (
        ("top100", lambda u: g.boards.get("xp")),
        ("rank", lambda u: g.boards.rank(u, "xp")),
        ("around", lambda u: g.boards.around(u, "xp", n=5)),
    ):
        out[name] = leaderboards.timed(call, chosen)
    out["rss_mb"] = leaderboards.peak_rss_mb()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        (period,) = conn.execute(  # type: ignore[misc]
            "SELECT id FROM lb_periods WHERE board = 'xp' AND period = 'all_time'"
        ).fetchone()
        conn.execute("CREATE INDEX bench_score ON lb_scores (period_id, score)")
        conn.execute("ANALYZE lb_scores")
        times = []
        for user in chosen[:naive]:
            entry = g.boards.rank(user, "xp")
            assert entry is not None
            t0 = time.perf_counter()
            (higher,) = conn.execute(_NAIVE, (period, entry.score)).fetchone()  # type: ignore[misc]
            times.append(time.perf_counter() - t0)
            assert entry.rank == higher + 1, (user, entry.rank, higher + 1)
        out["naive_count_rank"] = leaderboards.percentiles(times)
        conn.execute("DROP INDEX bench_score")
        plans = {}
        for what, (sql, args) in _PLANS.items():
            if what == "the user's score":
                args = (args[0], period)
            lines = [line for (line,) in conn.execute("EXPLAIN " + sql, args).fetchall()]
            plans[what] = " / ".join(line.strip() for line in lines if "->" in line or
                                     line is lines[0])  # fmt: skip
        out["plans"] = plans
    g.close()
    done.put(out)


def reads(url: str, users: int, samples: int, s: Settings, found: Section, log: Log) -> None:
    log(f"PostgreSQL: loading the {users:,}-user board (COPY, then the board's start)")
    copied, begun = build_board(url, users)
    found.notes.append(
        f"the {users:,}-user board on PostgreSQL: profiles copied in {copied:.1f} s (COPY), "
        f"the board started from them in {begun:.1f} s"
    )
    log(f"PostgreSQL: board reads ({samples:,} random users), a fresh process")
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    process = context.Process(target=_reads, args=(url, users, samples, s.naive, done))
    with _spawnable():
        process.start()
    try:
        out = _get(done, [process])
    finally:
        process.join(timeout=60)
    found.plans = out.pop("plans")
    found.reads = out


# -- the whole section --------------------------------------------------------------------------


def measure(
    url: str | None, s: Settings, users: int, samples: int, sqlite_reads: dict[str, Any],
    log: Log,
) -> Section:  # fmt: skip
    """The section, on the server at ``url`` or on a throwaway cluster; ``sqlite_reads``:
    the SQLite board's measures at the same size (leaderboards.measure), shown beside."""
    found = Section(settings=s, users=users, sqlite_reads=sqlite_reads)
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        found.unavailable = f"psycopg is not installed ({exc}): pip install '.[postgres]'"
        return found
    cluster = None
    postmaster = None
    if url is None:
        with _spawnable():
            import pg_cluster

        try:
            cluster = pg_cluster.start({"fsync": "on", "full_page_writes": "on"})
        except pg_cluster.ClusterUnavailable as exc:
            found.unavailable = f"no PostgreSQL server could be started: {exc}"
            return found
        url = cluster.url
        pid = (cluster.data / "postmaster.pid").read_text().split()[0]
        postmaster = int(pid)
        where = "a throwaway cluster on this machine (tests/pg_cluster.py)"
    else:
        where = "the server at the given URL (its CPU is not measured)"
    try:
        with psycopg.connect(url) as conn:
            shown = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
            }
        found.server = f"PostgreSQL {shown.pop('server_version')}, {where}; " + ", ".join(
            f"{k}={v}" for k, v in shown.items()
        )
        throughput(url, s, found, postmaster, log)
        reads(url, users, samples, s, found, log)
    finally:
        if cluster is not None:
            cluster.stop()
        else:  # a server of the caller's: leave it as it was
            with psycopg.connect(url, autocommit=True) as conn:
                for schema in (SCHEMA, board_schema(users)):
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return found
