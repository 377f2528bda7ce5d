"""The backends: where a traced request's records go.

- ``azure``: prodkit's envelopes through prodkit's exporter (``exporter.py``); the default.
- ``console``: the same envelopes, one JSON line each on stdout (development).
- ``opencensus``: opencensus-ext-azure's ``AzureExporter`` (requests, dependencies, exceptions)
  and ``AzureLogHandler`` (log records), created in each process on first use.
- ``opentelemetry``: azure-monitor-opentelemetry's ``configure_azure_monitor()``, called in each
  process on first use, with every automatic instrumentation off (prodkit's middleware traces
  Django) and the resident pieces a web worker does not want switched off.

A backend made in a process that later forks is remade in the child on first use: SDK threads
do not survive ``fork()``, which is why a stock exporter created in gunicorn's master sends
nothing from the workers.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from django_prodkit.conf import conf
from django_prodkit.settings.telemetry import connection_string_fields, ingestion_endpoint
from django_prodkit.telemetry.context import Operation, start_operation
from django_prodkit.telemetry.envelopes import EnvelopeBuilder, iso_time
from django_prodkit.telemetry.exporter import Exporter, ExportStats
from django_prodkit.telemetry.metrics import ProcessCounters
from django_prodkit.telemetry.records import (
    DependencyRecord,
    ExceptionRecord,
    RequestRecord,
    without_sent_exception,
)


def role_name() -> str:
    """The cloud role name: the setting, else the settings module's top package."""
    return (
        conf.PRODKIT_TELEMETRY_ROLE_NAME
        or str(getattr(django_settings, "SETTINGS_MODULE", None) or "django").split(".")[0]
    )


def role_instance() -> str:
    """The cloud role instance: the setting, else the host name."""
    return conf.PRODKIT_TELEMETRY_ROLE_INSTANCE or socket.gethostname()


class Backend:
    """Receives one process's telemetry records. Subclasses export them."""

    name = "base"

    def begin(self, traceparent: str | None, rate: float) -> tuple[Operation, Any]:
        """Start a request's operation, continuing ``traceparent``; return it and whatever
        ``end`` needs."""
        return start_operation(traceparent, rate), None

    def end(self, state: Any) -> None:
        """The request is answered (its record went to ``request``)."""

    def request(self, record: RequestRecord, state: Any) -> None:
        raise NotImplementedError

    def dependency(self, record: DependencyRecord) -> None:
        raise NotImplementedError

    def exception(self, record: ExceptionRecord) -> None:
        raise NotImplementedError

    def log_handler(self) -> logging.Handler | None:
        """The handler that turns log records into trace items, or None (the SDK has one)."""
        return None

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued in this process; True when all of it went within ``timeout``."""
        return True

    def close(self) -> None:
        """Stop: the settings changed (tests) and a new backend takes over."""

    def stats(self) -> ExportStats | None:
        """Counts of this process's exporter, where the backend keeps them."""
        return None


class EnvelopeBackend(Backend):
    """Builds Application Insights envelopes and hands each to ``submit``."""

    def __init__(self) -> None:
        fields = connection_string_fields(conf.PRODKIT_TELEMETRY_CONNECTION_STRING or "")
        self.builder = EnvelopeBuilder(
            fields.get("instrumentationkey", ""),
            role_name=role_name(),
            role_instance=role_instance(),
            sample_rate=conf.PRODKIT_TELEMETRY_SAMPLE_RATE,
            max_length=conf.PRODKIT_TELEMETRY_MAX_LENGTH,
        )

    def submit(self, envelope: str) -> None:
        raise NotImplementedError

    def request(self, record: RequestRecord, state: Any) -> None:
        self.submit(self.builder.request(record))

    def dependency(self, record: DependencyRecord) -> None:
        self.submit(self.builder.dependency(record))

    def exception(self, record: ExceptionRecord) -> None:
        self.submit(self.builder.exception(record))

    def log_handler(self) -> logging.Handler | None:
        from django_prodkit.telemetry.instrument import EnvelopeLogHandler

        return EnvelopeLogHandler(self)


class AzureBackend(EnvelopeBackend):
    """prodkit's exporter to the connection string's ingestion endpoint."""

    name = "azure"

    def __init__(self) -> None:
        super().__init__()
        self.exporter = Exporter(
            ingestion_endpoint(conf.PRODKIT_TELEMETRY_CONNECTION_STRING or ""),
            queue_size=conf.PRODKIT_TELEMETRY_QUEUE_SIZE,
            interval=conf.PRODKIT_TELEMETRY_EXPORT_INTERVAL,
            timeout=conf.PRODKIT_TELEMETRY_SEND_TIMEOUT,
            retries=conf.PRODKIT_TELEMETRY_RETRIES,
            exit_timeout=conf.PRODKIT_TELEMETRY_EXIT_TIMEOUT,
            periodic=ProcessCounters(self.builder),
            period=conf.PRODKIT_TELEMETRY_METRICS_INTERVAL,
        )
        self.submit = self.exporter.submit  # type: ignore[method-assign]

    def flush(self, timeout: float | None = None) -> bool:
        return self.exporter.flush(timeout)

    def close(self) -> None:
        self.exporter.close()

    def stats(self) -> ExportStats | None:
        return self.exporter.stats()


