"""Application Insights envelopes (the ingestion service's JSON schema) from prodkit's records.

The same envelopes opencensus-ext-azure and azure-monitor-opentelemetry send: request,
remote dependency, exception, message (log record) and metric items, each with the operation's
tags so the portal joins them into one end-to-end transaction.

Each envelope is built as its JSON text, ready to be joined into a batch: the request and
dependency items (one or more per request) from a template with every free-text value encoded
as a JSON string by json's own encoder, the rarer kinds as dicts dumped once. Building a dict
per request and encoding it in the exporter cost four times as much (docs/architecture.md).
"""

from __future__ import annotations

import json
import logging
import platform
import time
from json.encoder import encode_basestring_ascii
from typing import Any

import django

from django_prodkit import __version__
from django_prodkit.telemetry.context import Operation
from django_prodkit.telemetry.records import DependencyRecord, ExceptionRecord, RequestRecord

SDK_VERSION = f"py{platform.python_version()}:dj{django.get_version()}:prodkit{__version__}"
# Application Insights' severity levels: Verbose, Information, Warning, Error, Critical.
_SEVERITY = ((logging.CRITICAL, 4), (logging.ERROR, 3), (logging.WARNING, 2), (logging.INFO, 1))
# The service keeps at most this many stack frames of an exception.
_MAX_FRAMES = 100


_text = json.dumps
# One str as a JSON string literal, exactly as json.dumps writes it, without json.dumps'
# dispatch (a fifth of the time; four of these a request).
_string = encode_basestring_ascii
# The formatted second of the last timestamp: most items of a busy second share it.
_second: tuple[int, str] = (-1, "")


def iso_time(seconds: float) -> str:
    """``2026-11-24T10:00:00.123456Z`` for seconds since the epoch."""
    global _second
    whole = int(seconds)
    cached = _second
    if cached[0] != whole:
        cached = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        _second = cached
    return f"{cached[1]}.{int((seconds - whole) * 1_000_000):06}Z"


def duration(seconds: float) -> str:
    """Application Insights' duration form, ``D.HH:MM:SS.ffffff``."""
    whole, micros = divmod(max(0, round(seconds * 1_000_000)), 1_000_000)
    if whole < 60:
        return f"0.00:00:{whole:02}.{micros:06}"
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}.{hours:02}:{minutes:02}:{secs:02}.{micros:06}"


