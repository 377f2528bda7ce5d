"""Benchmark: `prodcheck` against Django's `check --deploy`, and `--live` with every service dead.

Run from the repository root after ``make test`` built .venv:

    .venv/bin/python benchmarks/prodcheck.py --quick

On the example project (SQLite, collected static files, in a temporary directory):

- wall time of a `manage.py check --deploy` process on the stock project (django_prodkit
  not in INSTALLED_APPS, so only Django's checks) and of `manage.py prodcheck`, interleaved,
  medians; and the number of checks each runs (check functions for Django, check IDs for
  prodkit; see docs/architecture.md);
- `prodcheck --live` with the database, cache, SMTP server and telemetry endpoint all pointed
  at a port that accepts connections and never answers (a hung service: the worst case, where
  only timeouts help), against `prodcheck` without probes: the difference over the probe
  timeout is how late a dead environment makes the run.

Traffic only ever goes to 127.0.0.1. The last line printed is one JSON object with the figures
and ``ratios``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.example import EXAMPLE_PROJECT, example_env, manage  # noqa: E402
from tests.servers import hung_port  # noqa: E402

HOST = "127.0.0.1"
STOCK_SETTINGS = """\
from example_project.settings import *  # noqa: F403

# The same project without prodkit's app: only Django's own checks are registered.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_prodkit"]  # noqa: F405
"""
COUNT_CHECKS = (
    "import django; django.setup(); "
    "from django.core.checks.registry import registry; "
    "print(len(registry.get_checks(include_deployment_checks=True)))"
)


def run(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0, 1)) -> tuple[float, str]:
    """Run ``manage.py ARGS``; return its wall time in seconds and its stdout."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode not in ok:
        raise SystemExit(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return seconds, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about a minute)")
    parser.add_argument("--timeout", type=float, default=2.0, help="probe timeout, seconds (2)")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    live_rounds = 3 if args.quick else 7
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="prodkit-bench-") as name:
        tmp = Path(name)
        (tmp / "stock_settings.py").write_text(STOCK_SETTINGS)
        env = example_env(tmp, WEB_CONCURRENCY="4")
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        stock = {
            **env,
            "DJANGO_SETTINGS_MODULE": "stock_settings",
            "PYTHONPATH": f"{tmp}:{EXAMPLE_PROJECT}",
        }
        stock_checks = int(run(stock, "shell", "-c", COUNT_CHECKS, ok=(0,))[1].split()[-1])
        document = json.loads(run(env, "prodcheck", "--format", "json")[1])
        prodcheck_checks = document["summary"]["checks"]
        times: dict[str, list[float]] = {"check_deploy": [], "prodcheck": [], "prodkit_check": []}
        for number in range(1, rounds + 1):
            print(f"round {number}/{rounds}", file=sys.stderr)
            times["check_deploy"].append(run(stock, "check", "--deploy")[0])
            times["prodcheck"].append(run(env, "prodcheck")[0])
            # For reference: check --deploy once prodkit is installed (runs its checks too).
            times["prodkit_check"].append(run(env, "check", "--deploy")[0])
        live: dict[str, list[float]] = {"plain": [], "live_dead": []}
        with hung_port() as port:
            dead = {
                **env,
                "DATABASE_URL": f"postgres://prodkit:not-a-secret@{HOST}:{port}/app",
                "CACHE_URL": f"redis://{HOST}:{port}/0",
                "EMAIL_URL": f"smtp://{HOST}:{port}",
                "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                    f"IngestionEndpoint=http://{HOST}:{port}/"
                ),
            }
            timeout = str(args.timeout)
            for number in range(1, live_rounds + 1):
                print(f"live round {number}/{live_rounds}", file=sys.stderr)
                live["plain"].append(run(dead, "prodcheck", "--timeout", timeout)[0])
                live["live_dead"].append(run(dead, "prodcheck", "--live", "--timeout", timeout)[0])
            failed_probes = [
                p["name"]
                for p in json.loads(
                    run(dead, "prodcheck", "--live", "--timeout", timeout, "--format", "json")[1]
                )["probes"]
                if not p["ok"]
            ]
    medians = {name: round(statistics.median(values), 3) for name, values in times.items()}
    live_medians = {name: round(statistics.median(values), 3) for name, values in live.items()}
    overrun = live_medians["live_dead"] - live_medians["plain"] - args.timeout
    ratios = {
        "time_vs_check_deploy": round(medians["prodcheck"] / medians["check_deploy"], 3),
        "checks_vs_check_deploy": round(prodcheck_checks / stock_checks, 3),
        "live_dead_overrun_s": round(overrun, 3),
    }
    print(
        f"check --deploy (stock): {medians['check_deploy']:.3f} s, {stock_checks} checks\n"
        f"prodcheck:              {medians['prodcheck']:.3f} s, {prodcheck_checks} checks\n"
        f"check --deploy (prodkit installed): {medians['prodkit_check']:.3f} s\n"
        f"prodcheck --live, every service hung: {live_medians['live_dead']:.3f} s "
        f"(without --live {live_medians['plain']:.3f} s, timeout {args.timeout} s); "
        f"failed probes: {', '.join(failed_probes)}"
    )
    print(
        json.dumps(
            {
                "benchmark": "prodcheck",
                "quick": args.quick,
                "rounds": rounds,
                "live_rounds": live_rounds,
                "probe_timeout_s": args.timeout,
                "seconds": round(time.monotonic() - started, 1),
                "wall_s": medians,
                "live_wall_s": live_medians,
                "checks": {"check_deploy": stock_checks, "prodcheck": prodcheck_checks},
                "failed_probes": failed_probes,
                "ratios": ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
