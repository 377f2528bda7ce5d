"""prodkit's Application Insights exporter: a bounded queue and one background thread.

Why our own (docs/architecture.md has the figures): opencensus-ext-azure's exporter builds an
object tree per item, logs a WARNING per dropped item on the request thread, retries forever,
writes to a temporary directory by default and sends nothing from a process forked after it
started. This one takes envelopes as ready JSON text (``submit`` is a bounds check and a
``deque.append``; a batch is the texts joined), sends them as the SDKs do
(``POST {IngestionEndpoint}/v2.1/track``, a JSON array), and:

- holds at most ``queue_size`` items; past that new items are dropped and counted;
- sends from a thread started lazily in the process that submits (after a fork, the child
  starts its own; the parent's queue is not inherited);
- gives each send ``timeout`` seconds and retries a batch (or the items of a partial success)
  at most ``retries`` times on the answers the service calls retryable;
- adds what ``periodic()`` returns (the process's performance counters) every ``period``
  seconds;
- ``flush(timeout)`` sends what is queued and returns whether all of it went, within the
  timeout; it runs at interpreter exit and from prodkit's gunicorn SIGTERM hook.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

logger = logging.getLogger("django_prodkit.telemetry")

# The service's retryable answers: timeout, throttled, over quota, server errors.
RETRYABLE = frozenset({408, 429, 439, 500, 502, 503, 504})
_REDIRECTS = frozenset({307, 308})
_WARN_EVERY = 60.0


@dataclass
class ExportStats:
    """What one process's exporter did: items sent, dropped (queue full) and failed."""

    sent: int
    dropped: int
    failed: int
    queued: int


class Exporter:
    """Sends envelopes to one Application Insights ingestion endpoint in the background."""

    def __init__(
        self,
        endpoint: str,
        *,
        queue_size: int = 8192,
        batch_size: int = 512,
        interval: float = 5.0,
        timeout: float = 10.0,
        retries: int = 3,
        exit_timeout: float = 5.0,
        periodic: Callable[[], list[str]] | None = None,
        period: float = 60.0,
    ) -> None:
        self.url = urljoin(endpoint if endpoint.endswith("/") else f"{endpoint}/", "v2.1/track")
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.exit_timeout = exit_timeout
        self.periodic = periodic
        self.period = period
        self._fresh()
        os.register_at_fork(after_in_child=self._fresh)

    def _fresh(self) -> None:
        """A new, empty state: at creation and in a forked child (threads do not survive a
        fork, and the parent sends what it queued)."""
        self._queue: deque[str] = deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._flushing = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # sent and failed change on the exporter thread only; dropped on request threads.
        self._sent = 0
        self._failed = 0
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._last_warning = -_WARN_EVERY

    # --- the request path ----------------------------------------------------------------

    def submit(self, envelope: str) -> None:
        """Queue one envelope; never blocks, never raises. Past ``queue_size`` it is dropped."""
        if len(self._queue) >= self.queue_size:
            with self._drop_lock:
                self._dropped += 1
            return
        self._queue.append(envelope)
        if self._thread is None:
            self._start()
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="prodkit-telemetry", daemon=True)
            thread.start()
            self._thread = thread
            atexit.register(self.flush, None)

    # --- the exporter thread -----------------------------------------------------------

    def _run(self) -> None:
        due = time.monotonic() + self.period
        while self.queue_size:  # close() sets it to 0
            woken = self._wake.wait(min(self.interval, max(0.0, due - time.monotonic())))
            self._wake.clear()
            if self.periodic is not None and time.monotonic() >= due:
                due += self.period
                self._queue.extend(self.periodic())
            # Woken by a full batch, send full batches only: draining to the last item would,
            # under load, turn into one small POST after another (each costing a connection
            # and an HTTP exchange for a handful of items). The rest waits for the interval.
            self._drain(deadline=None, whole_batches=woken and not self._flushing)

    def _drain(self, deadline: float | None, whole_batches: bool = False) -> None:
        least = self.batch_size if whole_batches else 1
        with self._idle:
            self._busy = True
        try:
            while len(self._queue) >= least:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                batch: list[str] = []
                while self._queue and len(batch) < self.batch_size:
                    batch.append(self._queue.popleft())
                self._send(batch, deadline)
        except Exception:  # an exporter bug must not kill the thread
            logger.exception("Telemetry export failed")
        finally:
            with self._idle:
                self._busy = False
                self._idle.notify_all()

    def _send(self, batch: list[str], deadline: float | None) -> None:
        attempt = 0
        while batch:
            status, retry = self._post(batch, deadline)
            if status == 200:
                self._sent += len(batch)
                return
            if retry is None:
                self._failed += len(batch)
                self._warn(f"the ingestion endpoint answered {status}; {len(batch)} items dropped")
                return
            self._sent += len(batch) - len(retry)
            attempt += 1
            pause = min(2.0 ** (attempt - 1), 30.0)
            late = deadline is not None and time.monotonic() + pause >= deadline
            if attempt > self.retries or late:
                self._failed += len(retry)
                self._warn(
                    f"the ingestion endpoint answered {status or 'nothing'} {attempt} times; "
                    f"{len(retry)} items dropped"
                )
                return
            time.sleep(pause)
            batch = retry

    def _post(self, batch: list[str], deadline: float | None) -> tuple[int, list[str] | None]:
        """Send ``batch``; return the status and the items to send again (None: none may be)."""
        body = f"[{','.join(batch)}]".encode()
        timeout = self.timeout
        if deadline is not None:
            timeout = max(0.1, min(timeout, deadline - time.monotonic()))
        request = urllib.request.Request(  # noqa: S310 (http(s) only: the connection string)
            self.url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, None
        except urllib.error.HTTPError as error:
            with error:
                status = error.code
                if status in _REDIRECTS and error.headers.get("Location"):
                    # The service moves a resource's ingestion to a regional endpoint.
                    self.url = urljoin(self.url, error.headers["Location"])
                    return status, batch
                if status == 206:
                    return status, _partial_retry(batch, error.read())
                return status, batch if status in RETRYABLE else None
        except (OSError, ValueError):
            return 0, batch

    # --- exit ----------------------------------------------------------------------------

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Send everything queued; True when the queue is empty within ``timeout`` seconds."""
        deadline = time.monotonic() + (self.exit_timeout if timeout is None else timeout)
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._drain(deadline)
            return not self._queue
        self._flushing = True
        try:
            self._wake.set()
            with self._idle:
                while self._queue or self._busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._idle.wait(min(left, 0.05))
                    self._wake.set()
        finally:
            self._flushing = False
        return True

    def close(self) -> None:
        """Stop taking items: what is still queued is counted as failed, and nothing is sent
        at exit. (The thread, a daemon, sleeps until the process ends.)"""
        atexit.unregister(self.flush)
        self.queue_size = 0
        self._failed += len(self._queue)
        self._queue.clear()
        self._last_warning = float("inf")  # nothing more to say about this exporter
        self._wake.set()

    def stats(self) -> ExportStats:
        """This process's counts so far."""
        return ExportStats(self._sent, self._dropped, self._failed, len(self._queue))

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now >= self._last_warning + _WARN_EVERY:
            self._last_warning = now
            logger.warning("Telemetry: %s.", message)


def _partial_retry(batch: list[str], body: bytes) -> list[str] | None:
    """The items of a 206 (partial success) answer the service says to send again."""
    try:
        errors = json.loads(body).get("errors", [])
        again = [batch[e["index"]] for e in errors if e.get("statusCode") in RETRYABLE]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    return again or None


__all__ = ["RETRYABLE", "ExportStats", "Exporter"]
