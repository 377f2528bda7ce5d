"""Benchmark: what request telemetry costs (issue #9), prodkit's against the stock way.

Run from the repository root after ``make test`` built .venv (wrk comes from Debian's
packages; scripts/system-deps.sh installs it):

    .venv/bin/python benchmarks/telemetry.py --quick

Like benchmarks/server.py (whose helpers it uses) it creates a PostgreSQL database of its own
on the shared server, migrates the example project into it with a few dozen photos and serves
it on 127.0.0.1 with DEBUG off under prodkit's gunicorn config, once under WSGI and once
under ASGI, with benchmarks/telemetry_settings.py (every variant's settings: the example's
URLs plus ``/bench/ping/``, benchmarks/telemetry_urls.py). Two views are loaded:

- ``/bench/ping/``, a trivial JSON view (``{"ok": true}``, no database): issue #9 states its
  goals on such a view, the hardest case, where telemetry's cost per request is compared with
  almost nothing else. The ratios are computed on it, and the marked delivery requests go to
  it;
- ``/api/photos/``, the example's JSON view (a query of up to 100 rows), where the same cost
  is diluted by real work: ``figures["db_view"]``, its ratios under ``db_view_ratios``.

The variants, side by side in the same run, rounds interleaved (each round loads the trivial
view then the database view, the variants in another order each round, so none always
follows the same neighbour), figures the medians over rounds. After each load the next
waits until the server just loaded is idle (``quiet_s``, a figure): an exporter still sending
a round's items (the stock one takes seconds) would otherwise run beside the next variant's
load and be charged to it. (A plain rotation did that: ``full`` always came after ``stock``.)

- ``bare``: the example without prodkit's middleware (``PRODKIT_BENCH_STACK=bare``, as in
  benchmarks/server_settings.py: Django's default stack), telemetry off: the floor;
- ``stock``: the bare stack with opencensus-ext-django's ``OpencensusMiddleware`` first and
  opencensus-ext-azure's ``AzureExporter``, every request sampled, configured in settings
  the documented way (``PRODKIT_BENCH_TRACER=stock``);
- ``full``: the bare stack with prodkit's ``TelemetryMiddleware`` after
  ``SecurityMiddleware`` (``PRODKIT_BENCH_TRACER=prodkit``), ``PRODKIT_TELEMETRY_BACKEND=azure``
  (prodkit's own exporter, the default backend) at ``PRODKIT_TELEMETRY_SAMPLE_RATE=1.0``;
- ``off``: the same at sample rate 0.0;
- ``opencensus``: the same middleware with ``PRODKIT_TELEMETRY_BACKEND=opencensus``
  (opencensus-ext-azure's ``AzureExporter`` behind it), 1.0;
- ``otel``: ``PRODKIT_TELEMETRY_BACKEND=opentelemetry`` (azure-monitor-opentelemetry), 1.0;
- ``stack``: the example's whole production stack (``production_middleware()``: health,
  trusted proxy, request id and access log line, whitenoise, CSP on Django 6, telemetry)
  with ``full``'s telemetry: what a site runs; a figure (``stack_vs_bare``), not a ratio.

So the ratios weigh telemetry alone: every telemetry variant and ``stock`` add one middleware
and its exporter to the same stack, ``bare``'s. What prodkit's other middleware costs is
benchmarks/server.py's subject (issue #8); ``stack`` shows the two together.

Every variant but ``bare`` exports to a collector of its own (tests/collector.py), so what
arrives is counted per variant. Collectors keep the bodies they receive and decode them only
when read, which happens once the servers have stopped: during the load they cost little.

WSGI is prodkit's config with ``PRODKIT_WORKER_CLASS=sync`` and 2 workers
(``WEB_CONCURRENCY``), as in the issue's table, one thread each. ASGI is
``PRODKIT_WORKER_CLASS=uvicorn`` with ONE worker: wrk's keep-alive connections pile onto
whichever uvicorn worker accepts them first, so with several workers a variant's rate would
depend on how its connections happened to land; one worker each makes the ASGI variants
comparable. Workers are never recycled (``PRODKIT_MAX_REQUESTS=0``): a restart mid-round
would cost a telemetry SDK's start-up in some rounds and not others.

Delivery: after its load rounds each variant gets ``--requests`` (300) sequential requests
whose W3C ``traceparent`` carries a trace id starting with a marker of this run's own; then
every server is stopped with SIGTERM (gunicorn's normal stop, as a platform stops an
instance), and after a few seconds the request items whose ``ai.operation.id`` (the trace id:
prodkit's three backends and ``OpencensusMiddleware`` all continue the caller's trace) starts
with the marker are counted. ``delivered`` is that count over the requests sent: what would
reach Application Insights of the last requests before a restart. The ratio ``delivered`` is
``full``'s, the lower of WSGI and ASGI (goal 1.0); every variant's is a figure. Each figure
also has every item and every request item its collector got beside the requests sent to
both views (wrk's rate x duration, plus the marked requests: approximate).

Traffic only ever goes to 127.0.0.1. The last line printed is one JSON object:
``{"figures": ..., "ratios": ..., "db_view_ratios": ..., "notes": [...]}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server import (  # noqa: E402
    HOST,
    SEED,
    VIEWS,
    Bench,
    Config,
    Server,
    bench_database,
    cpu_ticks,
    prodkit,
    progress,
    serve,
    summary,
    table,
    worker_memory,
    wrk,
)
from django_prodkit.settings.server import cpu_cores  # noqa: E402
from tests.collector import Collector, running_collector  # noqa: E402
from tests.example import EXAMPLE_PROJECT, example_env, manage  # noqa: E402

# The trivial view (the ratios, the delivery requests) and the example's database view.
PING = "/bench/ping/"
PATHS = {"ping": PING, "db_view": VIEWS["json"]}
# (PRODKIT_WORKER_CLASS, WEB_CONCURRENCY, PRODKIT_THREADS); prodkit's config gives sync
# workers one thread whatever PRODKIT_THREADS says (gunicorn would run gthread with more).
INTERFACES = {"wsgi": ("sync", "2", "1"), "asgi": ("uvicorn", "1", "1")}
VARIANTS = ("bare", "stock", "full", "off", "opencensus", "otel", "stack")
# The telemetry variants and the prodkit backend each sends with (stock: none of prodkit's).
TELEMETRY = {
    "stock": "off",
    "full": "azure",
    "off": "azure",
    "opencensus": "opencensus",
    "otel": "opentelemetry",
    "stack": "azure",
}
# Trace ids of the delivery requests start with "de1f" and 12 hex digits of the run's own:
# a random trace id of the load shares those 16 digits once in 2**64.
MARKER_PREFIX = "de1f"
# The servers have exited when the counting starts; this is for the collector's threads to
# finish reading the last posts.
SETTLE_SECONDS = 3.0
# After its load round a server must go quiet before the next round starts: an exporter still
# sending the round's items would run beside the next variant's round and be charged to it.
# Quiet: at most one clock tick (10 ms) of its workers' CPU in a half-second window.
QUIET_WINDOW = 0.5
QUIET_TICKS = 1
QUIET_LIMIT = 20.0
# Every variant's settings (benchmarks/telemetry_settings.py), run from the example project.
SETTINGS_ENV = {"DJANGO_SETTINGS_MODULE": "benchmarks.telemetry_settings", "PYTHONPATH": str(ROOT)}
# A worker pays for its telemetry once, on its first request: building the middleware makes
# the backend, and the first trace imports and configures its SDK (after gunicorn's fork).
# Timed in fresh processes: the first request's time and the second's, after django.setup().
STARTUP_BACKENDS = ("off", "azure", "opencensus", "opentelemetry")
STARTUP_CODE = f"""\
import json, sys, time
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="{HOST}")
times = []
for _ in range(2):
    started = time.perf_counter()
    assert client.get("{PING}").status_code == 200
    times.append(time.perf_counter() - started)
