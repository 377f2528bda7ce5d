"""What the real exporters deliver to a local ingestion endpoint, under WSGI and ASGI.

The middleware traces requests made with Django's test clients (the WSGI and the ASGI
handler); every backend sends through its real exporter to ``tests.collector``, and the tests
read the envelopes it received.
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
import threading

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, RequestFactory

from django_prodkit.telemetry import middleware
from django_prodkit.telemetry.context import sample_score
from django_prodkit.telemetry.instrument import active_backend
from tests.collector import INSTRUMENTATION_KEY, Collector

BACKENDS = ("azure", "opencensus", "opentelemetry")
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="session")
def collector():
    """One collector for the session, never stopped: azure-monitor-opentelemetry is configured
    once per process with its address and sends its last metrics at interpreter exit. Its
    thread is a daemon, and nothing calls ``shutdown()`` (which, run at interpreter exit, waits
    forever for a thread that no longer runs)."""
    collector = Collector()
    threading.Thread(target=collector.serve_forever, args=(0.1,), daemon=True).start()
    return collector


@pytest.fixture
def telemetry(settings, collector, request):
    """Telemetry on with the backend the test is parametrized with; returns a flush."""
    settings.ROOT_URLCONF = "tests.urls_telemetry"
    settings.PRODKIT_TELEMETRY_BACKEND = getattr(request, "param", "azure")
    settings.PRODKIT_TELEMETRY_CONNECTION_STRING = collector.connection_string
    settings.PRODKIT_TELEMETRY_EXPORT_INTERVAL = 0.2
    settings.PRODKIT_TELEMETRY_ROLE_NAME = "gallery"
    settings.PRODKIT_TELEMETRY_ROLE_INSTANCE = "instance-1"
    collector.clear()

    def flush() -> None:
        backend = active_backend()
        assert backend is not None
        backend.flush(10.0)

    yield flush
    collector.clear()


def get(mode: str, path: str, **headers):
    if mode == "asgi":
        response = async_to_sync(AsyncClient().get)(path, headers=headers)
    else:
        response = Client().get(path, headers=headers)
    response.close()
    return response


def wait(collector: Collector, kind: str, count: int = 1) -> list[dict]:
    collector.wait_for(lambda c: len(c.items(kind)) >= count, timeout=15)
    return collector.items(kind)


def base(envelope: dict) -> dict:
    return envelope["data"]["baseData"]


MODES = pytest.mark.parametrize("mode", ["wsgi", "asgi"])
EVERY_BACKEND = pytest.mark.parametrize("telemetry", BACKENDS, indirect=True)


@EVERY_BACKEND
@MODES
@pytest.mark.django_db
def test_request_item_is_named_by_route_and_continues_the_trace(telemetry, collector, mode):
    prefix = "/v1/live" if mode == "asgi" else "/articles"
    route = "/v1/live/<int:pk>/" if mode == "asgi" else "/articles/<int:pk>/"
    response = get(
        mode, f"{prefix}/7/?token=secret", traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    )
    assert response.status_code == 200
    telemetry()
    [item] = wait(collector, "Request")
    data = base(item)
    assert item["iKey"] == INSTRUMENTATION_KEY
    assert data["name"] == f"GET {route}"
    assert item["tags"]["ai.operation.name"] == f"GET {route}"
    assert data["responseCode"] == "200"
    assert data["success"] is True
    assert data["url"] == f"http://testserver{prefix}/7/"
    assert "secret" not in str(item)
    assert item["tags"]["ai.operation.id"] == CALLER_TRACE
    assert item["tags"]["ai.operation.parentId"] == CALLER_SPAN
    assert response["traceresponse"] == f"00-{CALLER_TRACE}-{data['id']}-01"


@MODES
@pytest.mark.django_db
def test_a_refused_host_is_not_sent_as_the_url(telemetry, collector, mode):
    response = get(mode, "/articles/400/", host="refused.example")
    assert response.status_code == 400
    telemetry()
    collector.wait_for(lambda c: any(base(i)["responseCode"] == "400" for i in c.items("Request")))
    [url] = [base(i)["url"] for i in collector.items("Request") if "/articles/400/" in str(i)]
    # The server's own name instead (SERVER_NAME).
    assert url.endswith("/articles/400/")
    assert "refused.example" not in url


def test_hosts_are_bounded_and_forgotten_when_allowed_hosts_change(settings):
    factory = RequestFactory()
    for number in range(2 * middleware._HOSTS_MAX):
        middleware._url(factory.get("/", HTTP_HOST=f"h{number}.example"))
    assert len(middleware._hosts) == middleware._HOSTS_MAX
    settings.ALLOWED_HOSTS = ["h1.example"]
    assert not middleware._hosts
    assert middleware._url(factory.get("/a/", HTTP_HOST="h1.example")) == "http://h1.example/a/"
    settings.ALLOWED_HOSTS = ["testserver"]
    # Refused now: the server's own name (RequestFactory's SERVER_NAME).
    assert middleware._url(factory.get("/a/", HTTP_HOST="h1.example")) == "http://testserver/a/"


@EVERY_BACKEND
@MODES
@pytest.mark.django_db
def test_query_and_log_record_carry_the_request_operation(telemetry, collector, mode):
    path = "/v1/live/3/" if mode == "asgi" else "/articles/3/"
    assert get(mode, path).status_code == 200
    telemetry()
    [request] = wait(collector, "Request")
    operation = request["tags"]["ai.operation.id"]
    queries = [
        d for d in wait(collector, "RemoteDependency") if "auth_user" in base(d).get("data", "")
    ]
    assert queries, collector.items("RemoteDependency")
    assert all(q["tags"]["ai.operation.id"] == operation for q in queries)
    # azure-monitor-opentelemetry calls every SQL database "SQL".
    assert base(queries[0])["type"].lower() in {"sqlite", "sql"}
    assert "%s" in base(queries[0])["data"] or "?" in base(queries[0])["data"]
    messages = [m for m in wait(collector, "Message") if "looked up" in base(m)["message"]]
    assert [m["tags"]["ai.operation.id"] for m in messages] == [operation]


@EVERY_BACKEND
@MODES
@pytest.mark.django_db
def test_unhandled_exception_is_an_exception_item(telemetry, collector, mode):
    response = (
        async_to_sync(AsyncClient(raise_request_exception=False).get)("/broken/")
        if mode == "asgi"
        else Client(raise_request_exception=False).get("/broken/")
    )
    assert response.status_code == 500
    telemetry()
    [request] = wait(collector, "Request")
    assert base(request)["success"] is False
    assert base(request)["responseCode"] == "500"
    exceptions = wait(collector, "Exception")
    assert exceptions
    mine = [
        e for e in exceptions if e["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
    ]
    # Once: Django logs the same error to django.request after the signal.
    assert len(mine) == 1, mine
    [detail] = base(mine[0])["exceptions"]
    assert detail["typeName"].endswith("ValueError")
    assert detail["message"] == "the view failed on purpose"


@MODES
@pytest.mark.django_db
def test_excluded_paths_send_nothing(telemetry, collector, mode):
    for path in ("/healthz", "/static/gallery/site.css", "/favicon.ico"):
        get(mode, path)
    get(mode, "/", user_agent="AlwaysOn")
    get(mode, "/articles/1/")
    telemetry()
    requests = wait(collector, "Request")
    assert [base(r)["name"] for r in requests] == ["GET /articles/<int:pk>/"]


@pytest.mark.django_db
def test_sampling_keeps_whole_traces_at_the_configured_rate(telemetry, collector, settings):
    settings.PRODKIT_TELEMETRY_SAMPLE_RATE = 0.25
    client = Client()
    rng = random.Random(9)
    traces = [f"{rng.getrandbits(128):032x}" for _ in range(400)]
    for trace in traces:
        client.get("/articles/1/", headers={"traceparent": f"00-{trace}-{CALLER_SPAN}-01"})
    telemetry()
    kept = {trace for trace in traces if sample_score(trace) < 0.25}
    collector.wait_for(lambda c: len(c.items("Request")) >= len(kept))
    requests = collector.items("Request")
    assert {r["tags"]["ai.operation.id"] for r in requests} == kept
    assert 0.15 < len(kept) / len(traces) < 0.35
    assert {r["sampleRate"] for r in requests} == {25.0}
    # The request's query and log record go with it, or not at all.
    for kind in ("RemoteDependency", "Message"):
        assert {i["tags"]["ai.operation.id"] for i in collector.items(kind)} <= kept


def test_sampling_score_is_application_insights_own():
    from azure.monitor.opentelemetry.exporter.export.trace._utils import _get_DJB2_sample_score

    for n in range(0, 2000, 7):
        trace = f"{n * 2654435761:032x}"[-32:]
        assert sample_score(trace) == pytest.approx(_get_DJB2_sample_score(trace))


@EVERY_BACKEND
@pytest.mark.django_db
def test_outgoing_calls_are_dependencies_and_pass_the_trace_on(telemetry, collector, settings):
    target = f"{collector.endpoint}ping?key=secret"
    assert Client().get("/calls/", {"url": target}).status_code == 200
    telemetry()
    [request] = wait(collector, "Request")
    calls = [d for d in wait(collector, "RemoteDependency", 2) if base(d)["type"] == "HTTP"]
    assert len(calls) == 2, collector.items("RemoteDependency")
    assert {c["tags"]["ai.operation.id"] for c in calls} == {request["tags"]["ai.operation.id"]}
    assert all("secret" not in str(c) for c in calls)
    # The called service got the trace: the request's operation id, a span of its own.
    operation = request["tags"]["ai.operation.id"]
    sent = collector.traceparents[-2:]
    assert [value.split("-")[1] for value in sent] == [operation, operation]
    # (The opentelemetry backend's dependency span gets an id of the SDK's own.)
    if settings.PRODKIT_TELEMETRY_BACKEND != "opentelemetry":
        assert {value.split("-")[2] for value in sent} == {base(c)["id"] for c in calls}


# A fresh interpreter: this one imported requests and httpx long ago.
LAZY_PATCH = """
import sys
import django
from django.conf import settings
settings.configure(PRODKIT_TELEMETRY_BACKEND="console", INSTALLED_APPS=["django_prodkit"])
django.setup()
from django_prodkit.telemetry.instrument import active_backend
assert active_backend() is not None
print(sorted(name for name in ("httpx", "requests") if name in sys.modules))
import requests, httpx
print([hasattr(send, "__wrapped__") for send in (
    requests.Session.send, httpx.Client.send, httpx.AsyncClient.send
)])
"""


def test_http_clients_are_patched_when_imported_not_imported_to_be_patched():
    result = subprocess.run(
        [sys.executable, "-c", LAZY_PATCH], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "[True, True, True]"]


def test_log_records_outside_requests_have_no_operation(telemetry, collector):
    active_backend()  # as the server's application does when it loads the middleware
    logging.getLogger("tests.telemetry").error("a job failed")
    telemetry()
    [message] = wait(collector, "Message")
    assert base(message)["severityLevel"] == 3
    assert "ai.operation.id" not in message["tags"]
