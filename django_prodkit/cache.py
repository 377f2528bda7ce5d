"""Cache backends that keep the site up while the cache server is down.

``ResilientRedisCache`` and ``ResilientPyMemcacheCache`` are Django's ``RedisCache`` and
``PyMemcacheCache`` with one difference: when the server cannot be reached, reads miss (they
return the default), writes are dropped, and one WARNING line is logged (at most one a minute
per server), instead of an exception reaching the view. After three connection failures in a
row a circuit breaker opens: for five seconds calls return at once without touching the
network, then one trial call goes through and closes it again on success.

Only connection failures and timeouts count; any other error (a bad key, a value that does
not pickle, a Redis WRONGTYPE reply) is raised as usual. Tune the breaker with
``OPTIONS["circuit_breaker"] = {"failures": 3, "cooldown": 5.0, "log_interval": 60.0}``.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.memcached import PyMemcacheCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.redact import redact_url

T = TypeVar("T")

logger = logging.getLogger("django_prodkit.cache")

BREAKER_OPTION = "circuit_breaker"
DEFAULT_FAILURES = 3
DEFAULT_COOLDOWN = 5.0
DEFAULT_LOG_INTERVAL = 60.0


class CircuitBreaker:
    """Count consecutive connection failures to one cache server; thread-safe, per process.

    Closed, every call goes through. After ``failures`` failures in a row it opens: for
    ``cooldown`` seconds ``allow()`` says no. Then it lets one trial call through (half-open)
    and another only ``cooldown`` seconds later; a success closes it. Failures are logged at
    WARNING at most once per ``log_interval`` seconds.
    """

    def __init__(
        self,
        name: str,
        *,
        failures: int = DEFAULT_FAILURES,
        cooldown: float = DEFAULT_COOLDOWN,
        log_interval: float = DEFAULT_LOG_INTERVAL,
    ) -> None:
        self.name = name
        self.failures = failures
        self.cooldown = cooldown
        self.log_interval = log_interval
        self._lock = threading.Lock()
        self._count = 0
        self._open = False
        self._next_trial = 0.0
        self._last_log = -math.inf
        self._unlogged = 0

    @property
    def is_open(self) -> bool:
        """Return True while the breaker is open or half-open."""
        return self._open

    def allow(self) -> bool:
        """Return True when a call may go to the server now."""
        if not self._open:
            return True
        with self._lock:
            now = time.monotonic()
            if not self._open:
                return True
            if now < self._next_trial:
                return False
            # Half-open: this call is the trial; the next one waits for another cool-down,
            # so a trial that never reports back cannot keep the breaker shut for good.
            self._next_trial = now + self.cooldown
            return True

    def record_success(self) -> None:
        """Note a call that reached the server: the failure count starts again."""
        if not self._count and not self._open:
            return
        with self._lock:
            was_open = self._open
            self._count = 0
            self._open = False
        if was_open:
            logger.info("Cache %s answers again; circuit breaker closed.", self.name)

    def record_failure(self, exc: BaseException) -> None:
        """Note a connection failure; open the breaker after ``failures`` in a row."""
        with self._lock:
            now = time.monotonic()
            self._count += 1
            if self._open or self._count >= self.failures:
                self._open = True
                self._next_trial = now + self.cooldown
            if now - self._last_log < self.log_interval:
                self._unlogged += 1
                return
            self._last_log = now
            unlogged, self._unlogged = self._unlogged, 0
            state = (
                f"circuit breaker open, next try in {self.cooldown:g} s"
                if self._open
                else f"circuit breaker opens after {self.failures} failures in a row"
            )
        # The exception's type only: its text may carry whatever the client put in it.
        logger.warning(
            "Cache %s is unreachable (%s): reads miss and writes are dropped; %s.%s",
            self.name,
            type(exc).__name__,
            state,
            f" {unlogged} more failures since the last message." if unlogged else "",
        )


_breakers: dict[tuple[Any, ...], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def circuit_breaker(name: str, **tuning: Any) -> CircuitBreaker:
    """Return the process's breaker for the server ``name``, shared by every cache object.

    Django makes a cache object per thread (and ``default`` and ``pages`` may share a
    server), so the breaker lives here, not on the object.
    """
    key = (name, tuple(sorted(tuning.items())))
    with _breakers_lock:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = _breakers[key] = CircuitBreaker(name, **tuning)
        return breaker


def _split_tuning(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``params`` without the breaker option (copied: the settings stay untouched)."""
    options = dict(params.get("OPTIONS") or {})
    tuning = options.pop(BREAKER_OPTION, None) or {}
    allowed = {"failures", "cooldown", "log_interval"}
    if not isinstance(tuning, dict) or not set(tuning) <= allowed:
        raise ImproperlyConfigured(
            f"OPTIONS[{BREAKER_OPTION!r}] must be a dict with some of the keys "
            f"{', '.join(sorted(allowed))}."
        )
    return {**params, "OPTIONS": options}, tuning