sdks = [name for name in ("opencensus", "opentelemetry", "azure.monitor") if name in sys.modules]
print(json.dumps({{"first_s": times[0], "second_s": times[1], "sdks": sdks}}))
"""


def configs(interface: str, collectors: dict[str, Collector], tmp: Path) -> list[Config]:
    """Every variant under ``interface`` (wsgi, asgi), each telemetry variant sending to its
    collector."""
    worker_class, workers, threads = INTERFACES[interface]
    common = {
        **SETTINGS_ENV,
        "PRODKIT_WORKER_CLASS": worker_class,
        "WEB_CONCURRENCY": workers,
        "PRODKIT_THREADS": threads,
    }
    result = [
        prodkit("bare", **common, PRODKIT_BENCH_STACK="bare", PRODKIT_TELEMETRY_BACKEND="off")
    ]
    for name, backend in TELEMETRY.items():
        env = {
            **common,
            "PRODKIT_BENCH_STACK": "full" if name == "stack" else "bare",
            "PRODKIT_BENCH_TRACER": {"stock": "stock", "stack": "none"}.get(name, "prodkit"),
            "PRODKIT_TELEMETRY_BACKEND": backend,
            "PRODKIT_TELEMETRY_SAMPLE_RATE": "0.0" if name == "off" else "1.0",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": collectors[name].connection_string,
        }
        if name == "stock":
            env.update(
                # Statsbeat would ask the instance metadata endpoint (169.254.169.254).
                APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
                # AzureExporter keeps unsent items in $TMPDIR/opencensus-python-<key hash>
                # and sends them on its next start: a directory of this run's own keeps an
                # earlier run's out of this run's counts.
                TMPDIR=str(tmp / f"{interface}-stock-tmp"),
            )
            Path(env["TMPDIR"]).mkdir(exist_ok=True)
        result.append(prodkit(name, **env))
    return result


def startup(env: dict[str, str], connection_string: str, runs: int) -> dict[str, Any]:
    """Per backend (sampling 1.0, bare's stack plus ``TelemetryMiddleware``), the medians of
    ``runs`` fresh processes: the first request's milliseconds (the middleware built, the
    backend made, its SDK imported and configured) and the second's, and the SDKs imported."""
    rows: dict[str, list[dict[str, Any]]] = {backend: [] for backend in STARTUP_BACKENDS}
    for _ in range(runs):
        for backend, measured in rows.items():
            result = subprocess.run(
                [sys.executable, "-c", STARTUP_CODE],
                cwd=EXAMPLE_PROJECT,
                env={
                    **env,
                    **SETTINGS_ENV,
                    "PRODKIT_BENCH_STACK": "bare",
                    "PRODKIT_BENCH_TRACER": "prodkit",
                    "PRODKIT_TELEMETRY_BACKEND": backend,
                    "PRODKIT_TELEMETRY_SAMPLE_RATE": "1.0",
                    "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string,
                },
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if result.returncode != 0:
                raise SystemExit(f"start-up with {backend} failed:\n{result.stderr}")
            measured.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return {
        backend: {
            "first_request_ms": round(statistics.median(r["first_s"] for r in measured) * 1000, 1),
            "second_request_ms": round(
                statistics.median(r["second_s"] for r in measured) * 1000, 2
            ),
            "sdks_imported": measured[-1]["sdks"],
        }
        for backend, measured in rows.items()
    }


def round_order(servers: list[Server], number: int) -> list[Server]:
    """Round ``number``'s order: the variants shuffled, the same way in every run, so a
    variant follows another neighbour from round to round (a plain rotation keeps them)."""
    order = list(servers)
    random.Random(number).shuffle(order)
    return order


def quiet(server: Server) -> float:
    """Wait until ``server``'s workers are idle (``QUIET_TICKS``); return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < QUIET_LIMIT:
        before = sum(cpu_ticks(server.workers()).values())
        time.sleep(QUIET_WINDOW)
        if sum(cpu_ticks(server.workers()).values()) - before <= QUIET_TICKS:
            break
    return round(time.monotonic() - started, 2)


def marked_traceparent(marker: str, number: int) -> str:
    """A sampled W3C ``traceparent`` whose trace id is ``marker`` then ``number``."""
    return f"00-{marker}{number:016x}-{secrets.token_hex(8)}-01"


def send_marked(server: Server, marker: str, count: int) -> None:
    """``count`` sequential GETs of ``PING``, each continuing a marked trace of its own."""
    for number in range(count):
        connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
        try:
            headers = {"Host": HOST, "traceparent": marked_traceparent(marker, number)}
            connection.request("GET", PING, headers=headers)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise SystemExit(f"{server.config.name}: {response.status} on {PING}")


def collected(collector: Collector, marker: str, marked: int, sent: float) -> dict[str, Any]:
    """What ``collector`` got: every item, the request items, and the share of the ``marked``
    requests whose request item arrived (each trace counted once). Read only once the servers
    have stopped: reading decodes every body the collector kept."""
    requests = collector.items("Request")
    traced = [e for e in collector.envelopes if e.get("tags", {}).get("ai.operation.id")]
    arrived = {
        operation
        for item in requests
        if (operation := item.get("tags", {}).get("ai.operation.id", "")).startswith(marker)
    }
    return {
        "items": len(collector.envelopes),
        # Items of some request's trace: at sampling 0.0 none; a server's own error log line
        # outside any request is still sent.
        "traced_items": len(traced),
        "request_items": len(requests),
        "requests_sent": round(sent),
        "marked_arrived": len(arrived),
        "delivered": round(len(arrived) / marked, 3),
    }


def compare(bench: Bench, interface: str, marked: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Run every variant under ``interface``: load rounds on each of ``PATHS``, marked
    requests, SIGTERM, count. Return {view: {variant: summary}}, the ``ping`` summaries with
    what each collector got."""
    marker = MARKER_PREFIX + secrets.token_hex(6)
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        view: {name: [] for name in VARIANTS} for view in PATHS
    }
    sent = dict.fromkeys(VARIANTS, float(marked))
    with ExitStack() as collecting:
        collectors = {name: collecting.enter_context(running_collector()) for name in TELEMETRY}
        with ExitStack() as serving:
            servers = [
                serving.enter_context(
                    serve(config, bench.env, bench.tmp / f"{interface}-{config.name}.log")
                )
                for config in configs(interface, collectors, bench.tmp)
            ]
            for server in servers:
                server.wait_for(PING)
                # Imports, connections, the SDKs' first export: not the steady state.
                for path in PATHS.values():
                    warmup = wrk(server.url(path), bench.connections, bench.warmup)
                    sent[server.config.name] += warmup["rps"] * bench.warmup
                quiet(server)
            for number in range(bench.rounds):
                for view, path in PATHS.items():
                    for server in round_order(servers, number):
                        sample = bench.measure(server, path)
                        sample["quiet_s"] = quiet(server)
                        samples[view][server.config.name].append(sample)
                        sent[server.config.name] += sample["rps"] * bench.seconds
                        progress(
                            f"{interface} round {number + 1}/{bench.rounds} {view:<8}"
                            f"{server.config.name:<16}{sample['rps']:8.0f} req/s  "
                            f"p50 {sample['p50_ms']:6.1f} ms  p99 {sample['p99_ms']:6.1f} ms"
                        )
            for server in servers:
                send_marked(server, marker, marked)
            memory = {server.config.name: worker_memory(server) for server in servers}
            progress(f"{interface}: {marked} marked requests each sent; stopping (SIGTERM)")
        # The collectors are read only now, the servers gone: decoding costs no load round.
        time.sleep(SETTLE_SECONDS)
        figures = {
            view: {
                name: {
                    **summary(rows, memory[name]),
                    "quiet_s": round(statistics.median(row["quiet_s"] for row in rows), 2),
                }
                for name, rows in by_variant.items()
            }
            for view, by_variant in samples.items()
        }
        for name, collector in collectors.items():
            figures["ping"][name].update(collected(collector, marker, marked, sent[name]))
    return figures


