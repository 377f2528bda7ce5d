"""Runtime logging pieces: the request id of the current request, a filter that puts it on
every record, and a formatter that writes one JSON object per line.

Standard library only, so a logging configuration (Django's ``LOGGING``, gunicorn's
``logconfig_dict``) can name these classes before Django is set up.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

NO_REQUEST_ID = "-"

request_id_var: ContextVar[str | None] = ContextVar("prodkit_request_id", default=None)
"""The id of the request being handled; set by ``RequestIdMiddleware``, None outside one."""

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def current_request_id() -> str:
    """Return the id of the request being handled, or ``"-"`` outside a request."""
    return request_id_var.get() or NO_REQUEST_ID


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id`` from the current request (``"-"`` when none); keep every
    record.

    A ``request_id`` passed in ``extra=`` (a background job naming the request it serves)
    is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON.

    Keys: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``request_id``,
    ``exception`` (the formatted traceback, when there is one), ``stack`` (with
    ``stack_info=True``), then every ``extra=`` field; a value JSON cannot hold is written
    as its ``str()``.
    """

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, tz=UTC)
        payload: dict[str, Any] = {
            "time": time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in payload:
                payload[key] = _jsonable(value)
        return json.dumps(payload, ensure_ascii=False, default=str)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return str(value)
    return value


__all__ = [
    "NO_REQUEST_ID",
    "JsonFormatter",
    "RequestIdFilter",
    "current_request_id",
    "request_id_var",
]
