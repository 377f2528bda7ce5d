"""Liveness (``/healthz``) and readiness (``/readyz``) endpoints.

``/healthz`` answers as soon as the process can: no dependency is called. ``/readyz`` probes
the database (``SELECT 1``), the default cache (a ``get``) and the default storage (an
``exists()``) concurrently, each in a thread of its own with ``PRODKIT_HEALTH_TIMEOUT``, so a
dead dependency costs one timeout, never the sum. Both answer ``{"status": "ok"}`` (200) or
``{"status": "unavailable"}`` (503); a request carrying ``PRODKIT_HEALTH_TOKEN`` also gets each
check's status, latency and error class. A cache on prodkit's resilient backends
(``django_prodkit.cache``) is probed beneath its resilience, but its outage does not make the
instance unready: the site works on without it, and no other instance would do better.

``HealthCheckMiddleware`` (first in ``MIDDLEWARE``) serves these views before host
validation and the HTTPS redirect, because the platform's probe uses the instance's
internal address and plain HTTP. ``django_prodkit.urls`` routes the same views.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hmac
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver
from django.http import HttpRequest, JsonResponse
from django.utils.connection import BaseConnectionHandler
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe

from django_prodkit.conf import conf
from django_prodkit.forwarded import believed_client
from django_prodkit.settings.health import validate_checks

logger = logging.getLogger(__name__)

T = TypeVar("T")

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
HEALTH_PATHS = (LIVENESS_PATH, READINESS_PATH)
"""The paths the health endpoints answer on (also with a trailing slash); telemetry and
access logs can leave them out with ``is_health_path``."""

# What the probes read: a key nobody writes and a name nobody stores, so a probe never
# changes anything and costs one round trip.
CACHE_PROBE_KEY = "prodkit:health:probe"
STORAGE_PROBE_NAME = ".prodkit-health-probe"

# Settings whose change makes earlier probe results (and cache clients) stale.
_PROBED_SETTINGS = frozenset(
    {
        "CACHES",
        "DATABASES",
        "STORAGES",
        "PRODKIT_HEALTH_CHECKS",
        "PRODKIT_HEALTH_TIMEOUT",
        "PRODKIT_HEALTH_CACHE_SECONDS",
    }
)


def health_path(path: str) -> str | None:
    """Return ``/healthz`` or ``/readyz`` when ``path`` is one of them (a trailing slash
    allowed), else None."""
    canonical = path[:-1] if len(path) > 1 and path.endswith("/") else path
    return canonical if canonical in HEALTH_PATHS else None


def is_health_path(path: str) -> bool:
    """Return True when ``path`` is a health endpoint's."""
    return health_path(path) is not None


@dataclass(frozen=True)
class CheckResult:
    """One probe's outcome: ``name`` (``database``, ``cache:sessions``...), ``ok``,
    ``seconds`` it took (the timeout when it did not finish), the error's class name, and
    whether readiness depends on it (not on a cache built to survive its server's outage)."""

    name: str
    ok: bool
    seconds: float
    error: str | None = None
    required: bool = True


@dataclass(frozen=True)
class Readiness:
    """The outcome of all probes: ``ok`` when every required check is."""

    ok: bool
    checks: tuple[CheckResult, ...]


_Job = tuple[str, Callable[[], None], concurrent.futures.Future[CheckResult]]


class _Worker:
    """A daemon thread that runs one check's probes, one after the other.

    A daemon, so that a dependency that hangs holds this thread, never a request's, and
    never stops the process from exiting. Kept between probes: starting threads for every
    probe costs more than the probes themselves.
    """

    def __init__(self, name: str) -> None:
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"prodkit-health-{name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            _run_probe(*job)