def ratios(figures: dict[str, Any]) -> dict[str, float]:
    """The requests/s ratios issue #9 names, over ``bare``'s and ``stock``'s, from
    {interface: {variant: summary}}."""
    result = {}
    for interface in INTERFACES:
        rps = {name: figure["rps"] for name, figure in figures[interface].items()}
        for name in ("full", "off", "opencensus", "stock"):
            result[f"{interface}_{name}_vs_bare"] = round(rps[name] / rps["bare"], 3)
        result[f"otel_{interface}_vs_bare"] = round(rps["otel"] / rps["bare"], 3)
        result[f"{interface}_full_vs_stock"] = round(rps["full"] / rps["stock"], 3)
    return result


def stack_vs_bare(figures: dict[str, Any]) -> dict[str, float]:
    """``stack``'s requests/s over ``bare``'s, per interface."""
    return {
        interface: round(figures[interface]["stack"]["rps"] / figures[interface]["bare"]["rps"], 3)
        for interface in INTERFACES
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer and shorter rounds (<5 min)")
    size.add_argument("--smoke", action="store_true", help="one short round (the test's)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--requests", type=int, help="marked requests per variant (300; --smoke: 50)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk; scripts/system-deps.sh)")
    marked = args.requests or (50 if args.smoke else 300)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    figures: dict[str, Any] = {"db_view": {}}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="prodkit-bench-")))
        env = example_env(
            tmp,
            DATABASE_URL=stack.enter_context(bench_database()),
            DJANGO_DEBUG="false",
            DJANGO_ALLOWED_HOSTS=HOST,
        )
        progress("migrating, adding photos")
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "shell", "--command", SEED)
        # whitenoise warns at start-up about a missing STATIC_ROOT; the JSON view needs none.
        Path(env["DJANGO_STATIC_ROOT"]).mkdir()
        bench = Bench(
            env,
            tmp,
            rounds=1 if args.smoke else 2 if args.quick else 5,
            seconds=1 if args.smoke else 3 if args.quick else 8,
            connections=args.connections,
            warmup=1 if args.smoke or args.quick else 2,
        )
        for interface in INTERFACES:
            by_view = compare(bench, interface, marked)
            figures[interface] = by_view["ping"]
            figures["db_view"][interface] = by_view["db_view"]
        progress("start-up: the first request of a fresh process, per backend")
        with running_collector() as collector:
            figures["startup"] = startup(env, collector.connection_string, 1 if args.smoke else 5)

    for interface in INTERFACES:
        rows = figures[interface]
        table(f"{interface} ({PING})", rows)
        for name in TELEMETRY:
            row = rows[name]
            print(
                f"  {name:<16} delivered {row['delivered']:.3f}  items {row['items']}  "
                f"request items {row['request_items']} of ~{row['requests_sent']} requests"
            )
        table(f"{interface} ({PATHS['db_view']})", figures["db_view"][interface])
    print("start-up (first and second request of a fresh process, ms):")
    for backend, row in figures["startup"].items():
        print(
            f"  {backend:<14} {row['first_request_ms']:8.1f} {row['second_request_ms']:8.2f}  "
            f"SDKs imported: {', '.join(row['sdks_imported']) or 'none'}"
        )
    figures["stack_vs_bare"] = stack_vs_bare(figures)
    figures["db_view"]["stack_vs_bare"] = stack_vs_bare(figures["db_view"])
    for name in TELEMETRY:
        figures[f"delivered_{name}"] = {
            interface: figures[interface][name]["delivered"] for interface in INTERFACES
        }
    notes = [
        f"wrk (1 thread) and the servers share this machine's {os.cpu_count()} cores "
        f"({cpu_cores()} usable); {args.connections} keep-alive connections; so do the "
        "collectors, which run in this process and decode what the exporters sent only "
        "once the servers have stopped.",
        "WSGI: prodkit's config, PRODKIT_WORKER_CLASS=sync, 2 workers of one thread. ASGI: "
        "PRODKIT_WORKER_CLASS=uvicorn with ONE worker: wrk's keep-alive connections pile onto "
        "the first uvicorn workers to accept them, so one worker each keeps the ASGI variants "
        "comparable.",
        f'ratios are on {PING}, a trivial JSON view ({{"ok": true}}, no database) added '
        "for this benchmark (benchmarks/telemetry_urls.py): issue #9's goals are stated on "
        "such a view, the hardest case, where telemetry's per-request cost is set against "
        f"almost nothing else. db_view_ratios (and figures.db_view) are the same on "
        f"{PATHS['db_view']}, the example's JSON view (a query of up to 100 rows), where that "
        "cost is diluted. Each round loads both views, the variants in the same order.",
        "The ratios weigh telemetry alone: full, off, opencensus and otel are bare's stack "
        "(Django's default) plus TelemetryMiddleware, as stock is bare's stack plus "
        "OpencensusMiddleware. stack_vs_bare (a figure, also under db_view) is the whole "
        "production_middleware() stack, access log line included, with full's telemetry.",
        "stock: OpencensusMiddleware + AzureExporter configured in OPENCENSUS in settings, "
        "ProbabilitySampler(rate=1.0), with APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL=true "
        "(statsbeat would ask 169.254.169.254; only loopback traffic is allowed here) and a "
        "TMPDIR of the run's own (AzureExporter's local storage); otherwise its defaults.",
        "Workers are never recycled (PRODKIT_MAX_REQUESTS=0). Each round takes the variants "
        "in another order (shuffled, seeded by the round number), and each load waits until "
        "the server loaded before it is idle (at most one 10 ms clock tick of its workers' "
        "CPU in half a second; quiet_s is how long that took after its own load: the work "
        "its exporter had left when the load stopped).",
        f"delivered_<variant>: request items of {marked} sequential requests to {PING} sent "
        "after the load, counted by their traceparent's trace id once the servers had stopped "
        "on SIGTERM; off samples at 0.0 and so delivers 0. The ratio delivered is full's, the "
        "lower of WSGI and ASGI. requests_sent counts both views' requests and is approximate "
        "(wrk's rate x duration, plus the marked requests); wrk does not count the requests "
        "in flight when it stops (up to one per connection a run), which the servers still "
        "answer and trace.",
        "startup: per backend, medians of fresh processes (bare's stack plus "
        "TelemetryMiddleware, 1.0) after django.setup(): the first request's milliseconds "
        "(the middleware built, the backend made, its SDK imported and configured: what each "
        "worker pays once) and the second's, and the SDKs the process imported (none when "
        "off). No backend asks the instance metadata endpoint, so none waits for it.",
    ]
    print(
        json.dumps(
            {
                "benchmark": "telemetry",
                "quick": args.quick,
                "smoke": args.smoke,
                "rounds": bench.rounds,
                "seconds_per_round": bench.seconds,
                "connections": args.connections,
                "marked_requests": marked,
                "seconds": round(time.monotonic() - started, 1),
                # Other work on the machine (1-minute load average) at the start and the end.
                "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "figures": figures,
                "ratios": {
                    **ratios(figures),
                    "delivered": min(figures[i]["full"]["delivered"] for i in INTERFACES),
                },
                "db_view_ratios": ratios(figures["db_view"]),
                "notes": notes,
            }
        )
    )


if __name__ == "__main__":
    main()
