"""/healthz and /readyz: under WSGI (Client) and ASGI (AsyncClient), with real Redis servers
that die, hang and come back, and through a real gunicorn + uvicorn server."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import threading
import time
from contextlib import contextmanager

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, Client

from django_prodkit.env import Env
from django_prodkit.health import HEALTH_PATHS, health_path, is_health_path
from django_prodkit.settings.health import health_from_env, health_settings
from tests.example import example_env, gunicorn
from tests.servers import own_redis

TIMEOUT = 0.5
TOKEN = "health-token-" + "t" * 24
BOGUS_HOST = "10.0.0.5:8000"


def get_sync(path, headers=None, method="get"):
    return getattr(Client(), method)(path, headers=headers or {})


def get_async(path, headers=None, method="get"):
    return asyncio.run(getattr(AsyncClient(), method)(path, headers=headers or {}))


CLIENTS = [pytest.param(get_sync, id="wsgi"), pytest.param(get_async, id="asgi")]


def get_sync_host(path, host):
    return Client(HTTP_HOST=host).get(path).status_code


def asgi_get(path, headers, client=("169.254.130.1", 50000)):
    """GET ``path`` from Django's ASGI handler with exactly these headers and this peer
    (AsyncClient always adds its own Host and a 127.0.0.1 peer); return (status, body)."""

    async def run():
        sent = []
        requested = False

        async def receive():
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never goes away first

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
            "client": client,
            "server": ("10.0.0.5", 8000),
        }
        await ASGIHandler()(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, body

    return asyncio.run(run())


def get_asgi_host(path, host):
    return asgi_get(path, [("host", host)])[0]


@pytest.fixture(autouse=True)
def health(settings):
    """Short timeouts, no result reuse (each request probes), no token: unless a test says."""
    settings.PRODKIT_HEALTH_TIMEOUT = TIMEOUT
    settings.PRODKIT_HEALTH_CACHE_SECONDS = 0
    settings.PRODKIT_HEALTH_TOKEN = None
    return settings


@pytest.fixture
def redis_cache(settings):
    """A Redis of the test's own as the default cache."""
    with own_redis() as server:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{server.port}/0",
            }
        }
        yield server


@contextmanager
def hung(*servers):
    """Freeze servers: the kernel still accepts connections, nothing ever answers."""
    for server in servers:
        server.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for server in servers:
            server.process.send_signal(signal.SIGCONT)


def details(response):
    return {name: check["status"] for name, check in response.json()["checks"].items()}


@pytest.mark.parametrize("get", CLIENTS)
def test_liveness_answers_without_calling_anything(get):
    response = get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
@pytest.mark.parametrize("get", CLIENTS)
@pytest.mark.parametrize("path", ["/readyz", "/readyz/", "/healthz/"])
def test_readiness_ok_when_every_dependency_answers(get, path):
    response = get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
@pytest.mark.parametrize("get", CLIENTS)
@pytest.mark.parametrize("path", HEALTH_PATHS)
def test_head_gets_the_status_without_a_body(get, path):
    response = get(path, method="head")
    assert response.status_code == 200
    assert response.content == b""
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("get", CLIENTS)
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_are_left_to_the_project(get, method):
    # Not answered by the middleware; the example project routes nothing there.
    assert get("/healthz", method=method).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status_for", [pytest.param(get_sync_host, id="wsgi"), pytest.param(get_asgi_host, id="asgi")]
)
def test_unknown_host_over_plain_http_is_answered_on_health_paths_only(settings, status_for):
    # What App Service's health check sends: the instance's own address, plain HTTP.
    settings.SECURE_SSL_REDIRECT = True
    assert BOGUS_HOST.split(":")[0] not in settings.ALLOWED_HOSTS
    for path in ("/healthz", "/readyz", "/healthz/", "/readyz/"):
        assert status_for(path, BOGUS_HOST) == 200, path
    for path in ("/", "/healthzz", "/api/photos/", "/admin/", "/static/x.css"):
        assert status_for(path, BOGUS_HOST) == 400, path
    # A known host over plain HTTP is still redirected everywhere else.
    assert status_for("/", "testserver") == 301


@pytest.mark.django_db
@pytest.mark.parametrize("get", CLIENTS)
def test_no_session_cookie_and_no_csrf_cookie(settings, get):
    settings.SESSION_SAVE_EVERY_REQUEST = True
    settings.CSRF_USE_SESSIONS = False
    for path in HEALTH_PATHS:
        response = get(path)
        assert response.status_code == 200
        assert not response.cookies, path
        assert "Set-Cookie" not in response.headers


