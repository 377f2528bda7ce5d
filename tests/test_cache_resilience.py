"""The resilient backends keep answering while their server is down, and recover after.

Every server here is our own (tests/servers.py) and gets killed and restarted on the same
port; the shared Redis is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from django.core.cache import CacheHandler
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.cache import cache_page

from django_prodkit.cache import CircuitBreaker, ResilientRedisCache, circuit_breaker
from django_prodkit.settings.caches import cache_from_url, cache_middleware_settings
from tests.servers import Server, own_memcached, own_redis

PASSWORD = "Pl4nted-Cache-Secret"
# Short enough to keep the suite quick; the defaults (3 failures, 5 s) are the same code.
TUNING = {"failures": 3, "cooldown": 0.5}
LOGGER = "django_prodkit.cache"


def build(config):
    return CacheHandler({"default": config})["default"]


def resilient(url, **tuning):
    config = cache_from_url(url, resilient=True)
    config["OPTIONS"]["circuit_breaker"] = {**TUNING, **tuning}
    return build(config)


@pytest.fixture
def redis_server() -> Iterator[Server]:
    with own_redis() as server:
        yield server


def url_of(server):
    return f"redis://127.0.0.1:{server.port}/0"


def wait_until_closed(cache, timeout=10.0):
    """Call the cache until its breaker closes (the half-open trial succeeded)."""
    deadline = time.monotonic() + timeout
    while cache.breaker.is_open and time.monotonic() < deadline:
        cache.get("probe")
        time.sleep(0.05)
    return not cache.breaker.is_open


# --- Redis killed and restarted --------------------------------------------------------------


def test_redis_down_means_misses_then_an_open_breaker_then_recovery(redis_server, caplog):
    cache = resilient(url_of(redis_server))
    cache.set("k", "v")
    assert cache.get("k") == "v"

    redis_server.stop()
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert cache.get("k", "fallback") == "fallback"
    cache.set("k", "dropped")
    assert cache.get("k") is None
    assert cache.breaker.is_open

    # Open: no network at all, so every call returns at once.
    started = time.perf_counter()
    for _ in range(200):
        assert cache.get("k") is None
    per_call = (time.perf_counter() - started) / 200
    assert per_call < 0.05

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()

    redis_server.start()
    assert wait_until_closed(cache)
    cache.set("k", "back")
    assert cache.get("k") == "back"
    assert any("answers again" in r.getMessage() for r in caplog.records)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_breaker_stays_open_until_a_trial_call_succeeds(redis_server):
    cache = resilient(url_of(redis_server))
    redis_server.stop()
    for _ in range(3):
        cache.get("k")
    assert cache.breaker.is_open
    # Past the cool-down the trial fails too: open again, and still quick.
    time.sleep(TUNING["cooldown"] + 0.1)
    cache.get("k")
    assert cache.breaker.is_open
    started = time.perf_counter()
    cache.get("k")
    assert time.perf_counter() - started < 0.05


def test_a_server_that_never_answers_counts_as_down(caplog):
    # Accepts connections (the kernel's backlog does) and never replies: timeouts, not refusals.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        config = cache_from_url(f"redis://127.0.0.1:{listener.getsockname()[1]}/0", resilient=True)
        config["OPTIONS"].update(socket_timeout=0.2, circuit_breaker=TUNING)
        cache = build(config)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            for _ in range(3):
                assert cache.get("k", "d") == "d"
        assert cache.breaker.is_open
        assert "TimeoutError" in caplog.records[0].getMessage()
        started = time.perf_counter()
        assert cache.get("k", "d") == "d"
        assert time.perf_counter() - started < 0.05


def test_every_method_misses_or_drops_while_redis_is_down(redis_server):
    cache = resilient(url_of(redis_server))
    redis_server.stop()
    assert cache.get("k", "d") == "d"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.has_key("k") is False
    assert "k" not in cache
    assert cache.add("k", 1) is False
    assert cache.set("k", 1) is None
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.touch("k") is False
    assert cache.delete("k") is False
    assert cache.delete_many(["a", "b"]) is None
    assert cache.clear() is None
    assert cache.get_or_set("k", lambda: "computed") == "computed"
    assert cache.get_or_set("k", "plain") == "plain"
    for counter in (cache.incr, cache.decr, cache.incr_version, cache.decr_version):
        with pytest.raises(ValueError, match="not found"):
            counter("k")
    cache.close()


def test_every_async_method_misses_or_drops_while_redis_is_down(redis_server):
    cache = resilient(url_of(redis_server))
    redis_server.stop()

    async def calls():
        assert await cache.aget("k", "d") == "d"
        assert await cache.aget_many(["a", "b"]) == {}
        assert await cache.ahas_key("k") is False
        assert await cache.aadd("k", 1) is False
        assert await cache.aset("k", 1) is None
        assert await cache.aset_many({"a": 1}) == ["a"]
        assert await cache.atouch("k") is False
        assert await cache.adelete("k") is False
        assert await cache.adelete_many(["a"]) is None
        assert await cache.aclear() is None
        assert await cache.aget_or_set("k", lambda: "computed") == "computed"
        for counter in (cache.aincr, cache.adecr, cache.aincr_version, cache.adecr_version):
            with pytest.raises(ValueError, match="not found"):
                await counter("k")

    asyncio.run(calls())


def test_async_methods_reach_a_live_server(redis_server):
    cache = resilient(url_of(redis_server))

    async def calls():
        await cache.aset_many({"a": 1, "b": 2})
        assert await cache.aget_many(["a", "b", "c"]) == {"a": 1, "b": 2}
        assert await cache.aincr("a", 10) == 11
        assert await cache.aget_or_set("c", "new") == "new"
        assert await cache.ahas_key("c") is True

    asyncio.run(calls())


def test_one_call_counts_one_failure(redis_server):
    # get_or_set() is get() + add() + get() inside; counted three times, two calls would
    # open a breaker that needs three failures.
    cache = resilient(url_of(redis_server))
    redis_server.stop()
    assert cache.get_or_set("k", "d") == "d"
    assert cache.get_or_set("k", "d") == "d"
    assert not cache.breaker.is_open
    cache.get("k")
    assert cache.breaker.is_open


def test_errors_that_are_not_about_the_connection_still_raise(redis_server):
    cache = resilient(url_of(redis_server))
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")
    cache.set("text", "not a number")
    with pytest.raises(redis.ResponseError):
        cache.incr("text")
    assert not cache.breaker.is_open
    cache.get("k")  # and the breaker's count was not moved by them
    assert not cache.breaker.is_open


def test_log_line_names_the_server_but_not_the_password(caplog):
    with own_redis() as server:
        client = redis.Redis(host="127.0.0.1", port=server.port)
        client.config_set("requirepass", PASSWORD)
        client.close()
        cache = resilient(f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0")
        cache.set("k", "v")
        server.stop()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            cache.get("k")
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert f"127.0.0.1:{server.port}" in message
    assert PASSWORD not in message
    assert PASSWORD not in caplog.text


def test_breaker_is_shared_by_every_cache_object_of_the_process(redis_server):
    # Django makes one cache object per thread; they must see one breaker per server.
    one, two = resilient(url_of(redis_server)), resilient(url_of(redis_server))
    assert one is not two
    assert one.breaker is two.breaker
    redis_server.stop()
    for _ in range(3):
        one.get("k")
    assert two.breaker.is_open


def test_breaker_options_are_popped_before_redis_py_sees_them(redis_server):
    config = cache_from_url(url_of(redis_server), resilient=True)
    config["OPTIONS"]["circuit_breaker"] = {"failures": 7}
    cache = build(config)
    cache.set("k", "v")  # an unknown keyword would fail inside ConnectionPool
    assert cache.breaker.failures == 7
    assert "circuit_breaker" in config["OPTIONS"], "the settings dict is left as it was"


def test_bad_breaker_options_are_refused():
    config = cache_from_url("redis://127.0.0.1:1/0", resilient=True)
    config["OPTIONS"]["circuit_breaker"] = {"threshold": 3}
    with pytest.raises(ImproperlyConfigured, match="circuit_breaker"):
        build(config)


# --- memcached killed and restarted ----------------------------------------------------------


def test_memcached_down_means_misses_then_recovery(caplog):
    with own_memcached() as server:
        cache = resilient(f"memcached://127.0.0.1:{server.port}")
        cache.set("k", "v")
        assert cache.get("k") == "v"
        server.stop()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            for _ in range(100):
                assert cache.get("k", "d") == "d"
                cache.set("k", "dropped")
        assert cache.breaker.is_open
        assert len(caplog.records) == 1
        server.start()
        assert wait_until_closed(cache)
        cache.set("k", "back")
        assert cache.get("k") == "back"


# --- The breaker alone -----------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker("test", failures=3, cooldown=60)
    error = redis.ConnectionError("refused")
    breaker.record_failure(error)
    breaker.record_failure(error)
    breaker.record_success()
    breaker.record_failure(error)
    breaker.record_failure(error)
    assert breaker.allow()
    breaker.record_failure(error)
    assert not breaker.allow()


def test_breaker_lets_one_trial_through_per_cooldown():
    breaker = CircuitBreaker("test", failures=1, cooldown=0.2)
    breaker.record_failure(redis.ConnectionError())
    assert not breaker.allow()
    time.sleep(0.25)
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # everyone else waits for it
    breaker.record_success()
    assert breaker.allow()
    assert not breaker.is_open


def test_breaker_logs_at_most_once_per_interval_and_counts_the_rest(caplog):
    breaker = CircuitBreaker("Redis at test", failures=100, log_interval=0.3)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(5):
            breaker.record_failure(redis.TimeoutError())
        time.sleep(0.35)
        breaker.record_failure(redis.TimeoutError())
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "Redis at test is unreachable (TimeoutError)" in messages[0]
    assert "4 more failures since the last message" in messages[1]


def test_many_threads_against_a_dead_server_get_misses_and_one_log_line(redis_server, caplog):
    url = url_of(redis_server)
    redis_server.stop()
    errors = []

    def worker():
        cache = resilient(url)  # one cache object per thread, as Django makes them
        try:
            for i in range(50):
                assert cache.get(f"k{i}", "d") == "d"
                cache.set(f"k{i}", i)
        except Exception as exc:  # an exception in a thread would not fail the test
            errors.append(exc)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert len(caplog.records) == 1


def test_circuit_breaker_registry_returns_one_breaker_per_server_and_tuning():
    assert circuit_breaker("Redis at x", failures=2) is circuit_breaker("Redis at x", failures=2)
    assert circuit_breaker("Redis at x", failures=2) is not circuit_breaker(
        "Redis at y", failures=2
    )


# --- Views under the test client -------------------------------------------------------------

CALLS = {"count": 0}


def counted_view(request):
    CALLS["count"] += 1
    return HttpResponse(f"call {CALLS['count']}")


def default_cache_view(request):
    from django.core.cache import cache

    visits = cache.get_or_set("visits", 0)
    cache.set("last-visit", time.time())
    return HttpResponse(f"visit {visits}")


urlpatterns = [
    path("cached/", cache_page(60, cache="pages")(counted_view)),
    path("site/", counted_view),
    path("default/", default_cache_view),
]


@pytest.fixture
def dead_redis_caches(settings, redis_server):
    """settings.CACHES on our own Redis, resilient everywhere, with that Redis killed."""
    url = url_of(redis_server)
    settings.CACHES = {
        "default": cache_from_url(url, resilient=True),
        "pages": cache_from_url(url, key_prefix="pages", resilient=True),
    }
    settings.ROOT_URLCONF = __name__
    redis_server.stop()
    return redis_server


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/cached/", "/default/"])
def test_views_answer_200_with_redis_dead(client, dead_redis_caches, page):
    for _ in range(5):
        response = client.get(page)
        assert response.status_code == 200


@pytest.fixture
def site_cache(settings, redis_server):
    """The per-site cache preset on our own Redis."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "pages": cache_from_url(url_of(redis_server), key_prefix="pages", resilient=True),
    }
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    for name, value in cache_middleware_settings(seconds=30).items():
        setattr(settings, name, value)
    settings.ROOT_URLCONF = __name__
    return redis_server


def test_per_site_cache_serves_from_redis_and_survives_its_death(client, site_cache):
    first = client.get("/site/")
    second = client.get("/site/")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content, "the second answer came from the page cache"
    assert "max-age=30" in second["Cache-Control"]

    site_cache.stop()
    third = client.get("/site/")
    fourth = client.get("/site/")
    assert third.status_code == fourth.status_code == 200
    assert third.content != first.content, "with Redis dead the view runs"
    assert fourth.content != third.content, "and nothing is cached"


def test_resilient_cache_class_is_a_redis_cache():
    from django.core.cache.backends.redis import RedisCache

    assert issubclass(ResilientRedisCache, RedisCache)
