"""`make demo`'s server, for real: start it, request pages over HTTP, stop it with Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


@pytest.mark.slow
def test_demo_serves_the_example_over_http_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "PYTHON_DOTENV_DISABLED": "1",
        "DJANGO_SECRET_KEY": "demo-test-" + "k" * 50,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "demo.sh")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, _, body = get(base + "/")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"demo server never answered:\n{log.read_text()}")
                time.sleep(0.3)
        assert status == 200
        output = log.read_text()
        assert f"Serving the example site at {base}/" in output
        assert "Deployment checklist (manage.py prodcheck --live)" in output
        assert re.search(r"^prodcheck: \d+ passed, \d+ warnings, \d+ errors$", output, re.MULTILINE)
        html = body.decode()
        css = re.search(r'href="(/static/gallery/site\.[0-9a-f]{12}\.css)"', html)
        assert css, "the page should link the hashed stylesheet collectstatic made"
        status, headers, _ = get(base + css.group(1))
        assert status == 200
        assert "immutable" in headers["Cache-Control"]
        status, headers, body = get(base + "/api/photos/")
        assert (status, headers["Content-Type"]) == (200, "application/json")
        # Telemetry goes to the console: the request item, as Application Insights would get it.
        assert '"name":"GET /api/photos/"' in log.read_text()
        request_items = [
            json.loads(line)
            for line in log.read_text().splitlines()
            if line.startswith('{"name":"Microsoft.ApplicationInsights.Request"')
        ]
        assert {item["data"]["baseData"]["name"] for item in request_items} >= {
            "GET /",
            "GET /api/photos/",
        }
    finally:
        # Ctrl-C in a terminal signals the whole foreground process group: master and workers.
        os.killpg(process.pid, signal.SIGINT)
        try:
            returncode = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"the demo did not stop within 20 s of Ctrl-C:\n{log.read_text()}")
    assert returncode == 0, log.read_text()
