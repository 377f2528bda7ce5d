"""The example served by gunicorn with telemetry on: every request arrives, the last batch too.

Each worker makes its backend after the fork; the export interval is a minute, so nothing is
sent while the server runs: what the collector has after gunicorn stopped (SIGTERM, as a
deployment stops it) was sent at worker exit. Under uvicorn workers that needs prodkit's
SIGTERM hook (gunicorn_conf.post_worker_init); without it the stock exporters lose it.
"""

from __future__ import annotations

import urllib.request

import pytest

from tests.collector import running_collector
from tests.example import example_env, gunicorn, manage

pytestmark = pytest.mark.slow
REQUESTS = 60


@pytest.mark.parametrize(
    ("worker_class", "backend"),
    [
        ("uvicorn", "azure"),
        ("uvicorn", "opencensus"),
        ("uvicorn", "opentelemetry"),
        ("sync", "azure"),
        ("gthread", "azure"),
    ],
)
def test_every_request_item_arrives_including_the_last_batch(tmp_path, worker_class, backend):
    with running_collector() as collector:
        env = example_env(
            tmp_path,
            APPLICATIONINSIGHTS_CONNECTION_STRING=collector.connection_string,
            PRODKIT_TELEMETRY_BACKEND=backend,
            PRODKIT_TELEMETRY_EXPORT_INTERVAL="60",
            PRODKIT_WORKER_CLASS=worker_class,
            WEB_CONCURRENCY="2",
        )
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        with gunicorn(env, tmp_path / "gunicorn.log") as port:
            for n in range(REQUESTS):
                url = f"http://127.0.0.1:{port}/api/photos/?n={n}"
                with urllib.request.urlopen(url, timeout=10) as response:
                    assert response.status == 200
                    assert response.headers["traceresponse"].startswith("00-")
        # gunicorn has stopped: whatever arrived was sent by the exiting workers.
        collector.wait_for(lambda c: len(c.items("Request")) >= REQUESTS, timeout=10)
        requests = collector.items("Request")
        names = {r["data"]["baseData"]["name"] for r in requests}
        assert len(requests) == REQUESTS, (tmp_path / "gunicorn.log").read_text()[-3000:]
        assert names == {"GET /api/photos/"}
        roles = {r["tags"]["ai.cloud.role"] for r in requests}
        assert roles == {"example_project"}
