"""A local Application Insights ingestion endpoint: a real HTTP server on loopback.

Point a connection string's ``IngestionEndpoint`` at ``collector.endpoint`` and the real
exporters (prodkit's, opencensus-ext-azure's, azure-monitor-opentelemetry's, the browser SDK)
send it their envelopes: ``POST /v2.1/track`` (servers) or ``/v2/track`` (browser), a JSON array
or newline-separated JSON objects, gzipped or not. It answers as the service does (200 with
``itemsReceived``/``itemsAccepted``), or with ``status`` when a test sets one, and keeps every
envelope it accepted. ``GET`` on anything else answers 200 (the connection probe) and the
browser's CORS preflight is allowed. Bodies are decoded when a test reads ``envelopes`` (or
``items``), not as they arrive: a benchmark's collector costs the machine little while the
servers it measures run.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import serving

INSTRUMENTATION_KEY = "00000000-0000-4000-8000-000000000001"


class Collector(ThreadingHTTPServer):
    """The server; ``envelopes`` holds what it accepted, ``posts`` counts every POST."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Condition()
        self._decoded: list[dict[str, Any]] = []
        self._bodies: list[bytes] = []
        self.posts = 0
        self.status = 200
        self.delay = 0.0
        self.paths: list[str] = []
        # The W3C traceparent of each GET (a traced service calling this one), in order.
        self.traceparents: list[str | None] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={self.endpoint}"

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        """Every envelope accepted so far, in arrival order."""
        with self.lock:
            for body in self._bodies:
                self._decoded.extend(_decode(body))
            self._bodies.clear()
            return self._decoded

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The accepted envelopes of one kind: Request, RemoteDependency, Exception, Message,
        Metric, PageView (the last part of the envelope's name, in any case: the browser SDK
        writes ``Pageview``)."""
        kind = kind.lower()
        return [e for e in self.envelopes if e.get("name", "").rsplit(".", 1)[-1].lower() == kind]

    def wait_for(self, predicate: Callable[[Collector], bool], timeout: float = 15.0) -> bool:
        """Wait until ``predicate(self)`` holds (checked on every arrival); its last value."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(min(left, 0.5))
            return True

    def clear(self) -> None:
        with self.lock:
            self._decoded.clear()
            self._bodies.clear()
            self.posts = 0


class _Handler(BaseHTTPRequestHandler):
    server: Collector
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self) -> None:
        self._answer(200, b"")

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.traceparents.append(self.headers.get("traceparent"))
        self._answer(200, b"{}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        # Every envelope has one iKey: counted without decoding (see the module docstring).
        count = body.count(b'"iKey"')
        server = self.server
        if server.delay:
            time.sleep(server.delay)
        status = server.status
        with server.lock:
            server.posts += 1
            server.paths.append(self.path)
            if status == 200:
                server._bodies.append(body)
            server.lock.notify_all()
        if status == 200:
            answer = {"itemsReceived": count, "itemsAccepted": count, "errors": []}
        else:
            answer = {"itemsReceived": count, "itemsAccepted": 0, "errors": []}
        self._answer(status, json.dumps(answer).encode())


def _decode(body: bytes) -> list[dict[str, Any]]:
    text = body.decode("utf-8").strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextmanager
def running_collector() -> Iterator[Collector]:
    """A collector serving on a free loopback port until the block ends."""
    with serving(Collector(), poll_interval=0.1) as collector:
        yield collector