class ConsoleBackend(EnvelopeBackend):
    """Each envelope as one line of JSON on stdout."""

    name = "console"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def submit(self, envelope: str) -> None:
        with self._lock:
            sys.stdout.write(f"{envelope}\n")
            sys.stdout.flush()


def _require(module: str, *, backend: str, extra: str) -> None:
    """Import ``module`` (an SDK), or say which extra brings it."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"PRODKIT_TELEMETRY_BACKEND={backend} needs the '{extra}' extra: "
            f"pip install 'django-prodkit[{extra}]'"
        ) from exc


def _sdk_switches() -> None:
    """Turn off what the Azure SDKs do by default and a web worker must not: statsbeat (which
    asks the instance metadata endpoint, 169.254.169.254, with a 5 s timeout at start-up), the
    OneSettings control-plane poll, and the VM resource detector (the metadata endpoint
    again). The SDKs read these switches from the environment only; a value the deployment
    set wins."""
    os.environ.setdefault("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    os.environ.setdefault("APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED", "true")
    os.environ.setdefault("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "azure_app_service")


class PerProcess:
    """Something made on first use in each process (never inherited across ``fork()``)."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._pid = -1
        self._value: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._value = self._make()
                    self._pid = os.getpid()
        return self._value

    def made(self) -> Any:
        """The value made in this process, or None."""
        return self._value if self._pid == os.getpid() else None


