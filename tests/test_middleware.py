"""RequestIdMiddleware under WSGI (Client) and ASGI (AsyncClient)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from django_prodkit.log import JsonFormatter, RequestIdFilter, request_id_var
from django_prodkit.middleware import RequestIdMiddleware

MIDDLEWARE = "django_prodkit.middleware.RequestIdMiddleware"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
ARR_LOG_ID = "e2a5f3c8-1d2b-4c5e-9f7a-0b1c2d3e4f50"
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def urls(settings):
    settings.ROOT_URLCONF = "tests.urls_middleware"
    settings.MIDDLEWARE = [MIDDLEWARE]


@contextmanager
def json_log(name: str) -> Iterator[Callable[[], list[dict]]]:
    """Collect what logger ``name`` writes at INFO and above, through prodkit's request-id
    filter and JSON formatter; yield a function returning the lines, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def view_log():
    """The JSON lines the test views log."""
    with json_log("tests.urls_middleware") as lines:
        yield lines


def get_sync(path, headers):
    return Client().get(path, headers=headers)


def get_async(path, headers):
    return asyncio.run(AsyncClient().get(path, headers=headers))


CLIENTS = [
    pytest.param(get_sync, "/sync/", id="wsgi"),
    pytest.param(get_async, "/async/", id="asgi"),
    pytest.param(get_async, "/sync/", id="asgi-sync-view"),
]