def _server_names(server: str | Iterable[str]) -> str:
    servers = re.split("[;,]", server) if isinstance(server, str) else list(server)
    return ", ".join(redact_url(s.strip()) for s in servers)


class _Resilient(BaseCache):
    """Guard every public method of a network cache backend; see the module docstring."""

    breaker: CircuitBreaker
    _local: threading.local

    def _start_breaker(
        self, kind: str, server: str | Iterable[str], tuning: dict[str, Any]
    ) -> None:
        self.breaker = circuit_breaker(f"{kind} at {_server_names(server)}", **tuning)
        self._local = threading.local()

    def _is_connection_error(self, exc: Exception) -> bool:
        raise NotImplementedError

    def _guard(self, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        """Return ``call()``, or ``fallback()`` when the server is down or the breaker open."""
        local = self._local
        # Inside another guarded call (get_or_set calls get and add): the outer one decides,
        # so one call counts one failure.
        if getattr(local, "inside", False):
            return call()
        if not self.breaker.allow():
            return fallback()
        try:
            local.inside = True
            try:
                result = call()
            finally:
                local.inside = False
        except Exception as exc:
            if not self._is_connection_error(exc):
                raise
            self.breaker.record_failure(exc)
            return fallback()
        self.breaker.record_success()
        return result

    # Reads miss.

    def get(self, key: Any, default: Any | None = None, version: int | None = None) -> Any:
        return self._guard(
            lambda: super(_Resilient, self).get(key, default, version), lambda: default
        )

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._guard(lambda: super(_Resilient, self).get_many(keys, version), dict)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._guard(lambda: super(_Resilient, self).has_key(key, version), lambda: False)

    def get_or_set(
        self,
        key: Any,
        default: Any | None,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> Any | None:

        def computed() -> Any:
            return default() if callable(default) else default

        return self._guard(
            lambda: super(_Resilient, self).get_or_set(key, default, timeout, version), computed
        )

    # Writes are dropped.

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        return self._guard(
            lambda: super(_Resilient, self).add(key, value, timeout, version), lambda: False
        )

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        self._guard(lambda: super(_Resilient, self).set(key, value, timeout, version), lambda: None)

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        # Django's contract: the keys that were not stored.
        return self._guard(
            lambda: super(_Resilient, self).set_many(data, timeout, version), lambda: list(data)
        )

    def touch(
        self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._guard(
            lambda: super(_Resilient, self).touch(key, timeout, version), lambda: False
        )

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._guard(lambda: super(_Resilient, self).delete(key, version), lambda: False)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._guard(lambda: super(_Resilient, self).delete_many(keys, version), lambda: None)

    def clear(self) -> None:
        self._guard(super().clear, lambda: None)

    # Counters behave as on a missing key: ValueError, which callers of incr() handle anyway.

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._guard(lambda: super(_Resilient, self).incr(key, delta, version), _missing(key))

    def decr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._guard(lambda: super(_Resilient, self).decr(key, delta, version), _missing(key))

    def incr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._guard(
            lambda: super(_Resilient, self).incr_version(key, delta, version), _missing(key)
        )

    def decr_version(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._guard(
            lambda: super(_Resilient, self).decr_version(key, delta, version), _missing(key)
        )

    def close(self, **kwargs: Any) -> None:
        try:
            super().close(**kwargs)
        except Exception as exc:
            if not self._is_connection_error(exc):
                raise


def _missing(key: Any) -> Callable[[], int]:
    def fallback() -> int:
        raise ValueError(f"Key '{key}' not found")

    return fallback


def _in_thread(name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    """Return the async twin of the sync method ``name``.

    BaseCache's ``aget_many``, ``aget_or_set``, ``aincr`` and others are built from several
    ``aget``/``aset`` calls; running the guarded sync method once instead counts one failure
    per call, and uses the backend's own ``get_many`` (one round trip).
    """

    async def method(self: BaseCache, *args: Any, **kwargs: Any) -> Any:
        return await sync_to_async(getattr(self, name), thread_sensitive=True)(*args, **kwargs)

    method.__name__ = method.__qualname__ = f"a{name}"
    return method


for _name in (
    "get",
    "get_many",
    "has_key",
    "get_or_set",
    "add",
    "set",
    "set_many",
    "touch",
    "delete",
    "delete_many",
    "clear",
    "incr",
    "decr",
    "incr_version",
    "decr_version",
):
    setattr(_Resilient, f"a{_name}", _in_thread(_name))


class ResilientRedisCache(_Resilient, RedisCache):
    """Django's ``RedisCache`` that misses instead of failing while Redis is unreachable."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        try:
            import redis.exceptions
        except ImportError as exc:
            raise ImproperlyConfigured(
                "ResilientRedisCache needs the 'redis' extra: pip install 'django-prodkit[redis]'"
            ) from exc
        params, tuning = _split_tuning(params)
        super().__init__(server, params)
        self._start_breaker("Redis", server, tuning)
        # redis-py wraps socket errors in its ConnectionError (AuthenticationError and
        # BusyLoadingError included: the cache is unusable either way) and TimeoutError.
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

    def _is_connection_error(self, exc: Exception) -> bool:
        return isinstance(exc, self._errors)


class ResilientPyMemcacheCache(_Resilient, PyMemcacheCache):
    """Django's ``PyMemcacheCache`` that misses instead of failing while memcached is down."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        try:
            from pymemcache.exceptions import (  # type: ignore[import-untyped]
                MemcacheError,
                MemcacheUnexpectedCloseError,
            )
        except ImportError as exc:
            raise ImproperlyConfigured(
                "ResilientPyMemcacheCache needs the 'memcached' extra: "
                "pip install 'django-prodkit[memcached]'"
            ) from exc
        params, tuning = _split_tuning(params)
        # pymemcache's HashClient has a breaker of its own: by default it keeps retrying a
        # failed server for a while, answering with silent misses that would reset ours, then
        # drops it for 60 s. Drop it at the first failure and take it back after our cool-down.
        options = params["OPTIONS"]
        options.setdefault("retry_attempts", 0)
        options.setdefault("dead_timeout", tuning.get("cooldown", DEFAULT_COOLDOWN))
        super().__init__(server, params)
        self._start_breaker("memcached", server, tuning)
        self._errors = (OSError, MemcacheUnexpectedCloseError)
        # HashClient raises the base class itself, and only for "All servers seem to be down
        # right now"; its subclasses are client and server errors, which must surface.
        self._all_down = MemcacheError

    def _is_connection_error(self, exc: Exception) -> bool:
        return isinstance(exc, self._errors) or type(exc) is self._all_down


__all__ = [
    "BREAKER_OPTION",
    "CircuitBreaker",
    "ResilientPyMemcacheCache",
    "ResilientRedisCache",
    "circuit_breaker",
]