@pytest.mark.django_db
@pytest.mark.parametrize("get", CLIENTS)
def test_details_only_with_the_token(settings, get):
    settings.PRODKIT_HEALTH_TOKEN = TOKEN
    response = get("/readyz", {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "storage"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert isinstance(check["latency_ms"], float)
        assert "error" not in check
    assert TOKEN not in response.content.decode()
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ):
        assert get("/readyz", headers).json() == {"status": "ok"}, headers
    # Liveness has no checks to detail, only the client address the app believes.
    assert get("/healthz", {"Authorization": f"Bearer {TOKEN}"}).json() == {
        "status": "ok",
        "client": "127.0.0.1",
    }


@pytest.mark.parametrize("get", CLIENTS)
@pytest.mark.parametrize(
    ("proxies", "expected"),
    [
        pytest.param([], "127.0.0.1", id="no-proxy-spoof-ignored"),
        pytest.param(["127.0.0.1"], "203.0.113.9", id="trusted-proxy-believed"),
        pytest.param(["10.0.0.0/8"], "127.0.0.1", id="untrusted-peer-spoof-ignored"),
    ],
)
def test_health_reports_the_believed_client_with_the_token(settings, get, proxies, expected):
    settings.PRODKIT_HEALTH_TOKEN = TOKEN
    settings.PRODKIT_TRUSTED_PROXIES = proxies
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "203.0.113.9"}
    assert get("/healthz", headers).json()["client"] == expected
    assert "client" not in get("/healthz", {"X-Forwarded-For": "203.0.113.9"}).json()


@pytest.mark.django_db
@pytest.mark.parametrize("get", CLIENTS)
def test_no_token_configured_means_no_details_for_anyone(get):
    assert get("/readyz", {"Authorization": "Bearer "}).json() == {"status": "ok"}
    assert get("/readyz", {"Authorization": "Bearer None"}).json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("get", CLIENTS)
def test_readiness_follows_redis_down_and_up(settings, redis_cache, get, caplog):
    caplog.set_level("INFO", logger="django_prodkit.health")
    settings.PRODKIT_HEALTH_TOKEN = TOKEN
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert get("/readyz", auth).status_code == 200

    redis_cache.stop()
    started = time.monotonic()
    response = get("/readyz", auth)
    assert time.monotonic() - started < TIMEOUT + 0.5
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert details(response) == {"database": "ok", "cache": "unavailable", "storage": "ok"}
    assert response.json()["checks"]["cache"]["error"] == "ConnectionError"
    assert get("/readyz").json() == {"status": "unavailable"}
    # Liveness does not care.
    assert get("/healthz").status_code == 200

    redis_cache.start()
    assert get("/readyz", auth).status_code == 200
    assert [r.getMessage() for r in caplog.records] == [
        "Readiness: unavailable; failing checks: cache (ConnectionError).",
        "Readiness: ok.",
    ]


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("get", CLIENTS)
def test_a_resilient_cache_down_is_reported_but_not_unready(settings, redis_cache, get):
    settings.PRODKIT_HEALTH_TOKEN = TOKEN
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "BACKEND": "django_prodkit.cache.ResilientRedisCache",
        }
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert get("/readyz", auth).json()["checks"]["cache"] == {
        "status": "ok",
        "latency_ms": pytest.approx(0, abs=TIMEOUT * 1000),
        "required": False,
    }
    redis_cache.stop()
    response = get("/readyz", auth)
    assert response.status_code == 200
    # Seen beneath the resilience, which would have answered a miss.
    assert response.json()["checks"]["cache"]["status"] == "unavailable"
    assert response.json()["checks"]["cache"]["error"] == "ConnectionError"
    assert get("/readyz").json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("get", CLIENTS)
