"""Small middleware, each natively sync and async.

``HealthCheckMiddleware`` answers the health endpoints before anything else runs,
``TrustedProxyMiddleware`` puts the client's address in ``REMOTE_ADDR`` behind known proxies,
``RequestIdMiddleware`` gives every request an id that reaches the logs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import Token
from typing import TypeAlias, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from django_prodkit import health
from django_prodkit.conf import conf
from django_prodkit.forwarded import believed_client
from django_prodkit.log import request_id_var

GetResponse: TypeAlias = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]

REQUEST_ID_HEADER = "X-Request-ID"
access_logger = logging.getLogger("django_prodkit.access")


class HybridMiddleware:
    """Base of prodkit's middleware: natively sync and async, so no thread hop under ASGI.

    A subclass implements ``_call`` for the sync path and ``__acall__`` for the async one.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            # Tells Django this instance is a coroutine function: no sync_to_async around it.
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        return self.__acall__(request) if self.async_mode else self._call(request)

    def _call(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError


# An id is written into log lines and echoed in a response header: accept only short tokens
# that cannot split a header or a log line.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# W3C Trace Context: version-traceid-parentid-flags, lowercase hex. Version ff is invalid;
# a later version may append fields, version 00 may not.
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-[0-9a-f]{2}(?P<rest>-.*)?"
)


def request_id_from_headers(request: HttpRequest) -> str | None:
    """Return the id the caller or the front end gave ``request``, or None.

    Tried in order: ``X-Request-ID`` (when safe: 1-128 characters of ``A-Z a-z 0-9 . _ : -``),
    the trace id of a valid W3C ``traceparent``, App Service's ``X-ARR-LOG-ID`` (when safe).
    """
    meta = request.META
    request_id = meta.get("HTTP_X_REQUEST_ID", "")
    if _SAFE_ID.fullmatch(request_id):
        return str(request_id)
    trace = _TRACEPARENT.fullmatch(meta.get("HTTP_TRACEPARENT", ""))
    if (
        trace
        and trace["version"] != "ff"
        and not (trace["version"] == "00" and trace["rest"])
        and trace["trace_id"] != "0" * 32
        and trace["parent_id"] != "0" * 16
    ):
        return trace["trace_id"]
    arr_log_id = meta.get("HTTP_X_ARR_LOG_ID", "")
    if _SAFE_ID.fullmatch(arr_log_id):
        return str(arr_log_id)
    return None


class RequestIdMiddleware(HybridMiddleware):
    """Give each request an id, and log each request with it (the access log).

    The id is ``request.request_id``, the ``X-Request-ID`` response header and
    ``django_prodkit.log.request_id_var`` (so every log line of the request carries it). It
    comes from the request's headers (see ``request_id_from_headers``) or is a new random one.

    With ``PRODKIT_ACCESS_LOG`` on (the default) each request ends with one INFO line on the
    ``django_prodkit.access`` logger: client, method, path, status and milliseconds, under the
    request's id, with the same fields as ``extra`` for the JSON format. The server's own
    access log has no request id and, under uvicorn, no duration; prodkit's gunicorn config
    leaves it off. Runs natively under WSGI and ASGI. Put it early in ``MIDDLEWARE``, right
    after ``SecurityMiddleware`` and ``TrustedProxyMiddleware``.
    """

    def __init__(self, get_response: GetResponse) -> None:
        super().__init__(get_response)
        self.access_log = conf.PRODKIT_ACCESS_LOG

    def _call(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id, token = self._start(request)
        try:
            response = cast("HttpResponseBase", self.get_response(request))
            self._finish(request, response, started)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id, token = self._start(request)
        try:
            response = await cast("Awaitable[HttpResponseBase]", self.get_response(request))
            self._finish(request, response, started)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def _start(self, request: HttpRequest) -> tuple[str, Token[str | None]]:
        request_id = request_id_from_headers(request) or uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        return request_id, request_id_var.set(request_id)

    def _finish(self, request: HttpRequest, response: HttpResponseBase, started: float) -> None:
        if not (self.access_log and access_logger.isEnabledFor(logging.INFO)):
            return
        milliseconds = round((time.perf_counter() - started) * 1000, 1)
        fields = {
            "client": request.META.get("REMOTE_ADDR", ""),
            "method": request.method,
            # The path alone: a query string may carry tokens.
            "path": request.path,
            "status": response.status_code,
            "duration_ms": milliseconds,
        }
        access_logger.info(
            '%(client)s "%(method)s %(path)s" %(status)s %(duration_ms)sms', fields, extra=fields
        )


class HealthCheckMiddleware(HybridMiddleware):
    """Answer ``GET``/``HEAD`` on ``/healthz`` and ``/readyz`` before any other middleware.

    App Service's health check (like most load balancers') asks for the path over plain
    HTTP with the instance's internal address as ``Host``; ``ALLOWED_HOSTS`` and the HTTPS
    redirect would turn it away. So these two paths, and only these, are answered here,
    with the views of ``django_prodkit.health``: no host check, no session, no CSRF.
    Every other request, and every other method on these paths, goes on untouched. Put it
    first in ``MIDDLEWARE`` (``production_middleware()`` does).
    """

    def _call(self, request: HttpRequest) -> HttpResponseBase:
        path = self._health_path(request)
        if path == health.READINESS_PATH:
            return health.readyz(request)
        if path == health.LIVENESS_PATH:
            return health.healthz(request)
        return cast("HttpResponseBase", self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        path = self._health_path(request)
        if path == health.READINESS_PATH:
            return await health.areadyz(request)
        if path == health.LIVENESS_PATH:
            return await health.ahealthz(request)
        return await cast("Awaitable[HttpResponseBase]", self.get_response(request))

    @staticmethod
    def _health_path(request: HttpRequest) -> str | None:
        # path_info and method only: reading the host here would validate it.
        if request.method not in ("GET", "HEAD"):
            return None
        return health.health_path(request.path_info)


class TrustedProxyMiddleware(HybridMiddleware):
    """Set ``REMOTE_ADDR`` to the client's address when a trusted proxy forwarded the request.

    Reads ``PRODKIT_TRUSTED_PROXIES``, ``PRODKIT_PROXY_HOPS`` and ``PRODKIT_CLIENT_IP_HEADER``
    (see ``client_address``); with neither of the first two set it does nothing, and it
    never looks at the headers of a request that did not come from a trusted proxy. Runs
    natively under WSGI and ASGI. Put it right after ``SecurityMiddleware``.
    """

    def _call(self, request: HttpRequest) -> HttpResponseBase:
        self._rewrite(request)
        return cast("HttpResponseBase", self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self._rewrite(request)
        return await cast("Awaitable[HttpResponseBase]", self.get_response(request))

    @staticmethod
    def _rewrite(request: HttpRequest) -> None:
        request.META["REMOTE_ADDR"] = believed_client(request.META)


__all__ = [
    "REQUEST_ID_HEADER",
    "HealthCheckMiddleware",
    "RequestIdMiddleware",
    "TrustedProxyMiddleware",
    "request_id_from_headers",
]
