"""Turning telemetry on in a process: the backend, and what records dependencies, errors and logs.

``active_backend()`` makes the backend the settings name (once; again after a settings change in
tests) and wires, only then:

- database queries: Django's ``execute_wrapper`` on every connection as it is created
  (``connection_created``), in whichever thread; a query is recorded only inside a sampled
  request, with its SQL text and never its parameters;
- outgoing HTTP calls made with requests or httpx (when installed; patched when first
  imported, so neither is imported for nothing): a dependency item, and ``traceparent``
  passed on so the called service continues the trace;
- unhandled exceptions: Django's ``got_request_exception`` signal, sent for every error that
  becomes a 500 (in a view or in a middleware);
- log records at ``PRODKIT_TELEMETRY_LOG_LEVEL`` and above: a handler on the root logger.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from django.core.signals import got_request_exception, setting_changed
from django.db import connections
from django.db.backends.signals import connection_created

from django_prodkit.conf import conf
from django_prodkit.telemetry.backends import BACKEND_CLASSES, Backend
from django_prodkit.telemetry.context import Operation, current_operation, new_span_id
from django_prodkit.telemetry.records import (
    DependencyRecord,
    ExceptionRecord,
    mark_sent,
    without_sent_exception,
)

# Loggers whose records never become telemetry: the exporters' own (a failing send would log
# about itself forever) and prodkit's access log (the request item says it all).
_QUIET_LOGGERS = (
    "django_prodkit.telemetry",
    "django_prodkit.access",
    "opencensus",
    "azure",
    "opentelemetry",
    "urllib3",
)

_lock = threading.Lock()
_backend: Backend | None = None
_configured = False
_handler: logging.Handler | None = None


def active_backend() -> Backend | None:
    """The backend ``PRODKIT_TELEMETRY_BACKEND`` names, wired in; None when it is ``off``."""
    global _backend, _configured, _handler
    if _configured:
        return _backend
    with _lock:
        if _configured:
            return _backend
        name = conf.PRODKIT_TELEMETRY_BACKEND
        backend = BACKEND_CLASSES[name]() if name in BACKEND_CLASSES else None
        if backend is not None:
            connection_created.connect(_attach_wrapper, dispatch_uid="prodkit-telemetry-db")
            for connection in connections.all(initialized_only=True):
                _attach_wrapper(None, connection)
            got_request_exception.connect(_record_exception, dispatch_uid="prodkit-telemetry")
            _patch_http_clients()
            level = conf.PRODKIT_TELEMETRY_LOG_LEVEL
            handler = backend.log_handler() if level != "OFF" else None
            if handler is not None:
                handler.setLevel(level)
                handler.addFilter(_not_quiet)
                logging.getLogger().addHandler(handler)
            _handler = handler
        _backend = backend
        _configured = True
        return backend


def reset() -> None:
    """Forget the backend (after flushing it), so the next request makes it anew."""
    global _backend, _configured, _handler
    with _lock:
        if _backend is not None:
            _backend.flush(2.0)
            _backend.close()
        if _handler is not None:
            logging.getLogger().removeHandler(_handler)
            _handler.close()
        connection_created.disconnect(dispatch_uid="prodkit-telemetry-db")
        got_request_exception.disconnect(dispatch_uid="prodkit-telemetry")
        _backend, _configured, _handler = None, False, None


def flush_at_exit() -> bool:
    """Send what this process still holds, within ``PRODKIT_TELEMETRY_EXIT_TIMEOUT``."""
    backend = _backend
    return backend.flush(None) if backend is not None else True


def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting.startswith("PRODKIT_TELEMETRY_"):
        reset()


setting_changed.connect(_settings_changed, dispatch_uid="prodkit-telemetry-settings")


def _not_quiet(record: logging.LogRecord) -> bool:
    return not record.name.startswith(_QUIET_LOGGERS)


def _sampled() -> Operation | None:
    operation = current_operation()
    return operation if operation is not None and operation.sampled else None


# --- database ----------------------------------------------------------------------------


def _attach_wrapper(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _query_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_query_wrapper)


def _query_wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    operation = _sampled()
    backend = _backend
    if operation is None or backend is None:
        return execute(sql, params, many, context)
    start = time.time()
    began = time.perf_counter()
    ok = True
    try:
        return execute(sql, params, many, context)
    except Exception:
        ok = False
        raise
    finally:
        connection = context["connection"]
        database = connection.settings_dict
        name = str(database.get("NAME") or "")
        host = database.get("HOST") or "localhost"
        port = database.get("PORT")
        if connection.vendor == "sqlite":
            target = name.rsplit("/", 1)[-1]
        else:
            target = f"{host}:{port} | {name}" if port else f"{host} | {name}"
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "QUERY"
        backend.dependency(
            DependencyRecord(
                operation,
                new_span_id(),
                connection.vendor,
                f"{verb} {name.rsplit('/', 1)[-1]}",
                target,
                sql,
                start,
                time.perf_counter() - began,
                ok,
                "0" if ok else "error",
            )
        )


# --- exceptions ----------------------------------------------------------------------------


def _record_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    operation = _sampled()
    backend = _backend
    error, tb = sys.exc_info()[1:]
    if operation is None or backend is None or error is None:
        return
    backend.exception(ExceptionRecord.from_exception(operation, error, tb, time.time()))
    mark_sent(error)


# --- outgoing HTTP -------------------------------------------------------------------------


def _patch_requests(requests: ModuleType) -> None:
    requests.Session.send = _traced(requests.Session.send)


def _patch_httpx(httpx: ModuleType) -> None:
    httpx.Client.send = _traced(httpx.Client.send)
    httpx.AsyncClient.send = _atraced(httpx.AsyncClient.send)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches an HTTP client the moment its package is first imported. Importing requests
    and httpx to patch them would cost every worker ~0.1 s of start-up and their memory, for
    clients most projects never call (wrapt's post-import hooks would do this, but importing
    wrapt costs half of that)."""

    def __init__(self) -> None:
        self.pending: dict[str, Callable[[ModuleType], None]] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        patch = self.pending.pop(fullname, None)
        if patch is None:
            return None
        # The spec the other finders give (this one no longer knows the name), its module
        # patched as soon as its code has run.
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # not found, or a legacy loader: left unpatched, never broken
        run = loader.exec_module

        def run_and_patch(module: ModuleType) -> None:
            run(module)
            patch(module)

        loader.exec_module = run_and_patch  # type: ignore[method-assign]
        return spec