def test_hung_dependencies_cost_one_timeout_not_the_sum(settings, get):
    settings.PRODKIT_HEALTH_TOKEN = TOKEN
    settings.PRODKIT_HEALTH_CHECKS = ["database", "cache", "cache:second", "storage"]
    with own_redis() as first, own_redis() as second:
        settings.CACHES = {
            alias: {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{server.port}/0",
            }
            for alias, server in (("default", first), ("second", second))
        }
        assert get("/readyz").status_code == 200
        with hung(first, second):
            started = time.monotonic()
            response = get("/readyz", {"Authorization": f"Bearer {TOKEN}"})
            elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + 0.3, elapsed
        checks = response.json()["checks"]
        for name in ("cache", "cache:second"):
            assert checks[name] == {
                "status": "unavailable",
                "latency_ms": TIMEOUT * 1000,
                "error": "TimeoutError",
            }
        assert checks["database"]["status"] == checks["storage"]["status"] == "ok"
        # Once the servers answer again, so does readiness.
        deadline = time.monotonic() + 5
        while get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "readiness never recovered"
            time.sleep(0.05)


def probe_threads():
    return {t.ident for t in threading.enumerate() if t.name.startswith("prodkit-health-")}


@pytest.mark.django_db
@pytest.mark.slow
def test_a_probe_storm_against_a_hung_cache_starts_no_thread(settings, redis_cache):
    assert get_sync("/readyz").status_code == 200
    # One worker per check, kept between probes (workers of earlier tests may still be
    # winding down: nothing new may appear, things may go).
    workers = probe_threads()
    statuses = []

    def probe():
        statuses.append(get_sync("/readyz").status_code)

    with hung(redis_cache):
        storm = [threading.Thread(target=probe) for _ in range(20)]
        for thread in storm:
            thread.start()
        time.sleep(TIMEOUT / 2)
        assert probe_threads() <= workers
        for thread in storm:
            thread.join(timeout=10)
        assert statuses == [503] * 20
        # Later requests still join the probe that has been stuck since the first storm.
        assert get_async("/readyz").status_code == 503
        assert probe_threads() <= workers


@pytest.mark.django_db
@pytest.mark.slow
def test_results_are_reused_for_cache_seconds(settings, redis_cache):
    settings.PRODKIT_HEALTH_CACHE_SECONDS = 0.5
    assert get_sync("/readyz").status_code == 200
    redis_cache.stop()
    # Within the window the last result stands, under WSGI and ASGI alike.
    assert get_sync("/readyz").status_code == 200
    assert get_async("/readyz").status_code == 200
    time.sleep(0.6)
    assert get_sync("/readyz").status_code == 503


@pytest.mark.django_db
@pytest.mark.parametrize("get", CLIENTS)
def test_a_missing_alias_is_a_failing_check_not_a_crash(settings, get):
    settings.PRODKIT_HEALTH_TOKEN = TOKEN
    settings.PRODKIT_HEALTH_CHECKS = ["database:nope", "cache:nope", "storage:nope"]
    response = get("/readyz", {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    errors = {name: check["error"] for name, check in response.json()["checks"].items()}
    assert errors == {
        "database:nope": "ConnectionDoesNotExist",
        "cache:nope": "InvalidCacheBackendError",
        "storage:nope": "InvalidStorageError",
    }


def test_the_database_is_probed_for_real(settings):
    # Without pytest-django's database access the probe fails: it does hit the database.
    response = get_sync("/readyz")
    assert response.status_code == 503


@pytest.mark.django_db
def test_unready_answers_are_logged_once_per_change(settings, caplog):
    settings.PRODKIT_HEALTH_CHECKS = ["cache:missing"]
    caplog.set_level("INFO", logger="django_prodkit.health")
    caplog.set_level("INFO", logger="django.request")
    for _ in range(3):
        assert get_sync("/readyz").status_code == 503
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "Readiness: unavailable; failing checks: cache:missing (InvalidCacheBackendError)."
    ]


def test_unknown_check_is_improperly_configured(settings):
    settings.PRODKIT_HEALTH_CHECKS = ["database", "queue"]
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_HEALTH_CHECKS entry 'queue'"):
        get_sync("/readyz")


@pytest.mark.django_db
@pytest.mark.parametrize("get", CLIENTS)
def test_views_work_when_routed_without_the_middleware(settings, get):
    settings.ROOT_URLCONF = "django_prodkit.urls"
    settings.MIDDLEWARE = []
    for path in HEALTH_PATHS:
        response = get(path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"}), path
        assert response["Cache-Control"] == "no-store"
        assert get(path, method="post").status_code == 405


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/healthz", "/healthz", id="healthz"),
        pytest.param("/healthz/", "/healthz", id="healthz-slash"),
        pytest.param("/readyz", "/readyz", id="readyz"),
        pytest.param("/readyz/", "/readyz", id="readyz-slash"),
        pytest.param("/readyz//", None, id="two-slashes"),
        pytest.param("/healthzz", None, id="longer"),
        pytest.param("/api/healthz", None, id="nested"),
        pytest.param("/", None, id="root"),
        pytest.param("", None, id="empty"),
    ],
)
def test_health_path(path, expected):
    assert health_path(path) == expected
    assert is_health_path(path) is (expected is not None)


