"""What one traced request produced, before a backend turns it into its own format.

Plain slotted dataclasses: the middleware and the instrumentations fill them on the request
path (cheap), the backend converts them (prodkit's exporter into Application Insights
envelopes, the SDK backends into their span objects).
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from dataclasses import dataclass, field
from types import TracebackType

from django_prodkit.telemetry.context import Operation


@dataclass(slots=True)
class RequestRecord:
    """A request the server answered."""

    operation: Operation
    name: str
    """``METHOD route``: ``GET /articles/<int:pk>/``."""
    method: str
    route: str | None
    url: str
    status: int
    start: float
    """Seconds since the epoch."""
    duration: float
    """Seconds."""
    client_ip: str | None = None
    user_id: str | None = None
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        # Application Insights' rule for server requests: anything below 400 succeeded.
        return self.status < 400


@dataclass(slots=True)
class DependencyRecord:
    """A call the request made: a database query or an outgoing HTTP request."""

    operation: Operation
    span_id: str
    type: str
    """``postgresql``, ``mysql``, ``sqlite``, ``oracle`` or ``HTTP``."""
    name: str
    target: str
    data: str
    start: float
    duration: float
    success: bool
    result_code: str = ""


@dataclass(slots=True)
class ExceptionRecord:
    """An exception that turned a request into a server error."""

    operation: Operation
    type_name: str
    message: str
    frames: list[traceback.FrameSummary]
    time: float

    @classmethod
    def from_exception(
        cls, operation: Operation, error: BaseException, tb: TracebackType | None, time: float
    ) -> ExceptionRecord:
        kind = type(error)
        name = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else (f"{kind.__module__}.{kind.__qualname__}")
        )
        return cls(operation, name, str(error), traceback.extract_tb(tb), time)


# Set on an exception once it went out as an exception item.
_SENT = "_prodkit_telemetry_sent"


def mark_sent(error: BaseException) -> None:
    """Remember that ``error`` went out as an exception item."""
    # An exception type with __slots__ takes no attribute: at worst it goes twice.
    with contextlib.suppress(AttributeError):
        setattr(error, _SENT, True)


def without_sent_exception(record: logging.LogRecord) -> logging.LogRecord:
    """``record``, or a copy without its exception when that already went as an exception item.

    Django logs every unhandled error to ``django.request``, with the exception, after sending
    ``got_request_exception``: the log record then travels as a trace item only.
    """
    error = record.exc_info[1] if record.exc_info else None
    if error is None or not getattr(error, _SENT, False):
        return record
    copy = logging.makeLogRecord(record.__dict__)
    copy.exc_info, copy.exc_text = None, None
    return copy


__all__ = [
    "DependencyRecord",
    "ExceptionRecord",
    "RequestRecord",
    "mark_sent",
    "without_sent_exception",
]
