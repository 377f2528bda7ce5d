"""``TelemetryMiddleware``: one request item per request, natively under WSGI and ASGI.

It continues the caller's W3C trace (``traceparent``), decides sampling once per trace, makes
the operation current for everything the request does (queries, outgoing calls, log records,
the browser snippet), names the request by its route pattern (``GET /photos/<int:pk>/``, not
one name per object id), and answers with ``traceresponse`` naming the request's span.
Excluded paths (the health endpoints, static and media files by default) and App Service's
AlwaysOn pings cost a set lookup and are not traced. Put it after ``RequestIdMiddleware``
(``production_middleware()`` does); with ``PRODKIT_TELEMETRY_BACKEND=off`` Django drops it at
start-up (``MiddlewareNotUsed``) and nothing of the telemetry SDKs is imported.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from contextvars import Token
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.core.exceptions import DisallowedHost, MiddlewareNotUsed
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import empty

from django_prodkit import health
from django_prodkit.conf import conf
from django_prodkit.middleware import GetResponse, HybridMiddleware
from django_prodkit.telemetry.context import Operation, _operation
from django_prodkit.telemetry.instrument import active_backend
from django_prodkit.telemetry.records import RequestRecord

TRACERESPONSE_HEADER = "traceresponse"
# App Service pings "/" every few minutes with these agents when Always On or the health
# check is enabled: platform traffic, not users.
_PLATFORM_AGENTS = ("AlwaysOn", "HealthCheck/", "ReadyForRequest/")


class _Trace(NamedTuple):
    """One traced request in flight."""

    operation: Operation
    state: Any
    token: Token[Operation | None]
    start: float
    began: float


class Exclusions:
    """Paths never traced: exact paths, prefixes (``/static/*``) and regular expressions
    (``^/api/internal/``)."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        exact, prefixes, patterns = set(), [], []
        for entry in entries:
            if entry.startswith("^"):
                patterns.append(entry)
            elif entry.endswith("*"):
                prefixes.append(entry[:-1])
            else:
                exact.add(entry)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None

    def __call__(self, path: str) -> bool:
        return (
            path in self.exact
            or (bool(self.prefixes) and path.startswith(self.prefixes))
            or (self.pattern is not None and self.pattern.match(path) is not None)
        )


def default_exclusions() -> tuple[str, ...]:
    """The health endpoints, ``STATIC_URL`` and ``MEDIA_URL`` (when they are local paths),
    and ``/favicon.ico``."""
    entries = [path for p in health.HEALTH_PATHS for path in (p, f"{p}/")]
    for name in ("STATIC_URL", "MEDIA_URL"):
        url = str(getattr(settings, name, "") or "")
        if url.startswith("/") and url != "/":
            entries.append(f"{url}*")
    entries.append("/favicon.ico")
    return tuple(entries)


class TelemetryMiddleware(HybridMiddleware):
    """Trace each request to the telemetry backend (see the module docstring)."""

    def __init__(self, get_response: GetResponse) -> None:
        backend = active_backend()
        if backend is None:
            raise MiddlewareNotUsed("PRODKIT_TELEMETRY_BACKEND is off")
        super().__init__(get_response)
        self.backend = backend
        self.rate = conf.PRODKIT_TELEMETRY_SAMPLE_RATE
        self.excluded = Exclusions(conf.PRODKIT_TELEMETRY_EXCLUDE or default_exclusions())
        self.user_id = conf.PRODKIT_TELEMETRY_USER_ID

    def _skip(self, request: HttpRequest) -> bool:
        if self.excluded(request.path_info):
            return True
        agent = request.META.get("HTTP_USER_AGENT", "")
        return bool(agent) and agent.startswith(_PLATFORM_AGENTS)

    def _call(self, request: HttpRequest) -> HttpResponseBase:
        if self._skip(request):
            return cast("HttpResponseBase", self.get_response(request))
        trace = self._begin(request)
        try:
            response = cast("HttpResponseBase", self.get_response(request))
            self._finish(request, response, trace)
        finally:
            self._end(trace)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if self._skip(request):
            return await cast("Awaitable[HttpResponseBase]", self.get_response(request))
        trace = self._begin(request)
        try:
            response = await cast("Awaitable[HttpResponseBase]", self.get_response(request))
            self._finish(request, response, trace)
        finally:
            self._end(trace)
        return response

    def _begin(self, request: HttpRequest) -> _Trace:
        start, began = time.time(), time.perf_counter()
        operation, state = self.backend.begin(request.META.get("HTTP_TRACEPARENT"), self.rate)
        return _Trace(operation, state, _operation.set(operation), start, began)

    def _end(self, trace: _Trace) -> None:
        _operation.reset(trace.token)
        if trace.state is not None:
            self.backend.end(trace.state)

    def _finish(self, request: HttpRequest, response: HttpResponseBase, trace: _Trace) -> None:
        operation = trace.operation
        response[TRACERESPONSE_HEADER] = operation.traceparent
        if not operation.sampled:
            return
        method = request.method or "GET"
        match = request.resolver_match
        route = None if match is None else f"/{match.route}"
        if route is not None and route.startswith("/^"):
            route = route[1:]  # a re_path() pattern: shown as written
        record = RequestRecord(
            operation=operation,
            name=f"{method} {route}" if route else f"{method} (no route)",
            method=method,
            route=route,
            url=_url(request),
            status=response.status_code,
            start=trace.start,
            duration=time.perf_counter() - trace.began,
            client_ip=request.META.get("REMOTE_ADDR") or None,
            user_id=self._user_id(request) if self.user_id else None,
        )
        request_id = getattr(request, "request_id", None)
        if request_id:
            record.properties["request_id"] = request_id
        self.backend.request(record, trace.state)

    @staticmethod
    def _user_id(request: HttpRequest) -> str | None:
        # Only a user the request already loaded: asking here would cost a session and a
        # user query on every anonymous request.
        user = getattr(request, "user", None)
        wrapped = getattr(user, "_wrapped", user)
        if wrapped is None or wrapped is empty or not getattr(wrapped, "is_authenticated", False):
            return None
        return str(wrapped.pk)


# get_host()'s answer by the Host and X-Forwarded-Host headers ("" for a host ALLOWED_HOSTS
# refuses): a site sees a handful of hosts, and get_host()'s check of each costs 3 us a
# request, a tenth of the request item's cost. Only requests with a Host header: without one,
# get_host() reads the server's name, port and scheme. Bounded, so a client sending a new Host
# with every request cannot grow it (past the bound each is checked); forgotten when a
# setting get_host() reads changes.
_hosts: dict[tuple[str | None, str], str] = {}
_HOSTS_MAX = 64
_HOST_SETTINGS = frozenset({"ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST"})


def _url(request: HttpRequest) -> str:
    """The URL without its query string (a query may carry a token), and without a Host
    ALLOWED_HOSTS refuses (the server's own name instead)."""
    meta = request.META
    header = meta.get("HTTP_HOST")
    key = (meta.get("HTTP_X_FORWARDED_HOST"), header) if header is not None else None
    host = _hosts.get(key) if key is not None else None
    if host is None:
        try:
            host = request.get_host()
        except DisallowedHost:
            host = ""
        if key is not None and len(_hosts) < _HOSTS_MAX:
            _hosts[key] = host
    return f"{request.scheme}://{host or meta.get('SERVER_NAME', '')}{request.path}"


@receiver(setting_changed)
def _forget_hosts(*, setting: str, **kwargs: Any) -> None:
    if setting in _HOST_SETTINGS:
        _hosts.clear()


__all__ = ["TRACERESPONSE_HEADER", "Exclusions", "TelemetryMiddleware", "default_exclusions"]
