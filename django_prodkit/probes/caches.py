"""Live checks 55x: each cache in ``CACHES`` stores a value and gives it back.

The probe builds a cache object of its own from ``settings.CACHES`` (never one of
``django.core.cache.caches``), with the probe timeout as the client's connect and read timeout,
and writes, reads and deletes a random key that expires within a minute anyway. A value that
does not come back is a failure: prodkit's resilient caches (and django-redis with
``IGNORE_EXCEPTIONS``) answer a miss instead of raising while their server is down. For
Django's own backends and their subclasses the probe calls Django's methods, beneath any
resilience, so that the error says why. A ``DatabaseCache`` is first checked for its table.
Django's ``DummyCache`` stores nothing by design and is not probed (no outcome).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import BaseDatabaseCache
from django.core.checks import CheckMessage
from django.db import router
from django.utils.module_loading import import_string

from django_prodkit.checks.inspect import backend_is
from django_prodkit.checks.registry import Check, define
from django_prodkit.probes.base import Probe
from django_prodkit.probes.database import installed_connection
from django_prodkit.redact import describe_error, redact_url
from django_prodkit.settings.caches import (
    DATABASE_BACKEND,
    DUMMY_BACKEND,
    MEMCACHED_BACKEND,
    REDIS_BACKEND,
)

E550 = Check(
    id="prodkit.E550",
    title="a cache cannot be reached",
    msg="The cache '{alias}' ({backend}{where}) failed a write/read round trip: {error}.",
    hint=(
        "Check LOCATION (CACHE_URL), the password and TLS (Azure Cache for Redis: rediss:// on "
        "port 6380 with the access key as password) and the firewall between the app and the "
        "cache; caches_from_env() builds CACHES from CACHE_URL."
    ),
    why=(
        "With Django's backends every request that uses the cache fails with a 500. With "
        "prodkit's resilient backends the site stays up, but every read misses: cached pages "
        "are rendered again, cache-backed sessions and rate limits are lost, and nothing says "
        "so but a log line."
    ),
    live=True,
)
E551 = Check(
    id="prodkit.E551",
    title="the database cache table is missing",
    msg=(
        "The cache '{alias}' is a DatabaseCache and its table '{table}' does not exist in the "
        "database '{database}'."
    ),
    hint=(
        "Run `python manage.py createcachetable --database={database}`; with django_prodkit in "
        "INSTALLED_APPS, `migrate` creates missing cache tables itself."
    ),
    why=(
        "Django creates no cache table on its own: every cache read and write raises a "
        "database error, a 500 on each request that uses the cache (sessions included, with "
        "the cached_db engine)."
    ),
    live=True,
)
define(E550, E551)

# Seconds the probe key lives if its delete is lost: the cache cleans up after the probe.
PROBE_KEY_TTL = 60

DJANGO_REDIS_BACKEND = "django_redis.cache.RedisCache"


def probes(timeout: float) -> list[Probe]:
    """One probe per ``CACHES`` alias, except Django's ``DummyCache``."""
    found = []
    for alias, entry in dict(getattr(settings, "CACHES", {}) or {}).items():
        backend = entry.get("BACKEND", "")
        if backend_is(backend, DUMMY_BACKEND):
            continue
        is_db = backend_is(backend, DATABASE_BACKEND)
        found.append(
            Probe(
                name=f"cache:{alias}",
                ids=(E550.id, E551.id) if is_db else (E550.id,),
                run=functools.partial(probe_cache, alias, dict(entry), timeout),
                failed=functools.partial(_failed, alias, dict(entry)),
            )
        )
    return found


def probe_cache(alias: str, entry: dict[str, Any], timeout: float) -> list[CheckMessage]:
    """Write, read and delete a random key in the cache ``alias``."""
    cache = _own_cache(entry, timeout)
    if isinstance(cache, BaseDatabaseCache):
        return _probe_database_cache(alias, entry, cache, timeout)
    return _round_trip(alias, entry, cache)


