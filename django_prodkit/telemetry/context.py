"""The operation being handled: W3C trace context in, out, and in a context variable.

Standard library only. ``TelemetryMiddleware`` sets ``current_operation()`` for the length of a
request (sync or async; ``sync_to_async`` copies it into the thread that runs a sync view), and
everything that records telemetry during the request (database queries, outgoing HTTP calls,
log records, the browser snippet) reads it from there.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar
from dataclasses import dataclass

# version-traceid-parentid-flags, lowercase hex; version ff is invalid and version 00 has no
# more fields (https://www.w3.org/TR/trace-context/#traceparent-header).
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?"
)
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True, slots=True)
class Operation:
    """One traced request: the trace it belongs to, its own span, and the caller's span."""

    trace_id: str
    span_id: str
    parent_id: str | None
    sampled: bool

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` value naming this operation's span (for a downstream call,
        the browser page, or the ``traceresponse`` header)."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


_operation: ContextVar[Operation | None] = ContextVar("prodkit_operation", default=None)


def current_operation() -> Operation | None:
    """Return the operation being handled, or None outside a traced request."""
    return _operation.get()


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """Return ``(trace_id, parent_span_id)`` from a ``traceparent`` header, or None when it is
    missing or invalid (an invalid header starts a new trace, as the W3C spec says)."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if (
        match is None
        or match["version"] == "ff"
        or (match["version"] == "00" and match["rest"])
        or match["trace_id"] == _ZERO_TRACE
        or match["parent_id"] == _ZERO_SPAN
    ):
        return None
    return match["trace_id"], match["parent_id"]


# Ids need to be unique, not secret: the random module (reseeded in every forked child) is
# what OpenTelemetry's id generator uses too, and unlike os.urandom() it does not release the
# GIL on every request.
def new_trace_id() -> str:
    """A random 128-bit trace id, as 32 lowercase hex digits (never all zeros)."""
    return f"{random.getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    """A random 64-bit span id, as 16 lowercase hex digits (never all zeros)."""
    return f"{random.getrandbits(64) or 1:016x}"


def sample_score(trace_id: str) -> float:
    """Application Insights' sampling score of a trace id, from 0 to 1.

    The same DJB2 hash every Application Insights SDK (browser, .NET, Java, OpenTelemetry's
    ``ApplicationInsightsSampler``) uses, so every service at the same rate keeps or drops a
    trace whole.
    """
    value = 5381
    for char in trace_id:
        value = ((value << 5) + value + ord(char)) & 0xFFFFFFFF
    # Interpreted as a signed 32-bit integer, as the SDKs do.
    if value >= 0x80000000:
        value -= 0x100000000
    if value == -(2**31):
        value = 2**31 - 1
    return abs(value) / (2**31 - 1)


def is_sampled(trace_id: str, rate: float) -> bool:
    """True when a trace is kept at ``rate`` (0.0 keeps none, 1.0 keeps all)."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return sample_score(trace_id) < rate


def start_operation(traceparent: str | None, rate: float) -> Operation:
    """Return a new operation: continuing the caller's trace when ``traceparent`` is valid."""
    parent = parse_traceparent(traceparent)
    trace_id, parent_id = parent if parent else (new_trace_id(), None)
    return Operation(trace_id, new_span_id(), parent_id, is_sampled(trace_id, rate))


__all__ = [
    "Operation",
    "current_operation",
    "is_sampled",
    "new_span_id",
    "new_trace_id",
    "parse_traceparent",
    "sample_score",
    "start_operation",
]