class OpenCensusBackend(Backend):
    """opencensus-ext-azure's exporters, made in each process that uses them."""

    name = "opencensus"

    def __init__(self) -> None:
        _require("opencensus.ext.azure", backend=self.name, extra="telemetry")
        from opencensus.ext.azure.log_exporter import AzureLogHandler
        from opencensus.ext.azure.trace_exporter import AzureExporter

        _sdk_switches()
        storage = conf.PRODKIT_TELEMETRY_STORAGE_PATH
        self.options: dict[str, Any] = {
            "connection_string": conf.PRODKIT_TELEMETRY_CONNECTION_STRING,
            # No writes to disk unless asked for: the default is a temporary directory
            # kept for 7 days.
            "enable_local_storage": storage is not None,
            **({"storage_path": storage} if storage else {}),
            "timeout": conf.PRODKIT_TELEMETRY_SEND_TIMEOUT,
            "export_interval": conf.PRODKIT_TELEMETRY_EXPORT_INTERVAL,
            "grace_period": conf.PRODKIT_TELEMETRY_EXIT_TIMEOUT,
            "queue_capacity": conf.PRODKIT_TELEMETRY_QUEUE_SIZE,
            "max_batch_size": 512,
        }
        self.tags = {"ai.cloud.role": role_name(), "ai.cloud.roleInstance": role_instance()}
        self.sample_rate = conf.PRODKIT_TELEMETRY_SAMPLE_RATE * 100.0
        self.exporter = PerProcess(lambda: self._processed(AzureExporter(**self.options)))
        self.handler_class = AzureLogHandler
        self.handler: Any = None
        self._errors: dict[str, ExceptionRecord] = {}
        # The full-queue warning comes once per dropped item, on the request thread.
        logging.getLogger("opencensus.common.schedule").addFilter(_once_a_minute)

    def _processed(self, exporter: Any) -> Any:
        exporter.add_telemetry_processor(self._process)
        return exporter

    def _process(self, envelope: Any) -> bool:
        envelope.tags.update(self.tags)
        envelope.sampleRate = self.sample_rate
        properties = getattr(envelope.data.baseData, "properties", None) or {}
        for key, tag in (
            ("prodkit.client_ip", "ai.location.ip"),
            ("prodkit.user_id", "ai.user.authUserId"),
        ):
            if key in properties:
                envelope.tags[tag] = properties.pop(key)
        for key in ("data", "target"):
            if f"prodkit.{key}" in properties:
                setattr(envelope.data.baseData, key, properties.pop(f"prodkit.{key}"))
        return True

    def request(self, record: RequestRecord, state: Any) -> None:
        from opencensus.trace.span import SpanKind

        attributes: dict[str, Any] = {
            "http.method": record.method,
            "http.route": record.name.partition(" ")[2],
            "http.url": record.url,
            "http.status_code": record.status,
            **record.properties,
        }
        if record.client_ip:
            attributes["prodkit.client_ip"] = record.client_ip
        if record.user_id:
            attributes["prodkit.user_id"] = record.user_id
        error = self._errors.pop(record.operation.span_id, None)
        if error is not None:
            attributes["error.name"] = error.type_name
            attributes["error.message"] = error.message
            attributes["stacktrace"] = [
                {"level": i, "method": f.name, "fileName": f.filename, "line": f.lineno or 0}
                for i, f in enumerate(reversed(error.frames))
            ]
        self._export(
            record.operation,
            record.operation.span_id,
            record.operation.parent_id,
            record.name,
            record.start,
            record.duration,
            SpanKind.SERVER,
            attributes,
        )

    def dependency(self, record: DependencyRecord) -> None:
        from opencensus.trace.span import SpanKind

        attributes: dict[str, Any] = {"component": record.type}
        if record.type == "HTTP":
            attributes["http.url"] = record.data
            attributes["http.method"] = record.name.partition(" ")[0]
            if record.result_code:
                attributes["http.status_code"] = int(record.result_code)
        else:
            attributes["prodkit.data"] = record.data
            attributes["prodkit.target"] = record.target
        self._export(
            record.operation,
            record.span_id,
            record.operation.span_id,
            record.name,
            record.start,
            record.duration,
            SpanKind.CLIENT,
            attributes,
            ok=record.success,
        )

    def exception(self, record: ExceptionRecord) -> None:
        # opencensus sends an exception with the request span that carries it.
        self._errors[record.operation.span_id] = record

    def _export(
        self,
        operation: Operation,
        span_id: str,
        parent_id: str | None,
        name: str,
        start: float,
        seconds: float,
        kind: int,
        attributes: dict[str, Any],
        ok: bool = True,
    ) -> None:
        from opencensus.trace.span_context import SpanContext
        from opencensus.trace.span_data import SpanData
        from opencensus.trace.status import Status

        span = SpanData(
            name=name,
            context=SpanContext(trace_id=operation.trace_id),
            span_id=span_id,
            parent_span_id=parent_id,
            attributes=attributes,
            start_time=iso_time(start),
            end_time=iso_time(start + seconds),
            child_span_count=0,
            stack_trace=None,
            annotations=None,
            message_events=None,
            links=None,
            status=Status(0 if ok else 2),
            same_process_as_parent_span=None,
            span_kind=kind,
        )
        self.exporter.get().export([span])

    def log_handler(self) -> logging.Handler | None:
        from django_prodkit.telemetry.instrument import opencensus_log_handler

        handler = opencensus_log_handler(self)
        self.handler = handler
        return handler

    def log_options(self) -> dict[str, Any]:
        """The options ``AzureLogHandler`` is made with."""
        return self.options

    def _processed_handler(self, handler: Any) -> Any:
        handler.add_telemetry_processor(self._process)
        return handler

    def flush(self, timeout: float | None = None) -> bool:
        wait = conf.PRODKIT_TELEMETRY_EXIT_TIMEOUT if timeout is None else timeout
        made = [self.exporter.made()]
        if self.handler is not None:
            made.append(self.handler.inner.made())
        for exporter in made:
            if exporter is not None and exporter._worker:
                exporter._worker.stop(wait)
        return True


_last_drop_warning = [0.0]


def _once_a_minute(record: logging.LogRecord) -> bool:
    import time

    now = time.monotonic()
    if now - _last_drop_warning[0] < 60.0:
        return False
    _last_drop_warning[0] = now
    return True