def _round_trip(alias: str, entry: dict[str, Any], cache: BaseCache) -> list[CheckMessage]:
    key = f"prodkit:probe:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    try:
        try:
            _method(cache, "set")(key, value, PROBE_KEY_TTL)
            got = _method(cache, "get")(key)
            _method(cache, "delete")(key)
        except Exception as exc:
            return [_failed(alias, entry, describe_error(exc))]
        if got != value:
            return [_failed(alias, entry, "the value written did not come back")]
        return []
    finally:
        cache.close()


def _probe_database_cache(
    alias: str, entry: dict[str, Any], cache: BaseDatabaseCache, timeout: float
) -> list[CheckMessage]:
    database = router.db_for_write(cache.cache_model_class)
    config = dict(getattr(settings, "DATABASES", {}) or {}).get(database)
    if config is None:
        return [_failed(alias, entry, f"its database '{database}' is not in DATABASES")]
    # The cache uses django.db.connections[database]: in this thread, a connection with the
    # probe's timeouts.
    with installed_connection(database, dict(config), timeout) as connection:
        try:
            tables = connection.introspection.table_names()
        except Exception as exc:
            return [_failed(alias, entry, describe_error(exc))]
        # A DatabaseCache's LOCATION is its table's name.
        table = str(entry.get("LOCATION", ""))
        if table not in tables:
            return [E551.message(obj=_obj(alias), alias=alias, table=table, database=database)]
        return _round_trip(alias, entry, cache)


def _own_cache(entry: dict[str, Any], timeout: float) -> BaseCache:
    """Return a new cache object for ``entry``, built the way Django builds one, with the probe
    timeout in the client's options."""
    params = {**entry, "OPTIONS": dict(entry.get("OPTIONS") or {})}
    backend = params.pop("BACKEND")
    location = params.pop("LOCATION", "")
    _set_timeouts(str(backend), params["OPTIONS"], timeout)
    cache: BaseCache = import_string(backend)(location, params)
    return cache


def _set_timeouts(backend: str, options: dict[str, Any], timeout: float) -> None:
    def lower(name: str) -> None:
        current = options.get(name)
        if current is None or not isinstance(current, int | float) or current > timeout:
            options[name] = timeout

    if backend_is(backend, REDIS_BACKEND):
        # redis-py's connection pool options.
        lower("socket_connect_timeout")
        lower("socket_timeout")
    elif backend_is(backend, DJANGO_REDIS_BACKEND):
        lower("SOCKET_CONNECT_TIMEOUT")
        lower("SOCKET_TIMEOUT")
    elif backend_is(backend, MEMCACHED_BACKEND):
        # pymemcache's HashClient options.
        lower("connect_timeout")
        lower("timeout")


def _method(cache: BaseCache, name: str) -> Callable[..., Any]:
    """Return Django's own ``name`` method of ``cache`` (beneath a resilient wrapper that would
    turn a dead server into a silent miss), or the cache's own for other backends."""
    for klass in type(cache).__mro__:
        if (
            klass is not BaseCache
            and klass.__module__.startswith("django.core.cache.backends.")
            and name in vars(klass)
        ):
            return functools.partial(vars(klass)[name], cache)
    method: Callable[..., Any] = getattr(cache, name)
    return method


def _failed(alias: str, entry: dict[str, Any], error: str) -> CheckMessage:
    return E550.message(
        obj=_obj(alias),
        alias=alias,
        backend=entry.get("BACKEND", ""),
        where=_where(entry),
        error=error,
    )


def _obj(alias: str) -> str:
    return f"settings.CACHES[{alias!r}]"


def _where(entry: dict[str, Any]) -> str:
    """Say where the cache is, for a message: its servers with passwords hidden."""
    backend = entry.get("BACKEND", "")
    location = entry.get("LOCATION") or ""
    if backend_is(backend, DATABASE_BACKEND):
        return f", table {location}" if location else ""
    # Django's memcached and Redis backends split a LOCATION string on ';' and ','.
    locations = re.split("[;,]", location) if isinstance(location, str) else list(location)
    shown = ", ".join(redact_url(str(item).strip()) for item in locations if str(item).strip())
    return f" at {shown}" if shown else ""


__all__ = ["E550", "E551", "PROBE_KEY_TTL", "probe_cache", "probes"]