def test_settings_from_env():
    env = Env(
        {
            "PRODKIT_HEALTH_TIMEOUT": "0.75",
            "PRODKIT_HEALTH_CACHE_SECONDS": "0",
            "PRODKIT_HEALTH_TOKEN": TOKEN,
            "PRODKIT_HEALTH_CHECKS": "database, cache:sessions",
        }
    )
    assert health_from_env(env) == {
        "PRODKIT_HEALTH_TIMEOUT": 0.75,
        "PRODKIT_HEALTH_CACHE_SECONDS": 0.0,
        "PRODKIT_HEALTH_TOKEN": TOKEN,
        "PRODKIT_HEALTH_CHECKS": ["database", "cache:sessions"],
    }
    assert health_from_env(Env({})) == {
        "PRODKIT_HEALTH_TIMEOUT": 2.0,
        "PRODKIT_HEALTH_CACHE_SECONDS": 1.0,
        "PRODKIT_HEALTH_TOKEN": None,
        "PRODKIT_HEALTH_CHECKS": ["database", "cache", "storage"],
    }


def test_token_from_a_file(tmp_path):
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    env = Env({"PRODKIT_HEALTH_TOKEN_FILE": str(secret)})
    assert health_from_env(env)["PRODKIT_HEALTH_TOKEN"] == TOKEN


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"PRODKIT_HEALTH_TIMEOUT": "0"},
            "PRODKIT_HEALTH_TIMEOUT must be a number from 0.01 to 30.0, got '0'",
            id="timeout-zero",
        ),
        pytest.param(
            {"PRODKIT_HEALTH_TIMEOUT": "fast"},
            "PRODKIT_HEALTH_TIMEOUT must be a number",
            id="timeout-word",
        ),
        pytest.param(
            {"PRODKIT_HEALTH_CACHE_SECONDS": "-1"},
            "PRODKIT_HEALTH_CACHE_SECONDS must be a number >= 0",
            id="cache-negative",
        ),
        pytest.param(
            {"PRODKIT_HEALTH_CHECKS": "database,queue"},
            "PRODKIT_HEALTH_CHECKS entry 'queue' is not a check prodkit knows",
            id="unknown-check",
        ),
        pytest.param(
            {"PRODKIT_HEALTH_CHECKS": "cache:"},
            "PRODKIT_HEALTH_CHECKS entry 'cache:'",
            id="empty-alias",
        ),
    ],
)
def test_bad_settings_name_the_variable(environ, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        health_from_env(Env(environ))


def test_bad_token_value_is_never_shown():
    with pytest.raises(ImproperlyConfigured) as info:
        health_from_env(Env({"PRODKIT_HEALTH_TOKEN": TOKEN, "PRODKIT_HEALTH_TOKEN_FILE": "/x"}))
    assert TOKEN not in str(info.value)


def test_health_settings_refuses_a_timeout_out_of_range():
    with pytest.raises(ImproperlyConfigured, match="PRODKIT_HEALTH_TIMEOUT"):
        health_settings(timeout=60)


def http_get(port, path, host):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.slow
def test_real_server_answers_the_platform_probe(tmp_path):
    """gunicorn + uvicorn worker serving the example site, HTTPS on, probed like App Service."""
    env = example_env(tmp_path, DJANGO_ALLOWED_HOSTS="www.example.com", PRODKIT_HTTPS="true")
    log = tmp_path / "server.log"
    with gunicorn(env, log) as port:
        for path in ("/readyz", "/healthz"):
            status, headers, body = http_get(port, path, BOGUS_HOST)
            assert (status, json.loads(body)) == (200, {"status": "ok"}), log.read_text()
            assert headers["Cache-Control"] == "no-store"
            assert "Set-Cookie" not in headers
        # Every other path with that host is refused, and a real host is sent to HTTPS.
        assert http_get(port, "/", BOGUS_HOST)[0] == 400
        status, headers, _ = http_get(port, "/", "www.example.com")
        assert (status, headers["Location"]) == (301, "https://www.example.com/")
