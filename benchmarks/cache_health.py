"""Benchmark: /readyz latency with Redis up, dead and hung; the resilient cache, dead vs up.

/healthz (same server, no probe) is measured too, as the floor /readyz is compared with.

Run from the repository root after ``make test`` built .venv:

    .venv/bin/python benchmarks/cache_health.py --quick

It starts a Redis of its own (tests/servers.py) and two copies of example_project under
gunicorn with the uvicorn worker on 127.0.0.1, one worker each: one whose default cache is
Django's RedisCache (for /readyz), one whose default cache is
``django_prodkit.cache.ResilientRedisCache`` (for /about/, a ``cache_page`` view). Rounds
interleave the states (up, dead: the process killed, hung: the process stopped, so
connections are accepted and never answered); each figure is the median over rounds of
that round's percentile. Traffic only ever goes to 127.0.0.1; every loop is bounded.

The last line printed is one JSON object with the figures and ``ratios``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.example import example_env, gunicorn, manage  # noqa: E402
from tests.servers import Server, own_redis  # noqa: E402

HOST = "127.0.0.1"


def breaker_cooldown() -> float:
    from django_prodkit.cache import DEFAULT_COOLDOWN

    return float(DEFAULT_COOLDOWN)


class Client:
    """Sequential GETs over one keep-alive connection to 127.0.0.1:port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, float]:
        """Return (status, seconds) of one GET; a dropped connection is reopened once."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
            started = time.perf_counter()
            try:
                self.connection.request("GET", path, headers={"Host": HOST})
                response = self.connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            return response.status, time.perf_counter() - started
        raise AssertionError("unreachable")

    def sample(self, path: str, count: int, expected: int, warmup: int = 3) -> list[float]:
        """Return ``count`` latencies in ms of GET ``path``, after ``warmup`` unmeasured ones;
        every status must be ``expected``."""
        for _ in range(warmup):
            self.get(path)
        latencies = []
        for _ in range(count):
            status, seconds = self.get(path)
            if status != expected:
                raise SystemExit(f"GET {path} answered {status}, expected {expected}")
            latencies.append(seconds * 1000)
        return latencies

    def wait_for(self, path: str, status: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.get(path)[0] != status:
            if time.monotonic() > deadline:
                raise SystemExit(f"GET {path} never answered {status} within {timeout} s")
            time.sleep(0.05)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(rounds: list[list[float]]) -> dict[str, float]:
    """Median over rounds of each round's p50 and p99, in ms."""
    return {
        "p50": round(statistics.median(percentile(r, 0.50) for r in rounds), 3),
        "p99": round(statistics.median(percentile(r, 0.99) for r in rounds), 3),
        "samples": sum(len(r) for r in rounds),
    }


def server_env(tmp: Path, redis_port: int, *, resilient: bool, timeout: float) -> dict[str, str]:
    return example_env(
        tmp,
        CACHE_URL=f"redis://{HOST}:{redis_port}/0",
        PRODKIT_CACHE_RESILIENT="true" if resilient else "false",
        PRODKIT_HEALTH_TIMEOUT=str(timeout),
        # Every /readyz probes: the figure is the probe, not the in-process reuse.
        PRODKIT_HEALTH_CACHE_SECONDS="0",
    )


@contextmanager
def hung(redis: Server) -> Iterator[None]:
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        redis.process.send_signal(signal.SIGCONT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples (~1 min)")
    parser.add_argument(
        "--timeout", type=float, default=1.0, help="PRODKIT_HEALTH_TIMEOUT, seconds (1.0)"
    )
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    count = 100 if args.quick else 400
    hung_count = 5 if args.quick else 15
    timeout = args.timeout

    results: dict[str, list[list[float]]] = {
        "healthz": [],
        "readyz_up": [],
        "readyz_dead": [],
        "readyz_hung": [],
        "resilient_up": [],
        "resilient_dead": [],
    }
    started = time.monotonic()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="prodkit-bench-")))
        redis = stack.enter_context(own_redis())
        plain_env = server_env(tmp, redis.port, resilient=False, timeout=timeout)
        manage(plain_env, "migrate", "--noinput", "--verbosity", "0")
        manage(plain_env, "collectstatic", "--noinput", "--verbosity", "0")
        plain = Client(stack.enter_context(gunicorn(plain_env, tmp / "plain.log")))
        resilient_env = server_env(tmp, redis.port, resilient=True, timeout=timeout)
        resilient = Client(stack.enter_context(gunicorn(resilient_env, tmp / "res.log")))
        plain.wait_for("/readyz", 200)

        for number in range(1, rounds + 1):
            print(f"round {number}/{rounds}", file=sys.stderr)
            # Up; /healthz is the floor: the same stack, no probe.
            results["healthz"].append(plain.sample("/healthz", count, 200))
            results["readyz_up"].append(plain.sample("/readyz", count, 200))
            results["resilient_up"].append(resilient.sample("/about/", count, 200))
            # Dead: the process is gone, connections are refused.
            redis.stop()
            results["readyz_dead"].append(plain.sample("/readyz", count, 503))
            results["resilient_dead"].append(resilient.sample("/about/", count, 200))
            # Hung: connections are accepted and never answered; each probe times out.
            redis.start()
            plain.wait_for("/readyz", 200)
            with hung(redis):
                results["readyz_hung"].append(plain.sample("/readyz", hung_count, 503, 0))
            plain.wait_for("/readyz", 200)
            # Let the resilient cache's circuit breaker (opened while Redis was dead)
            # come to its trial call before the next round measures "up".
            time.sleep(max(0.0, breaker_cooldown() + 0.5 - hung_count * timeout))

    figures = {name: summary(values) for name, values in results.items() if values}
    worst_dead_p99 = max(figures["readyz_dead"]["p99"], figures["readyz_hung"]["p99"])
    ratios = {
        # Over one probe timeout, the worst of dead and hung: at most ~1.0 means the probes
        # run concurrently and the request never waits past its timeout.
        "readyz_dead_p99_vs_timeout": round(worst_dead_p99 / (timeout * 1000), 3),
        "resilient_dead_p50_delta_ms": round(
            figures["resilient_dead"]["p50"] - figures["resilient_up"]["p50"], 3
        ),
        "readyz_up_p50_ms": figures["readyz_up"]["p50"],
    }
    for name, figure in figures.items():
        print(f"{name:>15}: p50 {figure['p50']:8.2f} ms  p99 {figure['p99']:8.2f} ms")
    print(
        json.dumps(
            {
                "benchmark": "cache_health",
                "quick": args.quick,
                "rounds": rounds,
                "timeout_ms": timeout * 1000,
                "seconds": round(time.monotonic() - started, 1),
                **{f"{name}_ms": figure for name, figure in figures.items()},
                "ratios": ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
