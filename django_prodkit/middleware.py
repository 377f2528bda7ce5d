"""Small middleware: ``RequestIdMiddleware`` gives every request an id that reaches the logs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from contextvars import Token
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from django_prodkit.log import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"

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


class RequestIdMiddleware:
    """Give each request an id: ``request.request_id``, the ``X-Request-ID`` response header
    and ``django_prodkit.log.request_id_var`` (so every log line of the request carries it).

    The id comes from the request's headers (see ``request_id_from_headers``) or is a new
    random one. Runs natively under WSGI and ASGI. Put it first in ``MIDDLEWARE``, right
    after ``SecurityMiddleware``.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            # Tells Django this instance is a coroutine function: no sync_to_async around it.
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        request_id, token = self._start(request)
        try:
            response = cast("HttpResponseBase", self.get_response(request))
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        request_id, token = self._start(request)
        try:
            response = await cast("Awaitable[HttpResponseBase]", self.get_response(request))
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def _start(self, request: HttpRequest) -> tuple[str, Token[str | None]]:
        request_id = request_id_from_headers(request) or uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        return request_id, request_id_var.set(request_id)


__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "request_id_from_headers"]