_on_import = _PatchOnImport()
_patched: set[str] = set()


def _patch_http_clients() -> None:
    """Wrap ``requests.Session.send`` and httpx's ``Client.send``/``AsyncClient.send`` once
    per process: now if the package is imported, else when it is."""
    for name, patch in (("requests", _patch_requests), ("httpx", _patch_httpx)):
        if name in _patched:
            continue
        _patched.add(name)
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
        else:
            _on_import.pending[name] = patch
    if _on_import.pending and _on_import not in sys.meta_path:
        sys.meta_path.insert(0, _on_import)


def _traced(send: Callable[..., Any]) -> Callable[..., Any]:
    """``send(self, request, ...)`` of requests or httpx, recorded inside a traced request."""

    @functools.wraps(send)
    def traced(self: Any, request: Any, **kwargs: Any) -> Any:
        call = _HttpCall(request.method, str(request.url), request.headers)
        if call.operation is None:
            return send(self, request, **kwargs)
        try:
            response = send(self, request, **kwargs)
        except Exception:
            call.done(None)
            raise
        call.done(response.status_code)
        return response

    return traced


def _atraced(send: Callable[..., Any]) -> Callable[..., Any]:
    """The same for httpx's ``AsyncClient.send``."""

    @functools.wraps(send)
    async def traced(self: Any, request: Any, **kwargs: Any) -> Any:
        call = _HttpCall(request.method, str(request.url), request.headers)
        if call.operation is None:
            return await send(self, request, **kwargs)
        try:
            response = await send(self, request, **kwargs)
        except Exception:
            call.done(None)
            raise
        call.done(response.status_code)
        return response

    return traced


class _HttpCall:
    """One outgoing request inside a traced one: passes the trace on, records the call."""

    __slots__ = ("began", "method", "operation", "span_id", "start", "url")

    def __init__(self, method: str, url: str, headers: Any) -> None:
        operation = current_operation()
        self.operation = operation
        if operation is None:
            return
        self.span_id = new_span_id()
        flags = "01" if operation.sampled else "00"
        headers["traceparent"] = f"00-{operation.trace_id}-{self.span_id}-{flags}"
        self.method, self.url = method, url
        self.start, self.began = time.time(), time.perf_counter()

    def done(self, status: int | None) -> None:
        operation, backend = self.operation, _backend
        if operation is None or not operation.sampled or backend is None:
            return
        parts = urlsplit(self.url)
        # Path only in the name, no query string (it may carry a token).
        url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        backend.dependency(
            DependencyRecord(
                operation,
                self.span_id,
                "HTTP",
                f"{self.method} {parts.path or '/'}",
                parts.netloc,
                url,
                self.start,
                time.perf_counter() - self.began,
                status is not None and status < 400,
                "" if status is None else str(status),
            )
        )


# --- logs ----------------------------------------------------------------------------------


class EnvelopeLogHandler(logging.Handler):
    """Log records as trace items of an envelope backend, with the request's operation id."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend

    def emit(self, record: logging.LogRecord) -> None:
        operation = current_operation()
        if operation is not None and not operation.sampled:
            return
        record = without_sent_exception(record)
        try:
            self.backend.submit(self.backend.builder.message(record, operation))
            if record.exc_info and record.exc_info[1] is not None and operation is not None:
                error, tb = record.exc_info[1], record.exc_info[2]
                self.backend.exception(
                    ExceptionRecord.from_exception(operation, error, tb, record.created)
                )
                mark_sent(error)
        except Exception:
            self.handleError(record)


def opencensus_log_handler(backend: Any) -> logging.Handler:
    """opencensus-ext-azure's ``AzureLogHandler``, told the operation of each record."""
    base = backend.handler_class

    class Handler(base):  # type: ignore[misc,valid-type]
        # opencensus sets no lock, and Python 3.13's Handler.handle takes it; emit only
        # puts the record on a queue, so logging's own lock costs nothing.
        createLock = logging.Handler.createLock

        def emit(self, record: logging.LogRecord) -> None:
            operation = current_operation()
            if operation is not None:
                if not operation.sampled:
                    return
                record.traceId = operation.trace_id
                record.spanId = operation.span_id
            super().emit(without_sent_exception(record))

    handler = PerProcessHandler(
        lambda: backend._processed_handler(Handler(**backend.log_options()))
    )
    return handler


class PerProcessHandler(logging.Handler):
    """A handler that makes its real one in each process on first use."""

    def __init__(self, make: Callable[[], logging.Handler]) -> None:
        super().__init__()
        from django_prodkit.telemetry.backends import PerProcess

        self.inner = PerProcess(make)

    def emit(self, record: logging.LogRecord) -> None:
        self.inner.get().handle(record)


__all__ = ["EnvelopeLogHandler", "active_backend", "flush_at_exit", "reset"]
