"""Benchmark: prodkit's gunicorn config against a hand-written line, gunicorn's defaults, granian.

Run from the repository root after ``make test`` built .venv (wrk comes from Debian's
packages; scripts/system-deps.sh installs it):

    .venv/bin/python benchmarks/server.py --quick

It creates a PostgreSQL database of its own on the shared server (``prodkit_bench_<hex>``,
dropped at the end), migrates the example project into it with a few dozen photos, collects
the static files once, and serves the example on 127.0.0.1 with DEBUG off, plain HTTP and
prodkit's database settings: persistent connections (CONN_MAX_AGE 600) under WSGI, prodkit's
pool (PRODKIT_DB_POOL=true, as its check prodkit.I207 asks) under ASGI, where persistent
connections leak one per request. Each server's output, the application's log included, goes
to a file in a temporary directory.

Parts, each with its servers running side by side and rounds interleaved (A B C D A B C D
...), figures the medians over rounds:

- ``servers``: the JSON view (``/api/photos/``, up to 100 rows) and the index page (``/``: a
  query and a template) under ``prodkit`` (``gunicorn -c python:django_prodkit.gunicorn_conf``
  with no application: its own worker class and sizing), ``handwritten`` (the blog line
  ``--workers 8 --threads 4 --timeout 60 -k uvicorn_worker.UvicornWorker``; uvicorn 0.54
  deprecates ``uvicorn.workers.UvicornWorker`` for the uvicorn-worker package), ``defaults``
  (plain ``gunicorn``: one sync worker) and ``granian`` (WSGI, 2 x cores + 1 workers), the
  outside reference;
- ``one_worker``: one sync, gthread and uvicorn worker under prodkit's config on the JSON view,
  beside one granian ASGI and one gunicorn ``-k asgi`` worker: what a sync view pays per
  request for the thread hop under ASGI, with no connection piling up anywhere;
- ``stack``: the JSON view under prodkit's config with Django's default middleware alone
  (``bare``: the example without prodkit's middleware and so without an access log), with
  the example's full stack, and with the full stack but its access log off;
- ``static_asgi``: a hashed stylesheet from whitenoise under one gthread and one uvicorn
  worker, and from servestatic's ASGI middleware under one uvicorn worker, with whether the
  log shows Django's "StreamingHttpResponse must consume synchronous iterators" warning;
- ``startup_s``: seconds from starting prodkit's gunicorn to the first 200 on /healthz and /;
- ``sweep``: prodkit's config with PRODKIT_THREADS 1, 2 and 4 under gthread, the sync class,
  and gthread without worker recycling (PRODKIT_MAX_REQUESTS=0), on both views.

Load comes from wrk (one thread, keep-alive connections) on the same machine: wrk and the
servers share its cores, so a server is measured with about one core of its own. wrk keeps
its connections open, and a uvicorn worker accepts as many as it can: the connections pile
onto a few workers. So every figure has the whole-server requests/s, the per-worker figure
(whole / workers), and how the workers' CPU time split over the round (the busiest worker's
share, and ``effective_workers``: 1 / sum of squared shares, the number of equally busy
workers that split would equal). Memory is each worker's PSS (and RSS) after the rounds.

Telemetry (issue #9) is one variable away: PRODKIT_BENCH_TELEMETRY="NAME=VALUE,..." names what
turns it on; ``stack`` then runs ``stack_full`` (sample rate 1.0) and ``stack_off`` (0.0), both
exporting to a local collector. Without it, both ratios compare the full stack without
telemetry, and ``notes`` says so.

Traffic only ever goes to 127.0.0.1. The last line printed is one JSON object:
``{"figures": ..., "ratios": ..., "notes": [...]}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from django_prodkit.settings.server import cpu_cores, default_workers  # noqa: E402
from tests.example import BIN, EXAMPLE_PROJECT, example_env, manage  # noqa: E402
from tests.servers import free_port, own_http, process_group  # noqa: E402
from tests.services import new_postgres_database  # noqa: E402

HOST = "127.0.0.1"
POSTGRES_URL = os.environ.get(
    "PRODKIT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
GUNICORN = str(BIN / "gunicorn")
GRANIAN = str(BIN / "granian")
PRODKIT_CONF = "python:django_prodkit.gunicorn_conf"
WSGI = "django_prodkit.wsgi:application"
ASGI = "django_prodkit.asgi:application"
VIEWS = {"json": "/api/photos/", "db": "/"}
PHOTOS = 40
STATIC_FILE = "gallery/site.css"
SYNC_ITERATOR_WARNING = "StreamingHttpResponse must consume synchronous iterators"
TELEMETRY_VARIABLE = "PRODKIT_BENCH_TELEMETRY"
SAMPLE_RATE = "PRODKIT_TELEMETRY_SAMPLE_RATE"
# prodkit's check prodkit.I207: under ASGI, a pool instead of persistent connections (Django's
# docs; each request's sync code runs on a thread of its own, and CONN_MAX_AGE leaks one
# connection per request until the database refuses more).
ASGI_DATABASE = {"PRODKIT_DB_POOL": "true"}
# granian's blocking threads per WSGI worker: the best of 1, 2 and 4 in a trial here; its default
# (backlog / workers / 2, ~100 a worker) would keep a database connection per thread.
GRANIAN_THREADS = 4
# Free connection slots the shared PostgreSQL must have before the servers start: the largest
# part holds ~60 (8 uvicorn workers x a pool of 4, granian's threads, prodkit's workers).
CONNECTIONS_NEEDED = 70
# A placeholder instrumentation key: the local collector takes anything.
INSTRUMENTATION_KEY = "00000000-0000-0000-0000-000000000000"

SEED = f"""\
from gallery.models import Photo
Photo.objects.bulk_create(
    Photo(title=f"Photo {{n}}", image=f"photos/2025/01/photo-{{n}}.jpg") for n in range({PHOTOS})
)
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_LATENCY = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


