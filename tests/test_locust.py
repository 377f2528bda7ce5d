"""The example project's Locust file runs: a short headless load against a real server of the
example project makes requests of every kind it names, and none fails."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.example import BIN, EXAMPLE_PROJECT, example_env, gunicorn, manage

pytestmark = pytest.mark.slow

LOCUSTFILE = EXAMPLE_PROJECT / "locustfile.py"


def test_locustfile_loads_the_example_without_failures(tmp_path):
    env = example_env(tmp_path, WEB_CONCURRENCY="2")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    with gunicorn(env, tmp_path / "gunicorn.log") as port:
        result = subprocess.run(
            [
                str(BIN / "locust"),
                *("-f", str(LOCUSTFILE), "--headless", "--only-summary", "--json"),
                *("--users", "5", "--spawn-rate", "5", "--run-time", "5s"),
                *("--host", f"http://127.0.0.1:{port}"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        server_log = (tmp_path / "gunicorn.log").read_text()
    output = f"{result.stderr}\n--- gunicorn ---\n{server_log}"
    # Locust exits 1 when any request failed.
    assert result.returncode == 0, output
    stats = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert sum(entry["num_requests"] for entry in stats.values()) > 0, output
    assert {
        name: entry["num_failures"] for name, entry in stats.items() if entry["num_failures"]
    } == {}
    # Every visitor starts on the home page and loads its stylesheet, script and logo.
    assert {"/", "static"} <= set(stats), stats.keys()
