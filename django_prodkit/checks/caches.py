"""Checks 5xx: caches and sessions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage

from django_prodkit.checks.context import deployment
from django_prodkit.checks.inspect import backend_is
from django_prodkit.checks.registry import Check, prodkit_check
from django_prodkit.settings.caches import (
    DUMMY_BACKEND,
    FILE_BACKEND,
    LOCMEM_BACKEND,
    REDIS_BACKEND,
    SESSION_ENGINES,
    is_loopback_host,
)

W501 = Check(
    id="prodkit.W501",
    title="a cache is local to one process",
    msg="The cache '{alias}' is local to one process ({backend}) and {deployment} serve the site.",
    hint=(
        "Use a shared cache: set CACHE_URL=redis://... (or rediss:// for Azure Cache for Redis) "
        "and build CACHES with django_prodkit.settings.caches_from_env(env)."
    ),
    why=(
        "Every worker process keeps its own local-memory cache. With several, a value cached "
        "(or invalidated) in one is unknown to the others: stale pages, rate limits that "
        "multiply by the worker count, cache-based locks that lock nothing."
    ),
)
W502 = Check(
    id="prodkit.W502",
    title="a cache stores nothing",
    msg="The cache '{alias}' is Django's DummyCache: it stores nothing.",
    hint="Use a real cache (caches_from_env() with CACHE_URL), or remove the alias.",
    why=(
        "The dummy cache is meant for development. In production everything that relies on the "
        "cache (cached sessions, the page cache, throttling) silently does nothing."
    ),
)
E503 = Check(
    id="prodkit.E503",
    title="sessions live only in a per-process cache",
    msg=(
        "SESSION_ENGINE keeps sessions only in the cache '{alias}', which is local to one "
        "process ({backend}), and {deployment} serve the site."
    ),
    hint=(
        "Store sessions in the database, read through a shared cache: "
        "django_prodkit.settings.session_settings(engine=session_engine_for(CACHES['default']))."
    ),
    why=(
        "With the `cache` session engine a session exists only in the memory of the worker "
        "that created it: the next request, served by another worker, is logged out. A "
        "restart logs everybody out."
    ),
)
W504 = Check(
    id="prodkit.W504",
    title="cached sessions read through a per-process cache",
    msg=(
        "SESSION_ENGINE reads sessions through the cache '{alias}', which is local to one "
        "process ({backend}), and {deployment} serve the site."
    ),
    hint=(
        "Use the db session engine with a local cache, or a shared cache: "
        "session_settings(engine=session_engine_for(CACHES['default']))."
    ),
    why=(
        "With `cached_db`, a session changed or deleted by one worker stays in the others' "
        "memory until it expires: a logged-out session is still valid there."
    ),
)
W505 = Check(
    id="prodkit.W505",
    title="a file cache on several instances",
    msg="The cache '{alias}' is a file cache and {deployment} serve the site.",
    hint="Each instance has its own disk: use a shared cache (CACHE_URL=redis://...).",
    why=(
        "A file-based cache lives on one instance's disk. Behind a load balancer each instance "
        "sees a different cache, and invalidation on one never reaches the others."
    ),
)
W506 = Check(
    id="prodkit.W506",
    title="plain-text Redis to a remote host",
    msg="The cache '{alias}' talks to Redis on {host} without TLS (redis://).",
    hint=(
        "Use rediss:// (Azure Cache for Redis listens for TLS on port 6380); caches_from_env() "
        "refuses plain text to a remote host unless told otherwise."
    ),
    why=(
        "Redis's password and every cached value (sessions included) cross the network in "
        "clear text, readable by anyone on the path."
    ),
)
E507 = Check(
    id="prodkit.E507",
    title="SESSION_CACHE_ALIAS names no cache",
    msg="SESSION_CACHE_ALIAS is '{alias}', which is not in CACHES.",
    hint="Set SESSION_CACHE_ALIAS to one of the CACHES aliases, or add that cache.",
    why="Every request that touches the session raises InvalidCacheBackendError: a 500.",
)
I508 = Check(
    id="prodkit.I508",
    title="sessions in signed cookies",
    msg="SESSION_ENGINE stores sessions in signed cookies on the client.",
    hint=(
        "Fine for small, non-secret sessions; use session_settings() (database, read through "
        "the cache) when sessions must be revocable or hold more than ~4 kB."
    ),
    why=(
        "Signed-cookie sessions can be read (not changed) by the user, cannot be revoked "
        "server-side (a stolen cookie stays valid until it expires) and are limited by the "
        "browser's cookie size."
    ),
)
_LOCAL = (LOCMEM_BACKEND,)


def _caches() -> dict[str, dict[str, Any]]:
    return dict(getattr(settings, "CACHES", {}) or {})


def _session_engine() -> str:
    return str(getattr(settings, "SESSION_ENGINE", SESSION_ENGINES["db"]))


@prodkit_check(W501)
def check_caches_are_shared(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W501: a local-memory cache with several worker processes."""
    where = deployment()
    if not where.several_processes:
        return []
    return [
        W501.message(
            obj=f"settings.CACHES[{alias!r}]",
            alias=alias,
            backend=entry.get("BACKEND", ""),
            deployment=where.describe(),
        )
        for alias, entry in _caches().items()
        if backend_is(entry.get("BACKEND", ""), *_LOCAL)
    ]