# --- Servers.


@dataclass(frozen=True)
class Config:
    """One way of serving the example: a command line and environment (``{port}`` in either
    is replaced by the port it gets)."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


def prodkit(name: str, **env: str) -> Config:
    """prodkit's gunicorn config as a user starts it: no application argument."""
    database = ASGI_DATABASE if env.get("PRODKIT_WORKER_CLASS") == "uvicorn" else {}
    return Config(
        name,
        (GUNICORN, "-c", PRODKIT_CONF),
        {"PRODKIT_BIND": f"{HOST}:{{port}}", **database, **env},
    )


def handwritten() -> Config:
    """The line copied from blog posts (issue #8), on the maintained uvicorn worker."""
    return Config(
        "handwritten",
        (
            *(GUNICORN, "--workers", "8", "--threads", "4", "--timeout", "60"),
            *("-k", "uvicorn_worker.UvicornWorker", "--bind", f"{HOST}:{{port}}", ASGI),
        ),
        ASGI_DATABASE,
    )


def defaults() -> Config:
    """Plain gunicorn: one sync worker, nothing tuned (the bind is the only option)."""
    return Config("defaults", (GUNICORN, "--bind", f"{HOST}:{{port}}", WSGI))


def granian(interface: str, workers: int) -> Config:
    """granian with ``workers`` processes (WSGI: ``GRANIAN_THREADS`` blocking threads each)."""
    if interface == "wsgi":
        app, options, database = WSGI, ("--blocking-threads", str(GRANIAN_THREADS)), {}
    else:
        app, options, database = ASGI, (), ASGI_DATABASE
    return Config(
        f"granian_{interface}",
        (
            *(GRANIAN, "--interface", interface, "--host", HOST, "--port", "{port}"),
            *("--workers", str(workers), *options, app),
        ),
        database,
    )


def gunicorn_asgi() -> Config:
    """gunicorn's own asyncio ASGI worker (``-k asgi``), one worker, outside prodkit's config
    (which serves ASGI with the uvicorn worker only)."""
    return Config(
        "gunicorn_asgi",
        (GUNICORN, "-k", "asgi", "--bind", f"{HOST}:{{port}}", ASGI),
        ASGI_DATABASE,
    )