HEADERS = [
    pytest.param({"X-Request-ID": "abc-123"}, "abc-123", id="x-request-id"),
    pytest.param({"X-Request-ID": "a.b_c:d-E9"}, "a.b_c:d-E9", id="x-request-id-all-safe-chars"),
    pytest.param({"X-Request-ID": "x" * 128}, "x" * 128, id="x-request-id-128-chars"),
    pytest.param({"X-Request-ID": "x" * 129}, None, id="x-request-id-too-long"),
    pytest.param({"X-Request-ID": ""}, None, id="x-request-id-empty"),
    pytest.param({"X-Request-ID": "abc def"}, None, id="x-request-id-space"),
    pytest.param({"X-Request-ID": "abc\r\nSet-Cookie: a=b"}, None, id="x-request-id-crlf"),
    pytest.param({"X-Request-ID": "abc\n"}, None, id="x-request-id-trailing-newline"),
    pytest.param({"X-Request-ID": "<script>"}, None, id="x-request-id-markup"),
    pytest.param({"traceparent": TRACEPARENT}, TRACE_ID, id="traceparent"),
    pytest.param(
        {"traceparent": f"01-{TRACE_ID}-00f067aa0ba902b7-01-future"}, TRACE_ID, id="traceparent-v01"
    ),
    pytest.param({"traceparent": TRACEPARENT.upper()}, None, id="traceparent-uppercase"),
    pytest.param({"traceparent": f"{TRACEPARENT}-extra"}, None, id="traceparent-v00-extra"),
    pytest.param({"traceparent": f"ff-{TRACE_ID}-00f067aa0ba902b7-01"}, None, id="traceparent-ff"),
    pytest.param(
        {"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}, None, id="traceparent-zero-trace"
    ),
    pytest.param(
        {"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01"}, None, id="traceparent-zero-parent"
    ),
    pytest.param({"traceparent": "00-abc-def-01"}, None, id="traceparent-short"),
    pytest.param({"X-ARR-LOG-ID": ARR_LOG_ID}, ARR_LOG_ID, id="arr-log-id"),
    pytest.param({"X-ARR-LOG-ID": "bad id\r\n"}, None, id="arr-log-id-unsafe"),
    pytest.param(
        {"X-Request-ID": "mine", "traceparent": TRACEPARENT, "X-ARR-LOG-ID": ARR_LOG_ID},
        "mine",
        id="x-request-id-wins",
    ),
    pytest.param(
        {"X-Request-ID": "no way", "traceparent": TRACEPARENT, "X-ARR-LOG-ID": ARR_LOG_ID},
        TRACE_ID,
        id="traceparent-before-arr",
    ),
    pytest.param(
        {"X-Request-ID": "no way", "X-ARR-LOG-ID": ARR_LOG_ID}, ARR_LOG_ID, id="arr-as-fallback"
    ),
    pytest.param({}, None, id="no-headers"),
]


@pytest.mark.parametrize(("get", "path"), CLIENTS)
@pytest.mark.parametrize(("headers", "expected"), HEADERS)
def test_request_id_from_headers_or_new(get, path, headers, expected):
    response = get(path, headers)
    assert response.status_code == 200
    seen = response.json()
    request_id = response.headers["X-Request-ID"]
    if expected is None:
        assert GENERATED.fullmatch(request_id)
        assert request_id not in headers.values()
    else:
        assert request_id == expected
    assert seen == {"request_id": request_id, "var": request_id}
    assert request_id_var.get() is None


@pytest.mark.parametrize(("get", "path"), CLIENTS)
def test_each_request_gets_its_own_id(get, path):
    first = get(path, {}).headers["X-Request-ID"]
    second = get(path, {}).headers["X-Request-ID"]
    assert first != second


@pytest.mark.parametrize(("get", "path"), CLIENTS)
def test_log_line_inside_the_view_carries_the_id(get, path, view_log):
    response = get(path, {"X-Request-ID": "trace-me"})
    assert response.headers["X-Request-ID"] == "trace-me"
    [line] = view_log()
    assert line["request_id"] == "trace-me"
    assert line["message"].startswith("inside the")


def test_log_line_outside_a_request_has_no_id(view_log):
    logging.getLogger("tests.urls_middleware").info("no request")
    assert view_log()[0]["request_id"] == "-"


@pytest.mark.parametrize(
    ("get", "kind"),
    [pytest.param(get_sync, Client, id="wsgi"), pytest.param(get_async, AsyncClient, id="asgi")],
)
def test_failing_view_still_gets_the_header_and_resets(get, kind):
    client = kind(raise_request_exception=False)
    if kind is AsyncClient:
        response = asyncio.run(client.get("/fail/", headers={"X-Request-ID": "oops-1"}))
    else:
        response = client.get("/fail/", headers={"X-Request-ID": "oops-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "oops-1"
    assert request_id_var.get() is None


def test_exception_from_get_response_resets_the_variable_sync():
    def get_response(request):
        assert request_id_var.get() == "boom-1"
        raise RuntimeError("downstream failed")

    middleware = RequestIdMiddleware(get_response)
    request = RequestFactory().get("/", headers={"X-Request-ID": "boom-1"})
    with pytest.raises(RuntimeError, match="downstream failed"):
        middleware(request)
    assert request_id_var.get() is None


def test_exception_from_get_response_resets_the_variable_async():
    async def get_response(request):
        assert request_id_var.get() == "boom-2"
        raise RuntimeError("downstream failed")

    async def run():
        middleware = RequestIdMiddleware(get_response)
        request = RequestFactory().get("/", headers={"X-Request-ID": "boom-2"})
        with pytest.raises(RuntimeError, match="downstream failed"):
            await middleware(request)
        return request_id_var.get()

    assert asyncio.run(run()) is None


def test_variable_is_restored_not_cleared():
    """Token-based reset: a value set around the request (a job runner's) survives it."""
    outer = request_id_var.set("outer-job")
    try:
        middleware = RequestIdMiddleware(lambda request: HttpResponse())
        middleware(RequestFactory().get("/", headers={"X-Request-ID": "inner"}))
        assert request_id_var.get() == "outer-job"
    finally:
        request_id_var.reset(outer)


def test_async_get_response_makes_an_async_middleware():
    async def get_response(request):
        return HttpResponse()

    middleware = RequestIdMiddleware(get_response)
    assert iscoroutinefunction(middleware)
    response = asyncio.run(middleware(RequestFactory().get("/")))
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_sync_get_response_makes_a_sync_middleware():
    middleware = RequestIdMiddleware(lambda request: HttpResponse())
    assert not iscoroutinefunction(middleware)
    response = middleware(RequestFactory().get("/"))
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


@pytest.mark.parametrize(
    ("middleware", "adapted"),
    [
        pytest.param(MIDDLEWARE, False, id="request-id-middleware"),
        pytest.param("tests.urls_middleware.SyncOnlyMiddleware", True, id="control-sync-only"),
    ],
)
def test_asgi_runs_the_middleware_without_a_thread_hop(settings, caplog, middleware, adapted):
    # Django logs each sync_to_async/async_to_sync adaptation at DEBUG when DEBUG is on.
    settings.DEBUG = True
    settings.MIDDLEWARE = [middleware]
    caplog.set_level(logging.DEBUG, logger="django.request")
    response = asyncio.run(AsyncClient().get("/async/"))
    assert response.status_code == 200
    messages = [
        r.getMessage() for r in caplog.records if "adapted for middleware" in r.getMessage()
    ]
    assert bool([m for m in messages if middleware in m]) is adapted


# --- the access log ------------------------------------------------------------------------


@pytest.fixture
def access_log():
    """The JSON lines of ``django_prodkit.access``."""
    with json_log("django_prodkit.access") as lines:
        yield lines


@pytest.mark.parametrize(("get", "path"), CLIENTS)
def test_each_request_is_logged_once_with_its_id(get, path, access_log):
    response = get(f"{path}?token=planted-SECRET", {"X-Request-ID": "req-7"})
    [line] = access_log()
    assert line["request_id"] == "req-7"
    assert line["logger"] == "django_prodkit.access"
    assert line["level"] == "INFO"
    assert line["status"] == response.status_code == 200
    assert line["method"] == "GET"
    # The path alone: query strings may carry tokens.
    assert line["path"] == path
    assert "planted-SECRET" not in json.dumps(line)
    assert line["client"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["message"] == f'127.0.0.1 "GET {path}" 200 {line["duration_ms"]}ms'


def test_a_failing_view_is_logged_with_its_500(access_log):
    response = Client(raise_request_exception=False).get("/fail/")
    assert response.status_code == 500
    [line] = access_log()
    assert line["status"] == 500


@pytest.mark.parametrize(("get", "path"), CLIENTS)
def test_access_log_can_be_turned_off(get, path, settings, access_log):
    settings.PRODKIT_ACCESS_LOG = False
    assert get(path, {}).status_code == 200
    assert access_log() == []