@prodkit_check(W502)
def check_no_dummy_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W502: the dummy cache."""
    return [
        W502.message(obj=f"settings.CACHES[{alias!r}]", alias=alias)
        for alias, entry in _caches().items()
        if backend_is(entry.get("BACKEND", ""), DUMMY_BACKEND)
    ]


def _session_cache() -> tuple[str, dict[str, Any] | None]:
    alias = str(getattr(settings, "SESSION_CACHE_ALIAS", "default"))
    return alias, _caches().get(alias)


@prodkit_check(E503)
def check_cache_sessions_shared(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E503: sessions only in a per-process cache."""
    return _session_in_local_cache(E503, SESSION_ENGINES["cache"])


@prodkit_check(W504)
def check_cached_db_sessions_shared(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W504: cached_db sessions read through a per-process cache."""
    return _session_in_local_cache(W504, SESSION_ENGINES["cached_db"])


def _session_in_local_cache(spec: Check, engine: str) -> list[CheckMessage]:
    alias, entry = _session_cache()
    where = deployment()
    if _session_engine() != engine or entry is None or not where.several_processes:
        return []
    backend = entry.get("BACKEND", "")
    if not backend_is(backend, *_LOCAL):
        return []
    return [
        spec.message(
            obj="settings.SESSION_ENGINE", alias=alias, backend=backend, deployment=where.describe()
        )
    ]


@prodkit_check(W505)
def check_file_cache_instances(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W505: a file-based cache on several instances."""
    where = deployment()
    if not where.several_instances:
        return []
    return [
        W505.message(obj=f"settings.CACHES[{alias!r}]", alias=alias, deployment=where.describe())
        for alias, entry in _caches().items()
        if backend_is(entry.get("BACKEND", ""), FILE_BACKEND)
    ]


@prodkit_check(W506)
def check_redis_tls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W506: redis:// (no TLS) to a host that is not this machine."""
    found = []
    for alias, entry in _caches().items():
        if not backend_is(entry.get("BACKEND", ""), REDIS_BACKEND, "django_redis.cache.RedisCache"):
            continue
        location = entry.get("LOCATION", "")
        locations = [location] if isinstance(location, str) else list(location)
        for url in locations:
            parts = urlsplit(str(url))
            host = parts.hostname or ""
            if parts.scheme in {"redis", "unix"} and host and not is_loopback_host(host):
                found.append(
                    W506.message(obj=f"settings.CACHES[{alias!r}]", alias=alias, host=host)
                )
                break
    return found


@prodkit_check(E507, I508)
def check_session_engine(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E507: SESSION_CACHE_ALIAS names no cache; I508: signed-cookie sessions."""
    engine = _session_engine()
    if engine == SESSION_ENGINES["signed_cookies"]:
        return [I508.message(obj="settings.SESSION_ENGINE")]
    alias, entry = _session_cache()
    if engine in {SESSION_ENGINES["cache"], SESSION_ENGINES["cached_db"]} and entry is None:
        return [E507.message(obj="settings.SESSION_CACHE_ALIAS", alias=alias)]
    return []