class EnvelopeBuilder:
    """Builds envelopes for one resource (instrumentation key) and one cloud role."""

    def __init__(
        self,
        instrumentation_key: str,
        *,
        role_name: str,
        role_instance: str,
        sample_rate: float,
        max_length: int,
    ) -> None:
        self.ikey = instrumentation_key
        self.tags = {
            "ai.cloud.role": role_name,
            "ai.cloud.roleInstance": role_instance,
            "ai.internal.sdkVersion": SDK_VERSION,
        }
        # Percent of operations kept: the service multiplies counts by 100 / sampleRate.
        self.sample_rate = round(sample_rate * 100.0, 6)
        self.max_length = max_length
        # The constant parts of the hot templates, encoded once.
        self._head = f'"iKey":{_text(instrumentation_key)},"sampleRate":{self.sample_rate}'
        self._tags = _text(self.tags)[1:-1]

    def _cut(self, text: str) -> str:
        return text if len(text) <= self.max_length else text[: self.max_length]

    def _envelope(
        self, kind: str, time: float, tags: dict[str, str], base_type: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "name": f"Microsoft.ApplicationInsights.{kind}",
            "time": iso_time(time),
            "iKey": self.ikey,
            "sampleRate": self.sample_rate,
            "tags": tags,
            "data": {"baseType": base_type, "baseData": data},
        }

    def _operation_tags(self, operation: Operation | None, parent_id: str | None) -> dict[str, str]:
        tags = dict(self.tags)
        if operation is not None:
            tags["ai.operation.id"] = operation.trace_id
            if parent_id:
                tags["ai.operation.parentId"] = parent_id
        return tags

    def request(self, record: RequestRecord) -> str:
        """A request item."""
        operation = record.operation
        tags = f'{self._tags},"ai.operation.id":"{operation.trace_id}"'
        if operation.parent_id:
            tags += f',"ai.operation.parentId":"{operation.parent_id}"'
        name = _string(self._cut(record.name))
        tags += f',"ai.operation.name":{name}'
        if record.client_ip:
            tags += f',"ai.location.ip":{_string(record.client_ip)}'
        if record.user_id:
            tags += f',"ai.user.authUserId":{_string(record.user_id)}'
        properties = ""
        if record.properties:
            cut = {k: self._cut(v) for k, v in record.properties.items()}
            properties = f',"properties":{_text(cut)}'
        return (
            f'{{"name":"Microsoft.ApplicationInsights.Request","time":"{iso_time(record.start)}",'
            f'{self._head},"tags":{{{tags}}},"data":{{"baseType":"RequestData","baseData":'
            f'{{"ver":2,"id":"{operation.span_id}","name":{name},'
            f'"duration":"{duration(record.duration)}","responseCode":"{record.status}",'
            f'"success":{"true" if record.success else "false"},'
            f'"url":{_string(self._cut(record.url))}{properties}}}}}}}'
        )

    def dependency(self, record: DependencyRecord) -> str:
        """A remote dependency item (a query, an HTTP call), child of its request."""
        operation = record.operation
        return (
            '{"name":"Microsoft.ApplicationInsights.RemoteDependency",'
            f'"time":"{iso_time(record.start)}",{self._head},"tags":{{{self._tags},'
            f'"ai.operation.id":"{operation.trace_id}",'
            f'"ai.operation.parentId":"{operation.span_id}"}},'
            '"data":{"baseType":"RemoteDependencyData","baseData":'
            f'{{"ver":2,"id":"{record.span_id}","name":{_string(self._cut(record.name))},'
            f'"type":{_string(record.type)},"target":{_string(self._cut(record.target))},'
            f'"data":{_string(self._cut(record.data))},"duration":"{duration(record.duration)}",'
            f'"success":{"true" if record.success else "false"},'
            f'"resultCode":{_string(record.result_code)}}}}}}}'
        )

    def exception(self, record: ExceptionRecord) -> str:
        """An exception item with the parsed stack, innermost frame first."""
        operation = record.operation
        tags = self._operation_tags(operation, operation.span_id)
        frames = list(reversed(record.frames))[:_MAX_FRAMES]
        stack = [
            {
                "level": level,
                "method": frame.name,
                "assembly": "Unknown",
                "fileName": frame.filename,
                "line": frame.lineno or 0,
            }
            for level, frame in enumerate(frames)
        ]
        data = {
            "ver": 2,
            "severityLevel": 3,
            "exceptions": [
                {
                    "id": 1,
                    "outerId": 0,
                    "typeName": record.type_name,
                    "message": self._cut(record.message) or record.type_name,
                    "hasFullStack": len(record.frames) <= _MAX_FRAMES,
                    "parsedStack": stack,
                }
            ],
        }
        return _text(self._envelope("Exception", record.time, tags, "ExceptionData", data))

    def message(self, record: logging.LogRecord, operation: Operation | None) -> str:
        """A trace item (``traces`` / ``AppTraces``) for a log record."""
        tags = self._operation_tags(operation, operation.span_id if operation else None)
        level = next((s for lvl, s in _SEVERITY if record.levelno >= lvl), 0)
        properties = {
            "logger": record.name,
            "module": record.module,
            "fileName": record.pathname,
            "lineNumber": str(record.lineno),
            "level": record.levelname,
        }
        data = {
            "ver": 2,
            "message": self._cut(record.getMessage()),
            "severityLevel": level,
            "properties": properties,
        }
        return _text(self._envelope("Message", record.created, tags, "MessageData", data))

    def metric(self, name: str, value: float, at: float) -> str:
        """A measurement item (``performanceCounters`` for the standard counter names)."""
        data = {"ver": 2, "metrics": [{"name": name, "kind": 0, "value": value, "count": 1}]}
        envelope = self._envelope("Metric", at, dict(self.tags), "MetricData", data)
        # Metrics are aggregates: sampling never applies to them.
        del envelope["sampleRate"]
        return _text(envelope)


__all__ = ["SDK_VERSION", "EnvelopeBuilder", "duration", "iso_time"]