class OpenTelemetryBackend(Backend):
    """azure-monitor-opentelemetry, configured in each process on first use."""

    name = "opentelemetry"

    def __init__(self) -> None:
        _require("azure.monitor.opentelemetry", backend=self.name, extra="opentelemetry")
        self.tracer = _otel_tracer

    def log_handler(self) -> logging.Handler | None:
        return _OtelLogs()

    def begin(self, traceparent: str | None, rate: float) -> tuple[Operation, Any]:
        from opentelemetry import context, trace
        from opentelemetry.trace import SpanKind

        from django_prodkit.telemetry.context import parse_traceparent

        parent = parse_traceparent(traceparent)
        ctx = _otel_parent(*parent, remote=True) if parent else None
        span = self.tracer.get().start_span("request", context=ctx, kind=SpanKind.SERVER)
        span_context = span.get_span_context()
        operation = Operation(
            f"{span_context.trace_id:032x}",
            f"{span_context.span_id:016x}",
            parent[1] if parent else None,
            span.is_recording(),
        )
        token = context.attach(trace.set_span_in_context(span))
        return operation, (span, token)

    def request(self, record: RequestRecord, state: Any) -> None:
        span, _ = state
        span.update_name(record.name)
        span.set_attributes(
            {
                "http.request.method": record.method,
                "http.route": record.route or "",
                "url.full": record.url,
                "http.response.status_code": record.status,
                **({"client.address": record.client_ip} if record.client_ip else {}),
                **({"enduser.id": record.user_id} if record.user_id else {}),
                **record.properties,
            }
        )
        if record.status >= 500:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=int((record.start + record.duration) * 1e9))

    def end(self, state: Any) -> None:
        from opentelemetry import context

        context.detach(state[1])

    def dependency(self, record: DependencyRecord) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        op = record.operation
        if record.type == "HTTP":
            attributes: dict[str, Any] = {
                "http.request.method": record.name.partition(" ")[0],
                "url.full": record.data,
                **(
                    {"http.response.status_code": int(record.result_code)}
                    if record.result_code.isdigit()
                    else {}
                ),
            }
        else:
            attributes = {
                "db.system": record.type,
                "db.statement": record.data,
                "db.name": record.target,
            }
        span = self.tracer.get().start_span(
            record.name,
            context=_otel_parent(op.trace_id, op.span_id, remote=False),
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=int(record.start * 1e9),
        )
        if not record.success:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=int((record.start + record.duration) * 1e9))

    def exception(self, record: ExceptionRecord) -> None:
        from opentelemetry import trace

        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                "exception",
                {
                    "exception.type": record.type_name,
                    "exception.message": record.message,
                    "exception.stacktrace": "".join(
                        ["Traceback (most recent call last):\n", *traceback_lines(record)]
                    ),
                },
            )

    def flush(self, timeout: float | None = None) -> bool:
        if self.tracer.made() is None:
            return True
        from opentelemetry import trace
        from opentelemetry._logs import get_logger_provider

        wait = conf.PRODKIT_TELEMETRY_EXIT_TIMEOUT if timeout is None else timeout
        done = True
        for provider in (trace.get_tracer_provider(), get_logger_provider()):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                done = bool(flush(int(wait * 1000))) and done
        return done


def _configure_otel() -> tuple[Any, list[logging.Handler]]:
    """``configure_azure_monitor()`` once in this process; the tracer, and the log handlers it
    put on the root logger (taken off again: ``_OtelLogs`` passes records on to them while
    the backend is active)."""
    from azure.monitor.opentelemetry import configure_azure_monitor
    from azure.monitor.opentelemetry._constants import _ALL_SUPPORTED_INSTRUMENTED_LIBRARIES
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource

    _sdk_switches()
    storage = conf.PRODKIT_TELEMETRY_STORAGE_PATH
    root = logging.getLogger()
    before = list(root.handlers)
    configure_azure_monitor(
        connection_string=conf.PRODKIT_TELEMETRY_CONNECTION_STRING,
        # A fixed rate, decided on the trace id as prodkit and the browser SDK do (the
        # default keeps 5 traces a second, whatever the traffic).
        sampling_ratio=conf.PRODKIT_TELEMETRY_SAMPLE_RATE,
        enable_live_metrics=False,
        disable_offline_storage=storage is None,
        **({"storage_directory": storage} if storage else {}),
        resource=Resource.create(
            {"service.name": role_name(), "service.instance.id": role_instance()}
        ),
        # prodkit's middleware traces Django, its wrappers the queries and HTTP calls.
        instrumentation_options={
            name: {"enabled": False} for name in _ALL_SUPPORTED_INSTRUMENTED_LIBRARIES
        },
    )
    added = [handler for handler in root.handlers if handler not in before]
    for handler in added:
        root.removeHandler(handler)
    return trace.get_tracer("django_prodkit"), added


class _OtelTracer(PerProcess):
    def get(self) -> Any:
        return super().get()[0]


_otel_tracer = _OtelTracer(_configure_otel)


class _OtelLogs(logging.Handler):
    """Passes records to the log handlers azure-monitor-opentelemetry made in this process."""

    def emit(self, record: logging.LogRecord) -> None:
        _otel_tracer.get()
        record = without_sent_exception(record)
        for handler in PerProcess.get(_otel_tracer)[1]:
            handler.handle(record)


def traceback_lines(record: ExceptionRecord) -> list[str]:
    import traceback

    return [*traceback.format_list(record.frames), f"{record.type_name}: {record.message}\n"]


def _otel_parent(trace_id: str, span_id: str, *, remote: bool) -> Any:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    span_context = SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=remote, trace_flags=TraceFlags(1)
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


BACKEND_CLASSES: dict[str, type[Backend]] = {
    "azure": AzureBackend,
    "console": ConsoleBackend,
    "opencensus": OpenCensusBackend,
    "opentelemetry": OpenTelemetryBackend,
}

__all__ = [
    "BACKEND_CLASSES",
    "AzureBackend",
    "Backend",
    "ConsoleBackend",
    "OpenCensusBackend",
    "OpenTelemetryBackend",
    "role_instance",
    "role_name",
]