class _Prober:
    """Runs the probes, at most one at a time per check, and keeps the last result.

    Each check has a worker thread (see ``_Worker``). A request arriving while a probe is
    still running waits for that probe instead of queueing another, so a probe storm (or a
    hung dependency) costs one thread per check, not one per request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._running: dict[str, concurrent.futures.Future[CheckResult]] = {}
        self._workers: dict[str, _Worker] = {}
        self._caches: dict[str, BaseCache] = {}
        self._last: tuple[float, tuple[str, ...], Readiness] | None = None
        self._was_ok: bool | None = None

    def reset(self) -> None:
        """Forget results and cache clients; probes still running finish unheard."""
        with self._lock:
            self._generation += 1
            self._running = {}
            self._caches = {}
            for worker in self._workers.values():
                worker.jobs.put(None)  # it ends after the probe it may be stuck in
            self._workers = {}
            self._last = None
            self._was_ok = None

    def begin(
        self, checks: tuple[str, ...], max_age: float
    ) -> Readiness | tuple[int, list[concurrent.futures.Future[CheckResult]]]:
        """Return a result younger than ``max_age`` seconds, or the running probes."""
        with self._lock:
            if (
                self._last is not None
                and self._last[1] == checks
                and time.monotonic() - self._last[0] < max_age
            ):
                return self._last[2]
            futures = []
            for name in checks:
                future = self._running.get(name)
                if future is None or future.done():
                    future = self._spawn(name)
                    self._running[name] = future
                futures.append(future)
            return self._generation, futures

    def finish(
        self,
        checks: tuple[str, ...],
        generation: int,
        futures: list[concurrent.futures.Future[CheckResult]],
        timeout: float,
    ) -> Readiness:
        """Return the readiness the finished ``futures`` give; unfinished ones timed out."""
        results = tuple(
            replace(
                future.result()
                if future.done()
                else CheckResult(name, ok=False, seconds=timeout, error="TimeoutError"),
                required=_required(name),
            )
            for name, future in zip(checks, futures, strict=True)
        )
        readiness = Readiness(
            ok=all(result.ok or not result.required for result in results), checks=results
        )
        with self._lock:
            if generation == self._generation:
                self._last = (time.monotonic(), checks, readiness)
                # Log a fall, and a recovery from one; a healthy start is not news.
                changed = readiness.ok is not self._was_ok and (
                    self._was_ok is False or not readiness.ok
                )
                self._was_ok = readiness.ok
            else:
                changed = False
        if changed:
            _log_change(readiness)
        return readiness

    def _spawn(self, name: str) -> concurrent.futures.Future[CheckResult]:
        future: concurrent.futures.Future[CheckResult] = concurrent.futures.Future()
        # Running from the start, as a future handed to a worker should be.
        future.set_running_or_notify_cancel()
        worker = self._workers.get(name)
        if worker is None or not worker.thread.is_alive():
            worker = self._workers[name] = _Worker(name)
        worker.jobs.put((name, self._probe_for(name), future))
        return future

    def _probe_for(self, name: str) -> Callable[[], None]:
        kind, _, alias = name.partition(":")
        alias = alias or "default"
        if kind == "database":
            return lambda: _probe_database(alias)
        if kind == "cache":
            clients = self._caches
            return lambda: _probe_cache(name, alias, clients)
        return lambda: _probe_storage(alias)


def _run_probe(
    name: str, probe: Callable[[], None], future: concurrent.futures.Future[CheckResult]
) -> None:
    started = time.perf_counter()
    error: str | None = "Interrupted"
    try:
        probe()
        error = None
    except Exception as exc:
        error = type(exc).__name__
    finally:
        # Even when the thread is torn down: a future never resolved would keep every later
        # request waiting for it.
        future.set_result(
            CheckResult(name, ok=error is None, seconds=time.perf_counter() - started, error=error)
        )


def _probe_database(alias: str) -> None:
    # A connection of the probe's own, closed here: Django's connections belong to the
    # thread that opened them, and nothing else in this worker thread would close it.
    connection = _own_connection(connections, alias)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1{connection.features.bare_select_suffix}")
            cursor.fetchone()
    finally:
        connection.close()
        if connection.connection is not None:
            # SQLite ignores close() on an in-memory database; this connection is ours alone.
            connection.connection.close()


def _probe_cache(name: str, alias: str, clients: dict[str, BaseCache]) -> None:
    # One client per check, kept between probes: a probe measures a round trip, not a new
    # connection (and TLS handshake) each time. Only one probe per check runs at a time, so
    # a client is never used by two threads at once. Made here, so that a bad alias is a
    # failing check rather than a failing request.
    cache = clients.get(name)
    if cache is None:
        cache = clients[name] = _own_connection(caches, alias)
    _backend_get(cache)(CACHE_PROBE_KEY)


def _backend_get(cache: BaseCache) -> Callable[[str], Any]:
    # The get() of the Django backend underneath: prodkit's resilient caches answer a miss
    # while their server is down, which would hide the outage from the probe.
    for klass in type(cache).__mro__:
        if (
            klass is not BaseCache
            and klass.__module__.startswith("django.core.cache.backends.")
            and "get" in vars(klass)
        ):
            return functools.partial(vars(klass)["get"], cache)
    return cache.get


def _required(name: str) -> bool:
    """Return False for a cache check whose backend is built to survive its server's outage:
    the site works on without it, and taking instances out of the load balancer would not
    bring it back. Its state is still in the details."""
    kind, _, alias = name.partition(":")
    if kind != "cache":
        return True
    try:
        from django_prodkit.cache import ResilientPyMemcacheCache, ResilientRedisCache

        backend = import_string(caches.settings[alias or "default"]["BACKEND"])
    except (ImportError, KeyError):
        return True
    return not (
        isinstance(backend, type)
        and issubclass(backend, (ResilientRedisCache, ResilientPyMemcacheCache))
    )


def _own_connection(handler: BaseConnectionHandler[T], alias: str) -> T:
    # create_connection() raises a bare KeyError for an unknown alias; name it the way
    # handler[alias] would (ConnectionDoesNotExist, InvalidCacheBackendError).
    if alias not in handler.settings:
        raise handler.exception_class(f"The connection {alias!r} doesn't exist.")
    return handler.create_connection(alias)


def _probe_storage(alias: str) -> None:
    storages[alias].exists(STORAGE_PROBE_NAME)


def _log_change(readiness: Readiness) -> None:
    if readiness.ok:
        logger.info("Readiness: ok.")
        return
    failed = ", ".join(
        f"{result.name} ({result.error})" for result in readiness.checks if not result.ok
    )
    logger.warning("Readiness: unavailable; failing checks: %s.", failed)


_prober = _Prober()


@receiver(setting_changed)
def _forget_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in _PROBED_SETTINGS:
        _prober.reset()


def _configured_checks() -> tuple[str, ...]:
    return tuple(validate_checks(conf.PRODKIT_HEALTH_CHECKS))


def check_readiness() -> Readiness:
    """Probe the configured dependencies concurrently, waiting at most one timeout."""
    checks = _configured_checks()
    timeout = conf.PRODKIT_HEALTH_TIMEOUT
    state = _prober.begin(checks, conf.PRODKIT_HEALTH_CACHE_SECONDS)
    if isinstance(state, Readiness):
        return state
    generation, futures = state
    concurrent.futures.wait(futures, timeout=timeout)
    return _prober.finish(checks, generation, futures, timeout)


async def acheck_readiness() -> Readiness:
    """``check_readiness`` for async code: the event loop waits, no thread is blocked."""
    checks = _configured_checks()
    timeout = conf.PRODKIT_HEALTH_TIMEOUT
    state = _prober.begin(checks, conf.PRODKIT_HEALTH_CACHE_SECONDS)
    if isinstance(state, Readiness):
        return state
    generation, futures = state
    await _all_done(futures, timeout)
    return _prober.finish(checks, generation, futures, timeout)


async def _all_done(futures: list[concurrent.futures.Future[CheckResult]], timeout: float) -> None:
    """Wait until every future is done or ``timeout`` passed, with one wake-up of the loop
    (``asyncio.wrap_future`` would take one per future)."""
    pending = [future for future in futures if not future.done()]
    if not pending:
        return
    loop = asyncio.get_running_loop()
    all_done: asyncio.Future[None] = loop.create_future()
    lock = threading.Lock()
    remaining = len(pending)

    def finish() -> None:
        if not all_done.done():
            all_done.set_result(None)

    def one_done(_: concurrent.futures.Future[CheckResult]) -> None:
        nonlocal remaining
        with lock:
            remaining -= 1
            if remaining:
                return
        # The loop may be gone when a probe that outlived its request finishes.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(finish)

    for future in pending:
        future.add_done_callback(one_done)
    await asyncio.wait([all_done], timeout=timeout)


def authorized(request: HttpRequest) -> bool:
    """Return True when ``request`` carries ``Authorization: Bearer <PRODKIT_HEALTH_TOKEN>``."""
    token = conf.PRODKIT_HEALTH_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def health_response(request: HttpRequest, readiness: Readiness | None = None) -> JsonResponse:
    """Return the JSON answer for ``readiness`` (None: liveness, always ok)."""
    ok = readiness is None or readiness.ok
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable"}
    if authorized(request):
        # The address the app believes the client has: `prodcheck --url` sends a spoofed
        # X-Forwarded-For and reads it here to prove the proxy settings are not fooled.
        body["client"] = believed_client(request.META)
        if readiness is not None:
            body["checks"] = {
                result.name: {
                    "status": "ok" if result.ok else "unavailable",
                    "latency_ms": round(result.seconds * 1000, 1),
                    **({"error": result.error} if result.error else {}),
                    **({} if result.required else {"required": False}),
                }
                for result in readiness.checks
            }
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    # These answers skip SecurityMiddleware (see HealthCheckMiddleware): set its one header
    # that matters for a JSON body here.
    response["X-Content-Type-Options"] = "nosniff"
    # Readiness changes are logged once by _log_change; without this Django's request logger
    # would write an error for every probe of an unready instance.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 whenever the process answers; no dependency is called."""
    return health_response(request)


@require_safe
async def ahealthz(request: HttpRequest) -> JsonResponse:
    """``healthz`` as an async view."""
    return health_response(request)


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when every configured dependency answers within the timeout, else 503."""
    return health_response(request, check_readiness())


@require_safe
async def areadyz(request: HttpRequest) -> JsonResponse:
    """``readyz`` as an async view: the probes run in their threads, the request in none."""
    return health_response(request, await acheck_readiness())


__all__ = [
    "CACHE_PROBE_KEY",
    "HEALTH_PATHS",
    "LIVENESS_PATH",
    "READINESS_PATH",
    "STORAGE_PROBE_NAME",
    "CheckResult",
    "Readiness",
    "acheck_readiness",
    "ahealthz",
    "areadyz",
    "authorized",
    "check_readiness",
    "health_path",
    "health_response",
    "healthz",
    "is_health_path",
    "readyz",
]