@dataclass
class Server:
    """A running server: its master process, port and log."""

    config: Config
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    started: float

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def workers(self) -> list[int]:
        """PIDs of the worker processes: the master's children."""
        return children(self.process.pid)

    def status(self, path: str) -> int | None:
        """Status of one GET, or None when nothing answers yet."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": HOST})
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def wait_for(self, path: str, timeout: float = 120.0) -> float:
        """Wait for a 200 on ``path``; return the seconds since the server was started."""
        deadline = time.monotonic() + timeout
        while self.status(path) != 200:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.config.name} exited:\n{tail(self.log)}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.config.name}: no 200 on {path}:\n{tail(self.log)}")
            time.sleep(0.02)
        return time.perf_counter() - self.started


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def serve(config: Config, env: Mapping[str, str], log: Path) -> Iterator[Server]:
    """Start ``config`` on a free port with ``env`` (the config's variables win); stop it on
    exit. Does not wait for it: see ``Server.wait_for``."""
    port = free_port()
    environment = {**env, **{k: v.format(port=port) for k, v in config.env.items()}}
    argv = [part.format(port=port) for part in config.argv]
    started = time.perf_counter()
    with process_group(argv, log=log, cwd=EXAMPLE_PROJECT, env=environment) as process:
        yield Server(config, port, process, log, started)


# --- /proc: workers, CPU time, memory.


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat from the state on (index 0 is field 3), or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """PIDs of the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User + system CPU clock ticks of each live process in ``pids``."""
    ticks = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def cpu_split(before: dict[int, int], after: dict[int, int]) -> list[float]:
    """Each worker's share of the CPU time the workers used between two readings, busiest
    first. A worker started in between counts from 0; one that exited in between is lost
    (approximate while workers are recycled)."""
    used = {pid: ticks - before.get(pid, 0) for pid, ticks in after.items()}
    total = sum(used.values())
    if not total:
        return []
    return sorted((ticks / total for ticks in used.values()), reverse=True)


def effective_workers(shares: list[float]) -> float:
    """1 / sum of squared shares: 1.0 when one worker did everything, n when n split evenly."""
    return 1 / sum(share * share for share in shares) if shares else 0.0


def memory_mib(pid: int) -> tuple[float, float] | None:
    """(PSS, RSS) of ``pid`` in MiB, from /proc/PID/smaps_rollup; None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = dict(re.findall(r"^(Pss|Rss):\s+(\d+) kB", text, re.MULTILINE))
    return int(values["Pss"]) / 1024, int(values["Rss"]) / 1024


# --- wrk.


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, latency percentiles (ms) and error counts from ``wrk --latency`` output."""
    rate = _RATE.search(output)
    if rate is None:
        raise ValueError(f"no Requests/sec in wrk's output:\n{output}")
    result = {"rps": float(rate.group(1))}
    for percent, value, unit in _LATENCY.findall(output):
        result[f"p{percent}_ms"] = float(value) * _UNITS[unit]
    non_2xx = _NON_2XX.search(output)
    result["non_2xx"] = float(non_2xx.group(1)) if non_2xx else 0.0
    socket = _SOCKET.search(output)
    # Read errors are connections the server closed (the sync worker closes every one);
    # connect errors and timeouts are requests that got no answer.
    result["timeouts"] = float(int(socket.group(1)) + int(socket.group(4))) if socket else 0.0
    return result


def wrk(url: str, connections: int, seconds: float) -> dict[str, float]:
    """Run wrk (one thread, ``connections`` keep-alive connections) against ``url``."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if result.returncode != 0:
        raise SystemExit(f"wrk failed on {url}:\n{result.stdout}{result.stderr}")
    return parse_wrk(result.stdout)


# --- Measuring.


@dataclass
class Bench:
    """What every part shares: the environment, where logs go, and the load's shape."""

    env: dict[str, str]
    tmp: Path
    rounds: int
    seconds: float
    connections: int
    warmup: float
    # The last compare()'s server logs, by config name.
    logs: dict[str, Path] = field(default_factory=dict)

    def compare(
        self,
        configs: list[Config],
        paths: Mapping[str, str],
        rounds: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Serve ``configs`` side by side and load each ``paths`` entry, rounds interleaved;
        return {path name: {config name: summary}}."""
        rounds = rounds or self.rounds
        samples: dict[str, dict[str, list[dict[str, float]]]] = {
            view: {config.name: [] for config in configs} for view in paths
        }
        with ExitStack() as stack:
            servers = [
                stack.enter_context(
                    serve(config, {**self.env, **(env or {})}, self.tmp / f"{config.name}.log")
                )
                for config in configs
            ]
            for server in servers:
                server.wait_for(next(iter(paths.values())))
                for path in paths.values():
                    # Imports, templates, connections: the first requests are not the steady state.
                    wrk(server.url(path), self.connections, self.warmup)
            for number in range(1, rounds + 1):
                for view, path in paths.items():
                    for server in servers:
                        sample = self.measure(server, path)
                        samples[view][server.config.name].append(sample)
                        progress(
                            f"round {number}/{rounds} {view:>6} {server.config.name:<22}"
                            f"{sample['rps']:9.0f} req/s  p99 {sample['p99_ms']:7.1f} ms  "
                            f"busiest worker {sample['busiest_share']:.0%}"
                        )
            memory = {server.config.name: worker_memory(server) for server in servers}
            self.logs = {server.config.name: server.log for server in servers}
        return {
            view: {name: summary(rows, memory[name]) for name, rows in by_config.items()}
            for view, by_config in samples.items()
        }

    def measure(self, server: Server, path: str) -> dict[str, float]:
        """One wrk run on ``server``, with how the workers split the CPU time."""
        workers = server.workers()
        before = cpu_ticks(workers)
        result = wrk(server.url(path), self.connections, self.seconds)
        shares = cpu_split(before, cpu_ticks(server.workers()))
        result["workers"] = len(workers)
        result["busiest_share"] = shares[0] if shares else 0.0
        result["effective_workers"] = effective_workers(shares)
        return result

    def startup(self, config: Config, starts: int) -> dict[str, float]:
        """Median seconds from starting ``config`` to the first 200 on /healthz, then on /."""
        healthz, index = [], []
        for number in range(starts):
            with serve(config, self.env, self.tmp / f"startup-{number}.log") as server:
                healthz.append(server.wait_for("/healthz"))
                index.append(server.wait_for("/"))
            progress(
                f"start {number + 1}/{starts}: /healthz {healthz[-1]:.2f} s, / {index[-1]:.2f} s"
            )
        return {
            "healthz": round(statistics.median(healthz), 2),
            "index": round(statistics.median(index), 2),
            "starts": starts,
        }


def worker_memory(server: Server) -> dict[str, float]:
    """Median PSS and RSS of ``server``'s workers, in MiB."""
    readings = [m for m in map(memory_mib, server.workers()) if m is not None]
    if not readings:
        return {"pss": 0.0, "rss": 0.0}
    return {
        "pss": statistics.median(pss for pss, _ in readings),
        "rss": statistics.median(rss for _, rss in readings),
    }


def summary(rows: list[dict[str, float]], memory: dict[str, float]) -> dict[str, Any]:
    """Medians over rounds, the per-worker rate, and the workers' memory."""

    def median(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    workers = max(1, round(median("workers")))
    return {
        "rps": round(median("rps")),
        "p50_ms": round(median("p50_ms"), 2),
        "p99_ms": round(median("p99_ms"), 2),
        "workers": workers,
        "rps_per_worker": round(median("rps") / workers),
        "busiest_worker_cpu_share": round(median("busiest_share"), 2),
        "effective_workers": round(median("effective_workers"), 1),
        "pss_mib_per_worker": round(memory["pss"], 1),
        "rss_mib_per_worker": round(memory["rss"], 1),
        "errors": int(sum(row["non_2xx"] + row["timeouts"] for row in rows)),
    }


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- The database and the project.


@contextmanager
def bench_database() -> Iterator[str]:
    """URL of a new PostgreSQL database on the shared server, dropped on exit.

    Refuses to start when the server has too few free connection slots: the servers would
    fail with "too many clients", and so would everyone else's."""
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            free = conn.execute(
                "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity"
            ).fetchone()
            if free is None or free[0] < CONNECTIONS_NEEDED:
                raise SystemExit(
                    f"PostgreSQL has {free and free[0]} free connection slots; the benchmark "
                    f"needs about {CONNECTIONS_NEEDED}. Try again when it is less busy."
                )
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"PostgreSQL is not reachable ({exc.__class__.__name__}); set "
            "PRODKIT_TEST_POSTGRES_URL to a server where this user may create databases."
        ) from None
    with new_postgres_database(POSTGRES_URL, "prodkit_bench") as url:
        yield url


def hashed_static_url(static_root: Path, name: str) -> str:
    """The URL of ``name``'s hashed copy, from the manifest collectstatic wrote."""
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    return f"/static/{manifest['paths'][name]}"


def telemetry_env() -> dict[str, str] | None:
    """The variables PRODKIT_BENCH_TELEMETRY names ("NAME=VALUE,..."), or None when unset."""
    value = os.environ.get(TELEMETRY_VARIABLE, "").strip()
    if not value:
        return None
    pairs = [item.partition("=") for item in value.split(",") if item.strip()]
    if any(not sep for _, sep, _ in pairs):
        raise SystemExit(f'{TELEMETRY_VARIABLE} must look like "NAME=VALUE,NAME=VALUE".')
    return {name.strip(): val.strip() for name, _, val in pairs}


# --- The parts.


def part_servers(bench: Bench) -> dict[str, Any]:
    configs = [prodkit("prodkit"), handwritten(), defaults(), granian("wsgi", default_workers())]
    return bench.compare(configs, VIEWS)


def part_one_worker(bench: Bench) -> dict[str, Any]:
    """One worker each, so no connection piles up anywhere: the cost per request of each
    worker class, and granian's and gunicorn's own ASGI servers beside uvicorn."""
    one = {"WEB_CONCURRENCY": "1"}
    configs = [
        prodkit("sync", PRODKIT_WORKER_CLASS="sync", **one),
        prodkit("gthread", PRODKIT_WORKER_CLASS="gthread", **one),
        prodkit("uvicorn", PRODKIT_WORKER_CLASS="uvicorn", **one),
        granian("asgi", 1),
        gunicorn_asgi(),
    ]
    return bench.compare(configs, {"json": VIEWS["json"]})["json"]


def part_stack(bench: Bench, telemetry: dict[str, str] | None) -> dict[str, Any]:
    stack = {"DJANGO_SETTINGS_MODULE": "benchmarks.server_settings", "PYTHONPATH": str(ROOT)}
    configs = [
        prodkit("bare", PRODKIT_BENCH_STACK="bare", **stack),
        # The full stack without its access log line: what the middleware alone costs.
        prodkit(
            "full_no_access_log", PRODKIT_BENCH_STACK="full", PRODKIT_ACCESS_LOG="false", **stack
        ),
    ]
    if telemetry is None:
        configs.append(prodkit("full", PRODKIT_BENCH_STACK="full", **stack))
        return bench.compare(configs, {"json": VIEWS["json"]})["json"]
    with own_http(200) as collector:
        on = {
            **telemetry,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": f"InstrumentationKey={INSTRUMENTATION_KEY};"
            f"IngestionEndpoint=http://{HOST}:{collector.port}/",
        }
        configs += [
            prodkit(
                "stack_full", PRODKIT_BENCH_STACK="full", **stack, **on, **{SAMPLE_RATE: "1.0"}
            ),
            prodkit("stack_off", PRODKIT_BENCH_STACK="full", **stack, **on, **{SAMPLE_RATE: "0.0"}),
        ]
        return bench.compare(configs, {"json": VIEWS["json"]})["json"]


def part_static(bench: Bench, static_url: str) -> dict[str, Any]:
    settings = {
        "DJANGO_SETTINGS_MODULE": "benchmarks.server_settings",
        "PYTHONPATH": str(ROOT),
        "WEB_CONCURRENCY": "1",
    }
    configs = [
        prodkit("whitenoise_gthread", PRODKIT_WORKER_CLASS="gthread", **settings),
        prodkit("whitenoise_uvicorn", PRODKIT_WORKER_CLASS="uvicorn", **settings),
        prodkit(
            "servestatic_uvicorn",
            PRODKIT_WORKER_CLASS="uvicorn",
            PRODKIT_BENCH_STACK="servestatic",
            **settings,
        ),
    ]
    figures = bench.compare(configs, {"static": static_url})["static"]
    for name, log in bench.logs.items():
        figures[name]["sync_iterator_warning"] = SYNC_ITERATOR_WARNING in log.read_text()
    return figures


def part_sweep(bench: Bench, rounds: int) -> dict[str, Any]:
    configs = [
        prodkit(f"gthread_t{threads}", PRODKIT_WORKER_CLASS="gthread", PRODKIT_THREADS=threads)
        for threads in ("1", "2", "4")
    ]
    configs += [
        prodkit("sync", PRODKIT_WORKER_CLASS="sync"),
        prodkit("gthread_no_recycle", PRODKIT_WORKER_CLASS="gthread", PRODKIT_MAX_REQUESTS="0"),
    ]
    return bench.compare(configs, VIEWS, rounds=rounds)


# --- Output.


def ratios(figures: dict[str, Any], telemetry: bool) -> dict[str, float]:
    """The ratios issue #8 names, over whichever parts ran."""
    result = {}
    servers = figures.get("servers")
    if servers:
        for view in VIEWS:
            rps = {name: figure["rps"] for name, figure in servers[view].items()}
            best_other = max(rps["handwritten"], rps["defaults"])
            result[f"{view}_vs_best_other"] = round(rps["prodkit"] / best_other, 3)
        json_rps = {name: figure["rps"] for name, figure in servers["json"].items()}
        best_granian = max(rps for name, rps in json_rps.items() if name.startswith("granian"))
        result["granian_vs_prodkit"] = round(best_granian / json_rps["prodkit"], 3)
    stack = figures.get("stack")
    if stack:
        bare = stack["bare"]["rps"]
        full, off = ("stack_full", "stack_off") if telemetry else ("full", "full")
        result["stack_full_vs_bare"] = round(stack[full]["rps"] / bare, 3)
        result["stack_off_vs_bare"] = round(stack[off]["rps"] / bare, 3)
        result["stack_no_access_log_vs_bare"] = round(stack["full_no_access_log"]["rps"] / bare, 3)
    one = figures.get("one_worker")
    if one:
        result["one_worker_uvicorn_vs_sync"] = round(one["uvicorn"]["rps"] / one["sync"]["rps"], 3)
        result["one_worker_gthread_vs_sync"] = round(one["gthread"]["rps"] / one["sync"]["rps"], 3)
    static = figures.get("static_asgi")
    if static:
        result["servestatic_uvicorn_vs_whitenoise_gthread"] = round(
            static["servestatic_uvicorn"]["rps"] / static["whitenoise_gthread"]["rps"], 3
        )
    return result


def table(title: str, rows: Mapping[str, Mapping[str, Any]]) -> None:
    print(f"{title}:")
    for name, figure in rows.items():
        print(
            f"  {name:<22}{figure['rps']:8} req/s {figure['rps_per_worker']:7}/worker x"
            f"{figure['workers']:<2} p50 {figure['p50_ms']:7.2f} ms  p99 {figure['p99_ms']:7.2f} ms"
            f"  PSS {figure['pss_mib_per_worker']:5.1f} MiB  effective workers "
            f"{figure['effective_workers']:4.1f}  errors {figure['errors']}"
        )


PARTS = ("servers", "one_worker", "stack", "static_asgi", "startup", "sweep")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds (<5 min)")
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated parts ({', '.join(PARTS)})"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk; scripts/system-deps.sh)")
    telemetry = telemetry_env()
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    figures: dict[str, Any] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="prodkit-bench-")))
        database_url = stack.enter_context(bench_database())
        env = example_env(
            tmp,
            DATABASE_URL=database_url,
            DJANGO_DEBUG="false",
            DJANGO_ALLOWED_HOSTS=HOST,
            PRODKIT_HTTPS="false",
        )
        # Every config sizes itself: gunicorn reads WEB_CONCURRENCY too, and prodkit's
        # worker recycling is part of its config.
        for name in ("WEB_CONCURRENCY", "PRODKIT_MAX_REQUESTS"):
            env.pop(name)
        progress("migrating, adding photos, collecting static files")
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "shell", "--command", SEED)
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        bench = Bench(
            env,
            tmp,
            rounds=2 if args.quick else 5,
            seconds=4 if args.quick else 10,
            connections=args.connections,
            warmup=1 if args.quick else 3,
        )
        if "servers" in parts:
            figures["servers"] = part_servers(bench)
        if "one_worker" in parts:
            figures["one_worker"] = part_one_worker(bench)
        if "stack" in parts:
            figures["stack"] = part_stack(bench, telemetry)
        if "static_asgi" in parts:
            static_url = hashed_static_url(Path(env["DJANGO_STATIC_ROOT"]), STATIC_FILE)
            figures["static_asgi"] = part_static(bench, static_url)
        if "startup" in parts:
            figures["startup_s"] = bench.startup(prodkit("prodkit"), 3 if args.quick else 5)
        if "sweep" in parts:
            figures["sweep"] = part_sweep(bench, 1 if args.quick else 3)

    for name in ("servers", "sweep"):
        for view, rows in figures.get(name, {}).items():
            table(f"{name} {view} ({VIEWS[view]})", rows)
    for name in ("one_worker", "stack", "static_asgi"):
        if name in figures:
            table(name, figures[name])
    if "startup_s" in figures:
        print(f"startup: {figures['startup_s']}")
    notes = [
        f"wrk (1 thread) and the servers share this machine's {os.cpu_count()} cores "
        f"({cpu_cores()} usable); {args.connections} keep-alive connections.",
        "handwritten uses uvicorn_worker.UvicornWorker: uvicorn 0.54 deprecates "
        "uvicorn.workers.UvicornWorker in favour of the uvicorn-worker package.",
        "uvicorn runs on asyncio and h11 here (no uvloop or httptools installed).",
        f"granian: 2 x cores + 1 workers, WSGI with {GRANIAN_THREADS} blocking threads each; "
        "granian's and gunicorn's own ASGI servers run one worker, in one_worker.",
        "ASGI servers use prodkit's pool (PRODKIT_DB_POOL=true, check prodkit.I207): with "
        "CONN_MAX_AGE 600 each ASGI request leaked a connection until PostgreSQL refused more.",
        "effective_workers = 1 / sum of squared CPU shares of the workers during a round: "
        "keep-alive connections piling onto few uvicorn workers show as a low number.",
    ]
    if telemetry is None and "stack" in figures:
        notes.append(
            "Telemetry (issue #9) is not built: stack_full_vs_bare and stack_off_vs_bare both "
            f"compare the full stack without telemetry; set {TELEMETRY_VARIABLE} to measure it."
        )
    print(
        json.dumps(
            {
                "benchmark": "server",
                "quick": args.quick,
                "rounds": bench.rounds,
                "seconds_per_round": bench.seconds,
                "connections": args.connections,
                "seconds": round(time.monotonic() - started, 1),
                # Other work on the machine (1-minute load average) at the start and the end.
                "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "figures": figures,
                "ratios": ratios(figures, telemetry is not None),
                "notes": notes,
            }
        )
    )


if __name__ == "__main__":
    main()
